use std::path::Path;

use models::{Encoder, Error, UserError};

use crate::common::{cached, model_dir};

fn load_bytes(bytes: &[u8]) -> Error {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.bin");
    std::fs::write(&path, bytes).unwrap();
    Encoder::load(&path).unwrap_err()
}

/// A small well-formed head: magic, version 1, then a header that stops short.
fn header_prefix() -> Vec<u8> {
    let mut bytes = b"E5S1".to_vec();
    bytes.extend(1u32.to_le_bytes());
    for value in [384i32, 12, 12, 1536] {
        bytes.extend(value.to_le_bytes());
    }
    bytes
}

#[test]
fn bad_magic_is_a_user_error() {
    let error = load_bytes(b"GGUF\x03\0\0\0 and then some");
    assert!(matches!(error, Error::User(UserError::BadMagic { .. })), "{error}");
    assert!(error.is_user_error());
    assert!(error.to_string().contains("bad magic"));
}

#[test]
fn empty_file_is_bad_magic() {
    assert!(matches!(load_bytes(b""), Error::User(UserError::BadMagic { .. })));
}

#[test]
fn truncated_header_is_reported() {
    let error = load_bytes(&header_prefix());
    assert!(matches!(error, Error::User(UserError::Truncated { .. })), "{error}");
    assert!(error.to_string().contains("truncated"), "{error}");
}

#[test]
fn unknown_version_is_unsupported() {
    let mut bytes = b"E5S1".to_vec();
    bytes.extend(2u32.to_le_bytes());
    assert!(matches!(load_bytes(&bytes), Error::User(UserError::Unsupported { .. })));
}

#[test]
fn missing_file_is_an_io_error() {
    let error = Encoder::load(Path::new("/nonexistent/e5-small-q4.bin")).unwrap_err();
    assert!(matches!(error, Error::User(UserError::Io { .. })), "{error}");
}

#[test]
fn folder_without_config_is_not_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let error = Encoder::load(dir.path()).unwrap_err();
    assert!(matches!(error, Error::User(UserError::NotAModel { .. })), "{error}");
}

/// Cuts the real model file at several places: every cut must give an error, never a panic.
#[test]
fn truncated_real_model_is_reported_wherever_it_is_cut() {
    let path = model_dir().join("e5-small-q4.bin");
    if !cached(&path) {
        return;
    }
    let bytes = std::fs::read(&path).unwrap();
    for cut in [8, 60, 1_000, 3_000_000, bytes.len() / 2, bytes.len() - 1] {
        let error = load_bytes(&bytes[..cut]);
        assert!(
            matches!(error, Error::User(UserError::Truncated { .. })),
            "cut at {cut}: {error}"
        );
    }
}

/// A tensor directory naming a tensor the architecture does not have.
#[test]
fn unknown_tensor_is_reported() {
    let path = model_dir().join("e5-small-q4.bin");
    if !cached(&path) {
        return;
    }
    let mut bytes = std::fs::read(&path).unwrap();
    // Rename the first "emb.pos" of the directory (same length, so offsets stay valid).
    let at = bytes
        .windows(7)
        .position(|w| w == b"emb.pos")
        .expect("a tensor named emb.pos");
    bytes[at..at + 7].copy_from_slice(b"emb.xyz");
    let error = load_bytes(&bytes);
    assert!(
        matches!(&error, Error::User(UserError::UnknownTensor { name, .. }) if name == "emb.xyz"),
        "{error}"
    );
}

//! A tiny E5S1 file written by the test itself: the file format end to end without the real
//! model, and the parser under truncation and corruption (errors, never a panic).

use models::{Encoder, Error, TextKind, UserError};
use proptest::prelude::*;

use crate::common::norm;

const HIDDEN: usize = 32;
const INTERMEDIATE: usize = 64;
const PIECES: [(&str, f32); 8] = [
    ("<s>", 0.0),
    ("<pad>", 0.0),
    ("</s>", 0.0),
    ("<unk>", 0.0),
    ("▁", -2.0),
    ("▁a", -3.0),
    ("b", -3.0),
    ("▁ab", -2.5),
];

#[derive(Clone, Copy)]
enum WordDType {
    F32,
    Q4,
}

/// Deterministic weights in [-0.5, 0.5).
fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 + seed * 104_729) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

/// ggml Q4_0: per 32 values an f16 scale, then bytes holding value j (low nibble) and
/// j + 16 (high nibble), each stored plus 8.
fn q4(values: &[f32]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for block in values.chunks(32) {
        let max = block
            .iter()
            .copied()
            .fold(0.0f32, |m, v| if v.abs() > m.abs() { v } else { m });
        let scale = max / -8.0;
        let inverse = if scale == 0.0 { 0.0 } else { 1.0 / scale };
        let quantize = |v: f32| ((v * inverse + 8.5) as i32).clamp(0, 15) as u8;
        bytes.extend(half::f16::from_f32(scale).to_le_bytes());
        for j in 0..16 {
            bytes.push(quantize(block[j]) | (quantize(block[j + 16]) << 4));
        }
    }
    bytes
}

fn f32s(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// An E5S1 file: one layer, two heads, 8 word rows, 8 positions.
fn tiny_e5s1(word_dtype: WordDType) -> Vec<u8> {
    let (h, ff) = (HIDDEN, INTERMEDIATE);
    // (name, dtype, element count, bytes)
    let mut tensors: Vec<(String, u8, usize, Vec<u8>)> = Vec::new();
    let mut seed = 0;
    let mut add = |name: &str, n: usize, quantized: bool| {
        seed += 1;
        let data = values(n, seed);
        let ones_or_zeros = name.ends_with("ln.w") || name.ends_with("aln.w") || name.ends_with("oln.w");
        let data = if ones_or_zeros { vec![1.0; n] } else { data };
        let (dtype, bytes) = if quantized { (1, q4(&data)) } else { (0, f32s(&data)) };
        tensors.push((name.to_owned(), dtype, n, bytes));
    };
    add("emb.word", 8 * h, matches!(word_dtype, WordDType::Q4));
    add("emb.pos", 8 * h, false);
    add("emb.type", 2 * h, false);
    add("emb.ln.w", h, false);
    add("emb.ln.b", h, false);
    for (suffix, n, quantized) in [
        ("q.w", h * h, true),
        ("q.b", h, false),
        ("k.w", h * h, true),
        ("k.b", h, false),
        ("v.w", h * h, true),
        ("v.b", h, false),
        ("ao.w", h * h, true),
        ("ao.b", h, false),
        ("aln.w", h, false),
        ("aln.b", h, false),
        ("fi.w", ff * h, true),
        ("fi.b", ff, false),
        ("fo.w", h * ff, true),
        ("fo.b", h, false),
        ("oln.w", h, false),
        ("oln.b", h, false),
    ] {
        add(&format!("l0.{suffix}"), n, quantized);
    }

    let mut file = b"E5S1".to_vec();
    file.extend(1u32.to_le_bytes());
    for value in [h, 1, 2, ff, 8, 8, 2] {
        file.extend((value as i32).to_le_bytes());
    }
    file.extend(1e-12f32.to_le_bytes());
    file.extend(32i32.to_le_bytes());
    // Vocabulary: count, bos, eos, pad, unk, blob length, offsets, scores, blob.
    file.extend((PIECES.len() as i32).to_le_bytes());
    for id in [0i32, 2, 1, 3] {
        file.extend(id.to_le_bytes());
    }
    let blob: String = PIECES.iter().map(|(piece, _)| *piece).collect();
    file.extend((blob.len() as u64).to_le_bytes());
    let mut offset = 0u32;
    file.extend(offset.to_le_bytes());
    for (piece, _) in PIECES {
        offset += piece.len() as u32;
        file.extend(offset.to_le_bytes());
    }
    for (_, score) in PIECES {
        file.extend(score.to_le_bytes());
    }
    file.extend(blob.as_bytes());
    // Normalisation: a tab reads as a space.
    let mut table = Vec::new();
    table.extend(u32::from('\t').to_le_bytes());
    table.push(1);
    table.extend(u32::from(' ').to_le_bytes());
    file.extend(1i32.to_le_bytes());
    file.extend((table.len() as u32).to_le_bytes());
    file.extend(table);
    // Directory, then the data at 64-byte aligned offsets.
    file.extend((tensors.len() as i32).to_le_bytes());
    let directory_len: usize = tensors.iter().map(|(name, ..)| 2 + name.len() + 1 + 4 + 8 + 8).sum();
    let mut data_offset = (file.len() + directory_len).next_multiple_of(64);
    let mut data = Vec::new();
    for (name, dtype, n, bytes) in &tensors {
        file.extend((name.len() as u16).to_le_bytes());
        file.extend(name.as_bytes());
        file.push(*dtype);
        file.extend((*n as u32).to_le_bytes());
        file.extend((data_offset as u64).to_le_bytes());
        file.extend((bytes.len() as u64).to_le_bytes());
        let padded = bytes.len().next_multiple_of(64);
        data.extend(bytes);
        data.resize(data.len() + padded - bytes.len(), 0);
        data_offset += padded;
    }
    file.resize(file.len().next_multiple_of(64), 0);
    file.extend(data);
    file
}

fn load(bytes: &[u8]) -> models::Result<Encoder> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.bin");
    std::fs::write(&path, bytes).unwrap();
    Encoder::load(&path)
}

#[test]
fn tiny_e5s1_loads_and_embeds() {
    for word_dtype in [WordDType::Q4, WordDType::F32] {
        let encoder = load(&tiny_e5s1(word_dtype)).unwrap();
        assert_eq!(encoder.dim(), HIDDEN);
        // "▁ab" beats "▁a" + "b"; the tab is a space, so "b" stands after a "▁" of its own.
        assert_eq!(
            encoder.token_ids("ab\tb", TextKind::Query)[..],
            [0, 4, 3, 3, 3, 3, 3, 3, 7, 4, 6, 2]
        );
        let embeddings = encoder.embed(&["ab", "ab\tb", ""], TextKind::Passage).unwrap();
        for embedding in &embeddings {
            assert_eq!(embedding.len(), HIDDEN);
            assert!((norm(embedding) - 1.0).abs() < 1e-5);
        }
        assert_eq!(
            embeddings,
            encoder.embed(&["ab", "ab\tb", ""], TextKind::Passage).unwrap()
        );
    }
}

#[test]
fn tiny_e5s1_windows_texts_longer_than_its_positions() {
    let encoder = load(&tiny_e5s1(WordDType::Q4)).unwrap();
    let long = "ab ".repeat(20);
    assert!(encoder.token_ids(&long, TextKind::Passage).len() > 8);
    let embedding = &encoder.embed(&[&long], TextKind::Passage).unwrap()[0];
    assert!((norm(embedding) - 1.0).abs() < 1e-5);
}

/// A corrupted layer count once made the loader list the names of 16 tensors per layer
/// before looking at the directory: billions of strings, and the process was killed for
/// memory. A million layers is enough to tell (the list would be 16M names) without that.
#[test]
fn regression_huge_layer_count_is_caught_before_listing_tensors() {
    let mut bytes = tiny_e5s1(WordDType::Q4);
    bytes[12..16].copy_from_slice(&(1i32 << 20).to_le_bytes());
    let error = load(&bytes).unwrap_err();
    assert!(
        matches!(&error, Error::User(UserError::Invalid { reason, .. }) if reason.contains("layers need")),
        "{error}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn truncated_file_is_a_user_error(fraction in 0.0f64..1.0) {
        let bytes = tiny_e5s1(WordDType::Q4);
        let cut = (bytes.len() as f64 * fraction) as usize;
        let error = load(&bytes[..cut]).unwrap_err();
        prop_assert!(matches!(error, Error::User(_)), "cut at {}: {}", cut, error);
    }

    /// A corrupted byte anywhere gives a user error or a model that still embeds: never a
    /// panic, never an internal error.
    #[test]
    fn corrupted_file_never_panics(fraction in 0.0f64..1.0, value in any::<u8>()) {
        let mut bytes = tiny_e5s1(WordDType::Q4);
        let at = ((bytes.len() as f64 * fraction) as usize).min(bytes.len() - 1);
        bytes[at] = value;
        match load(&bytes) {
            Ok(encoder) => {
                let embeddings = encoder.embed(&["ab b", ""], TextKind::Query);
                prop_assert!(embeddings.is_ok(), "byte {} = {}: {:?}", at, value, embeddings.err());
            }
            Err(error) => prop_assert!(matches!(error, Error::User(_)), "byte {} = {}: {}", at, value, error),
        }
    }
}

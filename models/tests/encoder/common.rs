use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use models::Encoder;

/// The model cache that `scripts/fetch-models.sh` fills.
pub fn model_dir() -> PathBuf {
    match std::env::var_os("BANSHI_MODEL_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/models"),
    }
}

/// Whether a file of the model cache is there. When it is not, a test returns early after
/// saying why; in CI (`CI` set) that is a failure instead.
pub fn cached(path: &Path) -> bool {
    if path.exists() {
        return true;
    }
    let message = format!(
        "{} is missing: run scripts/fetch-models.sh (or set BANSHI_MODEL_DIR)",
        path.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("skipping: {message}");
    false
}

/// The real multilingual-e5-small encoder, loaded once for the whole binary. `None` (after
/// printing why) when the model has not been fetched; in CI that is a failure instead.
pub fn e5_small() -> Option<&'static Encoder> {
    static ENCODER: OnceLock<Option<Encoder>> = OnceLock::new();
    ENCODER
        .get_or_init(|| {
            let path = model_dir().join("e5-small-q4.bin");
            if !cached(&path) {
                return None;
            }
            Some(Encoder::load(&path).unwrap_or_else(|error| panic!("cannot load {}: {error}", path.display())))
        })
        .as_ref()
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

pub fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

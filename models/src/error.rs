use std::path::PathBuf;

/// Everything that can go wrong in this crate: the caller's mistakes (a path that is not a
/// usable model) apart from internal faults (a tensor operation that failed on a model that
/// loaded fine).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl Error {
    /// Whether the caller can fix this by pointing at another file or folder.
    pub fn is_user_error(&self) -> bool {
        matches!(self, Error::User(_))
    }
}

/// A model path that cannot be used. Loading never panics on a bad file: each problem found
/// becomes one of these.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is neither an E5S1 model file nor a folder with config.json")]
    NotAModel { path: PathBuf },
    #[error("{path}: not an E5S1 model file (bad magic)")]
    BadMagic { path: PathBuf },
    #[error("{path}: truncated: {what} needs bytes up to {needed}, the file has {len}")]
    Truncated {
        path: PathBuf,
        what: String,
        needed: u64,
        len: u64,
    },
    #[error("{path}: unknown tensor {name:?}")]
    UnknownTensor { path: PathBuf, name: String },
    #[error("{path}: missing tensor {name:?}")]
    MissingTensor { path: PathBuf, name: String },
    #[error("{path}: invalid model: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path}: unsupported model: {reason}")]
    Unsupported { path: PathBuf, reason: String },
}

/// A fault of this crate or of its dependencies, not of the caller.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    #[error("tokenizer failed: {0}")]
    Tokenizer(String),
    #[error("cannot start the encoder thread pool: {0}")]
    ThreadPool(#[from] rayon::ThreadPoolBuildError),
}

impl From<candle_core::Error> for Error {
    fn from(error: candle_core::Error) -> Self {
        Error::Internal(InternalError::Tensor(error))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

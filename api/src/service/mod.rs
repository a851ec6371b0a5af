//! The service layer: every workflow between the HTTP handlers and the store. A handler
//! parses its request, calls one function here and maps the result; this module owns the
//! turn (load state → `bot::respond` → effects → save state and transcript, in one database
//! transaction), the ticket lifecycle, ratings and the statistics.
//!
//! Key design decision: CPU work (the dialogue, the ticket classifier) runs before the
//! transaction opens, and the transaction's first statement claims the row it is about (the
//! session's next version, the ticket), so a conflict rolls back every effect of the losing
//! attempt and nothing is ever done twice. Time comes from the state's injected clock and
//! becomes dates only through `knowledge::time` (China time).
//!
//! Knows no HTTP: no status codes, no axum; errors are [`Error`], mapped to responses in
//! `crate::error`.

pub mod appointments;
pub mod audit;
pub mod dashboard;
pub mod gaps;
pub mod handoffs;
pub mod ratings;
pub mod reminders;
pub mod tickets;
pub mod turn;

/// What went wrong, in words a citizen can act on (the HTTP layer picks the status).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is wrong: a field's value, a missing reason.
    #[error("{0}")]
    Invalid(String),
    /// A message over the length limit.
    #[error("{0}")]
    TooLong(String),
    /// A conversation id that is malformed or not the caller's.
    #[error("{0}")]
    BadSession(String),
    /// Something required is missing (a reason, a reply text).
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unauthorized(String),
    /// The object is not in a state that allows this step.
    #[error("{0}")]
    Conflict(String),
    /// Busy right now (the same conversation written elsewhere); try again shortly.
    #[error("{0}")]
    Busy(String),
    /// A fault on our side: logged, answered with a generic message.
    #[error("internal: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn internal(err: impl std::fmt::Display) -> Error {
        Error::Internal(err.to_string())
    }
}

impl From<backend::Error> for Error {
    fn from(err: backend::Error) -> Error {
        Error::internal(err)
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(err: tokio::task::JoinError) -> Error {
        Error::internal(err)
    }
}

/// How many times a write that lost a race is computed again before the caller is told to retry.
pub(crate) const MAX_ATTEMPTS: usize = 4;

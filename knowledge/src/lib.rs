//! The knowledge base: service guides (办事指南), the lexicon of colloquial terms, the
//! department directory, the e-licence types and the phrases answers are read with, loaded
//! from human-editable TOML files.
//!
//! Key design decision: one TOML file per guide, validated as a whole corpus (ids, cross
//! references, departments, e-licence types) so that an operator editing a file gets
//! `path:line: reason` instead of a guide that silently misbehaves. The loader never panics on
//! bad input; it returns every problem it found, and the caller decides whether to skip the
//! bad guides (the default for the server) or refuse to start (strict mode). A city's own
//! catalogue export becomes guide files through [`import`], which runs the same checks.

mod calendar;
mod corpus;
pub mod forms;
mod guide;
pub mod import;
mod lexicon;
pub mod phrases;
pub mod services;
pub mod tickets;
pub mod time;
pub mod validators;

pub use calendar::Calendar;
pub use corpus::{Corpus, Diagnostic, LoadOutcome, Severity, default_data_dir, fingerprint};
pub use forms::{Field, Form};
pub use guide::{
    Audience, Channels, Department, ELicenseType, Faq, Fee, Guide, GuideKind, Hall, Material, OnlineEntry, TimeLimit,
};
pub use lexicon::{Lexicon, Term};
pub use phrases::Phrases;
pub use tickets::TicketRules;

/// Errors of this crate. `Invalid` is an operator's mistake in the data; `Io` is a fault of
/// the machine (missing folder, unreadable file).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{} invalid file(s):\n{}", .0.len(), .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

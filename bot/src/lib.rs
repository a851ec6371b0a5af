//! The dialogue: understands what a citizen wants (intent), finds the guide, and composes a
//! plain, cited answer; when unsure it says so and offers a rephrase, a human or 12345.
//!
//! Key design decision: a turn is a pure function of (engine, stored state, message) →
//! (new state, reply). The state is a small serde value that the caller persists (the API
//! keeps it in the database), so any replica can serve the next turn and nothing lives only
//! in one process's memory.

mod compose;
mod dialogue;
pub mod forms;
mod intent;
pub mod tickets;

use std::sync::Arc;

use knowledge::Corpus;

pub use compose::Focus;
pub use dialogue::{DialogueState, Reply, respond};
pub use forms::{Effect, FormState, FormView, MaterialSource, Submission};
pub use intent::{Intent, Signals, detect_rules};
pub use tickets::{RatingRequest, TicketRequest};

/// Who is talking, as far as the dialogue needs to know: a logged-in citizen's or company's
/// id, name and e-licences (for prefilling forms), or nobody (anonymous).
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub user: Option<&'a UserContext>,
}

impl Context<'_> {
    pub fn anonymous() -> Context<'static> {
        Context { user: None }
    }
}

#[derive(Debug, Clone, Default)]
pub struct UserContext {
    pub id: String,
    pub name: String,
    pub e_licenses: Vec<HeldLicense>,
}

/// An e-licence the user holds, with its structured fields (`name`, `number` …).
#[derive(Debug, Clone, Default)]
pub struct HeldLicense {
    pub kind: String,
    pub number: String,
    pub fields: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Index(#[from] index::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A guide found for a message, as shown to callers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GuideHit {
    pub id: String,
    pub title: String,
    pub score: f32,
}

/// Where a fact in a reply comes from: a guide and its section (`materials`, `faq:2` …).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Citation {
    pub guide_id: String,
    pub section: String,
}

/// Thresholds that turn retrieval into decisions, on [`confidence`]. Chosen on our own eval
/// set as the best separation of right answers from out-of-scope and complaint messages;
/// see ARCHITECTURE.md.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// At or above: answer the best guide.
    pub answer: f32,
    /// At or above (and below `answer`): plausible; ask which guide is meant.
    pub clarify: f32,
    /// A second guide scoring within this ratio of the first makes the match ambiguous.
    pub ambiguous_ratio: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            answer: 4.2,
            clarify: 3.6,
            ambiguous_ratio: 1.1,
        }
    }
}

/// How sure retrieval is of a hit: log of the BM25 score (high when rare words of the query
/// meet the guide's title, aliases and FAQ) plus twice its coverage (high when little of the
/// query is left unexplained). Lexical only; the encoder issue replaces it with a
/// calibrated probability.
pub fn confidence(hit: &index::Hit) -> f32 {
    (1.0 + hit.score.max(0.0)).ln() + 2.0 * hit.coverage
}

/// The corpus and its index, built together and swapped together when files change.
#[derive(Debug)]
pub struct Engine {
    pub corpus: Arc<Corpus>,
    pub index: index::SearchIndex,
    pub thresholds: Thresholds,
    /// Picks a 12345 ticket's category.
    pub router: tickets::Router,
}

impl Engine {
    pub fn new(corpus: Corpus, config: index::IndexConfig) -> Result<Engine> {
        let index = index::SearchIndex::build(&corpus, config, None)?;
        let router = tickets::Router::train(&corpus.ticket_examples, |text| index.terms(text));
        Ok(Engine {
            corpus: Arc::new(corpus),
            index,
            thresholds: Thresholds::default(),
            router,
        })
    }

    /// A ticket's category, its lead department and the router's confidence.
    pub fn route(&self, text: &str) -> Option<(String, String, f32)> {
        let (category, confidence) = self.router.classify(&self.index.terms(text))?;
        let department = self.corpus.tickets.department_of(&category)?.to_string();
        Some((category, department, confidence))
    }
}

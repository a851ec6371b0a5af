//! The dialogue: understands what a citizen wants (intent), finds the guide, and composes a
//! plain, cited answer; when unsure it says so and offers a rephrase, a human or 12345.
//!
//! Key design decision: a turn is a pure function of (engine, stored state, message) →
//! (new state, reply). The state is a small serde value that the caller persists (the API
//! keeps it in the database), so any replica can serve the next turn and nothing lives only
//! in one process's memory.

pub mod appointments;
mod compose;
pub mod coverage;
mod dialogue;
pub mod forms;
pub mod gaps;
mod intent;
pub mod lookalikes;
pub mod plain;
mod reading;
pub mod routing;
pub mod semantic;
pub mod tickets;
pub mod when;

use std::sync::Arc;

use knowledge::Corpus;

pub use compose::Focus;
pub use dialogue::{DialogueState, QUICK_TICKET, Reply, respond};
pub use forms::{Effect, FormState, FormView, MaterialSource, Submission, UploadView};
pub use intent::{Intent, Signals, detect_rules, unknown_service};
pub use tickets::{RatingRequest, TicketRequest};

/// Who is talking, as far as the dialogue needs to know: a logged-in citizen's or company's
/// id, name and e-licences (for prefilling forms), or nobody (anonymous).
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub user: Option<&'a UserContext>,
    /// Files this conversation uploaded (`POST /api/v1/uploads`) that no application holds
    /// yet, oldest first: a form in progress attaches them to its materials.
    pub uploads: &'a [Attachment],
}

impl<'a> Context<'a> {
    pub fn anonymous() -> Context<'static> {
        Context {
            user: None,
            uploads: &[],
        }
    }

    pub fn of(user: Option<&'a UserContext>) -> Context<'a> {
        Context { user, uploads: &[] }
    }
}

/// An uploaded file, as the dialogue knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    pub id: String,
    /// The material it was uploaded for (a name from the guide's `[[materials]]`).
    pub material: String,
    pub file_name: String,
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
    #[error(transparent)]
    Model(#[from] models::Error),
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
    /// The same for fused hybrid scores.
    pub hybrid_ambiguous_ratio: f32,
    /// Without the encoder, a document or service no guide knows is declined unless the best
    /// guide's confidence reaches `answer` plus this margin.
    pub unknown_margin: f32,
    /// An FAQ answers the question when they share two terms or more and at least this
    /// Jaccard overlap.
    pub faq_overlap: f32,
    /// The intent head's choice stands at or above this probability.
    pub head_sure: f32,
    /// … or when it gives a service less than this and no guide's words match strongly.
    pub head_no_service: f32,
    /// The head's p(complaint) at or above which a message opens a complaint …
    pub head_complaint: f32,
    /// … unless it asks how to get something the guides name, and the head is below this.
    pub head_complaint_over_how_to: f32,
    /// The head's p(service) under which a named document no guide knows is declined (above
    /// it, the head's sureness outweighs the check).
    pub unknown_document_max_p: f32,
    /// The same for a service named as object + verb that no guide offers.
    pub unknown_service_max_p: f32,
    /// At or above this p(service) the best guide is answered even when others are close.
    pub head_service_sure: f32,
    /// A part of a list of services (“驾照换证和车辆年检”) that the guides' words do not
    /// match strongly is read by the encoder: its best guide must lead the next by this ratio.
    pub list_part_lead: f32,
    /// Below this probability (of [`coverage`]) that the best guide covers the very thing
    /// asked, the message asks for a service next to it, and is declined as such.
    pub covered_min: f32,
    /// … unless the second guide's fused score is below this share of the best's: one guide
    /// stands clear of the rest, and the message is about it.
    pub covered_clear_lead: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            answer: 4.2,
            clarify: 3.6,
            ambiguous_ratio: 1.1,
            hybrid_ambiguous_ratio: 0.97,
            unknown_margin: 1.3,
            faq_overlap: 0.45,
            head_sure: 0.6,
            head_no_service: 0.1,
            head_complaint: 0.5,
            head_complaint_over_how_to: 0.8,
            unknown_document_max_p: 0.8,
            unknown_service_max_p: 0.9,
            head_service_sure: 0.9,
            list_part_lead: 1.25,
            covered_min: 0.15,
            covered_clear_lead: 0.6,
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
    /// The encoder side, when the model is installed.
    pub semantic: Option<semantic::Semantic>,
    /// How BM25 and dense scores are fused.
    pub fusion: Fusion,
    /// The retrieval the dialogue uses (hybrid by default; without the encoder, BM25).
    pub mode: Mode,
    /// Which classifier routes tickets (see [`routing`]).
    pub classifier: routing::Classifier,
    /// Every title and alias, normalised, with its guide: how a message names a service.
    pub names: Vec<(String, String)>,
}

/// Which retrieval answers: BM25 alone, the encoder alone, or both fused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bm25,
    Dense,
    Hybrid,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Mode, String> {
        match text {
            "bm25" => Ok(Mode::Bm25),
            "dense" => Ok(Mode::Dense),
            "hybrid" => Ok(Mode::Hybrid),
            other => Err(format!("unknown mode {other:?} (bm25, dense, hybrid)")),
        }
    }
}

/// Fusion of the two rankings. Measured with `banshi eval --fusion`; see ARCHITECTURE.md.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    /// Reciprocal-rank fusion with the usual k = 60.
    Rrf,
    /// `w · dense (min-max normalised over the guides) + (1 − w) · bm25 / best bm25`.
    Weighted { dense_weight: f32 },
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion::Weighted { dense_weight: 0.7 }
    }
}

impl std::str::FromStr for Fusion {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Fusion, String> {
        match text {
            "rrf" => Ok(Fusion::Rrf),
            "weighted" => Ok(Fusion::default()),
            other => match other.strip_prefix("weighted:").and_then(|w| w.parse::<f32>().ok()) {
                Some(w) if (0.0..=1.0).contains(&w) => Ok(Fusion::Weighted { dense_weight: w }),
                _ => Err(format!("unknown fusion {other:?} (rrf, weighted, weighted:0.7)")),
            },
        }
    }
}

/// A guide ranked by the configured retrieval.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub id: String,
    pub title: String,
    pub score: f32,
    /// The BM25 hit, when BM25 found the guide.
    pub bm25: Option<index::Hit>,
    /// Cosine of the guide's best chunk, when the encoder ran.
    pub dense: Option<f32>,
}

impl Engine {
    pub fn new(corpus: Corpus, config: index::IndexConfig) -> Result<Engine> {
        let index = index::SearchIndex::build(&corpus, config, None)?;
        let router = tickets::Router::train(&corpus.ticket_examples, |text| index.terms(text));
        let names = corpus
            .guides
            .iter()
            .flat_map(|g| {
                std::iter::once(&g.title)
                    .chain(&g.aliases)
                    .map(|name| (index::normalize(name), g.id.clone()))
            })
            .filter(|(name, _)| name.chars().count() >= 2)
            .collect();
        Ok(Engine {
            corpus: Arc::new(corpus),
            index,
            thresholds: Thresholds::default(),
            router,
            semantic: None,
            fusion: Fusion::default(),
            mode: Mode::Hybrid,
            classifier: routing::Classifier::default(),
            names,
        })
    }

    /// With the encoder: chunk vectors (cached on disk in `cache_dir`) and trained heads.
    pub fn with_encoder(
        corpus: Corpus,
        config: index::IndexConfig,
        encoder: Arc<models::Encoder>,
        cache_dir: Option<&std::path::Path>,
    ) -> Result<Engine> {
        Engine::with_encoder_progress(corpus, config, encoder, cache_dir, None)
    }

    /// The same, showing how far the embedding is in `progress`.
    pub fn with_encoder_progress(
        corpus: Corpus,
        config: index::IndexConfig,
        encoder: Arc<models::Encoder>,
        cache_dir: Option<&std::path::Path>,
        progress: Option<&semantic::Progress>,
    ) -> Result<Engine> {
        let mut engine = Engine::new(corpus, config)?;
        engine.semantic = Some(semantic::Semantic::build_with(
            encoder,
            &engine.corpus,
            &engine.index,
            cache_dir,
            progress,
        )?);
        Ok(engine)
    }

    /// The retrieval used when none is asked for: hybrid with the encoder, else BM25.
    pub fn default_mode(&self) -> Mode {
        if self.semantic.is_some() { self.mode } else { Mode::Bm25 }
    }

    /// Guides for a query, best first. Without the encoder every mode is BM25.
    pub fn retrieve(&self, query: &str, limit: usize, mode: Mode) -> Result<Vec<Ranked>> {
        let bm25 = self.index.rank(query, 10.max(limit))?;
        let from_bm25 = |hits: &[index::Hit]| -> Vec<Ranked> {
            hits.iter()
                .take(limit)
                .map(|h| Ranked {
                    id: h.id.clone(),
                    title: h.title.clone(),
                    score: h.score,
                    bm25: Some(h.clone()),
                    dense: None,
                })
                .collect()
        };
        let Some(semantic) = &self.semantic else {
            return Ok(from_bm25(&bm25));
        };
        if mode == Mode::Bm25 {
            return Ok(from_bm25(&bm25));
        }
        let query_vector = semantic.embed_query(query)?;
        let dense = semantic.dense.search(&query_vector, self.corpus.len());
        let title = |id: &str| self.corpus.guide(id).map_or(id.to_string(), |g| g.title.clone());
        let mut ranked: Vec<Ranked> = match mode {
            Mode::Dense | Mode::Bm25 => dense
                .iter()
                .map(|d| Ranked {
                    id: d.guide_id.clone(),
                    title: title(&d.guide_id),
                    score: d.score,
                    bm25: None,
                    dense: Some(d.score),
                })
                .collect(),
            Mode::Hybrid => {
                let best_bm25 = bm25.first().map_or(1.0, |h| h.score.max(1e-6));
                let (low, high) = dense
                    .iter()
                    .fold((f32::MAX, f32::MIN), |(lo, hi), d| (lo.min(d.score), hi.max(d.score)));
                dense
                    .iter()
                    .enumerate()
                    .map(|(dense_rank, d)| {
                        let bm25_hit = bm25.iter().position(|h| h.id == d.guide_id);
                        let score = match self.fusion {
                            Fusion::Rrf => {
                                1.0 / (60.0 + dense_rank as f32 + 1.0)
                                    + bm25_hit.map_or(0.0, |r| 1.0 / (60.0 + r as f32 + 1.0))
                            }
                            Fusion::Weighted { dense_weight } => {
                                let d_norm = if high > low {
                                    (d.score - low) / (high - low)
                                } else {
                                    1.0
                                };
                                let b_norm = bm25_hit.map_or(0.0, |r| bm25[r].score / best_bm25);
                                dense_weight * d_norm + (1.0 - dense_weight) * b_norm
                            }
                        };
                        Ranked {
                            id: d.guide_id.clone(),
                            title: title(&d.guide_id),
                            score,
                            bm25: bm25_hit.map(|r| bm25[r].clone()),
                            dense: Some(d.score),
                        }
                    })
                    .collect()
            }
        };
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
        ranked.truncate(limit);
        Ok(ranked)
    }

    /// The probability that guide `id` covers the very thing `text` asks, when the encoder
    /// and the coverage model are installed (see [`coverage`]).
    pub fn p_covered(&self, text: &str, id: &str) -> Option<f32> {
        let semantic = self.semantic.as_ref()?;
        let coverage = semantic.coverage.as_ref()?;
        let vector = semantic.embed_query(text).ok()?;
        Some(coverage.p_covered(&self.index, &semantic.dense, text, &vector, id))
    }

    /// Intent probabilities from the encoder's head, when installed.
    pub fn intent_probabilities(&self, text: &str) -> Result<Option<Vec<(String, f32)>>> {
        let Some(semantic) = &self.semantic else {
            return Ok(None);
        };
        let Some(head) = &semantic.intent_head else {
            return Ok(None);
        };
        let vector = semantic.embed_query(text)?;
        Ok(Some(
            head.labels.iter().cloned().zip(head.probabilities(&vector)).collect(),
        ))
    }
}

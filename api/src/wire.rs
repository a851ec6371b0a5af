//! The JSON shapes of the API and of the CLI's `--json` output. Fields are only ever added.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatRequest {
    /// Continue this conversation; omitted: a new one is started.
    pub session_id: Option<String>,
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChatResponse {
    pub session_id: String,
    /// service, complaint, status, rating, human, chitchat or out_of_scope.
    pub intent: String,
    pub reply: ReplyBody,
    /// The guides the reply is about, best first.
    pub guides: Vec<GuideRef>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReplyBody {
    pub text: String,
    pub citations: Vec<CitationBody>,
    pub quick_replies: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CitationBody {
    pub guide_id: String,
    /// summary, conditions, materials, steps, time_limit, fees, channels, cross_province, faq:N
    pub section: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GuideRef {
    pub id: String,
    pub title: String,
    pub score: f32,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResponse {
    pub hits: Vec<SearchHit>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    pub id: String,
    pub title: String,
    pub score: f32,
    /// Matched terms in `<b>…</b>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

impl SearchResponse {
    /// The CLI's contract has exactly id, title and score; the API adds the snippet.
    pub fn new(hits: Vec<index::Hit>, with_snippet: bool) -> SearchResponse {
        let hits = hits
            .into_iter()
            .map(|h| SearchHit {
                id: h.id,
                title: h.title,
                score: h.score,
                snippet: with_snippet.then_some(h.snippet),
            })
            .collect();
        SearchResponse { hits }
    }
}

/// `banshi ask --json` output, one object per question.
#[derive(Debug, Serialize, Deserialize)]
pub struct AskOutput {
    pub intent: String,
    pub guides: Vec<GuideRef>,
    pub answer: String,
    pub citations: Vec<CitationBody>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub guides: usize,
    pub database: String,
    pub search: String,
}

impl From<&bot::Citation> for CitationBody {
    fn from(citation: &bot::Citation) -> CitationBody {
        CitationBody {
            guide_id: citation.guide_id.clone(),
            section: citation.section.clone(),
        }
    }
}

impl From<&bot::GuideHit> for GuideRef {
    fn from(hit: &bot::GuideHit) -> GuideRef {
        GuideRef {
            id: hit.id.clone(),
            title: hit.title.clone(),
            score: hit.score,
        }
    }
}

impl From<&bot::Reply> for AskOutput {
    fn from(reply: &bot::Reply) -> AskOutput {
        AskOutput {
            intent: reply.intent.as_str().to_string(),
            guides: reply.guides.iter().map(GuideRef::from).collect(),
            answer: reply.text.clone(),
            citations: reply.citations.iter().map(CitationBody::from).collect(),
        }
    }
}

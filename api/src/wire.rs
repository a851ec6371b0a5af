//! The JSON shapes of the API and of the CLI's `--json` output. Fields are only ever added.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatRequest {
    /// Continue this conversation; omitted: a new one is started.
    pub session_id: Option<String>,
    pub message: String,
    /// 长辈版: plainer wording (short sentences, the key point first, no abbreviations).
    #[serde(default)]
    pub elder: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChatResponse {
    pub session_id: String,
    /// service, complaint, status, rating, human, chitchat or out_of_scope.
    pub intent: String,
    pub reply: ReplyBody,
    /// The guides the reply is about, best first.
    pub guides: Vec<GuideRef>,
    /// The form being filled, if any.
    pub form: Option<FormBody>,
    /// The application this turn submitted, if any.
    pub application: Option<ApplicationRef>,
    /// The 12345 ticket this turn created, if any.
    pub ticket: Option<TicketRef>,
    /// The hand-over to a human agent, while one is open (or just closed).
    pub handoff: Option<HandoffStatus>,
    /// The window appointment this turn booked, moved or cancelled, if any.
    #[serde(default)]
    pub appointment: Option<AppointmentBody>,
}

/// A window appointment (预约).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AppointmentBody {
    pub number: String,
    pub service_id: String,
    pub title: String,
    /// The hall's name.
    pub hall: String,
    pub address: Option<String>,
    pub window: String,
    /// `YYYY-MM-DD HH:MM`, China time.
    pub start: String,
    pub end: String,
    /// booked or cancelled
    pub state: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AppointmentList {
    pub appointments: Vec<AppointmentBody>,
}

/// Knowledge gaps of a period, grouped by meaning, largest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GapReport {
    /// From when (China time).
    pub since: String,
    /// Questions and bad-rating reasons read.
    pub n_questions: usize,
    /// Groups found (the largest are listed).
    pub n_topics: usize,
    pub clusters: Vec<GapCluster>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GapCluster {
    /// The group's most typical question (masked).
    pub topic: String,
    pub count: usize,
    /// Up to three questions of the group, the topic first.
    pub examples: Vec<String>,
    /// declined, unsure, bad_rating → count.
    pub kinds: std::collections::BTreeMap<String, usize>,
    /// The guide closest to what was asked: often the neighbour to write a guide beside.
    pub closest: Option<GuideRef>,
}

/// 服务找人: something due for the citizen.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InboxItemBody {
    pub id: String,
    /// The rule that found it (`reminders.toml`).
    pub kind: String,
    pub service_id: String,
    pub title: String,
    /// Why it is suggested, as the citizen reads it.
    pub reason: String,
    /// `YYYY-MM-DD`: the expiry date or the birthday it is about.
    pub due: Option<String>,
    /// The chat message that starts the service's form (one tap).
    pub start: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Inbox {
    pub items: Vec<InboxItemBody>,
    /// Whether reminders are on (`POST /api/v1/inbox/settings` switches them).
    pub reminders: bool,
}

/// Where a conversation handed to a human stands, as the citizen sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct HandoffStatus {
    /// waiting, connected or closed.
    pub state: String,
    /// Place in the queue while waiting (1: next).
    pub position: Option<i64>,
    /// Expected wait while waiting, in seconds.
    pub expected_wait_s: Option<i64>,
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
    /// The version of the knowledge folder served (a fingerprint of its files): equal on
    /// every replica once a reload has reached them all.
    pub knowledge: String,
    /// While the guides' embeddings are computed after start (answers use BM25 meanwhile):
    /// how far it is. Absent once hybrid search is on, or without the encoder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<EmbeddingProgress>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EmbeddingProgress {
    /// embedding (the guides' chunks), training (the heads), loading
    pub phase: String,
    pub done: usize,
    pub total: usize,
    pub per_second: f64,
    /// Seconds left at the rate so far.
    pub eta_s: Option<f64>,
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

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenBody {
    pub token: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApplicationList {
    pub applications: Vec<ApplicationBody>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApplicationBody {
    pub number: String,
    pub service_id: String,
    pub title: String,
    /// submitted, accepted, refused, correction_requested, in_review, approved, denied, issued
    pub state: String,
    pub state_label: String,
    pub next_step: String,
    /// Promised completion date (working days from submission, reset on acceptance).
    pub deadline: Option<String>,
    /// Reason of a refusal or denial, or the complete 补正 list.
    pub note: Option<String>,
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub materials: serde_json::Value,
    /// For a “一件事” bundle: one part per member service, each with its own status.
    #[schema(no_recursion)]
    pub parts: Vec<ApplicationBody>,
    pub events: Vec<EventBody>,
    pub created_at: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventBody {
    pub actor: String,
    pub from: String,
    pub to: String,
    pub reason: Option<String>,
    pub at: i64,
}

/// The form in a chat reply.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FormBody {
    pub service_id: String,
    /// collecting, confirming, submitted, cancelled
    pub state: String,
    pub fields: Vec<FormFieldBody>,
    pub missing: Vec<String>,
    /// Materials the applicant uploads (`POST /api/v1/uploads`), and whether each is there.
    #[serde(default)]
    pub uploads: Vec<FormUploadBody>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FormUploadBody {
    /// The material's name: pass it as `material` when uploading.
    pub material: String,
    pub required: bool,
    /// attached, missing (required) or optional
    pub status: String,
    pub file_name: Option<String>,
    pub help: Option<String>,
}

/// A file received by `POST /api/v1/uploads`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UploadBody {
    pub id: String,
    pub session_id: String,
    pub material: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    /// The application that holds it, once submitted.
    pub application: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FormFieldBody {
    pub name: String,
    pub label: String,
    pub value: Option<String>,
    /// filled, prefilled, skipped, missing
    pub status: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApplicationRef {
    pub number: String,
    pub service_id: String,
    pub state: String,
}

impl From<&bot::FormView> for FormBody {
    fn from(view: &bot::FormView) -> FormBody {
        FormBody {
            service_id: view.service_id.clone(),
            state: view.state.clone(),
            fields: view
                .fields
                .iter()
                .map(|f| FormFieldBody {
                    name: f.name.clone(),
                    label: f.label.clone(),
                    value: f.value.clone(),
                    status: f.status.clone(),
                })
                .collect(),
            missing: view.missing.clone(),
            uploads: view
                .uploads
                .iter()
                .map(|u| FormUploadBody {
                    material: u.material.clone(),
                    required: u.required,
                    status: u.status.clone(),
                    file_name: u.file_name.clone(),
                    help: u.help.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketRef {
    pub number: String,
    /// 投诉, 举报, 求助, 建议, 咨询
    pub kind: String,
    pub category: String,
    /// The lead department's id.
    pub department: String,
    /// Its name, as the citizen reads it.
    pub department_name: String,
    pub state: String,
    /// Reply by (China time).
    pub deadline: String,
}

/// `POST /api/v1/staff/rectifications/{rating_id}` answer (documentation: the handler builds
/// this shape with `json!`; the e2e tests check they agree).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RectificationBody {
    pub rating_id: String,
    /// open, verified, rectified, visited, appealed, appeal_upheld
    pub state: String,
    /// Rectify by (China time).
    pub due: String,
    /// Rectified by the due time; null until rectified.
    pub on_time: Option<bool>,
}

/// `GET /api/v1/stats/ratings` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RatingStatsBody {
    /// department, service, channel or month
    pub by: String,
    /// One group per department id, service id, channel or month (YYYY-MM).
    pub groups: std::collections::BTreeMap<String, RatingGroup>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RatingGroup {
    pub ratings: usize,
    /// Share of ratings 4 or 5 (appeals upheld left out).
    pub satisfaction_rate: f64,
    pub bad: usize,
    pub rectified: usize,
    pub rectified_on_time: usize,
}

/// `GET /api/v1/stats/hotline` answer: 12345 KPIs over every ticket.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HotlineKpis {
    pub tickets: usize,
    /// Accepted within the response time.
    pub response_rate: f64,
    /// Replied.
    pub resolution_rate: f64,
    /// Replied within the deadline, of those replied.
    pub on_time_rate: f64,
    pub satisfaction_rate: f64,
    pub supervised: usize,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BindRequest {
    /// The code the platform user received (8 letters and digits, 10 minutes).
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BindResponse {
    /// wechat or wecom.
    pub channel: String,
    /// The account (or WeCom app) named in the channels file.
    pub account: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptBody {
    pub messages: Vec<TranscriptLine>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptLine {
    /// user (the citizen), bot (the assistant) or agent (a human after 转人工).
    pub role: String,
    pub text: String,
    /// China time.
    pub at: String,
}

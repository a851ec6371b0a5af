//! The agents' side of a hand-over (转人工, role agent): the queue, one conversation with its
//! summary and cited suggestions, take, write, hand back, file a 12345 ticket; and help during
//! a phone call (`/api/v1/assist`). Keyed by the conversation's session id.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{AuthUser, Role};
use crate::error::{ApiError, ApiResult, AppJson, Code};
use crate::service;
use crate::service::handoffs::{Suggested, TicketDraft};
use crate::state::AppState;
use knowledge::time::show;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/agent/queue", get(queue))
        .route("/api/v1/agent/conversations/{session_id}", get(conversation))
        .route("/api/v1/agent/conversations/{session_id}/take", post(take))
        .route("/api/v1/agent/conversations/{session_id}/messages", post(message))
        .route("/api/v1/agent/conversations/{session_id}/close", post(close))
        .route("/api/v1/agent/conversations/{session_id}/ticket", post(ticket))
        .route("/api/v1/assist", post(assist))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueItem {
    pub session_id: String,
    /// waiting or connected.
    pub state: String,
    /// When the citizen asked for a human (China time).
    pub waiting_since: String,
    /// Seconds since then.
    pub waiting_s: i64,
    /// What the citizen wants, which service, what was answered, what is open.
    pub summary: String,
    /// web, wechat or wecom.
    pub channel: String,
    /// The agent holding it.
    pub agent_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Queue {
    pub conversations: Vec<QueueItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CitedText {
    pub text: String,
    pub citations: Vec<SuggestionCitation>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionCitation {
    pub guide_id: String,
    pub section: String,
    /// The guide's title and the section's name.
    pub title: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Default)]
pub struct TicketDraftBody {
    #[serde(default)]
    pub category: String,
    /// Department id (empty: routed from the text).
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub contact: String,
    /// What the citizen asks for.
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    pub session_id: String,
    /// waiting, connected or closed.
    pub state: String,
    pub agent_id: Option<String>,
    pub summary: String,
    pub transcript: Vec<crate::wire::TranscriptLine>,
    /// Up to three replies to the citizen's latest question about a service, each cited.
    pub suggestions: Vec<CitedText>,
    pub ticket_draft: TicketDraftBody,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AgentMessage {
    /// The agent's words to the citizen (at most 2000 characters).
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentMessageSent {
    /// Whether it was also sent to a messaging-platform user (a web citizen sees it live).
    pub delivered: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HandoffStateBody {
    pub session_id: String,
    /// waiting, connected or closed.
    pub state: String,
    pub agent_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FiledTicket {
    pub number: String,
    pub category: String,
    pub department: String,
    /// Reply by (China time).
    pub deadline: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssistRequest {
    /// The call so far, in order.
    pub transcript: Vec<AssistLine>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssistLine {
    /// caller or agent.
    pub role: String,
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssistBody {
    /// What the caller wants: service, complaint, status, rating, human, chitchat or out_of_scope.
    pub intent: String,
    pub suggestions: Vec<CitedText>,
    pub summary: String,
    /// For a complaint or request: a 12345 ticket to check and file.
    pub ticket_draft: Option<TicketDraftBody>,
    /// Form fields the caller's words already give.
    pub form_prefill: BTreeMap<String, String>,
}

fn state_name(state: &str) -> String {
    match state {
        "taken" => "connected",
        other => other,
    }
    .to_string()
}

fn draft_body(draft: TicketDraft) -> TicketDraftBody {
    TicketDraftBody {
        category: draft.category,
        department: draft.department,
        location: draft.location,
        contact: draft.contact,
        text: draft.text,
    }
}

fn cited(engine: &bot::Engine, suggestions: Vec<Suggested>) -> Vec<CitedText> {
    suggestions
        .into_iter()
        .map(|s| CitedText {
            text: s.text,
            citations: s
                .citations
                .into_iter()
                .map(|c| {
                    let guide = engine
                        .corpus
                        .guide(&c.guide_id)
                        .map_or(c.guide_id.clone(), |g| g.title.clone());
                    SuggestionCitation {
                        title: format!("{guide} · {}", service::handoffs::section_name(&c.section)),
                        guide_id: c.guide_id,
                        section: c.section,
                    }
                })
                .collect(),
        })
        .collect()
}

fn handoff_state(handoff: backend::Handoff) -> HandoffStateBody {
    HandoffStateBody {
        session_id: handoff.session_id,
        state: state_name(&handoff.state),
        agent_id: handoff.agent_id,
    }
}

/// Conversations whose citizen asked for a human, oldest first (waiting and connected).
#[utoipa::path(get, path = "/api/v1/agent/queue", tag = "agent", security(("bearer" = [])),
    responses((status = 200, body = Queue, description = "oldest first", example = super::examples::agent_queue),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in"),
        (status = 403, body = crate::error::ErrorBody, description = "not an agent")))]
pub async fn queue(State(state): State<AppState>, AuthUser(user): AuthUser) -> ApiResult<Json<Queue>> {
    let conversations = service::handoffs::queue(&state, &user)
        .await?
        .into_iter()
        .map(|q| QueueItem {
            session_id: q.handoff.session_id,
            state: state_name(&q.handoff.state),
            waiting_since: show(q.handoff.created_at),
            waiting_s: q.waiting_s,
            summary: q.summary,
            channel: q.handoff.channel,
            agent_id: q.handoff.agent_id,
        })
        .collect();
    Ok(Json(Queue { conversations }))
}

/// One conversation handed to a human: the whole transcript, a summary, up to three cited
/// suggestions for the citizen's latest question, and a 12345 ticket draft.
#[utoipa::path(get, path = "/api/v1/agent/conversations/{session_id}", tag = "agent", security(("bearer" = [])),
    params(("session_id" = String, Path, description = "the conversation")),
    responses((status = 200, body = ConversationView, description = "what the agent sees", example = super::examples::agent_conversation),
        (status = 403, body = crate::error::ErrorBody, description = "not an agent"),
        (status = 404, body = crate::error::ErrorBody, description = "no hand-over in this conversation")))]
pub async fn conversation(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(session_id): Path<String>,
) -> ApiResult<Json<ConversationView>> {
    let view = service::handoffs::view(&state, &user, &session_id).await?;
    let engine = state.engine.load();
    Ok(Json(ConversationView {
        session_id: view.handoff.session_id.clone(),
        state: state_name(&view.handoff.state),
        agent_id: view.handoff.agent_id.clone(),
        summary: view.summary,
        transcript: view
            .transcript
            .into_iter()
            .map(|m| crate::wire::TranscriptLine {
                role: m.role,
                text: m.text,
                at: show(m.created_at),
            })
            .collect(),
        suggestions: cited(&engine, view.suggestions),
        ticket_draft: draft_body(view.ticket_draft),
    }))
}

/// Take a waiting conversation: from now on the citizen's messages are this agent's.
#[utoipa::path(post, path = "/api/v1/agent/conversations/{session_id}/take", tag = "agent", security(("bearer" = [])),
    params(("session_id" = String, Path, description = "the conversation")),
    request_body(content = Object, example = super::examples::empty_request),
    responses((status = 200, body = HandoffStateBody, description = "connected", example = super::examples::handoff_taken),
        (status = 403, body = crate::error::ErrorBody, description = "not an agent"),
        (status = 404, body = crate::error::ErrorBody, description = "no hand-over in this conversation"),
        (status = 409, body = crate::error::ErrorBody, description = "another agent took it, or it is closed")))]
pub async fn take(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(session_id): Path<String>,
) -> ApiResult<Json<HandoffStateBody>> {
    Ok(Json(handoff_state(
        service::handoffs::take(&state, &user, &session_id).await?,
    )))
}

/// Write to the citizen: added to the conversation (the widget shows it live) and sent to a
/// WeChat or WeCom user.
#[utoipa::path(post, path = "/api/v1/agent/conversations/{session_id}/messages", tag = "agent", security(("bearer" = [])),
    params(("session_id" = String, Path, description = "the conversation")),
    request_body(content = AgentMessage, example = super::examples::agent_message),
    responses((status = 200, body = AgentMessageSent, description = "kept, and sent where it can be", example = super::examples::agent_message_sent),
        (status = 403, body = crate::error::ErrorBody, description = "not an agent"),
        (status = 404, body = crate::error::ErrorBody, description = "no hand-over in this conversation"),
        (status = 409, body = crate::error::ErrorBody, description = "not taken by this agent"),
        (status = 422, body = crate::error::ErrorBody, description = "empty or over-long text")))]
pub async fn message(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(session_id): Path<String>,
    AppJson(request): AppJson<AgentMessage>,
) -> ApiResult<Json<AgentMessageSent>> {
    let delivered = service::handoffs::reply(&state, &user, &session_id, &request.text).await?;
    Ok(Json(AgentMessageSent { delivered }))
}

/// Hand the conversation back to the assistant, which asks the citizen to rate the agent's service.
#[utoipa::path(post, path = "/api/v1/agent/conversations/{session_id}/close", tag = "agent", security(("bearer" = [])),
    params(("session_id" = String, Path, description = "the conversation")),
    request_body(content = Object, example = super::examples::empty_request),
    responses((status = 200, body = HandoffStateBody, description = "closed", example = super::examples::handoff_closed),
        (status = 403, body = crate::error::ErrorBody, description = "not an agent"),
        (status = 404, body = crate::error::ErrorBody, description = "no hand-over in this conversation"),
        (status = 409, body = crate::error::ErrorBody, description = "not held by this agent")))]
pub async fn close(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(session_id): Path<String>,
) -> ApiResult<Json<HandoffStateBody>> {
    Ok(Json(handoff_state(
        service::handoffs::close(&state, &user, &session_id).await?,
    )))
}

/// File the 12345 ticket the agent checked (from the conversation's draft); the citizen's,
/// when they are logged in.
#[utoipa::path(post, path = "/api/v1/agent/conversations/{session_id}/ticket", tag = "agent", security(("bearer" = [])),
    params(("session_id" = String, Path, description = "the conversation")),
    request_body(content = TicketDraftBody, example = super::examples::ticket_draft),
    responses((status = 200, body = FiledTicket, description = "filed and routed", example = super::examples::filed_ticket),
        (status = 400, body = crate::error::ErrorBody, description = "unknown department"),
        (status = 403, body = crate::error::ErrorBody, description = "not an agent"),
        (status = 404, body = crate::error::ErrorBody, description = "no hand-over in this conversation"),
        (status = 422, body = crate::error::ErrorBody, description = "no text, or too long")))]
pub async fn ticket(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(session_id): Path<String>,
    AppJson(request): AppJson<TicketDraftBody>,
) -> ApiResult<Json<FiledTicket>> {
    let draft = TicketDraft {
        category: request.category,
        department: request.department,
        location: request.location,
        contact: request.contact,
        text: request.text,
    };
    let created = service::handoffs::file_ticket(&state, &user, &session_id, &draft).await?;
    Ok(Json(FiledTicket {
        number: created.number,
        category: created.category,
        department: created.department,
        deadline: show(created.resolve_due),
    }))
}

/// Help while a caller is on the line: the agent types what the caller says; banshi answers
/// with what they want, up to three cited replies, a summary, a ticket draft for a complaint
/// and the form fields already given. Nothing is saved.
#[utoipa::path(post, path = "/api/v1/assist", tag = "agent", security(("bearer" = [])),
    request_body(content = AssistRequest, example = super::examples::assist_request),
    responses((status = 200, body = AssistBody, description = "suggestions with citations", example = super::examples::assist_response),
        (status = 403, body = crate::error::ErrorBody, description = "not an agent"),
        (status = 422, body = crate::error::ErrorBody, description = "no caller line, or too long")))]
pub async fn assist(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppJson(request): AppJson<AssistRequest>,
) -> ApiResult<Json<AssistBody>> {
    if !(user.has(Role::Agent) || user.has(Role::Admin)) {
        return Err(ApiError::new(Code::Forbidden, "只有人工客服（坐席）可以使用通话辅助。"));
    }
    if request.transcript.len() > service::handoffs::MAX_ASSIST_LINES
        || request
            .transcript
            .iter()
            .any(|l| l.text.chars().count() > service::turn::MAX_MESSAGE_CHARS)
    {
        return Err(ApiError::new(
            Code::MessageTooLong,
            format!(
                "通话记录太长了：最多 {} 句，每句不超过 {} 字。",
                service::handoffs::MAX_ASSIST_LINES,
                service::turn::MAX_MESSAGE_CHARS
            ),
        ));
    }
    if let Some(line) = request
        .transcript
        .iter()
        .find(|l| l.role != "caller" && l.role != "agent")
    {
        return Err(ApiError::new(
            Code::BadRequest,
            format!(
                "transcript.role：应为 caller（来电人）或 agent（坐席），不能是“{}”。",
                line.role
            ),
        ));
    }
    let engine = state.engine.load_full();
    let lines: Vec<(String, String)> = request.transcript.into_iter().map(|l| (l.role, l.text)).collect();
    let done = {
        let engine = engine.clone();
        tokio::task::spawn_blocking(move || service::handoffs::assist(&engine, &lines))
            .await
            .map_err(ApiError::internal)??
    };
    Ok(Json(AssistBody {
        intent: done.intent,
        suggestions: cited(&engine, done.suggestions),
        summary: done.summary,
        ticket_draft: done.ticket_draft.map(draft_body),
        form_prefill: done.form_prefill,
    }))
}

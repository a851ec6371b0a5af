//! The agents' hand-over endpoints (role agent): the queue of conversations waiting for a
//! human, take, reply, hand back (`service::handoffs`).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{ApiResult, AppJson};
use crate::service;
use crate::state::AppState;
use knowledge::time::show;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/agent/handoffs", get(queue))
        .route("/api/v1/agent/handoffs/{id}/take", post(take))
        .route("/api/v1/agent/handoffs/{id}/reply", post(reply))
        .route("/api/v1/agent/handoffs/{id}/close", post(close))
        .route("/api/v1/agent/handoffs/{id}/suggestion", get(suggestion))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HandoffBody {
    pub id: String,
    pub session_id: String,
    /// web, wechat or wecom.
    pub channel: String,
    /// waiting, taken or closed.
    pub state: String,
    /// The agent holding it.
    pub agent_id: Option<String>,
    /// When the citizen asked for a human (China time).
    pub created_at: String,
    /// The citizen's last message.
    pub last_message: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HandoffList {
    pub handoffs: Vec<HandoffBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct HandoffReply {
    /// The agent's words to the citizen (at most 2000 characters).
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HandoffReplied {
    /// Whether it was sent to a messaging-platform user (a web citizen reads it in the
    /// conversation's transcript).
    pub delivered: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionBody {
    /// The citizen's words it answers; none when nothing they said is about a service.
    pub question: Option<String>,
    /// A reply the agent may send or adapt (empty when there is none).
    pub text: String,
    /// Where each fact comes from.
    pub citations: Vec<crate::wire::CitationBody>,
    /// The guides it is about, best first.
    pub guides: Vec<crate::wire::GuideRef>,
}

fn body(handoff: backend::Handoff, last_message: Option<String>) -> HandoffBody {
    HandoffBody {
        id: handoff.id,
        session_id: handoff.session_id,
        channel: handoff.channel,
        state: handoff.state,
        agent_id: handoff.agent_id,
        created_at: show(handoff.created_at),
        last_message,
    }
}

/// Conversations whose citizen asked for a human, oldest first (waiting and taken).
#[utoipa::path(get, path = "/api/v1/agent/handoffs", tag = "agent", security(("bearer" = [])),
    responses((status = 200, body = HandoffList, description = "oldest first", example = super::examples::handoff_list),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in"),
        (status = 403, body = crate::error::ErrorBody, description = "not an agent")))]
pub async fn queue(State(state): State<AppState>, AuthUser(user): AuthUser) -> ApiResult<Json<HandoffList>> {
    let handoffs = service::handoffs::queue(&state, &user)
        .await?
        .into_iter()
        .map(|q| body(q.handoff, q.last_message))
        .collect();
    Ok(Json(HandoffList { handoffs }))
}

/// Take a waiting conversation: from now on the citizen's messages are this agent's.
#[utoipa::path(post, path = "/api/v1/agent/handoffs/{id}/take", tag = "agent", security(("bearer" = [])),
    params(("id" = String, Path, description = "hand-over id")),
    request_body(content = Object, example = super::examples::empty_request),
    responses((status = 200, body = HandoffBody, description = "taken", example = super::examples::handoff_body),
        (status = 403, body = crate::error::ErrorBody, description = "not an agent"),
        (status = 404, body = crate::error::ErrorBody, description = "no such hand-over"),
        (status = 409, body = crate::error::ErrorBody, description = "another agent took it, or it is closed")))]
pub async fn take(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<HandoffBody>> {
    Ok(Json(body(service::handoffs::take(&state, &user, &id).await?, None)))
}

/// Reply to the citizen: added to the conversation, and sent to a WeChat or WeCom user.
#[utoipa::path(post, path = "/api/v1/agent/handoffs/{id}/reply", tag = "agent", security(("bearer" = [])),
    params(("id" = String, Path, description = "hand-over id")),
    request_body(content = HandoffReply, example = super::examples::handoff_reply),
    responses((status = 200, body = HandoffReplied, description = "kept, and sent where it can be", example = super::examples::handoff_replied),
        (status = 403, body = crate::error::ErrorBody, description = "not an agent"),
        (status = 404, body = crate::error::ErrorBody, description = "no such hand-over"),
        (status = 409, body = crate::error::ErrorBody, description = "not taken by this agent"),
        (status = 422, body = crate::error::ErrorBody, description = "empty or over-long text")))]
pub async fn reply(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    AppJson(request): AppJson<HandoffReply>,
) -> ApiResult<Json<HandoffReplied>> {
    let delivered = service::handoffs::reply(&state, &user, &id, &request.text).await?;
    Ok(Json(HandoffReplied { delivered }))
}

/// Hand the conversation back to the assistant.
#[utoipa::path(post, path = "/api/v1/agent/handoffs/{id}/close", tag = "agent", security(("bearer" = [])),
    params(("id" = String, Path, description = "hand-over id")),
    request_body(content = Object, example = super::examples::empty_request),
    responses((status = 200, body = HandoffBody, description = "closed", example = super::examples::handoff_closed),
        (status = 403, body = crate::error::ErrorBody, description = "not an agent"),
        (status = 404, body = crate::error::ErrorBody, description = "no such hand-over"),
        (status = 409, body = crate::error::ErrorBody, description = "not held by this agent")))]
pub async fn close(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<HandoffBody>> {
    Ok(Json(body(service::handoffs::close(&state, &user, &id).await?, None)))
}

/// A suggested reply with citations: the assistant's answer to the citizen's latest question
/// about a service, in the conversation's context, for the agent to send or adapt.
#[utoipa::path(get, path = "/api/v1/agent/handoffs/{id}/suggestion", tag = "agent", security(("bearer" = [])),
    params(("id" = String, Path, description = "hand-over id")),
    responses((status = 200, body = SuggestionBody, description = "a cited reply, or an empty one", example = super::examples::suggestion),
        (status = 403, body = crate::error::ErrorBody, description = "not an agent"),
        (status = 404, body = crate::error::ErrorBody, description = "no such hand-over")))]
pub async fn suggestion(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<SuggestionBody>> {
    let found = service::handoffs::suggestion(&state, &user, &id).await?;
    Ok(Json(match found {
        Some(found) => SuggestionBody {
            question: Some(found.question),
            text: found.reply.text.clone(),
            citations: found
                .reply
                .citations
                .iter()
                .map(crate::wire::CitationBody::from)
                .collect(),
            guides: found.reply.guides.iter().map(crate::wire::GuideRef::from).collect(),
        },
        None => SuggestionBody {
            question: None,
            text: String::new(),
            citations: Vec::new(),
            guides: Vec::new(),
        },
    }))
}

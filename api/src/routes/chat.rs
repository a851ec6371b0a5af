//! `POST /api/v1/chat`: one turn of a conversation, persisted before it is answered.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};

use crate::error::{ApiError, ApiResult, AppJson, Code};
use crate::state::AppState;
use crate::wire::{ChatRequest, ChatResponse, CitationBody, GuideRef, ReplyBody};

/// Longest message accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/chat", post(chat))
}

fn valid_session_id(id: &str) -> bool {
    (8..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Send a message; get the assistant's reply with citations.
#[utoipa::path(post, path = "/api/v1/chat", request_body = ChatRequest,
    responses(
        (status = 200, body = ChatResponse),
        (status = 400, body = crate::error::ErrorBody, description = "malformed JSON or session id"),
        (status = 413, body = crate::error::ErrorBody, description = "body over 64 KiB"),
        (status = 422, body = crate::error::ErrorBody, description = "empty or over-long message"),
        (status = 429, body = crate::error::ErrorBody),
    ))]
pub async fn chat(
    State(state): State<AppState>,
    AppJson(request): AppJson<ChatRequest>,
) -> ApiResult<Json<ChatResponse>> {
    let message = request.message.trim().to_string();
    if message.is_empty() {
        return Err(ApiError::new(
            Code::EmptyMessage,
            "消息不能为空，请输入您想咨询的问题。",
        ));
    }
    if message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::new(
            Code::MessageTooLong,
            format!("消息太长了，请控制在 {MAX_MESSAGE_CHARS} 字以内，说清要办的事即可。"),
        ));
    }
    let session_id = match request.session_id {
        Some(id) if valid_session_id(&id) => id,
        Some(_) => {
            return Err(ApiError::new(
                Code::InvalidSessionId,
                "会话编号格式不正确，请去掉 session_id 重新开始对话。",
            ));
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    // Another replica may save the same session between our read and write: reread and
    // answer again, a bounded number of times.
    for _ in 0..3 {
        let stored = state.store.session(&session_id).await.map_err(ApiError::internal)?;
        let (version, dialogue) = match &stored {
            Some(session) => (
                Some(session.version),
                serde_json::from_str(&session.state).unwrap_or_default(),
            ),
            None => (None, bot::DialogueState::default()),
        };
        let engine = state.engine.load_full();
        let text = message.clone();
        let (next, reply) = tokio::task::spawn_blocking(move || bot::respond(&engine, &dialogue, &text))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        let response = ChatResponse {
            session_id: session_id.clone(),
            intent: reply.intent.as_str().to_string(),
            reply: ReplyBody {
                text: reply.text.clone(),
                citations: reply.citations.iter().map(CitationBody::from).collect(),
                quick_replies: reply.quick_replies.clone(),
            },
            guides: reply.guides.iter().map(GuideRef::from).collect(),
        };
        let state_json = serde_json::to_string(&next).map_err(ApiError::internal)?;
        let payload = serde_json::to_string(&response.reply).map_err(ApiError::internal)?;
        let turn = backend::Turn {
            session_id: &session_id,
            user_id: None,
            expected_version: version,
            state: &state_json,
            user_text: &message,
            bot_text: &reply.text,
            intent: reply.intent.as_str(),
            payload: &payload,
        };
        match state.store.save_turn(&turn).await {
            Ok(_) => {
                tracing::info!(session = %session_id, intent = reply.intent.as_str(), n_guides = reply.guides.len(), "chat turn");
                return Ok(Json(response));
            }
            Err(backend::Error::Conflict(_)) => continue,
            Err(err) => return Err(ApiError::internal(err)),
        }
    }
    Err(ApiError::new(
        Code::Unavailable,
        "该会话正在另一处同时使用，请稍后重试。",
    ))
}

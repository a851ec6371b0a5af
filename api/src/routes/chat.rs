//! `POST /api/v1/chat`: one turn of a conversation (`service::turn` runs it).

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};

use crate::auth::MaybeUser;
use crate::error::{ApiResult, AppJson};
use crate::state::AppState;
use crate::wire::{ChatRequest, ChatResponse};

pub use crate::service::turn::MAX_MESSAGE_CHARS;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/chat", post(chat))
}

/// Send a message; get the assistant's reply with citations (and the form, when filling one).
#[utoipa::path(post, path = "/api/v1/chat", tag = "chat", security((), ("bearer" = [])),
    request_body(content = ChatRequest, example = super::examples::chat_request),
    responses(
        (status = 200, body = ChatResponse, description = "the reply, with citations", example = super::examples::chat_response),
        (status = 400, body = crate::error::ErrorBody, description = "malformed JSON (the message names the field) or session id", example = super::examples::error_response),
        (status = 401, body = crate::error::ErrorBody, description = "invalid token"),
        (status = 413, body = crate::error::ErrorBody, description = "body over 64 KiB"),
        (status = 415, body = crate::error::ErrorBody, description = "not application/json"),
        (status = 422, body = crate::error::ErrorBody, description = "empty or over-long message"),
        (status = 429, body = crate::error::ErrorBody, description = "rate limited"),
        (status = 503, body = crate::error::ErrorBody, description = "the session is being used elsewhere at the same moment"),
    ))]
pub async fn chat(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    AppJson(request): AppJson<ChatRequest>,
) -> ApiResult<Json<ChatResponse>> {
    let response = crate::service::turn::chat(&state, user.as_ref(), request.session_id, &request.message).await?;
    Ok(Json(response))
}

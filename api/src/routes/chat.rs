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
#[utoipa::path(post, path = "/api/v1/chat", request_body = ChatRequest, security((), ("bearer" = [])),
    responses(
        (status = 200, body = ChatResponse),
        (status = 400, body = crate::error::ErrorBody, description = "malformed JSON or session id"),
        (status = 401, body = crate::error::ErrorBody, description = "invalid token"),
        (status = 413, body = crate::error::ErrorBody, description = "body over 64 KiB"),
        (status = 422, body = crate::error::ErrorBody, description = "empty or over-long message"),
        (status = 429, body = crate::error::ErrorBody),
    ))]
pub async fn chat(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    AppJson(request): AppJson<ChatRequest>,
) -> ApiResult<Json<ChatResponse>> {
    let response = crate::service::turn::chat(&state, user.as_ref(), request.session_id, &request.message).await?;
    Ok(Json(response))
}

//! `POST /api/v1/chat`: one turn of a conversation (`service::turn` runs it).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::auth::MaybeUser;
use crate::error::{ApiResult, AppJson};
use crate::state::AppState;
use crate::wire::{ChatRequest, ChatResponse, TranscriptBody, TranscriptLine};

pub use crate::service::turn::MAX_MESSAGE_CHARS;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/chat", post(chat))
        .route("/api/v1/chat/stream", post(chat_stream))
        .route("/api/v1/chat/{session_id}/messages", get(transcript))
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
    let response = turn(&state, user.as_ref(), request).await?;
    Ok(Json(response))
}

/// The conversation so far, including what a human agent wrote after a hand-over (转人工):
/// a client shows the agent's replies from here. A logged-in citizen's conversation is theirs
/// alone; an anonymous one is read with its session id.
#[utoipa::path(get, path = "/api/v1/chat/{session_id}/messages", tag = "chat", security((), ("bearer" = [])),
    params(("session_id" = String, Path, description = "the conversation")),
    responses(
        (status = 200, body = TranscriptBody, description = "oldest first; role user, bot or agent", example = super::examples::transcript),
        (status = 401, body = crate::error::ErrorBody, description = "the conversation needs its owner's login"),
        (status = 404, body = crate::error::ErrorBody, description = "no such conversation, or another person's"),
    ))]
pub async fn transcript(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(session_id): Path<String>,
) -> ApiResult<Json<TranscriptBody>> {
    use crate::error::{ApiError, Code};
    let not_found = || ApiError::new(Code::NotFound, "没有找到这个会话。");
    let session = state
        .store
        .session(&session_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    match (&session.user_id, &user) {
        (Some(owner), Some(user)) if *owner != user.id => return Err(not_found()),
        (Some(_), None) => return Err(ApiError::new(Code::Unauthorized, "该会话需要登录后查看，请先登录。")),
        _ => {}
    }
    let messages = state
        .store
        .messages(&session_id)
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|m| TranscriptLine {
            role: m.role,
            text: m.text,
            at: knowledge::time::show(m.created_at),
        })
        .collect();
    Ok(Json(TranscriptBody { messages }))
}

/// A web turn: `/api/v1/chat` and its streamed form are the same turn.
async fn turn(state: &AppState, user: Option<&crate::auth::User>, request: ChatRequest) -> ApiResult<ChatResponse> {
    let origin = crate::service::turn::Origin {
        elder: request.elder,
        ..crate::service::turn::Origin::web()
    };
    Ok(crate::service::turn::chat_from(state, user, request.session_id, &request.message, &origin).await?)
}

/// The reply's text in pieces as it would be read: a sentence, a line or a list item each.
fn pieces(text: &str) -> Vec<&str> {
    text.split_inclusive(['。', '\n', '；', '！', '？']).collect()
}

/// The same turn as `/api/v1/chat`, answered as server-sent events: `delta` events carry the
/// reply's text piece by piece (a widget shows it as it arrives), then one `done` event whose
/// data is exactly the `/api/v1/chat` response. A refused message gets the usual JSON error.
#[utoipa::path(post, path = "/api/v1/chat/stream", tag = "chat", security((), ("bearer" = [])),
    request_body(content = ChatRequest, example = super::examples::chat_request),
    responses(
        (status = 200, content_type = "text/event-stream", body = ChatResponse,
            description = "`event: delta` with text, then `event: done` with the /api/v1/chat response as JSON",
            example = super::examples::chat_stream),
        (status = 400, body = crate::error::ErrorBody, description = "malformed JSON or session id", example = super::examples::error_response),
        (status = 401, body = crate::error::ErrorBody, description = "invalid token"),
        (status = 422, body = crate::error::ErrorBody, description = "empty or over-long message"),
        (status = 429, body = crate::error::ErrorBody, description = "rate limited"),
    ))]
pub async fn chat_stream(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    AppJson(request): AppJson<ChatRequest>,
) -> ApiResult<
    axum::response::Sse<
        futures_util::stream::Iter<std::vec::IntoIter<Result<axum::response::sse::Event, std::convert::Infallible>>>,
    >,
> {
    use axum::response::sse::Event;
    let response = turn(&state, user.as_ref(), request).await?;
    let mut events: Vec<Result<Event, std::convert::Infallible>> = pieces(&response.reply.text)
        .into_iter()
        .map(|piece| Ok(Event::default().event("delta").data(piece)))
        .collect();
    let done = Event::default()
        .event("done")
        .json_data(&response)
        .map_err(crate::error::ApiError::internal)?;
    events.push(Ok(done));
    Ok(axum::response::Sse::new(futures_util::stream::iter(events)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pieces_make_the_whole_text() {
        let text = "【护照】示范市公安局\n\n可网上预约。材料：身份证；照片！还有问题吗？好";
        let pieces = super::pieces(text);
        assert!(pieces.len() >= 5, "{pieces:?}");
        assert_eq!(pieces.concat(), text);
        assert!(super::pieces("").is_empty());
    }
}

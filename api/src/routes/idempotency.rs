//! `Idempotency-Key` on any POST (IETF httpapi draft): the first request with a key runs and
//! its answer is stored; a retry with the same key gets the stored answer (header
//! `Idempotent-Replayed: true`) without running again; the same key while the first still
//! runs is a 409; the same key with a different body is a 422. Keys are per caller (the
//! verified user, or anonymous) and per path. A 5xx is not stored, so a retry runs again.

use std::hash::{Hash, Hasher};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, Code};
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";

/// A first attempt that has stored nothing after this long is taken as dead (a crash): a
/// turn waits at most for the bounded queue and then takes about a second, so 20 s is far
/// past any live one, and a client retrying after a crash is not kept waiting a minute.
const STALE_MS: i64 = 20_000;

/// The requests that compute a turn, and so wait for a place in the turn queue.
const TURN_PATHS: [&str; 2] = ["/api/v1/chat", "/api/v1/chat/stream"];

pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // A file upload is stored as sent (a repeat is a second copy, harmless); its body is
    // larger than the replay store keeps.
    if request.method() != Method::POST || request.uri().path() == "/api/v1/uploads" {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let key = match key.to_str() {
        Ok(key) if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => key.to_string(),
        _ => {
            return ApiError::new(
                Code::BadRequest,
                "Idempotency-Key 请求头应为 1–255 个可见 ASCII 字符（建议使用 UUID）。",
            )
            .into_response();
        }
    };
    // Per caller: the verified subject, so that one citizen's key never answers another.
    let subject = match request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
    {
        Some(token) => match state.auth.verify(token.trim()) {
            Ok(user) => user.id,
            Err(err) => return err.into_response(),
        },
        None => "anonymous".to_string(),
    };
    // A turn that the full queue would refuse is refused before its key is recorded: under
    // overload a shed turn then costs no database write (two, before: record and release),
    // which on SQLite competed with the accepted turns for the one write lock.
    if TURN_PATHS.contains(&request.uri().path()) && state.admission.full() {
        state.metrics.turn("none", "shed", None);
        return ApiError::from(crate::service::turn::busy()).into_response();
    }
    let scope = format!("{subject} {}", request.uri().path());
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, super::MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::new(Code::PayloadTooLarge, "请求内容过大，请精简后再发送。").into_response(),
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    let request_hash = format!("{:016x}", hasher.finish());
    let now = state.clock.now();
    match state
        .store
        .idempotency_begin(&scope, &key, &request_hash, now, STALE_MS)
        .await
    {
        Ok(backend::Replay::Fresh) => {}
        Ok(backend::Replay::Done { status, response }) => {
            let mut replayed = Response::new(Body::from(response));
            *replayed.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let headers = replayed.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            return replayed;
        }
        Ok(backend::Replay::InFlight) => {
            return ApiError::new(
                Code::InvalidTransition,
                "使用同一 Idempotency-Key 的请求正在处理，请稍后重试。",
            )
            .retry_after(1)
            .into_response();
        }
        Ok(backend::Replay::Mismatch) => {
            return ApiError::new(
                Code::EmptyMessage,
                "该 Idempotency-Key 已用于另一个内容不同的请求，请为新请求换一个新的 Idempotency-Key。",
            )
            .into_response();
        }
        Err(err) => return ApiError::internal(err).into_response(),
    }
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let status = response.status();
    if status.is_server_error() {
        if let Err(err) = state.store.idempotency_abandon(&scope, &key).await {
            tracing::warn!(error = %err, "idempotency key not released");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, 4 * 1024 * 1024).await {
        Ok(bytes) => bytes,
        Err(err) => return ApiError::internal(err).into_response(),
    };
    let text = String::from_utf8_lossy(&bytes);
    if let Err(err) = state
        .store
        .idempotency_finish(&scope, &key, status.as_u16(), &text)
        .await
    {
        tracing::warn!(error = %err, "idempotent answer not stored");
    }
    Response::from_parts(parts, Body::from(bytes))
}

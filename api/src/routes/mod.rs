//! The router: each feature module exports its routes; `app` assembles them with the
//! layers every request goes through (body limit, rate limit, tracing).

mod applications;
mod appointments;
mod bindings;
mod chat;
mod dashboard;
mod examples;
mod gaps;
mod guides;
mod handoffs;
mod health;
pub mod idempotency;
mod live;
mod openapi;
pub mod tickets;
mod uploads;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, Code};
use crate::state::AppState;

pub use openapi::ApiDoc;

/// Largest request body accepted (a chat message is at most a few KB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn app(state: AppState) -> Router {
    let mut api = Router::new()
        .merge(chat::router())
        .merge(bindings::router())
        .merge(handoffs::router())
        .merge(live::router())
        .merge(applications::router())
        .merge(tickets::router())
        .merge(guides::router())
        .merge(uploads::router())
        .merge(appointments::router())
        .merge(gaps::router())
        .merge(dashboard::router())
        .merge(openapi::router())
        .layer(middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    if let Some(cors) = cors(&state.cors_origins) {
        api = api.layer(cors);
    }
    Router::new()
        .merge(health::router())
        .merge(crate::metrics::router())
        // The platforms call from a few addresses: not under the per-address limit.
        .merge(crate::channels::router())
        .merge(crate::pages::router())
        .merge(crate::assets::router())
        .merge(api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(refuse_nul))
        // The request line without its query string: a query may hold an ID number.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .with_state(state)
}

/// The browsers' cross-origin rules for the configured origins (a mini-program's web view, the
/// city's portal); an origin that is not a valid header value is left out with a warning.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, HeaderValue, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| match HeaderValue::from_str(origin) {
            Ok(value) => Some(value),
            Err(_) => {
                tracing::warn!(%origin, "CORS origin ignored: not a valid origin");
                None
            }
        })
        .collect();
    if allowed.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(allowed))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                HeaderName::from_static(idempotency::HEADER),
            ])
            .max_age(std::time::Duration::from_secs(3600)),
    )
}

async fn not_found() -> ApiError {
    ApiError::new(Code::NotFound, "没有这个接口地址，请检查请求路径。")
}

/// Per client address; requests without a peer address (in-process tests) share one bucket.
async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    if let Err(not_until) = state.limiter.check_key(&ip) {
        use governor::clock::{Clock, DefaultClock};
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        tracing::info!(%ip, wait_ms = wait.as_millis() as u64, "rate limited");
        // Read what was sent, so that the connection stays usable for the next request.
        let _ = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await;
        return ApiError::new(Code::RateLimited, "请求太频繁，请稍后再试。")
            .retry_after(wait.as_secs_f64().ceil() as u64)
            .into_response();
    }
    next.run(request).await
}

/// Whether text holds a NUL character, raw or as a JSON escape (`\u0000`, not `\\u0000`).
fn holds_nul(bytes: &[u8]) -> bool {
    if bytes.contains(&0) {
        return true;
    }
    let text = String::from_utf8_lossy(bytes);
    let lower = text.to_ascii_lowercase();
    lower.match_indices("\\u0000").any(|(at, _)| {
        let backslashes = lower[..at].bytes().rev().take_while(|b| *b == b'\\').count();
        backslashes % 2 == 0
    })
}

/// A NUL character is never a citizen's words and no database column takes it: refused up
/// front with a clear error (in the path, the query or the body), before anything is stored.
async fn refuse_nul(request: Request, next: Next) -> Response {
    let refused = || ApiError::new(Code::BadRequest, "请求中含有空字符（\\u0000），请删去后重试。").into_response();
    let uri = request.uri();
    let in_uri = |part: &str| {
        let lower = part.to_ascii_lowercase();
        lower.contains("%00") || lower.contains('\0')
    };
    if in_uri(uri.path()) || uri.query().is_some_and(in_uri) {
        return refused();
    }
    // A file's bytes hold NULs by nature; it is stored as bytes, never as text.
    if request.method() != axum::http::Method::POST || request.uri().path() == "/api/v1/uploads" {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::new(Code::PayloadTooLarge, "请求内容过大，请精简后再发送。").into_response();
        }
    };
    if holds_nul(&bytes) {
        return refused();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_nul_is_found_raw_or_escaped_but_not_a_written_backslash() {
        assert!(super::holds_nul(b"{\"message\": \"a\\u0000b\"}"));
        assert!(super::holds_nul(b"{\"message\": \"a\\U0000b\"}"));
        assert!(super::holds_nul(&[b'a', 0, b'b']));
        assert!(!super::holds_nul(b"{\"message\": \"a\\\\u0000b\"}"));
        assert!(!super::holds_nul("{\"message\": \"护照怎么办\"}".as_bytes()));
    }
}

//! The router: each feature module exports its routes; `app` assembles them with the
//! layers every request goes through (body limit, rate limit, tracing).

mod applications;
mod bindings;
mod chat;
mod examples;
mod guides;
mod handoffs;
mod health;
pub mod idempotency;
mod live;
mod openapi;
pub mod tickets;

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
        .merge(openapi::router())
        .layer(middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    if let Some(cors) = cors(&state.cors_origins) {
        api = api.layer(cors);
    }
    Router::new()
        .merge(health::router())
        // The platforms call from a few addresses: not under the per-address limit.
        .merge(crate::channels::router())
        .merge(crate::pages::router())
        .merge(crate::assets::router())
        .merge(api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
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
    if state.limiter.check_key(&ip).is_err() {
        tracing::info!(%ip, "rate limited");
        return ApiError::new(Code::RateLimited, "请求太频繁，请稍后再试。").into_response();
    }
    next.run(request).await
}

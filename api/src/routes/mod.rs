//! The router: each feature module exports its routes; `app` assembles them with the
//! layers every request goes through (body limit, rate limit, tracing).

mod applications;
mod chat;
mod examples;
mod guides;
mod health;
pub mod idempotency;
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
    let api = Router::new()
        .merge(chat::router())
        .merge(applications::router())
        .merge(tickets::router())
        .merge(guides::router())
        .merge(openapi::router())
        .layer(middleware::from_fn_with_state(state.clone(), idempotency::layer))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    Router::new()
        .merge(health::router())
        .merge(api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
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

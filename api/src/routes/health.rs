//! `GET /healthz` (the process is up) and `GET /readyz` (it can answer: guides indexed,
//! database reachable).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use crate::state::AppState;
use crate::wire::Health;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health, description = "the process is up", example = super::examples::health_response)))]
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        guides: state.engine.load().corpus.len(),
        database: format!("{:?}", state.store.kind()).to_lowercase(),
        search: search_mode(&state),
        knowledge: state.knowledge_version(),
        embedding: embedding(&state),
    })
}

/// The background embedding's progress, while it runs.
fn embedding(state: &AppState) -> Option<crate::wire::EmbeddingProgress> {
    let view = state.warmup.as_ref()?.view();
    (view.phase != "ready").then(|| crate::wire::EmbeddingProgress {
        phase: view.phase.into(),
        done: view.done,
        total: view.total,
        per_second: (view.per_second * 10.0).round() / 10.0,
        eta_s: view.eta_s.map(|s| s.round()),
    })
}

/// `hybrid` (or `dense`) with the encoder; `bm25 (warming up: …)` while its embeddings
/// are computed; `bm25 (degraded: no encoder)` without.
fn search_mode(state: &AppState) -> String {
    let engine = state.engine.load();
    if engine.semantic.is_none() && state.warmup.as_ref().is_some_and(|p| p.view().phase != "ready") {
        return "bm25 (warming up: hybrid once the embeddings are computed)".into();
    }
    match (engine.semantic.is_some(), engine.default_mode()) {
        (true, bot::Mode::Hybrid) => "hybrid".into(),
        (true, bot::Mode::Dense) => "dense".into(),
        (true, bot::Mode::Bm25) => "bm25".into(),
        (false, _) => "bm25 (degraded: no encoder)".into(),
    }
}

#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Health, description = "ready: guides indexed, database reachable", example = super::examples::health_response),
        (status = 503, body = Health, description = "not ready, or stopping (draining its last turns)")))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let guides = state.engine.load().corpus.len();
    let database = match state.store.ping().await {
        Ok(()) => format!("{:?}", state.store.kind()).to_lowercase(),
        Err(err) => {
            tracing::warn!(error = %err, "database not reachable");
            "unreachable".to_string()
        }
    };
    let stopping = state.is_stopping();
    let ready = guides > 0 && database != "unreachable" && !stopping;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let health = Health {
        status: match (ready, stopping) {
            (true, _) => "ready",
            (false, true) => "stopping",
            (false, false) => "not_ready",
        }
        .into(),
        guides,
        database,
        search: search_mode(&state),
        knowledge: state.knowledge_version(),
        embedding: embedding(&state),
    };
    (status, Json(health))
}

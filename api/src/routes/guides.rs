//! `GET /api/v1/guides/{id}` and `GET /api/v1/search?q=`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, ApiResult, AppQuery, Code};
use crate::state::AppState;
use crate::wire::SearchResponse;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/guides/{id}", get(guide))
        .route("/api/v1/search", get(search))
}

/// One guide, whole, as stored in the knowledge base.
#[utoipa::path(get, path = "/api/v1/guides/{id}", tag = "guides", params(("id" = String, Path, description = "guide id")),
    responses((status = 200, body = Object, description = "the guide as stored in the knowledge base", example = super::examples::guide_response),
        (status = 404, body = crate::error::ErrorBody, description = "no such guide")))]
pub async fn guide(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<serde_json::Value>> {
    let engine = state.engine.load();
    let guide = engine
        .corpus
        .guide(&id)
        .ok_or_else(|| ApiError::new(Code::NotFound, format!("没有找到编号为“{id}”的办事指南。")))?;
    Ok(Json(serde_json::to_value(guide.as_ref()).map_err(ApiError::internal)?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchQuery {
    /// The words to search for.
    pub q: Option<String>,
    /// At most this many hits (1-20, default 5).
    pub limit: Option<usize>,
}

/// Search the guides.
#[utoipa::path(get, path = "/api/v1/search", tag = "guides", params(SearchQuery),
    responses((status = 200, body = SearchResponse, example = super::examples::search_response),
        (status = 400, body = crate::error::ErrorBody, description = "a malformed parameter (the message names it)", example = super::examples::error_response),
        (status = 422, body = crate::error::ErrorBody, description = "empty or over-long q")))]
pub async fn search(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<SearchQuery>,
) -> ApiResult<Json<SearchResponse>> {
    let q = query.q.unwrap_or_default();
    let q = q.trim();
    if q.is_empty() {
        return Err(ApiError::new(Code::EmptyMessage, "请输入要搜索的内容（参数 q）。"));
    }
    if q.chars().count() > super::chat::MAX_MESSAGE_CHARS {
        return Err(ApiError::new(Code::MessageTooLong, "搜索内容太长了，请精简后再试。"));
    }
    let limit = query.limit.unwrap_or(5).clamp(1, 20);
    let engine = state.engine.load_full();
    let q = q.to_string();
    let hits = tokio::task::spawn_blocking(move || engine.index.search(&q, limit))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(SearchResponse::new(hits, true)))
}

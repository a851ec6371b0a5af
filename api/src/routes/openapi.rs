//! `GET /api/v1/openapi.json`.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "banshi 办事 API", description = "政务服务智能助手：问答、办事指南检索"),
    paths(
        super::chat::chat,
        super::guides::guide,
        super::guides::search,
        super::health::healthz,
        super::health::readyz
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail, crate::error::Code))
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}

//! `POST /api/v1/channels/bind`: a logged-in citizen binds the WeChat or WeCom user a binding
//! code was sent to (`channels::binding`).

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};

use crate::auth::AuthUser;
use crate::error::{ApiResult, AppJson};
use crate::state::AppState;
use crate::wire::{BindRequest, BindResponse};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/channels/bind", post(bind))
}

/// Bind the messaging-platform user who received this code to the logged-in citizen: their
/// messages there then act as this citizen (forms prefilled and submitted in their name).
#[utoipa::path(post, path = "/api/v1/channels/bind", tag = "identity", security(("bearer" = [])),
    request_body(content = BindRequest, example = super::examples::bind_request),
    responses(
        (status = 200, body = BindResponse, description = "bound", example = super::examples::bind_response),
        (status = 400, body = crate::error::ErrorBody, description = "no code given", example = super::examples::error_response),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in"),
        (status = 403, body = crate::error::ErrorBody, description = "not a citizen's or a company's account"),
        (status = 404, body = crate::error::ErrorBody, description = "unknown, used or expired code"),
    ))]
pub async fn bind(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppJson(request): AppJson<BindRequest>,
) -> ApiResult<Json<BindResponse>> {
    let who = crate::channels::binding::bind(&state, &user, &request.code).await?;
    Ok(Json(BindResponse {
        channel: who.channel,
        account: who.account,
    }))
}

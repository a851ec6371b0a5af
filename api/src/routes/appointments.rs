//! A citizen's own window appointments (`/api/v1/appointments`) and 服务找人 inbox
//! (`/api/v1/inbox`); booking itself happens in the conversation.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, AppJson, Code};
use crate::state::AppState;
use crate::wire::{AppointmentBody, AppointmentList, Inbox};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/appointments", get(list))
        .route("/api/v1/appointments/{number}/cancel", post(cancel))
        .route("/api/v1/inbox", get(inbox))
        .route("/api/v1/inbox/settings", post(settings))
}

/// The caller's appointments, newest first (cancelled ones too).
#[utoipa::path(get, path = "/api/v1/appointments", tag = "applications", security(("bearer" = [])),
    responses((status = 200, body = AppointmentList, example = super::examples::appointment_list),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in")))]
pub async fn list(State(state): State<AppState>, AuthUser(user): AuthUser) -> ApiResult<Json<AppointmentList>> {
    let engine = state.engine.load_full();
    let appointments = state
        .store
        .appointments_of(&user.id)
        .await
        .map_err(ApiError::internal)?
        .iter()
        .map(|a| crate::service::appointments::body(&engine, a))
        .collect();
    Ok(Json(AppointmentList { appointments }))
}

/// Cancels one of the caller's live appointments; its place can be booked again at once.
#[utoipa::path(post, path = "/api/v1/appointments/{number}/cancel", tag = "applications", security(("bearer" = [])),
    params(("number" = String, Path, description = "appointment number")),
    request_body(content = Object, example = super::examples::empty_request),
    responses((status = 200, body = AppointmentBody, description = "the cancelled appointment", example = super::examples::appointment_cancelled),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in"),
        (status = 404, body = crate::error::ErrorBody, description = "no live appointment of the caller by that number")))]
pub async fn cancel(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(number): Path<String>,
) -> ApiResult<Json<AppointmentBody>> {
    let engine = state.engine.load_full();
    match state
        .store
        .cancel_appointment(&number, &user.id, state.clock.now())
        .await
        .map_err(ApiError::internal)?
    {
        Some(cancelled) => Ok(Json(crate::service::appointments::body(&engine, &cancelled))),
        None => Err(ApiError::new(
            Code::NotFound,
            format!(
                "没有找到您编号为“{}”、尚未取消的预约。",
                number.chars().take(40).collect::<String>()
            ),
        )),
    }
}

/// What is due for the caller (服务找人), newest first.
#[utoipa::path(get, path = "/api/v1/inbox", tag = "applications", security(("bearer" = [])),
    responses((status = 200, body = Inbox, example = super::examples::inbox),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in")))]
pub async fn inbox(State(state): State<AppState>, AuthUser(user): AuthUser) -> ApiResult<Json<Inbox>> {
    let items = crate::service::reminders::inbox(&state, &user.id)
        .await
        .map_err(ApiError::from)?;
    let reminders = state.store.reminders_on(&user.id).await.map_err(ApiError::internal)?;
    Ok(Json(Inbox { items, reminders }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InboxSettings {
    /// false: no new reminders are written for the caller.
    pub reminders: bool,
}

/// Switches the caller's reminders on or off.
#[utoipa::path(post, path = "/api/v1/inbox/settings", tag = "applications", security(("bearer" = [])),
    request_body(content = InboxSettings, example = super::examples::inbox_settings),
    responses((status = 200, body = Inbox, example = super::examples::inbox),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in")))]
pub async fn settings(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppJson(request): AppJson<InboxSettings>,
) -> ApiResult<Json<Inbox>> {
    state
        .store
        .set_reminders(&user.id, request.reminders, state.clock.now())
        .await
        .map_err(ApiError::internal)?;
    inbox(State(state), AuthUser(user)).await
}

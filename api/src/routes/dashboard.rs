//! `GET /api/v1/admin/dashboard`: the operator's dashboard as an HTML fragment (drawn by
//! `crate::admin`), for the `/admin` page and for print.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/admin/dashboard", get(dashboard))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// The last this many weeks, this one included (default 8, 1 to 52).
    pub weeks: Option<u32>,
}

/// The dashboard (KPIs and their weekly trend, tickets by category and department, overdue
/// tickets, ratings by service, knowledge gaps): the whole city for an administrator, their
/// own department for department staff.
#[utoipa::path(get, path = "/api/v1/admin/dashboard", tag = "staff", security(("bearer" = [])), params(DashboardQuery),
    responses((status = 200, content_type = "text/html", body = String, description = "the dashboard as an HTML fragment with SVG charts",
            example = super::examples::dashboard_html),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in"),
        (status = 403, body = crate::error::ErrorBody, description = "not an admin or department staff")))]
pub async fn dashboard(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(query): Query<DashboardQuery>,
) -> ApiResult<Response> {
    let board = crate::service::dashboard::build(&state, &user, query.weeks.unwrap_or(8)).await?;
    let mut response = crate::admin::render(&board).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    Ok(response)
}

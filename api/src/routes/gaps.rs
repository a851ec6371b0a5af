//! `GET /api/v1/stats/gaps`: what citizens asked that no guide answered, for the people who
//! write the guides (admins and department staff).

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{AuthUser, Role};
use crate::error::{ApiError, ApiResult, Code};
use crate::state::AppState;
use crate::wire::GapReport;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/stats/gaps", get(gaps))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GapQuery {
    /// The last this many days (default 7, at most 366).
    pub days: Option<u32>,
    /// The largest this many topics (default 20, at most 200).
    pub top: Option<usize>,
}

/// The knowledge gaps of the last days, grouped by meaning, largest first.
#[utoipa::path(get, path = "/api/v1/stats/gaps", tag = "staff", security(("bearer" = [])), params(GapQuery),
    responses((status = 200, body = GapReport, example = super::examples::gap_report),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in"),
        (status = 403, body = crate::error::ErrorBody, description = "not an admin or department staff")))]
pub async fn gaps(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(query): Query<GapQuery>,
) -> ApiResult<Json<GapReport>> {
    if !user.has(Role::Admin) && !user.has(Role::DeptStaff) {
        return Err(ApiError::new(
            Code::Forbidden,
            "只有管理员和部门工作人员可以查看知识缺口。",
        ));
    }
    let days = i64::from(query.days.unwrap_or(7).clamp(1, 366));
    let since = state.clock.now() - days * 86_400_000;
    let report = crate::service::gaps::report(
        &state.store,
        state.engine.load_full(),
        since,
        query.top.unwrap_or(20).clamp(1, 200),
    )
    .await?;
    Ok(Json(report))
}

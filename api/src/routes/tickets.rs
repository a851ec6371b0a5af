//! 12345 tickets and 好差评 ratings: the citizen's own tickets with their timelines, the
//! department staff's queue and actions, ratings with rectification, statistics and KPIs.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, AppJson, Code};
use crate::service;
use crate::state::AppState;
use knowledge::time::show;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tickets", get(list))
        .route("/api/v1/tickets/{number}", get(one))
        .route("/api/v1/tickets/{number}/confirm", post(confirm))
        .route("/api/v1/staff/tickets", get(queue))
        .route("/api/v1/staff/tickets/{number}/action", post(action))
        .route("/api/v1/ratings", post(rate))
        .route("/api/v1/staff/rectifications/{rating_id}", post(rectify))
        .route("/api/v1/stats/ratings", get(rating_stats))
        .route("/api/v1/stats/hotline", get(hotline_kpis))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketBody {
    pub number: String,
    /// 投诉, 举报, 求助, 建议, 咨询
    pub kind: String,
    pub category: String,
    pub department: String,
    pub state: String,
    pub state_label: String,
    pub summary: String,
    pub location: String,
    pub urgent: bool,
    /// Accept by (China time).
    pub response_due: String,
    /// Reply by (China time).
    pub deadline: String,
    pub supervised: bool,
    pub reply: Option<String>,
    pub co_handlers: Vec<CoopBody>,
    pub timeline: Vec<TimelineBody>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CoopBody {
    pub department: String,
    pub state: String,
    pub due: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimelineBody {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub from: String,
    pub to: String,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketList {
    pub tickets: Vec<TicketBody>,
}

pub async fn body(state: &AppState, ticket: backend::Ticket, with_timeline: bool) -> ApiResult<TicketBody> {
    let co_handlers = state
        .store
        .coops(&ticket.number)
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|c| CoopBody {
            department: c.department,
            state: c.state,
            due: show(c.due),
        })
        .collect();
    let timeline = if with_timeline {
        state
            .store
            .ticket_events(&ticket.number)
            .await
            .map_err(ApiError::internal)?
            .into_iter()
            .map(|e| TimelineBody {
                at: show(e.at),
                actor: e.actor,
                action: e.action,
                from: e.from_state,
                to: e.to_state,
                note: e.note,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(TicketBody {
        number: ticket.number,
        kind: ticket.kind,
        category: ticket.category,
        department: ticket.department,
        state: ticket.state.as_str().into(),
        state_label: ticket.state.label().into(),
        summary: ticket.summary,
        location: ticket.location,
        urgent: ticket.urgent,
        response_due: show(ticket.response_due),
        deadline: show(ticket.resolve_due),
        supervised: ticket.supervised,
        reply: ticket.reply,
        co_handlers,
        timeline,
    })
}

/// The caller's own tickets.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", security(("bearer" = [])),
    responses((status = 200, body = TicketList, example = super::examples::ticket_list),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in")))]
pub async fn list(State(state): State<AppState>, AuthUser(user): AuthUser) -> ApiResult<Json<TicketList>> {
    let mut tickets = Vec::new();
    for ticket in state.store.tickets_of(&user.id).await.map_err(ApiError::internal)? {
        tickets.push(body(&state, ticket, false).await?);
    }
    Ok(Json(TicketList { tickets }))
}

/// One ticket with its timeline; someone else's answers 404.
#[utoipa::path(get, path = "/api/v1/tickets/{number}", tag = "tickets", security(("bearer" = [])),
    params(("number" = String, Path, description = "ticket number")),
    responses((status = 200, body = TicketBody, description = "with its timeline", example = super::examples::ticket_response),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in"),
        (status = 404, body = crate::error::ErrorBody, description = "no such ticket, or not visible to the caller")))]
pub async fn one(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(number): Path<String>,
) -> ApiResult<Json<TicketBody>> {
    let ticket = service::tickets::visible(&state, &user, &number).await?;
    Ok(Json(body(&state, ticket, true).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ConfirmRequest {
    /// true: the reply solved it (confirmed); false: reopen with a reason.
    pub solved: bool,
    pub reason: Option<String>,
}

/// The citizen confirms the reply or reopens the ticket.
#[utoipa::path(post, path = "/api/v1/tickets/{number}/confirm", tag = "tickets", security(("bearer" = [])),
    params(("number" = String, Path, description = "ticket number")),
    request_body(content = ConfirmRequest, example = super::examples::confirm_request),
    responses((status = 200, body = TicketBody, example = super::examples::ticket_response),
        (status = 400, body = crate::error::ErrorBody, description = "malformed body", example = super::examples::error_response),
        (status = 403, body = crate::error::ErrorBody, description = "not the citizen who filed it"),
        (status = 404, body = crate::error::ErrorBody, description = "no such ticket"),
        (status = 409, body = crate::error::ErrorBody, description = "nothing to confirm yet")))]
pub async fn confirm(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(number): Path<String>,
    AppJson(request): AppJson<ConfirmRequest>,
) -> ApiResult<Json<TicketBody>> {
    let updated = service::tickets::confirm(&state, &user, &number, request.solved, request.reason.as_deref()).await?;
    Ok(Json(body(&state, updated, true).await?))
}

/// The department's open tickets (lead or co-handler), nearest deadline first.
#[utoipa::path(get, path = "/api/v1/staff/tickets", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = TicketList, description = "nearest deadline first", example = super::examples::ticket_list),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in"),
        (status = 403, body = crate::error::ErrorBody, description = "not department staff")))]
pub async fn queue(State(state): State<AppState>, AuthUser(user): AuthUser) -> ApiResult<Json<TicketList>> {
    let mut tickets = Vec::new();
    for ticket in service::tickets::queue(&state, &user).await? {
        tickets.push(body(&state, ticket, false).await?);
    }
    Ok(Json(TicketList { tickets }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ActionRequest {
    /// accept, return, start, ask_info, resume, reply, summon, extend, close, coop_accept, coop_reply
    pub action: String,
    /// The reason (return, extend, ask_info), the reply text (reply), or a note.
    pub text: Option<String>,
    /// For return: the department it should go to instead (else the hotline re-dispatches).
    pub department: Option<String>,
    /// For summon: the co-handling department; for extend: extra working days.
    pub days: Option<u32>,
}

/// A staff action on a ticket.
#[utoipa::path(post, path = "/api/v1/staff/tickets/{number}/action", tag = "staff", security(("bearer" = [])),
    params(("number" = String, Path, description = "ticket number")),
    request_body(content = ActionRequest, example = super::examples::action_request),
    responses((status = 200, body = TicketBody, description = "the ticket after the action", example = super::examples::ticket_response),
        (status = 400, body = crate::error::ErrorBody, description = "malformed body, unknown action or department", example = super::examples::error_response),
        (status = 403, body = crate::error::ErrorBody, description = "not the lead (or a summoned) department"),
        (status = 404, body = crate::error::ErrorBody, description = "no such ticket"),
        (status = 409, body = crate::error::ErrorBody, description = "not allowed in the ticket's state"),
        (status = 422, body = crate::error::ErrorBody, description = "the action needs its text (reason, reply, question)")))]
pub async fn action(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(number): Path<String>,
    AppJson(request): AppJson<ActionRequest>,
) -> ApiResult<Json<TicketBody>> {
    let action = service::tickets::Action {
        action: &request.action,
        text: request.text.as_deref(),
        department: request.department.as_deref(),
        days: request.days,
    };
    let updated = service::tickets::act(&state, &user, &number, &action).await?;
    Ok(Json(body(&state, updated, true).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RatingRequestBody {
    /// application, ticket or conversation
    pub target_kind: String,
    pub target_id: String,
    /// 1 (非常不满意) … 5 (非常满意), or the words.
    pub level: serde_json::Value,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub comment: String,
    /// web, mini_program, hotline, hall
    pub channel: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RatingBody {
    pub id: String,
    pub level: i64,
    pub level_label: String,
    pub changed: bool,
    /// Open for a bad rating: the department's rectification, due by this date.
    pub rectification_due: Option<String>,
}

/// 好差评: rate an application, a ticket or a conversation (once; changeable for a while).
#[utoipa::path(post, path = "/api/v1/ratings", tag = "ratings", security(("bearer" = [])),
    request_body(content = RatingRequestBody, example = super::examples::rating_request),
    responses((status = 200, body = RatingBody, description = "stored; a bad rating opens a rectification", example = super::examples::rating_response),
        (status = 400, body = crate::error::ErrorBody, description = "malformed body, level or target kind", example = super::examples::error_response),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in"),
        (status = 404, body = crate::error::ErrorBody, description = "no such application or ticket of the caller's"),
        (status = 409, body = crate::error::ErrorBody, description = "the window for changing the rating has passed"),
        (status = 422, body = crate::error::ErrorBody, description = "a bad rating without a reason")))]
pub async fn rate(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppJson(request): AppJson<RatingRequestBody>,
) -> ApiResult<Json<RatingBody>> {
    let level = match &request.level {
        serde_json::Value::Number(n) => n.as_i64().filter(|l| (1..=5).contains(l)),
        serde_json::Value::String(s) => bot::tickets::level_of(s),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::new(
            Code::BadRequest,
            "level：评价等级应为 1-5 或“非常满意、满意、基本满意、不满意、非常不满意”。",
        )
    })?;
    let rating = bot::RatingRequest {
        level,
        comment: request.comment.trim().to_string(),
        tags: request.tags.clone(),
    };
    let channel = request.channel.clone().unwrap_or_else(|| "web".into());
    let saved = service::ratings::rate(
        &state,
        &user,
        (&request.target_kind, &request.target_id),
        &rating,
        &channel,
    )
    .await?;
    Ok(Json(RatingBody {
        id: saved.rating.id,
        level: saved.rating.level,
        level_label: service::ratings::level_label(saved.rating.level).into(),
        changed: saved.changed,
        rectification_due: saved.rectification_due.map(show),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RectifyRequest {
    /// verified, rectified, visited, appealed (staff of the department); appeal_upheld or
    /// appeal_rejected (admin).
    pub step: String,
    pub text: String,
}

/// A step of a bad rating's rectification.
#[utoipa::path(post, path = "/api/v1/staff/rectifications/{rating_id}", tag = "staff", security(("bearer" = [])),
    params(("rating_id" = String, Path, description = "the bad rating's id")),
    request_body(content = RectifyRequest, example = super::examples::rectify_request),
    responses((status = 200, body = crate::wire::RectificationBody, example = super::examples::rectify_response),
        (status = 400, body = crate::error::ErrorBody, description = "malformed body", example = super::examples::error_response),
        (status = 403, body = crate::error::ErrorBody, description = "not the department's staff (appeals: admin)"),
        (status = 404, body = crate::error::ErrorBody, description = "no such rectification"),
        (status = 409, body = crate::error::ErrorBody, description = "not allowed in the rectification's state"),
        (status = 422, body = crate::error::ErrorBody, description = "empty text")))]
pub async fn rectify(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(rating_id): Path<String>,
    AppJson(request): AppJson<RectifyRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    let updated = service::ratings::rectify(&state, &user, &rating_id, &request.step, &request.text).await?;
    Ok(Json(serde_json::json!({
        "rating_id": updated.rating_id, "state": updated.state, "due": show(updated.due),
        "on_time": updated.done_at.map(|d| d <= updated.due),
    })))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct StatsQuery {
    /// department (default), service, channel or month
    pub by: Option<String>,
}

/// Satisfaction statistics: ratings, satisfaction rate, bad ratings, rectified on time.
#[utoipa::path(get, path = "/api/v1/stats/ratings", tag = "stats", security(("bearer" = [])), params(StatsQuery),
    responses((status = 200, body = crate::wire::RatingStatsBody, example = super::examples::rating_stats_response),
        (status = 400, body = crate::error::ErrorBody, description = "unknown grouping", example = super::examples::error_response),
        (status = 403, body = crate::error::ErrorBody, description = "not staff, agent or admin")))]
pub async fn rating_stats(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(query): Query<StatsQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let by = query.by.unwrap_or_else(|| "department".into());
    let stats = service::ratings::stats(&state, &user, &by).await?;
    let rows: BTreeMap<String, serde_json::Value> = stats
        .into_iter()
        .map(|(key, s)| {
            (
                key,
                serde_json::json!({
                    "ratings": s.n_ratings, "satisfaction_rate": s.satisfaction_rate(), "bad": s.n_bad,
                    "rectified": s.n_rectified, "rectified_on_time": s.n_rectified_on_time,
                }),
            )
        })
        .collect();
    Ok(Json(serde_json::json!({ "by": by, "groups": rows })))
}

/// Hotline KPIs: response, resolution, satisfaction and on-time rates.
#[utoipa::path(get, path = "/api/v1/stats/hotline", tag = "stats", security(("bearer" = [])),
    responses((status = 200, body = crate::wire::HotlineKpis, example = super::examples::hotline_response),
        (status = 403, body = crate::error::ErrorBody, description = "not staff, agent or admin")))]
pub async fn hotline_kpis(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<serde_json::Value>> {
    let kpis = service::ratings::hotline(&state, &user).await?;
    let c = &kpis.counts;
    let rates = service::dashboard::Kpis {
        n_tickets: c.n_tickets,
        n_accepted_on_time: c.n_accepted_on_time,
        n_replied: c.n_replied,
        n_replied_on_time: c.n_replied_on_time,
        n_rated: kpis.n_rated as i64,
        n_satisfied: kpis.n_satisfied as i64,
    };
    // Nothing to count is 0 here (the dashboard shows a dash).
    Ok(Json(serde_json::json!({
        "tickets": c.n_tickets,
        "response_rate": rates.response_rate().unwrap_or(0.0),
        "resolution_rate": rates.resolution_rate().unwrap_or(0.0),
        "on_time_rate": rates.on_time_rate().unwrap_or(0.0),
        "satisfaction_rate": rates.satisfaction_rate().unwrap_or(0.0),
        "supervised": c.n_supervised,
    })))
}

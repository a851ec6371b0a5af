//! 12345 tickets and 好差评 ratings: the citizen's own tickets with their timelines, the
//! department staff's queue and actions, ratings with rectification, statistics and KPIs.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{AuthUser, Role, User};
use crate::clock::{local, millis, show};
use crate::error::{ApiError, ApiResult, AppJson, Code};
use crate::state::AppState;

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

/// Routes and files a ticket from the conversation (the lead department, deadlines).
pub async fn create(
    state: &AppState,
    citizen: Option<&User>,
    request: &bot::TicketRequest,
) -> ApiResult<backend::Ticket> {
    let now = state.clock.now();
    let engine = state.engine.load_full();
    // The classifier may run the encoder: off the async executor.
    let routed = {
        let engine = engine.clone();
        let text = format!("{} {}", request.what, request.location);
        tokio::task::spawn_blocking(move || engine.route(&text))
            .await
            .map_err(ApiError::internal)?
    };
    let new = {
        let rules = &engine.corpus.tickets;
        let district = rules.district_in(&request.location).map(str::to_string);
        let (category, department) = match routed {
            Some((category, _, _)) => {
                let department = rules
                    .department_in(&category, district.as_deref())
                    .unwrap_or("hotline-12345")
                    .to_string();
                (category, department)
            }
            None => ("其他".to_string(), "hotline-12345".to_string()),
        };
        let sla = rules.sla(&request.kind, request.urgent);
        let start = local(now);
        let response_due = millis(rules.add_working_hours(&engine.corpus.calendar, start, sla.response_hours));
        let resolve_due = millis(rules.add_working_days(&engine.corpus.calendar, start, sla.resolve_days));
        backend::NewTicket {
            kind: request.kind.clone(),
            category,
            department,
            district,
            citizen_id: citizen.filter(|_| !request.anonymous).map(|u| u.id.clone()),
            contact: request.contact.clone(),
            summary: request.what.clone(),
            location: request.location.clone(),
            happened: request.when.clone(),
            urgent: request.urgent,
            response_due,
            resolve_due,
        }
    };
    let ticket = state.store.create_ticket(&new, now).await.map_err(ApiError::internal)?;
    tracing::info!(number = %ticket.number, category = %ticket.category, department = %ticket.department, "ticket created");
    Ok(ticket)
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

fn may_see(user: &User, ticket: &backend::Ticket, coops: &[backend::Coop]) -> bool {
    ticket.citizen_id.as_deref() == Some(user.id.as_str())
        || user.has(Role::Admin)
        || user.has(Role::Agent)
        || (user.has(Role::DeptStaff)
            && user
                .department
                .as_ref()
                .is_some_and(|d| d == &ticket.department || coops.iter().any(|c| &c.department == d)))
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
    let ticket = load_visible(&state, &user, &number).await?;
    Ok(Json(body(&state, ticket, true).await?))
}

async fn load_visible(state: &AppState, user: &User, number: &str) -> ApiResult<backend::Ticket> {
    let not_found = || ApiError::new(Code::NotFound, format!("没有找到编号为“{number}”的工单。"));
    let ticket = state
        .store
        .ticket(number)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    let coops = state.store.coops(number).await.map_err(ApiError::internal)?;
    if !may_see(user, &ticket, &coops) {
        return Err(not_found());
    }
    Ok(ticket)
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
    let ticket = load_visible(&state, &user, &number).await?;
    if ticket.citizen_id.as_deref() != Some(user.id.as_str()) {
        return Err(ApiError::new(Code::Forbidden, "只有提出诉求的市民可以确认或重新提出。"));
    }
    let now = state.clock.now();
    let (to, action) = if request.solved {
        (backend::TicketState::Confirmed, "confirm")
    } else {
        (backend::TicketState::Reopened, "reopen")
    };
    let updated = state
        .store
        .ticket_step(
            &number,
            &user.id,
            action,
            to,
            request.reason.as_deref(),
            backend::StepChanges::default(),
            None,
            now,
        )
        .await
        .map_err(step_error)?;
    Ok(Json(body(&state, updated, true).await?))
}

/// The department's open tickets (lead or co-handler), nearest deadline first.
#[utoipa::path(get, path = "/api/v1/staff/tickets", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = TicketList, description = "nearest deadline first", example = super::examples::ticket_list),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in"),
        (status = 403, body = crate::error::ErrorBody, description = "not department staff")))]
pub async fn queue(State(state): State<AppState>, AuthUser(user): AuthUser) -> ApiResult<Json<TicketList>> {
    let department = staff_department(&user)?;
    let mut tickets = Vec::new();
    for ticket in state
        .store
        .ticket_queue(&department)
        .await
        .map_err(ApiError::internal)?
    {
        tickets.push(body(&state, ticket, false).await?);
    }
    Ok(Json(TicketList { tickets }))
}

fn staff_department(user: &User) -> ApiResult<String> {
    match (&user.department, user.has(Role::DeptStaff)) {
        (Some(department), true) => Ok(department.clone()),
        _ => Err(ApiError::new(Code::Forbidden, "只有部门工作人员可以办理工单。")),
    }
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
    let department = staff_department(&user)?;
    let ticket = load_visible(&state, &user, &number).await?;
    let now = state.clock.now();
    let text = request.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let need_text = |what: &str| ApiError::new(Code::EmptyMessage, format!("请填写{what}。"));
    let is_lead = ticket.department == department;
    if !is_lead && !request.action.starts_with("coop_") {
        return Err(ApiError::new(
            Code::Forbidden,
            "只有牵头部门可以办理此操作；协办部门请使用 coop_accept 或 coop_reply。",
        ));
    }
    use backend::{StepChanges, TicketState::*};
    let step = |to, action: &'static str, note: Option<&str>, changes: StepChanges, message: Option<String>| {
        let state = state.clone();
        let number = number.clone();
        let actor = user.id.clone();
        let note = note.map(str::to_string);
        async move {
            state
                .store
                .ticket_step(
                    &number,
                    &actor,
                    action,
                    to,
                    note.as_deref(),
                    changes,
                    message.as_deref(),
                    now,
                )
                .await
                .map_err(step_error)
        }
    };
    let updated =
        match request.action.as_str() {
            "accept" => {
                step(
                    Accepted,
                    "accept",
                    text,
                    StepChanges::default(),
                    Some(format!("您的诉求 {number} 已由承办部门签收。")),
                )
                .await?
            }
            "start" => step(InProgress, "start", text, StepChanges::default(), None).await?,
            "ask_info" => {
                let question = text.ok_or_else(|| need_text("需要市民补充的内容"))?;
                step(
                    WaitingCitizen,
                    "ask_info",
                    Some(question),
                    StepChanges::default(),
                    Some(format!("承办部门请您补充：{question}")),
                )
                .await?
            }
            "resume" => step(InProgress, "resume", text, StepChanges::default(), None).await?,
            "reply" => {
                let reply = text.ok_or_else(|| need_text("答复内容"))?;
                let changes = StepChanges {
                    reply: Some(reply.to_string()),
                    ..StepChanges::default()
                };
                step(
                    Replied,
                    "reply",
                    None,
                    changes,
                    Some(format!(
                        "您的诉求 {number} 已答复：{reply}。请确认是否解决，并评价办理结果。"
                    )),
                )
                .await?
            }
            "return" => {
                let reason = text.ok_or_else(|| need_text("退单原因"))?;
                let returned = step(Returned, "return", Some(reason), StepChanges::default(), None).await?;
                // Re-dispatch at once: to the department named, else by the router again excluding this one.
                let target = match &request.department {
                    Some(target) => target.clone(),
                    None => "hotline-12345".to_string(),
                };
                let rules_due = {
                    let engine = state.engine.load();
                    let sla = engine.corpus.tickets.sla(&returned.kind, returned.urgent);
                    millis(engine.corpus.tickets.add_working_hours(
                        &engine.corpus.calendar,
                        local(now),
                        sla.response_hours,
                    ))
                };
                let changes = StepChanges {
                    department: Some(target.clone()),
                    response_due: Some(rules_due),
                    ..StepChanges::default()
                };
                state
                    .store
                    .ticket_step(
                        &number,
                        "hotline-12345",
                        "redispatch",
                        Dispatched,
                        Some(&target),
                        changes,
                        None,
                        now,
                    )
                    .await
                    .map_err(step_error)?
            }
            "summon" => {
                let co = request
                    .department
                    .clone()
                    .ok_or_else(|| need_text("协办部门（department）"))?;
                if state.engine.load().corpus.department(&co).is_none() || co == department {
                    return Err(ApiError::new(
                        Code::BadRequest,
                        format!("“{co}”不是可以召集的协办部门。"),
                    ));
                }
                let days = request.days.unwrap_or(3);
                let due = {
                    let engine = state.engine.load();
                    millis(
                        engine
                            .corpus
                            .tickets
                            .add_working_days(&engine.corpus.calendar, local(now), days),
                    )
                };
                state
                    .store
                    .summon(&number, &user.id, &co, due, now)
                    .await
                    .map_err(step_error)?;
                state
                    .store
                    .ticket(&number)
                    .await
                    .map_err(ApiError::internal)?
                    .ok_or_else(|| ApiError::internal("ticket vanished"))?
            }
            "extend" => {
                let reason = text.ok_or_else(|| need_text("延期原因"))?;
                let days = request.days.unwrap_or(3).clamp(1, 30);
                let new_due = {
                    let engine = state.engine.load();
                    millis(engine.corpus.tickets.add_working_days(
                        &engine.corpus.calendar,
                        local(ticket.resolve_due),
                        days,
                    ))
                };
                state
                    .store
                    .extend_ticket(&number, &user.id, new_due, reason, now)
                    .await
                    .map_err(|err| match err {
                        backend::Error::InvalidTransition { .. } => {
                            ApiError::new(Code::InvalidTransition, "已超过办理时限，不能再申请延期；请尽快办结。")
                        }
                        other => ApiError::internal(other),
                    })?
            }
            "close" => step(Closed, "close", text, StepChanges::default(), None).await?,
            "coop_accept" | "coop_reply" => {
                let to = if request.action == "coop_accept" {
                    "accepted"
                } else {
                    "replied"
                };
                state
                    .store
                    .coop_step(&number, &department, to, text, now)
                    .await
                    .map_err(|err| match err {
                        backend::Error::NotFound(_) => ApiError::new(Code::Forbidden, "贵部门未被召集协办此工单。"),
                        other => ApiError::internal(other),
                    })?;
                state
                    .store
                    .ticket(&number)
                    .await
                    .map_err(ApiError::internal)?
                    .ok_or_else(|| ApiError::internal("ticket vanished"))?
            }
            other => return Err(ApiError::new(Code::BadRequest, format!("未知的操作“{other}”。"))),
        };
    Ok(Json(body(&state, updated, true).await?))
}

fn step_error(err: backend::Error) -> ApiError {
    match err {
        backend::Error::InvalidTransition { from, to } => ApiError::new(
            Code::InvalidTransition,
            format!("工单当前状态为“{from}”，不能执行“{to}”。"),
        ),
        backend::Error::Conflict(_) => ApiError::new(Code::InvalidTransition, "工单刚刚被他人更新，请刷新后重试。"),
        other => ApiError::internal(other),
    }
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
            "评价等级应为 1-5 或“非常满意、满意、基本满意、不满意、非常不满意”。",
        )
    })?;
    let rating = bot::RatingRequest {
        level,
        comment: request.comment.trim().to_string(),
        tags: request.tags.clone(),
    };
    let channel = request.channel.clone().unwrap_or_else(|| "web".into());
    let saved = record_rating(
        &state,
        &user,
        (&request.target_kind, &request.target_id),
        &rating,
        &channel,
    )
    .await?;
    Ok(Json(saved))
}

/// Checks the target is the citizen's own, requires a reason for a bad rating, stores it.
pub async fn record_rating(
    state: &AppState,
    user: &User,
    target: (&str, &str),
    rating: &bot::RatingRequest,
    channel: &str,
) -> ApiResult<RatingBody> {
    let (kind, id) = target;
    let not_found = || ApiError::new(Code::NotFound, "没有找到要评价的办件或工单。");
    let (department, service_id) = match kind {
        "application" => {
            let application = state
                .store
                .application(id)
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(not_found)?;
            if application.applicant_id != user.id {
                return Err(not_found());
            }
            let department = state
                .engine
                .load()
                .corpus
                .guide(&application.service_id)
                .map(|g| g.department.clone());
            (department.unwrap_or_default(), Some(application.service_id))
        }
        "ticket" => {
            let ticket = state
                .store
                .ticket(id)
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(not_found)?;
            if ticket.citizen_id.as_deref() != Some(user.id.as_str()) {
                return Err(not_found());
            }
            (ticket.department, None)
        }
        "conversation" => ("hotline-12345".to_string(), None),
        _ => {
            return Err(ApiError::new(
                Code::BadRequest,
                "评价对象应为 application、ticket 或 conversation。",
            ));
        }
    };
    if rating.level <= 2 && rating.comment.is_empty() && rating.tags.is_empty() {
        return Err(ApiError::new(
            Code::EmptyMessage,
            "差评需要说明原因（选择标签或填写意见），以便部门整改。",
        ));
    }
    let now = state.clock.now();
    let due = {
        let engine = state.engine.load();
        let today = local(now);
        millis(
            engine
                .corpus
                .tickets
                .add_working_days(&engine.corpus.calendar, today, state.rectification_days),
        )
    };
    let new = backend::NewRating {
        target_kind: kind.to_string(),
        target_id: if id.is_empty() {
            format!("conversation-{}", user.id)
        } else {
            id.to_string()
        },
        citizen_id: user.id.clone(),
        level: rating.level,
        tags: rating.tags.clone(),
        comment: rating.comment.clone(),
        channel: channel.to_string(),
        department,
        service_id,
    };
    let window = i64::from(state.rating_window_days) * 86_400_000;
    let (saved, created) = state
        .store
        .rate(&new, window, due, now)
        .await
        .map_err(|err| match err {
            backend::Error::InvalidTransition { .. } => ApiError::new(
                Code::InvalidTransition,
                format!("评价提交已超过 {} 天，不能再修改。", state.rating_window_days),
            ),
            other => ApiError::internal(other),
        })?;
    let rectification = state.store.rectification(&saved.id).await.map_err(ApiError::internal)?;
    Ok(RatingBody {
        id: saved.id,
        level: saved.level,
        level_label: bot::tickets::LEVELS[(saved.level.clamp(1, 5) - 1) as usize].into(),
        changed: !created,
        rectification_due: rectification.map(|r| show(r.due)),
    })
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
    let current = state
        .store
        .rectification(&rating_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::new(Code::NotFound, "没有这条整改任务。"))?;
    let deciding_appeal = request.step.starts_with("appeal_");
    let allowed = if deciding_appeal {
        user.has(Role::Admin)
    } else {
        user.department.as_deref() == Some(current.department.as_str())
    };
    if !allowed {
        return Err(ApiError::new(Code::Forbidden, "无权办理这条整改任务。"));
    }
    if request.text.trim().is_empty() {
        return Err(ApiError::new(
            Code::EmptyMessage,
            "请填写核实、整改、回访或申诉的情况。",
        ));
    }
    let updated = state
        .store
        .rectify(&rating_id, &request.step, request.text.trim(), state.clock.now())
        .await
        .map_err(|err| match err {
            backend::Error::InvalidTransition { from, .. } => ApiError::new(
                Code::InvalidTransition,
                format!("整改任务当前为“{from}”，不能执行“{}”。", request.step),
            ),
            other => ApiError::internal(other),
        })?;
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
    if !(user.has(Role::Admin) || user.has(Role::DeptStaff) || user.has(Role::Agent)) {
        return Err(ApiError::new(Code::Forbidden, "只有工作人员可以查看统计。"));
    }
    let by = query.by.unwrap_or_else(|| "department".into());
    if !["department", "service", "channel", "month"].contains(&by.as_str()) {
        return Err(ApiError::new(
            Code::BadRequest,
            "by 只能是 department、service、channel 或 month。",
        ));
    }
    let stats = state.store.rating_stats(&by).await.map_err(ApiError::internal)?;
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
    if !(user.has(Role::Admin) || user.has(Role::DeptStaff) || user.has(Role::Agent)) {
        return Err(ApiError::new(Code::Forbidden, "只有工作人员可以查看统计。"));
    }
    let tickets = state.store.all_tickets().await.map_err(ApiError::internal)?;
    let n = tickets.len();
    let responded_on_time = tickets
        .iter()
        .filter(|t| t.accepted_at.is_some_and(|a| a <= t.response_due))
        .count();
    let replied: Vec<&backend::Ticket> = tickets.iter().filter(|t| t.replied_at.is_some()).collect();
    let on_time = replied
        .iter()
        .filter(|t| t.replied_at.is_some_and(|r| r <= t.resolve_due))
        .count();
    let ticket_stats = state
        .store
        .rating_stats("department")
        .await
        .map_err(ApiError::internal)?;
    let (rated, satisfied) = ticket_stats
        .values()
        .fold((0, 0), |(r, s), x| (r + x.n_ratings, s + x.n_satisfied));
    let rate = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Ok(Json(serde_json::json!({
        "tickets": n,
        "response_rate": rate(responded_on_time, n),
        "resolution_rate": rate(replied.len(), n),
        "on_time_rate": rate(on_time, replied.len()),
        "satisfaction_rate": rate(satisfied, rated),
        "supervised": tickets.iter().filter(|t| t.supervised).count(),
    })))
}

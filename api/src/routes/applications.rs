//! Applications: a citizen's own (`/api/v1/applications`), the staff queue and workflow steps
//! (`/api/v1/staff/applications`), and the development login.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{AuthUser, Claims, Role, expiry_in};
use crate::error::{ApiError, ApiResult, AppJson, Code};
use crate::state::AppState;
use crate::wire::{ApplicationBody, ApplicationList, EventBody, TokenBody};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/applications", get(list))
        .route("/api/v1/applications/{number}", get(one))
        .route("/api/v1/staff/applications", get(queue))
        .route("/api/v1/staff/applications/{number}/transition", post(transition))
        .route("/api/v1/dev/login", post(dev_login))
        .route("/api/v1/access-log", get(access_log))
}

/// Builds the wire shape of an application, with its parts and audit log.
pub async fn body(
    state: &AppState,
    application: backend::Application,
    with_events: bool,
) -> ApiResult<ApplicationBody> {
    let engine = state.engine.load();
    let parts = state
        .store
        .application_parts(&application.number)
        .await
        .map_err(ApiError::internal)?;
    let events = if with_events {
        state
            .store
            .events(&application.number)
            .await
            .map_err(ApiError::internal)?
            .into_iter()
            .map(|e| EventBody {
                actor: e.actor,
                from: e.from_state,
                to: e.to_state,
                reason: e.reason,
                at: e.at,
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut parts_body = Vec::new();
    for part in parts {
        parts_body.push(Box::pin(body(state, part, false)).await?);
    }
    let title = engine
        .corpus
        .guide(&application.service_id)
        .map_or(application.service_id.clone(), |g| g.title.clone());
    Ok(ApplicationBody {
        number: application.number,
        service_id: application.service_id,
        title,
        state: application.state.as_str().into(),
        state_label: application.state.label().into(),
        next_step: application.state.next_step().into(),
        deadline: application.deadline,
        note: application.note,
        fields: serde_json::from_str(&application.fields).unwrap_or_default(),
        materials: serde_json::from_str(&application.materials).unwrap_or_default(),
        parts: parts_body,
        events,
        created_at: application.created_at,
    })
}

/// The caller's own applications, newest first.
#[utoipa::path(get, path = "/api/v1/applications", tag = "applications", security(("bearer" = [])),
    responses((status = 200, body = ApplicationList, description = "newest first", example = super::examples::application_list),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in")))]
pub async fn list(State(state): State<AppState>, AuthUser(user): AuthUser) -> ApiResult<Json<ApplicationList>> {
    let applications = state
        .store
        .applications_of(&user.id)
        .await
        .map_err(ApiError::internal)?;
    let mut out = Vec::new();
    for application in applications {
        out.push(body(&state, application, false).await?);
    }
    Ok(Json(ApplicationList { applications: out }))
}

/// One of the caller's applications with its parts and history. Another person's
/// application answers 404, exactly like one that does not exist.
#[utoipa::path(get, path = "/api/v1/applications/{number}", tag = "applications", security(("bearer" = [])),
    params(("number" = String, Path, description = "application number")),
    responses((status = 200, body = ApplicationBody, example = super::examples::application_response),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in"),
        (status = 404, body = crate::error::ErrorBody, description = "no such application, or another person's")))]
pub async fn one(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(number): Path<String>,
) -> ApiResult<Json<ApplicationBody>> {
    let not_found = || ApiError::new(Code::NotFound, format!("没有找到编号为“{number}”的办件。"));
    let application = state
        .store
        .application(&number)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    let staff_may_see = user.has(Role::Admin) || staff_department_matches(&state, &user, &application.service_id);
    if application.applicant_id != user.id && !staff_may_see {
        return Err(not_found());
    }
    crate::service::audit::read(&state, &user, "application", &number, Some(&application.applicant_id)).await?;
    Ok(Json(body(&state, application, true).await?))
}

fn staff_department_matches(state: &AppState, user: &crate::auth::User, service_id: &str) -> bool {
    let engine = state.engine.load();
    user.has(Role::DeptStaff)
        && engine
            .corpus
            .guide(service_id)
            .is_some_and(|g| Some(&g.department) == user.department.as_ref())
}

/// The department's applications, oldest deadline first.
#[utoipa::path(get, path = "/api/v1/staff/applications", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = ApplicationList, example = super::examples::application_list),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in"),
        (status = 403, body = crate::error::ErrorBody, description = "not department staff or admin")))]
pub async fn queue(State(state): State<AppState>, AuthUser(user): AuthUser) -> ApiResult<Json<ApplicationList>> {
    let service_ids: Vec<String> = {
        let engine = state.engine.load();
        if user.has(Role::Admin) {
            engine.corpus.guides.iter().map(|g| g.id.clone()).collect()
        } else if user.has(Role::DeptStaff) {
            engine
                .corpus
                .guides
                .iter()
                .filter(|g| Some(&g.department) == user.department.as_ref())
                .map(|g| g.id.clone())
                .collect()
        } else {
            return Err(ApiError::new(Code::Forbidden, "只有部门工作人员可以查看办件队列。"));
        }
    };
    let applications = state
        .store
        .applications_for_services(&service_ids)
        .await
        .map_err(ApiError::internal)?;
    let mut out = Vec::new();
    for application in applications {
        out.push(body(&state, application, false).await?);
    }
    Ok(Json(ApplicationList { applications: out }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TransitionRequest {
    /// accepted, refused, correction_requested, in_review, approved, denied, issued
    /// (submitted: the applicant's resubmission after 补正).
    pub to: String,
    /// Required for refused, denied and correction_requested (the full list of what is missing).
    pub reason: Option<String>,
}

/// Moves an application along the workflow (staff of its department, or the applicant
/// resubmitting after 补正).
#[utoipa::path(post, path = "/api/v1/staff/applications/{number}/transition", tag = "staff", security(("bearer" = [])),
    params(("number" = String, Path, description = "application number")),
    request_body(content = TransitionRequest, example = super::examples::transition_request),
    responses((status = 200, body = ApplicationBody, description = "the application after the step", example = super::examples::application_response),
        (status = 400, body = crate::error::ErrorBody, description = "malformed body or unknown state", example = super::examples::error_response),
        (status = 403, body = crate::error::ErrorBody, description = "not staff of the application's department"),
        (status = 404, body = crate::error::ErrorBody, description = "no such application"),
        (status = 409, body = crate::error::ErrorBody, description = "the workflow does not allow this step now"),
        (status = 422, body = crate::error::ErrorBody, description = "a refusal, denial or 补正 without its reason")))]
pub async fn transition(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(number): Path<String>,
    AppJson(request): AppJson<TransitionRequest>,
) -> ApiResult<Json<ApplicationBody>> {
    let not_found = || ApiError::new(Code::NotFound, format!("没有找到编号为“{number}”的办件。"));
    let to: backend::AppState = request
        .to
        .parse()
        .map_err(|_| ApiError::new(Code::BadRequest, format!("未知的办件状态“{}”。", request.to)))?;
    let application = state
        .store
        .application(&number)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    let is_staff = user.has(Role::Admin) || staff_department_matches(&state, &user, &application.service_id);
    let is_resubmission = to == backend::AppState::Submitted && application.applicant_id == user.id;
    if !is_staff && !is_resubmission {
        return Err(if application.applicant_id == user.id {
            ApiError::new(Code::Forbidden, "只有承办部门的工作人员可以办理此操作。")
        } else {
            not_found()
        });
    }
    let needs_reason = matches!(
        to,
        backend::AppState::Refused | backend::AppState::Denied | backend::AppState::CorrectionRequested
    );
    let reason = request.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if needs_reason && reason.is_none() {
        return Err(ApiError::new(
            Code::EmptyMessage,
            "不予受理、不予批准或要求补正时必须写明原因（补正需一次性列出全部缺少的材料）。",
        ));
    }
    // Accepting starts the promised time limit over, in working days.
    let deadline = if to == backend::AppState::Accepted {
        let engine = state.engine.load();
        engine.corpus.guide(&application.service_id).map(|g| {
            let today = knowledge::time::today(state.clock.now());
            engine
                .corpus
                .calendar
                .add_working_days(today, g.time_limit.promised_days)
                .to_string()
        })
    } else {
        None
    };
    let updated = state
        .store
        .transition(&number, &user.id, to, reason, deadline.as_deref(), state.clock.now())
        .await
        .map_err(|err| match err {
            backend::Error::InvalidTransition { from, to } => ApiError::new(
                Code::InvalidTransition,
                format!("办件当前状态为“{}”，不能直接变为“{}”。", label(from), label(to)),
            ),
            backend::Error::Conflict(_) => {
                ApiError::new(Code::InvalidTransition, "办件状态刚刚被他人更新，请刷新后重试。")
            }
            other => ApiError::internal(other),
        })?;
    tracing::info!(number = %updated.number, to = updated.state.as_str(), actor = %user.id, "application transition");
    if updated.state == backend::AppState::Issued {
        issue_combined_license(&state, &updated).await?;
    }
    Ok(Json(body(&state, updated, true).await?))
}

/// 一业一证: issuing a combined-licence application puts one combined licence into the
/// applicant's e-licence wallet.
async fn issue_combined_license(state: &AppState, application: &backend::Application) -> ApiResult<()> {
    let title = {
        let engine = state.engine.load();
        match engine.corpus.guide(&application.service_id) {
            Some(guide) if guide.kind == knowledge::GuideKind::CombinedLicense => guide.title.clone(),
            _ => return Ok(()),
        }
    };
    let fields =
        serde_json::json!({ "service_id": application.service_id, "title": title, "application": application.number });
    let license = backend::ELicense {
        holder_id: application.applicant_id.clone(),
        kind: "industry_comprehensive_license".into(),
        number: application.number.clone(),
        issued_on: knowledge::time::today(state.clock.now()).to_string(),
        expires_on: None,
        fields: fields.to_string(),
    };
    state.store.put_e_license(&license).await.map_err(ApiError::internal)
}

fn label(state: &str) -> &'static str {
    state.parse::<backend::AppState>().map_or("未知", |s| s.label())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// A demo user id: citizen-1, citizen-2, company-1, agent-1, admin, staff-<department id>.
    pub user: String,
}

/// Development identity provider: a token for a seeded demo user (only when enabled).
#[utoipa::path(post, path = "/api/v1/dev/login", tag = "identity",
    request_body(content = LoginRequest, example = super::examples::login_request),
    responses((status = 200, body = TokenBody, description = "an HS256 token for 12 hours", example = super::examples::token_response),
        (status = 400, body = crate::error::ErrorBody, description = "malformed body", example = super::examples::error_response),
        (status = 404, body = crate::error::ErrorBody, description = "the development provider is off (--dev-login on), or no such demo user")))]
pub async fn dev_login(
    State(state): State<AppState>,
    AppJson(request): AppJson<LoginRequest>,
) -> ApiResult<Json<TokenBody>> {
    if !state.auth.dev_login {
        return Err(ApiError::new(Code::NotFound, "没有这个接口地址，请检查请求路径。"));
    }
    let departments: Vec<String> = state
        .engine
        .load()
        .corpus
        .departments
        .iter()
        .map(|d| d.id.clone())
        .collect();
    let user = crate::demo::users(&departments)
        .into_iter()
        .find(|u| u.id == request.user)
        .ok_or_else(|| ApiError::new(Code::NotFound, format!("没有演示用户“{}”。", request.user)))?;
    let claims = Claims {
        sub: user.id,
        name: user.name,
        roles: user.roles,
        department: user.department,
        exp: expiry_in(12 * 3600),
        aud: state.auth.audience().map(str::to_string),
    };
    let token = state
        .auth
        .issue(&claims)
        .ok_or_else(|| ApiError::internal("dev login without an HS256 secret"))?;
    Ok(Json(TokenBody { token }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLog {
    /// Latest first (at most 200).
    pub reads: Vec<AccessRead>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessRead {
    /// Who read it (a staff member's, agent's or admin's id).
    pub actor: String,
    /// dept_staff, agent or admin.
    pub actor_role: String,
    /// application, ticket or conversation.
    pub object_kind: String,
    pub object_id: String,
    /// China time.
    pub at: String,
}

/// Who besides oneself read one's applications, tickets and conversations (staff, agents, admin).
#[utoipa::path(get, path = "/api/v1/access-log", tag = "applications", security(("bearer" = [])),
    responses((status = 200, body = AccessLog, description = "latest first", example = super::examples::access_log),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in")))]
pub async fn access_log(State(state): State<AppState>, AuthUser(user): AuthUser) -> ApiResult<Json<AccessLog>> {
    let reads = crate::service::audit::of_owner(&state, &user)
        .await?
        .into_iter()
        .map(|e| AccessRead {
            actor: e.actor,
            actor_role: e.actor_role,
            object_kind: e.object_kind,
            object_id: e.object_id,
            at: knowledge::time::show(e.at),
        })
        .collect();
    Ok(Json(AccessLog { reads }))
}

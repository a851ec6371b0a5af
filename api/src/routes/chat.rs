//! `POST /api/v1/chat`: one turn of a conversation, persisted before it is answered. The
//! dialogue is pure; this handler supplies who is talking (and their e-licences), carries out
//! what the turn asks for (submitting an application, listing applications), and keeps a
//! logged-in user's unfinished form as a draft across conversations.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};

use crate::auth::{MaybeUser, User};
use crate::error::{ApiError, ApiResult, AppJson, Code};
use crate::state::AppState;
use crate::wire::{ApplicationRef, ChatRequest, ChatResponse, CitationBody, FormBody, GuideRef, ReplyBody};

/// Longest message accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/chat", post(chat))
}

fn valid_session_id(id: &str) -> bool {
    (8..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The logged-in user's identity and e-licences, as the dialogue needs them.
async fn user_context(state: &AppState, user: &User) -> ApiResult<bot::UserContext> {
    let licenses = state.store.e_licenses(&user.id).await.map_err(ApiError::internal)?;
    let e_licenses = licenses
        .into_iter()
        .map(|license| bot::HeldLicense {
            kind: license.kind,
            number: license.number,
            fields: serde_json::from_str::<BTreeMap<String, String>>(&license.fields).unwrap_or_default(),
        })
        .collect();
    Ok(bot::UserContext {
        id: user.id.clone(),
        name: user.name.clone(),
        e_licenses,
    })
}

/// Send a message; get the assistant's reply with citations (and the form, when filling one).
#[utoipa::path(post, path = "/api/v1/chat", tag = "chat", security((), ("bearer" = [])),
    request_body(content = ChatRequest, example = super::examples::chat_request),
    responses(
        (status = 200, body = ChatResponse, description = "the reply, with citations", example = super::examples::chat_response),
        (status = 400, body = crate::error::ErrorBody, description = "malformed JSON (the message names the field) or session id", example = super::examples::error_response),
        (status = 401, body = crate::error::ErrorBody, description = "invalid token"),
        (status = 413, body = crate::error::ErrorBody, description = "body over 64 KiB"),
        (status = 415, body = crate::error::ErrorBody, description = "not application/json"),
        (status = 422, body = crate::error::ErrorBody, description = "empty or over-long message"),
        (status = 429, body = crate::error::ErrorBody, description = "rate limited"),
        (status = 503, body = crate::error::ErrorBody, description = "the session is being used elsewhere at the same moment"),
    ))]
pub async fn chat(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    AppJson(request): AppJson<ChatRequest>,
) -> ApiResult<Json<ChatResponse>> {
    let message = request.message.trim().to_string();
    if message.is_empty() {
        return Err(ApiError::new(
            Code::EmptyMessage,
            "消息不能为空，请输入您想咨询的问题。",
        ));
    }
    if message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::new(
            Code::MessageTooLong,
            format!("消息太长了，请控制在 {MAX_MESSAGE_CHARS} 字以内，说清要办的事即可。"),
        ));
    }
    let session_id = match request.session_id {
        Some(id) if valid_session_id(&id) => id,
        Some(_) => {
            return Err(ApiError::new(
                Code::InvalidSessionId,
                "会话编号格式不正确，请去掉 session_id 重新开始对话。",
            ));
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    let context_user = match &user {
        Some(user) => Some(user_context(&state, user).await?),
        None => None,
    };
    // Another replica may save the same session between our read and write: reread and
    // answer again, a bounded number of times.
    for _ in 0..3 {
        let stored = state.store.session(&session_id).await.map_err(ApiError::internal)?;
        if let (Some(session), Some(user)) = (&stored, &user)
            && session.user_id.as_deref().is_some_and(|owner| owner != user.id)
        {
            return Err(ApiError::new(
                Code::InvalidSessionId,
                "该会话属于其他用户，请重新开始对话。",
            ));
        }
        if let (Some(session), None) = (&stored, &user)
            && session.user_id.is_some()
        {
            return Err(ApiError::new(Code::Unauthorized, "该会话需要登录后继续，请先登录。"));
        }
        let (version, mut dialogue) = match &stored {
            Some(session) => (
                Some(session.version),
                serde_json::from_str::<bot::DialogueState>(&session.state).unwrap_or_default(),
            ),
            None => (None, bot::DialogueState::default()),
        };
        // A new conversation of a logged-in user offers to resume an unfinished form.
        if stored.is_none()
            && let Some(user) = &user
            && let Some((_, draft)) = state.store.latest_draft(&user.id).await.map_err(ApiError::internal)?
        {
            dialogue.paused_form = serde_json::from_str(&draft).ok();
        }
        let engine = state.engine.load_full();
        let text = message.clone();
        let blocking_user = context_user.clone();
        let (mut next, mut reply) = tokio::task::spawn_blocking(move || {
            let context = bot::Context {
                user: blocking_user.as_ref(),
            };
            bot::respond(&engine, &context, &dialogue, &text)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;

        let mut application = None;
        let mut ticket = None;
        match reply.effect.take() {
            Some(bot::Effect::Submit(submission)) => {
                if let Some(user) = &user {
                    let submitted = submit(&state, user, &submission, &mut reply).await?;
                    next.rateable = Some(("application".into(), submitted.number.clone()));
                    reply.quick_replies.push("评价本次服务".into());
                    application = Some(submitted);
                }
            }
            Some(bot::Effect::ListStatus) => {
                if let Some(user) = &user {
                    reply.text = list_text(&state, user).await?;
                    reply.quick_replies = vec!["转人工客服".into()];
                }
            }
            Some(bot::Effect::CreateTicket(request)) => {
                let created = super::tickets::create(&state, user.as_ref(), &request).await?;
                let title = {
                    let engine = state.engine.load();
                    engine
                        .corpus
                        .department(&created.department)
                        .map_or(created.department.clone(), |d| d.name.clone())
                };
                let follow_up = if created.citizen_id.is_some() {
                    "可随时问我“我的投诉处理得怎么样了”查看进度，办结后欢迎评价。"
                } else {
                    "匿名诉求无法查询进度和评价，请记下编号，可拨打 12345 查询。"
                };
                reply.text = format!(
                    "已登记您的{}诉求。\n工单编号：{}\n分类：{}\n承办部门：{}\n签收时限：{}\n办理时限：{} 前答复\n{follow_up}",
                    created.kind,
                    created.number,
                    created.category,
                    title,
                    crate::clock::show(created.response_due),
                    crate::clock::show(created.resolve_due),
                );
                reply.quick_replies = vec!["我的投诉处理得怎么样了".into()];
                if created.citizen_id.is_some() {
                    next.rateable = Some(("ticket".into(), created.number.clone()));
                }
                ticket = Some(crate::wire::TicketRef {
                    number: created.number.clone(),
                    kind: created.kind.clone(),
                    category: created.category.clone(),
                    department: created.department.clone(),
                    state: created.state.as_str().into(),
                    deadline: crate::clock::show(created.resolve_due),
                });
            }
            Some(bot::Effect::Rate { target, rating }) => {
                if let Some(user) = &user {
                    let target_id = if target.0 == "conversation" {
                        session_id.clone()
                    } else {
                        target.1.clone()
                    };
                    let saved =
                        super::tickets::record_rating(&state, user, (&target.0, &target_id), &rating, "chat").await?;
                    reply.text = match &saved.rectification_due {
                        Some(due) => format!(
                            "已记录您的评价：{}。我们已转交责任部门核实整改，整改期限至 {due}，整改后会回访您。",
                            saved.level_label
                        ),
                        None => format!("已记录您的评价：{}。感谢您的反馈！", saved.level_label),
                    };
                    if saved.changed {
                        reply.text.push_str("（已更新您之前的评价）");
                    }
                }
            }
            None => {}
        }
        if let Some(user) = &user {
            keep_draft(&state, user, &mut next, &reply).await?;
        }
        let response = ChatResponse {
            session_id: session_id.clone(),
            intent: reply.intent.as_str().to_string(),
            reply: ReplyBody {
                text: reply.text.clone(),
                citations: reply.citations.iter().map(CitationBody::from).collect(),
                quick_replies: reply.quick_replies.clone(),
            },
            guides: reply.guides.iter().map(GuideRef::from).collect(),
            form: reply.form.as_ref().map(FormBody::from),
            application,
            ticket,
        };
        let state_json = serde_json::to_string(&next).map_err(ApiError::internal)?;
        let payload = serde_json::to_string(&response.reply).map_err(ApiError::internal)?;
        let turn = backend::Turn {
            session_id: &session_id,
            user_id: user.as_ref().map(|u| u.id.as_str()),
            expected_version: version,
            state: &state_json,
            user_text: &message,
            bot_text: &reply.text,
            intent: reply.intent.as_str(),
            payload: &payload,
        };
        match state.store.save_turn(&turn).await {
            Ok(_) => {
                tracing::info!(session = %session_id, intent = reply.intent.as_str(), n_guides = reply.guides.len(), "chat turn");
                return Ok(Json(response));
            }
            Err(backend::Error::Conflict(_)) => continue,
            Err(err) => return Err(ApiError::internal(err)),
        }
    }
    Err(ApiError::new(
        Code::Unavailable,
        "该会话正在另一处同时使用，请稍后重试。",
    ))
}

/// Creates the application (idempotent by the form's key) and words the reply.
async fn submit(
    state: &AppState,
    user: &User,
    submission: &bot::Submission,
    reply: &mut bot::Reply,
) -> ApiResult<ApplicationRef> {
    let (deadline, parts) = {
        let engine = state.engine.load();
        let today = chrono::Local::now().date_naive();
        let deadline_of = |id: &str| {
            engine.corpus.guide(id).map(|g| {
                engine
                    .corpus
                    .calendar
                    .add_working_days(today, g.time_limit.promised_days)
            })
        };
        let parts: Vec<(String, Option<String>)> = submission
            .parts
            .iter()
            .map(|id| (id.clone(), deadline_of(id).map(|d| d.to_string())))
            .collect();
        let own = deadline_of(&submission.service_id);
        let latest_part = submission.parts.iter().filter_map(|id| deadline_of(id)).max();
        let deadline = own.into_iter().chain(latest_part).max().map(|d| d.to_string());
        (deadline, parts)
    };
    let new = backend::NewApplication {
        service_id: submission.service_id.clone(),
        applicant_id: user.id.clone(),
        fields: serde_json::to_string(&submission.fields).map_err(ApiError::internal)?,
        materials: serde_json::to_string(&submission.materials).map_err(ApiError::internal)?,
        deadline,
        idempotency_key: submission.idempotency_key.clone(),
        parts,
    };
    let (application, created) = state.store.submit_application(&new).await.map_err(ApiError::internal)?;
    state
        .store
        .delete_draft(&user.id, &submission.service_id)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(number = %application.number, service = %application.service_id, created, "application submitted");
    let title = state
        .engine
        .load()
        .corpus
        .guide(&application.service_id)
        .map_or(application.service_id.clone(), |g| g.title.clone());
    let n_parts = submission.parts.len();
    let parts_note = if n_parts > 0 {
        format!("，含 {n_parts} 个联办事项，每项单独显示进度")
    } else {
        String::new()
    };
    reply.text = format!(
        "已提交《{title}》的申请{parts_note}。\n办件编号：{}\n当前状态：{}\n承诺办结日期：{}（按工作日计算）\n可随时问我“我的申请到哪一步了”查看进度。",
        application.number,
        application.state.label(),
        application.deadline.as_deref().unwrap_or("以受理通知为准"),
    );
    reply.quick_replies = vec!["我的申请到哪一步了".into()];
    Ok(ApplicationRef {
        number: application.number,
        service_id: application.service_id,
        state: application.state.as_str().into(),
    })
}

/// “我的申请到哪一步了”: the user's applications with state, next step and deadline.
async fn list_text(state: &AppState, user: &User) -> ApiResult<String> {
    let applications = state
        .store
        .applications_of(&user.id)
        .await
        .map_err(ApiError::internal)?;
    let tickets = state.store.tickets_of(&user.id).await.map_err(ApiError::internal)?;
    if applications.is_empty() && tickets.is_empty() {
        return Ok("您还没有在线提交过申请或诉求。需要办理什么事项，直接告诉我即可。".into());
    }
    let engine = state.engine.load();
    let mut lines = Vec::new();
    if !tickets.is_empty() {
        lines.push(format!("您的 12345 诉求共 {} 件：", tickets.len()));
        for ticket in tickets.iter().take(10) {
            let department = engine
                .corpus
                .department(&ticket.department)
                .map_or(ticket.department.as_str(), |d| d.name.as_str());
            lines.push(format!(
                "· {}（{}）：{}；承办部门：{}；答复时限 {}{}",
                ticket.number,
                ticket.kind,
                ticket.state.label(),
                department,
                crate::clock::show(ticket.resolve_due),
                if ticket.supervised { "；已列入督办" } else { "" }
            ));
            if let Some(reply) = &ticket.reply {
                lines.push(format!("    答复：{reply}"));
            }
        }
    }
    if !applications.is_empty() {
        lines.push(format!("您共有 {} 件申请：", applications.len()));
    }
    for application in applications.iter().take(10) {
        let title = engine
            .corpus
            .guide(&application.service_id)
            .map_or(application.service_id.as_str(), |g| g.title.as_str());
        lines.push(format!(
            "· {}《{}》：{}；下一步：{}{}",
            application.number,
            title,
            application.state.label(),
            application.state.next_step(),
            application
                .deadline
                .as_ref()
                .map(|d| format!("；承诺办结日期 {d}"))
                .unwrap_or_default()
        ));
        for part in state
            .store
            .application_parts(&application.number)
            .await
            .map_err(ApiError::internal)?
        {
            let part_title = engine
                .corpus
                .guide(&part.service_id)
                .map_or(part.service_id.as_str(), |g| g.title.as_str());
            lines.push(format!("    - {}：{}", part_title, part.state.label()));
        }
        if let Some(note) = &application.note {
            lines.push(format!("    说明：{note}"));
        }
    }
    Ok(lines.join("\n"))
}

/// Keeps a logged-in user's unfinished form as a draft (and forgets it once it ends).
async fn keep_draft(state: &AppState, user: &User, next: &mut bot::DialogueState, reply: &bot::Reply) -> ApiResult<()> {
    match (&next.form, &reply.form) {
        (Some(form), _) => {
            let json = serde_json::to_string(form).map_err(ApiError::internal)?;
            state
                .store
                .save_draft(&user.id, &form.service_id, &json)
                .await
                .map_err(ApiError::internal)?;
        }
        (None, Some(view)) if view.state == "cancelled" || view.state == "submitted" => {
            state
                .store
                .delete_draft(&user.id, &view.service_id)
                .await
                .map_err(ApiError::internal)?;
        }
        _ => {}
    }
    Ok(())
}

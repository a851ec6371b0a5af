//! 12345 tickets and applications as workflows: routing and deadlines of a new ticket, the
//! staff actions (each one transaction on the locked ticket; a return and its re-dispatch
//! together), the citizen's confirmation, and the texts a citizen reads about them.

use knowledge::time::{local, millis, show};

use super::{Error, Result};
use crate::auth::{Role, User};
use crate::state::AppState;
use bot::Engine;

/// The hotline's own department: where a ticket goes that nobody else can take.
pub(crate) const HOTLINE: &str = "hotline-12345";

/// The application a submission creates, with its promised deadlines in working days.
pub fn new_application(
    engine: &Engine,
    user: &User,
    submission: &bot::Submission,
    session_id: &str,
    now: i64,
) -> Result<backend::NewApplication> {
    let today = knowledge::time::today(now);
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
    let mut fields = submission.fields.clone();
    if submission.on_behalf {
        // 代办: the record names both people: the principal in the form, the agent here.
        fields.insert("agent_user_id".into(), user.id.clone());
        fields.insert("agent_name".into(), user.name.clone());
    }
    Ok(backend::NewApplication {
        service_id: submission.service_id.clone(),
        applicant_id: user.id.clone(),
        fields: serde_json::to_string(&fields).map_err(Error::internal)?,
        materials: serde_json::to_string(&submission.materials).map_err(Error::internal)?,
        deadline,
        // The form's key repeats in another conversation (it counts that conversation's
        // turns): with the session it names one submission of one form.
        idempotency_key: format!("{session_id}:{}", submission.idempotency_key),
        parts,
        uploads: (!submission.uploads.is_empty()).then(|| (session_id.to_string(), submission.uploads.clone())),
    })
}

/// Routes a ticket (category by the classifier, lead department by the category and the
/// district) and sets its deadlines in working hours and days.
pub async fn new_ticket(
    engine: &std::sync::Arc<Engine>,
    citizen: Option<&User>,
    request: &bot::TicketRequest,
    idempotency_key: Option<String>,
    now: i64,
) -> Result<backend::NewTicket> {
    let text = format!("{} {}", request.what, request.location);
    let (category, department, district) = route(engine, &text, &request.location, None).await?;
    let rules = &engine.corpus.tickets;
    let sla = rules.sla(&request.kind, request.urgent);
    let start = local(now);
    Ok(backend::NewTicket {
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
        response_due: millis(rules.add_working_hours(&engine.corpus.calendar, start, sla.response_hours)),
        resolve_due: millis(rules.add_working_days(&engine.corpus.calendar, start, sla.resolve_days)),
        idempotency_key,
    })
}

/// Category, lead department and district of a ticket's text. `not` is a department that
/// returned the ticket: the next most likely category whose department differs is taken.
async fn route(
    engine: &std::sync::Arc<Engine>,
    text: &str,
    location: &str,
    not: Option<&str>,
) -> Result<(String, String, Option<String>)> {
    // The classifier may run the encoder: off the async executor.
    let ranked = {
        let engine = engine.clone();
        let text = text.to_string();
        tokio::task::spawn_blocking(move || engine.route_ranked(&text)).await?
    };
    let rules = &engine.corpus.tickets;
    let district = rules.district_in(location).map(str::to_string);
    let chosen = ranked.into_iter().find_map(|category| {
        let department = rules.department_in(&category, district.as_deref())?.to_string();
        (Some(department.as_str()) != not).then_some((category, department))
    });
    let (category, department) = chosen.unwrap_or_else(|| ("其他".to_string(), HOTLINE.to_string()));
    Ok((category, department, district))
}

/// “已登记您的诉求…”: what the citizen reads after filing.
pub fn filed_text(engine: &Engine, created: &backend::Ticket) -> String {
    let title = department_name(engine, &created.department);
    let follow_up = if created.citizen_id.is_some() {
        "可随时问我“我的投诉处理得怎么样了”查看进度，办结后欢迎评价。"
    } else {
        "匿名诉求无法查询进度和评价，请记下编号，可拨打 12345 查询。"
    };
    format!(
        "已登记您的{}诉求。\n工单编号：{}\n分类：{}\n承办部门：{}\n签收时限：{}\n办理时限：{} 前答复\n{follow_up}",
        created.kind,
        created.number,
        created.category,
        title,
        show(created.response_due),
        show(created.resolve_due),
    )
}

/// “已提交《…》的申请”: what the applicant reads after submitting.
pub fn submitted_text(engine: &Engine, application: &backend::Application, n_parts: usize) -> String {
    let title = engine
        .corpus
        .guide(&application.service_id)
        .map_or(application.service_id.clone(), |g| g.title.clone());
    let parts_note = if n_parts > 0 {
        format!("，含 {n_parts} 个联办事项，每项单独显示进度")
    } else {
        String::new()
    };
    format!(
        "已提交《{title}》的申请{parts_note}。\n办件编号：{}\n当前状态：{}\n承诺办结日期：{}（按工作日计算）\n可随时问我“我的办理进度”查看进度。",
        application.number,
        application.state.label(),
        application.deadline.as_deref().unwrap_or("以受理通知为准"),
    )
}

/// A department's name from the directory, or its id when the directory lacks it.
pub(crate) fn department_name(engine: &Engine, id: &str) -> String {
    engine.corpus.department(id).map_or(id.to_string(), |d| d.name.clone())
}

/// “我的办理进度”: the user's tickets and applications with state, next step and deadline.
pub async fn status_text(state: &AppState, engine: &Engine, user: &User) -> Result<String> {
    let applications = state.store.applications_of(&user.id).await?;
    let tickets = state.store.tickets_of(&user.id).await?;
    if applications.is_empty() && tickets.is_empty() {
        return Ok("您还没有在线提交过申请或诉求。需要办理什么事项，直接告诉我即可。".into());
    }
    let mut lines = Vec::new();
    if !tickets.is_empty() {
        lines.push(format!("您的 12345 诉求共 {} 件：", tickets.len()));
        for ticket in tickets.iter().take(10) {
            lines.push(format!(
                "· {}（{}）：{}；承办部门：{}；答复时限 {}{}",
                ticket.number,
                ticket.kind,
                ticket.state.label(),
                department_name(engine, &ticket.department),
                show(ticket.resolve_due),
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
    let mut to_correct = 0;
    for application in applications.iter().take(10) {
        let guide = engine.corpus.guide(&application.service_id);
        let title = guide.map_or(application.service_id.as_str(), |g| g.title.as_str());
        // Who holds it: the department that handles the service, until it is finished.
        let holder = match (application.state.is_final(), guide) {
            (false, Some(g)) => format!("；办理部门：{}", department_name(engine, &g.department)),
            _ => String::new(),
        };
        lines.push(format!(
            "· {}《{}》：{}{holder}；下一步：{}{}",
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
        if application.state == backend::AppState::CorrectionRequested {
            to_correct += 1;
            lines.push(format!(
                "    您现在需要做：补正{}。在这里说“补正”即可上传补正材料并重新提交，不用再跑一趟。",
                application
                    .note
                    .as_deref()
                    .map(|n| format!("（{n}）"))
                    .unwrap_or_default()
            ));
        }
        for part in state.store.application_parts(&application.number).await? {
            let part_title = engine
                .corpus
                .guide(&part.service_id)
                .map_or(part.service_id.as_str(), |g| g.title.as_str());
            lines.push(format!("    - {}：{}", part_title, part.state.label()));
        }
        if let Some(note) = application
            .note
            .as_ref()
            .filter(|_| application.state != backend::AppState::CorrectionRequested)
        {
            lines.push(format!("    说明：{note}"));
        }
    }
    if to_correct > 0 {
        lines.push("回复“补正”开始补正。".into());
    }
    Ok(lines.join("\n"))
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

/// A ticket the user may see; someone else's is “not found”, as if it did not exist.
pub async fn visible(state: &AppState, user: &User, number: &str) -> Result<backend::Ticket> {
    let not_found = || Error::NotFound(format!("没有找到编号为“{number}”的工单。"));
    let ticket = state.store.ticket(number).await?.ok_or_else(not_found)?;
    let coops = state.store.coops(number).await?;
    if !may_see(user, &ticket, &coops) {
        return Err(not_found());
    }
    super::audit::read(state, user, "ticket", number, ticket.citizen_id.as_deref()).await?;
    Ok(ticket)
}

/// The citizen confirms the reply (`solved`) or reopens the ticket with a reason.
pub async fn confirm(
    state: &AppState,
    user: &User,
    number: &str,
    solved: bool,
    reason: Option<&str>,
) -> Result<backend::Ticket> {
    let ticket = visible(state, user, number).await?;
    if ticket.citizen_id.as_deref() != Some(user.id.as_str()) {
        return Err(Error::Forbidden("只有提出诉求的市民可以确认或重新提出。".into()));
    }
    let (to, action) = if solved {
        (backend::TicketState::Confirmed, "confirm")
    } else {
        (backend::TicketState::Reopened, "reopen")
    };
    let mut tx = state.store.begin().await?;
    let updated = tx
        .ticket_step(
            number,
            &user.id,
            action,
            to,
            reason,
            backend::StepChanges::default(),
            None,
            state.clock.now(),
        )
        .await
        .map_err(step_error)?;
    tx.commit().await?;
    Ok(updated)
}

/// The ticket a citizen's “已经解决了” confirms: the one named if it is theirs and answered,
/// else their most recently answered one.
pub async fn confirmable(state: &AppState, user: &User, number: Option<&str>) -> Result<Option<String>> {
    let answered = |t: &backend::Ticket| t.state == backend::TicketState::Replied;
    if let Some(number) = number
        && let Some(ticket) = state.store.ticket(number).await?
        && ticket.citizen_id.as_deref() == Some(user.id.as_str())
        && answered(&ticket)
    {
        return Ok(Some(ticket.number));
    }
    let mine = state.store.tickets_of(&user.id).await?;
    Ok(mine
        .into_iter()
        .filter(answered)
        .max_by_key(|t| t.replied_at)
        .map(|t| t.number))
}

/// A staff action as the request names it.
pub struct Action<'a> {
    /// accept, return, start, ask_info, resume, reply, summon, extend, close, coop_accept, coop_reply
    pub action: &'a str,
    pub text: Option<&'a str>,
    pub department: Option<&'a str>,
    pub days: Option<u32>,
}

fn staff_department(user: &User) -> Result<String> {
    match (&user.department, user.has(Role::DeptStaff)) {
        (Some(department), true) => Ok(department.clone()),
        _ => Err(Error::Forbidden("只有部门工作人员可以办理工单。".into())),
    }
}

/// The staff's queue: their department's open tickets, as lead or co-handler.
pub async fn queue(state: &AppState, user: &User) -> Result<Vec<backend::Ticket>> {
    let department = staff_department(user)?;
    Ok(state.store.ticket_queue(&department).await?)
}

/// A staff action on a ticket, in one transaction on the locked ticket: concurrent actions
/// run one after the other, each on what the previous one left (two extensions extend twice,
/// a department summoned twice is summoned once).
pub async fn act(state: &AppState, user: &User, number: &str, action: &Action<'_>) -> Result<backend::Ticket> {
    let department = staff_department(user)?;
    let ticket = visible(state, user, number).await?;
    let is_lead = ticket.department == department;
    if !is_lead && !action.action.starts_with("coop_") {
        return Err(Error::Forbidden(
            "只有牵头部门可以办理此操作；协办部门请使用 coop_accept 或 coop_reply。".into(),
        ));
    }
    let text = action.text.map(str::trim).filter(|t| !t.is_empty());
    let need = |what: &str| Error::Missing(format!("请在 text 中填写{what}。"));
    let engine = state.engine.load_full();
    let now = state.clock.now();
    let actor = user.id.as_str();
    use backend::{StepChanges, TicketState::*};
    // Prepared outside the transaction: the re-route of a returned ticket runs the classifier.
    let reroute = if action.action == "return" {
        text.ok_or_else(|| need("退单原因"))?;
        let target = match action.department {
            Some(target) => {
                if engine.corpus.department(target).is_none() {
                    return Err(Error::Invalid(format!(
                        "department：“{target}”不在部门目录中，请填写部门编号，或留空由系统重新派单。"
                    )));
                }
                if target == department {
                    return Err(Error::Invalid("department：不能退回给本部门自己。".into()));
                }
                target.to_string()
            }
            None => {
                let text = format!("{} {}", ticket.summary, ticket.location);
                route(&engine, &text, &ticket.location, Some(&department)).await?.1
            }
        };
        Some(target)
    } else {
        None
    };
    {
        let mut tx = state.store.begin().await?;
        let step =
            async |tx: &mut backend::Tx, to, name: &str, note: Option<&str>, changes, message: Option<String>| {
                tx.ticket_step(number, actor, name, to, note, changes, message.as_deref(), now)
                    .await
                    .map_err(step_error)
            };
        let updated = match action.action {
            "accept" => {
                step(
                    &mut tx,
                    Accepted,
                    "accept",
                    text,
                    StepChanges::default(),
                    Some(format!("您的诉求 {number} 已由承办部门签收。")),
                )
                .await?
            }
            "start" => step(&mut tx, InProgress, "start", text, StepChanges::default(), None).await?,
            "ask_info" => {
                let question = text.ok_or_else(|| need("需要市民补充的内容"))?;
                step(
                    &mut tx,
                    WaitingCitizen,
                    "ask_info",
                    Some(question),
                    StepChanges::default(),
                    Some(format!("承办部门请您补充：{question}")),
                )
                .await?
            }
            "resume" => step(&mut tx, InProgress, "resume", text, StepChanges::default(), None).await?,
            "reply" => {
                let reply = text.ok_or_else(|| need("答复内容"))?;
                let changes = StepChanges {
                    reply: Some(reply.to_string()),
                    ..StepChanges::default()
                };
                step(
                    &mut tx,
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
                let reason = text.ok_or_else(|| need("退单原因"))?;
                let target = reroute.clone().unwrap_or_else(|| HOTLINE.to_string());
                let returned = step(&mut tx, Returned, "return", Some(reason), StepChanges::default(), None).await?;
                let sla = engine.corpus.tickets.sla(&returned.kind, returned.urgent);
                let changes = StepChanges {
                    department: Some(target.clone()),
                    response_due: Some(millis(engine.corpus.tickets.add_working_hours(
                        &engine.corpus.calendar,
                        local(now),
                        sla.response_hours,
                    ))),
                    ..StepChanges::default()
                };
                tx.ticket_step(
                    number,
                    HOTLINE,
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
                let co = action.department.ok_or_else(|| need("协办部门（department）"))?;
                if engine.corpus.department(co).is_none() || co == department {
                    return Err(Error::Invalid(format!(
                        "department：“{co}”不是可以召集的协办部门（须是部门目录中的其他部门）。"
                    )));
                }
                let days = action.days.unwrap_or(3).clamp(1, 30);
                let due = millis(
                    engine
                        .corpus
                        .tickets
                        .add_working_days(&engine.corpus.calendar, local(now), days),
                );
                tx.summon(number, actor, co, due, now).await.map_err(step_error)?;
                tx.lock_ticket(number).await?
            }
            "extend" => {
                let reason = text.ok_or_else(|| need("延期原因"))?;
                let days = action.days.unwrap_or(3).clamp(1, 30);
                let current = tx.lock_ticket(number).await?;
                let new_due = millis(engine.corpus.tickets.add_working_days(
                    &engine.corpus.calendar,
                    local(current.resolve_due),
                    days,
                ));
                tx.extend_ticket(number, actor, current.resolve_due, new_due, reason, now)
                    .await
                    .map_err(|err| match err {
                        backend::Error::InvalidTransition { .. } => {
                            Error::Conflict("已超过办理时限，不能再申请延期；请尽快办结。".into())
                        }
                        other => step_error(other),
                    })?
            }
            "close" => step(&mut tx, Closed, "close", text, StepChanges::default(), None).await?,
            "coop_accept" | "coop_reply" => {
                let to = if action.action == "coop_accept" {
                    "accepted"
                } else {
                    "replied"
                };
                tx.coop_step(number, &department, to, text, now)
                    .await
                    .map_err(|err| match err {
                        backend::Error::NotFound(_) => Error::Forbidden("贵部门未被召集协办此工单。".into()),
                        other => step_error(other),
                    })?;
                tx.lock_ticket(number).await?
            }
            other => {
                return Err(Error::Invalid(format!(
                    "action：未知的操作“{other}”，可用 accept、start、ask_info、resume、reply、return、summon、extend、close、coop_accept、coop_reply。"
                )));
            }
        };
        tx.commit().await?;
        Ok(updated)
    }
}

/// A state name a citizen or a clerk understands, for error messages.
fn ticket_label(code: &str) -> &'static str {
    code.parse::<backend::TicketState>().map_or("其他", |s| s.label())
}

fn step_label(code: &str) -> &'static str {
    match code {
        "accepted" => "签收",
        "returned" => "退单",
        "in_progress" => "开始办理",
        "waiting_citizen" => "请市民补充",
        "replied" => "答复",
        "reopened" => "重新办理",
        "confirmed" => "确认办结",
        "closed" => "办结",
        "dispatched" => "派单",
        "summoned" => "召集协办",
        _ => "此操作",
    }
}

pub(crate) fn step_error(err: backend::Error) -> Error {
    match err {
        backend::Error::InvalidTransition { from, to } => Error::Conflict(format!(
            "工单当前状态为“{}”，不能执行“{}”。",
            ticket_label(from),
            step_label(to)
        )),
        backend::Error::Conflict(_) => Error::Conflict("工单刚刚被他人更新，请刷新后重试。".into()),
        backend::Error::NotFound(number) => Error::NotFound(format!("没有找到编号为“{number}”的工单。")),
        other => Error::internal(other),
    }
}

/// The material name of files uploaded for a 补正.
pub const CORRECTION_MATERIAL: &str = "补正材料";

/// The citizen's application waiting for 补正 (the most recent), what it lacks, and the
/// files uploaded for it so far in this conversation (their ids).
pub async fn correction(
    state: &AppState,
    engine: &Engine,
    user: &User,
    session_id: &str,
) -> Result<(String, Option<backend::Application>, Vec<String>)> {
    let waiting = state
        .store
        .applications_of(&user.id)
        .await?
        .into_iter()
        .find(|a| a.state == backend::AppState::CorrectionRequested);
    let Some(application) = waiting else {
        return Ok((
            "您目前没有需要补正的申请。可以说“我的办理进度”查看全部进度。".into(),
            None,
            Vec::new(),
        ));
    };
    let files: Vec<String> = state
        .store
        .pending_uploads(session_id)
        .await?
        .into_iter()
        .filter(|u| u.material == CORRECTION_MATERIAL)
        .map(|u| u.id)
        .collect();
    let title = engine
        .corpus
        .guide(&application.service_id)
        .map_or(application.service_id.as_str(), |g| g.title.as_str());
    let mut text = format!(
        "办件 {}《{title}》需要补正：{}。",
        application.number,
        application
            .note
            .as_deref()
            .unwrap_or("请按部门一次性告知的清单补齐材料")
    );
    if files.is_empty() {
        text.push_str("\n请点“上传材料”上传补正文件（照片或扫描件，可以传多份），传完后回复“重新提交”。");
    } else {
        text.push_str(&format!(
            "\n已收到 {} 份补正文件。还有要传的继续上传；传完了回复“重新提交”。",
            files.len()
        ));
    }
    Ok((text, Some(application), files))
}

/// Sends a corrected application back (补正 → 已提交) with the files uploaded for it; the
/// flag says whether it went (not: the 补正 goes on).
pub async fn resubmit(
    state: &AppState,
    engine: &Engine,
    user: &User,
    number: &str,
    session_id: &str,
    now: i64,
) -> Result<(String, bool)> {
    let (_, waiting, files) = correction(state, engine, user, session_id).await?;
    let Some(application) = waiting.filter(|a| a.number == number) else {
        return Ok((format!("办件 {number} 现在不需要补正，无需重新提交。"), true));
    };
    if files.is_empty() {
        return Ok((
            "还没有收到补正文件：请先点“上传材料”上传，再回复“重新提交”。".into(),
            false,
        ));
    }
    let reason = format!("申请人在对话中补正，上传 {} 份材料", files.len());
    let moved = state
        .store
        .transition(
            &application.number,
            &user.id,
            backend::AppState::Submitted,
            Some(&reason),
            None,
            now,
        )
        .await?;
    let mut tx = state.store.begin().await?;
    tx.link_uploads(session_id, &files, &moved.number).await?;
    tx.commit().await?;
    Ok((
        format!(
            "已重新提交办件 {}，附补正文件 {} 份，状态：{}。{}。",
            moved.number,
            files.len(),
            moved.state.label(),
            moved.state.next_step()
        ),
        true,
    ))
}

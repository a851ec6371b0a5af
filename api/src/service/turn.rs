//! One turn of a conversation: load the session, answer with `bot::respond` (off the async
//! executor), then in one transaction claim the session's next version, carry out the turn's
//! effect (a ticket, an application, a rating), keep or drop the citizen's draft, and save
//! the new state with both transcript lines. A concurrent turn on the same session that saved
//! first makes this attempt roll back whole and answer again on the new state, so an effect
//! happens once or not at all.

use std::collections::BTreeMap;

use super::{Error, MAX_ATTEMPTS, Result};
use crate::auth::User;
use crate::state::AppState;
use crate::wire::{ApplicationRef, ChatResponse, CitationBody, FormBody, GuideRef, ReplyBody, TicketRef};

/// A hand-over no agent takes within this long goes back to the assistant: a citizen is never
/// left talking to nobody (at night, say).
pub const HANDOFF_WAIT_MS: i64 = 15 * 60 * 1000;
/// The same for a taken hand-over whose agent has not written for this long.
pub const HANDOFF_IDLE_MS: i64 = 30 * 60 * 1000;

/// Longest message accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;

fn valid_session_id(id: &str) -> bool {
    (8..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The logged-in user's identity and e-licences, as the dialogue needs them.
async fn user_context(state: &AppState, user: &User) -> Result<bot::UserContext> {
    let licenses = state.store.e_licenses(&user.id).await?;
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

/// What an effect needs prepared before the transaction opens (CPU work, reads).
enum Prepared {
    None,
    Ticket(backend::NewTicket),
    Application(backend::NewApplication),
    Rating(super::ratings::Checked),
    /// The citizen says their complaint was solved: confirm this ticket.
    Confirm(String),
}

/// Where a conversation is held, for a hand-over to a human agent: the web or JSON API, or a
/// messaging platform's user (whom the agent's replies are sent to).
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// web, wechat or wecom.
    pub channel: String,
    pub account: Option<String>,
    pub openid: Option<String>,
    /// Whether a request for a human opens a hand-over in banshi's agent queue (off where the
    /// platform's own staff take it).
    pub queue: bool,
    /// 长辈版: replies in plainer words (`bot::plain`).
    pub elder: bool,
}

impl Origin {
    pub fn web() -> Origin {
        Origin {
            channel: "web".into(),
            queue: true,
            ..Origin::default()
        }
    }
}

/// Answers `message` in the conversation `session_id` (a new one when `None`), from the web
/// or the JSON API.
pub async fn chat(
    state: &AppState,
    user: Option<&User>,
    session_id: Option<String>,
    message: &str,
) -> Result<ChatResponse> {
    chat_from(state, user, session_id, message, &Origin::web()).await
}

/// The same from anywhere: a request for a human opens a hand-over that remembers `origin`;
/// while one is open, the message goes to the agent, not to the assistant. Counted in
/// `/metrics`.
/// What a citizen hears when the turn queue is full (503 with `Retry-After`).
pub fn busy() -> Error {
    Error::Busy("现在咨询的人很多，请过几秒再试。".into())
}

pub async fn chat_from(
    state: &AppState,
    user: Option<&User>,
    session_id: Option<String>,
    message: &str,
    origin: &Origin,
) -> Result<ChatResponse> {
    let started = std::time::Instant::now();
    let result = turn(state, user, session_id, message, origin).await;
    let seconds = started.elapsed().as_secs_f64();
    match &result {
        Ok(response) => {
            let held = response.intent == "human" && response.reply.text.is_empty();
            let outcome = if held { "held" } else { "answered" };
            state.metrics.turn(&response.intent, outcome, Some(seconds));
        }
        Err(Error::Busy(_)) => state.metrics.turn("none", "shed", None),
        Err(Error::Internal(_)) => state.metrics.turn("none", "failed", None),
        Err(_) => state.metrics.turn("none", "refused", None),
    }
    result
}

async fn turn(
    state: &AppState,
    user: Option<&User>,
    session_id: Option<String>,
    message: &str,
    origin: &Origin,
) -> Result<ChatResponse> {
    let message = message.trim().to_string();
    if message.is_empty() {
        return Err(Error::Missing("消息不能为空，请输入您想咨询的问题。".into()));
    }
    if message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Error::TooLong(format!(
            "消息太长了，请控制在 {MAX_MESSAGE_CHARS} 字以内，说清要办的事即可。"
        )));
    }
    let session_id = match session_id {
        Some(id) if valid_session_id(&id) => id,
        Some(_) => {
            return Err(Error::BadSession(
                "会话编号 session_id 格式不正确（应为 8–64 位字母、数字、连字符），请去掉 session_id 重新开始对话。"
                    .into(),
            ));
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    // Overload sheds: past the bounded queue the citizen hears at once to try again shortly.
    let Some(_place) = state.admission.enter().await else {
        tracing::warn!(queued = state.admission.queued(), "turn refused: the queue is full");
        return Err(busy());
    };
    let context_user = match user {
        Some(user) => Some(user_context(state, user).await?),
        None => None,
    };
    for _ in 0..MAX_ATTEMPTS {
        match attempt(state, user, context_user.as_ref(), &session_id, &message, origin).await? {
            Some(Turned::Held(response)) => {
                state.touch(&session_id);
                return Ok(response);
            }
            Some(Turned::Answered { mut response, to_human }) => {
                // The citizen asked for a human just now, or the assistant could not answer
                // twice in a row (a held message is not a new ask).
                if to_human {
                    let new = backend::NewHandoff {
                        session_id: session_id.clone(),
                        channel: origin.channel.clone(),
                        account: origin.account.clone(),
                        openid: origin.openid.clone(),
                        user_id: user.map(|u| u.id.clone()),
                    };
                    let handoff = state.store.open_handoff(&new, state.clock.now()).await?;
                    response.handoff = Some(super::handoffs::status(state, &handoff).await?);
                }
                state.touch(&session_id);
                return Ok(response);
            }
            None => continue,
        }
    }
    Err(Error::Busy("该会话正在另一处同时使用，请稍后重试。".into()))
}

/// What a turn came to.
enum Turned {
    /// An agent holds the conversation: the message went to them.
    Held(ChatResponse),
    /// The assistant answered; `to_human`: the conversation goes to the agents' queue.
    Answered { response: ChatResponse, to_human: bool },
}

/// One try at the turn; `None` when another turn of the session saved first.
async fn attempt(
    state: &AppState,
    user: Option<&User>,
    context_user: Option<&bot::UserContext>,
    session_id: &str,
    message: &str,
    origin: &Origin,
) -> Result<Option<Turned>> {
    let stored = state.store.session(session_id).await?;
    if let (Some(session), Some(user)) = (&stored, user)
        && session.user_id.as_deref().is_some_and(|owner| owner != user.id)
    {
        return Err(Error::BadSession("该会话属于其他用户，请重新开始对话。".into()));
    }
    if let (Some(session), None) = (&stored, user)
        && session.user_id.is_some()
    {
        return Err(Error::Unauthorized("该会话需要登录后继续，请先登录。".into()));
    }
    // An agent holds the conversation: the message is theirs to answer (unless nobody came,
    // or the agent went quiet: then the assistant answers again).
    let now = state.clock.now();
    let handoff = match stored {
        Some(_) => state.store.open_handoff_of(session_id).await?,
        None => None,
    };
    let handoff = match handoff {
        Some(h) if h.state == "waiting" && now - h.created_at > HANDOFF_WAIT_MS => {
            state.store.expire_handoff(&h.id, now).await?;
            None
        }
        Some(h) if h.state == "taken" && now - h.updated_at > HANDOFF_IDLE_MS => {
            state.store.expire_handoff(&h.id, now).await?;
            None
        }
        other => other,
    };
    if let Some(handoff) = handoff {
        state.store.append_message(session_id, "user", message, now).await?;
        // While an agent is connected the assistant stays silent: the agent answers.
        let text = if handoff.state == "taken" {
            ""
        } else {
            "已为您转接人工客服，正在排队，请稍候；客服接入后会在这里回复您。"
        };
        let status = super::handoffs::status(state, &handoff).await?;
        return Ok(Some(Turned::Held(ChatResponse {
            session_id: session_id.to_string(),
            intent: "human".into(),
            reply: ReplyBody {
                text: text.into(),
                citations: Vec::new(),
                quick_replies: Vec::new(),
            },
            guides: Vec::new(),
            form: None,
            application: None,
            ticket: None,
            handoff: Some(status),
            appointment: None,
        })));
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
        && let Some(user) = user
        && let Some((_, draft)) = state.store.latest_draft(&user.id).await?
    {
        dialogue.paused_form = serde_json::from_str(&draft).ok();
    }
    let engine = state.engine.load_full();
    // Files uploaded for the form in progress reach it with this turn.
    let uploads: Vec<bot::Attachment> = if dialogue.form.is_some() {
        state
            .store
            .pending_uploads(session_id)
            .await?
            .into_iter()
            .map(|u| bot::Attachment {
                id: u.id,
                material: u.material,
                file_name: u.file_name,
            })
            .collect()
    } else {
        Vec::new()
    };
    let (mut next, mut reply) = {
        let engine = engine.clone();
        let text = message.to_string();
        let context_user = context_user.cloned();
        tokio::task::spawn_blocking(move || {
            let context = bot::Context {
                user: context_user.as_ref(),
                uploads: &uploads,
            };
            bot::respond(&engine, &context, &dialogue, &text)
        })
        .await?
        .map_err(Error::internal)?
    };
    if origin.elder {
        reply.text = bot::plain::for_elders(&engine.corpus.phrases, &reply.text);
    }
    let to_human = if origin.queue {
        route_to_human(state, session_id, stored.is_some(), &mut reply).await?
    } else {
        false
    };
    let now = state.clock.now();
    let next_version = version.map_or(1, |v| v + 1);
    // The turn that files something is this session at this version: a retried attempt of
    // the same turn finds what it filed instead of filing again.
    let turn_key = format!("{session_id}:{next_version}");

    let effect = reply.effect.take();
    let mut appointment = None;
    let mut show = |shown: super::appointments::Shown, reply: &mut bot::Reply, next: &mut bot::DialogueState| {
        reply.text = shown.text;
        reply.quick_replies = shown.quick_replies;
        next.slots = shown.offered;
        appointment = shown.appointment;
    };
    let login_first = "预约需要先登录（统一身份认证），登录后就能选时段、查看和取消预约。";
    let prepared = match (&effect, user) {
        (
            Some(bot::Effect::OfferSlots {
                service_id,
                day,
                part,
                moving,
            }),
            _,
        ) => {
            let shown = super::appointments::offer(state, &engine, service_id, *day, *part, *moving, now).await?;
            show(shown, &mut reply, &mut next);
            Prepared::None
        }
        (Some(bot::Effect::Book { slot, moving }), Some(user)) => {
            let shown =
                super::appointments::book(state, &engine, user, context_user, slot, *moving, session_id, now).await?;
            show(shown, &mut reply, &mut next);
            Prepared::None
        }
        (Some(bot::Effect::CancelAppointment { service_id }), Some(user)) => {
            let shown = super::appointments::cancel(state, &engine, user, service_id.as_deref(), now).await?;
            show(shown, &mut reply, &mut next);
            Prepared::None
        }
        (Some(bot::Effect::ListAppointments), Some(user)) => {
            let shown = super::appointments::list(state, &engine, user).await?;
            show(shown, &mut reply, &mut next);
            Prepared::None
        }
        (Some(bot::Effect::StartCorrection), Some(user)) => {
            let (text, waiting, files) = super::tickets::correction(state, &engine, user, session_id).await?;
            reply.text = text;
            next.correcting = waiting.as_ref().map(|a| a.number.clone());
            if let Some(application) = waiting {
                reply.quick_replies = vec!["重新提交".into()];
                // The panel the widget shows with its upload button.
                reply.form = Some(bot::FormView {
                    service_id: application.service_id,
                    state: "collecting".into(),
                    fields: Vec::new(),
                    missing: Vec::new(),
                    uploads: vec![bot::UploadView {
                        material: super::tickets::CORRECTION_MATERIAL.into(),
                        required: true,
                        status: if files.is_empty() { "missing" } else { "attached" }.into(),
                        file_name: (!files.is_empty()).then(|| format!("已上传 {} 份", files.len())),
                        help: application.note,
                    }],
                });
            }
            Prepared::None
        }
        (Some(bot::Effect::Resubmit { number }), Some(user)) => {
            let (text, done) = super::tickets::resubmit(state, &engine, user, number, session_id, now).await?;
            reply.text = text;
            if done {
                reply.quick_replies = vec!["我的办理进度".into()];
            } else {
                next.correcting = Some(number.clone());
            }
            Prepared::None
        }
        (
            Some(bot::Effect::Book { .. } | bot::Effect::CancelAppointment { .. } | bot::Effect::ListAppointments),
            None,
        ) => {
            reply.text = login_first.into();
            reply.quick_replies = vec!["登录".into()];
            Prepared::None
        }
        (Some(bot::Effect::Submit(submission)), Some(user)) => {
            // The dialogue binds identity fields already; this is the last word before the
            // record exists: a value that is not the submitter's own is never stored.
            let mismatched = match context_user {
                Some(who) if !submission.on_behalf => identity_mismatch(&engine, who, submission),
                _ => Vec::new(),
            };
            if mismatched.is_empty() {
                Prepared::Application(super::tickets::new_application(
                    &engine, user, submission, session_id, now,
                )?)
            } else {
                tracing::warn!(user = %user.id, fields = ?mismatched, "submission refused: identity fields differ");
                reply.text = format!(
                    "没有提交：{}必须与您登录的身份一致，不能改成他人的信息。如需为他人办理，请使用代办。",
                    mismatched.join("、")
                );
                reply.quick_replies = vec!["转人工客服".into()];
                Prepared::None
            }
        }
        (Some(bot::Effect::ConfirmTicket { number }), Some(user)) => {
            match super::tickets::confirmable(state, user, number.as_deref()).await? {
                Some(number) => Prepared::Confirm(number),
                None => {
                    reply.text = "没有找到您已答复、待确认的诉求。可以说“我的投诉处理得怎么样了”查看进度。".into();
                    Prepared::None
                }
            }
        }
        (Some(bot::Effect::CreateTicket(request)), _) => {
            Prepared::Ticket(super::tickets::new_ticket(&engine, user, request, Some(turn_key.clone()), now).await?)
        }
        (Some(bot::Effect::Rate { target, rating }), Some(user)) => {
            let target_id = if target.0 == "conversation" {
                session_id.to_string()
            } else {
                target.1.clone()
            };
            match super::ratings::check(
                state,
                &engine,
                user,
                (&target.0, &target_id),
                rating,
                "chat",
                Some(session_id),
            )
            .await
            {
                Ok(checked) => Prepared::Rating(checked),
                Err(Error::Internal(cause)) => return Err(Error::Internal(cause)),
                Err(refused) => {
                    reply.text = refused.to_string();
                    Prepared::None
                }
            }
        }
        (Some(bot::Effect::ListStatus), Some(user)) => {
            reply.text = super::tickets::status_text(state, &engine, user).await?;
            reply.quick_replies = if reply.text.contains("回复“补正”") {
                vec!["补正".into(), "转人工客服".into()]
            } else {
                vec!["转人工客服".into()]
            };
            Prepared::None
        }
        _ => Prepared::None,
    };

    // 服务找人: a greeting shows what is due, each a tap away.
    if reply.intent == bot::Intent::Chitchat
        && let Some(user) = user
    {
        let items = super::reminders::inbox(state, &user.id).await?;
        if !items.is_empty() {
            let mut lines = vec![format!("\n\n您有 {} 条待办提醒：", items.len())];
            let mut starts = Vec::new();
            for item in items.iter().take(3) {
                lines.push(format!("· {}（{}）", item.reason, item.title));
                starts.push(item.start.clone());
            }
            reply.text.push_str(&lines.join("\n"));
            starts.append(&mut reply.quick_replies);
            reply.quick_replies = starts;
        }
    }

    let mut tx = state.store.begin().await?;
    match tx
        .claim_session(session_id, user.map(|u| u.id.as_str()), version, now)
        .await
    {
        Ok(_) => {}
        Err(backend::Error::Conflict(_)) => return Ok(None),
        Err(err) => return Err(err.into()),
    }
    let mut application = None;
    let mut ticket = None;
    match prepared {
        Prepared::None => {}
        Prepared::Application(new) => {
            let (submitted, created) = tx.submit_application(&new, now).await?;
            tx.delete_draft(&new.applicant_id, &new.service_id).await?;
            tracing::info!(number = %submitted.number, service = %submitted.service_id, created, "application submitted");
            let n_parts = new.parts.len();
            reply.text = super::tickets::submitted_text(&engine, &submitted, n_parts);
            reply.quick_replies = vec!["我的办理进度".into(), "评价本次服务".into()];
            next.rateable = Some(("application".into(), submitted.number.clone()));
            application = Some(ApplicationRef {
                number: submitted.number,
                service_id: submitted.service_id,
                state: submitted.state.as_str().into(),
            });
        }
        Prepared::Ticket(new) => {
            let created = tx.create_ticket(&new, now).await?;
            tracing::info!(number = %created.number, category = %created.category, department = %created.department, "ticket created");
            reply.text = super::tickets::filed_text(&engine, &created);
            reply.quick_replies = vec!["我的投诉处理得怎么样了".into()];
            if created.citizen_id.is_some() {
                next.rateable = Some(("ticket".into(), created.number.clone()));
            }
            ticket = Some(TicketRef {
                number: created.number.clone(),
                kind: created.kind.clone(),
                category: created.category.clone(),
                department: created.department.clone(),
                department_name: engine
                    .corpus
                    .departments
                    .iter()
                    .find(|d| d.id == created.department)
                    .map_or_else(|| created.department.clone(), |d| d.name.clone()),
                state: created.state.as_str().into(),
                deadline: knowledge::time::show(created.resolve_due),
            });
        }
        Prepared::Confirm(number) => {
            match tx
                .ticket_step(
                    &number,
                    &user.map_or_else(String::new, |u| u.id.clone()),
                    "confirm",
                    backend::TicketState::Confirmed,
                    Some("市民在对话中确认已解决"),
                    backend::StepChanges::default(),
                    None,
                    now,
                )
                .await
            {
                Ok(_) => next.rateable = Some(("ticket".into(), number)),
                Err(backend::Error::InvalidTransition { .. }) => {
                    reply.text = format!("诉求 {number} 目前还不能确认办结（部门尚未答复）。");
                }
                Err(err) => return Err(err.into()),
            }
        }
        Prepared::Rating(checked) => match super::ratings::record_in(&mut tx, state, &checked, now).await {
            Ok(saved) => reply.text = super::ratings::recorded_text(&saved),
            Err(Error::Internal(cause)) => return Err(Error::Internal(cause)),
            Err(refused) => reply.text = refused.to_string(),
        },
    }
    if let Some(user) = user {
        keep_draft(&mut tx, user, &next, &reply, now).await?;
    }
    // Knowledge gaps: a question declined, or answered only with “which of these?”.
    let gap = match reply.intent {
        bot::Intent::OutOfScope => Some("declined"),
        bot::Intent::Service if next.candidates.len() > 1 && next.form.is_none() => Some("unsure"),
        _ => None,
    };
    if let Some(kind) = gap {
        let closest = reply.guides.first().map(|g| g.id.as_str());
        tx.add_gap(kind, &bot::gaps::redact(message), closest, now).await?;
    }
    let response = ChatResponse {
        session_id: session_id.to_string(),
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
        handoff: None,
        appointment,
    };
    let state_json = serde_json::to_string(&next).map_err(Error::internal)?;
    let payload = serde_json::to_string(&response.reply).map_err(Error::internal)?;
    tx.finish_turn(&backend::Turn {
        session_id,
        user_id: user.map(|u| u.id.as_str()),
        expected_version: version,
        state: &state_json,
        user_text: message,
        bot_text: &reply.text,
        intent: reply.intent.as_str(),
        payload: &payload,
        now,
    })
    .await?;
    tx.commit().await?;
    // A reminder of this service is done once it is applied for.
    if let (Some(user), Some(application)) = (user, &response.application)
        && let Err(err) = state.store.finish_inbox_items(&user.id, &application.service_id).await
    {
        tracing::warn!(error = %err, "reminders of a submitted service not cleared");
    }
    tracing::info!(session = %session_id, intent = reply.intent.as_str(), n_guides = reply.guides.len(), "chat turn");
    Ok(Some(Turned::Answered { response, to_human }))
}

/// Whether this turn hands the conversation to a human: the citizen asked for one, or the
/// assistant declined twice in a row. Outside the agents' hours a call-back 12345 ticket is
/// offered instead. Rewrites the reply to say which.
async fn route_to_human(state: &AppState, session_id: &str, continued: bool, reply: &mut bot::Reply) -> Result<bool> {
    let asked = reply.intent == bot::Intent::Human;
    let stuck = !asked
        && continued
        && reply.intent == bot::Intent::OutOfScope
        && state.store.last_intent_of(session_id, "bot").await?.as_deref() == Some("out_of_scope");
    if !asked && !stuck {
        return Ok(false);
    }
    if state.agents_on_duty() {
        // Asked: the assistant's own words (they name the hotline too).
        if !asked {
            reply.text = format!(
                "{}\n\n抱歉，我连续两次没能回答您的问题，已为您转接人工客服，请稍候。",
                reply.text.trim_end()
            );
        }
        return Ok(true);
    }
    if asked {
        let hours = state.agent_hours.map(|h| h.show()).unwrap_or_default();
        reply.text = format!(
            "人工客服的服务时间是每天 {hours}，现在不在服务时间。可以为您登记一张 12345 工单，工作人员上班后会联系您：请点“{}”，说明要办的事和联系电话。",
            bot::QUICK_TICKET
        );
        reply.quick_replies = vec![bot::QUICK_TICKET.to_string()];
    }
    Ok(false)
}

/// The identity-bound fields of a submission whose value is not the submitter's own, by label.
fn identity_mismatch(engine: &bot::Engine, who: &bot::UserContext, submission: &bot::Submission) -> Vec<String> {
    let Some(form) = engine.corpus.form(&submission.service_id) else {
        return Vec::new();
    };
    form.fields
        .iter()
        .filter_map(|field| {
            let own = bot::forms::identity_value(field, who)?;
            let given = submission.fields.get(&field.name)?;
            (given != &own.value).then(|| field.label.clone())
        })
        .collect()
}

/// Keeps a logged-in user's unfinished form as a draft (and forgets it once it ends).
async fn keep_draft(
    tx: &mut backend::Tx,
    user: &User,
    next: &bot::DialogueState,
    reply: &bot::Reply,
    now: i64,
) -> Result<()> {
    match (&next.form, &reply.form) {
        (Some(form), _) => {
            let json = serde_json::to_string(form).map_err(Error::internal)?;
            tx.save_draft(&user.id, &form.service_id, &json, now).await?;
        }
        (None, Some(view)) if view.state == "cancelled" || view.state == "submitted" => {
            tx.delete_draft(&user.id, &view.service_id).await?;
        }
        _ => {}
    }
    Ok(())
}

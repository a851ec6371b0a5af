//! The agents' side of a hand-over (转人工): the queue of conversations waiting for a human,
//! taking one (one agent a conversation), replying (into the transcript, and to a messaging
//! platform's user through its outbound API), and handing back to the assistant.

use super::{Error, Result};
use crate::auth::{Role, User};
use crate::channels::outbound::Target;
use crate::state::AppState;
use crate::wire::HandoffStatus;

/// Longest agent reply accepted, in characters.
const MAX_REPLY_CHARS: usize = 2000;

fn agent(user: &User) -> Result<&str> {
    if user.has(Role::Agent) || user.has(Role::Admin) {
        Ok(&user.id)
    } else {
        Err(Error::Forbidden("只有人工客服（坐席）可以处理转人工的会话。".into()))
    }
}

/// Seconds an agent is reckoned to need per conversation ahead, for the expected wait shown.
pub const SECONDS_PER_PLACE: i64 = 120;

/// Where a hand-over stands, as the citizen sees it.
pub async fn status(state: &AppState, handoff: &backend::Handoff) -> Result<HandoffStatus> {
    Ok(match handoff.state.as_str() {
        "waiting" => {
            let position = state.store.handoff_position(handoff).await?;
            HandoffStatus {
                state: "waiting".into(),
                position: Some(position),
                expected_wait_s: Some(position * SECONDS_PER_PLACE),
            }
        }
        "taken" => HandoffStatus {
            state: "connected".into(),
            position: None,
            expected_wait_s: None,
        },
        _ => HandoffStatus {
            state: "closed".into(),
            position: None,
            expected_wait_s: None,
        },
    })
}

/// A conversation in the agents' queue.
pub struct Queued {
    pub handoff: backend::Handoff,
    pub waiting_s: i64,
    pub summary: String,
}

pub async fn queue(state: &AppState, user: &User) -> Result<Vec<Queued>> {
    agent(user)?;
    let engine = state.engine.load_full();
    let now = state.clock.now();
    let mut queued = Vec::new();
    for handoff in state.store.open_handoffs().await? {
        let messages = state.store.messages(&handoff.session_id).await?;
        let dialogue = dialogue_of(state, &handoff.session_id).await?;
        let summary = summarize(&engine, &messages, &dialogue);
        queued.push(Queued {
            waiting_s: ((now - handoff.created_at) / 1000).max(0),
            handoff,
            summary,
        });
    }
    Ok(queued)
}

/// The conversation's open hand-over (or, for a closed one, its latest).
async fn open(state: &AppState, session_id: &str) -> Result<backend::Handoff> {
    if let Some(open) = state.store.open_handoff_of(session_id).await? {
        return Ok(open);
    }
    state
        .store
        .latest_handoff_of(session_id)
        .await?
        .ok_or_else(|| Error::NotFound("这个会话没有转人工，或会话不存在。".into()))
}

pub async fn take(state: &AppState, user: &User, session_id: &str) -> Result<backend::Handoff> {
    let agent = agent(user)?;
    let handoff = open(state, session_id).await?;
    match state.store.take_handoff(&handoff.id, agent, state.clock.now()).await? {
        Some(taken) => {
            state.touch(session_id);
            Ok(taken)
        }
        None if handoff.state == "closed" => Err(Error::Conflict("该会话已结束人工服务。".into())),
        None => Err(Error::Conflict("该会话已由其他客服接入。".into())),
    }
}

/// The agent's reply: kept in the transcript, and sent to a messaging-platform user. Returns
/// whether it reached a platform user (a web citizen sees it through the live events).
pub async fn reply(state: &AppState, user: &User, session_id: &str, text: &str) -> Result<bool> {
    let agent = agent(user)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::Missing("请在 text 中填写回复内容。".into()));
    }
    if text.chars().count() > MAX_REPLY_CHARS {
        return Err(Error::TooLong(format!(
            "回复太长了，请控制在 {MAX_REPLY_CHARS} 字以内。"
        )));
    }
    let handoff = open(state, session_id).await?;
    if handoff.state != "taken" || handoff.agent_id.as_deref() != Some(agent) {
        return Err(Error::Conflict("请先接入该会话再回复。".into()));
    }
    let now = state.clock.now();
    state
        .store
        .append_message(&handoff.session_id, "agent", text, now)
        .await?;
    // Still held: the idle clock starts again.
    state.store.take_handoff(&handoff.id, agent, now).await?;
    state.touch(session_id);
    send_to_platform(state, &handoff, text).await
}

async fn send_to_platform(state: &AppState, handoff: &backend::Handoff, text: &str) -> Result<bool> {
    let Some(target) = target_of(state, handoff) else {
        return Ok(false);
    };
    let sender = state.channels.sender.clone();
    let text = text.to_string();
    let sent = tokio::task::spawn_blocking(move || sender.send_text(&target, &text))
        .await
        .map_err(Error::internal)?;
    match sent {
        Ok(()) => Ok(true),
        Err(err) => {
            tracing::warn!(error = %err, handoff = %handoff.id, "agent message not sent to the platform");
            Ok(false)
        }
    }
}

/// The platform user a hand-over's replies go to, when it came from one that can be sent to.
fn target_of(state: &AppState, handoff: &backend::Handoff) -> Option<Target> {
    let (account, openid) = (handoff.account.as_deref()?, handoff.openid.as_deref()?);
    let target = state.channels.target(&handoff.channel, account, openid)?;
    target.can_send().then_some(target)
}

/// What the assistant says when the agent hands the conversation back: it asks for a rating.
pub const CLOSED_TEXT: &str =
    "人工服务已结束，智能助手继续为您服务。请为刚才工作人员的服务评价：非常满意、满意、基本满意、不满意、非常不满意。";

/// Hands the conversation back to the assistant, which asks for a rating of the agent's service.
pub async fn close(state: &AppState, user: &User, session_id: &str) -> Result<backend::Handoff> {
    let agent = agent(user)?;
    let handoff = open(state, session_id).await?;
    let now = state.clock.now();
    let closed = state
        .store
        .close_handoff(&handoff.id, agent, now)
        .await?
        .ok_or_else(|| Error::Conflict("只有接入该会话的客服可以结束人工服务。".into()))?;
    state.store.append_message(session_id, "bot", CLOSED_TEXT, now).await?;
    state.touch(session_id);
    send_to_platform(state, &closed, CLOSED_TEXT).await?;
    Ok(closed)
}

/// A reply the agent may send or adapt, with where each fact comes from.
#[derive(Debug, Clone)]
pub struct Suggested {
    pub text: String,
    pub citations: Vec<bot::Citation>,
}

/// How far back a question is looked for behind “转人工” and the like.
const QUESTIONS_BACK: usize = 5;
/// Suggestions offered at most.
const MAX_SUGGESTIONS: usize = 3;

async fn dialogue_of(state: &AppState, session_id: &str) -> Result<bot::DialogueState> {
    Ok(match state.store.session(session_id).await? {
        Some(session) => serde_json::from_str::<bot::DialogueState>(&session.state).unwrap_or_default(),
        None => bot::DialogueState::default(),
    })
}

/// Up to three replies to the citizen's latest question about a service, each with its
/// citations: the assistant's own answer in the conversation's context, then, for the next
/// guides it considered, that guide's summary (its summary is the cited section, word for
/// word). Computed without changing the conversation.
pub fn suggest(engine: &bot::Engine, dialogue: &bot::DialogueState, questions: &[String]) -> Vec<Suggested> {
    let context = bot::Context::anonymous();
    for question in questions {
        let Ok((_, reply)) = bot::respond(engine, &context, dialogue, question) else {
            continue;
        };
        // The latest message that asks about a service: not the call for a human itself.
        if reply.citations.is_empty() {
            continue;
        }
        let mut out = vec![Suggested {
            text: reply.text.clone(),
            citations: reply.citations.clone(),
        }];
        for hit in reply.guides.iter().skip(1) {
            if out.len() >= MAX_SUGGESTIONS {
                break;
            }
            let Some(guide) = engine.corpus.guide(&hit.id) else {
                continue;
            };
            if reply.citations.iter().any(|c| c.guide_id == guide.id) {
                continue;
            }
            out.push(Suggested {
                text: format!("如果您问的是「{}」：{}", guide.title, guide.summary),
                citations: vec![bot::Citation {
                    guide_id: guide.id.clone(),
                    section: "summary".into(),
                }],
            });
        }
        return out;
    }
    Vec::new()
}

/// The reader's name of a cited section.
pub fn section_name(section: &str) -> &'static str {
    match section.split(':').next().unwrap_or(section) {
        "summary" => "办理须知",
        "conditions" => "办理条件",
        "materials" => "申请材料",
        "steps" => "办理流程",
        "time_limit" => "办理时限",
        "fees" => "收费标准",
        "channels" => "办理渠道",
        "cross_province" => "跨省通办",
        "faq" => "常见问题",
        _ => "指南",
    }
}

/// What an agent reads first: what the citizen wants, which services, what was already
/// answered, what is still open (from the transcript and the dialogue state).
pub fn summarize(engine: &bot::Engine, messages: &[backend::Message], dialogue: &bot::DialogueState) -> String {
    let mut parts = Vec::new();
    let asked = messages
        .iter()
        .rev()
        .filter(|m| m.role == "user")
        .find(|m| m.intent.as_deref() != Some("human"))
        .or_else(|| messages.iter().rev().find(|m| m.role == "user"));
    if let Some(asked) = asked {
        parts.push(format!("市民问：“{}”", clip(&asked.text, 80)));
    }
    let mut guides: Vec<String> = Vec::new();
    let mut sections: Vec<&'static str> = Vec::new();
    for message in messages.iter().filter(|m| m.role == "bot") {
        let Some(reply) = message
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<crate::wire::ReplyBody>(p).ok())
        else {
            continue;
        };
        for citation in reply.citations {
            if !guides.contains(&citation.guide_id) {
                guides.push(citation.guide_id.clone());
            }
            let name = section_name(&citation.section);
            if !sections.contains(&name) {
                sections.push(name);
            }
        }
    }
    if guides.is_empty()
        && let Some(last) = &dialogue.last_guide
    {
        guides.push(last.clone());
    }
    let titles: Vec<String> = guides
        .iter()
        .take(3)
        .map(|id| engine.corpus.guide(id).map_or(id.clone(), |g| g.title.clone()))
        .collect();
    if !titles.is_empty() {
        parts.push(format!("涉及事项：{}", titles.join("、")));
    }
    if !sections.is_empty() {
        parts.push(format!("助手已答复：{}", sections.join("、")));
    }
    if let Some(form) = &dialogue.form {
        let title = engine
            .corpus
            .guide(&form.service_id)
            .map_or(form.service_id.clone(), |g| g.title.clone());
        parts.push(format!("正在填写“{title}”的申请表"));
    }
    if let Some(ticket) = &dialogue.ticket {
        let what = ticket.what.as_deref().map(|w| clip(w, 40)).unwrap_or_default();
        parts.push(format!("正在登记{}：{what}", ticket.kind));
    }
    let open: Vec<String> = messages
        .iter()
        .rev()
        .take_while(|m| m.role == "user")
        .map(|m| clip(&m.text, 40))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if !open.is_empty() && asked.is_some_and(|a| open.len() > 1 || !a.text.starts_with(open[0].trim_end_matches('…')))
    {
        parts.push(format!("待回复：{}", open.join("；")));
    }
    if parts.is_empty() {
        "市民尚未说明诉求。".into()
    } else {
        parts.join("。") + "。"
    }
}

fn clip(text: &str, chars: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= chars {
        text.to_string()
    } else {
        text.chars().take(chars).collect::<String>() + "…"
    }
}

/// A 12345 ticket drafted from a conversation, for the agent to check and file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketDraft {
    pub category: String,
    pub department: String,
    pub location: String,
    pub contact: String,
    pub text: String,
}

/// The draft from the citizen's words (a complaint being taken down, or what they said).
pub fn ticket_draft(engine: &bot::Engine, messages: &[backend::Message], dialogue: &bot::DialogueState) -> TicketDraft {
    let said: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == "user" && m.intent.as_deref() != Some("human"))
        .map(|m| m.text.as_str())
        .collect();
    let ticket = dialogue.ticket.as_ref();
    let text = ticket.and_then(|t| t.what.clone()).unwrap_or_else(|| said.join("；"));
    let location = ticket.and_then(|t| t.location.clone()).unwrap_or_default();
    let routed = engine.route(&format!("{text} {location}"));
    let (category, department) = match routed {
        Some((category, _, _)) => {
            let rules = &engine.corpus.tickets;
            let district = rules.district_in(&location);
            let department = rules
                .department_in(&category, district)
                .unwrap_or(super::tickets::HOTLINE);
            (category, department.to_string())
        }
        None => ("其他".to_string(), super::tickets::HOTLINE.to_string()),
    };
    TicketDraft {
        category,
        department,
        location,
        contact: ticket.and_then(|t| t.contact.clone()).unwrap_or_default(),
        text,
    }
}

/// What an agent sees of a conversation handed to them.
pub struct View {
    pub handoff: backend::Handoff,
    pub summary: String,
    pub transcript: Vec<backend::Message>,
    pub suggestions: Vec<Suggested>,
    pub ticket_draft: TicketDraft,
}

pub async fn view(state: &AppState, user: &User, session_id: &str) -> Result<View> {
    agent(user)?;
    let handoff = open(state, session_id).await?;
    super::audit::read(state, user, "conversation", session_id, handoff.user_id.as_deref()).await?;
    let dialogue = dialogue_of(state, session_id).await?;
    let transcript = state.store.messages(session_id).await?;
    let questions: Vec<String> = transcript
        .iter()
        .rev()
        .filter(|m| m.role == "user")
        .take(QUESTIONS_BACK)
        .map(|m| m.text.clone())
        .collect();
    let engine = state.engine.load_full();
    let (summary, draft) = (
        summarize(&engine, &transcript, &dialogue),
        ticket_draft(&engine, &transcript, &dialogue),
    );
    let suggestions = tokio::task::spawn_blocking(move || suggest(&engine, &dialogue, &questions))
        .await
        .map_err(Error::internal)?;
    Ok(View {
        handoff,
        summary,
        transcript,
        suggestions,
        ticket_draft: draft,
    })
}

/// Files the 12345 ticket the agent checked: routed again from its text when the agent left
/// the category or department empty, with the hotline's deadlines.
pub async fn file_ticket(
    state: &AppState,
    user: &User,
    session_id: &str,
    draft: &TicketDraft,
) -> Result<backend::Ticket> {
    agent(user)?;
    let handoff = open(state, session_id).await?;
    if draft.text.trim().is_empty() {
        return Err(Error::Missing("请在 text 中写明市民的诉求。".into()));
    }
    if draft.text.chars().count() > MAX_REPLY_CHARS {
        return Err(Error::TooLong(format!("诉求内容请控制在 {MAX_REPLY_CHARS} 字以内。")));
    }
    let engine = state.engine.load_full();
    let request = bot::TicketRequest {
        kind: "求助".into(),
        what: draft.text.trim().to_string(),
        location: draft.location.trim().to_string(),
        when: None,
        contact: Some(draft.contact.trim().to_string()).filter(|c| !c.is_empty()),
        anonymous: false,
        urgent: false,
    };
    let citizen = handoff.user_id.as_ref().map(|id| User {
        id: id.clone(),
        name: String::new(),
        roles: Vec::new(),
        department: None,
    });
    let now = state.clock.now();
    let mut new = super::tickets::new_ticket(&engine, citizen.as_ref(), &request, None, now).await?;
    let departments = &engine.corpus.departments;
    if !draft.department.trim().is_empty() {
        let department = draft.department.trim();
        if !departments.iter().any(|d| d.id == department) {
            return Err(Error::Invalid(format!("department：没有编号为“{department}”的部门。")));
        }
        new.department = department.to_string();
    }
    if !draft.category.trim().is_empty() {
        new.category = draft.category.trim().to_string();
    }
    let created = state.store.create_ticket(&new, now).await?;
    tracing::info!(number = %created.number, department = %created.department, by = %user.id, "ticket filed by an agent");
    Ok(created)
}

/// Call-center help while the caller is on the line: what they want, up to three cited
/// replies, a summary, a 12345 ticket draft and the form fields their words already give.
pub struct Assist {
    pub intent: String,
    pub suggestions: Vec<Suggested>,
    pub summary: String,
    pub ticket_draft: Option<TicketDraft>,
    pub form_prefill: std::collections::BTreeMap<String, String>,
}

/// Longest transcript accepted, in lines.
pub const MAX_ASSIST_LINES: usize = 200;

pub fn assist(engine: &bot::Engine, transcript: &[(String, String)]) -> Result<Assist> {
    let caller: Vec<&str> = transcript
        .iter()
        .filter(|(role, _)| role == "caller")
        .map(|(_, text)| text.trim())
        .filter(|t| !t.is_empty())
        .collect();
    if caller.is_empty() {
        return Err(Error::Missing(
            "transcript 中至少要有一句来电人（caller）说的话。".into(),
        ));
    }
    // The caller's lines as a conversation with the assistant, in order: follow-ups keep
    // their topic, a complaint collects its what and where.
    let context = bot::Context::anonymous();
    let mut dialogue = bot::DialogueState::default();
    let mut messages = Vec::new();
    let mut last = None;
    for (i, line) in caller.iter().enumerate() {
        let (next, reply) = bot::respond(engine, &context, &dialogue, line).map_err(Error::internal)?;
        messages.push(backend::Message {
            id: 2 * i as i64 + 1,
            role: "user".into(),
            text: line.to_string(),
            intent: Some(reply.intent.as_str().to_string()),
            payload: None,
            created_at: 0,
        });
        messages.push(backend::Message {
            id: 2 * i as i64 + 2,
            role: "bot".into(),
            text: reply.text.clone(),
            intent: Some(reply.intent.as_str().to_string()),
            payload: serde_json::to_string(&crate::wire::ReplyBody {
                text: String::new(),
                citations: reply.citations.iter().map(crate::wire::CitationBody::from).collect(),
                quick_replies: Vec::new(),
            })
            .ok(),
            created_at: 0,
        });
        dialogue = next;
        last = Some(reply);
    }
    let last = last.expect("at least one caller line");
    let questions: Vec<String> = caller
        .iter()
        .rev()
        .take(QUESTIONS_BACK)
        .map(|t| t.to_string())
        .collect();
    let suggestions = suggest(engine, &bot::DialogueState::default(), &questions);
    let complaint = dialogue.ticket.is_some() || last.intent.as_str() == "complaint";
    let form_prefill = dialogue
        .form
        .as_ref()
        .map(|form| form.values.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect())
        .unwrap_or_default();
    Ok(Assist {
        intent: last.intent.as_str().to_string(),
        summary: summarize(engine, &messages, &dialogue),
        ticket_draft: complaint.then(|| ticket_draft(engine, &messages, &dialogue)),
        suggestions,
        form_prefill,
    })
}

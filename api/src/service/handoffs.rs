//! The agents' side of a hand-over (转人工): the queue of conversations waiting for a human,
//! taking one (one agent a conversation), replying (into the transcript, and to a messaging
//! platform's user through its outbound API), and handing back to the assistant.

use super::{Error, Result};
use crate::auth::{Role, User};
use crate::channels::outbound::Target;
use crate::state::AppState;

/// Longest agent reply accepted, in characters.
const MAX_REPLY_CHARS: usize = 2000;

fn agent(user: &User) -> Result<&str> {
    if user.has(Role::Agent) || user.has(Role::Admin) {
        Ok(&user.id)
    } else {
        Err(Error::Forbidden("只有人工客服（坐席）可以处理转人工的会话。".into()))
    }
}

/// A hand-over with the citizen's last words, for the queue.
pub struct Queued {
    pub handoff: backend::Handoff,
    pub last_message: Option<String>,
}

pub async fn queue(state: &AppState, user: &User) -> Result<Vec<Queued>> {
    agent(user)?;
    let mut queued = Vec::new();
    for handoff in state.store.open_handoffs().await? {
        let last_message = state.store.last_message_of(&handoff.session_id, "user").await?;
        queued.push(Queued { handoff, last_message });
    }
    Ok(queued)
}

async fn open(state: &AppState, id: &str) -> Result<backend::Handoff> {
    state
        .store
        .handoff(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("没有编号为“{id}”的转人工会话。")))
}

pub async fn take(state: &AppState, user: &User, id: &str) -> Result<backend::Handoff> {
    let agent = agent(user)?;
    let handoff = open(state, id).await?;
    match state.store.take_handoff(id, agent, state.clock.now()).await? {
        Some(taken) => Ok(taken),
        None if handoff.state == "closed" => Err(Error::Conflict("该会话已结束人工服务。".into())),
        None => Err(Error::Conflict("该会话已由其他客服接入。".into())),
    }
}

/// The agent's reply: kept in the transcript, and sent to a messaging-platform user. Returns
/// whether it reached a platform user (a web citizen reads it from the transcript).
pub async fn reply(state: &AppState, user: &User, id: &str, text: &str) -> Result<bool> {
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
    let handoff = open(state, id).await?;
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
    let Some(target) = target_of(state, &handoff) else {
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
            tracing::warn!(error = %err, handoff = %handoff.id, "agent reply not sent to the platform");
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

/// Hands the conversation back to the assistant.
pub async fn close(state: &AppState, user: &User, id: &str) -> Result<backend::Handoff> {
    let agent = agent(user)?;
    open(state, id).await?;
    state
        .store
        .close_handoff(id, agent, state.clock.now())
        .await?
        .ok_or_else(|| Error::Conflict("只有接入该会话的客服可以结束人工服务。".into()))
}

/// A reply the agent may send, with its citations: the assistant's answer to the citizen's
/// latest question, in the conversation's context (a follow-up keeps its topic), computed
/// without changing the conversation.
pub struct Suggestion {
    /// The citizen's words it answers.
    pub question: String,
    pub reply: bot::Reply,
}

/// How far back a question is looked for behind “转人工” and the like.
const QUESTIONS_BACK: usize = 5;

pub async fn suggestion(state: &AppState, user: &User, id: &str) -> Result<Option<Suggestion>> {
    agent(user)?;
    let handoff = open(state, id).await?;
    let dialogue = match state.store.session(&handoff.session_id).await? {
        Some(session) => serde_json::from_str::<bot::DialogueState>(&session.state).unwrap_or_default(),
        None => bot::DialogueState::default(),
    };
    let questions: Vec<String> = state
        .store
        .messages(&handoff.session_id)
        .await?
        .into_iter()
        .rev()
        .filter(|m| m.role == "user")
        .take(QUESTIONS_BACK)
        .map(|m| m.text)
        .collect();
    let engine = state.engine.load_full();
    let found = tokio::task::spawn_blocking(move || {
        let context = bot::Context { user: None };
        for question in questions {
            let (_, reply) = bot::respond(&engine, &context, &dialogue, &question).ok()?;
            // The latest message that asks about a service: not the call for a human itself.
            if !reply.citations.is_empty() {
                return Some(Suggestion { question, reply });
            }
        }
        None
    })
    .await
    .map_err(Error::internal)?;
    Ok(found)
}

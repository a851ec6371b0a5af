//! A citizen's conversations: the list of one's own (logged in), and a conversation's live
//! events (`GET /api/v1/sessions/{id}/events`): the lines added to it (an agent's reply, the
//! citizen's own from another tab) and the hand-over's state, as server-sent events, for the
//! widget and the agent console. The database is the source: a line written by another
//! replica is found on the next look (every two seconds); one written here wakes the view at
//! once.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{AuthUser, MaybeUser, Role, User};
use crate::error::{ApiError, ApiResult, Code};
use crate::state::AppState;
use crate::wire::HandoffStatus;

/// How often a live view looks at the database when nothing in this process woke it.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// Conversations listed at most.
const MAX_SESSIONS: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions", get(sessions))
        .route("/api/v1/sessions/{session_id}/events", get(events))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionItem {
    pub session_id: String,
    /// The first question asked in it.
    pub title: String,
    /// Last used (China time).
    pub updated_at: String,
}

/// One's own conversations while logged in, latest first (at most 50).
#[utoipa::path(get, path = "/api/v1/sessions", tag = "chat", security(("bearer" = [])),
    responses((status = 200, body = SessionList, description = "latest first", example = super::examples::sessions),
        (status = 401, body = crate::error::ErrorBody, description = "not logged in")))]
pub async fn sessions(State(state): State<AppState>, AuthUser(user): AuthUser) -> ApiResult<Json<SessionList>> {
    let sessions = state
        .store
        .sessions_of(&user.id, MAX_SESSIONS)
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|(session, title)| SessionItem {
            session_id: session.id,
            title: title.unwrap_or_else(|| "（空对话）".into()),
            updated_at: knowledge::time::show(session.updated_at),
        })
        .collect();
    Ok(Json(SessionList { sessions }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EventsQuery {
    /// Send the lines after this one (an earlier `message` event's id) first: a reconnecting
    /// view misses nothing. Default: only lines added from now on.
    pub after: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LiveMessage {
    /// Increasing within the conversation.
    pub id: i64,
    /// user, bot or agent.
    pub role: String,
    pub text: String,
    /// China time.
    pub at: String,
}

/// Who may watch: the citizen who owns the conversation (an anonymous one: whoever holds its
/// id), and agents once it was handed to a human.
async fn may_watch(state: &AppState, user: Option<&User>, session_id: &str) -> ApiResult<()> {
    let not_found = || ApiError::new(Code::NotFound, "没有找到这个会话。");
    let session = state
        .store
        .session(session_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    // Agents see the conversations handed to a human, not every citizen's.
    if user.is_some_and(|u| u.has(Role::Agent) || u.has(Role::Admin))
        && state
            .store
            .latest_handoff_of(session_id)
            .await
            .map_err(ApiError::internal)?
            .is_some()
    {
        return Ok(());
    }
    match (&session.user_id, user) {
        (Some(owner), Some(user)) if *owner != user.id => Err(not_found()),
        (Some(_), None) => Err(ApiError::new(Code::Unauthorized, "该会话需要登录后查看，请先登录。")),
        _ => Ok(()),
    }
}

/// The hand-over's state as the citizen sees it; a closed one only once it was seen open.
async fn handoff_now(state: &AppState, session_id: &str) -> Option<HandoffStatus> {
    let handoff = state.store.latest_handoff_of(session_id).await.ok()??;
    crate::service::handoffs::status(state, &handoff).await.ok()
}

struct Watch {
    state: AppState,
    session_id: String,
    after: i64,
    handoff: Option<HandoffStatus>,
    pending: VecDeque<Event>,
    wake: tokio::sync::broadcast::Receiver<String>,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl Watch {
    /// Queues what changed since the last look: an agent who joined is announced before their
    /// first words; the end of a hand-over comes after the last words of it.
    async fn look(&mut self) {
        let now = handoff_now(&self.state, &self.session_id).await;
        let changed = match (&self.handoff, &now) {
            (None, Some(now)) => now.state != "closed",
            (Some(before), Some(now)) => before != now,
            _ => false,
        };
        let mut closing = None;
        if changed {
            if let Some(now) = &now
                && let Ok(event) = Event::default().event("handoff").json_data(now)
            {
                if now.state == "closed" {
                    closing = Some(event);
                } else {
                    self.pending.push_back(event);
                }
            }
            self.handoff = now;
        }
        self.lines().await;
        self.pending.extend(closing);
    }

    /// Queues the transcript lines added since the last look.
    async fn lines(&mut self) {
        match self.state.store.messages_after(&self.session_id, self.after).await {
            Ok(lines) => {
                for line in lines {
                    self.after = self.after.max(line.id);
                    let body = LiveMessage {
                        id: line.id,
                        role: line.role,
                        text: line.text,
                        at: knowledge::time::show(line.created_at),
                    };
                    if let Ok(event) = Event::default()
                        .event("message")
                        .id(body.id.to_string())
                        .json_data(&body)
                    {
                        self.pending.push_back(event);
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "live view: cannot read the transcript"),
        }
    }

    /// Waits until this process writes to the conversation, or the next look is due.
    async fn wait(&mut self) {
        let deadline = tokio::time::sleep(LOOK_EVERY);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                // The only change ever sent is to `true` (stopping).
                _ = self.stopping.changed() => return,
                woke = self.wake.recv() => match woke {
                    Ok(id) if id == self.session_id => return,
                    Ok(_) => continue,
                    // Missed some wake-ups: look now.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        (&mut deadline).await;
                        return;
                    }
                },
            }
        }
    }
}

/// A conversation's live events: `message` (a line added: `{"id","role","text","at"}`) and
/// `handoff` (`{"state","position","expected_wait_s"}` when it changes), with keep-alive
/// comments. For the citizen (an anonymous conversation is read with its id; one's own with
/// one's token) and for agents.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/events", tag = "chat", security((), ("bearer" = [])),
    params(("session_id" = String, Path, description = "the conversation"), EventsQuery),
    responses((status = 200, content_type = "text/event-stream", body = LiveMessage,
            description = "`event: message` per new line, `event: handoff` when the hand-over changes", example = super::examples::session_events),
        (status = 401, body = crate::error::ErrorBody, description = "the conversation needs its owner's login"),
        (status = 404, body = crate::error::ErrorBody, description = "no such conversation, or another person's")))]
pub async fn events(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(session_id): Path<String>,
    Query(query): Query<EventsQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    may_watch(&state, user.as_ref(), &session_id).await?;
    let wake = state.live.subscribe();
    let after = match query.after {
        Some(after) => after.max(0),
        None => state
            .store
            .last_message_id(&session_id)
            .await
            .map_err(ApiError::internal)?,
    };
    let mut watch = Watch {
        stopping: state.stopping.subscribe(),
        handoff: None,
        state,
        session_id,
        after,
        pending: VecDeque::new(),
        wake,
    };
    // The hand-over as it is now, so the view starts right.
    if let Some(now) = handoff_now(&watch.state, &watch.session_id).await
        && now.state != "closed"
    {
        if let Ok(event) = Event::default().event("handoff").json_data(&now) {
            watch.pending.push_back(event);
        }
        watch.handoff = Some(now);
    }
    let stream = futures_util::stream::unfold(watch, |mut watch| async move {
        loop {
            if let Some(event) = watch.pending.pop_front() {
                return Some((Ok(event), watch));
            }
            // A stopping server ends its live views (the client reconnects to another
            // replica, or to this one when it is back, with `?after=`).
            if *watch.stopping.borrow() {
                return None;
            }
            watch.wait().await;
            if *watch.stopping.borrow() {
                return None;
            }
            watch.look().await;
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

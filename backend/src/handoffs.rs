//! Conversations handed to a human agent: one open hand-over a conversation (a partial unique
//! index), taken by one agent (a conditional update), closed by that agent.

use sqlx::Row;

use crate::{Result, Store};

/// Where the conversation is held: the web or JSON API, or a messaging platform's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHandoff {
    pub session_id: String,
    pub channel: String,
    pub account: Option<String>,
    pub openid: Option<String>,
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    pub id: String,
    pub session_id: String,
    pub channel: String,
    pub account: Option<String>,
    pub openid: Option<String>,
    pub user_id: Option<String>,
    /// waiting, taken or closed.
    pub state: String,
    pub agent_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, session_id, channel, account, openid, user_id, state, agent_id, created_at, updated_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<Handoff> {
    Ok(Handoff {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        channel: row.try_get("channel")?,
        account: row.try_get("account")?,
        openid: row.try_get("openid")?,
        user_id: row.try_get("user_id")?,
        state: row.try_get("state")?,
        agent_id: row.try_get("agent_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Opens a hand-over for the conversation, or returns the one already open.
    pub async fn open_handoff(&self, new: &NewHandoff, now: i64) -> Result<Handoff> {
        sqlx::query(
            "INSERT INTO handoffs (id, session_id, channel, account, openid, user_id, state, agent_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'waiting', NULL, $7, $7) ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&new.session_id)
        .bind(&new.channel)
        .bind(&new.account)
        .bind(&new.openid)
        .bind(&new.user_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.open_handoff_of(&new.session_id)
            .await?
            .ok_or_else(|| crate::Error::NotFound(format!("handoff of {}", new.session_id)))
    }

    /// The conversation's open hand-over, if any.
    pub async fn open_handoff_of(&self, session_id: &str) -> Result<Option<Handoff>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM handoffs WHERE session_id = $1 AND state <> 'closed'"
        ))
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn handoff(&self, id: &str) -> Result<Option<Handoff>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM handoffs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The open hand-overs, oldest first: the agents' queue.
    pub async fn open_handoffs(&self) -> Result<Vec<Handoff>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM handoffs WHERE state <> 'closed' ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// A waiting hand-over's place in the queue (1: next), counting the waiting ones opened
    /// before it.
    pub async fn handoff_position(&self, handoff: &Handoff) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS ahead FROM handoffs WHERE state = 'waiting' AND (created_at < $1 OR (created_at = $1 AND id < $2))",
        )
        .bind(handoff.created_at)
        .bind(&handoff.id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("ahead")? + 1)
    }

    /// The conversation's latest hand-over, open or closed.
    pub async fn latest_handoff_of(&self, session_id: &str) -> Result<Option<Handoff>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM handoffs WHERE session_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Takes a waiting hand-over for `agent`; `None` when it is not waiting (another agent
    /// took it first, or it was closed). Taking one's own again is allowed.
    pub async fn take_handoff(&self, id: &str, agent: &str, now: i64) -> Result<Option<Handoff>> {
        let row = sqlx::query(&format!(
            "UPDATE handoffs SET state = 'taken', agent_id = $1, updated_at = $2 \
             WHERE id = $3 AND (state = 'waiting' OR (state = 'taken' AND agent_id = $1)) RETURNING {COLUMNS}"
        ))
        .bind(agent)
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Closes a hand-over its agent holds; `None` when that agent does not hold it.
    pub async fn close_handoff(&self, id: &str, agent: &str, now: i64) -> Result<Option<Handoff>> {
        let row = sqlx::query(&format!(
            "UPDATE handoffs SET state = 'closed', updated_at = $1 \
             WHERE id = $2 AND state = 'taken' AND agent_id = $3 RETURNING {COLUMNS}"
        ))
        .bind(now)
        .bind(id)
        .bind(agent)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Ends a hand-over nobody answers any more (no agent took it in time, or its agent went
    /// quiet); whether it was open.
    pub async fn expire_handoff(&self, id: &str, now: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE handoffs SET state = 'closed', updated_at = $1 WHERE id = $2 AND state <> 'closed'")
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The intent of the latest line of `role` (a decline is `out_of_scope`).
    pub async fn last_intent_of(&self, session_id: &str, role: &str) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT intent FROM messages WHERE session_id = $1 AND role = $2 ORDER BY id DESC LIMIT 1")
                .bind(session_id)
                .bind(role)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row
            .map(|row| row.try_get::<Option<String>, _>("intent"))
            .transpose()?
            .flatten())
    }

    /// Adds a line to a conversation's transcript outside a turn (a citizen's message while an
    /// agent holds the conversation, the agent's reply).
    pub async fn append_message(&self, session_id: &str, role: &str, text: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO messages (session_id, role, text, intent, payload, created_at) VALUES ($1, $2, $3, 'human', NULL, $4)",
        )
        .bind(session_id)
        .bind(role)
        .bind(text)
        .bind(now)
        .execute(&self.pool)
        .await?;
        sqlx::query("UPDATE sessions SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(session_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

//! The SQL store: conversations (sessions with their dialogue state) and transcripts, on
//! SQLite (default, one file) or PostgreSQL (production, several replicas).
//!
//! Key design decision: one code path for both databases through sqlx's `Any` driver, with
//! `$n` placeholders (both accept them) and portable column types (TEXT, BIGINT; times as unix
//! milliseconds). Each database has its own migration folder. A turn is saved in one
//! transaction with optimistic concurrency on the session's `version`, so two replicas
//! serving the same conversation never silently overwrite each other.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported database url {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot open database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Another replica saved the same session first; reload and retry.
    #[error("session {0} was changed concurrently")]
    Conflict(String),
    #[error("cannot create folder {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The workflow does not allow this step (a caller's mistake, not a fault).
    #[error("cannot go from {from} to {to}")]
    InvalidTransition { from: &'static str, to: &'static str },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("unknown state {0:?} in the database")]
    UnknownState(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

/// A stored conversation.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Session {
    pub id: String,
    pub user_id: Option<String>,
    /// The dialogue state, as JSON written by the `bot` crate (opaque here).
    pub state: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Message {
    /// Increasing within a conversation (a live view asks for the lines after the last it has).
    pub id: i64,
    pub role: String,
    pub text: String,
    pub intent: Option<String>,
    pub payload: Option<String>,
    pub created_at: i64,
}

/// What one turn writes: the new state and the two transcript lines.
#[derive(Debug, Clone)]
pub struct Turn<'a> {
    pub session_id: &'a str,
    pub user_id: Option<&'a str>,
    /// The version read before the turn; `None` for a new session.
    pub expected_version: Option<i64>,
    pub state: &'a str,
    pub user_text: &'a str,
    pub bot_text: &'a str,
    pub intent: &'a str,
    pub payload: &'a str,
    /// Unix milliseconds, from the caller's clock.
    pub now: i64,
}

#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    kind: DbKind,
}

/// The system clock in unix milliseconds: for the caller's production clock only; nothing in
/// this crate reads it (every workflow takes `now` from its caller).
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A transaction: one turn, or one workflow step, written whole or not at all. Every write
/// begins by claiming the row it is about (the session, the ticket, the application), so
/// that on PostgreSQL concurrent writers of the same object wait for each other (row lock)
/// and on SQLite the transaction holds the write lock before it reads anything.
pub struct Tx {
    pub(crate) inner: sqlx::Transaction<'static, sqlx::Any>,
    #[allow(dead_code)] // kept for dialect choices inside a transaction
    pub(crate) kind: DbKind,
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        self.inner.commit().await?;
        Ok(())
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.inner
    }

    /// The first write of a turn: a new session, or the next version of an existing one.
    /// Another turn of the same session that saved first makes this a `Conflict` (nothing
    /// of this transaction is kept then, so the caller can reread and answer again).
    pub async fn claim_session(
        &mut self,
        session_id: &str,
        user_id: Option<&str>,
        expected_version: Option<i64>,
        now: i64,
    ) -> Result<i64> {
        match expected_version {
            None => {
                let inserted = sqlx::query(
                    "INSERT INTO sessions (id, user_id, state, version, created_at, updated_at) \
                     VALUES ($1, $2, '{}', 1, $3, $3)",
                )
                .bind(session_id)
                .bind(user_id)
                .bind(now)
                .execute(self.conn())
                .await;
                match inserted {
                    Ok(_) => Ok(1),
                    Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                        Err(Error::Conflict(session_id.to_string()))
                    }
                    Err(err) => Err(err.into()),
                }
            }
            Some(expected) => {
                let updated = sqlx::query(
                    "UPDATE sessions SET version = version + 1, updated_at = $1, user_id = COALESCE($2, user_id) \
                     WHERE id = $3 AND version = $4",
                )
                .bind(now)
                .bind(user_id)
                .bind(session_id)
                .bind(expected)
                .execute(self.conn())
                .await?;
                if updated.rows_affected() != 1 {
                    return Err(Error::Conflict(session_id.to_string()));
                }
                Ok(expected + 1)
            }
        }
    }

    /// The rest of a turn, after its effects: the session's state and both transcript lines.
    pub async fn finish_turn(&mut self, turn: &Turn<'_>) -> Result<()> {
        sqlx::query("UPDATE sessions SET state = $1 WHERE id = $2")
            .bind(turn.state)
            .bind(turn.session_id)
            .execute(self.conn())
            .await?;
        for (role, text, intent, payload) in [
            ("user", turn.user_text, None, None),
            ("bot", turn.bot_text, Some(turn.intent), Some(turn.payload)),
        ] {
            sqlx::query(
                "INSERT INTO messages (session_id, role, text, intent, payload, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(turn.session_id)
            .bind(role)
            .bind(text)
            .bind(intent)
            .bind(payload)
            .bind(turn.now)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// The next number of a per-day sequence: `{prefix}{day}{n:06}`, never reused (the
    /// counter row is locked until this transaction ends).
    pub async fn next_number(&mut self, prefix: &str, now: i64) -> Result<String> {
        let day = knowledge::time::day_code(now);
        let name = format!("{prefix}{day}");
        sqlx::query("INSERT INTO counters (name, value) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING")
            .bind(&name)
            .execute(self.conn())
            .await?;
        let row = sqlx::query("UPDATE counters SET value = value + 1 WHERE name = $1 RETURNING value")
            .bind(&name)
            .fetch_one(self.conn())
            .await?;
        let value: i64 = row.try_get("value")?;
        Ok(format!("{name}{value:06}"))
    }
}

impl Store {
    /// Opens (creating the SQLite file and its folder when needed) and migrates.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let kind = if url.starts_with("sqlite:") {
            DbKind::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            DbKind::Postgres
        } else {
            return Err(Error::UnsupportedUrl(url.to_string()));
        };
        let mut url = url.to_string();
        if kind == DbKind::Sqlite {
            if let Some(parent) = sqlite_path(&url).and_then(|p| p.parent().map(Path::to_path_buf))
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(&parent).map_err(|source| Error::Io {
                    path: parent.display().to_string(),
                    source,
                })?;
            }
            if !url.contains("mode=") && !url.contains(":memory:") {
                url.push_str(if url.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
            }
        }
        let options = AnyConnectOptions::from_str(&url).map_err(|source| Error::Open {
            url: redact(&url),
            source,
        })?;
        let pool = AnyPoolOptions::new()
            .max_connections(if kind == DbKind::Sqlite { 4 } else { 10 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if kind == DbKind::Sqlite {
                        sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|source| Error::Open {
                url: redact(&url),
                source,
            })?;
        if kind == DbKind::Sqlite {
            // WAL lets readers proceed while a turn is written; persistent for the file.
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await.ok();
        }
        let migrator = match kind {
            DbKind::Sqlite => &SQLITE_MIGRATIONS,
            DbKind::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await?;
        Ok(Store { pool, kind })
    }

    pub fn kind(&self) -> DbKind {
        self.kind
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn session(&self, id: &str) -> Result<Option<Session>> {
        Ok(sqlx::query_as::<_, Session>(
            "SELECT id, user_id, state, version, created_at, updated_at FROM sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Saves a turn atomically: the session's new state and both transcript lines, or
    /// nothing. Returns the session's new version.
    pub async fn save_turn(&self, turn: &Turn<'_>) -> Result<i64> {
        let mut tx = self.begin().await?;
        let version = tx
            .claim_session(turn.session_id, turn.user_id, turn.expected_version, turn.now)
            .await?;
        tx.finish_turn(turn).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Starts a transaction for a workflow that must happen whole or not at all.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(Tx {
            inner: self.pool.begin().await?,
            kind: self.kind,
        })
    }
    /// The transcript of a session, oldest first.
    pub async fn messages(&self, session_id: &str) -> Result<Vec<Message>> {
        Ok(sqlx::query_as::<_, Message>(
            "SELECT id, role, text, intent, payload, created_at FROM messages WHERE session_id = $1 ORDER BY id",
        )
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The transcript lines after line `after` (0: all), oldest first: what a live view has
    /// not shown yet.
    pub async fn messages_after(&self, session_id: &str, after: i64) -> Result<Vec<Message>> {
        Ok(sqlx::query_as::<_, Message>(
            "SELECT id, role, text, intent, payload, created_at FROM messages WHERE session_id = $1 AND id > $2 ORDER BY id",
        )
        .bind(session_id)
        .bind(after)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The id of a conversation's latest transcript line (0 when it has none).
    pub async fn last_message_id(&self, session_id: &str) -> Result<i64> {
        let row = sqlx::query("SELECT MAX(id) AS last FROM messages WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(sqlx::Row::try_get::<Option<i64>, _>(&row, "last")?.unwrap_or(0))
    }

    /// A logged-in user's conversations, latest first, each with its first question as title.
    pub async fn sessions_of(&self, user_id: &str, limit: i64) -> Result<Vec<(Session, Option<String>)>> {
        let sessions = sqlx::query_as::<_, Session>(
            "SELECT id, user_id, state, version, created_at, updated_at FROM sessions WHERE user_id = $1 \
             ORDER BY updated_at DESC, id LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(sessions.len());
        for session in sessions {
            let row =
                sqlx::query("SELECT text FROM messages WHERE session_id = $1 AND role = 'user' ORDER BY id LIMIT 1")
                    .bind(&session.id)
                    .fetch_optional(&self.pool)
                    .await?;
            let title = row
                .map(|row| sqlx::Row::try_get::<String, _>(&row, "text"))
                .transpose()?;
            out.push((session, title));
        }
        Ok(out)
    }

    /// Retention: deletes the sessions (and their transcripts) not used since `cutoff`
    /// (unix ms). Returns how many sessions were deleted.
    pub async fn purge_sessions_before(&self, cutoff: i64) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM messages WHERE session_id IN (SELECT id FROM sessions WHERE updated_at < $1)")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM sessions WHERE updated_at < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected())
    }

    /// A consistent copy of an SQLite database while it is in use (`VACUUM INTO`): the file
    /// `to` must not exist yet. PostgreSQL has its own tools (pg_dump, base backups).
    pub async fn backup_sqlite(&self, to: &std::path::Path) -> Result<()> {
        if self.kind != DbKind::Sqlite {
            return Err(Error::UnsupportedUrl(
                "备份命令只用于 SQLite；PostgreSQL 请用 pg_dump 或物理备份".into(),
            ));
        }
        if to.exists() {
            return Err(Error::Io {
                path: to.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "备份文件已存在，请换一个文件名"),
            });
        }
        sqlx::query("VACUUM INTO $1")
            .bind(to.display().to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn n_sessions(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM sessions")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}

fn sqlite_path(url: &str) -> Option<&Path> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| Path::new(path))
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!("{}://{}:***{}", &url[..scheme], &credentials[..colon], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

mod applications;
mod appointments;
mod audit;
mod channels;
mod dashboard;
mod gaps;
mod handoffs;
mod idempotency;
mod inbox;
mod ratings;
mod settings;
#[cfg(feature = "testing")]
pub mod testing;
mod tickets;
mod uploads;
pub use appointments::{Appointment, BookError, Booking};
pub use audit::AccessEntry;
pub use dashboard::{GroupCounts, OverdueTicket, WeekCounts};
pub use gaps::Gap;
pub use inbox::{InboxItem, NewInboxItem};
pub use uploads::{NewUpload, Upload};

pub use channels::PlatformUser;
pub use handoffs::{Handoff, NewHandoff};
pub use idempotency::Replay;

pub use applications::{AppState, Application, ELicense, Event, NewApplication, User};
pub use ratings::{NewRating, Rating, RatingStats, Rectification};
pub use tickets::{
    Coop, HotlineCounts, NewTicket, Notification, SWEEPER_LOCK, StepChanges, Ticket, TicketEvent, TicketState,
};

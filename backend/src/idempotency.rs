//! Stored first answers for retried requests (the `Idempotency-Key` header, IETF httpapi
//! draft): the first request with a key runs and its response is kept; a retry with the same
//! key gets that response; a retry while the first still runs is told to wait; the same key
//! with a different request is refused. A key whose first request died (a crash before its
//! response was stored) can be taken over after `stale_ms`.

use sqlx::Row;

use crate::{Result, Store};

/// What to do with a request that carries an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub enum Replay {
    /// First time (or a dead first attempt taken over): run it, then `idempotency_finish`.
    Fresh,
    /// Answered before: send this again.
    Done { status: u16, response: String },
    /// The first request with this key is still running.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

impl Store {
    pub async fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        now: i64,
        stale_ms: i64,
    ) -> Result<Replay> {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, request_hash, status, response, created_at) \
             VALUES ($1, $2, $3, NULL, NULL, $4) ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Replay::Fresh);
        }
        let row = sqlx::query(
            "SELECT request_hash, status, response, created_at FROM idempotency_keys WHERE scope = $1 AND key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            // Deleted between the two statements (an abandoned attempt): run it.
            return Ok(Replay::Fresh);
        };
        let stored_hash: String = row.try_get("request_hash")?;
        if stored_hash != request_hash {
            return Ok(Replay::Mismatch);
        }
        let status: Option<i64> = row.try_get("status")?;
        let response: Option<String> = row.try_get("response")?;
        let created_at: i64 = row.try_get("created_at")?;
        match (status, response) {
            (Some(status), Some(response)) => Ok(Replay::Done {
                status: u16::try_from(status).unwrap_or(200),
                response,
            }),
            _ if now - created_at > stale_ms => {
                let taken = sqlx::query(
                    "UPDATE idempotency_keys SET created_at = $1 WHERE scope = $2 AND key = $3 \
                     AND created_at = $4 AND status IS NULL",
                )
                .bind(now)
                .bind(scope)
                .bind(key)
                .bind(created_at)
                .execute(&self.pool)
                .await?;
                Ok(if taken.rows_affected() == 1 {
                    Replay::Fresh
                } else {
                    Replay::InFlight
                })
            }
            _ => Ok(Replay::InFlight),
        }
    }

    /// Keeps the answer of a request that ran.
    pub async fn idempotency_finish(&self, scope: &str, key: &str, status: u16, response: &str) -> Result<()> {
        sqlx::query("UPDATE idempotency_keys SET status = $1, response = $2 WHERE scope = $3 AND key = $4")
            .bind(i64::from(status))
            .bind(response)
            .bind(scope)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Takes a stored answer for delivery, once: the first caller gets it (status 200 becomes
    /// 201), every later one `None`. For answers that must reach someone once whichever of
    /// several retries or senders asks (a messaging platform's passive reply or a message
    /// sent later).
    pub async fn idempotency_claim(&self, scope: &str, key: &str) -> Result<Option<String>> {
        let row = sqlx::query(
            "UPDATE idempotency_keys SET status = 201 WHERE scope = $1 AND key = $2 AND status = 200 \
             RETURNING response",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => row.try_get::<Option<String>, _>("response")?,
            None => None,
        })
    }

    /// Puts a claimed answer back (its delivery failed): the next claim gets it.
    pub async fn idempotency_unclaim(&self, scope: &str, key: &str) -> Result<()> {
        sqlx::query("UPDATE idempotency_keys SET status = 200 WHERE scope = $1 AND key = $2 AND status = 201")
            .bind(scope)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets a key whose request failed on our side, so that a retry runs again.
    pub async fn idempotency_abandon(&self, scope: &str, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL")
            .bind(scope)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Retention: forgets keys older than `cutoff` (unix ms).
    pub async fn purge_idempotency_before(&self, cutoff: i64) -> Result<u64> {
        let deleted = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }
}

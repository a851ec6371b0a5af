//! Knowledge gaps as recorded: one row a declined or unsure turn, or a bad rating's reason,
//! its text already masked by the caller.

use sqlx::Row;

use crate::{Result, Store, Tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub id: String,
    /// declined, unsure or bad_rating
    pub kind: String,
    pub text: String,
    /// The closest guide at the time, if any.
    pub closest: Option<String>,
    pub created_at: i64,
}

impl Tx {
    /// Records a gap with the turn that found it.
    pub async fn add_gap(&mut self, kind: &str, text: &str, closest: Option<&str>, now: i64) -> Result<()> {
        sqlx::query("INSERT INTO gaps (id, kind, text, closest, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(format!("gap-{}", uuid::Uuid::new_v4().simple()))
            .bind(kind)
            .bind(text)
            .bind(closest)
            .bind(now)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    pub async fn add_gap(&self, kind: &str, text: &str, closest: Option<&str>, now: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.add_gap(kind, text, closest, now).await?;
        tx.commit().await
    }

    /// Gaps recorded from `since` on, oldest first (at most `limit`).
    pub async fn gaps_since(&self, since: i64, limit: i64) -> Result<Vec<Gap>> {
        let rows = sqlx::query(
            "SELECT id, kind, text, closest, created_at FROM gaps WHERE created_at >= $1 \
             ORDER BY created_at, id LIMIT $2",
        )
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Gap {
                    id: row.try_get("id")?,
                    kind: row.try_get("kind")?,
                    text: row.try_get("text")?,
                    closest: row.try_get("closest")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }
}

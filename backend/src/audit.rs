//! The access log: every read of a citizen's application, ticket or conversation by someone
//! other than the citizen (migration 0008).

use sqlx::Row;

use crate::{Result, Store};

/// One read by staff, an agent or an admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    pub actor: String,
    /// dept_staff, agent or admin.
    pub actor_role: String,
    /// read
    pub action: String,
    /// application, ticket or conversation.
    pub object_kind: String,
    pub object_id: String,
    /// The citizen whose thing it is, when known.
    pub owner_id: Option<String>,
    pub at: i64,
}

impl Store {
    pub async fn record_access(&self, entry: &AccessEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (actor, actor_role, action, object_kind, object_id, owner_id, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&entry.actor)
        .bind(&entry.actor_role)
        .bind(&entry.action)
        .bind(&entry.object_kind)
        .bind(&entry.object_id)
        .bind(&entry.owner_id)
        .bind(entry.at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The reads of one citizen's things, latest first.
    pub async fn access_of_owner(&self, owner_id: &str, limit: i64) -> Result<Vec<AccessEntry>> {
        let rows = sqlx::query(
            "SELECT actor, actor_role, action, object_kind, object_id, owner_id, at FROM audit_log \
             WHERE owner_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(owner_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AccessEntry {
                    actor: row.try_get("actor")?,
                    actor_role: row.try_get("actor_role")?,
                    action: row.try_get("action")?,
                    object_kind: row.try_get("object_kind")?,
                    object_id: row.try_get("object_id")?,
                    owner_id: row.try_get("owner_id")?,
                    at: row.try_get("at")?,
                })
            })
            .collect()
    }
}

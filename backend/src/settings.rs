//! Settings shared by every replica (`settings(key, value)`), such as the token signing key
//! the server generates when none is configured.

use sqlx::Row;

use crate::{Result, Store};

impl Store {
    /// The value stored under `key`, if any.
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get("value")).transpose()?)
    }

    /// The value stored under `key`, storing `candidate` first when there is none. The first
    /// writer wins: replicas starting together each offer their own candidate and all read
    /// back the same value.
    pub async fn setting_or_insert(&self, key: &str, candidate: &str) -> Result<String> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(candidate)
            .execute(&self.pool)
            .await?;
        self.setting(key)
            .await?
            .ok_or_else(|| crate::Error::NotFound(format!("setting {key}")))
    }
}

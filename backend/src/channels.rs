//! Platform identities bound to banshi users: a WeChat or WeCom user (channel, account,
//! openid) acts as the banshi user who proved control of it with a one-time code.

use sqlx::Row;

use crate::{Result, Store};

/// A platform user of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformUser {
    pub channel: String,
    pub account: String,
    pub openid: String,
}

impl Store {
    /// Keeps a one-time binding code for a platform user until `expires_at` (unix ms).
    pub async fn put_bind_code(&self, code: &str, who: &PlatformUser, expires_at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO channel_bind_codes (code, channel, account, openid, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(code)
        .bind(&who.channel)
        .bind(&who.account)
        .bind(&who.openid)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Uses a binding code (once, before it expires): the platform user it was sent to is
    /// bound to `user_id` from now on (replacing an earlier binding). `None` for an unknown,
    /// used or expired code.
    pub async fn bind_with_code(&self, code: &str, user_id: &str, now: i64) -> Result<Option<PlatformUser>> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "DELETE FROM channel_bind_codes WHERE code = $1 AND expires_at > $2 RETURNING channel, account, openid",
        )
        .bind(code)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let who = PlatformUser {
            channel: row.try_get("channel")?,
            account: row.try_get("account")?,
            openid: row.try_get("openid")?,
        };
        sqlx::query(
            "INSERT INTO channel_bindings (channel, account, openid, user_id, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (channel, account, openid) DO UPDATE SET user_id = excluded.user_id, created_at = excluded.created_at",
        )
        .bind(&who.channel)
        .bind(&who.account)
        .bind(&who.openid)
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(who))
    }

    /// The banshi user a platform user is bound to, if any.
    pub async fn bound_user(&self, who: &PlatformUser) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT user_id FROM channel_bindings WHERE channel = $1 AND account = $2 AND openid = $3")
                .bind(&who.channel)
                .bind(&who.account)
                .bind(&who.openid)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|row| row.try_get("user_id")).transpose()?)
    }

    /// Ends a binding; whether there was one.
    pub async fn unbind(&self, who: &PlatformUser) -> Result<bool> {
        let done = sqlx::query("DELETE FROM channel_bindings WHERE channel = $1 AND account = $2 AND openid = $3")
            .bind(&who.channel)
            .bind(&who.account)
            .bind(&who.openid)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

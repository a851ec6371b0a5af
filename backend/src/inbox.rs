//! 服务找人: what the daily reminder job found due for a person, written once an occasion
//! (the unique `occasion` key), with a copy in the notification outbox that the channels
//! deliver; and the people who switched reminders off.

use sqlx::Row;

use crate::{ELicense, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInboxItem {
    pub user_id: String,
    /// The rule in `reminders.toml` that found it.
    pub rule_id: String,
    pub service_id: String,
    /// Shown to the citizen: why this is suggested.
    pub reason: String,
    /// `YYYY-MM-DD`, when it falls due (a licence's expiry), if any.
    pub due: Option<String>,
    /// Names the occasion (rule, licence, expiry date): the same occasion is written once.
    pub occasion: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    pub id: String,
    pub user_id: String,
    pub rule_id: String,
    pub service_id: String,
    pub reason: String,
    pub due: Option<String>,
    /// new or done
    pub state: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, user_id, rule_id, service_id, reason, due, state, created_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<InboxItem> {
    Ok(InboxItem {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        rule_id: row.try_get("rule_id")?,
        service_id: row.try_get("service_id")?,
        reason: row.try_get("reason")?,
        due: row.try_get("due")?,
        state: row.try_get("state")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Writes a reminder and its notification, unless this occasion was already written;
    /// returns whether it was new.
    pub async fn add_inbox_item(&self, new: &NewInboxItem, now: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO inbox (id, user_id, rule_id, service_id, reason, due, occasion, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'new', $8) ON CONFLICT DO NOTHING",
        )
        .bind(format!("inb-{}", uuid::Uuid::new_v4().simple()))
        .bind(&new.user_id)
        .bind(&new.rule_id)
        .bind(&new.service_id)
        .bind(&new.reason)
        .bind(&new.due)
        .bind(&new.occasion)
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected();
        if inserted == 1 {
            sqlx::query(
                "INSERT INTO notifications (recipient, ticket_number, text, created_at, sent_at) \
                 VALUES ($1, NULL, $2, $3, NULL)",
            )
            .bind(&new.user_id)
            .bind(&new.reason)
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await?;
        Ok(inserted == 1)
    }

    /// A person's pending reminders, newest first.
    pub async fn inbox(&self, user_id: &str) -> Result<Vec<InboxItem>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM inbox WHERE user_id = $1 AND state = 'new' ORDER BY created_at DESC, id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Marks a person's reminders for a service done (they started it); returns how many.
    pub async fn finish_inbox_items(&self, user_id: &str, service_id: &str) -> Result<u64> {
        Ok(
            sqlx::query("UPDATE inbox SET state = 'done' WHERE user_id = $1 AND service_id = $2 AND state = 'new'")
                .bind(user_id)
                .bind(service_id)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Switches a person's reminders on or off.
    pub async fn set_reminders(&self, user_id: &str, on: bool, now: i64) -> Result<()> {
        if on {
            sqlx::query("DELETE FROM reminder_optouts WHERE user_id = $1")
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        } else {
            sqlx::query("INSERT INTO reminder_optouts (user_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(user_id)
                .bind(now)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    pub async fn reminders_on(&self, user_id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT user_id FROM reminder_optouts WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_none())
    }

    /// Every e-licence of every person who has not switched reminders off, by holder.
    pub async fn e_licenses_for_reminders(&self) -> Result<Vec<ELicense>> {
        let rows = sqlx::query(
            "SELECT holder_id, kind, number, issued_on, expires_on, fields FROM e_licenses \
             WHERE holder_id NOT IN (SELECT user_id FROM reminder_optouts) ORDER BY holder_id, kind",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ELicense {
                    holder_id: row.try_get("holder_id")?,
                    kind: row.try_get("kind")?,
                    number: row.try_get("number")?,
                    issued_on: row.try_get("issued_on")?,
                    expires_on: row.try_get("expires_on")?,
                    fields: row.try_get("fields")?,
                })
            })
            .collect()
    }
}

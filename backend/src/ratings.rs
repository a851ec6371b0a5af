//! 好差评: one rating per target (application, ticket, conversation) per citizen, changeable
//! within a window; a bad rating opens a rectification task (verify → rectify → return visit)
//! with a deadline; a department may appeal a malicious rating; statistics by department,
//! service, channel and month.

use std::collections::BTreeMap;

use sqlx::Row;

use crate::{Error, Result, Store};

/// The five levels, 5 = 非常满意 … 1 = 非常不满意.
pub const LEVELS: [&str; 5] = ["非常不满意", "不满意", "基本满意", "满意", "非常满意"];

#[derive(Debug, Clone, PartialEq)]
pub struct Rating {
    pub id: String,
    pub target_kind: String,
    pub target_id: String,
    pub citizen_id: String,
    pub level: i64,
    pub tags: Vec<String>,
    pub comment: String,
    pub channel: String,
    pub department: String,
    pub service_id: Option<String>,
    pub excluded: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Rating {
    pub fn is_bad(&self) -> bool {
        self.level <= 2
    }
}

#[derive(Debug, Clone)]
pub struct NewRating {
    pub target_kind: String,
    pub target_id: String,
    pub citizen_id: String,
    pub level: i64,
    pub tags: Vec<String>,
    pub comment: String,
    pub channel: String,
    pub department: String,
    pub service_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Rectification {
    pub rating_id: String,
    pub department: String,
    /// open, verified, rectified, visited, appealed, appeal_upheld
    pub state: String,
    pub due: i64,
    pub verification: Option<String>,
    pub rectification: Option<String>,
    pub return_visit: Option<String>,
    pub appeal: Option<String>,
    pub done_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RatingStats {
    pub n_ratings: usize,
    /// 基本满意 or better.
    pub n_satisfied: usize,
    pub n_bad: usize,
    pub n_rectified: usize,
    pub n_rectified_on_time: usize,
}

impl RatingStats {
    pub fn satisfaction_rate(&self) -> f64 {
        if self.n_ratings == 0 {
            0.0
        } else {
            self.n_satisfied as f64 / self.n_ratings as f64
        }
    }
}

const RECTIFICATION_COLUMNS: &str =
    "rating_id, department, state, due, verification, rectification, return_visit, appeal, done_at";

const RATING_COLUMNS: &str = "id, target_kind, target_id, citizen_id, level, tags, comment, channel, department, \
     service_id, excluded, created_at, updated_at";

fn rating_from_row(row: &sqlx::any::AnyRow) -> Result<Rating> {
    let tags: String = row.try_get("tags")?;
    Ok(Rating {
        id: row.try_get("id")?,
        target_kind: row.try_get("target_kind")?,
        target_id: row.try_get("target_id")?,
        citizen_id: row.try_get("citizen_id")?,
        level: row.try_get("level")?,
        tags: tags.split('|').filter(|t| !t.is_empty()).map(str::to_string).collect(),
        comment: row.try_get("comment")?,
        channel: row.try_get("channel")?,
        department: row.try_get("department")?,
        service_id: row.try_get("service_id")?,
        excluded: row.try_get::<i64, _>("excluded")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Rates a target in a transaction of its own; see [`Tx::rate`].
    pub async fn rate(
        &self,
        new: &NewRating,
        window_ms: i64,
        rectification_due: i64,
        now: i64,
    ) -> Result<(Rating, bool)> {
        let mut tx = self.begin().await?;
        let rated = tx.rate(new, window_ms, rectification_due, now).await?;
        tx.commit().await?;
        Ok(rated)
    }

    pub async fn rating(&self, id: &str) -> Result<Option<Rating>> {
        let row = sqlx::query(&format!("SELECT {RATING_COLUMNS} FROM ratings WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rating_from_row).transpose()
    }

    pub async fn rectification(&self, rating_id: &str) -> Result<Option<Rectification>> {
        let row = sqlx::query_as::<_, Rectification>(&format!(
            "SELECT {RECTIFICATION_COLUMNS} FROM rectifications WHERE rating_id = $1"
        ))
        .bind(rating_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    pub async fn rectifications_of(&self, department: &str) -> Result<Vec<Rectification>> {
        let rows = sqlx::query_as::<_, Rectification>(&format!(
            "SELECT {RECTIFICATION_COLUMNS} FROM rectifications WHERE department = $1 ORDER BY due"
        ))
        .bind(department)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// A step of the rectification: `verified`, `rectified`, `visited` (return visit), or
    /// `appealed`; `appeal_upheld` / `appeal_rejected` decide an appeal (an upheld appeal takes
    /// the rating out of the statistics).
    pub async fn rectify(&self, rating_id: &str, step: &str, text: &str, now: i64) -> Result<Rectification> {
        let current = self
            .rectification(rating_id)
            .await?
            .ok_or_else(|| Error::NotFound(rating_id.to_string()))?;
        let (column, to): (Option<&str>, &str) = match (current.state.as_str(), step) {
            ("open", "verified") => (Some("verification"), "verified"),
            ("verified", "rectified") => (Some("rectification"), "rectified"),
            ("rectified", "visited") => (Some("return_visit"), "visited"),
            ("open" | "verified", "appealed") => (Some("appeal"), "appealed"),
            ("appealed", "appeal_upheld") => (None, "appeal_upheld"),
            ("appealed", "appeal_rejected") => (None, "open"),
            (from, _) => {
                let from: &'static str = match from {
                    "open" => "open",
                    "verified" => "verified",
                    "rectified" => "rectified",
                    "visited" => "visited",
                    "appealed" => "appealed",
                    _ => "appeal_upheld",
                };
                return Err(Error::InvalidTransition { from, to: "next" });
            }
        };
        let mut tx = self.pool.begin().await?;
        let done_at = if to == "rectified" { Some(now) } else { current.done_at };
        let sql = match column {
            Some(column) => format!(
                "UPDATE rectifications SET state = $1, {column} = $2, done_at = $3, updated_at = $4 WHERE rating_id = $5 \
                 AND state = $6"
            ),
            None => {
                "UPDATE rectifications SET state = $1, appeal = COALESCE(appeal, $2), done_at = $3, updated_at = $4 \
                     WHERE rating_id = $5 AND state = $6"
                    .to_string()
            }
        };
        let updated = sqlx::query(&sql)
            .bind(to)
            .bind(text)
            .bind(done_at)
            .bind(now)
            .bind(rating_id)
            .bind(&current.state)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() != 1 {
            // Another step on the same task came first: that step stands, this one is retried by the caller.
            return Err(Error::Conflict(rating_id.to_string()));
        }
        if to == "appeal_upheld" {
            sqlx::query("UPDATE ratings SET excluded = 1 WHERE id = $1")
                .bind(rating_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.rectification(rating_id)
            .await?
            .ok_or_else(|| Error::NotFound(rating_id.to_string()))
    }

    /// Statistics grouped by `department`, `service`, `channel` or `month` (YYYYMM, China
    /// time), counted by the database; `target_kind` keeps only ratings of that kind of
    /// target (the hotline's satisfaction counts ticket ratings only).
    pub async fn rating_stats(
        &self,
        group_by: &str,
        target_kind: Option<&str>,
    ) -> Result<BTreeMap<String, RatingStats>> {
        self.rating_stats_of(group_by, target_kind, None).await
    }

    /// [`Store::rating_stats`] of one department's ratings only (`None`: all).
    pub async fn rating_stats_of(
        &self,
        group_by: &str,
        target_kind: Option<&str>,
        department: Option<&str>,
    ) -> Result<BTreeMap<String, RatingStats>> {
        let key = match group_by {
            "service" => "COALESCE(r.service_id, '(' || r.target_kind || ')')",
            "channel" => "r.channel",
            "month" => match self.kind() {
                crate::DbKind::Sqlite => "strftime('%Y%m', (r.created_at + 28800000) / 1000, 'unixepoch')",
                crate::DbKind::Postgres => {
                    "to_char(to_timestamp((r.created_at + 28800000) / 1000) AT TIME ZONE 'UTC', 'YYYYMM')"
                }
            },
            _ => "r.department",
        };
        let sql = format!(
            "SELECT {key} AS k, COUNT(*) AS n, \
             SUM(CASE WHEN r.level >= 3 THEN 1 ELSE 0 END) AS satisfied, \
             SUM(CASE WHEN r.level <= 2 THEN 1 ELSE 0 END) AS bad, \
             SUM(CASE WHEN r.level <= 2 AND x.done_at IS NOT NULL THEN 1 ELSE 0 END) AS rectified, \
             SUM(CASE WHEN r.level <= 2 AND x.done_at IS NOT NULL AND x.done_at <= x.due THEN 1 ELSE 0 END) AS on_time \
             FROM ratings r LEFT JOIN rectifications x ON x.rating_id = r.id \
             WHERE r.excluded = 0 AND ($1 = '' OR r.target_kind = $1) AND ($2 = '' OR r.department = $2) GROUP BY {key}"
        );
        let rows = sqlx::query(&sql)
            .bind(target_kind.unwrap_or(""))
            .bind(department.unwrap_or(""))
            .fetch_all(&self.pool)
            .await?;
        let count = |row: &sqlx::any::AnyRow, column: &str| -> Result<usize> {
            Ok(usize::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
        };
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get::<String, _>("k")?,
                    RatingStats {
                        n_ratings: count(row, "n")?,
                        n_satisfied: count(row, "satisfied")?,
                        n_bad: count(row, "bad")?,
                        n_rectified: count(row, "rectified")?,
                        n_rectified_on_time: count(row, "on_time")?,
                    },
                ))
            })
            .collect()
    }
}

impl crate::Tx {
    async fn existing_rating(&mut self, new: &NewRating) -> Result<Option<Rating>> {
        let row = sqlx::query(&format!(
            "SELECT {RATING_COLUMNS} FROM ratings WHERE target_kind = $1 AND target_id = $2 AND citizen_id = $3"
        ))
        .bind(&new.target_kind)
        .bind(&new.target_id)
        .bind(&new.citizen_id)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(rating_from_row).transpose()
    }

    /// Changes a citizen's earlier rating while the window is open.
    async fn change_rating(&mut self, new: &NewRating, old: Rating, window_ms: i64, now: i64) -> Result<String> {
        if now - old.created_at > window_ms {
            return Err(Error::InvalidTransition {
                from: "rated",
                to: "changed_after_window",
            });
        }
        sqlx::query("UPDATE ratings SET level = $1, tags = $2, comment = $3, updated_at = $4 WHERE id = $5")
            .bind(new.level)
            .bind(new.tags.join("|"))
            .bind(&new.comment)
            .bind(now)
            .bind(&old.id)
            .execute(self.conn())
            .await?;
        Ok(old.id)
    }

    /// Rates a target. A second rating of the same target by the same citizen changes the
    /// first while `now` is within `window_ms` of it, and is refused after. A bad rating opens
    /// a rectification due at `rectification_due`. Returns the rating and whether it was new.
    pub async fn rate(
        &mut self,
        new: &NewRating,
        window_ms: i64,
        rectification_due: i64,
        now: i64,
    ) -> Result<(Rating, bool)> {
        // A write first: the citizen's earlier rating of this target is locked (PostgreSQL),
        // and SQLite holds the write lock before this transaction reads.
        sqlx::query("UPDATE ratings SET level = level WHERE target_kind = $1 AND target_id = $2 AND citizen_id = $3")
            .bind(&new.target_kind)
            .bind(&new.target_id)
            .bind(&new.citizen_id)
            .execute(self.conn())
            .await?;
        let (id, created) = match self.existing_rating(new).await? {
            Some(old) => (self.change_rating(new, old, window_ms, now).await?, false),
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                // A concurrent first rating of the same target by the same citizen waits for
                // ours (or we for it) on the unique index; the loser changes the winner's.
                let inserted = sqlx::query(&format!(
                    "INSERT INTO ratings ({RATING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $11) \
                     ON CONFLICT (target_kind, target_id, citizen_id) DO NOTHING"
                ))
                .bind(&id)
                .bind(&new.target_kind)
                .bind(&new.target_id)
                .bind(&new.citizen_id)
                .bind(new.level)
                .bind(new.tags.join("|"))
                .bind(&new.comment)
                .bind(&new.channel)
                .bind(&new.department)
                .bind(&new.service_id)
                .bind(now)
                .execute(self.conn())
                .await?;
                if inserted.rows_affected() == 1 {
                    (id, true)
                } else {
                    let old = self
                        .existing_rating(new)
                        .await?
                        .ok_or_else(|| Error::Conflict(new.target_id.clone()))?;
                    (self.change_rating(new, old, window_ms, now).await?, false)
                }
            }
        };
        if new.level <= 2 {
            let open = sqlx::query("SELECT rating_id FROM rectifications WHERE rating_id = $1")
                .bind(&id)
                .fetch_optional(self.conn())
                .await?;
            if open.is_none() {
                sqlx::query(
                    "INSERT INTO rectifications (rating_id, department, state, due, verification, rectification, \
                     return_visit, appeal, done_at, created_at, updated_at) \
                     VALUES ($1, $2, 'open', $3, NULL, NULL, NULL, NULL, NULL, $4, $4)",
                )
                .bind(&id)
                .bind(&new.department)
                .bind(rectification_due)
                .bind(now)
                .execute(self.conn())
                .await?;
                crate::tickets::notify(
                    self.conn(),
                    &format!("dept:{}", new.department),
                    &new.target_id,
                    &format!(
                        "收到差评（{}），请在期限内核实、整改并回访。",
                        LEVELS[(new.level.clamp(1, 5) - 1) as usize]
                    ),
                    now,
                )
                .await?;
            }
        }
        let row = sqlx::query(&format!("SELECT {RATING_COLUMNS} FROM ratings WHERE id = $1"))
            .bind(&id)
            .fetch_one(self.conn())
            .await?;
        Ok((rating_from_row(&row)?, created))
    }
}

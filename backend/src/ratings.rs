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

#[derive(Debug, Clone, PartialEq)]
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

fn rectification_from_row(row: &sqlx::any::AnyRow) -> Result<Rectification> {
    Ok(Rectification {
        rating_id: row.try_get("rating_id")?,
        department: row.try_get("department")?,
        state: row.try_get("state")?,
        due: row.try_get("due")?,
        verification: row.try_get("verification")?,
        rectification: row.try_get("rectification")?,
        return_visit: row.try_get("return_visit")?,
        appeal: row.try_get("appeal")?,
        done_at: row.try_get("done_at")?,
    })
}

impl Store {
    /// Rates a target. A second rating of the same target by the same citizen changes the
    /// first while `now` is within `window_ms` of it, and is refused after. A bad rating opens
    /// a rectification due at `rectification_due`. Returns the rating and whether it was new.
    pub async fn rate(
        &self,
        new: &NewRating,
        window_ms: i64,
        rectification_due: i64,
        now: i64,
    ) -> Result<(Rating, bool)> {
        let existing = sqlx::query(&format!(
            "SELECT {RATING_COLUMNS} FROM ratings WHERE target_kind = $1 AND target_id = $2 AND citizen_id = $3"
        ))
        .bind(&new.target_kind)
        .bind(&new.target_id)
        .bind(&new.citizen_id)
        .fetch_optional(&self.pool)
        .await?;
        let mut tx = self.pool.begin().await?;
        let (id, created) = match existing.as_ref().map(rating_from_row).transpose()? {
            Some(old) => {
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
                    .execute(&mut *tx)
                    .await?;
                (old.id, false)
            }
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                let inserted = sqlx::query(&format!(
                    "INSERT INTO ratings ({RATING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $11)"
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
                .execute(&mut *tx)
                .await;
                if let Err(sqlx::Error::Database(err)) = &inserted
                    && err.is_unique_violation()
                {
                    return Err(Error::Conflict(new.target_id.clone()));
                }
                inserted?;
                (id, true)
            }
        };
        if new.level <= 2 {
            let open = sqlx::query("SELECT rating_id FROM rectifications WHERE rating_id = $1")
                .bind(&id)
                .fetch_optional(&mut *tx)
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
                .execute(&mut *tx)
                .await?;
                crate::tickets::notify(
                    &mut tx,
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
        tx.commit().await?;
        let rating = self.rating(&id).await?.ok_or_else(|| Error::NotFound(id.clone()))?;
        Ok((rating, created))
    }

    pub async fn rating(&self, id: &str) -> Result<Option<Rating>> {
        let row = sqlx::query(&format!("SELECT {RATING_COLUMNS} FROM ratings WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rating_from_row).transpose()
    }

    pub async fn rectification(&self, rating_id: &str) -> Result<Option<Rectification>> {
        let row = sqlx::query("SELECT * FROM rectifications WHERE rating_id = $1")
            .bind(rating_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rectification_from_row).transpose()
    }

    pub async fn rectifications_of(&self, department: &str) -> Result<Vec<Rectification>> {
        let rows = sqlx::query("SELECT * FROM rectifications WHERE department = $1 ORDER BY due")
            .bind(department)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rectification_from_row).collect()
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
                "UPDATE rectifications SET state = $1, {column} = $2, done_at = $3, updated_at = $4 WHERE rating_id = $5"
            ),
            None => {
                "UPDATE rectifications SET state = $1, appeal = COALESCE(appeal, $2), done_at = $3, updated_at = $4 \
                     WHERE rating_id = $5"
                    .to_string()
            }
        };
        sqlx::query(&sql)
            .bind(to)
            .bind(text)
            .bind(done_at)
            .bind(now)
            .bind(rating_id)
            .execute(&mut *tx)
            .await?;
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

    /// Statistics grouped by `department`, `service`, `channel` or `month` (YYYY-MM, China time).
    pub async fn rating_stats(&self, group_by: &str) -> Result<BTreeMap<String, RatingStats>> {
        let rows = sqlx::query(&format!("SELECT {RATING_COLUMNS} FROM ratings WHERE excluded = 0"))
            .fetch_all(&self.pool)
            .await?;
        let rectifications: Vec<Rectification> = sqlx::query("SELECT * FROM rectifications")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rectification_from_row)
            .collect::<Result<_>>()?;
        let mut stats: BTreeMap<String, RatingStats> = BTreeMap::new();
        for row in &rows {
            let rating = rating_from_row(row)?;
            let key = match group_by {
                "service" => rating
                    .service_id
                    .clone()
                    .unwrap_or_else(|| format!("({})", rating.target_kind)),
                "channel" => rating.channel.clone(),
                "month" => crate::applications::day_of(rating.created_at)[..6].to_string(),
                _ => rating.department.clone(),
            };
            let entry = stats.entry(key).or_default();
            entry.n_ratings += 1;
            entry.n_satisfied += usize::from(rating.level >= 3);
            if rating.is_bad() {
                entry.n_bad += 1;
                if let Some(r) = rectifications.iter().find(|r| r.rating_id == rating.id)
                    && let Some(done) = r.done_at
                {
                    entry.n_rectified += 1;
                    entry.n_rectified_on_time += usize::from(done <= r.due);
                }
            }
        }
        Ok(stats)
    }
}

//! The figures of the operator's dashboard (`/admin`), counted by the database: the hotline's
//! KPIs week by week, tickets by category and by department, the overdue tickets, and ratings
//! by service. Every query takes an optional department: department staff see their own.
//! Weeks are counted in whole milliseconds from an origin the caller picks, so the same
//! integer arithmetic runs on SQLite and PostgreSQL.

use sqlx::Row;

use crate::tickets::{OPEN, past_due};
use crate::{Result, Store};

/// One week of tickets (by the day they were filed), with the hotline's four counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeekCounts {
    /// 0 = the week starting at the origin.
    pub week: i64,
    pub n_tickets: i64,
    /// Accepted (签收) before the response deadline.
    pub n_accepted_on_time: i64,
    /// Answered (办结: replied, confirmed or closed).
    pub n_replied: i64,
    pub n_replied_on_time: i64,
}

/// Tickets of one category or department: how many, how many still open, how many overdue.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCounts {
    pub key: String,
    pub n_tickets: i64,
    pub n_open: i64,
    pub n_overdue: i64,
}

/// A ticket past its response or resolution deadline and not yet answered.
#[derive(Debug, Clone, PartialEq)]
pub struct OverdueTicket {
    pub number: String,
    pub category: String,
    pub department: String,
    pub state: String,
    pub summary: String,
    /// The deadline it missed (签收 or 办结), epoch ms.
    pub due: i64,
    /// `response` (签收超时) or `resolution` (办理超时).
    pub which: &'static str,
    pub supervised: bool,
}

impl Store {
    /// The hotline's counts per week from `origin` (epoch ms) to now, oldest first; weeks
    /// without tickets are left out (the caller fills them with zeros).
    pub async fn hotline_weeks(&self, department: Option<&str>, origin: i64, week_ms: i64) -> Result<Vec<WeekCounts>> {
        let sql = "SELECT (created_at - $1) / $2 AS wk, COUNT(*) AS n, \
             COALESCE(SUM(CASE WHEN accepted_at IS NOT NULL AND accepted_at <= response_due THEN 1 ELSE 0 END), 0) AS accepted_on_time, \
             COALESCE(SUM(CASE WHEN replied_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS replied, \
             COALESCE(SUM(CASE WHEN replied_at IS NOT NULL AND replied_at <= resolve_due THEN 1 ELSE 0 END), 0) AS replied_on_time \
             FROM tickets WHERE created_at >= $1 AND ($3 = '' OR department = $3) \
             GROUP BY 1 ORDER BY 1";
        self.weekly(sql, department, origin, week_ms)
            .await?
            .iter()
            .map(|row| {
                Ok(WeekCounts {
                    week: row.try_get("wk")?,
                    n_tickets: row.try_get("n")?,
                    n_accepted_on_time: row.try_get("accepted_on_time")?,
                    n_replied: row.try_get("replied")?,
                    n_replied_on_time: row.try_get("replied_on_time")?,
                })
            })
            .collect()
    }

    /// Ratings of tickets per week from `origin`: (week, rated, 基本满意 or better), oldest
    /// first; excluded ratings (an upheld appeal) do not count.
    pub async fn ticket_satisfaction_weeks(
        &self,
        department: Option<&str>,
        origin: i64,
        week_ms: i64,
    ) -> Result<Vec<(i64, i64, i64)>> {
        let sql = "SELECT (created_at - $1) / $2 AS wk, COUNT(*) AS n, \
             COALESCE(SUM(CASE WHEN level >= 3 THEN 1 ELSE 0 END), 0) AS satisfied \
             FROM ratings WHERE created_at >= $1 AND target_kind = 'ticket' AND excluded = 0 \
             AND ($3 = '' OR department = $3) GROUP BY 1 ORDER BY 1";
        self.weekly(sql, department, origin, week_ms)
            .await?
            .iter()
            .map(|row| Ok((row.try_get("wk")?, row.try_get("n")?, row.try_get("satisfied")?)))
            .collect()
    }

    /// The rows of a per-week query: `$1` the origin, `$2` the week's length, `$3` the
    /// department or ''.
    async fn weekly(
        &self,
        sql: &str,
        department: Option<&str>,
        origin: i64,
        week_ms: i64,
    ) -> Result<Vec<sqlx::any::AnyRow>> {
        Ok(sqlx::query(sql)
            .bind(origin)
            .bind(week_ms.max(1))
            .bind(department.unwrap_or(""))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Tickets grouped by `category` or `department` (anything else: department), largest
    /// first.
    pub async fn tickets_grouped(&self, by: &str, department: Option<&str>, now: i64) -> Result<Vec<GroupCounts>> {
        let key = if by == "category" { "category" } else { "department" };
        let overdue = past_due("$2");
        let sql = format!(
            "SELECT {key} AS k, COUNT(*) AS n, \
             COALESCE(SUM(CASE WHEN {OPEN} THEN 1 ELSE 0 END), 0) AS open, \
             COALESCE(SUM(CASE WHEN {OPEN} AND {overdue} THEN 1 ELSE 0 END), 0) AS overdue \
             FROM tickets WHERE ($1 = '' OR department = $1) GROUP BY {key} ORDER BY n DESC, k"
        );
        let rows = sqlx::query(&sql)
            .bind(department.unwrap_or(""))
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(GroupCounts {
                    key: row.try_get("k")?,
                    n_tickets: row.try_get("n")?,
                    n_open: row.try_get("open")?,
                    n_overdue: row.try_get("overdue")?,
                })
            })
            .collect()
    }

    /// The overdue tickets, the longest overdue first, at most `limit`.
    pub async fn overdue_tickets(&self, department: Option<&str>, now: i64, limit: i64) -> Result<Vec<OverdueTicket>> {
        let overdue = past_due("$2");
        let sql = format!(
            "SELECT number, category, department, state, summary, response_due, resolve_due, supervised FROM tickets \
             WHERE ($1 = '' OR department = $1) AND {OPEN} AND {overdue} \
             ORDER BY CASE WHEN state IN ('dispatched', 'returned') AND response_due < resolve_due THEN response_due ELSE resolve_due END, number \
             LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(department.unwrap_or(""))
            .bind(now)
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state")?;
                let response_due: i64 = row.try_get("response_due")?;
                let resolve_due: i64 = row.try_get("resolve_due")?;
                let unaccepted = matches!(state.as_str(), "dispatched" | "returned") && response_due < now;
                let (due, which) = if unaccepted && response_due <= resolve_due {
                    (response_due, "response")
                } else {
                    (resolve_due, "resolution")
                };
                Ok(OverdueTicket {
                    number: row.try_get("number")?,
                    category: row.try_get("category")?,
                    department: row.try_get("department")?,
                    summary: row.try_get("summary")?,
                    state,
                    due,
                    which,
                    supervised: row.try_get::<i64, _>("supervised")? != 0,
                })
            })
            .collect()
    }
}

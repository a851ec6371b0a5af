//! Applications (办件) and their workflow: submission (idempotent, all-or-nothing for a
//! bundle), the state machine with its audit log, and the subjects and e-licences that
//! prefill forms.

use std::fmt;
use std::str::FromStr;

use sqlx::Row;

use crate::{Error, Result, Store};

/// The states of an application. A 补正 request lists everything missing at once and
/// leads back to `Submitted` when the applicant resubmits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppState {
    Submitted,
    Accepted,
    Refused,
    CorrectionRequested,
    InReview,
    Approved,
    Denied,
    Issued,
}

impl AppState {
    pub const ALL: [AppState; 8] = [
        AppState::Submitted,
        AppState::Accepted,
        AppState::Refused,
        AppState::CorrectionRequested,
        AppState::InReview,
        AppState::Approved,
        AppState::Denied,
        AppState::Issued,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AppState::Submitted => "submitted",
            AppState::Accepted => "accepted",
            AppState::Refused => "refused",
            AppState::CorrectionRequested => "correction_requested",
            AppState::InReview => "in_review",
            AppState::Approved => "approved",
            AppState::Denied => "denied",
            AppState::Issued => "issued",
        }
    }

    /// The state's name for citizens.
    pub fn label(self) -> &'static str {
        match self {
            AppState::Submitted => "已提交，等待受理",
            AppState::Accepted => "已受理",
            AppState::Refused => "不予受理",
            AppState::CorrectionRequested => "需要补正材料",
            AppState::InReview => "审核中",
            AppState::Approved => "审核通过，等待办结",
            AppState::Denied => "未通过审核",
            AppState::Issued => "已办结",
        }
    }

    /// What the applicant can expect next.
    pub fn next_step(self) -> &'static str {
        match self {
            AppState::Submitted => "窗口将在 1 个工作日内受理",
            AppState::Accepted | AppState::InReview => "部门审核中，请留意短信通知",
            AppState::CorrectionRequested => "请按一次性告知的清单补齐材料后重新提交",
            AppState::Approved => "等待发证或寄送",
            AppState::Refused | AppState::Denied => "可查看原因，符合条件后重新申请，或拨打 12345 咨询",
            AppState::Issued => "已办结，欢迎评价本次服务",
        }
    }

    /// Whether the workflow allows going from `self` to `to`.
    pub fn can_go_to(self, to: AppState) -> bool {
        use AppState::*;
        matches!(
            (self, to),
            (Submitted, Accepted | Refused | CorrectionRequested)
                | (CorrectionRequested, Submitted)
                | (Accepted, InReview | CorrectionRequested)
                | (InReview, Approved | Denied | CorrectionRequested)
                | (Approved, Issued)
        )
    }

    pub fn is_final(self) -> bool {
        matches!(self, AppState::Refused | AppState::Denied | AppState::Issued)
    }
}

impl fmt::Display for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AppState {
    type Err = Error;
    fn from_str(text: &str) -> Result<AppState> {
        AppState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| Error::UnknownState(text.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub number: String,
    pub service_id: String,
    pub applicant_id: String,
    pub parent_number: Option<String>,
    pub state: AppState,
    /// Field values as JSON (opaque here).
    pub fields: String,
    /// Materials with their source as JSON (opaque here).
    pub materials: String,
    pub deadline: Option<String>,
    /// The reason of the last refusal, denial or 补正 list.
    pub note: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Event {
    pub actor: String,
    pub from_state: String,
    pub to_state: String,
    pub reason: Option<String>,
    pub at: i64,
}

/// What a submission writes: one application, or for a bundle a parent and its parts.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub service_id: String,
    pub applicant_id: String,
    pub fields: String,
    pub materials: String,
    pub deadline: Option<String>,
    pub idempotency_key: String,
    /// Bundle parts: (service id, deadline). Empty for a single service.
    pub parts: Vec<(String, Option<String>)>,
    /// Uploaded files the application takes over: (conversation, upload ids).
    pub uploads: Option<(String, Vec<String>)>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ELicense {
    pub holder_id: String,
    pub kind: String,
    pub number: String,
    pub issued_on: String,
    pub expires_on: Option<String>,
    /// Structured fields as JSON.
    pub fields: String,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct User {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub department: Option<String>,
}

fn application_from_row(row: &sqlx::any::AnyRow) -> Result<Application> {
    let state: String = row.try_get("state")?;
    Ok(Application {
        number: row.try_get("number")?,
        service_id: row.try_get("service_id")?,
        applicant_id: row.try_get("applicant_id")?,
        parent_number: row.try_get("parent_number")?,
        state: state.parse()?,
        fields: row.try_get("fields")?,
        materials: row.try_get("materials")?,
        deadline: row.try_get("deadline")?,
        note: row.try_get("note")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const APPLICATION_COLUMNS: &str = "number, service_id, applicant_id, parent_number, state, fields, materials, \
     deadline, note, created_at, updated_at";

impl Store {
    /// Creates or updates a subject; safe when several replicas seed the same users at once.
    pub async fn upsert_user(&self, user: &User, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, kind, name, department, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, department = excluded.department",
        )
        .bind(&user.id)
        .bind(&user.kind)
        .bind(&user.name)
        .bind(&user.department)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn user(&self, id: &str) -> Result<Option<User>> {
        Ok(
            sqlx::query_as::<_, User>("SELECT id, kind, name, department FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Stores an e-licence (one per holder and kind; a newer one replaces it).
    pub async fn put_e_license(&self, license: &ELicense) -> Result<()> {
        sqlx::query(
            "INSERT INTO e_licenses (holder_id, kind, number, issued_on, expires_on, fields) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (holder_id, kind) DO UPDATE SET number = excluded.number, \
             issued_on = excluded.issued_on, expires_on = excluded.expires_on, fields = excluded.fields",
        )
        .bind(&license.holder_id)
        .bind(&license.kind)
        .bind(&license.number)
        .bind(&license.issued_on)
        .bind(&license.expires_on)
        .bind(&license.fields)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn e_licenses(&self, holder_id: &str) -> Result<Vec<ELicense>> {
        Ok(sqlx::query_as::<_, ELicense>(
            "SELECT holder_id, kind, number, issued_on, expires_on, fields FROM e_licenses \
             WHERE holder_id = $1 ORDER BY kind",
        )
        .bind(holder_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Submits an application in a transaction of its own; see [`Tx::submit_application`].
    pub async fn submit_application(&self, new: &NewApplication, now: i64) -> Result<(Application, bool)> {
        let mut tx = self.begin().await?;
        let submitted = tx.submit_application(new, now).await?;
        tx.commit().await?;
        Ok(submitted)
    }

    pub async fn application(&self, number: &str) -> Result<Option<Application>> {
        let row = sqlx::query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE number = $1"
        ))
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(application_from_row).transpose()
    }

    /// The parts of a bundle application, in order.
    pub async fn application_parts(&self, number: &str) -> Result<Vec<Application>> {
        let rows = sqlx::query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE parent_number = $1 ORDER BY number"
        ))
        .bind(number)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(application_from_row).collect()
    }

    /// An applicant's own applications (bundle parts are listed under their parent), newest first.
    pub async fn applications_of(&self, applicant_id: &str) -> Result<Vec<Application>> {
        let rows = sqlx::query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE applicant_id = $1 AND parent_number IS NULL \
             ORDER BY created_at DESC, number DESC"
        ))
        .bind(applicant_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(application_from_row).collect()
    }

    /// Applications of these services in these states, oldest deadline first (a staff queue).
    pub async fn applications_for_services(&self, service_ids: &[String]) -> Result<Vec<Application>> {
        if service_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=service_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE service_id IN ({}) \
             ORDER BY deadline, created_at",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in service_ids {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(application_from_row).collect()
    }

    /// Moves an application along the workflow, with an audit entry. `deadline` replaces the
    /// promised deadline when given (on acceptance). Two staff steps on one application run
    /// one after the other (the row is locked first); the second sees the first's state.
    pub async fn transition(
        &self,
        number: &str,
        actor: &str,
        to: AppState,
        reason: Option<&str>,
        deadline: Option<&str>,
        now: i64,
    ) -> Result<Application> {
        let mut tx = self.begin().await?;
        let locked = sqlx::query("UPDATE applications SET updated_at = updated_at WHERE number = $1")
            .bind(number)
            .execute(tx.conn())
            .await?;
        if locked.rows_affected() != 1 {
            return Err(Error::NotFound(number.to_string()));
        }
        let current = fetch_application(tx.conn(), number)
            .await?
            .ok_or_else(|| Error::NotFound(number.to_string()))?;
        if !current.state.can_go_to(to) {
            return Err(Error::InvalidTransition {
                from: current.state.as_str(),
                to: to.as_str(),
            });
        }
        sqlx::query(
            "UPDATE applications SET state = $1, note = COALESCE($2, note), deadline = COALESCE($3, deadline), \
             updated_at = $4 WHERE number = $5",
        )
        .bind(to.as_str())
        .bind(reason)
        .bind(deadline)
        .bind(now)
        .bind(number)
        .execute(tx.conn())
        .await?;
        insert_event(
            tx.conn(),
            number,
            actor,
            current.state.as_str(),
            to.as_str(),
            reason,
            now,
        )
        .await?;
        let updated = fetch_application(tx.conn(), number)
            .await?
            .ok_or_else(|| Error::NotFound(number.to_string()))?;
        tx.commit().await?;
        Ok(updated)
    }

    pub async fn events(&self, number: &str) -> Result<Vec<Event>> {
        Ok(sqlx::query_as::<_, Event>(
            "SELECT actor, from_state, to_state, reason, at FROM application_events WHERE number = $1 ORDER BY seq",
        )
        .bind(number)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A logged-in user's unfinished form, kept across conversations and restarts.
    pub async fn save_draft(&self, user_id: &str, service_id: &str, state: &str, now: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.save_draft(user_id, service_id, state, now).await?;
        tx.commit().await
    }

    /// The user's most recent draft: (service id, state).
    pub async fn latest_draft(&self, user_id: &str) -> Result<Option<(String, String)>> {
        let row =
            sqlx::query("SELECT service_id, state FROM drafts WHERE user_id = $1 ORDER BY updated_at DESC LIMIT 1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| Ok((row.try_get("service_id")?, row.try_get("state")?)))
            .transpose()
    }

    pub async fn delete_draft(&self, user_id: &str, service_id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.delete_draft(user_id, service_id).await?;
        tx.commit().await
    }
}

impl crate::Tx {
    /// Submits an application (and a bundle's parts) with a number from the day's sequence.
    /// The same applicant and idempotency key twice returns the first application and `false`.
    pub async fn submit_application(&mut self, new: &NewApplication, now: i64) -> Result<(Application, bool)> {
        let existing = sqlx::query(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE applicant_id = $1 AND idempotency_key = $2"
        ))
        .bind(&new.applicant_id)
        .bind(&new.idempotency_key)
        .fetch_optional(self.conn())
        .await?;
        if let Some(row) = existing {
            return Ok((application_from_row(&row)?, false));
        }
        let number = self.next_number("SF", now).await?;
        self.insert_submitted(
            new,
            &number,
            None,
            &new.service_id,
            Some(&new.idempotency_key),
            new.deadline.as_deref(),
            now,
        )
        .await?;
        for (i, (service_id, deadline)) in new.parts.iter().enumerate() {
            let part_number = format!("{number}-{}", i + 1);
            self.insert_submitted(
                new,
                &part_number,
                Some(&number),
                service_id,
                None,
                deadline.as_deref(),
                now,
            )
            .await?;
        }
        if let Some((session_id, ids)) = &new.uploads {
            self.link_uploads(session_id, ids, &number).await?;
        }
        let application = fetch_application(self.conn(), &number)
            .await?
            .ok_or_else(|| Error::NotFound(number.clone()))?;
        Ok((application, true))
    }

    /// One submitted application row (the whole application, or a bundle's part under its
    /// parent) with its first audit entry.
    #[allow(clippy::too_many_arguments)]
    async fn insert_submitted(
        &mut self,
        new: &NewApplication,
        number: &str,
        parent: Option<&str>,
        service_id: &str,
        idempotency_key: Option<&str>,
        deadline: Option<&str>,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO applications (number, service_id, applicant_id, parent_number, state, fields, materials, \
             idempotency_key, deadline, note, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $10)",
        )
        .bind(number)
        .bind(service_id)
        .bind(&new.applicant_id)
        .bind(parent)
        .bind(AppState::Submitted.as_str())
        .bind(&new.fields)
        .bind(&new.materials)
        .bind(idempotency_key)
        .bind(deadline)
        .bind(now)
        .execute(self.conn())
        .await?;
        insert_event(
            self.conn(),
            number,
            &new.applicant_id,
            "draft",
            AppState::Submitted.as_str(),
            None,
            now,
        )
        .await
    }

    pub async fn save_draft(&mut self, user_id: &str, service_id: &str, state: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO drafts (user_id, service_id, state, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, service_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(service_id)
        .bind(state)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn delete_draft(&mut self, user_id: &str, service_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM drafts WHERE user_id = $1 AND service_id = $2")
            .bind(user_id)
            .bind(service_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

async fn fetch_application(conn: &mut sqlx::AnyConnection, number: &str) -> Result<Option<Application>> {
    let row = sqlx::query(&format!(
        "SELECT {APPLICATION_COLUMNS} FROM applications WHERE number = $1"
    ))
    .bind(number)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(application_from_row).transpose()
}

async fn insert_event(
    tx: &mut sqlx::AnyConnection,
    number: &str,
    actor: &str,
    from: &str,
    to: &str,
    reason: Option<&str>,
    at: i64,
) -> Result<()> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM application_events WHERE number = $1")
        .bind(number)
        .fetch_one(&mut *tx)
        .await?;
    let seq: i64 = row.try_get("n")?;
    sqlx::query(
        "INSERT INTO application_events (number, seq, actor, from_state, to_state, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(number)
    .bind(seq + 1)
    .bind(actor)
    .bind(from)
    .bind(to)
    .bind(reason)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_workflow_transitions_are_allowed() {
        assert!(AppState::Submitted.can_go_to(AppState::Accepted));
        assert!(AppState::CorrectionRequested.can_go_to(AppState::Submitted));
        assert!(!AppState::Submitted.can_go_to(AppState::Issued));
        assert!(!AppState::Issued.can_go_to(AppState::Submitted));
        for state in AppState::ALL {
            assert!(!state.can_go_to(state), "{state} to itself");
            if state.is_final() {
                assert!(AppState::ALL.iter().all(|to| !state.can_go_to(*to)), "{state} is final");
            }
            assert_eq!(state.as_str().parse::<AppState>().unwrap(), state);
        }
    }
}

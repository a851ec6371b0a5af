//! 12345 tickets (接诉即办): creation with routing and deadlines, the lifecycle (dispatch,
//! accept or return, progress, reply, confirm or reopen, close), the paused clock while the
//! citizen is asked for more, extensions asked before the deadline, co-handling departments
//! summoned by the lead one (吹哨报到), supervision of overdue cases by the sweeper, and a
//! notification outbox. Times are unix milliseconds passed in by the caller (an injectable
//! clock), so tests can jump days ahead.

use sqlx::Row;

use crate::{Error, Result, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketState {
    Dispatched,
    Accepted,
    Returned,
    InProgress,
    WaitingCitizen,
    Replied,
    Reopened,
    Confirmed,
    Closed,
}

impl TicketState {
    pub const ALL: [TicketState; 9] = [
        TicketState::Dispatched,
        TicketState::Accepted,
        TicketState::Returned,
        TicketState::InProgress,
        TicketState::WaitingCitizen,
        TicketState::Replied,
        TicketState::Reopened,
        TicketState::Confirmed,
        TicketState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Dispatched => "dispatched",
            TicketState::Accepted => "accepted",
            TicketState::Returned => "returned",
            TicketState::InProgress => "in_progress",
            TicketState::WaitingCitizen => "waiting_citizen",
            TicketState::Replied => "replied",
            TicketState::Reopened => "reopened",
            TicketState::Confirmed => "confirmed",
            TicketState::Closed => "closed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TicketState::Dispatched => "已派单，等待部门签收",
            TicketState::Accepted => "部门已签收",
            TicketState::Returned => "已退单，等待重新派单",
            TicketState::InProgress => "办理中",
            TicketState::WaitingCitizen => "等待您补充信息",
            TicketState::Replied => "部门已答复，等待您确认",
            TicketState::Reopened => "已重新办理",
            TicketState::Confirmed => "您已确认办结",
            TicketState::Closed => "已办结",
        }
    }

    /// Whether the lifecycle allows `self` → `to`.
    pub fn can_go_to(self, to: TicketState) -> bool {
        use TicketState::*;
        matches!(
            (self, to),
            (Dispatched, Accepted | Returned)
                | (Returned, Dispatched)
                | (Accepted, InProgress | WaitingCitizen | Replied)
                | (InProgress | Reopened, WaitingCitizen | Replied)
                | (WaitingCitizen, InProgress)
                | (Replied, Confirmed | Reopened | Closed)
                | (Confirmed, Closed)
        )
    }

    pub fn is_open(self) -> bool {
        !matches!(self, TicketState::Confirmed | TicketState::Closed)
    }
}

impl std::str::FromStr for TicketState {
    type Err = Error;
    fn from_str(text: &str) -> Result<TicketState> {
        TicketState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| Error::UnknownState(text.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub number: String,
    pub kind: String,
    pub category: String,
    pub department: String,
    pub district: Option<String>,
    pub citizen_id: Option<String>,
    pub contact: Option<String>,
    pub summary: String,
    pub location: String,
    pub happened: Option<String>,
    pub urgent: bool,
    pub state: TicketState,
    pub response_due: i64,
    pub resolve_due: i64,
    pub paused_since: Option<i64>,
    pub supervised: bool,
    pub accepted_at: Option<i64>,
    pub replied_at: Option<i64>,
    pub reply: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewTicket {
    pub kind: String,
    pub category: String,
    pub department: String,
    pub district: Option<String>,
    pub citizen_id: Option<String>,
    pub contact: Option<String>,
    pub summary: String,
    pub location: String,
    pub happened: Option<String>,
    pub urgent: bool,
    pub response_due: i64,
    pub resolve_due: i64,
    /// The turn that filed it (`session:version`): a retried turn finds this ticket.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TicketEvent {
    pub actor: String,
    pub action: String,
    pub from_state: String,
    pub to_state: String,
    pub note: Option<String>,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Coop {
    pub department: String,
    pub state: String,
    pub due: i64,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Notification {
    pub recipient: String,
    pub ticket_number: Option<String>,
    pub text: String,
    pub created_at: i64,
}

/// Not yet answered: the states in which a ticket's deadlines run.
pub(crate) const OPEN: &str = "state NOT IN ('confirmed', 'closed', 'replied', 'waiting_citizen')";

/// An open ticket's test of being late, `now` naming the SQL parameter that holds the time:
/// not accepted by the response deadline, or not answered by the resolution deadline. The
/// SLA sweeper and the dashboard share it.
pub(crate) fn past_due(now: &str) -> String {
    format!("((state IN ('dispatched', 'returned') AND response_due < {now}) OR resolve_due < {now})")
}

const TICKET_COLUMNS: &str = "number, kind, category, department, district, citizen_id, contact, summary, location, \
     happened, urgent, state, response_due, resolve_due, paused_since, supervised, accepted_at, replied_at, reply, \
     created_at, updated_at";

fn ticket_from_row(row: &sqlx::any::AnyRow) -> Result<Ticket> {
    let state: String = row.try_get("state")?;
    Ok(Ticket {
        number: row.try_get("number")?,
        kind: row.try_get("kind")?,
        category: row.try_get("category")?,
        department: row.try_get("department")?,
        district: row.try_get("district")?,
        citizen_id: row.try_get("citizen_id")?,
        contact: row.try_get("contact")?,
        summary: row.try_get("summary")?,
        location: row.try_get("location")?,
        happened: row.try_get("happened")?,
        urgent: row.try_get::<i64, _>("urgent")? != 0,
        state: state.parse()?,
        response_due: row.try_get("response_due")?,
        resolve_due: row.try_get("resolve_due")?,
        paused_since: row.try_get("paused_since")?,
        supervised: row.try_get::<i64, _>("supervised")? != 0,
        accepted_at: row.try_get("accepted_at")?,
        replied_at: row.try_get("replied_at")?,
        reply: row.try_get("reply")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// What a lifecycle step may also change.
#[derive(Debug, Clone, Default)]
pub struct StepChanges {
    pub department: Option<String>,
    pub reply: Option<String>,
    pub resolve_due: Option<i64>,
    pub response_due: Option<i64>,
}

impl Store {
    /// Creates a ticket in a transaction of its own; see [`Tx::create_ticket`].
    pub async fn create_ticket(&self, new: &NewTicket, now: i64) -> Result<Ticket> {
        let mut tx = self.begin().await?;
        let ticket = tx.create_ticket(new, now).await?;
        tx.commit().await?;
        Ok(ticket)
    }

    pub async fn ticket(&self, number: &str) -> Result<Option<Ticket>> {
        let mut conn = self.pool.acquire().await?;
        fetch_ticket(&mut conn, number).await
    }

    pub async fn tickets_of(&self, citizen_id: &str) -> Result<Vec<Ticket>> {
        let rows = sqlx::query(&format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE citizen_id = $1 ORDER BY created_at DESC, number DESC"
        ))
        .bind(citizen_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(ticket_from_row).collect()
    }

    /// A department's open tickets (as lead or co-handler), nearest deadline first.
    pub async fn ticket_queue(&self, department: &str) -> Result<Vec<Ticket>> {
        let rows = sqlx::query(&format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE (department = $1 OR number IN \
             (SELECT number FROM ticket_coops WHERE department = $1)) AND state NOT IN ('confirmed', 'closed') \
             ORDER BY resolve_due, number"
        ))
        .bind(department)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(ticket_from_row).collect()
    }

    /// Hotline KPIs over every ticket, counted by the database.
    pub async fn hotline_counts(&self) -> Result<HotlineCounts> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, \
             COALESCE(SUM(CASE WHEN accepted_at IS NOT NULL AND accepted_at <= response_due THEN 1 ELSE 0 END), 0) AS accepted_on_time, \
             COALESCE(SUM(CASE WHEN replied_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS replied, \
             COALESCE(SUM(CASE WHEN replied_at IS NOT NULL AND replied_at <= resolve_due THEN 1 ELSE 0 END), 0) AS replied_on_time, \
             COALESCE(SUM(CASE WHEN supervised <> 0 THEN 1 ELSE 0 END), 0) AS supervised FROM tickets",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(HotlineCounts {
            n_tickets: row.try_get("n")?,
            n_accepted_on_time: row.try_get("accepted_on_time")?,
            n_replied: row.try_get("replied")?,
            n_replied_on_time: row.try_get("replied_on_time")?,
            n_supervised: row.try_get("supervised")?,
        })
    }

    /// One lifecycle step in a transaction of its own; see [`Tx::ticket_step`].
    #[allow(clippy::too_many_arguments)]
    pub async fn ticket_step(
        &self,
        number: &str,
        actor: &str,
        action: &str,
        to: TicketState,
        note: Option<&str>,
        changes: StepChanges,
        citizen_message: Option<&str>,
        now: i64,
    ) -> Result<Ticket> {
        let mut tx = self.begin().await?;
        let ticket = tx
            .ticket_step(number, actor, action, to, note, changes, citizen_message, now)
            .await?;
        tx.commit().await?;
        Ok(ticket)
    }

    pub async fn coops(&self, number: &str) -> Result<Vec<Coop>> {
        Ok(sqlx::query_as::<_, Coop>(
            "SELECT department, state, due, note FROM ticket_coops WHERE number = $1 ORDER BY department",
        )
        .bind(number)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn ticket_events(&self, number: &str) -> Result<Vec<TicketEvent>> {
        Ok(sqlx::query_as::<_, TicketEvent>(
            "SELECT actor, action, from_state, to_state, note, at FROM ticket_events WHERE number = $1 ORDER BY seq",
        )
        .bind(number)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The SLA sweep: marks open tickets past a deadline as supervised (督办) once, audits it
    /// and tells the citizen. Returns the numbers escalated now.
    ///
    /// On PostgreSQL one sweeper acts per tick however many replicas run one: the sweep holds a
    /// transaction-scoped advisory lock, and a replica that cannot take it skips the tick
    /// (`None`). Each escalation is a conditional update besides, so even two sweeps at once
    /// would escalate a ticket once.
    pub async fn sweep_overdue(&self, now: i64) -> Result<Vec<String>> {
        Ok(self.sweep_overdue_once(now).await?.unwrap_or_default())
    }

    /// The sweep, or `None` when another replica holds the sweeper's lock.
    pub async fn sweep_overdue_once(&self, now: i64) -> Result<Option<Vec<String>>> {
        if self.kind() != crate::DbKind::Postgres {
            // One process owns an SQLite file.
            return Ok(Some(self.escalate_overdue(now).await?));
        }
        let mut lease = self.pool.begin().await?;
        let row = sqlx::query("SELECT pg_try_advisory_xact_lock($1) AS got")
            .bind(SWEEPER_LOCK)
            .fetch_one(&mut *lease)
            .await?;
        if !row.try_get::<bool, _>("got")? {
            return Ok(None);
        }
        let escalated = self.escalate_overdue(now).await;
        // Ending the transaction lets the lock go, whatever the sweep came to.
        lease.commit().await?;
        Ok(Some(escalated?))
    }

    async fn escalate_overdue(&self, now: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(&format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE supervised = 0 AND {OPEN} AND {}",
            past_due("$1")
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut escalated = Vec::new();
        for row in &rows {
            let ticket = ticket_from_row(row)?;
            let mut tx = self.pool.begin().await?;
            let updated =
                sqlx::query("UPDATE tickets SET supervised = 1, updated_at = $1 WHERE number = $2 AND supervised = 0")
                    .bind(now)
                    .bind(&ticket.number)
                    .execute(&mut *tx)
                    .await?;
            if updated.rows_affected() == 1 {
                let which = if matches!(ticket.state, TicketState::Dispatched | TicketState::Returned) {
                    "签收超时"
                } else {
                    "办理超时"
                };
                let state = ticket.state.as_str();
                ticket_event(
                    &mut tx,
                    &ticket.number,
                    "sla-sweeper",
                    "supervise",
                    state,
                    state,
                    Some(which),
                    now,
                )
                .await?;
                notify(
                    &mut tx,
                    &format!("dept:{}", ticket.department),
                    &ticket.number,
                    &format!("工单 {} {which}，已列入督办。", ticket.number),
                    now,
                )
                .await?;
                if let Some(citizen) = &ticket.citizen_id {
                    notify(
                        &mut tx,
                        citizen,
                        &ticket.number,
                        &format!(
                            "您的诉求 {} 已超过时限，已由热线督办，我们会尽快给您答复。",
                            ticket.number
                        ),
                        now,
                    )
                    .await?;
                }
                tx.commit().await?;
                escalated.push(ticket.number);
            }
        }
        Ok(escalated)
    }

    pub async fn notifications(&self, recipient: &str) -> Result<Vec<Notification>> {
        Ok(sqlx::query_as::<_, Notification>(
            "SELECT recipient, ticket_number, text, created_at FROM notifications WHERE recipient = $1 ORDER BY id",
        )
        .bind(recipient)
        .fetch_all(&self.pool)
        .await?)
    }
}

impl Store {
    /// Tickets per state, and the open ones past their reply deadline (for `/metrics`).
    pub async fn ticket_gauges(&self, now: i64) -> Result<(Vec<(String, i64)>, i64)> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM tickets GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await?;
        let by_state = rows
            .iter()
            .map(|row| Ok((row.try_get::<String, _>("state")?, row.try_get::<i64, _>("n")?)))
            .collect::<Result<Vec<_>>>()?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM tickets WHERE state NOT IN ('confirmed', 'closed', 'replied') AND resolve_due < $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok((by_state, row.try_get("n")?))
    }

    /// Connections of the pool: open, and idle among them.
    pub fn pool_gauges(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// Hand-overs waiting for an agent.
    pub async fn handoffs_waiting(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM handoffs WHERE state = 'waiting'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}

/// The advisory lock key of the SLA sweeper (any constant other locks do not use).
pub const SWEEPER_LOCK: i64 = 0x62_616e_7368_6901;

impl crate::Tx {
    /// Creates a ticket, already dispatched to its lead department, with a notification for
    /// the citizen. Its number comes from the day's sequence. A ticket with the same
    /// idempotency key (the turn that filed it) is returned instead of a second one.
    pub async fn create_ticket(&mut self, new: &NewTicket, now: i64) -> Result<Ticket> {
        if let Some(key) = &new.idempotency_key {
            let row = sqlx::query(&format!(
                "SELECT {TICKET_COLUMNS} FROM tickets WHERE idempotency_key = $1"
            ))
            .bind(key)
            .fetch_optional(self.conn())
            .await?;
            if let Some(row) = row {
                return ticket_from_row(&row);
            }
        }
        let number = self.next_number("RX", now).await?;
        sqlx::query(&format!(
            "INSERT INTO tickets ({TICKET_COLUMNS}, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
             $11, $12, $13, $14, NULL, 0, NULL, NULL, NULL, $15, $15, $16)"
        ))
        .bind(&number)
        .bind(&new.kind)
        .bind(&new.category)
        .bind(&new.department)
        .bind(&new.district)
        .bind(&new.citizen_id)
        .bind(&new.contact)
        .bind(&new.summary)
        .bind(&new.location)
        .bind(&new.happened)
        .bind(i64::from(new.urgent))
        .bind(TicketState::Dispatched.as_str())
        .bind(new.response_due)
        .bind(new.resolve_due)
        .bind(now)
        .bind(&new.idempotency_key)
        .execute(self.conn())
        .await?;
        ticket_event(
            self.conn(),
            &number,
            "system",
            "dispatch",
            "created",
            "dispatched",
            Some(&new.department),
            now,
        )
        .await?;
        if let Some(citizen) = &new.citizen_id {
            notify(
                self.conn(),
                citizen,
                &number,
                &format!("您的诉求已登记，编号 {number}，已派往承办部门。"),
                now,
            )
            .await?;
        }
        fetch_ticket(self.conn(), &number).await?.ok_or(Error::NotFound(number))
    }

    /// Locks the ticket for the rest of the transaction and reads it: concurrent actions on
    /// one ticket run one after the other, each on what the previous one left.
    pub async fn lock_ticket(&mut self, number: &str) -> Result<Ticket> {
        let locked = sqlx::query("UPDATE tickets SET updated_at = updated_at WHERE number = $1")
            .bind(number)
            .execute(self.conn())
            .await?;
        if locked.rows_affected() != 1 {
            return Err(Error::NotFound(number.to_string()));
        }
        fetch_ticket(self.conn(), number)
            .await?
            .ok_or_else(|| Error::NotFound(number.to_string()))
    }

    /// One lifecycle step, audited, with an optional message to the citizen.
    #[allow(clippy::too_many_arguments)]
    pub async fn ticket_step(
        &mut self,
        number: &str,
        actor: &str,
        action: &str,
        to: TicketState,
        note: Option<&str>,
        changes: StepChanges,
        citizen_message: Option<&str>,
        now: i64,
    ) -> Result<Ticket> {
        let current = self.lock_ticket(number).await?;
        if !current.state.can_go_to(to) {
            return Err(Error::InvalidTransition {
                from: current.state.as_str(),
                to: to.as_str(),
            });
        }
        // The clock stops while waiting for the citizen and the lost time is given back.
        let mut resolve_due = changes.resolve_due.unwrap_or(current.resolve_due);
        let paused_since = match (current.state, to) {
            (_, TicketState::WaitingCitizen) => Some(now),
            (TicketState::WaitingCitizen, _) => {
                resolve_due += now - current.paused_since.unwrap_or(now);
                None
            }
            _ => current.paused_since,
        };
        let accepted_at = if to == TicketState::Accepted {
            Some(now)
        } else {
            current.accepted_at
        };
        let replied_at = if to == TicketState::Replied {
            Some(now)
        } else {
            current.replied_at
        };
        sqlx::query(
            "UPDATE tickets SET state = $1, department = $2, reply = $3, resolve_due = $4, response_due = $5, \
             paused_since = $6, accepted_at = $7, replied_at = $8, updated_at = $9 WHERE number = $10",
        )
        .bind(to.as_str())
        .bind(changes.department.as_ref().unwrap_or(&current.department))
        .bind(changes.reply.as_ref().or(current.reply.as_ref()))
        .bind(resolve_due)
        .bind(changes.response_due.unwrap_or(current.response_due))
        .bind(paused_since)
        .bind(accepted_at)
        .bind(replied_at)
        .bind(now)
        .bind(number)
        .execute(self.conn())
        .await?;
        ticket_event(
            self.conn(),
            number,
            actor,
            action,
            current.state.as_str(),
            to.as_str(),
            note,
            now,
        )
        .await?;
        if let (Some(citizen), Some(message)) = (&current.citizen_id, citizen_message) {
            notify(self.conn(), citizen, number, message, now).await?;
        }
        fetch_ticket(self.conn(), number)
            .await?
            .ok_or_else(|| Error::NotFound(number.to_string()))
    }

    /// An extension of the resolution deadline, only while it has not passed. `new_due` was
    /// computed from `expected_due`; if another extension moved the deadline meanwhile this
    /// is a `Conflict` and the caller computes again from the new one.
    pub async fn extend_ticket(
        &mut self,
        number: &str,
        actor: &str,
        expected_due: i64,
        new_due: i64,
        reason: &str,
        now: i64,
    ) -> Result<Ticket> {
        let current = self.lock_ticket(number).await?;
        if current.resolve_due != expected_due {
            return Err(Error::Conflict(number.to_string()));
        }
        if now > current.resolve_due || !current.state.is_open() {
            return Err(Error::InvalidTransition {
                from: "overdue",
                to: "extended",
            });
        }
        sqlx::query("UPDATE tickets SET resolve_due = $1, updated_at = $2 WHERE number = $3")
            .bind(new_due)
            .bind(now)
            .bind(number)
            .execute(self.conn())
            .await?;
        let state = current.state.as_str();
        ticket_event(self.conn(), number, actor, "extend", state, state, Some(reason), now).await?;
        fetch_ticket(self.conn(), number)
            .await?
            .ok_or_else(|| Error::NotFound(number.to_string()))
    }

    /// 吹哨报到: the lead department summons a co-handling department with its own deadline.
    /// Summoning a department already summoned changes nothing and returns `false`.
    pub async fn summon(&mut self, number: &str, actor: &str, department: &str, due: i64, now: i64) -> Result<bool> {
        let current = self.lock_ticket(number).await?;
        if !current.state.is_open() {
            return Err(Error::InvalidTransition {
                from: current.state.as_str(),
                to: "summoned",
            });
        }
        let existing = sqlx::query("SELECT state FROM ticket_coops WHERE number = $1 AND department = $2")
            .bind(number)
            .bind(department)
            .fetch_optional(self.conn())
            .await?;
        if existing.is_some() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO ticket_coops (number, department, state, due, note) VALUES ($1, $2, 'summoned', $3, NULL)",
        )
        .bind(number)
        .bind(department)
        .bind(due)
        .execute(self.conn())
        .await?;
        let state = current.state.as_str();
        ticket_event(
            self.conn(),
            number,
            actor,
            "summon",
            state,
            state,
            Some(department),
            now,
        )
        .await?;
        notify(
            self.conn(),
            &format!("dept:{department}"),
            number,
            &format!("工单 {number} 召集贵部门协办（吹哨报到），请按时限签收办理。"),
            now,
        )
        .await?;
        Ok(true)
    }

    /// A co-handling department accepts (`accepted`) or reports back (`replied`).
    pub async fn coop_step(
        &mut self,
        number: &str,
        department: &str,
        to: &str,
        note: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let current = self.lock_ticket(number).await?;
        let updated = sqlx::query(
            "UPDATE ticket_coops SET state = $1, note = COALESCE($2, note) WHERE number = $3 AND department = $4",
        )
        .bind(to)
        .bind(note)
        .bind(number)
        .bind(department)
        .execute(self.conn())
        .await?;
        if updated.rows_affected() != 1 {
            return Err(Error::NotFound(format!("{number}/{department}")));
        }
        let state = current.state.as_str();
        ticket_event(
            self.conn(),
            number,
            department,
            &format!("coop_{to}"),
            state,
            state,
            note,
            now,
        )
        .await?;
        Ok(())
    }
}

/// Hotline counts for the KPIs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HotlineCounts {
    pub n_tickets: i64,
    pub n_accepted_on_time: i64,
    pub n_replied: i64,
    pub n_replied_on_time: i64,
    pub n_supervised: i64,
}

async fn fetch_ticket(conn: &mut sqlx::AnyConnection, number: &str) -> Result<Option<Ticket>> {
    let row = sqlx::query(&format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE number = $1"))
        .bind(number)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(ticket_from_row).transpose()
}

#[allow(clippy::too_many_arguments)]
async fn ticket_event(
    tx: &mut sqlx::AnyConnection,
    number: &str,
    actor: &str,
    action: &str,
    from: &str,
    to: &str,
    note: Option<&str>,
    at: i64,
) -> Result<()> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM ticket_events WHERE number = $1")
        .bind(number)
        .fetch_one(&mut *tx)
        .await?;
    let seq: i64 = row.try_get("n")?;
    sqlx::query(
        "INSERT INTO ticket_events (number, seq, actor, action, from_state, to_state, note, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(number)
    .bind(seq + 1)
    .bind(actor)
    .bind(action)
    .bind(from)
    .bind(to)
    .bind(note)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(crate) async fn notify(
    tx: &mut sqlx::AnyConnection,
    recipient: &str,
    ticket: &str,
    text: &str,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO notifications (recipient, ticket_number, text, created_at, sent_at) VALUES ($1, $2, $3, $4, NULL)",
    )
    .bind(recipient)
    .bind(ticket)
    .bind(text)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::TicketState::*;

    #[test]
    fn the_lifecycle_allows_only_its_steps() {
        assert!(Dispatched.can_go_to(Returned) && Returned.can_go_to(Dispatched));
        assert!(Replied.can_go_to(Reopened) && Reopened.can_go_to(Replied));
        assert!(!Dispatched.can_go_to(Closed));
        assert!(!Closed.can_go_to(Reopened));
        for state in super::TicketState::ALL {
            assert_eq!(state.as_str().parse::<super::TicketState>().unwrap(), state);
        }
    }
}

//! The operator's dashboard (`/admin`): the hotline's KPIs (签收率, 办结率, 按时办结率,
//! 满意率) over the last weeks and week by week, tickets by category and by department, the
//! overdue tickets, ratings by service and the knowledge gaps. An administrator sees the
//! whole city; department staff see their own department (its tickets, ratings and the gaps
//! whose closest guide is theirs). The figures come from the database; `crate::admin`
//! draws them.

use chrono::{Datelike, Duration, NaiveTime};

use super::tickets::department_name;
use super::{Error, Result};
use crate::auth::{Role, User};
use crate::state::AppState;

const WEEK_MS: i64 = 7 * 86_400_000;
/// Most overdue tickets listed.
const OVERDUE_LISTED: i64 = 50;
/// Most services in the ratings table, most rated first.
const SERVICES_LISTED: usize = 20;
/// Most gap topics shown.
const GAPS_LISTED: usize = 10;
/// The gaps are those of the last week at most: grouping embeds every question read, so a
/// longer period would make each look at the dashboard slow (`banshi gaps --days N` and
/// `GET /api/v1/stats/gaps?days=N` read longer periods on demand).
const GAP_DAYS: i64 = 7;

/// The four hotline rates over a set of tickets (and ratings); `None` where nothing counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kpis {
    pub n_tickets: i64,
    pub n_accepted_on_time: i64,
    pub n_replied: i64,
    pub n_replied_on_time: i64,
    pub n_rated: i64,
    pub n_satisfied: i64,
}

fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

impl Kpis {
    /// 签收率: accepted before the response deadline, of all tickets.
    pub fn response_rate(&self) -> Option<f64> {
        ratio(self.n_accepted_on_time, self.n_tickets)
    }
    /// 办结率: answered, of all tickets.
    pub fn resolution_rate(&self) -> Option<f64> {
        ratio(self.n_replied, self.n_tickets)
    }
    /// 按时办结率: answered before the deadline, of the answered.
    pub fn on_time_rate(&self) -> Option<f64> {
        ratio(self.n_replied_on_time, self.n_replied)
    }
    /// 满意率: 基本满意 or better, of the tickets' ratings.
    pub fn satisfaction_rate(&self) -> Option<f64> {
        ratio(self.n_satisfied, self.n_rated)
    }

    fn add(&mut self, other: &Kpis) {
        self.n_tickets += other.n_tickets;
        self.n_accepted_on_time += other.n_accepted_on_time;
        self.n_replied += other.n_replied;
        self.n_replied_on_time += other.n_replied_on_time;
        self.n_rated += other.n_rated;
        self.n_satisfied += other.n_satisfied;
    }
}

/// One week of the trend: its first day (China time) and its figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    pub start: chrono::NaiveDate,
    pub kpis: Kpis,
}

/// Ratings of one service (or of tickets and conversations, by kind).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRatings {
    pub key: String,
    pub title: String,
    pub stats: backend::RatingStats,
}

pub struct Dashboard {
    /// `None`: the whole city (an administrator); else the department's id and name.
    pub department: Option<(String, String)>,
    pub now: i64,
    pub weeks: Vec<Week>,
    pub total: Kpis,
    pub by_category: Vec<backend::GroupCounts>,
    /// Keys are department names.
    pub by_department: Vec<backend::GroupCounts>,
    pub overdue: Vec<backend::OverdueTicket>,
    /// Department names of the overdue tickets' departments, in the same order.
    pub overdue_departments: Vec<String>,
    pub ratings: Vec<ServiceRatings>,
    pub gaps: crate::wire::GapReport,
}

/// Monday 00:00 (China time) of the week `weeks - 1` weeks before the one holding `now`.
pub fn first_monday(now: i64, weeks: u32) -> chrono::NaiveDate {
    let today = knowledge::time::today(now);
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    monday - Duration::weeks(i64::from(weeks.max(1)) - 1)
}

/// The dashboard of the last `weeks` weeks (this one included) as `user` may see it.
pub async fn build(state: &AppState, user: &User, weeks: u32) -> Result<Dashboard> {
    let engine = state.engine.load_full();
    let department = if user.has(Role::Admin) {
        None
    } else if user.has(Role::DeptStaff) {
        let id = user
            .department
            .clone()
            .ok_or_else(|| Error::Forbidden("您的账号没有所属部门，无法查看部门看板。".into()))?;
        let name = department_name(&engine, &id);
        Some((id, name))
    } else {
        return Err(Error::Forbidden("只有管理员和部门工作人员可以查看运营看板。".into()));
    };
    let dept = department.as_ref().map(|(id, _)| id.as_str());
    let now = state.clock.now();
    let weeks = weeks.clamp(1, 52);
    let start = first_monday(now, weeks);
    let origin = knowledge::time::millis(start.and_time(NaiveTime::MIN));

    let mut trend: Vec<Week> = (0..weeks)
        .map(|i| Week {
            start: start + Duration::weeks(i64::from(i)),
            kpis: Kpis::default(),
        })
        .collect();
    for counts in state.store.hotline_weeks(dept, origin, WEEK_MS).await? {
        if let Some(week) = usize::try_from(counts.week).ok().and_then(|i| trend.get_mut(i)) {
            week.kpis.n_tickets = counts.n_tickets;
            week.kpis.n_accepted_on_time = counts.n_accepted_on_time;
            week.kpis.n_replied = counts.n_replied;
            week.kpis.n_replied_on_time = counts.n_replied_on_time;
        }
    }
    for (wk, rated, satisfied) in state.store.ticket_satisfaction_weeks(dept, origin, WEEK_MS).await? {
        if let Some(week) = usize::try_from(wk).ok().and_then(|i| trend.get_mut(i)) {
            week.kpis.n_rated = rated;
            week.kpis.n_satisfied = satisfied;
        }
    }
    let mut total = Kpis::default();
    for week in &trend {
        total.add(&week.kpis);
    }

    let by_category = state.store.tickets_grouped("category", dept, now).await?;
    let mut by_department = state.store.tickets_grouped("department", dept, now).await?;
    for group in &mut by_department {
        group.key = department_name(&engine, &group.key);
    }
    let overdue = state.store.overdue_tickets(dept, now, OVERDUE_LISTED).await?;
    let overdue_departments = overdue
        .iter()
        .map(|t| department_name(&engine, &t.department))
        .collect();

    let mut ratings: Vec<ServiceRatings> = state
        .store
        .rating_stats_of("service", None, dept)
        .await?
        .into_iter()
        .map(|(key, stats)| ServiceRatings {
            title: service_title(&engine, &key),
            key,
            stats,
        })
        .collect();
    ratings.sort_by(|a, b| b.stats.n_ratings.cmp(&a.stats.n_ratings).then(a.key.cmp(&b.key)));
    ratings.truncate(SERVICES_LISTED);

    let gaps_since = origin.max(now - GAP_DAYS * 86_400_000);
    let mut gaps = super::gaps::report(&state.store, engine.clone(), gaps_since, GAPS_LISTED * 5).await?;
    if let Some(id) = dept {
        // A department writes the guides of its own services: the gaps nearest to them.
        gaps.clusters.retain(|c| {
            c.closest
                .as_ref()
                .and_then(|g| engine.corpus.guide(&g.id))
                .is_some_and(|g| g.department == id)
        });
    }
    gaps.clusters.truncate(GAPS_LISTED);

    Ok(Dashboard {
        department,
        now,
        weeks: trend,
        total,
        by_category,
        by_department,
        overdue,
        overdue_departments,
        ratings,
        gaps,
    })
}

/// A service's title; ratings of tickets and conversations are keyed `(ticket)` and
/// `(conversation)`.
fn service_title(engine: &bot::Engine, key: &str) -> String {
    match key {
        "(ticket)" => "12345 热线工单".into(),
        "(conversation)" => "智能客服对话".into(),
        "(application)" => "网上申请（未记事项）".into(),
        _ => engine
            .corpus
            .guide(key)
            .map(|g| g.title.clone())
            .unwrap_or_else(|| key.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_china_time() {
        // 2026-12-02 is a Wednesday; 00:30 China time is still Tuesday in UTC.
        let now = knowledge::time::millis(
            chrono::NaiveDate::from_ymd_opt(2026, 12, 2)
                .unwrap()
                .and_hms_opt(0, 30, 0)
                .unwrap(),
        );
        assert_eq!(first_monday(now, 1).to_string(), "2026-11-30");
        assert_eq!(first_monday(now, 8).to_string(), "2026-10-12");
        assert_eq!(first_monday(now, 0).to_string(), "2026-11-30");
    }

    #[test]
    fn rates_are_absent_without_a_denominator() {
        let k = Kpis {
            n_tickets: 4,
            n_accepted_on_time: 3,
            n_replied: 2,
            n_replied_on_time: 1,
            ..Kpis::default()
        };
        assert_eq!(k.response_rate(), Some(0.75));
        assert_eq!(k.resolution_rate(), Some(0.5));
        assert_eq!(k.on_time_rate(), Some(0.5));
        assert_eq!(k.satisfaction_rate(), None);
    }
}

//! The service desk's own data: the halls whose windows take appointments (`halls.toml`) and
//! the 服务找人 reminder rules (`reminders.toml`). Both optional; an operator edits them like
//! the guides, and `banshi knowledge check` checks the ids they name.

use chrono::{Datelike, Days, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

/// A service hall that takes appointments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hall {
    pub id: String,
    pub name: String,
    pub address: String,
    /// Length of one slot in minutes.
    #[serde(default = "thirty")]
    pub slot_minutes: u32,
    /// Opening periods of a working day, `HH:MM-HH:MM`, cut into slots.
    pub sessions: Vec<String>,
    /// How many working days ahead can be booked (today not counted).
    #[serde(default = "seven")]
    pub book_ahead_days: u32,
    #[serde(rename = "window")]
    pub windows: Vec<Window>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub id: String,
    pub name: String,
    /// Guide ids served here; `"*"` serves every service (综合窗口).
    pub services: Vec<String>,
    /// Citizens one slot of this window takes.
    pub capacity: u32,
}

fn thirty() -> u32 {
    30
}

fn seven() -> u32 {
    7
}

/// One bookable time: a window of a hall, on a day, from `start` to `end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub hall: String,
    pub window: String,
    pub day: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub capacity: u32,
}

impl Window {
    pub fn serves(&self, service_id: &str) -> bool {
        self.services.iter().any(|s| s == "*" || s == service_id)
    }
}

/// `HH:MM-HH:MM`.
pub fn parse_session(text: &str) -> Option<(NaiveTime, NaiveTime)> {
    let (from, to) = text.split_once('-')?;
    let from = NaiveTime::parse_from_str(from.trim(), "%H:%M").ok()?;
    let to = NaiveTime::parse_from_str(to.trim(), "%H:%M").ok()?;
    (from < to).then_some((from, to))
}

impl Hall {
    /// The slots of `day` for `service_id`: for each window serving it (a named window
    /// before the 综合窗口), every slot of every session. Empty on a day off.
    pub fn slots(&self, calendar: &crate::Calendar, service_id: &str, day: NaiveDate) -> Vec<Slot> {
        if !calendar.is_working_day(day) || self.slot_minutes == 0 {
            return Vec::new();
        }
        let step = chrono::Duration::minutes(i64::from(self.slot_minutes));
        let mut windows: Vec<&Window> = self.windows.iter().filter(|w| w.serves(service_id)).collect();
        windows.sort_by_key(|w| w.services.iter().any(|s| s == "*"));
        let mut out = Vec::new();
        for window in windows {
            for session in &self.sessions {
                let Some((from, to)) = parse_session(session) else {
                    continue;
                };
                let mut start = from;
                while start + step <= to {
                    out.push(Slot {
                        hall: self.id.clone(),
                        window: window.id.clone(),
                        day,
                        start,
                        end: start + step,
                        capacity: window.capacity,
                    });
                    start += step;
                }
            }
        }
        out
    }

    /// The working days that can be booked from `today`: today and `book_ahead_days`
    /// working days after it.
    pub fn bookable_days(&self, calendar: &crate::Calendar, today: NaiveDate) -> Vec<NaiveDate> {
        let mut days = Vec::new();
        let last = calendar.add_working_days(today, self.book_ahead_days);
        let mut day = today;
        while day <= last {
            if calendar.is_working_day(day) {
                days.push(day);
            }
            match day.checked_add_days(Days::new(1)) {
                Some(next) => day = next,
                None => break,
            }
        }
        days
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HallsFile {
    #[serde(rename = "hall", default)]
    pub halls: Vec<Hall>,
}

/// A 服务找人 rule: who it finds and what it suggests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReminderRule {
    pub id: String,
    /// What it looks at: `expiry` (an e-licence's expiry date), `age` (a birthday on the ID
    /// card) or `issued` (an e-licence issued recently, such as a birth certificate).
    pub kind: ReminderKind,
    /// The e-licence type looked at (`expiry`, `issued`); `age` reads `id_card.birth_date`.
    #[serde(default)]
    pub e_license: Option<String>,
    /// `expiry`: days before the expiry; `issued`: days after issue; `age`: days before the
    /// birthday.
    pub within_days: u32,
    /// `age`: the age reached.
    #[serde(default)]
    pub age: Option<u32>,
    /// The guide suggested.
    pub service_id: String,
    /// Shown to the citizen; `{date}` is the expiry date, the birthday or the issue date,
    /// `{age}` the age.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    Expiry,
    Age,
    Issued,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemindersFile {
    #[serde(rename = "rule", default)]
    pub rules: Vec<ReminderRule>,
}

/// What a rule found for one person today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub rule_id: String,
    pub service_id: String,
    pub reason: String,
    /// The date it is about (`YYYY-MM-DD`).
    pub date: NaiveDate,
    /// Names the occasion, so that it is reminded once: the rule and the date.
    pub occasion: String,
}

/// An e-licence as the rules read it.
pub struct Held<'a> {
    pub kind: &'a str,
    pub issued_on: Option<NaiveDate>,
    pub expires_on: Option<NaiveDate>,
    pub fields: &'a std::collections::BTreeMap<String, String>,
}

impl ReminderRule {
    /// Whether the rule finds something for a person holding `licenses` on `today`.
    pub fn check(&self, licenses: &[Held<'_>], today: NaiveDate) -> Option<Due> {
        let within = Days::new(u64::from(self.within_days));
        let date = match self.kind {
            ReminderKind::Expiry => {
                let held = licenses.iter().find(|l| Some(l.kind) == self.e_license.as_deref())?;
                let expires = held.expires_on?;
                (today <= expires && expires <= today.checked_add_days(within)?).then_some(expires)?
            }
            ReminderKind::Issued => {
                let held = licenses.iter().find(|l| Some(l.kind) == self.e_license.as_deref())?;
                let issued = held.issued_on?;
                (issued <= today && today <= issued.checked_add_days(within)?).then_some(issued)?
            }
            ReminderKind::Age => {
                let card = licenses.iter().find(|l| l.kind == "id_card")?;
                let born = NaiveDate::parse_from_str(card.fields.get("birth_date")?, "%Y-%m-%d").ok()?;
                let age = self.age?;
                let birthday = born.with_year_checked(born.year() + age as i32)?;
                // From `within_days` before the birthday until the end of that year.
                let from = birthday.checked_sub_days(within)?;
                (from <= today && (today <= birthday || today.year() == birthday.year())).then_some(birthday)?
            }
        };
        let shown = date.format("%Y-%m-%d").to_string();
        Some(Due {
            rule_id: self.id.clone(),
            service_id: self.service_id.clone(),
            reason: self
                .reason
                .replace("{date}", &shown)
                .replace("{age}", &self.age.map(|a| a.to_string()).unwrap_or_default()),
            date,
            occasion: format!("{}:{shown}", self.id),
        })
    }
}

trait WithYear {
    fn with_year_checked(self, year: i32) -> Option<NaiveDate>;
}

impl WithYear for NaiveDate {
    /// The same day in `year` (29 February becomes 1 March in a common year).
    fn with_year_checked(self, year: i32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(year, self.month(), self.day()).or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_licence_is_due_inside_the_window_only() {
        let rule = ReminderRule {
            id: "dl".into(),
            kind: ReminderKind::Expiry,
            e_license: Some("driving_license".into()),
            within_days: 90,
            age: None,
            service_id: "driving-license-renewal".into(),
            reason: "因为您的驾驶证将于 {date} 到期".into(),
        };
        let fields = BTreeMap::new();
        let held = [Held {
            kind: "driving_license",
            issued_on: None,
            expires_on: Some(day("2027-01-30")),
            fields: &fields,
        }];
        let due = rule.check(&held, day("2026-12-01")).unwrap();
        assert_eq!(due.reason, "因为您的驾驶证将于 2027-01-30 到期");
        assert_eq!(due.occasion, "dl:2027-01-30");
        assert!(rule.check(&held, day("2026-10-01")).is_none(), "too early");
        assert!(rule.check(&held, day("2027-01-31")).is_none(), "already expired");
        assert!(rule.check(&[], day("2026-12-01")).is_none(), "no licence");
    }

    #[test]
    fn an_age_is_due_from_shortly_before_the_birthday_to_the_years_end() {
        let rule = ReminderRule {
            id: "60".into(),
            kind: ReminderKind::Age,
            e_license: None,
            within_days: 30,
            age: Some(60),
            service_id: "senior-preferential-card".into(),
            reason: "您将于 {date} 年满 {age} 周岁".into(),
        };
        let mut fields = BTreeMap::new();
        fields.insert("birth_date".to_string(), "1966-12-20".to_string());
        let held = [Held {
            kind: "id_card",
            issued_on: None,
            expires_on: None,
            fields: &fields,
        }];
        let due = rule.check(&held, day("2026-12-01")).unwrap();
        assert_eq!(due.reason, "您将于 2026-12-20 年满 60 周岁");
        assert!(
            rule.check(&held, day("2026-11-01")).is_none(),
            "more than 30 days before"
        );
        assert!(rule.check(&held, day("2027-01-05")).is_none(), "the next year");
    }

    #[test]
    fn slots_fill_the_sessions_of_working_days() {
        let hall = Hall {
            id: "h".into(),
            name: "中心".into(),
            address: "路1号".into(),
            slot_minutes: 30,
            sessions: vec!["09:00-10:00".into(), "13:30-14:30".into()],
            book_ahead_days: 2,
            windows: vec![Window {
                id: "A".into(),
                name: "综合".into(),
                services: vec!["*".into()],
                capacity: 2,
            }],
        };
        let calendar = crate::Calendar::default();
        let slots = hall.slots(&calendar, "passport", day("2026-12-01"));
        let starts: Vec<String> = slots.iter().map(|s| s.start.format("%H:%M").to_string()).collect();
        assert_eq!(starts, ["09:00", "09:30", "13:30", "14:00"]);
        assert!(
            hall.slots(&calendar, "passport", day("2026-12-05")).is_empty(),
            "a Saturday"
        );
        // Friday 4th: today and two working days ahead skip the weekend.
        let days = hall.bookable_days(&calendar, day("2026-12-04"));
        assert_eq!(days, [day("2026-12-04"), day("2026-12-07"), day("2026-12-08")]);
    }
}

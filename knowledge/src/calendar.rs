//! Working days: weekends and public holidays off, make-up working days (调休) on. Promised
//! deadlines of applications and tickets are counted with it.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// Public holidays (dates off even on a weekday).
    #[serde(default, deserialize_with = "dates")]
    pub holidays: Vec<NaiveDate>,
    /// Make-up working days (weekend dates that are working days).
    #[serde(default, deserialize_with = "dates")]
    pub workdays: Vec<NaiveDate>,
}

/// TOML dates (`2026-10-01`) or strings.
fn dates<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<NaiveDate>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum DateOrString {
        Date(toml::value::Datetime),
        Text(String),
    }
    Vec::<DateOrString>::deserialize(deserializer)?
        .into_iter()
        .map(|value| {
            let text = match value {
                DateOrString::Date(date) => date.to_string(),
                DateOrString::Text(text) => text,
            };
            text.parse()
                .map_err(|_| serde::de::Error::custom(format!("not a date YYYY-MM-DD: {text:?}")))
        })
        .collect()
}

impl Calendar {
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        if self.workdays.contains(&date) {
            return true;
        }
        if self.holidays.contains(&date) {
            return false;
        }
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The date `n` working days after `start` (the start day itself not counted); `n = 0`
    /// is the same day.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut date = start;
        let mut left = n;
        while left > 0 {
            date = date.checked_add_days(Days::new(1)).unwrap_or(date);
            if self.is_working_day(date) {
                left -= 1;
            }
        }
        date
    }

    /// Working days strictly after `from` up to and including `to` (0 when `to <= from`).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut n = 0;
        let mut date = from;
        while date < to {
            date = date.checked_add_days(Days::new(1)).unwrap_or(to);
            if self.is_working_day(date) {
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn weekends_and_holidays_are_skipped_and_make_up_days_count() {
        let calendar = Calendar {
            holidays: vec![day("2026-10-01"), day("2026-10-02"), day("2026-10-05")],
            workdays: vec![day("2026-10-10")],
        };
        // Wed 2026-09-30 + 1 → Thu 10-01 holiday, Fri 10-02 holiday, weekend, Mon 10-05 holiday → Tue 10-06.
        assert_eq!(calendar.add_working_days(day("2026-09-30"), 1), day("2026-10-06"));
        // Fri 10-09 + 1 → Sat 10-10 is a make-up working day.
        assert_eq!(calendar.add_working_days(day("2026-10-09"), 1), day("2026-10-10"));
        assert_eq!(calendar.add_working_days(day("2026-10-09"), 0), day("2026-10-09"));
        assert_eq!(calendar.working_days_between(day("2026-09-30"), day("2026-10-06")), 1);
    }
}

#[cfg(test)]
mod file_tests {
    #[test]
    fn the_sample_calendar_parses_and_knows_national_day() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/calendar.toml")).unwrap();
        let calendar: super::Calendar = toml::from_str(&text).unwrap();
        assert!(!calendar.is_working_day("2026-10-01".parse().unwrap()));
        assert!(
            calendar.is_working_day("2026-10-10".parse().unwrap()),
            "a make-up Saturday"
        );
    }
}

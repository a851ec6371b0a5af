//! 12345 rules: which department leads each category, and the response and resolution
//! limits by kind and urgency. Plus the labelled examples the classifier heads learn from.

use std::path::Path;

use chrono::{Days, NaiveDateTime, NaiveTime, TimeDelta};
use serde::Deserialize;

use crate::Calendar;

/// The five kinds of hotline requests.
pub const KINDS: [&str; 5] = ["投诉", "举报", "求助", "建议", "咨询"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketRules {
    pub working_hours: WorkingHours,
    #[serde(rename = "category")]
    pub categories: Vec<Category>,
    #[serde(rename = "sla")]
    pub slas: Vec<Sla>,
    /// The districts and counties tickets are filed in, as written in addresses.
    #[serde(default)]
    pub districts: Vec<String>,
    /// A district's own department for a category (a county bureau), before the city's.
    #[serde(default, rename = "district_route")]
    pub district_routes: Vec<DistrictRoute>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictRoute {
    pub district: String,
    pub category: String,
    pub department: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkingHours {
    #[serde(with = "hhmm")]
    pub start: NaiveTime,
    #[serde(with = "hhmm")]
    pub end: NaiveTime,
}

mod hhmm {
    use chrono::NaiveTime;
    use serde::Deserialize;
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        NaiveTime::parse_from_str(&text, "%H:%M").map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub name: String,
    pub department: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    pub kind: String,
    /// `normal` or `urgent`.
    pub urgency: String,
    pub response_hours: u32,
    pub resolve_days: u32,
}

impl Default for TicketRules {
    fn default() -> Self {
        TicketRules {
            working_hours: WorkingHours {
                start: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
                end: NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default(),
            },
            categories: Vec::new(),
            slas: Vec::new(),
            districts: Vec::new(),
            district_routes: Vec::new(),
        }
    }
}

impl TicketRules {
    pub fn department_of(&self, category: &str) -> Option<&str> {
        self.categories
            .iter()
            .find(|c| c.name == category)
            .map(|c| c.department.as_str())
    }

    /// The department for a category in a district: the district's own when it has one
    /// (`[[district_route]]`), else the city's lead department.
    pub fn department_in(&self, category: &str, district: Option<&str>) -> Option<&str> {
        district
            .and_then(|d| {
                self.district_routes
                    .iter()
                    .find(|r| r.district == d && r.category == category)
            })
            .map(|r| r.department.as_str())
            .or_else(|| self.department_of(category))
    }

    /// The first known district named in a text (an address), if any.
    pub fn district_in(&self, text: &str) -> Option<&str> {
        self.districts
            .iter()
            .filter_map(|d| text.find(d.as_str()).map(|at| (at, d)))
            .min_by_key(|(at, _)| *at)
            .map(|(_, d)| d.as_str())
    }

    /// The limits for a kind and urgency; unknown ones get the strictest normal rule.
    pub fn sla(&self, kind: &str, urgent: bool) -> Sla {
        let urgency = if urgent { "urgent" } else { "normal" };
        self.slas
            .iter()
            .find(|s| s.kind == kind && s.urgency == urgency)
            .cloned()
            .unwrap_or(Sla {
                kind: kind.to_string(),
                urgency: urgency.into(),
                response_hours: 2,
                resolve_days: 3,
            })
    }

    /// `start` plus `hours` working hours (working days, within working hours).
    pub fn add_working_hours(&self, calendar: &Calendar, start: NaiveDateTime, hours: u32) -> NaiveDateTime {
        let WorkingHours {
            start: open,
            end: close,
        } = self.working_hours;
        let mut at = self.next_working_moment(calendar, start);
        let mut left = TimeDelta::hours(i64::from(hours));
        while left > TimeDelta::zero() {
            let end_of_day = at.date().and_time(close);
            let available = end_of_day - at;
            if available >= left {
                return at + left;
            }
            left -= available;
            at = self.next_working_moment(calendar, (at.date() + Days::new(1)).and_time(open));
        }
        at
    }

    /// `start` plus `days` working days, at the same time of day.
    pub fn add_working_days(&self, calendar: &Calendar, start: NaiveDateTime, days: u32) -> NaiveDateTime {
        calendar.add_working_days(start.date(), days).and_time(start.time())
    }

    fn next_working_moment(&self, calendar: &Calendar, at: NaiveDateTime) -> NaiveDateTime {
        let WorkingHours {
            start: open,
            end: close,
        } = self.working_hours;
        let mut at = at;
        loop {
            if calendar.is_working_day(at.date()) {
                if at.time() < open {
                    return at.date().and_time(open);
                }
                if at.time() < close {
                    return at;
                }
            }
            at = (at.date() + Days::new(1)).and_time(open);
        }
    }
}

/// A labelled example: (label, text).
pub type Example = (String, String);

/// Reads `[[example]]` entries with a text and the label in `label_key`.
pub fn load_examples(path: &Path, label_key: &str) -> crate::Result<Vec<Example>> {
    let text = std::fs::read_to_string(path).map_err(|source| crate::Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|err| {
        crate::Error::Invalid(vec![crate::Diagnostic {
            path: path.to_path_buf(),
            line: 1,
            severity: crate::Severity::Error,
            message: format!("格式错误：{}", err.message()),
        }])
    })?;
    let examples = table
        .get("example")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    Ok(examples
        .iter()
        .filter_map(|e| {
            let label = e.get(label_key)?.as_str()?.to_string();
            let text = e.get("text")?.as_str()?.to_string();
            Some((label, text))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn a_district_bureau_takes_its_own_categories_before_the_city() {
        let rules: TicketRules = toml::from_str(
            r#"
            working_hours = { start = "09:00", end = "17:00" }
            districts = ["滨江区", "西岭县"]
            [[category]]
            name = "城乡建设"
            department = "housing-construction"
            [[category]]
            name = "交通运输"
            department = "transport"
            [[district_route]]
            district = "西岭县"
            category = "城乡建设"
            department = "xiling-housing-construction"
            [[sla]]
            kind = "投诉"
            urgency = "normal"
            response_hours = 2
            resolve_days = 5
            "#,
        )
        .unwrap();
        let district = rules.district_in("西岭县城关镇幸福小区3幢");
        assert_eq!(district, Some("西岭县"));
        assert_eq!(
            rules.department_in("城乡建设", district),
            Some("xiling-housing-construction")
        );
        // No county bureau for transport: the city's.
        assert_eq!(rules.department_in("交通运输", district), Some("transport"));
        // Another district, or none: the city's.
        assert_eq!(
            rules.department_in("城乡建设", rules.district_in("滨江区江滨路1号")),
            Some("housing-construction")
        );
        assert_eq!(
            rules.department_in("城乡建设", rules.district_in("人民路1号")),
            Some("housing-construction")
        );
        // The first district named wins.
        assert_eq!(rules.district_in("滨江区某地，原西岭县"), Some("滨江区"));
    }

    #[test]
    fn working_hours_skip_nights_weekends_and_holidays() {
        let rules = TicketRules::default();
        let calendar = Calendar {
            holidays: vec!["2026-12-01".parse().unwrap()],
            workdays: vec![],
        };
        // Fri 16:00 + 2h → Mon 10:00.
        assert_eq!(
            rules.add_working_hours(&calendar, at("2026-11-27 16:00"), 2),
            at("2026-11-30 10:00")
        );
        // Mon 20:00 + 1h → Tue is a holiday → Wed 10:00.
        assert_eq!(
            rules.add_working_hours(&calendar, at("2026-11-30 20:00"), 1),
            at("2026-12-02 10:00")
        );
        // Saturday 08:00 + 8h → Mon 17:00.
        assert_eq!(
            rules.add_working_hours(&calendar, at("2026-11-28 08:00"), 8),
            at("2026-11-30 17:00")
        );
    }

    #[test]
    fn the_sample_rules_cover_every_kind_and_urgency() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/tickets.toml")).unwrap();
        let rules: TicketRules = toml::from_str(&text).unwrap();
        for kind in KINDS {
            for urgent in [false, true] {
                assert!(
                    rules
                        .slas
                        .iter()
                        .any(|s| s.kind == kind && (s.urgency == "urgent") == urgent),
                    "{kind}"
                );
            }
        }
        assert_eq!(rules.department_of("环境保护"), Some("ecology-environment"));
    }
}

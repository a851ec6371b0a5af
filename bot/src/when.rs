//! When a citizen wants to come (“明天下午”, “下周三上午”, “12月5日”, “tomorrow afternoon”):
//! read into a day relative to today and a part of the day. Language, not a city's data: the
//! same in every deployment.

use std::sync::LazyLock;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use regex::Regex;

/// A day as said, resolved against today by [`Day::resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    /// 今天 0, 明天 1, 后天 2, 大后天 3.
    InDays(u32),
    /// 周三: the next Wednesday (today if it is one); 下周三: Wednesday of next week.
    Weekday { weekday: Weekday, next_week: bool },
    /// 12月5日 / 5号: the next such date.
    Date { month: Option<u32>, day: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartOfDay {
    Morning,
    Afternoon,
}

impl PartOfDay {
    /// Whether a slot starting at `hour` falls in this part of the day.
    pub fn holds(self, hour: u32) -> bool {
        match self {
            PartOfDay::Morning => hour < 12,
            PartOfDay::Afternoon => hour >= 12,
        }
    }
}

static FULL_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d{4})-(\d{1,2})-(\d{1,2})|(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?|(\d{1,2})\s*[日号]").unwrap()
});
static WEEKDAY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(下个?|这个?|本)?(?:周|星期|礼拜)([一二三四五六日天1-7])").unwrap());

fn weekday_of(c: &str) -> Option<Weekday> {
    Some(match c {
        "一" | "1" => Weekday::Mon,
        "二" | "2" => Weekday::Tue,
        "三" | "3" => Weekday::Wed,
        "四" | "4" => Weekday::Thu,
        "五" | "5" => Weekday::Fri,
        "六" | "6" => Weekday::Sat,
        "日" | "天" | "7" => Weekday::Sun,
        _ => return None,
    })
}

/// Reads the day and the part of the day a message names, if any.
pub fn parse(text: &str) -> (Option<Day>, Option<PartOfDay>) {
    let lower = text.to_lowercase();
    let part = if ["上午", "早上", "早晨", "morning"].iter().any(|w| lower.contains(w)) {
        Some(PartOfDay::Morning)
    } else if ["下午", "傍晚", "afternoon"].iter().any(|w| lower.contains(w)) {
        Some(PartOfDay::Afternoon)
    } else {
        None
    };
    let relative = [
        ("大后天", 3),
        ("后天", 2),
        ("明天", 1),
        ("明日", 1),
        ("今天", 0),
        ("今日", 0),
        ("day after tomorrow", 2),
        ("tomorrow", 1),
        ("today", 0),
    ];
    if let Some((_, n)) = relative.iter().find(|(w, _)| lower.contains(w)) {
        return (Some(Day::InDays(*n)), part);
    }
    if let Some(c) = WEEKDAY.captures(&lower)
        && let Some(weekday) = weekday_of(&c[2])
    {
        let next_week = c.get(1).is_some_and(|m| m.as_str().starts_with('下'));
        return (Some(Day::Weekday { weekday, next_week }), part);
    }
    let english = [
        ("monday", Weekday::Mon),
        ("tuesday", Weekday::Tue),
        ("wednesday", Weekday::Wed),
        ("thursday", Weekday::Thu),
        ("friday", Weekday::Fri),
        ("saturday", Weekday::Sat),
        ("sunday", Weekday::Sun),
    ];
    if let Some((_, weekday)) = english.iter().find(|(w, _)| lower.contains(w)) {
        let next_week = lower.contains("next ");
        return (
            Some(Day::Weekday {
                weekday: *weekday,
                next_week,
            }),
            part,
        );
    }
    if let Some(c) = FULL_DATE.captures(&lower) {
        let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
        let day = if c.get(1).is_some() {
            num(3).map(|d| Day::Date { month: num(2), day: d })
        } else if c.get(4).is_some() {
            num(5).map(|d| Day::Date { month: num(4), day: d })
        } else {
            num(6).map(|d| Day::Date { month: None, day: d })
        };
        if let Some(Day::Date { day, month }) = day
            && (1..=31).contains(&day)
            && month.is_none_or(|m| (1..=12).contains(&m))
        {
            return (Some(Day::Date { month, day }), part);
        }
    }
    (None, part)
}

impl Day {
    /// The date meant, said on `today`.
    pub fn resolve(self, today: NaiveDate) -> Option<NaiveDate> {
        match self {
            Day::InDays(n) => today.checked_add_days(Days::new(u64::from(n))),
            Day::Weekday { weekday, next_week } => {
                let from_monday = today.weekday().num_days_from_monday();
                let target = weekday.num_days_from_monday();
                let ahead = if next_week {
                    7 - from_monday + target
                } else {
                    (target + 7 - from_monday) % 7
                };
                today.checked_add_days(Days::new(u64::from(ahead)))
            }
            Day::Date { month, day } => {
                let month = month.unwrap_or(today.month());
                let this_year = NaiveDate::from_ymd_opt(today.year(), month, day);
                match this_year {
                    Some(date) if date >= today => Some(date),
                    _ if month == today.month() && this_year.is_some() => {
                        // “5号” said on the 20th: the 5th of next month.
                        let (y, m) = if month == 12 {
                            (today.year() + 1, 1)
                        } else {
                            (today.year(), month + 1)
                        };
                        NaiveDate::from_ymd_opt(y, m, day)
                    }
                    _ => NaiveDate::from_ymd_opt(today.year() + 1, month, day),
                }
            }
        }
    }
}

/// `12月2日（周三）`
pub fn show_day(day: NaiveDate) -> String {
    const NAMES: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
    format!(
        "{}月{}日（{}）",
        day.month(),
        day.day(),
        NAMES[day.weekday().num_days_from_monday() as usize]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn days_and_parts_are_read_and_resolved() {
        // 2026-12-01 is a Tuesday.
        let today = date("2026-12-01");
        let at = |text: &str| {
            let (day, part) = parse(text);
            (day.and_then(|d| d.resolve(today)), part)
        };
        assert_eq!(
            at("明天下午有号吗"),
            (Some(date("2026-12-02")), Some(PartOfDay::Afternoon))
        );
        assert_eq!(at("后天上午"), (Some(date("2026-12-03")), Some(PartOfDay::Morning)));
        assert_eq!(at("周二"), (Some(date("2026-12-01")), None));
        assert_eq!(at("星期五可以吗"), (Some(date("2026-12-04")), None));
        assert_eq!(at("下周三"), (Some(date("2026-12-09")), None));
        assert_eq!(at("12月8日"), (Some(date("2026-12-08")), None));
        assert_eq!(at("1月4号上午"), (Some(date("2027-01-04")), Some(PartOfDay::Morning)));
        assert_eq!(at("2027-01-05"), (Some(date("2027-01-05")), None));
        assert_eq!(
            at("tomorrow afternoon"),
            (Some(date("2026-12-02")), Some(PartOfDay::Afternoon))
        );
        assert_eq!(at("我要预约"), (None, None));
        assert_eq!(show_day(date("2026-12-02")), "12月2日（周三）");
    }
}

//! China time, the one place where instants become the city's dates and hours. Every
//! deadline, sequence day and statistics month goes through here, so nothing depends on the
//! server's `TZ`. Asia/Shanghai has been UTC+8 without daylight saving since 1991, so a fixed
//! offset is exact for every date a government service deals with today.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};

/// UTC+8.
pub fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// The wall-clock time in China at unix milliseconds `millis`.
pub fn local(millis: i64) -> NaiveDateTime {
    DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .with_timezone(&china())
        .naive_local()
}

/// Unix milliseconds of a China wall-clock time.
pub fn millis(local: NaiveDateTime) -> i64 {
    china()
        .from_local_datetime(&local)
        .single()
        .map_or(0, |t| t.timestamp_millis())
}

/// The date in China at `millis`.
pub fn today(millis: i64) -> NaiveDate {
    local(millis).date()
}

/// `YYYY-MM-DD HH:MM` in China time.
pub fn show(millis: i64) -> String {
    local(millis).format("%Y-%m-%d %H:%M").to_string()
}

/// `YYYYMMDD`, the day part of application and ticket numbers.
pub fn day_code(millis: i64) -> String {
    local(millis).format("%Y%m%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midnight_in_beijing_is_four_in_the_afternoon_utc() {
        // 2026-12-01 16:00 UTC is 2026-12-02 00:00 in China.
        let millis = 1_796_140_800_000;
        assert_eq!(day_code(millis), "20261202");
        assert_eq!(show(millis), "2026-12-02 00:00");
        assert_eq!(super::millis(local(millis)), millis);
        assert_eq!(day_code(millis - 1), "20261201");
    }
}

//! Time as the server sees it: the system clock in production, a clock the tests move.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, NaiveDateTime, TimeDelta};

pub trait Clock: Send + Sync {
    /// Unix milliseconds.
    fn now(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        backend::now_millis()
    }
}

/// A clock that only moves when told (tests jump days ahead with it).
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: i64) -> ManualClock {
        ManualClock(AtomicI64::new(start))
    }

    pub fn advance(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// China time (UTC+8), the time the city's working hours are counted in.
pub fn local(millis: i64) -> NaiveDateTime {
    DateTime::from_timestamp_millis(millis)
        .map(|t| t.naive_utc())
        .unwrap_or_default()
        + TimeDelta::hours(8)
}

pub fn millis(local: NaiveDateTime) -> i64 {
    (local - TimeDelta::hours(8)).and_utc().timestamp_millis()
}

/// `YYYY-MM-DD HH:MM` in China time.
pub fn show(millis: i64) -> String {
    local(millis).format("%Y-%m-%d %H:%M").to_string()
}

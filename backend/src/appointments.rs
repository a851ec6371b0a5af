//! Window appointments (预约): a place in a time slot of a hall's window. The places of a
//! slot are seats `0..capacity`; a partial unique index lets one live booking hold a seat, so
//! concurrent requests for the last place give exactly one success on either database, and
//! another lets a person hold one live booking a service. Moving a booking cancels the old
//! one and books the new one in one transaction: if the new slot is full, nothing changes.

use std::collections::HashMap;

use sqlx::Row;

use crate::{Result, Store};

/// A slot to book, with the window's capacity (from the knowledge folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub holder_id: String,
    pub service_id: String,
    pub hall: String,
    pub window_id: String,
    /// `YYYY-MM-DD`
    pub day: String,
    /// `HH:MM`
    pub start_time: String,
    pub end_time: String,
    pub capacity: i64,
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    pub number: String,
    pub holder_id: String,
    pub service_id: String,
    pub hall: String,
    pub window_id: String,
    pub day: String,
    pub start_time: String,
    pub end_time: String,
    /// booked or cancelled
    pub state: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum BookError {
    /// Every place of the slot is taken.
    #[error("the slot is full")]
    Full,
    /// The person already holds a live booking for this service.
    #[error("already booked: {}", .0.number)]
    AlreadyBooked(Box<Appointment>),
    /// The booking to move is not the holder's or is no longer live.
    #[error("no live booking {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] crate::Error),
}

impl From<sqlx::Error> for BookError {
    fn from(err: sqlx::Error) -> BookError {
        BookError::Store(err.into())
    }
}

const COLUMNS: &str =
    "number, holder_id, service_id, hall, window_id, day, start_time, end_time, state, created_at, updated_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<Appointment> {
    Ok(Appointment {
        number: row.try_get("number")?,
        holder_id: row.try_get("holder_id")?,
        service_id: row.try_get("service_id")?,
        hall: row.try_get("hall")?,
        window_id: row.try_get("window_id")?,
        day: row.try_get("day")?,
        start_time: row.try_get("start_time")?,
        end_time: row.try_get("end_time")?,
        state: row.try_get("state")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Books a place in the slot (replacing the holder's live booking `replacing`, if
    /// given, in the same transaction).
    pub async fn book(
        &self,
        booking: &Booking,
        replacing: Option<&str>,
        now: i64,
    ) -> std::result::Result<Appointment, BookError> {
        // Each try either books or finds the seat it chose taken by a concurrent booking.
        for _ in 0..=booking.capacity.max(1) {
            let mut tx = self.begin().await?;
            // The first statement writes (the day's number): on SQLite the transaction holds
            // the write lock before it reads the seats; on PostgreSQL bookings of a day wait
            // for each other at the counter row. A refused booking rolls the number back.
            let number = tx.next_number("YY", now).await?;
            if let Some(old) = replacing {
                let cancelled = sqlx::query(
                    "UPDATE appointments SET state = 'cancelled', updated_at = $1 \
                     WHERE number = $2 AND holder_id = $3 AND state = 'booked'",
                )
                .bind(now)
                .bind(old)
                .bind(&booking.holder_id)
                .execute(tx.conn())
                .await?
                .rows_affected();
                if cancelled == 0 {
                    return Err(BookError::NotFound(old.to_string()));
                }
            }
            let taken: Vec<i64> = sqlx::query(
                "SELECT seat FROM appointments WHERE hall = $1 AND window_id = $2 AND day = $3 \
                 AND start_time = $4 AND state = 'booked'",
            )
            .bind(&booking.hall)
            .bind(&booking.window_id)
            .bind(&booking.day)
            .bind(&booking.start_time)
            .fetch_all(tx.conn())
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>("seat"))
            .collect::<std::result::Result<_, _>>()?;
            let Some(seat) = (0..booking.capacity).find(|s| !taken.contains(s)) else {
                return Err(BookError::Full);
            };
            let inserted = sqlx::query(
                "INSERT INTO appointments (number, holder_id, service_id, hall, window_id, day, start_time, end_time, \
                 seat, state, session_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'booked', $10, $11, $11) ON CONFLICT DO NOTHING",
            )
            .bind(&number)
            .bind(&booking.holder_id)
            .bind(&booking.service_id)
            .bind(&booking.hall)
            .bind(&booking.window_id)
            .bind(&booking.day)
            .bind(&booking.start_time)
            .bind(&booking.end_time)
            .bind(seat)
            .bind(&booking.session_id)
            .bind(now)
            .execute(tx.conn())
            .await?
            .rows_affected();
            if inserted == 1 {
                tx.commit().await?;
                return Ok(Appointment {
                    number,
                    holder_id: booking.holder_id.clone(),
                    service_id: booking.service_id.clone(),
                    hall: booking.hall.clone(),
                    window_id: booking.window_id.clone(),
                    day: booking.day.clone(),
                    start_time: booking.start_time.clone(),
                    end_time: booking.end_time.clone(),
                    state: "booked".into(),
                    created_at: now,
                    updated_at: now,
                });
            }
            drop(tx);
            if let Some(held) = self.live_appointment(&booking.holder_id, &booking.service_id).await? {
                return Err(BookError::AlreadyBooked(Box::new(held)));
            }
        }
        Err(BookError::Full)
    }

    /// The holder's live booking for a service.
    pub async fn live_appointment(&self, holder_id: &str, service_id: &str) -> Result<Option<Appointment>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM appointments WHERE holder_id = $1 AND service_id = $2 AND state = 'booked'"
        ))
        .bind(holder_id)
        .bind(service_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Cancels the holder's live booking; `None` when there is none by that number.
    pub async fn cancel_appointment(&self, number: &str, holder_id: &str, now: i64) -> Result<Option<Appointment>> {
        let changed = sqlx::query(
            "UPDATE appointments SET state = 'cancelled', updated_at = $1 \
             WHERE number = $2 AND holder_id = $3 AND state = 'booked'",
        )
        .bind(now)
        .bind(number)
        .bind(holder_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        self.appointment(number).await
    }

    pub async fn appointment(&self, number: &str) -> Result<Option<Appointment>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM appointments WHERE number = $1"))
            .bind(number)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A person's bookings, newest first.
    pub async fn appointments_of(&self, holder_id: &str) -> Result<Vec<Appointment>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM appointments WHERE holder_id = $1 ORDER BY created_at DESC, number DESC"
        ))
        .bind(holder_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Live bookings a slot of a hall on a day: (window, start time) → places taken.
    pub async fn booked_places(&self, hall: &str, day: &str) -> Result<HashMap<(String, String), i64>> {
        let rows = sqlx::query(
            "SELECT window_id, start_time, COUNT(*) AS n FROM appointments \
             WHERE hall = $1 AND day = $2 AND state = 'booked' GROUP BY window_id, start_time",
        )
        .bind(hall)
        .bind(day)
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::new();
        for row in rows {
            out.insert(
                (row.try_get("window_id")?, row.try_get("start_time")?),
                row.try_get("n")?,
            );
        }
        Ok(out)
    }
}

//! Uploads, window appointments and the 服务找人 inbox against real databases: SQLite always,
//! PostgreSQL when reachable (always in CI).

use backend::testing::TestDb;
use backend::{BookError, Booking, NewInboxItem, NewUpload};

fn booking(holder: &str, service: &str, capacity: i64) -> Booking {
    Booking {
        holder_id: holder.into(),
        service_id: service.into(),
        hall: "city-center".into(),
        window_id: "A".into(),
        day: "2026-12-02".into(),
        start_time: "14:00".into(),
        end_time: "14:30".into(),
        capacity,
        session_id: None,
    }
}

const NOW: i64 = 1_796_140_800_000;

#[tokio::test]
async fn a_full_slot_refuses_and_a_cancelled_place_can_be_booked_again() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let first = store.book(&booking("c1", "passport", 2), None, NOW).await.unwrap();
        store.book(&booking("c2", "passport", 2), None, NOW).await.unwrap();
        let refused = store.book(&booking("c3", "passport", 2), None, NOW).await;
        assert!(matches!(refused, Err(BookError::Full)), "{}: {refused:?}", db.label);
        // One live booking a person and service.
        let again = store.book(&booking("c1", "passport", 5), None, NOW).await;
        assert!(
            matches!(&again, Err(BookError::AlreadyBooked(held)) if held.number == first.number),
            "{}: {again:?}",
            db.label
        );
        let cancelled = store
            .cancel_appointment(&first.number, "c1", NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cancelled.state, "cancelled");
        assert!(
            store
                .cancel_appointment(&first.number, "c1", NOW)
                .await
                .unwrap()
                .is_none(),
            "cancelled once"
        );
        let third = store.book(&booking("c3", "passport", 2), None, NOW).await.unwrap();
        assert_eq!(third.state, "booked", "{}", db.label);
        let places = store.booked_places("city-center", "2026-12-02").await.unwrap();
        assert_eq!(places.get(&("A".to_string(), "14:00".to_string())), Some(&2));
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_bookings_of_the_last_place_give_exactly_one_success() {
    for db in TestDb::all().await {
        let store = db.open().await;
        store.book(&booking("c0", "passport", 3), None, NOW).await.unwrap();
        store.book(&booking("c1", "passport", 3), None, NOW).await.unwrap();
        // Eight people ask for the one place left at once.
        let tries: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { store.book(&booking(&format!("p{i}"), "passport", 3), None, NOW).await })
            })
            .collect();
        let mut results = Vec::new();
        for handle in tries {
            results.push(handle.await);
        }
        let booked = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        let full = results.iter().filter(|r| matches!(r, Ok(Err(BookError::Full)))).count();
        assert_eq!((booked, full), (1, 7), "{}: {results:?}", db.label);
        let places = store.booked_places("city-center", "2026-12-02").await.unwrap();
        assert_eq!(places.values().sum::<i64>(), 3, "{}", db.label);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn moving_to_a_full_slot_keeps_the_old_booking() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let held = store.book(&booking("c1", "passport", 1), None, NOW).await.unwrap();
        let mut other = booking("c2", "passport", 1);
        other.start_time = "15:00".into();
        store.book(&other, None, NOW).await.unwrap();
        let mut wanted = other.clone();
        wanted.holder_id = "c1".into();
        let moved = store.book(&wanted, Some(&held.number), NOW).await;
        assert!(matches!(moved, Err(BookError::Full)), "{}: {moved:?}", db.label);
        let still = store.live_appointment("c1", "passport").await.unwrap().unwrap();
        assert_eq!(still.number, held.number, "{}: the old booking stands", db.label);
        wanted.start_time = "16:00".into();
        let moved = store.book(&wanted, Some(&held.number), NOW).await.unwrap();
        assert_eq!(moved.start_time, "16:00");
        let mine = store.appointments_of("c1").await.unwrap();
        let states: Vec<&str> = mine.iter().map(|a| a.state.as_str()).collect();
        assert_eq!(
            states.iter().filter(|s| **s == "booked").count(),
            1,
            "{}: {states:?}",
            db.label
        );
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_uploaded_file_keeps_every_byte_and_moves_to_its_application() {
    for db in TestDb::all().await {
        let store = db.open().await;
        // A binary file with NUL bytes and every byte value.
        let data: Vec<u8> = b"%PDF-1.4\n"
            .iter()
            .copied()
            .chain(0..=255u8)
            .chain([0, 0, 0])
            .collect();
        let stored = store
            .put_upload(
                &NewUpload {
                    session_id: "s1".into(),
                    owner_id: Some("c1".into()),
                    material: "租赁合同".into(),
                    file_name: "合同.pdf".into(),
                    content_type: "application/pdf".into(),
                    sha256: "x".into(),
                    data: data.clone(),
                },
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(
            store.upload_data(&stored.id).await.unwrap().unwrap(),
            data,
            "{}",
            db.label
        );
        assert_eq!(store.pending_uploads("s1").await.unwrap().len(), 1);
        let mut tx = store.begin().await.unwrap();
        // Another conversation's file is not taken.
        assert_eq!(
            tx.link_uploads("s2", std::slice::from_ref(&stored.id), "SF1")
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            tx.link_uploads("s1", std::slice::from_ref(&stored.id), "SF1")
                .await
                .unwrap(),
            1
        );
        tx.commit().await.unwrap();
        assert!(store.pending_uploads("s1").await.unwrap().is_empty());
        let held = store.uploads_of_application("SF1").await.unwrap();
        assert_eq!(held.len(), 1, "{}", db.label);
        assert_eq!(held[0].size, data.len() as i64);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_reminder_is_written_once_an_occasion_and_not_when_switched_off() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let item = NewInboxItem {
            user_id: "c3".into(),
            rule_id: "driving-license-expiry".into(),
            service_id: "driving-license-renewal".into(),
            reason: "因为您的驾驶证将于 2027-01-30 到期".into(),
            due: Some("2027-01-30".into()),
            occasion: "driving-license-expiry:2027-01-30".into(),
        };
        assert!(store.add_inbox_item(&item, NOW).await.unwrap());
        assert!(
            !store.add_inbox_item(&item, NOW + 86_400_000).await.unwrap(),
            "{}",
            db.label
        );
        assert_eq!(store.inbox("c3").await.unwrap().len(), 1);
        assert_eq!(store.notifications("c3").await.unwrap().len(), 1, "one notification");
        assert!(store.reminders_on("c3").await.unwrap());
        store.set_reminders("c3", false, NOW).await.unwrap();
        assert!(!store.reminders_on("c3").await.unwrap());
        assert_eq!(
            store.finish_inbox_items("c3", "driving-license-renewal").await.unwrap(),
            1
        );
        assert!(store.inbox("c3").await.unwrap().is_empty());
        store.close().await;
        db.cleanup().await;
    }
}

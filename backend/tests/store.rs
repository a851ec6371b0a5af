//! The store against real databases: SQLite always, PostgreSQL when reachable (always in CI).

use backend::testing::TestDb;
use backend::{Error, Turn};

fn turn<'a>(session_id: &'a str, expected_version: Option<i64>, state: &'a str, text: &'a str) -> Turn<'a> {
    Turn {
        session_id,
        user_id: None,
        expected_version,
        state,
        user_text: text,
        bot_text: "回复",
        intent: "service",
        payload: "{}",
        now: backend::now_millis(),
    }
}

#[tokio::test]
async fn turns_are_saved_and_survive_reopening() {
    for db in TestDb::all().await {
        let store = db.open().await;
        assert_eq!(
            store.save_turn(&turn("s1", None, "{\"n\":1}", "你好")).await.unwrap(),
            1
        );
        assert_eq!(
            store
                .save_turn(&turn("s1", Some(1), "{\"n\":2}", "护照"))
                .await
                .unwrap(),
            2
        );
        store.close().await;

        let store = db.open().await;
        let session = store.session("s1").await.unwrap().expect("session kept");
        assert_eq!(
            (session.state.as_str(), session.version),
            ("{\"n\":2}", 2),
            "{}",
            db.label
        );
        let texts: Vec<String> = store
            .messages("s1")
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(texts, ["你好", "回复", "护照", "回复"], "{}", db.label);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn stale_version_is_a_conflict_and_writes_nothing() {
    for db in TestDb::all().await {
        let store = db.open().await;
        store.save_turn(&turn("s2", None, "a", "一")).await.unwrap();
        store.save_turn(&turn("s2", Some(1), "b", "二")).await.unwrap();
        let stale = store.save_turn(&turn("s2", Some(1), "c", "三")).await;
        assert!(matches!(stale, Err(Error::Conflict(_))), "{}: {stale:?}", db.label);
        let twice = store.save_turn(&turn("s2", None, "d", "四")).await;
        assert!(matches!(twice, Err(Error::Conflict(_))), "{}: {twice:?}", db.label);
        assert_eq!(store.session("s2").await.unwrap().unwrap().state, "b");
        assert_eq!(
            store.messages("s2").await.unwrap().len(),
            4,
            "{}: no half-written turn",
            db.label
        );
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn retention_purges_old_sessions_with_their_transcripts() {
    for db in TestDb::all().await {
        let store = db.open().await;
        store.save_turn(&turn("old", None, "x", "旧")).await.unwrap();
        let cutoff = backend::now_millis() + 1;
        assert_eq!(store.purge_sessions_before(cutoff).await.unwrap(), 1, "{}", db.label);
        assert!(store.session("old").await.unwrap().is_none());
        assert!(store.messages("old").await.unwrap().is_empty());
        assert_eq!(store.n_sessions().await.unwrap(), 0);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn unsupported_url_is_refused_clearly() {
    let err = backend::Store::open("mysql://localhost/x").await.unwrap_err();
    assert!(err.to_string().contains("unsupported database url"), "{err}");
}

#[test]
fn passwords_are_redacted() {
    assert_eq!(backend::redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    assert_eq!(backend::redact("sqlite://data/x.db"), "sqlite://data/x.db");
}

#[tokio::test]
async fn a_stored_answer_is_claimed_once_and_can_be_put_back() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let now = backend::now_millis();
        assert_eq!(
            store
                .idempotency_begin("wechat demo", "m1", "message", now, 60_000)
                .await
                .unwrap(),
            backend::Replay::Fresh
        );
        // Nothing to claim while the turn runs.
        assert_eq!(store.idempotency_claim("wechat demo", "m1").await.unwrap(), None);
        store
            .idempotency_finish("wechat demo", "m1", 200, "答复")
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            store.idempotency_claim("wechat demo", "m1"),
            store.idempotency_claim("wechat demo", "m1")
        );
        let claimed: Vec<String> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert_eq!(claimed, vec!["答复".to_string()], "{}", db.label);
        // A failed delivery puts it back for the next claim.
        store.idempotency_unclaim("wechat demo", "m1").await.unwrap();
        assert_eq!(
            store.idempotency_claim("wechat demo", "m1").await.unwrap().as_deref(),
            Some("答复")
        );
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_binding_code_binds_once_and_not_after_it_expires() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let who = backend::PlatformUser {
            channel: "wechat".into(),
            account: "demo".into(),
            openid: "o1".into(),
        };
        let now = 1_000_000;
        store.put_bind_code("ABCD2345", &who, now + 600_000).await.unwrap();
        store.put_bind_code("LATE2345", &who, now + 600_000).await.unwrap();
        assert_eq!(store.bound_user(&who).await.unwrap(), None);
        assert_eq!(
            store.bind_with_code("ABCD2345", "citizen-1", now).await.unwrap(),
            Some(who.clone())
        );
        assert_eq!(store.bound_user(&who).await.unwrap().as_deref(), Some("citizen-1"));
        // Used once.
        assert_eq!(store.bind_with_code("ABCD2345", "citizen-2", now).await.unwrap(), None);
        // Expired: refused, and the binding stays.
        assert_eq!(
            store
                .bind_with_code("LATE2345", "citizen-2", now + 600_001)
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.bound_user(&who).await.unwrap().as_deref(), Some("citizen-1"));
        assert!(store.unbind(&who).await.unwrap());
        assert!(!store.unbind(&who).await.unwrap());
        assert_eq!(store.bound_user(&who).await.unwrap(), None);
        store.close().await;
        db.cleanup().await;
    }
}

fn overdue_ticket(now: i64) -> backend::NewTicket {
    backend::NewTicket {
        kind: "投诉".into(),
        category: "市容环境".into(),
        department: "city-management".into(),
        district: None,
        citizen_id: Some("citizen-1".into()),
        contact: None,
        summary: "垃圾没人清运".into(),
        location: "幸福路".into(),
        happened: None,
        urgent: false,
        response_due: now - 1_000,
        resolve_due: now + 86_400_000,
        idempotency_key: None,
    }
}

#[tokio::test]
async fn one_sweeper_acts_per_tick_across_replicas_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("PostgreSQL not reachable: sweeper lock not tested");
        return;
    };
    let (first, second) = (db.open().await, db.open().await);
    let now = 1_796_097_600_000;
    let ticket = first.create_ticket(&overdue_ticket(now), now).await.unwrap();
    // Another replica holds the sweeper's lock: this one skips the tick.
    let holder = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let mut held = holder.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(backend::SWEEPER_LOCK)
        .execute(&mut *held)
        .await
        .unwrap();
    assert_eq!(second.sweep_overdue_once(now).await.unwrap(), None);
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(backend::SWEEPER_LOCK)
        .execute(&mut *held)
        .await
        .unwrap();
    drop(held);
    holder.close().await;
    // Two replicas' sweeps at once: the ticket is escalated once, with one audit line.
    let (a, b) = tokio::join!(first.sweep_overdue(now), second.sweep_overdue(now));
    let escalated: Vec<String> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert_eq!(escalated, std::slice::from_ref(&ticket.number));
    let supervised = first
        .ticket_events(&ticket.number)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "supervise")
        .count();
    assert_eq!(supervised, 1);
    first.close().await;
    second.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn an_sqlite_database_in_use_is_copied_whole_and_an_existing_file_is_not_overwritten() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    store
        .save_turn(&turn("backup-session-1", None, "{}", "护照怎么办"))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("copy.db");
    store.backup_sqlite(&to).await.unwrap();
    let copy = backend::Store::open(&format!("sqlite://{}", to.display()))
        .await
        .unwrap();
    assert_eq!(copy.n_sessions().await.unwrap(), 1);
    assert_eq!(copy.messages("backup-session-1").await.unwrap().len(), 2);
    copy.close().await;
    assert!(store.backup_sqlite(&to).await.is_err(), "an existing file is kept");
    store.close().await;
    db.cleanup().await;
}

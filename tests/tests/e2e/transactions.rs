//! The transaction core under concurrency, crashes and other people's data, on SQLite and
//! PostgreSQL: each test is named after the defect it keeps out.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use backend::testing::TestDb;
use serde_json::{Value, json};

use crate::common::{Response, send};
use crate::forms::login;
use crate::tickets::post;

const DAY: i64 = 86_400_000;
/// Monday 2026-11-30 10:00 China time.
const MONDAY_10AM: i64 = 1_796_004_000_000;

struct Setup {
    db: TestDb,
    store: backend::Store,
    app: axum::Router,
    clock: Arc<api::clock::ManualClock>,
}

/// The tickets tests' setup (demo users, every department, a clock at Monday 10:00), served.
async fn setup(db: TestDb) -> Setup {
    let crate::tickets::Setup {
        db,
        store,
        state,
        clock,
    } = crate::tickets::setup(db).await;
    Setup {
        db,
        store,
        app: api::app(state),
        clock,
    }
}

/// The same staff action posted twice at once: both are answered.
async fn post_twice_at_once(
    app: &axum::Router,
    uri: &str,
    token: &str,
    body: serde_json::Value,
) -> (Response, Response) {
    let (a, b) = tokio::join!(post(app, uri, token, body.clone()), post(app, uri, token, body));
    assert_eq!(
        (a.status, b.status),
        (StatusCode::OK, StatusCode::OK),
        "{} {}",
        a.json,
        b.json
    );
    (a, b)
}

async fn say(app: &axum::Router, token: Option<&str>, session: Option<&str>, message: &str) -> Response {
    let mut body = json!({ "message": message });
    if let Some(id) = session {
        body["session_id"] = id.into();
    }
    let mut request = Request::post("/api/v1/chat").header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    send(app, request.body(Body::from(body.to_string())).unwrap()).await
}

/// The same message sent twice at once in one conversation (a double tap, two tabs, a
/// retry racing the original): both are answered.
async fn say_twice_at_once(app: &axum::Router, token: &str, session: &str, message: &str) -> (Response, Response) {
    let body = json!({ "message": message, "session_id": session });
    post_twice_at_once(app, "/api/v1/chat", token, body).await
}

/// Says each message in turn in one conversation; returns the session id and the last answer.
async fn converse(app: &axum::Router, token: Option<&str>, messages: &[&str]) -> (String, Value) {
    let mut session: Option<String> = None;
    let mut last = Value::Null;
    for message in messages {
        let response = say(app, token, session.as_deref(), message).await;
        assert_eq!(response.status, StatusCode::OK, "{message}: {}", response.json);
        session = response.json["session_id"].as_str().map(str::to_string);
        last = response.json;
    }
    (session.expect("a session"), last)
}

const COMPLAINT_UP_TO_CONFIRM: [&str; 5] = [
    "我要投诉，滨江区江滨路上的一家烧烤店每天晚上油烟很大，熏得整栋楼都是味道",
    "滨江区江滨路88号",
    "每天晚上六点到十二点",
    "13912345678",
    "否",
];

const ID_CARD_UP_TO_CONFIRM: [&str; 3] = ["我要在线办理身份证到期换领", "13912345678", "窗口领取"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_confirms_file_one_ticket() {
    for db in TestDb::all().await {
        let Setup { db, store, app, .. } = setup(db).await;
        let token = login(&app, "citizen-1").await;
        for round in 0..4 {
            let (session, last) = converse(&app, Some(&token), &COMPLAINT_UP_TO_CONFIRM).await;
            assert!(last["reply"]["text"].as_str().unwrap().contains("确认"), "{last}");
            let (a, b) = say_twice_at_once(&app, &token, &session, "确认").await;
            let filed = [&a, &b].iter().filter(|r| r.json["ticket"].is_object()).count();
            assert_eq!(
                filed, 1,
                "{} round {round}: exactly one answer files the ticket",
                db.label
            );
            assert_eq!(
                store.tickets_of("citizen-1").await.unwrap().len(),
                round + 1,
                "{} round {round}",
                db.label
            );
            assert_eq!(
                store.messages(&session).await.unwrap().len(),
                14,
                "{}: both turns kept",
                db.label
            );
        }
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_submits_make_one_application() {
    for db in TestDb::all().await {
        let Setup { db, store, app, .. } = setup(db).await;
        let token = login(&app, "citizen-1").await;
        for round in 0..3 {
            let (session, _) = converse(&app, Some(&token), &ID_CARD_UP_TO_CONFIRM).await;
            say_twice_at_once(&app, &token, &session, "确认提交").await;
            let n_applications = store.applications_of("citizen-1").await.unwrap().len();
            assert_eq!(n_applications, round + 1, "{} round {round}", db.label);
        }
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn second_application_for_the_same_service_is_not_dropped() {
    for db in TestDb::all().await {
        let Setup { db, store, app, .. } = setup(db).await;
        let token = login(&app, "citizen-1").await;
        let mut numbers = Vec::new();
        for _ in 0..3 {
            let mut messages = ID_CARD_UP_TO_CONFIRM.to_vec();
            messages.push("确认提交");
            let (_, last) = converse(&app, Some(&token), &messages).await;
            numbers.push(last["application"]["number"].as_str().expect("submitted").to_string());
        }
        numbers.sort();
        numbers.dedup();
        assert_eq!(
            numbers.len(),
            3,
            "{}: three conversations, three applications",
            db.label
        );
        assert_eq!(store.applications_of("citizen-1").await.unwrap().len(), 3);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn retry_after_a_crash_between_insert_and_save_files_one_ticket() {
    for db in TestDb::all().await {
        let Setup { db, store, app, .. } = setup(db).await;
        let token = login(&app, "citizen-1").await;
        let (session, _) = converse(&app, Some(&token), &COMPLAINT_UP_TO_CONFIRM).await;
        let stored = store.session(&session).await.unwrap().unwrap();
        // What a process killed after inserting the ticket but before saving the turn leaves:
        // a transaction that never commits.
        {
            let mut tx = store.begin().await.unwrap();
            tx.claim_session(&session, Some("citizen-1"), Some(stored.version), MONDAY_10AM)
                .await
                .unwrap();
            let orphan = backend::NewTicket {
                kind: "投诉".into(),
                category: "环境保护".into(),
                department: "ecology-environment".into(),
                district: None,
                citizen_id: Some("citizen-1".into()),
                contact: None,
                summary: "油烟".into(),
                location: "滨江区江滨路88号".into(),
                happened: None,
                urgent: false,
                response_due: MONDAY_10AM + DAY,
                resolve_due: MONDAY_10AM + 5 * DAY,
                idempotency_key: Some(format!("{session}:{}", stored.version + 1)),
            };
            tx.create_ticket(&orphan, MONDAY_10AM).await.unwrap();
            drop(tx);
        }
        assert!(store.tickets_of("citizen-1").await.unwrap().is_empty(), "{}", db.label);
        // The client retries the same message.
        let retried = say(&app, Some(&token), Some(&session), "确认").await;
        assert_eq!(retried.status, StatusCode::OK, "{}", retried.json);
        assert!(retried.json["ticket"].is_object(), "{}", retried.json);
        let again = say(&app, Some(&token), Some(&session), "确认").await;
        assert!(again.json["ticket"].is_null(), "{}", again.json);
        assert_eq!(store.tickets_of("citizen-1").await.unwrap().len(), 1, "{}", db.label);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_tickets_in_one_day_get_distinct_numbers() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let new = |i: usize| backend::NewTicket {
            kind: "投诉".into(),
            category: "城乡建设".into(),
            department: "housing-construction".into(),
            district: None,
            citizen_id: None,
            contact: None,
            summary: format!("第 {i} 件"),
            location: "东湖区".into(),
            happened: None,
            urgent: false,
            response_due: MONDAY_10AM + DAY,
            resolve_due: MONDAY_10AM + 5 * DAY,
            idempotency_key: None,
        };
        let mut tasks = Vec::new();
        for worker in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut numbers = Vec::new();
                for i in 0..500 {
                    // Spread over the whole China day, all on 2026-11-30.
                    let now = MONDAY_10AM - 9 * 3_600_000 + (worker * 500 + i) as i64 * 40_000;
                    numbers.push(store.create_ticket(&new(i), now).await.unwrap().number);
                }
                numbers
            }));
        }
        let mut numbers = Vec::new();
        for task in tasks {
            numbers.extend(task.await.unwrap());
        }
        assert!(
            numbers.iter().all(|n| n.starts_with("RX20261130")),
            "{:?}",
            &numbers[..3]
        );
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), 2000, "{}", db.label);
        store.close().await;
        db.cleanup().await;
    }
}

/// Files a complaint as citizen-1; returns (citizen token, ticket number).
async fn filed(app: &axum::Router) -> (String, String) {
    let token = login(app, "citizen-1").await;
    let mut messages = COMPLAINT_UP_TO_CONFIRM.to_vec();
    messages.push("确认");
    let (_, last) = converse(app, Some(&token), &messages).await;
    (token, last["ticket"]["number"].as_str().expect("filed").to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_staff_actions_each_take_effect_once() {
    for db in TestDb::all().await {
        let Setup { db, store, app, .. } = setup(db).await;
        let (_, number) = filed(&app).await;
        let staff = login(&app, "staff-ecology-environment").await;
        let uri = format!("/api/v1/staff/tickets/{number}/action");
        let accept = post(&app, &uri, &staff, json!({ "action": "accept" })).await;
        assert_eq!(accept.status, StatusCode::OK, "{}", accept.json);
        let summon = json!({ "action": "summon", "department": "urban-management" });
        post_twice_at_once(&app, &uri, &staff, summon).await;
        assert_eq!(store.coops(&number).await.unwrap().len(), 1, "{}", db.label);
        let events = store.ticket_events(&number).await.unwrap();
        assert_eq!(
            events.iter().filter(|e| e.action == "summon").count(),
            1,
            "{}",
            db.label
        );

        let before = store.ticket(&number).await.unwrap().unwrap().resolve_due;
        let extend = json!({ "action": "extend", "text": "需要现场复核", "days": 2 });
        post_twice_at_once(&app, &uri, &staff, extend).await;
        let after = store.ticket(&number).await.unwrap().unwrap().resolve_due;
        let events = store.ticket_events(&number).await.unwrap();
        assert_eq!(
            events.iter().filter(|e| e.action == "extend").count(),
            2,
            "{}",
            db.label
        );
        // Two extensions of two working days: at least four calendar days later.
        assert!(after - before >= 4 * DAY, "{}: {before} → {after}", db.label);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn returned_ticket_is_rerouted_and_an_unknown_department_is_refused() {
    for db in TestDb::all().await {
        let Setup { db, store, app, .. } = setup(db).await;
        let (_, number) = filed(&app).await;
        let staff = login(&app, "staff-ecology-environment").await;
        let uri = format!("/api/v1/staff/tickets/{number}/action");
        let unknown = post(
            &app,
            &uri,
            &staff,
            json!({ "action": "return", "text": "不属于本部门", "department": "no-such-bureau" }),
        )
        .await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.json);
        assert!(
            unknown.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("department")
        );
        let ticket = store.ticket(&number).await.unwrap().unwrap();
        assert_eq!(
            (ticket.state, ticket.department.as_str()),
            (backend::TicketState::Dispatched, "ecology-environment"),
            "{}: nothing changed",
            db.label
        );

        let returned = post(
            &app,
            &uri,
            &staff,
            json!({ "action": "return", "text": "应由其他部门处理" }),
        )
        .await;
        assert_eq!(returned.status, StatusCode::OK, "{}", returned.json);
        let ticket = store.ticket(&number).await.unwrap().unwrap();
        assert_eq!(ticket.state, backend::TicketState::Dispatched, "{}", db.label);
        assert!(
            !["ecology-environment", "hotline-12345"].contains(&ticket.department.as_str()),
            "{}: re-routed by the classifier to another department, got {}",
            db.label,
            ticket.department
        );
        assert!(
            store
                .ticket_queue(&ticket.department)
                .await
                .unwrap()
                .iter()
                .any(|t| t.number == number)
        );
        let actions: Vec<String> = store
            .ticket_events(&number)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(actions, ["dispatch", "return", "redispatch"], "{}", db.label);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn rating_another_citizens_ticket_or_conversation_is_not_found() {
    for db in TestDb::all().await {
        let Setup { db, store, app, .. } = setup(db).await;
        let (_, number) = filed(&app).await;
        let citizen_1 = login(&app, "citizen-1").await;
        let (session, _) = converse(&app, Some(&citizen_1), &["护照怎么办"]).await;
        let intruder = login(&app, "citizen-2").await;
        for (kind, id) in [("ticket", number.as_str()), ("conversation", session.as_str())] {
            let response = post(
                &app,
                "/api/v1/ratings",
                &intruder,
                json!({ "target_kind": kind, "target_id": id, "level": 1, "comment": "恶意差评" }),
            )
            .await;
            assert_eq!(
                response.status,
                StatusCode::NOT_FOUND,
                "{} {kind}: {}",
                db.label,
                response.json
            );
        }
        let anything = post(
            &app,
            "/api/v1/ratings",
            &intruder,
            json!({ "target_kind": "conversation", "target_id": "made-up-session-id", "level": 1, "comment": "x" }),
        )
        .await;
        assert_eq!(anything.status, StatusCode::NOT_FOUND, "{}", anything.json);
        let stats = store.rating_stats("department", None).await.unwrap();
        assert!(stats.is_empty(), "{}: no rating, no rectification: {stats:?}", db.label);
        // The owner may rate their own conversation.
        let own = post(
            &app,
            "/api/v1/ratings",
            &citizen_1,
            json!({ "target_kind": "conversation", "target_id": session, "level": 4 }),
        )
        .await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.json);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ratings_of_one_ticket_store_one_rating() {
    for db in TestDb::all().await {
        let Setup { db, store, app, .. } = setup(db).await;
        let (token, number) = filed(&app).await;
        let body = json!({ "target_kind": "ticket", "target_id": number, "level": 1, "comment": "没人管" });
        post_twice_at_once(&app, "/api/v1/ratings", &token, body).await;
        let stats = store.rating_stats("department", None).await.unwrap();
        let total: usize = stats.values().map(|s| s.n_ratings).sum();
        assert_eq!(total, 1, "{}", db.label);
        assert_eq!(store.rectifications_of("ecology-environment").await.unwrap().len(), 1);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn hotline_satisfaction_counts_ticket_ratings_only() {
    for db in TestDb::all().await {
        let Setup { db, store, app, .. } = setup(db).await;
        let (token, number) = filed(&app).await;
        let (session, _) = converse(&app, Some(&token), &["护照怎么办"]).await;
        for (kind, id, level) in [("ticket", number.as_str(), 5), ("conversation", session.as_str(), 1)] {
            let rated = post(
                &app,
                "/api/v1/ratings",
                &token,
                json!({ "target_kind": kind, "target_id": id, "level": level, "comment": "说明" }),
            )
            .await;
            assert_eq!(rated.status, StatusCode::OK, "{}", rated.json);
        }
        let admin = login(&app, "admin").await;
        let kpis = crate::forms::authed_get(&app, "/api/v1/stats/hotline", &admin).await;
        assert_eq!(kpis.json["satisfaction_rate"], 1.0, "{}: {}", db.label, kpis.json);
        assert_eq!(kpis.json["tickets"], 1);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_citizen_cannot_submit_with_another_persons_id_number() {
    for db in TestDb::all().await {
        let Setup { db, store, app, .. } = setup(db).await;
        let token = login(&app, "citizen-1").await;
        let (_, last) = converse(
            &app,
            Some(&token),
            &[
                "我要在线办理身份证到期换领",
                "身份证号改成330106199007222345",
                "姓名改成王五",
                "13912345678",
                "窗口领取",
                "确认提交",
            ],
        )
        .await;
        let number = last["application"]["number"]
            .as_str()
            .expect("submitted with own identity");
        let application = store.application(number).await.unwrap().unwrap();
        let fields: Value = serde_json::from_str(&application.fields).unwrap();
        assert_eq!(fields["id_number"], "330102198803151234", "{}: {fields}", db.label);
        assert_eq!(fields["name"], "张明", "{}: {fields}", db.label);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_anonymous_draft_is_rebound_to_the_identity_that_submits_it() {
    for db in TestDb::all().await {
        let Setup { db, store, app, .. } = setup(db).await;
        // Filled in anonymously with someone else's name and ID number…
        let (session, _) = converse(
            &app,
            None,
            &[
                "我要在线办理身份证到期换领",
                "王五",
                "330106199007222345",
                "13912345678",
                "窗口领取",
                "跳过",
            ],
        )
        .await;
        // …then a citizen logs in and carries on in the same conversation.
        let token = login(&app, "citizen-1").await;
        for message in ["确认提交", "确认提交", "确认提交"] {
            let response = say(&app, Some(&token), Some(&session), message).await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.json);
        }
        let applications = store.applications_of("citizen-1").await.unwrap();
        assert_eq!(applications.len(), 1, "{}: submitted once, as the citizen", db.label);
        for application in applications {
            let fields: Value = serde_json::from_str(&application.fields).unwrap();
            assert!(
                !fields.to_string().contains("330106199007222345") && !fields.to_string().contains("王五"),
                "{}: another person's identity was submitted: {fields}",
                db.label
            );
        }
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer() {
    for db in TestDb::all().await {
        let Setup { db, store, app, .. } = setup(db).await;
        let send_keyed = |key: &'static str, message: &'static str| {
            let app = app.clone();
            async move {
                let request = Request::post("/api/v1/chat")
                    .header("content-type", "application/json")
                    .header("idempotency-key", key)
                    .body(Body::from(json!({ "message": message }).to_string()))
                    .unwrap();
                send(&app, request).await
            }
        };
        let first = send_keyed("key-1", "护照怎么办").await;
        let again = send_keyed("key-1", "护照怎么办").await;
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(first.json, again.json, "{}: the stored first answer", db.label);
        let session = first.json["session_id"].as_str().unwrap();
        assert_eq!(
            store.messages(session).await.unwrap().len(),
            2,
            "{}: one turn only",
            db.label
        );
        let other = send_keyed("key-1", "驾照怎么换").await;
        assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", other.json);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_on_a_fresh_database_both_seed() {
    for db in TestDb::all().await {
        if db.label == "sqlite" {
            // One process owns a SQLite file; replicas are a PostgreSQL deployment.
            db.cleanup().await;
            continue;
        }
        let (a, b) = tokio::join!(backend::Store::open(&db.url), backend::Store::open(&db.url));
        let (a, b) = (a.expect("replica a opens"), b.expect("replica b opens"));
        let departments = vec!["public-security".to_string()];
        let (x, y) = tokio::join!(api::demo::seed(&a, &departments), api::demo::seed(&b, &departments));
        x.expect("replica a seeds");
        y.expect("replica b seeds");
        assert!(a.user("citizen-1").await.unwrap().is_some());
        a.close().await;
        b.close().await;
        db.cleanup().await;
    }
}

/// The SLA sweep, deadlines and statistics of one fixed scenario, as text.
async fn sla_scenario() -> String {
    let db = TestDb::sqlite();
    let Setup { db, store, app, clock } = setup(db).await;
    let (token, number) = filed(&app).await;
    let ticket = store.ticket(&number).await.unwrap().unwrap();
    let rated = post(
        &app,
        "/api/v1/ratings",
        &token,
        json!({ "target_kind": "ticket", "target_id": number, "level": 2, "comment": "太慢" }),
    )
    .await;
    clock.advance(10 * DAY);
    let escalated = store
        .sweep_overdue(api::clock::Clock::now(clock.as_ref()))
        .await
        .unwrap();
    let months = store.rating_stats("month", None).await.unwrap();
    let out = format!(
        "{} {} {} {} {:?} {:?}",
        &number[..10],
        knowledge::time::show(ticket.response_due),
        knowledge::time::show(ticket.resolve_due),
        rated.json["rectification_due"],
        escalated.len(),
        months.keys().collect::<Vec<_>>()
    );
    store.close().await;
    db.cleanup().await;
    out
}

/// Run by `results_do_not_depend_on_the_servers_time_zone` in a child process with `TZ` set.
#[tokio::test]
async fn sla_scenario_prints() {
    println!("SCENARIO[{}]", sla_scenario().await);
}

#[test]
fn results_do_not_depend_on_the_servers_time_zone() {
    let run = |tz: &str| {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "transactions::sla_scenario_prints",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("TZ", tz)
            .output()
            .expect("the test binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let start = stdout.find("SCENARIO[").unwrap_or_else(|| panic!("{tz}: {stdout}"));
        let end = stdout[start..].find("]\n").map(|i| start + i).unwrap();
        stdout[start..end].to_string()
    };
    let new_york = run("America/New_York");
    let utc = run("UTC");
    assert_eq!(new_york, utc);
    // Filed Monday 10:00 in China: numbered on that China day, deadlines in China hours.
    assert!(utc.contains("RX20261130"), "{utc}");
}

#[tokio::test]
async fn applying_for_someone_else_is_an_explicit_dai_ban_naming_both_people() {
    for db in TestDb::all().await {
        let Setup { db, store, app, .. } = setup(db).await;
        let token = login(&app, "citizen-1").await;
        let (_, switched) = converse(&app, Some(&token), &["我要在线办理身份证到期换领", "我是帮家人代办的"]).await;
        assert!(
            switched["reply"]["text"].as_str().unwrap().contains("代办"),
            "{switched}"
        );
        let (_, last) = converse(
            &app,
            Some(&token),
            &[
                "我要在线办理身份证到期换领",
                "我是帮家人代办的",
                "姓名是王五",
                "330106199007222345",
                "13912345678",
                "窗口领取",
                "跳过",
                "确认提交",
            ],
        )
        .await;
        let number = last["application"]["number"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: {last}", db.label));
        let application = store.application(number).await.unwrap().unwrap();
        assert_eq!(application.applicant_id, "citizen-1");
        let fields: Value = serde_json::from_str(&application.fields).unwrap();
        assert_eq!(
            fields["id_number"], "330106199007222345",
            "{}: the principal: {fields}",
            db.label
        );
        assert_eq!(
            fields["agent_user_id"], "citizen-1",
            "{}: the agent: {fields}",
            db.label
        );
        assert_eq!(fields["agent_name"], "张明");
        let materials: Value = serde_json::from_str(&application.materials).unwrap();
        assert!(
            materials.as_array().unwrap().iter().all(|m| m["source"] != "e_license"),
            "{}: the agent's e-licences exempt nothing: {materials}",
            db.label
        );
        store.close().await;
        db.cleanup().await;
    }
}

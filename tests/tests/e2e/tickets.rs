//! 12345 tickets and 好差评 ratings end to end, on SQLite and PostgreSQL, with a clock the
//! test moves.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use backend::testing::TestDb;
use serde_json::json;

use crate::common::{Response, send};
use crate::forms::{Conversation, authed_get, login};

const DAY: i64 = 86_400_000;

pub async fn post(app: &axum::Router, uri: &str, token: &str, body: serde_json::Value) -> Response {
    let request = Request::post(uri)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app, request).await
}

pub struct Setup {
    pub db: TestDb,
    pub store: backend::Store,
    pub state: api::AppState,
    pub clock: Arc<api::clock::ManualClock>,
}

pub async fn setup(db: TestDb) -> Setup {
    let store = db.open().await;
    crate::common::seed_demo_with_staff(&store).await;
    let mut state = crate::common::state(store.clone());
    // Monday 2026-11-30 10:00 China time.
    let clock = Arc::new(api::clock::ManualClock::new(1_796_004_000_000));
    state.clock = clock.clone();
    Setup {
        db,
        store,
        state,
        clock,
    }
}

pub async fn file_complaint(chat: &mut Conversation<'_>) -> String {
    chat.say("我要投诉，滨江区江滨路上的一家烧烤店每天晚上油烟很大，熏得整栋楼都是味道")
        .await;
    chat.say("滨江区江滨路88号").await;
    chat.say("每天晚上六点到十二点").await;
    chat.say("13912345678").await;
    chat.say("否").await;
    let done = chat.say("确认").await.clone();
    assert_eq!(done["intent"], "complaint", "{done}");
    done["ticket"]["number"]
        .as_str()
        .expect("a ticket was created")
        .to_string()
}

#[tokio::test]
async fn complaint_is_routed_replied_confirmed_and_rated() {
    for db in TestDb::all().await {
        let Setup { db, store, state, .. } = setup(db).await;
        let app = api::app(state);
        let mut chat = Conversation::new(&app, Some("citizen-1")).await;
        let number = file_complaint(&mut chat).await;
        let ticket = store.ticket(&number).await.unwrap().unwrap();
        assert_eq!(
            (ticket.category.as_str(), ticket.department.as_str()),
            ("环境保护", "ecology-environment"),
            "{}",
            db.label
        );
        assert_eq!(ticket.district.as_deref(), Some("滨江区"));
        assert!(ticket.resolve_due > ticket.response_due);

        let staff = login(&app, "staff-ecology-environment").await;
        let queue = authed_get(&app, "/api/v1/staff/tickets", &staff).await;
        assert_eq!(queue.json["tickets"][0]["number"], number.as_str());
        for (action, text) in [
            ("accept", None),
            ("start", None),
            ("reply", Some("已约谈店主，安装油烟净化器并限期整改，三天后复查合格")),
        ] {
            let response = post(
                &app,
                &format!("/api/v1/staff/tickets/{number}/action"),
                &staff,
                json!({ "action": action, "text": text }),
            )
            .await;
            assert_eq!(response.status, StatusCode::OK, "{action}: {}", response.json);
        }
        let mut status = Conversation::new(&app, Some("citizen-1")).await;
        status.say("我的投诉处理得怎么样了").await;
        let text = status.last["reply"]["text"].as_str().unwrap();
        assert!(text.contains(&number) && text.contains("已约谈店主"), "{text}");

        let token = chat_token(&app, "citizen-1").await;
        let confirmed = post(
            &app,
            &format!("/api/v1/tickets/{number}/confirm"),
            &token,
            json!({ "solved": true }),
        )
        .await;
        assert_eq!(confirmed.json["state"], "confirmed", "{}", confirmed.json);
        // 好差评 in conversation: the last ticket is what gets rated.
        chat.say("给个好评，非常满意").await;
        assert!(
            chat.last["reply"]["text"].as_str().unwrap().contains("非常满意"),
            "{}",
            chat.last
        );
        let stats = authed_get(&app, "/api/v1/stats/ratings?by=department", &staff).await;
        assert_eq!(
            stats.json["groups"]["ecology-environment"]["ratings"], 1,
            "{}",
            stats.json
        );
        let timeline = authed_get(&app, &format!("/api/v1/tickets/{number}"), &token).await;
        let actions: Vec<&str> = timeline.json["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["dispatch", "accept", "start", "reply", "confirm"]);
        store.close().await;
        db.cleanup().await;
    }
}

async fn chat_token(app: &axum::Router, user: &str) -> String {
    login(app, user).await
}

#[tokio::test]
async fn overdue_tickets_are_escalated_after_a_clock_jump() {
    for db in TestDb::all().await {
        let Setup {
            db,
            store,
            state,
            clock,
        } = setup(db).await;
        let app = api::app(state.clone());
        let mut chat = Conversation::new(&app, Some("citizen-2")).await;
        let number = file_complaint(&mut chat).await;
        assert!(
            api::tasks::sweep_once(&state).await.unwrap().is_empty(),
            "{}: nothing overdue yet",
            db.label
        );
        clock.advance(DAY);
        assert_eq!(
            api::tasks::sweep_once(&state).await.unwrap(),
            vec![number.clone()],
            "{}: not accepted in time",
            db.label
        );
        assert!(
            api::tasks::sweep_once(&state).await.unwrap().is_empty(),
            "escalated once"
        );
        let ticket = store.ticket(&number).await.unwrap().unwrap();
        assert!(ticket.supervised);
        let notifications = store.notifications("citizen-2").await.unwrap();
        assert!(
            notifications.iter().any(|n| n.text.contains("督办")),
            "{notifications:?}"
        );
        assert!(
            store
                .notifications("dept:ecology-environment")
                .await
                .unwrap()
                .iter()
                .any(|n| n.text.contains("签收超时"))
        );
        // An extension is refused once the resolution deadline has passed.
        let staff = login(&app, "staff-ecology-environment").await;
        post(
            &app,
            &format!("/api/v1/staff/tickets/{number}/action"),
            &staff,
            json!({ "action": "accept" }),
        )
        .await;
        clock.advance(30 * DAY);
        let late = post(
            &app,
            &format!("/api/v1/staff/tickets/{number}/action"),
            &staff,
            json!({ "action": "extend", "text": "需要第三方检测", "days": 5 }),
        )
        .await;
        assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.json);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_returned_ticket_is_redispatched_and_co_handlers_are_summoned() {
    for db in TestDb::all().await {
        let Setup { db, store, state, .. } = setup(db).await;
        let app = api::app(state);
        let mut chat = Conversation::new(&app, Some("citizen-1")).await;
        let number = file_complaint(&mut chat).await;
        let staff = login(&app, "staff-ecology-environment").await;
        let no_reason = post(
            &app,
            &format!("/api/v1/staff/tickets/{number}/action"),
            &staff,
            json!({ "action": "return" }),
        )
        .await;
        assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
        let returned = post(
            &app,
            &format!("/api/v1/staff/tickets/{number}/action"),
            &staff,
            json!({ "action": "return", "text": "占道经营属城管职责", "department": "urban-management" }),
        )
        .await;
        assert_eq!(returned.json["state"], "dispatched", "{}: {}", db.label, returned.json);
        assert_eq!(returned.json["department"], "urban-management");
        let city = login(&app, "staff-urban-management").await;
        post(
            &app,
            &format!("/api/v1/staff/tickets/{number}/action"),
            &city,
            json!({ "action": "accept" }),
        )
        .await;
        let summoned = post(
            &app,
            &format!("/api/v1/staff/tickets/{number}/action"),
            &city,
            json!({ "action": "summon", "department": "ecology-environment", "days": 2 }),
        )
        .await;
        assert_eq!(
            summoned.json["co_handlers"][0]["department"], "ecology-environment",
            "{}",
            summoned.json
        );
        let coop = post(
            &app,
            &format!("/api/v1/staff/tickets/{number}/action"),
            &staff,
            json!({ "action": "coop_accept" }),
        )
        .await;
        assert_eq!(coop.json["co_handlers"][0]["state"], "accepted", "{}", coop.json);
        let not_lead = post(
            &app,
            &format!("/api/v1/staff/tickets/{number}/action"),
            &staff,
            json!({ "action": "reply", "text": "x" }),
        )
        .await;
        assert_eq!(not_lead.status, StatusCode::FORBIDDEN);
        let actions: Vec<String> = store
            .ticket_events(&number)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            actions,
            ["dispatch", "return", "redispatch", "accept", "summon", "coop_accepted"]
        );
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_bad_rating_needs_a_reason_and_opens_a_rectification() {
    for db in TestDb::all().await {
        let Setup {
            db,
            store,
            state,
            clock,
        } = setup(db).await;
        let app = api::app(state);
        let mut chat = Conversation::new(&app, Some("citizen-1")).await;
        let number = file_complaint(&mut chat).await;
        let token = login(&app, "citizen-1").await;
        let no_reason = post(
            &app,
            "/api/v1/ratings",
            &token,
            json!({ "target_kind": "ticket", "target_id": number, "level": 1 }),
        )
        .await;
        assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", no_reason.json);
        let bad = post(
            &app,
            "/api/v1/ratings",
            &token,
            json!({ "target_kind": "ticket", "target_id": number, "level": "非常不满意", "tags": ["超时办理"], "comment": "一周了没人来" }),
        )
        .await;
        assert_eq!(bad.status, StatusCode::OK, "{}", bad.json);
        // Monday 10:00 + 5 working days → the next Monday.
        assert_eq!(bad.json["rectification_due"], "2026-12-07 10:00", "{}", db.label);
        let rating_id = bad.json["id"].as_str().unwrap().to_string();
        let again = post(
            &app,
            "/api/v1/ratings",
            &token,
            json!({ "target_kind": "ticket", "target_id": number, "level": 2, "tags": ["问题未解决"] }),
        )
        .await;
        assert_eq!(again.json["changed"], true, "one rating per target: changed, not added");
        let other = login(&app, "citizen-2").await;
        let foreign = post(
            &app,
            "/api/v1/ratings",
            &other,
            json!({ "target_kind": "ticket", "target_id": number, "level": 5 }),
        )
        .await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND);

        let staff = login(&app, "staff-ecology-environment").await;
        for (step, text) in [
            ("verified", "属实，店主未安装净化器"),
            ("rectified", "已安装并复查合格"),
            ("visited", "电话回访，市民表示满意"),
        ] {
            let response = post(
                &app,
                &format!("/api/v1/staff/rectifications/{rating_id}"),
                &staff,
                json!({ "step": step, "text": text }),
            )
            .await;
            assert_eq!(response.status, StatusCode::OK, "{step}: {}", response.json);
            assert_eq!(response.json["state"], step);
        }
        let stats = authed_get(&app, "/api/v1/stats/ratings?by=department", &staff).await;
        let row = &stats.json["groups"]["ecology-environment"];
        assert_eq!(
            (row["bad"].as_i64(), row["rectified_on_time"].as_i64()),
            (Some(1), Some(1)),
            "{}",
            stats.json
        );
        clock.advance(8 * DAY);
        let locked = post(
            &app,
            "/api/v1/ratings",
            &token,
            json!({ "target_kind": "ticket", "target_id": number, "level": 5 }),
        )
        .await;
        assert_eq!(locked.status, StatusCode::CONFLICT, "the window has passed");
        let kpis = authed_get(&app, "/api/v1/stats/hotline", &staff).await;
        assert_eq!(kpis.json["tickets"], 1);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_citizen_cannot_see_another_citizens_ticket() {
    for db in TestDb::all().await {
        let Setup { db, store, state, .. } = setup(db).await;
        let app = api::app(state);
        let mut chat = Conversation::new(&app, Some("citizen-1")).await;
        let number = file_complaint(&mut chat).await;
        let other = login(&app, "citizen-2").await;
        let hidden = authed_get(&app, &format!("/api/v1/tickets/{number}"), &other).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", db.label);
        assert_eq!(
            authed_get(&app, "/api/v1/tickets", &other).await.json["tickets"],
            json!([])
        );
        let own = authed_get(&app, "/api/v1/tickets", &login(&app, "citizen-1").await).await;
        assert_eq!(own.json["tickets"][0]["number"], number.as_str());
        let wrong_department = authed_get(
            &app,
            &format!("/api/v1/tickets/{number}"),
            &login(&app, "staff-tax").await,
        )
        .await;
        assert_eq!(wrong_department.status, StatusCode::NOT_FOUND);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_county_ticket_goes_to_the_county_bureau() {
    for db in TestDb::all().await {
        let Setup { db, store, state, .. } = setup(db).await;
        let app = api::app(state);
        let mut numbers = Vec::new();
        for address in ["西岭县城关镇幸福家园5幢", "东湖区湖滨街道幸福家园5幢"] {
            let mut chat = Conversation::new(&app, Some("citizen-1")).await;
            chat.say("我要投诉，小区电梯坏了一个多月，物业一直拖着不修，老人上下楼很困难")
                .await;
            chat.say(address).await;
            chat.say("上个月开始").await;
            chat.say("13912345678").await;
            chat.say("否").await;
            let done = chat.say("确认").await.clone();
            numbers.push(done["ticket"]["number"].as_str().expect("a ticket").to_string());
        }
        let county = store.ticket(&numbers[0]).await.unwrap().unwrap();
        let city = store.ticket(&numbers[1]).await.unwrap().unwrap();
        assert_eq!(county.category, "城乡建设", "{}", db.label);
        assert_eq!(
            (county.district.as_deref(), county.department.as_str()),
            (Some("西岭县"), "xiling-housing-construction")
        );
        assert_eq!(
            (city.district.as_deref(), city.department.as_str()),
            (Some("东湖区"), "housing-construction")
        );
        let queue = authed_get(
            &app,
            "/api/v1/staff/tickets",
            &login(&app, "staff-xiling-housing-construction").await,
        )
        .await;
        assert_eq!(
            queue.json["tickets"][0]["number"],
            numbers[0].as_str(),
            "{}",
            queue.json
        );
        store.close().await;
        db.cleanup().await;
    }
}

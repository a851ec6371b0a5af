//! What clients see beyond the happy path: error messages that name the field and never a
//! state code, the documented shapes of answers built by hand, and signing keys shared by
//! every replica on one database.

use axum::http::StatusCode;
use backend::testing::TestDb;
use serde_json::json;

use crate::common::{engine, get};
use crate::forms::{Conversation, authed_get, login};
use crate::tickets::{file_complaint, post};

#[tokio::test]
async fn a_malformed_search_parameter_gets_our_error_shape_naming_it() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let app = api::app(crate::common::state(store.clone()));
    let response = get(&app, "/api/v1/search?q=%E6%8A%A4%E7%85%A7&limit=abc").await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "{}", response.json);
    assert_eq!(response.json["error"]["code"], "bad_request");
    assert_eq!(response.json["error"]["message"], "参数 limit 应为整数。");
    store.close().await;
}

#[tokio::test]
async fn a_wrong_field_in_a_staff_request_is_named() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let app = api::app(crate::common::state(store.clone()));
    let token = login(&app, "admin").await;
    let response = post(&app, "/api/v1/staff/tickets/GD1/action", &token, json!({ "action": 3 })).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "{}", response.json);
    assert_eq!(
        response.json["error"]["message"],
        "字段 action 应为文字，收到的是数字。"
    );
    let response = post(&app, "/api/v1/ratings", &token, json!({ "target_kind": "ticket" })).await;
    assert_eq!(response.json["error"]["message"], "请求缺少字段 target_id。");
    store.close().await;
}

#[tokio::test]
async fn a_refused_ticket_step_names_states_in_chinese() {
    for db in TestDb::all().await {
        let store = db.open().await;
        crate::common::seed_demo_with_staff(&store).await;
        let app = api::app(crate::common::state(store.clone()));
        let mut chat = Conversation::new(&app, Some("citizen-1")).await;
        let number = file_complaint(&mut chat).await;
        let citizen = login(&app, "citizen-1").await;
        let ticket = authed_get(&app, &format!("/api/v1/tickets/{number}"), &citizen).await;
        let department = ticket.json["department"].as_str().unwrap().to_string();
        let staff = login(&app, &format!("staff-{department}")).await;
        // Closing a ticket nobody has accepted yet is not a step the workflow allows.
        let refused = post(
            &app,
            &format!("/api/v1/staff/tickets/{number}/action"),
            &staff,
            json!({ "action": "close" }),
        )
        .await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}: {}", db.label, refused.json);
        let message = refused.json["error"]["message"].as_str().unwrap();
        assert_eq!(
            message, "工单当前状态为“已派单，等待部门签收”，不能执行“办结”。",
            "{}",
            db.label
        );
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn answers_built_by_hand_have_their_documented_fields() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    crate::common::seed_demo_with_staff(&store).await;
    let app = api::app(crate::common::state(store.clone()));
    let doc = get(&app, "/api/v1/openapi.json").await.json;
    let admin = login(&app, "admin").await;
    for (uri, schema) in [
        ("/api/v1/stats/hotline", "HotlineKpis"),
        ("/api/v1/stats/ratings?by=month", "RatingStatsBody"),
    ] {
        let answer = authed_get(&app, uri, &admin).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.json);
        let mut keys: Vec<&String> = answer.json.as_object().unwrap().keys().collect();
        let mut documented: Vec<&String> = doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        keys.sort();
        documented.sort();
        assert_eq!(keys, documented, "{uri}");
    }
    store.close().await;
}

#[tokio::test]
async fn a_token_from_one_replica_is_accepted_by_another_on_the_same_database() {
    for db in TestDb::all().await {
        let (first, second) = (db.open().await, db.open().await);
        let departments: Vec<String> = engine().corpus.departments.iter().map(|d| d.id.clone()).collect();
        api::demo::seed(&first, &departments).await.unwrap();
        let one = api::app(
            api::AppState::with_stored_secret(engine(), first.clone(), 10_000)
                .await
                .unwrap(),
        );
        let two = api::app(
            api::AppState::with_stored_secret(engine(), second.clone(), 10_000)
                .await
                .unwrap(),
        );
        let token = login(&one, "citizen-1").await;
        let mine = authed_get(&two, "/api/v1/applications", &token).await;
        assert_eq!(mine.status, StatusCode::OK, "{}: {}", db.label, mine.json);

        // A restart (a new state on a reopened database) still accepts it.
        first.close().await;
        second.close().await;
        let reopened = db.open().await;
        let three = api::app(
            api::AppState::with_stored_secret(engine(), reopened.clone(), 10_000)
                .await
                .unwrap(),
        );
        assert_eq!(
            authed_get(&three, "/api/v1/tickets", &token).await.status,
            StatusCode::OK,
            "{}",
            db.label
        );
        reopened.close().await;
        db.cleanup().await;
    }
}

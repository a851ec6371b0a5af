//! 转人工 into banshi's own agent queue, on every database: one agent takes a conversation,
//! the citizen's messages go to them and not to the assistant, the agent's replies reach the
//! transcript (and a WeChat user), and the conversation goes back to the assistant.

use axum::http::StatusCode;
use backend::testing::TestDb;
use serde_json::json;

use crate::channels::{app_with, mock_platform, post_plain, text_message};
use crate::common::{chat, get, state};
use crate::forms::{authed_get, login};
use crate::tickets::post;

#[tokio::test]
async fn a_citizen_who_asks_for_a_human_is_answered_by_one_agent_and_handed_back() {
    for db in TestDb::all().await {
        let store = db.open().await;
        api::demo::seed(&store, &[]).await.unwrap();
        let app = api::app(state(store.clone()));
        let asked = chat(&app, None, "转人工").await;
        assert_eq!(asked.json["intent"], "human", "{}", asked.json);
        let session = asked.json["session_id"].as_str().unwrap().to_string();

        let agent = login(&app, "agent-1").await;
        let other_agent = login(&app, "admin").await;
        let citizen = login(&app, "citizen-1").await;
        let queue = authed_get(&app, "/api/v1/agent/handoffs", &agent).await;
        assert_eq!(queue.status, StatusCode::OK, "{}", queue.json);
        let waiting = &queue.json["handoffs"][0];
        assert_eq!(
            (waiting["session_id"].as_str(), waiting["state"].as_str()),
            (Some(session.as_str()), Some("waiting"))
        );
        assert_eq!(waiting["channel"], "web");
        let id = waiting["id"].as_str().unwrap().to_string();
        assert_eq!(
            authed_get(&app, "/api/v1/agent/handoffs", &citizen).await.status,
            StatusCode::FORBIDDEN
        );

        // While an agent is awaited, the assistant stays quiet; the message waits for them.
        let meanwhile = chat(&app, Some(&session), "护照怎么办").await;
        assert_eq!(meanwhile.json["intent"], "human", "{}", meanwhile.json);
        assert!(meanwhile.json["guides"].as_array().unwrap().is_empty());
        assert!(meanwhile.json["reply"]["text"].as_str().unwrap().contains("人工"));

        // The agent gets a cited reply to suggest: to the question, not to the call for a human.
        let suggested = authed_get(&app, &format!("/api/v1/agent/handoffs/{id}/suggestion"), &agent).await;
        assert_eq!(suggested.status, StatusCode::OK, "{}", suggested.json);
        assert_eq!(suggested.json["question"], "护照怎么办", "{}", suggested.json);
        assert_eq!(suggested.json["guides"][0]["id"], "passport", "{}", suggested.json);
        let citations = suggested.json["citations"].as_array().unwrap();
        assert!(
            !citations.is_empty() && citations.iter().all(|c| c["guide_id"] == "passport"),
            "{}",
            suggested.json
        );
        assert_eq!(
            authed_get(&app, &format!("/api/v1/agent/handoffs/{id}/suggestion"), &citizen)
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        // Suggesting changed nothing in the conversation.
        let lines = get(&app, &format!("/api/v1/chat/{session}/messages")).await;
        assert_eq!(lines.json["messages"].as_array().unwrap().len(), 3, "{}", lines.json);

        // One agent takes it; the other cannot take it or reply.
        let taken = post(&app, &format!("/api/v1/agent/handoffs/{id}/take"), &agent, json!({})).await;
        assert_eq!(
            (taken.status, taken.json["state"].as_str()),
            (StatusCode::OK, Some("taken")),
            "{}",
            taken.json
        );
        let late = post(
            &app,
            &format!("/api/v1/agent/handoffs/{id}/take"),
            &other_agent,
            json!({}),
        )
        .await;
        assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.json);
        let words = "您好，我是12345客服，护照可以在出入境窗口或网上预约办理。";
        let wrong = post(
            &app,
            &format!("/api/v1/agent/handoffs/{id}/reply"),
            &other_agent,
            json!({ "text": words }),
        )
        .await;
        assert_eq!(wrong.status, StatusCode::CONFLICT);
        let empty = post(
            &app,
            &format!("/api/v1/agent/handoffs/{id}/reply"),
            &agent,
            json!({ "text": "  " }),
        )
        .await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", empty.json);
        let replied = post(
            &app,
            &format!("/api/v1/agent/handoffs/{id}/reply"),
            &agent,
            json!({ "text": words }),
        )
        .await;
        assert_eq!(
            (replied.status, replied.json["delivered"].as_bool()),
            (StatusCode::OK, Some(false)),
            "{}",
            replied.json
        );

        // The citizen reads the agent's reply in the conversation.
        let transcript = get(&app, &format!("/api/v1/chat/{session}/messages")).await;
        assert_eq!(transcript.status, StatusCode::OK, "{}", transcript.json);
        let lines = transcript.json["messages"].as_array().unwrap();
        let roles: Vec<&str> = lines.iter().map(|l| l["role"].as_str().unwrap()).collect();
        assert_eq!(
            roles,
            ["user", "bot", "user", "agent"],
            "{}: {}",
            db.label,
            transcript.json
        );
        assert_eq!(lines[2]["text"], "护照怎么办");
        assert_eq!(lines[3]["text"], words);

        // Handed back: the assistant answers again, and the queue is empty.
        let closed = post(&app, &format!("/api/v1/agent/handoffs/{id}/close"), &agent, json!({})).await;
        assert_eq!(
            (closed.status, closed.json["state"].as_str()),
            (StatusCode::OK, Some("closed"))
        );
        let queue = authed_get(&app, "/api/v1/agent/handoffs", &agent).await;
        assert!(queue.json["handoffs"].as_array().unwrap().is_empty(), "{}", queue.json);
        let answered = chat(&app, Some(&session), "护照怎么办").await;
        assert_eq!(answered.json["intent"], "service", "{}", answered.json);
        assert_eq!(answered.json["guides"][0]["id"], "passport");
        // Asking again opens a new hand-over.
        chat(&app, Some(&session), "转人工").await;
        let queue = authed_get(&app, "/api/v1/agent/handoffs", &agent).await;
        let again = queue.json["handoffs"].as_array().unwrap();
        assert_eq!(again.len(), 1);
        assert_ne!(again[0]["id"].as_str(), Some(id.as_str()));
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_logged_in_citizens_conversation_is_read_by_them_alone() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    api::demo::seed(&store, &[]).await.unwrap();
    let app = api::app(state(store.clone()));
    let owner = login(&app, "citizen-1").await;
    let stranger = login(&app, "citizen-2").await;
    let request = axum::http::Request::post("/api/v1/chat")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {owner}"))
        .body(axum::body::Body::from(json!({ "message": "护照怎么办" }).to_string()))
        .unwrap();
    let said = crate::common::send(&app, request).await;
    let session = said.json["session_id"].as_str().unwrap().to_string();
    let uri = format!("/api/v1/chat/{session}/messages");
    assert_eq!(authed_get(&app, &uri, &owner).await.status, StatusCode::OK);
    assert_eq!(authed_get(&app, &uri, &stranger).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &uri).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&app, "/api/v1/chat/no-such-session-id/messages").await.status,
        StatusCode::NOT_FOUND
    );
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_wechat_user_handed_to_an_agent_gets_the_agents_reply_on_wechat() {
    for db in TestDb::all().await {
        let store = db.open().await;
        api::demo::seed(&store, &[]).await.unwrap();
        let (url, sent, _) = mock_platform().await;
        let channels = api::channels::Channels::parse(
            &format!(
                "api_base = \"{url}\"\n[wechat.demo]\ntoken = \"pamtest\"\napp_id = \"wxb11529c136998cb6\"\napp_secret = \"app-secret\"\nmode = \"plain\"\n"
            ),
            "test",
        )
        .unwrap();
        let app = app_with(store.clone(), channels);
        let (_, told) = post_plain(&app, text_message("o20", 9101, "转人工")).await;
        assert!(
            told.contains("人工") && !told.contains("transfer_customer_service"),
            "{told}"
        );
        let agent = login(&app, "agent-1").await;
        let queue = authed_get(&app, "/api/v1/agent/handoffs", &agent).await;
        let handoff = &queue.json["handoffs"][0];
        assert_eq!(handoff["channel"], "wechat", "{}", queue.json);
        let id = handoff["id"].as_str().unwrap().to_string();
        post(&app, &format!("/api/v1/agent/handoffs/{id}/take"), &agent, json!({})).await;
        // The WeChat user's next message waits for the agent.
        let (_, waiting) = post_plain(&app, text_message("o20", 9102, "我的社保卡丢了")).await;
        assert!(waiting.contains("人工客服正在为您服务"), "{waiting}");
        let replied = post(
            &app,
            &format!("/api/v1/agent/handoffs/{id}/reply"),
            &agent,
            json!({ "text": "您好，社保卡可以先电话挂失。" }),
        )
        .await;
        assert_eq!(replied.json["delivered"], true, "{}: {}", db.label, replied.json);
        let sent = sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0]["touser"], "o20");
        assert_eq!(sent[0]["text"]["content"], "您好，社保卡可以先电话挂失。");
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_hand_over_nobody_takes_goes_back_to_the_assistant() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    api::demo::seed(&store, &[]).await.unwrap();
    let mut state = state(store.clone());
    let clock = std::sync::Arc::new(api::clock::ManualClock::new(1_796_004_000_000));
    state.clock = clock.clone();
    let app = api::app(state);
    let asked = chat(&app, None, "转人工").await;
    let session = asked.json["session_id"].as_str().unwrap().to_string();
    clock.advance(5 * 60 * 1000);
    assert_eq!(chat(&app, Some(&session), "护照怎么办").await.json["intent"], "human");
    // Nobody came within 15 minutes: the assistant answers, and the queue is empty.
    clock.advance(11 * 60 * 1000);
    let answered = chat(&app, Some(&session), "护照怎么办").await;
    assert_eq!(answered.json["intent"], "service", "{}", answered.json);
    let agent = login(&app, "agent-1").await;
    let queue = authed_get(&app, "/api/v1/agent/handoffs", &agent).await;
    assert!(queue.json["handoffs"].as_array().unwrap().is_empty(), "{}", queue.json);

    // A taken one whose agent is quiet for 30 minutes goes back too; a reply keeps it.
    chat(&app, Some(&session), "转人工").await;
    let queue = authed_get(&app, "/api/v1/agent/handoffs", &agent).await;
    let id = queue.json["handoffs"][0]["id"].as_str().unwrap().to_string();
    post(&app, &format!("/api/v1/agent/handoffs/{id}/take"), &agent, json!({})).await;
    clock.advance(25 * 60 * 1000);
    post(
        &app,
        &format!("/api/v1/agent/handoffs/{id}/reply"),
        &agent,
        json!({ "text": "我在，请讲。" }),
    )
    .await;
    clock.advance(25 * 60 * 1000);
    assert_eq!(chat(&app, Some(&session), "还在吗").await.json["intent"], "human");
    clock.advance(31 * 60 * 1000);
    assert_eq!(chat(&app, Some(&session), "护照怎么办").await.json["intent"], "service");
    store.close().await;
    db.cleanup().await;
}

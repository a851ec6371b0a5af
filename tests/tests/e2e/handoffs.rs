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
        assert_eq!(
            asked.json["handoff"],
            json!({ "state": "waiting", "position": 1, "expected_wait_s": 120 }),
            "{}",
            asked.json
        );
        let session = asked.json["session_id"].as_str().unwrap().to_string();

        let agent = login(&app, "agent-1").await;
        let other_agent = login(&app, "admin").await;
        let citizen = login(&app, "citizen-1").await;
        let queue = authed_get(&app, "/api/v1/agent/queue", &agent).await;
        assert_eq!(queue.status, StatusCode::OK, "{}", queue.json);
        let waiting = &queue.json["conversations"][0];
        assert_eq!(
            (waiting["session_id"].as_str(), waiting["state"].as_str()),
            (Some(session.as_str()), Some("waiting"))
        );
        assert_eq!(waiting["channel"], "web");
        assert!(waiting["waiting_s"].as_i64().is_some() && waiting["waiting_since"].is_string());
        let base = format!("/api/v1/agent/conversations/{session}");
        assert_eq!(
            authed_get(&app, "/api/v1/agent/queue", &citizen).await.status,
            StatusCode::FORBIDDEN
        );

        // While an agent is awaited, the assistant stays quiet; the message waits for them.
        let meanwhile = chat(&app, Some(&session), "护照怎么办").await;
        assert_eq!(meanwhile.json["intent"], "human", "{}", meanwhile.json);
        assert_eq!(meanwhile.json["handoff"]["state"], "waiting");
        assert!(meanwhile.json["guides"].as_array().unwrap().is_empty());
        assert!(meanwhile.json["reply"]["text"].as_str().unwrap().contains("人工"));

        // The agent sees the conversation with a summary and cited suggestions: to the
        // question, not to the call for a human.
        let view = authed_get(&app, &base, &agent).await;
        assert_eq!(view.status, StatusCode::OK, "{}", view.json);
        assert!(
            view.json["summary"].as_str().unwrap().contains("护照怎么办"),
            "{}",
            view.json
        );
        assert_eq!(view.json["transcript"].as_array().unwrap().len(), 3, "{}", view.json);
        let suggestions = view.json["suggestions"].as_array().unwrap();
        assert!((1..=3).contains(&suggestions.len()), "{}", view.json);
        let citations = suggestions[0]["citations"].as_array().unwrap();
        assert!(
            !citations.is_empty() && citations.iter().all(|c| c["guide_id"] == "passport"),
            "{}",
            view.json
        );
        assert!(citations[0]["title"].as_str().unwrap().contains(" · "), "{}", view.json);
        // Every other suggestion is a guide's summary, word for word, and cites it.
        let engine = crate::common::engine();
        for other in &suggestions[1..] {
            let cited = &other["citations"][0];
            assert_eq!(cited["section"], "summary");
            let guide = engine.corpus.guide(cited["guide_id"].as_str().unwrap()).unwrap();
            assert!(other["text"].as_str().unwrap().ends_with(&guide.summary), "{}", other);
        }
        assert_eq!(authed_get(&app, &base, &citizen).await.status, StatusCode::FORBIDDEN);
        // Suggesting changed nothing in the conversation.
        let lines = get(&app, &format!("/api/v1/chat/{session}/messages")).await;
        assert_eq!(lines.json["messages"].as_array().unwrap().len(), 3, "{}", lines.json);

        // One agent takes it; the other cannot take it or reply.
        let taken = post(&app, &format!("{base}/take"), &agent, json!({})).await;
        assert_eq!(
            (taken.status, taken.json["state"].as_str()),
            (StatusCode::OK, Some("connected")),
            "{}",
            taken.json
        );
        let late = post(&app, &format!("{base}/take"), &other_agent, json!({})).await;
        assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.json);
        let words = "您好，我是12345客服，护照可以在出入境窗口或网上预约办理。";
        let wrong = post(
            &app,
            &format!("{base}/messages"),
            &other_agent,
            json!({ "text": words }),
        )
        .await;
        assert_eq!(wrong.status, StatusCode::CONFLICT);
        let empty = post(&app, &format!("{base}/messages"), &agent, json!({ "text": "  " })).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", empty.json);
        let replied = post(&app, &format!("{base}/messages"), &agent, json!({ "text": words })).await;
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

        // While connected the assistant is silent: the citizen's words go to the agent.
        let relayed = chat(&app, Some(&session), "好的，谢谢").await;
        assert_eq!(
            (relayed.json["intent"].as_str(), relayed.json["reply"]["text"].as_str()),
            (Some("human"), Some("")),
            "{}",
            relayed.json
        );
        assert_eq!(relayed.json["handoff"]["state"], "connected");

        // Handed back: the assistant asks for a rating, answers again, and the queue is empty.
        let closed = post(&app, &format!("{base}/close"), &agent, json!({})).await;
        assert_eq!(
            (closed.status, closed.json["state"].as_str()),
            (StatusCode::OK, Some("closed"))
        );
        let transcript = get(&app, &format!("/api/v1/chat/{session}/messages")).await;
        let last = transcript.json["messages"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["role"], "bot");
        assert!(last["text"].as_str().unwrap().contains("评价"), "{last}");
        let queue = authed_get(&app, "/api/v1/agent/queue", &agent).await;
        assert!(
            queue.json["conversations"].as_array().unwrap().is_empty(),
            "{}",
            queue.json
        );
        let answered = chat(&app, Some(&session), "护照怎么办").await;
        assert_eq!(answered.json["intent"], "service", "{}", answered.json);
        assert_eq!(answered.json["guides"][0]["id"], "passport");
        assert!(answered.json["handoff"].is_null());
        // Asking again opens a new hand-over.
        chat(&app, Some(&session), "转人工").await;
        let queue = authed_get(&app, "/api/v1/agent/queue", &agent).await;
        let again = queue.json["conversations"].as_array().unwrap();
        assert_eq!((again.len(), again[0]["state"].as_str()), (1, Some("waiting")));
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
        let queue = authed_get(&app, "/api/v1/agent/queue", &agent).await;
        let handoff = &queue.json["conversations"][0];
        assert_eq!(handoff["channel"], "wechat", "{}", queue.json);
        let base = format!(
            "/api/v1/agent/conversations/{}",
            handoff["session_id"].as_str().unwrap()
        );
        post(&app, &format!("{base}/take"), &agent, json!({})).await;
        // The WeChat user's next message goes to the agent; the assistant does not answer it.
        let (_, waiting) = post_plain(&app, text_message("o20", 9102, "我的社保卡丢了")).await;
        assert!(!waiting.contains("社会保障卡"), "{waiting}");
        let replied = post(
            &app,
            &format!("{base}/messages"),
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
    let queue = authed_get(&app, "/api/v1/agent/queue", &agent).await;
    assert!(
        queue.json["conversations"].as_array().unwrap().is_empty(),
        "{}",
        queue.json
    );

    // A taken one whose agent is quiet for 30 minutes goes back too; a reply keeps it.
    chat(&app, Some(&session), "转人工").await;
    let base = format!("/api/v1/agent/conversations/{session}");
    post(&app, &format!("{base}/take"), &agent, json!({})).await;
    clock.advance(25 * 60 * 1000);
    post(
        &app,
        &format!("{base}/messages"),
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

/// Reads server-sent events from a streaming body until `until` matches one (or 10 s pass):
/// (event, data) pairs, in order.
async fn read_events(
    body: &mut axum::body::Body,
    until: impl Fn(&str, &serde_json::Value) -> bool,
) -> Vec<(String, serde_json::Value)> {
    use http_body_util::BodyExt;
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let frame = tokio::time::timeout_at(deadline, body.frame()).await;
        let Ok(Some(Ok(frame))) = frame else {
            panic!("the stream ended or stalled; got {events:?}");
        };
        let Ok(data) = frame.into_data() else { continue };
        buffer.push_str(std::str::from_utf8(&data).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(rest) = line.strip_prefix("event:") {
                    name = rest.trim().to_string();
                } else if let Some(rest) = line.strip_prefix("data:") {
                    data.push_str(rest.trim_start());
                }
            }
            if name.is_empty() {
                continue;
            }
            let value: serde_json::Value = serde_json::from_str(&data).unwrap();
            let done = until(&name, &value);
            events.push((name, value));
            if done {
                return events;
            }
        }
    }
}

#[tokio::test]
async fn the_citizen_and_the_agent_see_each_other_live_on_every_database() {
    for db in TestDb::all().await {
        let store = db.open().await;
        api::demo::seed(&store, &[]).await.unwrap();
        let app = api::app(state(store.clone()));
        let asked = chat(&app, None, "转人工").await;
        let session = asked.json["session_id"].as_str().unwrap().to_string();
        let agent = login(&app, "agent-1").await;
        let stranger = login(&app, "citizen-2").await;

        // The citizen's widget watches with the session id alone; it starts with the queue state.
        let request = axum::http::Request::get(format!("/api/v1/sessions/{session}/events"))
            .body(axum::body::Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(app.clone(), request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        let mut citizen_view = response.into_body();
        let first = read_events(&mut citizen_view, |name, _| name == "handoff").await;
        assert_eq!(first.last().unwrap().1["state"], "waiting", "{first:?}");

        let base = format!("/api/v1/agent/conversations/{session}");
        post(&app, &format!("{base}/take"), &agent, json!({})).await;
        let connected = read_events(&mut citizen_view, |name, v| {
            name == "handoff" && v["state"] == "connected"
        })
        .await;
        assert!(!connected.is_empty());
        post(
            &app,
            &format!("{base}/messages"),
            &agent,
            json!({ "text": "您好，工作人员小王为您服务。" }),
        )
        .await;
        let said = read_events(&mut citizen_view, |name, _| name == "message").await;
        let (_, line) = said.last().unwrap();
        assert_eq!(
            (line["role"].as_str(), line["text"].as_str()),
            (Some("agent"), Some("您好，工作人员小王为您服务。")),
            "{said:?}"
        );

        // The agent's console watches the same conversation with the agent's token.
        let request = axum::http::Request::get(format!("/api/v1/sessions/{session}/events"))
            .header("authorization", format!("Bearer {agent}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let mut agent_view = tower::ServiceExt::oneshot(app.clone(), request)
            .await
            .unwrap()
            .into_body();
        read_events(&mut agent_view, |name, _| name == "handoff").await;
        chat(&app, Some(&session), "我想问护照加急").await;
        let heard = read_events(&mut agent_view, |name, v| name == "message" && v["role"] == "user").await;
        assert_eq!(heard.last().unwrap().1["text"], "我想问护照加急", "{heard:?}");

        // Closing reaches the citizen, with the assistant's request for a rating.
        post(&app, &format!("{base}/close"), &agent, json!({})).await;
        let ended = read_events(&mut citizen_view, |name, v| name == "handoff" && v["state"] == "closed").await;
        assert!(
            ended.iter().any(|(name, v)| name == "message"
                && v["role"] == "bot"
                && v["text"].as_str().unwrap().contains("评价")),
            "{ended:?}"
        );
        // Resuming after line N replays what came after it.
        let request = axum::http::Request::get(format!("/api/v1/sessions/{session}/events?after=0"))
            .body(axum::body::Body::empty())
            .unwrap();
        let mut replay = tower::ServiceExt::oneshot(app.clone(), request)
            .await
            .unwrap()
            .into_body();
        let all = read_events(&mut replay, |name, v| name == "message" && v["role"] == "agent").await;
        assert_eq!(all[0].1["text"], "转人工", "{all:?}");

        // Nobody else watches a conversation that is not theirs.
        let request = axum::http::Request::get("/api/v1/sessions/no-such-session-1/events")
            .body(axum::body::Body::empty())
            .unwrap();
        let missing = tower::ServiceExt::oneshot(app.clone(), request).await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let request = axum::http::Request::post("/api/v1/chat")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", login(&app, "citizen-1").await))
            .body(axum::body::Body::from(json!({ "message": "护照怎么办" }).to_string()))
            .unwrap();
        let owned = crate::common::send(&app, request).await;
        let owned = owned.json["session_id"].as_str().unwrap().to_string();
        for (token, expected) in [
            (None, StatusCode::UNAUTHORIZED),
            (Some(&stranger), StatusCode::NOT_FOUND),
        ] {
            let mut request = axum::http::Request::get(format!("/api/v1/sessions/{owned}/events"));
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let refused = tower::ServiceExt::oneshot(app.clone(), request.body(axum::body::Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(refused.status(), expected);
        }
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn two_declines_in_a_row_go_to_a_human_and_outside_the_hours_a_ticket_is_offered() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    api::demo::seed(&store, &[]).await.unwrap();
    let mut with_hours = state(store.clone());
    // 2026-12-01 12:00 in China (04:00 UTC).
    let clock = std::sync::Arc::new(api::clock::ManualClock::new(1_796_097_600_000));
    with_hours.clock = clock.clone();
    with_hours.agent_hours = Some("08:30-17:30".parse().unwrap());
    let app = api::app(with_hours);

    let first = chat(&app, None, "帮我写一首关于春天的诗").await;
    assert_eq!(first.json["intent"], "out_of_scope", "{}", first.json);
    assert!(first.json["handoff"].is_null());
    let session = first.json["session_id"].as_str().unwrap().to_string();
    let second = chat(&app, Some(&session), "推荐一部好看的电影").await;
    assert_eq!(second.json["intent"], "out_of_scope", "{}", second.json);
    assert_eq!(second.json["handoff"]["state"], "waiting", "{}", second.json);
    assert!(second.json["reply"]["text"].as_str().unwrap().contains("人工"));

    // At night nobody answers: the citizen is offered a call-back ticket, not a queue.
    clock.advance(10 * 3600 * 1000);
    let night = chat(&app, None, "转人工").await;
    assert_eq!(night.json["intent"], "human");
    assert!(night.json["handoff"].is_null(), "{}", night.json);
    let text = night.json["reply"]["text"].as_str().unwrap();
    assert!(text.contains("08:30–17:30") && text.contains("工单"), "{text}");
    let offered = night.json["reply"]["quick_replies"][0].as_str().unwrap().to_string();
    let ticket = chat(&app, night.json["session_id"].as_str(), &offered).await;
    assert_eq!(ticket.json["intent"], "complaint", "{}", ticket.json);
    let agent = login(&app, "agent-1").await;
    let queue = authed_get(&app, "/api/v1/agent/queue", &agent).await;
    assert_eq!(
        queue.json["conversations"].as_array().unwrap().len(),
        1,
        "{}",
        queue.json
    );
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn an_agent_files_a_ticket_from_the_conversation_and_gets_help_during_a_call() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    api::demo::seed(&store, &[]).await.unwrap();
    let app = api::app(state(store.clone()));
    let said = chat(&app, None, "我家楼下的路灯坏了一个星期了").await;
    let session = said.json["session_id"].as_str().unwrap().to_string();
    chat(&app, Some(&session), "转人工").await;
    let agent = login(&app, "agent-1").await;
    let base = format!("/api/v1/agent/conversations/{session}");
    post(&app, &format!("{base}/take"), &agent, json!({})).await;
    let view = authed_get(&app, &base, &agent).await;
    let draft = view.json["ticket_draft"].clone();
    assert!(draft["text"].as_str().unwrap().contains("路灯"), "{}", view.json);
    assert!(!draft["department"].as_str().unwrap().is_empty(), "{}", view.json);
    let mut checked = draft.clone();
    checked["location"] = "示范市东城区幸福路 12 号".into();
    checked["contact"] = "13800138000".into();
    let filed = post(&app, &format!("{base}/ticket"), &agent, checked).await;
    assert_eq!(filed.status, StatusCode::OK, "{}", filed.json);
    assert!(filed.json["number"].as_str().is_some_and(|n| !n.is_empty()));
    assert_eq!(filed.json["department"], draft["department"]);
    let mut wrong = draft.clone();
    wrong["department"] = "no-such-department".into();
    let refused = post(&app, &format!("{base}/ticket"), &agent, wrong).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.json);

    // During a phone call: suggestions cite the guide the caller asks about.
    let assist = post(
        &app,
        "/api/v1/assist",
        &agent,
        json!({ "transcript": [
            { "role": "caller", "text": "你好，我想办护照" },
            { "role": "agent", "text": "好的，您说" },
            { "role": "caller", "text": "要带什么材料" }
        ] }),
    )
    .await;
    assert_eq!(assist.status, StatusCode::OK, "{}", assist.json);
    assert_eq!(assist.json["intent"], "service");
    let first = &assist.json["suggestions"][0];
    assert_eq!(first["citations"][0]["guide_id"], "passport", "{}", assist.json);
    assert!(assist.json["ticket_draft"].is_null());
    let complaint = post(
        &app,
        "/api/v1/assist",
        &agent,
        json!({ "transcript": [{ "role": "caller", "text": "我要投诉，小区门口的垃圾三天没人清运了" }] }),
    )
    .await;
    assert_eq!(complaint.json["intent"], "complaint", "{}", complaint.json);
    assert!(
        complaint.json["ticket_draft"]["text"]
            .as_str()
            .unwrap()
            .contains("垃圾"),
        "{}",
        complaint.json
    );
    let empty = post(
        &app,
        "/api/v1/assist",
        &agent,
        json!({ "transcript": [{ "role": "agent", "text": "喂？" }] }),
    )
    .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", empty.json);
    let citizen = login(&app, "citizen-1").await;
    let refused = post(&app, "/api/v1/assist", &citizen, json!({ "transcript": [] })).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_logged_in_citizen_lists_their_own_conversations() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    api::demo::seed(&store, &[]).await.unwrap();
    let app = api::app(state(store.clone()));
    let owner = login(&app, "citizen-1").await;
    for message in ["护照怎么办", "结婚登记要带什么"] {
        let request = axum::http::Request::post("/api/v1/chat")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {owner}"))
            .body(axum::body::Body::from(json!({ "message": message }).to_string()))
            .unwrap();
        crate::common::send(&app, request).await;
    }
    chat(&app, None, "身份证怎么补办").await;
    let listed = authed_get(&app, "/api/v1/sessions", &owner).await;
    let titles: Vec<&str> = listed.json["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 2, "{}", listed.json);
    assert!(titles.contains(&"护照怎么办") && titles.contains(&"结婚登记要带什么"));
    assert!(
        authed_get(&app, "/api/v1/sessions", &login(&app, "citizen-2").await)
            .await
            .json["sessions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(get(&app, "/api/v1/sessions").await.status, StatusCode::UNAUTHORIZED);
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_live_view_on_one_replica_sees_what_an_agent_writes_on_another() {
    for db in TestDb::all().await {
        let store = db.open().await;
        api::demo::seed(&store, &[]).await.unwrap();
        // Two servers on one database: nothing in memory is shared between them.
        let first = api::app(state(store.clone()));
        let second = api::app(state(store.clone()));
        let asked = chat(&first, None, "转人工").await;
        let session = asked.json["session_id"].as_str().unwrap().to_string();
        let request = axum::http::Request::get(format!("/api/v1/sessions/{session}/events"))
            .body(axum::body::Body::empty())
            .unwrap();
        let mut view = tower::ServiceExt::oneshot(second.clone(), request)
            .await
            .unwrap()
            .into_body();
        read_events(&mut view, |name, _| name == "handoff").await;
        let agent = login(&first, "agent-1").await;
        let base = format!("/api/v1/agent/conversations/{session}");
        post(&first, &format!("{base}/take"), &agent, json!({})).await;
        post(
            &first,
            &format!("{base}/messages"),
            &agent,
            json!({ "text": "另一台服务器上的客服在此。" }),
        )
        .await;
        let seen = read_events(&mut view, |name, _| name == "message").await;
        assert!(
            seen.iter()
                .any(|(name, v)| name == "handoff" && v["state"] == "connected"),
            "{}: {seen:?}",
            db.label
        );
        assert_eq!(
            seen.last().unwrap().1["text"],
            "另一台服务器上的客服在此。",
            "{}",
            db.label
        );
        store.close().await;
        db.cleanup().await;
    }
}

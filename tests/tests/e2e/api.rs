//! The HTTP API in process, on every database this machine offers (SQLite always,
//! PostgreSQL when reachable, always in CI).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use backend::testing::TestDb;

use crate::common::{chat, get, post_raw, send, state};

#[tokio::test]
async fn a_question_gets_a_cited_answer_and_a_follow_up_keeps_the_topic() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let app = api::app(state(store.clone()));

        let first = chat(&app, None, "驾照快到期了怎么换").await;
        assert_eq!(first.status, StatusCode::OK, "{}: {}", db.label, first.json);
        assert_eq!(first.json["intent"], "service");
        assert_eq!(first.json["guides"][0]["id"], "driving-license-renewal");
        let citations = first.json["reply"]["citations"].as_array().unwrap();
        assert!(citations.iter().all(|c| c["guide_id"] == "driving-license-renewal"));
        let session_id = first.json["session_id"].as_str().unwrap().to_string();

        let follow_up = chat(&app, Some(&session_id), "要多少钱").await;
        assert_eq!(follow_up.status, StatusCode::OK);
        assert_eq!(follow_up.json["session_id"], session_id.as_str());
        assert_eq!(
            follow_up.json["guides"][0]["id"], "driving-license-renewal",
            "{}",
            follow_up.json
        );
        assert_eq!(
            follow_up.json["reply"]["citations"][0]["section"], "fees",
            "{}",
            follow_up.json
        );

        let transcript = store.messages(&session_id).await.unwrap();
        assert_eq!(transcript.len(), 4, "{}", db.label);
        assert_eq!(transcript[2].text, "要多少钱");
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_conversation_survives_a_restart() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let app = api::app(state(store.clone()));
        let first = chat(&app, None, "我想办护照").await;
        let session_id = first.json["session_id"].as_str().unwrap().to_string();
        store.close().await;
        drop(app);

        // A new process (or another replica) on the same database.
        let store = db.open().await;
        let app = api::app(state(store.clone()));
        let next = chat(&app, Some(&session_id), "需要带哪些材料").await;
        assert_eq!(next.status, StatusCode::OK);
        assert_eq!(next.json["guides"][0]["id"], "passport", "{}: {}", db.label, next.json);
        assert!(next.json["reply"]["text"].as_str().unwrap().contains("所需材料"));
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn bad_requests_get_a_chinese_error_and_store_nothing() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let app = api::app(state(store.clone()));
        let kept = chat(&app, None, "你好").await;
        assert_eq!(kept.status, StatusCode::OK);

        let cases: Vec<(&str, Body, StatusCode, &str)> = vec![
            (
                "malformed json",
                Body::from("{\"message\": \"护照"),
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                "wrong field type",
                Body::from("{\"message\": 42}"),
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                "empty message",
                Body::from("{\"message\": \"   \"}"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "empty_message",
            ),
            (
                "1 MB message",
                Body::from(serde_json::json!({ "message": "办".repeat(350_000) }).to_string()),
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
            (
                "over-long message",
                Body::from(serde_json::json!({ "message": "办".repeat(2001) }).to_string()),
                StatusCode::UNPROCESSABLE_ENTITY,
                "message_too_long",
            ),
            (
                "invalid utf-8",
                Body::from(b"{\"message\": \"\xff\xfe\"}".to_vec()),
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                "bad session id",
                Body::from("{\"message\": \"护照\", \"session_id\": \"x'; drop table\"}"),
                StatusCode::BAD_REQUEST,
                "invalid_session_id",
            ),
        ];
        for (name, body, status, code) in cases {
            let response = post_raw(&app, "/api/v1/chat", body).await;
            assert_eq!(response.status, status, "{}: {name}: {}", db.label, response.json);
            assert_eq!(response.json["error"]["code"], code, "{name}");
            let message = response.json["error"]["message"].as_str().unwrap();
            assert!(
                message.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{name}: {message}"
            );
        }
        let no_content_type = send(
            &app,
            Request::post("/api/v1/chat")
                .body(Body::from("{\"message\":\"护照\"}"))
                .unwrap(),
        )
        .await;
        assert_eq!(no_content_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

        assert_eq!(
            store.n_sessions().await.unwrap(),
            1,
            "{}: only the good turn is stored",
            db.label
        );
        let session_id = kept.json["session_id"].as_str().unwrap();
        assert_eq!(store.messages(session_id).await.unwrap().len(), 2);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn guides_search_health_and_openapi() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let app = api::app(state(store.clone()));

    let guide = get(&app, "/api/v1/guides/passport").await;
    assert_eq!(guide.status, StatusCode::OK);
    assert_eq!(guide.json["title"], "普通护照申请");
    assert!(guide.json["faq"].as_array().unwrap().len() >= 4);

    let missing = get(&app, "/api/v1/guides/no-such-guide").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json["error"]["code"], "not_found");

    let search = get(
        &app,
        "/api/v1/search?q=%E5%85%AC%E7%A7%AF%E9%87%91%E8%B4%B7%E6%AC%BE&limit=3",
    )
    .await;
    assert_eq!(search.status, StatusCode::OK);
    assert_eq!(search.json["hits"][0]["id"], "housing-fund-loan", "{}", search.json);
    assert!(search.json["hits"][0]["snippet"].as_str().unwrap().contains("<b>"));
    let empty = get(&app, "/api/v1/search?q=").await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(get(&app, "/healthz").await.status, StatusCode::OK);
    let ready = get(&app, "/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json["database"], "sqlite");
    assert!(
        ready.json["search"].as_str().unwrap().starts_with("bm25"),
        "{}",
        ready.json
    );

    let openapi = get(&app, "/api/v1/openapi.json").await;
    assert_eq!(openapi.status, StatusCode::OK);
    for path in [
        "/api/v1/chat",
        "/api/v1/guides/{id}",
        "/api/v1/search",
        "/healthz",
        "/readyz",
    ] {
        assert!(openapi.json["paths"][path].is_object(), "{path} missing from OpenAPI");
    }
    let unknown = get(&app, "/api/v2/nothing").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json["error"]["code"], "not_found");

    store.close().await;
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let app = api::app(state(store.clone()));
    store.close().await;
    let ready = get(&app, "/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json["database"], "unreachable");
}

#[tokio::test]
async fn too_many_requests_from_one_client_are_refused() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let app = api::app(api::AppState::new(crate::common::engine(), store.clone(), 3));
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(get(&app, "/api/v1/search?q=护照").await.status);
    }
    assert_eq!(&statuses[..3], &[StatusCode::OK; 3]);
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS);
    // Health checks are never rate limited.
    assert_eq!(get(&app, "/healthz").await.status, StatusCode::OK);
    store.close().await;
}

#[tokio::test]
async fn a_streamed_reply_arrives_in_pieces_then_as_the_chat_response() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let app = api::app(state(store.clone()));
    let streamed = post_raw(&app, "/api/v1/chat/stream", r#"{"message": "驾照快到期了怎么换"}"#).await;
    assert_eq!(streamed.status, StatusCode::OK, "{}", streamed.json);
    let body = streamed.json.as_str().unwrap().to_string();
    let mut deltas = String::new();
    let mut done = None;
    for block in body.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let event = block.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("");
        let data: Vec<&str> = block
            .lines()
            .filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
            .collect();
        match event {
            "delta" => deltas.push_str(&data.join("\n")),
            "done" => done = Some(serde_json::from_str::<serde_json::Value>(&data.join("\n")).unwrap()),
            other => panic!("unexpected event {other:?} in {body}"),
        }
    }
    let done = done.expect("a done event");
    assert!(body.matches("event: delta").count() >= 2, "{body}");
    assert_eq!(deltas, done["reply"]["text"].as_str().unwrap());
    assert_eq!(done["intent"], "service");
    assert_eq!(done["guides"][0]["id"], "driving-license-renewal");
    // The same shape as /api/v1/chat, and the same conversation continues there.
    let session = done["session_id"].as_str().unwrap();
    let next = chat(&app, Some(session), "要多少钱").await;
    assert_eq!(next.json["guides"][0]["id"], "driving-license-renewal", "{}", next.json);
    // A refused message is the usual JSON error, not a stream.
    let empty = post_raw(&app, "/api/v1/chat/stream", r#"{"message": "  "}"#).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        empty.json["error"]["message"].as_str().unwrap().contains("消息"),
        "{}",
        empty.json
    );
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn the_browser_side_is_served_small_cached_and_under_a_strict_policy() {
    use axum::body::Body;
    use axum::http::{Request, header};
    use tower::ServiceExt;
    let db = backend::testing::TestDb::sqlite();
    let store = db.open().await;
    let app = api::app(crate::common::state(store.clone()));
    let fetch = |uri: &str, headers: Vec<(header::HeaderName, String)>| {
        let mut request = Request::get(uri);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        app.clone().oneshot(request.body(Body::empty()).unwrap())
    };
    // The portal: the widget with its version, the policy, the development login shown.
    let portal = fetch("/", vec![]).await.unwrap();
    assert_eq!(portal.status(), 200);
    let csp = portal.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = String::from_utf8(
        http_body_util::BodyExt::collect(portal.into_body())
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(html.contains("data-dev-login=\"on\""), "{html}");
    let version = html
        .split("/widget.js?v=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();

    // The embed address is checked every time; the versioned one is kept for a year.
    let plain = fetch("/widget.js", vec![(header::ACCEPT_ENCODING, "gzip, br".into())])
        .await
        .unwrap();
    assert_eq!(plain.headers()[header::CACHE_CONTROL], "no-cache");
    assert_eq!(plain.headers()[header::CONTENT_ENCODING], "gzip");
    assert!(
        plain.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let etag = plain.headers()[header::ETAG].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{version}\""));
    let again = fetch("/widget.js", vec![(header::IF_NONE_MATCH, etag)]).await.unwrap();
    assert_eq!(again.status(), 304);
    let pinned = fetch(&format!("/widget.js?v={version}"), vec![]).await.unwrap();
    assert!(
        pinned.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(pinned.headers().get(header::CONTENT_ENCODING).is_none());
    for asset in ["/widget.css", "/agent", "/agent.js", "/agent.css"] {
        assert_eq!(fetch(asset, vec![]).await.unwrap().status(), 200, "{asset}");
    }
    assert!(api::assets::total_gzip_bytes() < 60 * 1024);
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn the_elder_mode_answers_in_plainer_words_with_the_same_citations() {
    let db = backend::testing::TestDb::sqlite();
    let store = db.open().await;
    let app = api::app(crate::common::state(store.clone()));
    let ask = |elder: bool| {
        crate::common::post_raw(
            &app,
            "/api/v1/chat",
            serde_json::json!({ "message": "社保卡丢了怎么补办", "elder": elder }).to_string(),
        )
    };
    let (standard, elder) = (ask(false).await, ask(true).await);
    assert_eq!(standard.json["reply"]["citations"], elder.json["reply"]["citations"]);
    let (standard, elder) = (
        standard.json["reply"]["text"].as_str().unwrap().to_string(),
        elder.json["reply"]["text"].as_str().unwrap().to_string(),
    );
    assert!(standard.contains("社保卡") || standard.contains("身份证"), "{standard}");
    for short in ["社保卡", "医保"] {
        assert!(!elder.replace("社会保障卡", "").contains(short), "{elder}");
    }
    let longest = |t: &str| t.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(longest(&elder) <= longest(&standard), "{elder}");
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn metrics_count_turns_and_read_the_tickets_and_the_queue() {
    let db = backend::testing::TestDb::sqlite();
    let store = db.open().await;
    let app = api::app(crate::common::state(store.clone()));
    crate::common::chat(&app, None, "护照怎么办").await;
    crate::common::chat(&app, None, "").await;
    let scraped = get(&app, "/metrics").await;
    assert_eq!(scraped.status, StatusCode::OK);
    let text = scraped.json.as_str().unwrap().to_string();
    assert!(
        text.contains(r#"banshi_turns_total{intent="service",outcome="answered"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"banshi_turns_total{intent="none",outcome="refused"} 1"#),
        "{text}"
    );
    assert!(text.contains("banshi_turn_seconds_count 1"), "{text}");
    for gauge in [
        "banshi_turn_queue 0",
        "banshi_handoffs_waiting 0",
        "banshi_tickets_overdue 0",
        "banshi_db_pool{",
        "banshi_encoder_calls_total ",
        "banshi_encoder_seconds_total ",
    ] {
        assert!(text.contains(gauge), "{gauge}: {text}");
    }
    assert!(text.trim_end().ends_with("# EOF"));
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_stopping_server_is_not_ready_but_still_answers() {
    let db = backend::testing::TestDb::sqlite();
    let store = db.open().await;
    let state = crate::common::state(store.clone());
    let app = api::app(state.clone());
    assert_eq!(get(&app, "/readyz").await.status, StatusCode::OK);
    state.stopping.send_replace(true);
    let ready = get(&app, "/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json["status"], "stopping", "{}", ready.json);
    // A turn already on its way is still answered while draining.
    let answer = crate::common::chat(&app, None, "护照怎么办").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    store.close().await;
    db.cleanup().await;
}

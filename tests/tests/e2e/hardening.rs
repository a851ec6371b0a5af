//! Hostile and careless input, on every database: NUL characters refused before anything is
//! stored, 429 and 503 with `Retry-After` on a connection that stays usable, tokens checked to
//! the second (expiry, not-before, signature, `alg: none`).

use axum::http::StatusCode;
use backend::testing::TestDb;
use serde_json::json;

use crate::common::{chat, get, post_raw, state};

#[tokio::test]
async fn a_nul_character_is_refused_in_chinese_and_nothing_is_stored() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let app = api::app(state(store.clone()));
        for body in [
            r#"{"message": "护照\u0000怎么办"}"#.to_string(),
            r#"{"message": "护照怎么办", "session_id": "abc\u0000defgh"}"#.to_string(),
        ] {
            let refused = post_raw(&app, "/api/v1/chat", body.clone()).await;
            assert_eq!(
                refused.status,
                StatusCode::BAD_REQUEST,
                "{}: {body}: {}",
                db.label,
                refused.json
            );
            assert!(refused.json["error"]["message"].as_str().unwrap().contains("空字符"));
        }
        for uri in [
            "/api/v1/chat/abc%00defgh/messages",
            "/api/v1/search?q=%00",
            "/guides/passport%00",
        ] {
            let refused = get(&app, uri).await;
            assert_eq!(
                refused.status,
                StatusCode::BAD_REQUEST,
                "{}: {uri}: {}",
                db.label,
                refused.json
            );
        }
        assert_eq!(store.n_sessions().await.unwrap(), 0, "{}", db.label);
        // A written backslash-u is words, not a NUL.
        let fine = post_raw(&app, "/api/v1/chat", r#"{"message": "护照怎么办 \\u0000"}"#).await;
        assert_eq!(fine.status, StatusCode::OK, "{}: {}", db.label, fine.json);
        store.close().await;
        db.cleanup().await;
    }
}

/// One HTTP/1.1 request on an open connection; the status and headers of the answer.
async fn over(stream: &mut tokio::io::BufReader<tokio::net::TcpStream>, path: &str) -> (u16, Vec<(String, String)>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let body = r#"{"message": "护照怎么办"}"#;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.get_mut().write_all(request.as_bytes()).await.unwrap();
    let mut status = String::new();
    stream.read_line(&mut status).await.unwrap();
    let code: u16 = status
        .split(' ')
        .nth(1)
        .unwrap_or_else(|| panic!("status line {status:?}"))
        .parse()
        .unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .expect("a sized answer");
    let mut answer = vec![0; length];
    stream.read_exact(&mut answer).await.unwrap();
    (code, headers)
}

#[tokio::test]
async fn a_rate_limited_client_is_told_when_to_retry_on_a_connection_that_stays_open() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let app = api::app(api::AppState::new(crate::common::engine(), store.clone(), 2));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let mut stream = tokio::io::BufReader::new(tokio::net::TcpStream::connect(addr).await.unwrap());
    let mut codes = Vec::new();
    let mut retry_after = None;
    for _ in 0..4 {
        let (code, headers) = over(&mut stream, "/api/v1/chat").await;
        if code == 429 {
            retry_after = headers.iter().find(|(n, _)| n == "retry-after").map(|(_, v)| v.clone());
            assert!(
                !headers.iter().any(|(n, v)| n == "connection" && v == "close"),
                "{headers:?}"
            );
        }
        codes.push(code);
    }
    // All four on the one connection: two answered, then refused with a time to wait.
    assert_eq!(codes, [200, 200, 429, 429]);
    let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&seconds), "{seconds}");
    store.close().await;
    db.cleanup().await;
}

/// The app with one turn worker and no queue, and that one place taken: the next turn is shed.
async fn full_app(store: &backend::Store) -> (axum::Router, tokio::sync::OwnedSemaphorePermit) {
    let mut busy = state(store.clone());
    busy.admission = std::sync::Arc::new(api::state::Admission::new(1, 0));
    let held = busy.admission.enter().await.expect("the one place");
    (api::app(busy), held)
}

/// A chat turn to `path`, with an `Idempotency-Key` when given.
fn turn_request(path: &str, key: Option<&str>) -> axum::http::Request<axum::body::Body> {
    let mut request = axum::http::Request::post(path).header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request
        .body(axum::body::Body::from(json!({ "message": "护照怎么办" }).to_string()))
        .unwrap()
}

#[tokio::test]
async fn overload_is_refused_at_once_with_a_time_to_retry_and_health_stays_up() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let (app, held) = full_app(&store).await;
    let started = std::time::Instant::now();
    let shed = tower::ServiceExt::oneshot(app.clone(), turn_request("/api/v1/chat", None))
        .await
        .unwrap();
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.headers()["retry-after"], "1");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(get(&app, "/healthz").await.status, StatusCode::OK);
    drop(held);
    assert_eq!(chat(&app, None, "护照怎么办").await.status, StatusCode::OK);
    store.close().await;
    db.cleanup().await;
}

/// Shedding costs the database nothing: a turn with an `Idempotency-Key` that the full queue
/// would refuse is refused before its key is recorded. With the database gone, it is still a
/// quick 503 with a time to retry, not a 500 from the key's record.
#[tokio::test]
async fn a_shed_turn_touches_no_database() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let (app, held) = full_app(&store).await;
    store.close().await;
    for path in ["/api/v1/chat", "/api/v1/chat/stream"] {
        let request = turn_request(path, Some(&format!("shed-{path}")));
        let shed = tower::ServiceExt::oneshot(app.clone(), request).await.unwrap();
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(shed.headers()["retry-after"], "1", "{path}");
    }
    drop(held);
    db.cleanup().await;
}

#[tokio::test]
async fn tokens_are_checked_to_the_second() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let db = TestDb::sqlite();
    let store = db.open().await;
    api::demo::seed(&store, &[]).await.unwrap();
    let app = api::app(state(store.clone()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let key = EncodingKey::from_secret(b"e2e-secret-e2e-secret-e2e-secret!");
    let token = |claims: serde_json::Value| encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap();
    let claims = |exp: u64| json!({ "sub": "citizen-1", "name": "张三", "roles": ["citizen"], "exp": exp });
    let status = |token: String| {
        let app = app.clone();
        async move {
            crate::forms::authed_get(&app, "/api/v1/applications", &token)
                .await
                .status
        }
    };
    assert_eq!(status(token(claims(now + 600))).await, StatusCode::OK);
    // Expired two seconds ago: no grace minute.
    assert_eq!(status(token(claims(now - 2))).await, StatusCode::UNAUTHORIZED);
    // Not valid yet.
    let mut early = claims(now + 600);
    early["nbf"] = json!(now + 300);
    assert_eq!(status(token(early)).await, StatusCode::UNAUTHORIZED);
    // Signed with another key, or not signed at all.
    let forged = encode(
        &Header::new(Algorithm::HS256),
        &claims(now + 600),
        &EncodingKey::from_secret(b"another-secret-another-secret-00"),
    )
    .unwrap();
    assert_eq!(status(forged).await, StatusCode::UNAUTHORIZED);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unsigned = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(claims(now + 600).to_string())
    );
    assert_eq!(status(unsigned).await, StatusCode::UNAUTHORIZED);
    // A token meant for another service (its `aud`) is refused; with an audience configured
    // (`--jwt-audience`), only tokens that name it pass.
    let mut elsewhere = claims(now + 600);
    elsewhere["aud"] = json!("another-service");
    assert_eq!(status(token(elsewhere.clone())).await, StatusCode::UNAUTHORIZED);
    let mut configured = state(store.clone());
    configured.auth = std::sync::Arc::new(
        api::auth::Auth::new(Some("e2e-secret-e2e-secret-e2e-secret!"), None, false)
            .unwrap()
            .with_audience(Some("banshi-shifan")),
    );
    let strict = api::app(configured);
    let strict_status = |token: String| {
        let app = strict.clone();
        async move {
            crate::forms::authed_get(&app, "/api/v1/applications", &token)
                .await
                .status
        }
    };
    let mut ours = claims(now + 600);
    ours["aud"] = json!("banshi-shifan");
    assert_eq!(strict_status(token(ours)).await, StatusCode::OK);
    assert_eq!(strict_status(token(elsewhere)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(strict_status(token(claims(now + 600))).await, StatusCode::UNAUTHORIZED);
    store.close().await;
    db.cleanup().await;
}

/// A log sink for one test: what the server writes, through the same masking as `banshi serve`.
#[derive(Clone, Default)]
struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Sink {
    type Writer = Sink;

    fn make_writer(&'a self) -> Sink {
        self.clone()
    }
}

#[tokio::test]
async fn no_id_number_mobile_number_or_door_number_reaches_the_log_of_a_whole_scenario() {
    let sink = Sink::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(api::logmask::Masked(sink.clone()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let db = TestDb::sqlite();
    let store = db.open().await;
    api::demo::seed(&store, &[]).await.unwrap();
    let app = api::app(state(store.clone()));
    // A form with an ID number from the e-licence and a typed mobile number, submitted.
    let mut form = crate::forms::Conversation::new(&app, Some("citizen-1")).await;
    for line in [
        "我要在线办理身份证到期换领",
        "我的手机号是13812345678",
        "邮寄到家",
        "确认提交",
    ] {
        form.say(line).await;
    }
    // A complaint with a phone number, and a message that carries an ID number.
    let mut complaint = crate::forms::Conversation::new(&app, None).await;
    for line in crate::forms::COMPLAINT {
        complaint.say(line).await;
    }
    chat(&app, None, "我的身份证号是330106199001011234，帮我查一下").await;
    tracing::info!(caller = "13700002222", "a line that names a phone on purpose");
    tracing::info!(place = "文三路128号3幢501室", "a line that names an address on purpose");
    let log = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.lines().count() > 20,
        "the scenario logged too little to judge:\n{log}"
    );
    for secret in [
        "13812345678",
        "13900001111",
        "330106199001011234",
        "330102198803151234",
        "13700002222",
        "幸福路12号",
        "128号3幢501室",
    ] {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
    assert!(log.contains("137****2222"), "the masking did not run:\n{log}");
    assert!(log.contains("文三路***号*幢***室"), "addresses were not masked:\n{log}");
    store.close().await;
    db.cleanup().await;
}

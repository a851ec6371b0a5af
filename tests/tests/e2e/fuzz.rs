//! Every endpoint under random and hostile input (proptest): invalid UTF-8, control
//! characters, NUL, emoji, right-to-left text, huge numbers, deep JSON, SQL and script
//! payloads, bodies over the limit, in bodies, paths, queries and tokens. Never a 5xx, never a
//! panic, and every error in our shape with a Chinese message.
//!
//! `BANSHI_FUZZ_CASES` sets the number of cases (default 1,500, the CI smoke run; the full run is
//! `BANSHI_FUZZ_CASES=10000 cargo test -p tests --test e2e fuzz`).

use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// The endpoints, with `{}` where a path segment goes.
const ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/api/v1/chat"),
    ("POST", "/api/v1/chat/stream"),
    ("GET", "/api/v1/chat/{}/messages"),
    ("GET", "/api/v1/search"),
    ("GET", "/api/v1/guides/{}"),
    ("GET", "/guides/{}"),
    ("GET", "/api/v1/applications"),
    ("GET", "/api/v1/applications/{}"),
    ("GET", "/api/v1/staff/applications"),
    ("POST", "/api/v1/staff/applications/{}/transition"),
    ("GET", "/api/v1/tickets"),
    ("GET", "/api/v1/tickets/{}"),
    ("POST", "/api/v1/tickets/{}/confirm"),
    ("GET", "/api/v1/staff/tickets"),
    ("POST", "/api/v1/staff/tickets/{}/action"),
    ("POST", "/api/v1/ratings"),
    ("POST", "/api/v1/staff/rectifications/{}"),
    ("GET", "/api/v1/stats/ratings"),
    ("GET", "/api/v1/stats/hotline"),
    ("POST", "/api/v1/dev/login"),
    ("POST", "/api/v1/channels/bind"),
    ("GET", "/api/v1/sessions"),
    ("GET", "/api/v1/access-log"),
    ("GET", "/api/v1/agent/queue"),
    ("GET", "/api/v1/agent/conversations/{}"),
    ("POST", "/api/v1/agent/conversations/{}/take"),
    ("POST", "/api/v1/agent/conversations/{}/messages"),
    ("POST", "/api/v1/agent/conversations/{}/close"),
    ("POST", "/api/v1/agent/conversations/{}/ticket"),
    ("POST", "/api/v1/assist"),
    ("GET", "/channels/wechat/{}"),
    ("POST", "/channels/wechat/{}"),
    ("POST", "/channels/wecom/{}"),
];

/// Text a citizen, a careless client or an attacker might send.
fn nasty_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\u{0}-\\u{1f}\\u{7f}\\u{200e}\\u{202e}\\u{fffd}a-z0-9]{0,40}",
        Just("护照怎么办".to_string()),
        Just("'; DROP TABLE sessions; --".to_string()),
        Just("<script>alert(1)</script><img src=x onerror=alert(1)>".to_string()),
        Just("👨‍👩‍👧‍👦🇨🇳".repeat(50)),
        Just("مرحبا بالعالم שלום".to_string()),
        Just("9".repeat(400)),
        Just("../../etc/passwd".to_string()),
        Just("%00%ff%fe".to_string()),
        "[一-龥]{0,3000}",
    ]
}

/// A JSON value of any shape, possibly deep.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        nasty_text().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("message".to_string()),
                    Just("session_id".to_string()),
                    Just("text".to_string()),
                    Just("level".to_string()),
                    Just("target_kind".to_string()),
                    Just("target_id".to_string()),
                    Just("transcript".to_string()),
                    Just("to".to_string()),
                    Just("action".to_string()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..512),
        1 => (0usize..4000).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()),
        1 => nasty_text().prop_map(|t| format!(r#"{{"message": {}}}"#, serde_json::Value::from(t)).into_bytes()),
        1 => Just(format!(r#"{{"message": "{}"}}"#, "办".repeat(700_000)).into_bytes()),
    ]
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{0,70}",
        nasty_text().prop_map(|t| utf8_percent(&t)),
        Just("RX20261201000001".to_string()),
        Just("passport".to_string()),
    ]
}

/// Percent-encodes every byte that is not unreserved, so any text fits in a URI.
fn utf8_percent(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Case {
    endpoint: usize,
    segment: String,
    query: Option<String>,
    body: Vec<u8>,
    token: Option<String>,
    content_type: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..ENDPOINTS.len(),
        segment(),
        proptest::option::of(nasty_text().prop_map(|t| format!("q={}&limit={}", utf8_percent(&t), utf8_percent(&t)))),
        body(),
        proptest::option::of(prop_oneof![
            Just("valid".to_string()),
            "[A-Za-z0-9._-]{0,200}",
            Just("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.".to_string()),
        ]),
        any::<bool>(),
    )
        .prop_map(|(endpoint, segment, query, body, token, content_type)| Case {
            endpoint,
            segment,
            query,
            body,
            token,
            content_type,
        })
}

#[test]
fn no_input_makes_any_endpoint_fail_or_answer_out_of_shape() {
    let cases: u32 = std::env::var("BANSHI_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_500);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // On each database: PostgreSQL refuses some text SQLite takes (a NUL gave a 500 there).
    for db in runtime.block_on(backend::testing::TestDb::all()) {
        fuzz_on(&runtime, db, cases);
    }
}

fn fuzz_on(runtime: &tokio::runtime::Runtime, db: backend::testing::TestDb, cases: u32) {
    let label = db.label;
    let (app, valid) = runtime.block_on(async {
        let store = db.open().await;
        api::demo::seed(&store, &[]).await.unwrap();
        let auth = api::auth::Auth::new(Some("e2e-secret-e2e-secret-e2e-secret!"), None, true).unwrap();
        let app = api::app(api::AppState::with_auth(
            crate::common::engine(),
            store,
            10_000_000,
            auth,
        ));
        let valid = crate::forms::login(&app, "citizen-1").await;
        (app, valid)
    });
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&case(), |case| {
        let (method, template) = ENDPOINTS[case.endpoint];
        let mut uri = template.replace("{}", &case.segment);
        if let Some(query) = &case.query {
            uri = format!("{uri}?{query}");
        }
        let Ok(mut request) = Request::builder().method(method).uri(&uri).body(()) else {
            // Not a URI a client could send at all.
            return Ok(());
        };
        if let Some(token) = &case.token {
            let token = if token == "valid" { valid.clone() } else { token.clone() };
            if let Ok(value) = format!("Bearer {token}").parse() {
                request.headers_mut().insert("authorization", value);
            }
        }
        if case.content_type {
            request
                .headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
        }
        let body = if method == "POST" {
            Body::from(case.body.clone())
        } else {
            Body::empty()
        };
        let request = request.map(|()| body);
        let (status, content_type, bytes) = runtime.block_on(async {
            let response = tower::ServiceExt::oneshot(app.clone(), request).await.unwrap();
            let status = response.status();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            // A live event stream never ends: its status is what matters.
            let bytes = if content_type.starts_with("text/event-stream") && uri.contains("/events") {
                Vec::new()
            } else {
                http_body_util::BodyExt::collect(response.into_body())
                    .await
                    .map(|b| b.to_bytes().to_vec())
                    .unwrap_or_default()
            };
            (status, content_type, bytes)
        });
        prop_assert!(
            !status.is_server_error(),
            "{label}: {method} {uri}: {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        if status.is_client_error() && content_type.starts_with("application/json") {
            let error: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let message = error["error"]["message"].as_str().unwrap_or("");
            prop_assert!(
                error["error"]["code"].is_string() && message.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{method} {uri}: {status}: not our error shape: {}",
                String::from_utf8_lossy(&bytes)
            );
        } else if status.is_client_error() {
            // The messaging platforms' callbacks answer their own way, never with a page.
            prop_assert!(
                template.starts_with("/channels/"),
                "{method} {uri}: {status} as {content_type}"
            );
        }
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    runtime.block_on(db.cleanup());
}

//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use api::AppState;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub fn knowledge_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../knowledge/data")
}

/// The sample corpus and its index, built once for all tests of this binary.
pub fn engine() -> Arc<bot::Engine> {
    static ENGINE: OnceLock<Arc<bot::Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let outcome = knowledge::Corpus::load(&knowledge_dir()).expect("sample corpus loads");
            Arc::new(bot::Engine::new(outcome.corpus, index::IndexConfig::default()).expect("index builds"))
        })
        .clone()
}

/// The demo users, with a staff member (`staff-{id}`) for every department of the sample corpus.
pub async fn seed_demo_with_staff(store: &backend::Store) {
    let departments: Vec<String> = engine().corpus.departments.iter().map(|d| d.id.clone()).collect();
    api::demo::seed(store, &departments).await.unwrap();
}

/// The app's state with a fixed signing secret, so tokens survive a simulated restart.
pub fn state(store: backend::Store) -> AppState {
    let auth = api::auth::Auth::new(Some("e2e-secret-e2e-secret-e2e-secret!"), None, true).expect("auth");
    AppState::with_auth(engine(), store, 10_000, auth)
}

pub struct Response {
    pub status: StatusCode,
    pub json: Value,
}

pub async fn send(app: &axum::Router, request: Request<Body>) -> Response {
    let response = app.clone().oneshot(request).await.expect("router answers");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Response { status, json }
}

pub async fn get(app: &axum::Router, uri: &str) -> Response {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

pub async fn post_raw(app: &axum::Router, uri: &str, body: impl Into<Body>) -> Response {
    let request = Request::post(uri)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap();
    send(app, request).await
}

pub async fn chat(app: &axum::Router, session_id: Option<&str>, message: &str) -> Response {
    let mut body = serde_json::json!({ "message": message });
    if let Some(id) = session_id {
        body["session_id"] = id.into();
    }
    post_raw(app, "/api/v1/chat", body.to_string()).await
}

//! The access-control matrix: every endpoint that touches a person's things × every kind of
//! caller (anonymous, the owner, another citizen, a company, an agent, staff of the right and
//! of another department, admin), on every database. “Allowed” means access control let the
//! request through (any answer but 401, 403 or 404: a 409 for a step the workflow refuses is
//! still allowed); everything else must be refused. No answer is a 5xx.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use backend::testing::TestDb;
use serde_json::{Value, json};

use crate::common::state;
use crate::forms::{Conversation, login};

const CALLERS: [&str; 9] = [
    "anonymous",
    "citizen-1",
    "citizen-2",
    "company-1",
    "agent-1",
    "staffA",
    "staffT",
    "staffX",
    "admin",
];

/// Whether access control let it through; a streamed answer is not read to its end.
async fn allowed(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (bool, u16) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => request.body(Body::empty()).unwrap(),
    };
    let response = tower::ServiceExt::oneshot(app.clone(), request).await.unwrap();
    let status = response.status();
    assert!(!status.is_server_error(), "{method} {uri}: {status}");
    let denied = [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&status);
    (!denied, status.as_u16())
}

#[tokio::test]
async fn every_endpoint_by_every_caller_allows_exactly_what_it_should() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let engine = crate::common::engine();
        let departments: Vec<String> = engine.corpus.departments.iter().map(|d| d.id.clone()).collect();
        api::demo::seed(&store, &departments).await.unwrap();
        let app = api::app(state(store.clone()));

        // citizen-1's application, ticket and a conversation handed to a human.
        let mut form = Conversation::new(&app, Some("citizen-1")).await;
        for line in ["我要在线办理身份证到期换领", "13812345678", "邮寄到家", "确认提交"] {
            form.say(line).await;
        }
        let application = form.application_number();
        let mut complaint = Conversation::new(&app, Some("citizen-1")).await;
        for line in crate::forms::COMPLAINT {
            complaint.say(line).await;
        }
        let ticket_number = complaint.last["ticket"]["number"]
            .as_str()
            .expect("a ticket")
            .to_string();
        let ticket = store.ticket(&ticket_number).await.unwrap().unwrap();
        let mut asked = Conversation::new(&app, Some("citizen-1")).await;
        asked.say("护照怎么办").await;
        asked.say("转人工").await;
        let session = asked.session_id.clone().unwrap();
        let anonymous = crate::common::chat(&app, None, "护照怎么办").await;
        let anonymous = anonymous.json["session_id"].as_str().unwrap().to_string();

        let app_department = engine.corpus.guide("id-card-renewal").unwrap().department.clone();
        assert_ne!(app_department, ticket.department, "the matrix needs two departments");
        let other = departments
            .iter()
            .find(|d| **d != app_department && **d != ticket.department)
            .unwrap();
        let mut tokens: Vec<Option<String>> = vec![None];
        for user in ["citizen-1", "citizen-2", "company-1", "agent-1"] {
            tokens.push(Some(login(&app, user).await));
        }
        for department in [&app_department, &ticket.department, other] {
            tokens.push(Some(login(&app, &format!("staff-{department}")).await));
        }
        tokens.push(Some(login(&app, "admin").await));

        let a = &application;
        let t = &ticket_number;
        let s = &session;
        // method, uri, body, expected per caller (Y allowed, N refused) in CALLERS' order.
        let rows: Vec<(&str, String, Option<Value>, &str)> = vec![
            ("GET", format!("/api/v1/applications/{a}"), None, "NYNNNYNNY"),
            ("GET", "/api/v1/applications".into(), None, "NYYYYYYYY"),
            ("GET", "/api/v1/staff/applications".into(), None, "NNNNNYYYY"),
            ("GET", format!("/api/v1/tickets/{t}"), None, "NYNNYNYNY"),
            // Each department's queue; the hotline's agents and admin work from their own views.
            ("GET", "/api/v1/staff/tickets".into(), None, "NNNNNYYYN"),
            ("GET", format!("/api/v1/chat/{s}/messages"), None, "NYNNNNNNN"),
            ("GET", format!("/api/v1/sessions/{s}/events"), None, "NYNNYNNNY"),
            // An anonymous conversation's id is its key: whoever holds it may watch.
            ("GET", format!("/api/v1/sessions/{anonymous}/events"), None, "YYYYYYYYY"),
            ("GET", "/api/v1/sessions".into(), None, "NYYYYYYYY"),
            ("GET", "/api/v1/agent/queue".into(), None, "NNNNYNNNY"),
            ("GET", format!("/api/v1/agent/conversations/{s}"), None, "NNNNYNNNY"),
            (
                "POST",
                "/api/v1/assist".into(),
                Some(json!({ "transcript": [{ "role": "caller", "text": "护照怎么办" }] })),
                "NNNNYNNNY",
            ),
            ("GET", "/api/v1/stats/hotline".into(), None, "NNNNYYYYY"),
            // The dashboard: the administrator and every department's staff (each sees their own).
            ("GET", "/api/v1/admin/dashboard".into(), None, "NNNNNYYYY"),
            (
                "POST",
                format!("/api/v1/tickets/{t}/confirm"),
                Some(json!({ "solved": true })),
                "NYNNNNNNN",
            ),
            (
                "POST",
                "/api/v1/ratings".into(),
                Some(json!({ "target_kind": "application", "target_id": a, "level": 5 })),
                "NYNNNNNNN",
            ),
            (
                "POST",
                "/api/v1/ratings".into(),
                Some(json!({ "target_kind": "ticket", "target_id": t, "level": 5 })),
                "NYNNNNNNN",
            ),
            (
                "POST",
                "/api/v1/ratings".into(),
                Some(json!({ "target_kind": "conversation", "target_id": s, "level": 5 })),
                "NYNNNNNNN",
            ),
            // Only the department that holds a ticket acts on it.
            (
                "POST",
                format!("/api/v1/staff/tickets/{t}/action"),
                Some(json!({ "action": "accept" })),
                "NNNNNNYNN",
            ),
            (
                "POST",
                format!("/api/v1/staff/applications/{a}/transition"),
                Some(json!({ "to": "accepted" })),
                "NNNNNYNNY",
            ),
            (
                "POST",
                format!("/api/v1/agent/conversations/{s}/take"),
                Some(json!({})),
                "NNNNYNNNY",
            ),
        ];
        let mut wrong = Vec::new();
        for (method, uri, body, expected) in &rows {
            let mut got = String::new();
            let mut statuses = Vec::new();
            for token in &tokens {
                let (ok, status) = allowed(&app, method, uri, token.as_deref(), body.as_ref()).await;
                got.push(if ok { 'Y' } else { 'N' });
                statuses.push(status);
            }
            if got != *expected {
                wrong.push(format!(
                    "{method} {uri}\n  expected {expected}\n  got      {got} {statuses:?}"
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "{}: callers {CALLERS:?}\n{}",
            db.label,
            wrong.join("\n")
        );
        // Every read of citizen-1's things by someone else is in their access log, by whom.
        let log = crate::forms::authed_get(&app, "/api/v1/access-log", tokens[1].as_deref().unwrap()).await;
        let readers = |kind: &str| {
            let mut who: Vec<String> = log.json["reads"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["object_kind"] == kind)
                .map(|r| r["actor"].as_str().unwrap().to_string())
                .collect();
            who.sort();
            who.dedup();
            who
        };
        let staff = |d: &str| format!("staff-{d}");
        assert_eq!(
            readers("application"),
            ["admin".to_string(), staff(&app_department)],
            "{}",
            log.json
        );
        let mut ticket_readers = vec!["admin".to_string(), "agent-1".to_string(), staff(&ticket.department)];
        ticket_readers.sort();
        assert_eq!(readers("ticket"), ticket_readers, "{}", log.json);
        assert_eq!(readers("conversation"), ["admin", "agent-1"], "{}", log.json);
        let other = crate::forms::authed_get(&app, "/api/v1/access-log", tokens[2].as_deref().unwrap()).await;
        assert_eq!(other.json["reads"], serde_json::json!([]), "{}", other.json);
        store.close().await;
        db.cleanup().await;
    }
}

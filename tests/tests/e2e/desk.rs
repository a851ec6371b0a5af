//! Doing it in the chat (issue 13): every service offered online applied for through the
//! conversation, with its files uploaded; window appointments booked, moved and cancelled;
//! and 服务找人 reminders found by the daily job with an injected clock.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use backend::testing::TestDb;
use serde_json::Value;

use crate::common::{Response, send, state};
use crate::forms::{Conversation, authed_get, login};

/// 2026-12-01 10:00 in China, a Tuesday and a working day.
const TUESDAY_10AM: i64 = 1_796_090_400_000;
const DAY: i64 = 86_400_000;

/// A small valid PDF, with the NUL bytes a real file holds.
fn pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj<<>>endobj\n".to_vec();
    bytes.extend([0u8, 1, 2, 0, 255]);
    bytes.extend(b"\n%%EOF\n");
    bytes
}

async fn upload(
    app: &axum::Router,
    token: Option<&str>,
    session: &str,
    material: &str,
    bytes: Vec<u8>,
    kind: &str,
) -> Response {
    let uri = format!(
        "/api/v1/uploads?session_id={session}&material={}&name={}",
        urlencode(material),
        urlencode("扫描件.pdf")
    );
    let mut request = Request::post(uri).header("content-type", kind);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    send(app, request.body(Body::from(bytes)).unwrap()).await
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A value the field's validator accepts.
fn answer(field: &Value) -> String {
    let options = field.get("options").and_then(Value::as_array);
    if let Some(first) = options.and_then(|o| o.first()) {
        return first.as_str().unwrap().to_string();
    }
    match field["kind"].as_str().unwrap_or("text") {
        "id_number" => "110101199003071233".into(),
        "credit_code" => "91330100MA2K3Q8X7F".into(),
        "mobile" => "13912345678".into(),
        "date" => "2026-12-20".into(),
        "amount" => "3000".into(),
        "address" => "示范市中山区民生路88号".into(),
        "person_name" => "王小明".into(),
        _ => "示例内容".into(),
    }
}

/// Applies for `service_id` in the chat as `user`: answers every question the form asks,
/// uploads every required file when asked, confirms. Returns the conversation after the
/// submission and the upload ids sent.
async fn apply<'a>(
    app: &'a axum::Router,
    user: &str,
    service_id: &str,
    title: &str,
) -> (Conversation<'a>, Vec<String>) {
    let engine = crate::common::engine();
    let form = engine.corpus.form(service_id).expect("a form");
    let fields: Vec<Value> = form.fields.iter().map(|f| serde_json::to_value(f).unwrap()).collect();
    let token = login(app, user).await;
    let mut chat = Conversation::new(app, Some(user)).await;
    chat.say(&format!("我要在线办理{title}")).await;
    let mut uploaded = Vec::new();
    for _ in 0..40 {
        let view = chat.last["form"].clone();
        assert_eq!(view["service_id"], service_id, "{}", chat.transcript);
        if view["state"] == "confirming" {
            chat.say("确认提交").await;
            assert!(chat.last["application"].is_object(), "{}", chat.transcript);
            return (chat, uploaded);
        }
        let missing_field = view["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["status"] == "missing")
            .and_then(|f| fields.iter().find(|d| d["name"] == f["name"]));
        if let Some(field) = missing_field {
            let value = answer(field);
            chat.say(&value).await;
            continue;
        }
        let wanted = view["uploads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["status"] == "missing")
            .unwrap_or_else(|| panic!("nothing missing and not confirming: {}", chat.transcript));
        let material = wanted["material"].as_str().unwrap();
        let session = chat.session_id.clone().unwrap();
        let sent = upload(app, Some(&token), &session, material, pdf(), "application/pdf").await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.json);
        uploaded.push(sent.json["id"].as_str().unwrap().to_string());
        chat.say("已上传").await;
        assert!(
            chat.last["reply"]["text"].as_str().unwrap().contains("已收到"),
            "{}",
            chat.transcript
        );
    }
    panic!("the form never reached its summary: {}", chat.transcript);
}

/// Every guide offered online, applied for in the chat by its audience (a citizen, or the
/// demo company for 法人 services), on SQLite; each with its files attached.
#[tokio::test]
async fn every_service_offered_online_is_applied_for_in_the_chat() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    api::demo::seed(&store, &[]).await.unwrap();
    let app = api::app(state(store.clone()));
    let engine = crate::common::engine();
    let mut n_applied = 0;
    let mut n_with_files = 0;
    for guide in engine.corpus.guides.iter().filter(|g| !g.channels.online.is_empty()) {
        let user = if guide.audience == knowledge::Audience::Company {
            "company-1"
        } else {
            "citizen-1"
        };
        let (chat, uploaded) = apply(&app, user, &guide.id, &guide.title).await;
        let number = chat.application_number();
        let application = store.application(&number).await.unwrap().expect("stored");
        assert_eq!(application.service_id, guide.id);
        let held = store.uploads_of_application(&number).await.unwrap();
        assert_eq!(held.len(), uploaded.len(), "{}: every file is held", guide.id);
        let materials: Value = serde_json::from_str(&application.materials).unwrap();
        let attached = materials
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["source"] == "attached")
            .count();
        assert_eq!(attached, uploaded.len(), "{}: {materials}", guide.id);
        n_applied += 1;
        n_with_files += usize::from(!uploaded.is_empty());
    }
    assert!(n_applied >= 40, "{n_applied}");
    assert!(n_with_files >= 10, "{n_with_files} services took files");
    store.close().await;
    db.cleanup().await;
}

/// One service per audience on both databases: an individual's, a company's and a bundle's,
/// each with an upload that the applicant and the handling department can read back and
/// nobody else can.
#[tokio::test]
async fn each_audience_applies_with_an_upload_on_both_databases() {
    let engine = crate::common::engine();
    let with_files = |audience: &str, bundle: bool| {
        engine
            .corpus
            .guides
            .iter()
            .filter(|g| g.audience.label() == audience && (g.kind == knowledge::GuideKind::Bundle) == bundle)
            .find(|g| {
                engine
                    .corpus
                    .form(&g.id)
                    .is_some_and(|f| f.uploads.iter().any(|u| u.required))
            })
            .map(|g| (g.id.clone(), g.title.clone(), g.department.clone()))
    };
    let cases = [
        (
            "citizen-1",
            with_files("个人", false).expect("an individual service with a file"),
        ),
        (
            "company-1",
            with_files("法人", false).expect("a company service with a file"),
        ),
        (
            "citizen-2",
            with_files("个人", true)
                .or_else(|| with_files("法人", true))
                .expect("a bundle with a file"),
        ),
    ];
    for db in TestDb::all().await {
        let store = db.open().await;
        crate::common::seed_demo_with_staff(&store).await;
        let app = api::app(state(store.clone()));
        for (user, (service_id, title, department)) in &cases {
            let user = if engine.corpus.guide(service_id).unwrap().audience == knowledge::Audience::Company {
                "company-1"
            } else {
                user
            };
            let (chat, uploaded) = apply(&app, user, service_id, title).await;
            assert!(!uploaded.is_empty(), "{service_id}");
            let number = chat.application_number();
            let file = &uploaded[0];
            let own = login(&app, user).await;
            let read = read_file(&app, file, &own).await;
            assert_eq!(read, (StatusCode::OK, pdf()), "{}: {service_id}", db.label);
            let staff = login(&app, &format!("staff-{department}")).await;
            assert_eq!(read_file(&app, file, &staff).await.0, StatusCode::OK, "{service_id}");
            let other = login(&app, if user == "citizen-2" { "citizen-1" } else { "citizen-2" }).await;
            assert_eq!(read_file(&app, file, &other).await.0, StatusCode::NOT_FOUND);
            let application = authed_get(&app, &format!("/api/v1/applications/{number}"), &own).await;
            let materials = application.json["materials"].as_array().unwrap();
            assert!(
                materials.iter().any(|m| m["upload_id"] == file.as_str()),
                "{}",
                application.json
            );
        }
        store.close().await;
        db.cleanup().await;
    }
}

async fn read_file(app: &axum::Router, id: &str, token: &str) -> (StatusCode, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = Request::get(format!("/api/v1/uploads/{id}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

#[tokio::test]
async fn uploads_are_checked_before_anything_is_stored() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    api::demo::seed(&store, &[]).await.unwrap();
    let app = api::app(state(store.clone()));
    let engine = crate::common::engine();
    let (guide, material) = engine
        .corpus
        .guides
        .iter()
        .filter(|g| g.audience == knowledge::Audience::Person)
        .find_map(|g| {
            let form = engine.corpus.form(&g.id)?;
            form.uploads.first().map(|u| (g.clone(), u.material.clone()))
        })
        .expect("a form with an upload");
    let token = login(&app, "citizen-1").await;
    let mut chat = Conversation::new(&app, Some("citizen-1")).await;
    chat.say(&format!("我要在线办理{}", guide.title)).await;
    let session = chat.session_id.clone().unwrap();
    let cases: Vec<(Vec<u8>, &str, &str, StatusCode)> = vec![
        (
            b"<script>alert(1)</script>".to_vec(),
            "application/pdf",
            material.as_str(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            pdf(),
            "image/png",
            material.as_str(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Vec::new(),
            "application/pdf",
            material.as_str(),
            StatusCode::BAD_REQUEST,
        ),
        (pdf(), "application/pdf", "不是这份表要的材料", StatusCode::BAD_REQUEST),
        (
            [b"%PDF-1.4\n".to_vec(), vec![0u8; 11 * 1024 * 1024]].concat(),
            "application/pdf",
            material.as_str(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (bytes, kind, material, status) in cases {
        let sent = upload(&app, Some(&token), &session, material, bytes, kind).await;
        assert_eq!(sent.status, status, "{kind} {material}: {}", sent.json);
        let message = sent.json["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{}",
            sent.json
        );
    }
    // Another citizen, and nobody, cannot upload into this conversation.
    let other = login(&app, "citizen-2").await;
    let sent = upload(&app, Some(&other), &session, &material, pdf(), "application/pdf").await;
    assert_eq!(sent.status, StatusCode::NOT_FOUND);
    let sent = upload(&app, None, &session, &material, pdf(), "application/pdf").await;
    assert_eq!(sent.status, StatusCode::UNAUTHORIZED);
    assert!(
        store.pending_uploads(&session).await.unwrap().is_empty(),
        "nothing stored"
    );
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_window_visit_is_booked_moved_and_cancelled_in_the_chat() {
    for db in TestDb::all().await {
        let store = db.open().await;
        api::demo::seed(&store, &[]).await.unwrap();
        let mut app_state = state(store.clone());
        app_state.clock = std::sync::Arc::new(api::clock::ManualClock::new(TUESDAY_10AM));
        let app = api::app(app_state);
        let token = login(&app, "citizen-1").await;
        let mut chat = Conversation::new(&app, Some("citizen-1")).await;
        let offered = chat.say("我想预约办护照，明天下午有号吗").await.clone();
        let text = offered["reply"]["text"].as_str().unwrap();
        assert!(text.contains("12月2日（周三）下午"), "{text}");
        let options = offered["reply"]["quick_replies"].as_array().unwrap().clone();
        assert!(
            !options.is_empty() && options.iter().all(|o| o.as_str().unwrap().contains("下午")),
            "{offered}"
        );
        let booked = chat.say("第一个").await.clone();
        let appointment = &booked["appointment"];
        assert_eq!(appointment["state"], "booked", "{booked}");
        assert_eq!(appointment["service_id"], "passport");
        assert!(
            appointment["start"].as_str().unwrap().starts_with("2026-12-02 1"),
            "{appointment}"
        );
        let reply = booked["reply"]["text"].as_str().unwrap();
        // The checklist knows what the citizen's e-licences cover.
        assert!(reply.contains("免于提交") && reply.contains("预约号"), "{reply}");
        let number = appointment["number"].as_str().unwrap().to_string();

        // Moved to Thursday morning: one live booking, at the new time.
        let offered = chat.say("改约到后天上午").await.clone();
        assert!(
            offered["reply"]["text"]
                .as_str()
                .unwrap()
                .contains("12月3日（周四）上午"),
            "{offered}"
        );
        let moved = chat.say("1").await.clone();
        assert_eq!(moved["appointment"]["state"], "booked", "{moved}");
        assert!(
            moved["appointment"]["start"]
                .as_str()
                .unwrap()
                .starts_with("2026-12-03 0"),
            "{moved}"
        );
        let list = authed_get(&app, "/api/v1/appointments", &token).await;
        let states: Vec<&str> = list.json["appointments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["state"].as_str().unwrap())
            .collect();
        assert_eq!(states, ["booked", "cancelled"], "{}: {}", db.label, list.json);
        assert_ne!(moved["appointment"]["number"], number.as_str());

        let cancelled = chat.say("取消预约").await.clone();
        assert_eq!(cancelled["appointment"]["state"], "cancelled", "{cancelled}");
        // Another citizen cannot cancel or see it.
        let other = login(&app, "citizen-2").await;
        let moved_number = moved["appointment"]["number"].as_str().unwrap();
        let refused = send(
            &app,
            Request::post(format!("/api/v1/appointments/{moved_number}/cancel"))
                .header("authorization", format!("Bearer {other}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND);
        let theirs = authed_get(&app, "/api/v1/appointments", &other).await;
        assert_eq!(theirs.json["appointments"].as_array().unwrap().len(), 0);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_weekend_day_and_an_anonymous_booking_are_explained() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    api::demo::seed(&store, &[]).await.unwrap();
    let mut app_state = state(store.clone());
    app_state.clock = std::sync::Arc::new(api::clock::ManualClock::new(TUESDAY_10AM));
    let app = api::app(app_state);
    let mut chat = Conversation::new(&app, None).await;
    let offered = chat.say("办护照周六能预约吗").await.clone();
    let text = offered["reply"]["text"].as_str().unwrap();
    assert!(text.contains("休息日") && text.contains("可以预约"), "{text}");
    let refused = chat.say("1").await.clone();
    assert!(refused["reply"]["text"].as_str().unwrap().contains("登录"), "{refused}");
    assert!(refused["appointment"].is_null());
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_licence_expiring_in_60_days_is_reminded_once_and_starts_a_prefilled_renewal() {
    for db in TestDb::all().await {
        let store = db.open().await;
        api::demo::seed_at(&store, &[], TUESDAY_10AM).await.unwrap();
        let mut app_state = state(store.clone());
        let clock = std::sync::Arc::new(api::clock::ManualClock::new(TUESDAY_10AM));
        app_state.clock = clock.clone();
        let app = api::app(app_state.clone());
        // The daily job, run every day for a week.
        let mut written = 0;
        for _ in 0..7 {
            written += api::service::reminders::run(&app_state, api::clock::Clock::now(clock.as_ref()))
                .await
                .unwrap();
            clock.advance(DAY);
        }
        let token = login(&app, "citizen-3").await;
        let inbox = authed_get(&app, "/api/v1/inbox", &token).await;
        let items = inbox.json["items"].as_array().unwrap();
        let licence: Vec<&Value> = items
            .iter()
            .filter(|i| i["service_id"] == "driving-license-renewal")
            .collect();
        assert_eq!(
            licence.len(),
            1,
            "{}: one reminder, not one a day: {}",
            db.label,
            inbox.json
        );
        assert!(
            licence[0]["reason"].as_str().unwrap().contains("2027-01-30"),
            "{}",
            inbox.json
        );
        assert_eq!(licence[0]["due"], "2027-01-30");
        assert!(
            items.iter().any(|i| i["service_id"] == "senior-preferential-card"),
            "{}",
            inbox.json
        );
        assert_eq!(written, items.len(), "{}", db.label);
        // Nobody else's reminders.
        let other = login(&app, "citizen-1").await;
        let theirs = authed_get(&app, "/api/v1/inbox", &other).await;
        assert!(theirs.json["items"].as_array().unwrap().is_empty(), "{}", theirs.json);

        // The greeting shows it; its one-tap start opens the renewal form, prefilled.
        let mut chat = Conversation::new(&app, Some("citizen-3")).await;
        let greeted = chat.say("你好").await.clone();
        let start = licence[0]["start"].as_str().unwrap();
        assert!(
            greeted["reply"]["text"].as_str().unwrap().contains("驾驶证"),
            "{greeted}"
        );
        assert!(
            greeted["reply"]["quick_replies"]
                .as_array()
                .unwrap()
                .iter()
                .any(|q| q == start),
            "{greeted}"
        );
        let opened = chat.say(start).await.clone();
        let form = &opened["form"];
        assert_eq!(form["service_id"], "driving-license-renewal", "{opened}");
        let prefilled: Vec<&str> = form["fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["status"] == "prefilled")
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert!(prefilled.len() >= 2, "{prefilled:?} {opened}");

        // Switched off: a new occasion is not written.
        let off = send(
            &app,
            Request::post("/api/v1/inbox/settings")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(r#"{"reminders": false}"#))
                .unwrap(),
        )
        .await;
        assert_eq!(off.json["reminders"], false, "{}", off.json);
        clock.advance(400 * DAY);
        let later = api::service::reminders::run(&app_state, api::clock::Clock::now(clock.as_ref()))
            .await
            .unwrap();
        assert_eq!(later, 0, "{}", db.label);
        store.close().await;
        db.cleanup().await;
    }
}

/// Asking for one's progress says who holds it and what the citizen must do; a 补正 is answered in
/// the chat with files, and the application goes back to the department.
#[tokio::test]
async fn a_correction_request_is_explained_and_answered_in_the_chat() {
    for db in TestDb::all().await {
        let store = db.open().await;
        api::demo::seed(&store, &[]).await.unwrap();
        let app = api::app(state(store.clone()));
        let (chat, _) = apply(&app, "citizen-1", "id-card-renewal", "居民身份证有效期满换领").await;
        let number = chat.application_number();
        store
            .transition(
                &number,
                "staff-public-security",
                backend::AppState::CorrectionRequested,
                Some("请补充户口簿首页照片"),
                None,
                backend::now_millis(),
            )
            .await
            .unwrap();
        let token = login(&app, "citizen-1").await;
        let mut chat = Conversation::new(&app, Some("citizen-1")).await;
        let status = chat.say("我的办理进度").await.clone();
        let text = status["reply"]["text"].as_str().unwrap();
        assert!(
            text.contains("办理部门") && text.contains("您现在需要做") && text.contains("户口簿首页照片"),
            "{text}"
        );
        let started = chat.say("补正").await.clone();
        assert!(
            started["reply"]["text"].as_str().unwrap().contains(&number),
            "{started}"
        );
        assert_eq!(started["form"]["uploads"][0]["material"], "补正材料", "{started}");
        let early = chat.say("重新提交").await.clone();
        assert!(
            early["reply"]["text"].as_str().unwrap().contains("还没有收到"),
            "{early}"
        );
        let session = chat.session_id.clone().unwrap();
        let sent = upload(&app, Some(&token), &session, "补正材料", pdf(), "application/pdf").await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.json);
        let noted = chat.say("已上传").await.clone();
        assert!(
            noted["reply"]["text"].as_str().unwrap().contains("已收到 1 份"),
            "{noted}"
        );
        let done = chat.say("重新提交").await.clone();
        assert!(done["reply"]["text"].as_str().unwrap().contains("已重新提交"), "{done}");
        let application = store.application(&number).await.unwrap().unwrap();
        assert_eq!(application.state, backend::AppState::Submitted, "{}", db.label);
        assert_eq!(store.uploads_of_application(&number).await.unwrap().len(), 1);
        let events = store.events(&number).await.unwrap();
        assert!(
            events.last().unwrap().reason.as_deref().unwrap_or("").contains("补正"),
            "{events:?}"
        );
        store.close().await;
        db.cleanup().await;
    }
}

/// A first message that asks for a slot and names the service only in passing gets slots.
#[tokio::test]
async fn a_slot_asked_for_in_a_first_message_is_offered() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let mut app_state = state(store.clone());
    app_state.clock = std::sync::Arc::new(api::clock::ManualClock::new(TUESDAY_10AM));
    let app = api::app(app_state);
    let mut chat = Conversation::new(&app, None).await;
    let offered = chat.say("明天上午能预约办居民身份证换领吗").await.clone();
    let text = offered["reply"]["text"].as_str().unwrap();
    assert!(
        text.contains("12月2日（周三）上午") && text.contains("身份证"),
        "{text}"
    );
    store.close().await;
    db.cleanup().await;
}

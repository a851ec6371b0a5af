//! Forms and applications, as scripted conversations kept as transcript snapshots, on
//! SQLite and PostgreSQL: an individual service, a company service, a “一件事” bundle and a
//! “一业一证” combined licence, each ending in a submitted application whose stored fields
//! are checked.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use backend::testing::TestDb;
use serde_json::{Value, json};

use crate::common::{Response, send};

/// A conversation driven through the HTTP API, recorded as a readable transcript.
pub struct Conversation<'a> {
    app: &'a axum::Router,
    token: Option<String>,
    pub session_id: Option<String>,
    pub transcript: String,
    pub last: Value,
}

pub async fn login(app: &axum::Router, user: &str) -> String {
    let request = Request::post("/api/v1/dev/login")
        .header("content-type", "application/json")
        .body(Body::from(json!({ "user": user }).to_string()))
        .unwrap();
    let response = send(app, request).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.json);
    response.json["token"].as_str().unwrap().to_string()
}

pub async fn authed_get(app: &axum::Router, uri: &str, token: &str) -> Response {
    send(
        app,
        Request::get(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// Numbers and dates that change from run to run.
fn redact(text: &str) -> String {
    let number = regex_lite(text, "SF", 14);
    let mut out = String::new();
    for line in number.lines() {
        match line.split_once("承诺办结日期：") {
            Some((head, _)) => out.push_str(&format!("{head}承诺办结日期：<date>（按工作日计算）")),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Replaces `prefix` followed by `n` digits (and an optional -k suffix) with `<number>`.
fn regex_lite(text: &str, prefix: &str, n: usize) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(pos) = rest.find(prefix) {
        let after = &rest[pos + prefix.len()..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        out.push_str(&rest[..pos]);
        if digits == n {
            out.push_str("<number>");
            rest = &after[n..];
        } else {
            out.push_str(prefix);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A complaint taken down to a ticket, turn by turn (what, where, when, phone, not urgent, confirm).
pub const COMPLAINT: [&str; 6] = [
    "我要投诉，幸福路12号小区门口垃圾三天没人清运",
    "幸福路12号",
    "昨天",
    "13900001111",
    "否",
    "确认",
];

impl<'a> Conversation<'a> {
    pub async fn new(app: &'a axum::Router, user: Option<&str>) -> Conversation<'a> {
        let token = match user {
            Some(user) => Some(login(app, user).await),
            None => None,
        };
        Conversation {
            app,
            token,
            session_id: None,
            transcript: String::new(),
            last: Value::Null,
        }
    }

    pub async fn say(&mut self, message: &str) -> &Value {
        let mut body = json!({ "message": message });
        if let Some(id) = &self.session_id {
            body["session_id"] = id.clone().into();
        }
        let mut request = Request::post("/api/v1/chat").header("content-type", "application/json");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = send(self.app, request.body(Body::from(body.to_string())).unwrap()).await;
        assert_eq!(response.status, StatusCode::OK, "{message}: {}", response.json);
        self.session_id = response.json["session_id"].as_str().map(str::to_string);
        self.transcript.push_str(&format!("> {message}\n"));
        let reply = response.json["reply"]["text"].as_str().unwrap_or_default();
        for line in redact(reply).lines() {
            self.transcript.push_str(&format!("< {line}\n"));
        }
        if let Some(form) = response.json["form"].as_object() {
            let fields: Vec<String> = form["fields"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["status"] != "missing")
                .map(|f| {
                    format!(
                        "{}={}({})",
                        f["name"].as_str().unwrap(),
                        f["value"].as_str().unwrap_or("-"),
                        f["status"].as_str().unwrap()
                    )
                })
                .collect();
            self.transcript.push_str(&format!(
                "  [form {} {}] {}\n",
                form["service_id"].as_str().unwrap(),
                form["state"].as_str().unwrap(),
                fields.join(" ")
            ));
        }
        if let Some(application) = response.json["application"].as_object() {
            self.transcript.push_str(&format!(
                "  [application {} {}]\n",
                application["service_id"].as_str().unwrap(),
                application["state"].as_str().unwrap()
            ));
        }
        self.last = response.json;
        &self.last
    }

    pub fn application_number(&self) -> String {
        self.last["application"]["number"]
            .as_str()
            .expect("an application was submitted")
            .to_string()
    }
}

async fn stored_fields(store: &backend::Store, number: &str) -> Value {
    let application = store.application(number).await.unwrap().expect("stored");
    serde_json::from_str(&application.fields).unwrap()
}

#[tokio::test]
async fn individual_service_with_prefill_invalid_value_and_correction() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let state = crate::common::state(store.clone());
        api::demo::seed(&store, &[]).await.unwrap();
        let app = api::app(state);
        let mut chat = Conversation::new(&app, Some("citizen-1")).await;
        chat.say("我要在线办理身份证到期换领").await;
        chat.say("我的手机是1391234567").await;
        chat.say("13912345678").await;
        chat.say("邮寄到家").await;
        chat.say("电话写错了，是13812345678").await;
        chat.say("确认提交").await;
        let number = chat.application_number();
        insta::assert_snapshot!("individual_service", chat.transcript);

        let fields = stored_fields(&store, &number).await;
        assert_eq!(
            fields["mobile"], "13812345678",
            "{}: the correction is stored",
            db.label
        );
        assert_eq!(fields["id_number"], "330102198803151234");
        assert_eq!(fields["pickup"], "邮寄到家");
        let application = store.application(&number).await.unwrap().unwrap();
        let materials: Value = serde_json::from_str(&application.materials).unwrap();
        assert!(
            materials.as_array().unwrap().iter().any(|m| m["source"] == "e_license"),
            "{materials}"
        );
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn company_service_prefilled_from_the_business_license() {
    for db in TestDb::all().await {
        let store = db.open().await;
        api::demo::seed(&store, &[]).await.unwrap();
        let app = api::app(crate::common::state(store.clone()));
        let mut chat = Conversation::new(&app, Some("company-1")).await;
        chat.say("我们公司要首次申领发票，在线办理").await;
        chat.say("办税人电话 13700001111").await;
        chat.say("数电普票").await;
        chat.say("每月20份").await;
        chat.say("确认").await;
        let number = chat.application_number();
        insta::assert_snapshot!("company_service", chat.transcript);
        let fields = stored_fields(&store, &number).await;
        assert_eq!(fields["credit_code"], "91330100MA2K3Q8X7F", "{}", db.label);
        assert_eq!(fields["company_name"], "示范市青禾餐饮管理有限公司");
        assert_eq!(fields["invoice_type"], "数电普票");
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn bundle_asks_each_field_once_and_submits_every_part_together() {
    for db in TestDb::all().await {
        let store = db.open().await;
        api::demo::seed(&store, &[]).await.unwrap();
        let app = api::app(crate::common::state(store.clone()));
        let mut chat = Conversation::new(&app, Some("citizen-2")).await;
        chat.say("孩子出生了，我要在线办理新生儿出生一件事").await;
        chat.say("孩子叫李小米").await;
        chat.say("2026年11月20日").await;
        chat.say("女").await;
        chat.say("15800002222").await;
        chat.say("随父").await;
        chat.say("首次申领").await;
        chat.say("确认提交").await;
        let number = chat.application_number();
        insta::assert_snapshot!("bundle", chat.transcript);
        let parts = store.application_parts(&number).await.unwrap();
        let services: Vec<&str> = parts.iter().map(|p| p.service_id.as_str()).collect();
        assert_eq!(
            services,
            [
                "birth-hukou-registration",
                "newborn-medical-insurance",
                "social-security-card"
            ],
            "{}",
            db.label
        );
        assert!(
            parts
                .iter()
                .all(|p| p.state == backend::AppState::Submitted && p.deadline.is_some())
        );
        let fields = stored_fields(&store, &number).await;
        assert_eq!(fields["child_name"], "李小米");
        assert_eq!(fields["child_birth_date"], "2026-11-20");
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn combined_license_is_one_application() {
    for db in TestDb::all().await {
        let store = db.open().await;
        api::demo::seed(&store, &[]).await.unwrap();
        let app = api::app(crate::common::state(store.clone()));
        let mut chat = Conversation::new(&app, Some("company-1")).await;
        chat.say("开餐馆的一业一证综合许可证，我要在线申请").await;
        chat.say("13700001111").await;
        chat.say("示范市东湖区湖滨路8号").await;
        chat.say("60").await;
        chat.say("是").await;
        chat.say("确认提交").await;
        let number = chat.application_number();
        insta::assert_snapshot!("combined_license", chat.transcript);
        assert!(
            store.application_parts(&number).await.unwrap().is_empty(),
            "one combined application, no parts"
        );
        let fields = stored_fields(&store, &number).await;
        assert_eq!(fields["shop_address"], "示范市东湖区湖滨路8号", "{}", db.label);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn anonymous_draft_refuses_a_bad_id_number_and_needs_a_login_to_submit() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let app = api::app(crate::common::state(store.clone()));
    let mut chat = Conversation::new(&app, None).await;
    chat.say("我要在线办理社保卡").await;
    assert_eq!(chat.last["form"]["state"], "collecting", "{}", chat.last);
    chat.say("王芳").await;
    let refused = chat.say("330102198803151235").await.clone();
    let text = refused["reply"]["text"].as_str().unwrap();
    assert!(
        text.contains("身份证号码不正确") && text.contains("请重新输入身份证号码"),
        "{text}"
    );
    assert_eq!(refused["form"]["missing"][0], "id_number", "asked again");
    chat.say("330102198803151234").await;
    chat.say("13600003333").await;
    chat.say("丢失补领").await;
    chat.say("跳过").await;
    assert_eq!(chat.last["form"]["state"], "confirming", "{}", chat.last);
    let needs_login = chat.say("确认提交").await.clone();
    assert!(needs_login["reply"]["text"].as_str().unwrap().contains("登录"));
    assert_eq!(needs_login["form"]["state"], "confirming", "the draft is kept");
    assert!(needs_login["application"].is_null());
    store.close().await;
}

#[tokio::test]
async fn a_form_resumes_after_a_restart_and_in_a_new_conversation() {
    for db in TestDb::all().await {
        let store = db.open().await;
        api::demo::seed(&store, &[]).await.unwrap();
        let app = api::app(crate::common::state(store.clone()));
        let mut chat = Conversation::new(&app, Some("citizen-1")).await;
        chat.say("我要在线办理公积金租房提取").await;
        chat.say("13912345678").await;
        let session_id = chat.session_id.clone().unwrap();
        let token = chat.token.clone();
        store.close().await;
        drop(app);

        // Restart: a new process on the same database continues the same conversation.
        let store = db.open().await;
        let app = api::app(crate::common::state(store.clone()));
        let mut chat = Conversation {
            app: &app,
            token: token.clone(),
            session_id: Some(session_id),
            transcript: String::new(),
            last: Value::Null,
        };
        chat.say("示范市滨江区江滨路12号3幢501室").await;
        assert_eq!(
            chat.last["form"]["missing"],
            json!(["monthly_rent", "lease_start"]),
            "{}: {}",
            db.label,
            chat.last
        );

        // A new conversation of the same user offers the draft and resumes it.
        let mut later = Conversation {
            app: &app,
            token,
            session_id: None,
            transcript: String::new(),
            last: Value::Null,
        };
        later.say("护照怎么办").await;
        assert!(
            later.last["reply"]["quick_replies"]
                .as_array()
                .unwrap()
                .iter()
                .any(|q| q == "继续办理"),
            "{}",
            later.last
        );
        later.say("继续办理").await;
        assert_eq!(later.last["form"]["service_id"], "housing-fund-withdrawal-rent");
        assert_eq!(later.last["form"]["missing"], json!(["monthly_rent", "lease_start"]));
        later.say("2500元").await;
        later.say("2026-03-01").await;
        later.say("确认提交").await;
        let number = later.application_number();
        let fields = stored_fields(&store, &number).await;
        assert_eq!(fields["rent_address"], "示范市滨江区江滨路12号3幢501室");
        assert_eq!(fields["monthly_rent"], "2500.00");
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn double_submit_makes_one_application_and_others_cannot_see_it() {
    for db in TestDb::all().await {
        let store = db.open().await;
        api::demo::seed(&store, &[]).await.unwrap();
        let app = api::app(crate::common::state(store.clone()));
        let mut chat = Conversation::new(&app, Some("citizen-1")).await;
        chat.say("我要在线办理身份证到期换领").await;
        chat.say("13912345678").await;
        chat.say("窗口领取").await;
        // The confirming state, as a client retrying a timed-out request would resend it.
        let session = store
            .session(chat.session_id.as_deref().unwrap())
            .await
            .unwrap()
            .unwrap();
        chat.say("确认提交").await;
        let number = chat.application_number();
        let replayed = backend::Turn {
            session_id: &session.id,
            user_id: Some("citizen-1"),
            expected_version: Some(session.version + 1),
            state: &session.state,
            user_text: "",
            bot_text: "",
            intent: "service",
            payload: "{}",
            now: backend::now_millis(),
        };
        store.save_turn(&replayed).await.unwrap();
        chat.say("确认提交").await;
        assert_eq!(
            chat.application_number(),
            number,
            "{}: the same application again",
            db.label
        );
        assert_eq!(
            store.applications_of("citizen-1").await.unwrap().len(),
            1,
            "{}",
            db.label
        );

        let own = authed_get(
            &app,
            &format!("/api/v1/applications/{number}"),
            chat.token.as_deref().unwrap(),
        )
        .await;
        assert_eq!(own.status, StatusCode::OK);
        assert_eq!(own.json["events"][0]["to"], "submitted");
        let other = login(&app, "citizen-2").await;
        let hidden = authed_get(&app, &format!("/api/v1/applications/{number}"), &other).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.json);
        assert_eq!(hidden.json["error"]["code"], "not_found");
        let list = authed_get(&app, "/api/v1/applications", &other).await;
        assert_eq!(list.json["applications"], json!([]));
        let anonymous = crate::common::get(&app, "/api/v1/applications").await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

        // “我的申请到哪一步了” lists only one's own applications.
        let mut status = Conversation::new(&app, Some("citizen-1")).await;
        status.say("我的申请到哪一步了").await;
        let text = status.last["reply"]["text"].as_str().unwrap();
        assert!(text.contains(&number) && text.contains("已提交，等待受理"), "{text}");
        let mut other_status = Conversation::new(&app, Some("citizen-2")).await;
        other_status.say("我的申请到哪一步了").await;
        assert!(!other_status.last["reply"]["text"].as_str().unwrap().contains(&number));
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn staff_move_an_application_through_the_workflow_with_an_audit_log() {
    for db in TestDb::all().await {
        let store = db.open().await;
        crate::common::seed_demo_with_staff(&store).await;
        let app = api::app(crate::common::state(store.clone()));
        let mut chat = Conversation::new(&app, Some("citizen-1")).await;
        chat.say("我要在线办理身份证到期换领").await;
        chat.say("13912345678").await;
        chat.say("窗口领取").await;
        chat.say("确认提交").await;
        let number = chat.application_number();
        let staff = login(&app, "staff-public-security").await;
        let wrong_staff = login(&app, "staff-tax").await;
        let step = |token: String, to: &'static str, reason: Option<&'static str>| {
            let app = app.clone();
            let number = number.clone();
            async move {
                let body = json!({ "to": to, "reason": reason });
                let request = Request::post(format!("/api/v1/staff/applications/{number}/transition"))
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::from(body.to_string()))
                    .unwrap();
                send(&app, request).await
            }
        };
        assert_eq!(
            step(wrong_staff.clone(), "accepted", None).await.status,
            StatusCode::NOT_FOUND,
            "{}",
            db.label
        );
        let skipped = step(staff.clone(), "issued", None).await;
        assert_eq!(skipped.status, StatusCode::CONFLICT, "{}", skipped.json);
        assert_eq!(skipped.json["error"]["code"], "invalid_transition");
        assert_eq!(
            step(staff.clone(), "correction_requested", None).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let correction = step(
            staff.clone(),
            "correction_requested",
            Some("缺少：近期免冠彩色照片回执"),
        )
        .await;
        assert_eq!(correction.json["state"], "correction_requested");
        let citizen = chat.token.clone().unwrap();
        assert_eq!(
            step(citizen.clone(), "submitted", None).await.json["state"],
            "submitted"
        );
        assert_eq!(step(citizen, "accepted", None).await.status, StatusCode::FORBIDDEN);
        assert_eq!(step(staff.clone(), "accepted", None).await.json["state"], "accepted");
        assert_eq!(step(staff.clone(), "in_review", None).await.json["state"], "in_review");
        assert_eq!(step(staff.clone(), "approved", None).await.json["state"], "approved");
        let issued = step(staff.clone(), "issued", None).await;
        assert_eq!(issued.json["state"], "issued");
        let path: Vec<&str> = issued.json["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["to"].as_str().unwrap())
            .collect();
        assert_eq!(
            path,
            [
                "submitted",
                "correction_requested",
                "submitted",
                "accepted",
                "in_review",
                "approved",
                "issued"
            ]
        );
        assert_eq!(issued.json["events"][1]["actor"], "staff-public-security");
        assert_eq!(issued.json["events"][1]["reason"], "缺少：近期免冠彩色照片回执");
        let queue = authed_get(&app, "/api/v1/staff/applications", &staff).await;
        assert!(
            queue.json["applications"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["number"] == number.as_str())
        );
        let not_staff = authed_get(&app, "/api/v1/staff/applications", chat.token.as_deref().unwrap()).await;
        assert_eq!(not_staff.status, StatusCode::FORBIDDEN);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_issued_combined_license_lands_in_the_wallet() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    crate::common::seed_demo_with_staff(&store).await;
    let app = api::app(crate::common::state(store.clone()));
    let mut chat = Conversation::new(&app, Some("company-1")).await;
    for message in [
        "开餐馆的一业一证综合许可证，我要在线申请",
        "13700001111",
        "示范市东湖区湖滨路8号",
        "80",
        "是",
        "确认提交",
    ] {
        chat.say(message).await;
    }
    let number = chat.application_number();
    assert!(
        !store
            .e_licenses("company-1")
            .await
            .unwrap()
            .iter()
            .any(|l| l.kind == "industry_comprehensive_license")
    );
    let staff = login(&app, "staff-government-service-center").await;
    for to in ["accepted", "in_review", "approved", "issued"] {
        let request = Request::post(format!("/api/v1/staff/applications/{number}/transition"))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {staff}"))
            .body(Body::from(json!({ "to": to }).to_string()))
            .unwrap();
        let response = send(&app, request).await;
        assert_eq!(response.status, StatusCode::OK, "{to}: {}", response.json);
    }
    let wallet = store.e_licenses("company-1").await.unwrap();
    let license = wallet
        .iter()
        .find(|l| l.kind == "industry_comprehensive_license")
        .expect("combined licence issued");
    assert_eq!(license.number, number);
    store.close().await;
}

#[test]
fn several_fields_in_one_message_and_cancel_needs_a_confirmation() {
    let engine = crate::common::engine();
    let context = bot::Context::anonymous();
    let (state, reply) = bot::respond(&engine, &context, &bot::DialogueState::default(), "我要在线办理社保卡").unwrap();
    assert_eq!(reply.form.as_ref().unwrap().state, "collecting");
    let (state, reply) = bot::respond(&engine, &context, &state, "我叫张三，电话13912345678").unwrap();
    let form = reply.form.unwrap();
    let value = |name: &str| {
        form.fields
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.value.clone())
    };
    assert_eq!(value("name").as_deref(), Some("张三"));
    assert_eq!(value("mobile").as_deref(), Some("13912345678"));
    assert_eq!(form.missing[0], "id_number", "asks the next missing field");

    let (asked, reply) = bot::respond(&engine, &context, &state, "取消").unwrap();
    assert!(reply.text.contains("确定要取消"), "{}", reply.text);
    let (kept, reply) = bot::respond(&engine, &context, &asked, "继续办理").unwrap();
    assert_eq!(reply.form.unwrap().state, "collecting", "not cancelled without a yes");
    assert!(kept.form.is_some());
    let (asked, _) = bot::respond(&engine, &context, &kept, "取消").unwrap();
    let (gone, reply) = bot::respond(&engine, &context, &asked, "确认取消").unwrap();
    assert_eq!(reply.form.unwrap().state, "cancelled");
    assert!(gone.form.is_none());
}

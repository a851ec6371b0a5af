//! The messaging platforms' callbacks over HTTP, on every database: signatures and replays,
//! safe mode both ways, one turn per message under the platform's retries, the 5-second
//! window, voice, and WeCom's URL verification.

use std::sync::Arc;

use api::channels::Channels;
use api::channels::crypto::{MessageCrypt, signature};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use backend::testing::TestDb;
use tower::ServiceExt;

use crate::common::{Response, get, send, state};

const TOKEN: &str = "pamtest";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APP_ID: &str = "wxb11529c136998cb6";

pub fn channels(mode: &str) -> Channels {
    Channels::parse(
        &format!(
            r#"
public_url = "https://banshi.example.gov.cn"
[wechat.demo]
token = "{TOKEN}"
encoding_aes_key = "{KEY}"
app_id = "{APP_ID}"
mode = "{mode}"
menu = {{ HUMAN = "转人工" }}

[wecom.hall]
token = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
encoding_aes_key = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
corp_id = "ww1436e0e65a779aee"
"#
        ),
        "test",
    )
    .unwrap()
}

pub fn app_with(store: backend::Store, channels: Channels) -> axum::Router {
    let mut state = state(store);
    state.channels = Arc::new(channels);
    api::app(state)
}

fn now_secs() -> i64 {
    backend::now_millis() / 1000
}

pub fn text_message(from: &str, msg_id: u64, content: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_demo]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>\
         <MsgId>{msg_id}</MsgId></xml>",
        now_secs()
    )
}

/// Posts `inner` as the platform does in safe mode (encrypted, both signatures), at `timestamp`.
async fn post_safe(app: &axum::Router, inner: &str, timestamp: i64) -> (StatusCode, String) {
    let crypt = MessageCrypt::new(KEY, APP_ID).unwrap();
    let cipher = crypt.encrypt(inner);
    let (ts, nonce) = (timestamp.to_string(), "1320562132");
    let url_signature = signature(&[TOKEN, &ts, nonce]);
    let msg_signature = signature(&[TOKEN, &ts, nonce, &cipher]);
    let body =
        format!("<xml><ToUserName><![CDATA[gh_demo]]></ToUserName><Encrypt><![CDATA[{cipher}]]></Encrypt></xml>");
    let uri = format!(
        "/channels/wechat/demo?signature={url_signature}&timestamp={ts}&nonce={nonce}&openid=o1&encrypt_type=aes&msg_signature={msg_signature}"
    );
    raw(app, &uri, body).await
}

pub async fn post_plain(app: &axum::Router, body: String) -> (StatusCode, String) {
    let ts = now_secs().to_string();
    let sig = signature(&[TOKEN, &ts, "42"]);
    raw(
        app,
        &format!("/channels/wechat/demo?signature={sig}&timestamp={ts}&nonce=42&openid=o1"),
        body,
    )
    .await
}

async fn raw(app: &axum::Router, uri: &str, body: String) -> (StatusCode, String) {
    let Response { status, json } = send(
        app,
        Request::post(uri)
            .header("content-type", "text/xml")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    (status, json.as_str().map_or_else(|| json.to_string(), str::to_string))
}

/// The ciphertext of a reply envelope.
fn encrypted_of(envelope: &str) -> &str {
    let start = envelope
        .find("<Encrypt><![CDATA[")
        .unwrap_or_else(|| panic!("encrypted: {envelope}"))
        + "<Encrypt><![CDATA[".len();
    let end = envelope[start..].find("]]>").unwrap() + start;
    &envelope[start..end]
}

/// The text of a reply envelope, after checking its signature and opening it.
fn open_reply(envelope: &str) -> String {
    let field = |name: &str| {
        let start = envelope
            .find(&format!("<{name}>"))
            .unwrap_or_else(|| panic!("{name} in {envelope}"))
            + name.len()
            + 2;
        let end = envelope[start..].find(&format!("</{name}>")).unwrap() + start;
        envelope[start..end]
            .trim_start_matches("<![CDATA[")
            .trim_end_matches("]]>")
            .to_string()
    };
    let (cipher, sig, ts, nonce) = (
        field("Encrypt"),
        field("MsgSignature"),
        field("TimeStamp"),
        field("Nonce"),
    );
    assert_eq!(signature(&[TOKEN, &ts, &nonce, &cipher]), sig, "reply signature");
    let inner = MessageCrypt::new(KEY, APP_ID).unwrap().decrypt(&cipher).unwrap();
    assert!(inner.contains("<ToUserName><![CDATA[o1]]></ToUserName>"), "{inner}");
    inner
}

fn session_of(from: &str) -> String {
    format!("wx-{}", &signature(&[&format!("wechat\ndemo\n{from}")])[..32])
}

#[tokio::test]
async fn a_safe_mode_message_is_answered_encrypted_and_a_forged_one_changes_nothing() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let app = app_with(store.clone(), channels("safe"));

        let (status, body) = post_safe(&app, &text_message("o1", 1001, "驾照快到期了怎么换"), now_secs()).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", db.label);
        let inner = open_reply(&body);
        assert!(inner.contains("驾驶证"), "{inner}");
        assert!(
            inner.contains("https://banshi.example.gov.cn/guides/driving-license-renewal#"),
            "{inner}"
        );
        assert_eq!(
            store.messages(&session_of("o1")).await.unwrap().len(),
            2,
            "{}",
            db.label
        );

        // A wrong signature, a replayed old request, a plain message to a safe-mode account:
        // refused, and nothing stored.
        let bad = format!("/channels/wechat/demo?signature=0000&timestamp={}&nonce=1", now_secs());
        let (status, body) = raw(&app, &bad, text_message("o2", 1002, "你好")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body.contains("签名"), "{body}");
        let (status, _) = post_safe(&app, &text_message("o2", 1003, "你好"), now_secs() - 600).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = post_plain(&app, text_message("o2", 1004, "你好")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            store.messages(&session_of("o2")).await.unwrap().is_empty(),
            "{}",
            db.label
        );

        // Malformed and oversize bodies: an error, no panic.
        let (status, _) = post_plain(&app, "<xml><MsgType>".into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = post_plain(&app, format!("<xml>{}</xml>", "字".repeat(40_000))).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn retries_of_one_message_run_one_turn_even_at_once() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let app = app_with(store.clone(), channels("compatible"));
        let message = text_message("o3", 2001, "社保卡丢了怎么补办");
        let (a, b, c) = tokio::join!(
            post_plain(&app, message.clone()),
            post_plain(&app, message.clone()),
            post_plain(&app, message.clone())
        );
        for (status, body) in [&a, &b, &c] {
            assert_eq!(*status, StatusCode::OK, "{body}");
        }
        // The answer is delivered once: to one of them; the others are told “success”.
        let answered: Vec<&String> = [&a.1, &b.1, &c.1]
            .into_iter()
            .filter(|b| b.contains("<Content>"))
            .collect();
        assert_eq!(answered.len(), 1, "{a:?} {b:?} {c:?}");
        assert!(
            [&a.1, &b.1, &c.1]
                .into_iter()
                .all(|b| b.contains("<Content>") || b == "success")
        );
        assert!(
            answered
                .iter()
                .all(|b| b.contains("社会保障卡") || b.contains("社保卡")),
            "{answered:?}"
        );
        // One turn: the question and its answer, once.
        assert_eq!(
            store.messages(&session_of("o3")).await.unwrap().len(),
            2,
            "{}",
            db.label
        );
        // A later retry is acknowledged, without a second turn or a second answer.
        let (_, again) = post_plain(&app, message).await;
        assert_eq!(again, "success");
        assert_eq!(store.messages(&session_of("o3")).await.unwrap().len(), 2);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_late_answer_says_success_in_time_and_reaches_the_retry() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let mut late = channels("plain");
        late.reply_window = std::time::Duration::ZERO;
        let app = app_with(store.clone(), late);
        let message = text_message("o4", 3001, "护照怎么办");
        let (status, body) = post_plain(&app, message.clone()).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "success"));
        // The turn goes on; the platform's retry, seconds later, gets its answer.
        let mut answer = String::new();
        for _ in 0..100 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            if store.messages(&session_of("o4")).await.unwrap().len() == 2 {
                let (_, body) = post_plain(&app, message.clone()).await;
                answer = body;
                if answer.contains("<Content>") {
                    break;
                }
            }
        }
        assert!(answer.contains("护照"), "{}: {answer}", db.label);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn voice_menus_and_pictures_get_answers_in_plain_mode() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let app = app_with(store.clone(), channels("plain"));
    let voice = format!(
        "<xml><ToUserName>gh_demo</ToUserName><FromUserName>o5</FromUserName><CreateTime>{}</CreateTime>\
         <MsgType>voice</MsgType><MediaId>m</MediaId><Format>amr</Format><Recognition><![CDATA[高龄津贴怎么申请]]></Recognition><MsgId>4001</MsgId></xml>",
        now_secs()
    );
    let (status, body) = post_plain(&app, voice).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("高龄"), "{body}");
    let picture = format!(
        "<xml><ToUserName>gh_demo</ToUserName><FromUserName>o5</FromUserName><CreateTime>{}</CreateTime><MsgType>image</MsgType><PicUrl>http://x</PicUrl><MsgId>4002</MsgId></xml>",
        now_secs()
    );
    let (_, body) = post_plain(&app, picture).await;
    assert!(body.contains("文字") && body.contains("语音"), "{body}");
    let subscribe = format!(
        "<xml><ToUserName>gh_demo</ToUserName><FromUserName>o6</FromUserName><CreateTime>{}</CreateTime><MsgType>event</MsgType><Event>subscribe</Event></xml>",
        now_secs()
    );
    let (_, body) = post_plain(&app, subscribe).await;
    assert!(body.contains("<Content>"), "{body}");
    let click = format!(
        "<xml><ToUserName>gh_demo</ToUserName><FromUserName>o6</FromUserName><CreateTime>{}</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>HUMAN</EventKey></xml>",
        now_secs() + 1
    );
    let (_, body) = post_plain(&app, click).await;
    assert!(body.contains("<Content>"), "{body}");
    let transcript = store.messages(&session_of("o6")).await.unwrap();
    assert_eq!(transcript.first().map(|m| m.text.as_str()), Some("转人工"));
    // An account nobody configured.
    let (status, _) = raw(
        &app,
        "/channels/wechat/nobody?signature=x&timestamp=1&nonce=1",
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn url_verification_of_both_platforms_with_their_published_samples() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let mut state = state(store.clone());
    state.channels = Arc::new(channels("safe"));
    let clock = Arc::new(api::clock::ManualClock::new(1_410_685_589_000));
    state.clock = clock.clone();
    let app = api::app(state);
    // WeChat: the token “test” of the platform's sample is another account's.
    let wechat = Channels::parse(
        "[wechat.sample]\ntoken = \"test\"\napp_id = \"wx\"\nmode = \"plain\"\n",
        "sample",
    )
    .unwrap();
    let mut sample_state = crate::common::state(store.clone());
    sample_state.channels = Arc::new(wechat);
    sample_state.clock = clock.clone();
    let sample = api::app(sample_state);
    let ok = get(
        &sample,
        "/channels/wechat/sample?signature=f21891de399b4e33a1a93c9a7b8a8fffb5a443ff&timestamp=1410685589&nonce=test&echostr=hello",
    )
    .await;
    assert_eq!((ok.status, ok.json.as_str()), (StatusCode::OK, Some("hello")));
    let forged = get(
        &sample,
        "/channels/wechat/sample?signature=f21891de399b4e33a1a93c9a7b8a8fffb5a443fe&timestamp=1410685589&nonce=test&echostr=hello",
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // WeCom: the echostr is decrypted and its plain text returned.
    clock.advance((1_476_416_373 - 1_410_685_589) * 1000);
    let echostr = "fsi1xnbH4yQh0%2BPJxcOdhhK6TDXkjMyhEPA7xB2TGz6b%2Bg7xyAbEkRxN%2F3cNXW9qdqjnoVzEtpbhnFyq6SVHyA%3D%3D";
    let wecom = get(
        &app,
        &format!(
            "/channels/wecom/hall?msg_signature=012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb&timestamp=1476416373&nonce=47744683&echostr={echostr}"
        ),
    )
    .await;
    assert_eq!(
        (wecom.status, wecom.json.to_string()),
        (StatusCode::OK, "1288432023552776189".to_string())
    );
    store.close().await;
    db.cleanup().await;
}

/// A stand-in for the platform's API on a local port: tokens (the first one expires at once)
/// and customer-service messages, recorded.
pub async fn mock_platform() -> (
    String,
    Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    Arc<std::sync::atomic::AtomicUsize>,
) {
    use axum::extract::{Query, State};
    use axum::routing::{get, post};
    use std::sync::atomic::{AtomicUsize, Ordering};
    #[derive(Clone)]
    struct Mock {
        sent: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
        tokens: Arc<AtomicUsize>,
    }
    let mock = Mock {
        sent: Arc::default(),
        tokens: Arc::default(),
    };
    let app = axum::Router::new()
        .route(
            "/cgi-bin/token",
            get(
                |State(m): State<Mock>, Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    assert_eq!(q.get("secret").map(String::as_str), Some("app-secret"));
                    let n = m.tokens.fetch_add(1, Ordering::SeqCst) + 1;
                    axum::Json(serde_json::json!({ "access_token": format!("T{n}"), "expires_in": 7200 }))
                },
            ),
        )
        .route(
            "/cgi-bin/message/custom/send",
            post(
                |State(m): State<Mock>,
                 Query(q): Query<std::collections::HashMap<String, String>>,
                 axum::Json(body): axum::Json<serde_json::Value>| async move {
                    // The first token has expired: the sender must fetch another.
                    if q.get("access_token").map(String::as_str) == Some("T1") {
                        return axum::Json(serde_json::json!({ "errcode": 42001, "errmsg": "access_token expired" }));
                    }
                    m.sent.lock().unwrap().push(body);
                    axum::Json(serde_json::json!({ "errcode": 0, "errmsg": "ok" }))
                },
            ),
        )
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, mock.sent, mock.tokens)
}

#[tokio::test]
async fn a_late_answer_is_sent_once_through_the_customer_service_api() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let (url, sent, tokens) = mock_platform().await;
        let mut channels = Channels::parse(
            &format!(
                "api_base = \"{url}\"\n[wechat.demo]\ntoken = \"{TOKEN}\"\napp_id = \"{APP_ID}\"\napp_secret = \"app-secret\"\nmode = \"plain\"\n"
            ),
            "test",
        )
        .unwrap();
        channels.reply_window = std::time::Duration::ZERO;
        channels.delivery_grace = std::time::Duration::from_millis(50);
        let app = app_with(store.clone(), channels);
        let message = text_message("o7", 5001, "低保怎么申请");
        let (status, body) = post_plain(&app, message.clone()).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "success"), "{}", db.label);
        for _ in 0..100 {
            if !sent.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // The platform retries after the answer went out: nothing is sent or run twice.
        let (_, again) = post_plain(&app, message).await;
        assert_eq!(again, "success");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let sent = sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1, "{}: {sent:?}", db.label);
        assert_eq!(sent[0]["touser"], "o7");
        assert_eq!(sent[0]["msgtype"], "text");
        assert!(
            sent[0]["text"]["content"].as_str().unwrap().contains("最低生活保障"),
            "{sent:?}"
        );
        assert_eq!(
            tokens.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "the expired token is refreshed"
        );
        assert_eq!(store.messages(&session_of("o7")).await.unwrap().len(), 2);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_guide_links_in_answers_open_a_readable_page() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let app = api::app(state(store.clone()));
    let response = app
        .clone()
        .oneshot(Request::get("/guides/passport").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let html = String::from_utf8(bytes.to_vec()).unwrap();
    let engine = crate::common::engine();
    let guide = engine.corpus.guide("passport").unwrap();
    assert!(html.contains(&format!("<h1>{}</h1>", guide.title)), "{html}");
    for section in [
        "summary",
        "materials",
        "steps",
        "time_limit",
        "fees",
        "channels",
        "faq:1",
    ] {
        assert!(html.contains(&format!("id=\"{section}\"")), "{section}");
    }
    assert!(!html.contains("<script"));
    let missing = get(&app, "/guides/no-such-guide").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.json.to_string().contains("没有找到"), "{}", missing.json);
    store.close().await;
    db.cleanup().await;
}

/// A text message from `from` with a fresh MsgId, answered passively: the reply's content.
async fn say_on_wechat(app: &axum::Router, from: &str, msg_id: u64, content: &str) -> String {
    let (status, body) = post_plain(app, text_message(from, msg_id, content)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn a_bound_wechat_user_applies_and_complains_as_themself() {
    for db in TestDb::all().await {
        let store = db.open().await;
        api::demo::seed(&store, &[]).await.unwrap();
        let mut channels = channels("plain");
        channels
            .wechat
            .get_mut("demo")
            .unwrap()
            .menu
            .insert("BIND".into(), "@bind".into());
        let app = app_with(store.clone(), channels);

        // The platform user asks to bind and gets a one-time code.
        let click = format!(
            "<xml><ToUserName>gh_demo</ToUserName><FromUserName>o8</FromUserName><CreateTime>{}</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>BIND</EventKey></xml>",
            now_secs()
        );
        let (_, offer) = post_plain(&app, click).await;
        let at = offer.find("绑定码是 ").expect("a code is offered") + "绑定码是 ".len();
        let code: String = offer[at..].chars().take(8).collect();
        assert!(code.chars().all(|c| c.is_ascii_alphanumeric()), "{offer}");

        // The citizen, logged in, enters it: bound once; the code does not work twice, nor
        // without a login.
        let token = crate::forms::login(&app, "citizen-1").await;
        let bind = |token: Option<String>, code: String| {
            let app = app.clone();
            async move {
                let mut request = Request::post("/api/v1/channels/bind").header("content-type", "application/json");
                if let Some(token) = token {
                    request = request.header("authorization", format!("Bearer {token}"));
                }
                send(
                    &app,
                    request
                        .body(Body::from(serde_json::json!({ "code": code }).to_string()))
                        .unwrap(),
                )
                .await
            }
        };
        assert_eq!(bind(None, code.clone()).await.status, StatusCode::UNAUTHORIZED);
        let bound = bind(Some(token.clone()), code.to_lowercase()).await;
        assert_eq!(bound.status, StatusCode::OK, "{}: {}", db.label, bound.json);
        assert_eq!(bound.json["channel"], "wechat");
        let again = bind(Some(token.clone()), code.clone()).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.json);

        // A form over WeChat: prefilled from the citizen's identity, submitted in their name.
        say_on_wechat(&app, "o8", 6001, "我要在线办理身份证到期换领").await;
        say_on_wechat(&app, "o8", 6002, "13912345678").await;
        say_on_wechat(&app, "o8", 6003, "邮寄到家").await;
        let done = say_on_wechat(&app, "o8", 6004, "确认提交").await;
        let applications = store.applications_of("citizen-1").await.unwrap();
        assert_eq!(applications.len(), 1, "{}: {done}", db.label);
        assert!(done.contains(&applications[0].number), "{done}");

        // A complaint over WeChat: a routed ticket of the same citizen.
        say_on_wechat(
            &app,
            "o8",
            6101,
            "我要投诉，滨江区江滨路上的一家烧烤店每天晚上油烟很大，熏得整栋楼都是味道",
        )
        .await;
        say_on_wechat(&app, "o8", 6102, "滨江区江滨路88号").await;
        say_on_wechat(&app, "o8", 6103, "每天晚上六点到十二点").await;
        say_on_wechat(&app, "o8", 6104, "13912345678").await;
        say_on_wechat(&app, "o8", 6105, "否").await;
        let filed = say_on_wechat(&app, "o8", 6106, "确认").await;
        let tickets = store.tickets_of("citizen-1").await.unwrap();
        assert_eq!(tickets.len(), 1, "{}: {filed}", db.label);
        assert!(!tickets[0].department.is_empty());
        assert!(filed.contains(&tickets[0].number), "{filed}");

        // Another platform user is not the citizen.
        let stranger = say_on_wechat(&app, "o9", 6201, "我的申请办得怎么样了").await;
        assert!(
            stranger.contains("登录") && !stranger.contains(&applications[0].number),
            "{stranger}"
        );
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_configured_web_origin_may_call_the_api_from_a_browser_and_another_may_not() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let mut state = state(store.clone());
    state.cors_origins = vec!["https://mp.example.gov.cn".into()];
    let app = api::app(state);
    let preflight = |origin: &'static str| {
        Request::options("/api/v1/chat")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,authorization")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = app
        .clone()
        .oneshot(preflight("https://mp.example.gov.cn"))
        .await
        .unwrap();
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("https://mp.example.gov.cn")
    );
    let other = app
        .clone()
        .oneshot(preflight("https://evil.example.com"))
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_request_for_a_human_is_handed_to_the_accounts_own_staff_when_configured() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let mut with_staff = channels("plain");
    with_staff.wechat.get_mut("demo").unwrap().transfer_to_human = true;
    let app = app_with(store.clone(), with_staff);
    let handed = say_on_wechat(&app, "o10", 7001, "转人工").await;
    assert!(
        handed.contains("<MsgType><![CDATA[transfer_customer_service]]></MsgType>"),
        "{handed}"
    );
    assert!(handed.contains("<ToUserName><![CDATA[o10]]></ToUserName>"), "{handed}");
    // Without it, the reply names the hotline and the hours of human service.
    let app = app_with(store.clone(), channels("plain"));
    let told = say_on_wechat(&app, "o11", 7002, "转人工").await;
    assert!(
        told.contains("12345") && !told.contains("transfer_customer_service"),
        "{told}"
    );
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_wecom_message_is_answered_encrypted_for_the_corp() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let app = app_with(store.clone(), channels("safe"));
    let (token, corp) = ("hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "ww1436e0e65a779aee");
    let crypt = MessageCrypt::new("6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", corp).unwrap();
    let inner = format!(
        "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[ZhangSan]]></FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[护照怎么办]]></Content><MsgId>8001</MsgId><AgentID>1000002</AgentID></xml>",
        now_secs()
    );
    let cipher = crypt.encrypt(&inner);
    let ts = now_secs().to_string();
    let sig = signature(&[token, &ts, "77", &cipher]);
    let body = format!(
        "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[{cipher}]]></Encrypt></xml>"
    );
    let (status, envelope) = raw(
        &app,
        &format!("/channels/wecom/hall?msg_signature={sig}&timestamp={ts}&nonce=77"),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{envelope}");
    let reply = crypt.decrypt(encrypted_of(&envelope)).unwrap();
    assert!(
        reply.contains("护照") && reply.contains("<ToUserName><![CDATA[ZhangSan]]></ToUserName>"),
        "{reply}"
    );
    // Another corp's key cannot forge one: the signature is checked first.
    let (status, _) = raw(
        &app,
        &format!(
            "/channels/wecom/hall?msg_signature={}&timestamp={ts}&nonce=77",
            "0".repeat(40)
        ),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn after_a_key_change_a_message_under_the_previous_key_is_still_answered() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let new_key = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut";
    let text = format!(
        "[wechat.demo]\ntoken = \"{TOKEN}\"\nencoding_aes_key = \"{new_key}\"\nprevious_encoding_aes_key = \"{KEY}\"\napp_id = \"{APP_ID}\"\nmode = \"safe\"\n"
    );
    let app = app_with(store.clone(), Channels::parse(&text, "test").unwrap());
    // Encrypted with the previous key (what `post_safe` uses): opened, and answered.
    let (status, body) = post_safe(&app, &text_message("o12", 9001, "护照怎么办"), now_secs()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The answer goes out under the current key.
    let current = MessageCrypt::new(new_key, APP_ID).unwrap();
    assert!(current.decrypt(encrypted_of(&body)).unwrap().contains("护照"));
    // A key the account never had: refused, nothing stored.
    let stranger = Channels::parse(
        &format!("[wechat.demo]\ntoken = \"{TOKEN}\"\nencoding_aes_key = \"{new_key}\"\napp_id = \"{APP_ID}\"\nmode = \"safe\"\n"),
        "test",
    )
    .unwrap();
    let app = app_with(store.clone(), stranger);
    let (status, _) = post_safe(&app, &text_message("o13", 9002, "护照怎么办"), now_secs()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(store.messages(&session_of("o13")).await.unwrap().is_empty());
    store.close().await;
    db.cleanup().await;
}

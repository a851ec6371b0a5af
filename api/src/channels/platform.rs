//! The callback routes of both platforms: URL verification, message intake, the reply.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::crypto::{MessageCrypt, same_signature, signature};
use super::outbound::Target;
use crate::error::{ApiError, Code};
use crate::state::AppState;

/// A signed request older (or newer) than this is refused: a replay.
const MAX_SKEW_SECS: i64 = 300;
/// A first attempt that stored nothing after this long is taken as dead.
const STALE_MS: i64 = 60_000;
/// How often a retry looks for the first attempt's answer.
const POLL: Duration = Duration::from_millis(100);
/// The platforms' limit for a text message, in bytes (2048), with room for the envelope.
const MAX_TEXT_BYTES: usize = 2000;
/// Marks a stored answer that hands the conversation to the account's own staff.
const TRANSFER: &str = "\u{1}transfer\u{1}";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/channels/wechat/{account}", get(wechat_verify).post(wechat_receive))
        .route("/channels/wecom/{agent}", get(wecom_verify).post(wecom_receive))
}

#[derive(Debug, Default, Deserialize)]
struct Query {
    #[serde(default)]
    signature: String,
    #[serde(default)]
    msg_signature: String,
    #[serde(default)]
    timestamp: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    echostr: String,
    #[serde(default)]
    encrypt_type: String,
}

fn query(raw: Option<String>) -> Result<Query, ApiError> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|_| ApiError::new(Code::BadRequest, "回调地址的查询参数格式不正确。"))
}

fn forbidden() -> ApiError {
    ApiError::new(Code::Forbidden, "签名校验失败或请求已过期，消息未处理。")
}

/// The query of a callback whose timestamp is a number within five minutes of now (a
/// replayed request is not).
fn fresh_query(state: &AppState, raw: Option<String>) -> Result<Query, ApiError> {
    let q = query(raw)?;
    let sent: i64 = q.timestamp.parse().map_err(|_| forbidden())?;
    let now = state.clock.now() / 1000;
    if (now - sent).abs() > MAX_SKEW_SECS {
        return Err(forbidden());
    }
    Ok(q)
}

fn wechat_of<'a>(channels: &'a super::Channels, account: &str) -> Result<&'a super::config::Wechat, ApiError> {
    channels
        .wechat
        .get(account)
        .ok_or_else(|| ApiError::new(Code::NotFound, "没有配置这个公众号。"))
}

fn wecom_of<'a>(channels: &'a super::Channels, agent: &str) -> Result<&'a super::config::Wecom, ApiError> {
    channels
        .wecom
        .get(agent)
        .ok_or_else(|| ApiError::new(Code::NotFound, "没有配置这个企业微信应用。"))
}

fn text(status: StatusCode, body: String, content_type: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// “success”: the platform takes it as “received, no reply now”.
fn success() -> Response {
    text(StatusCode::OK, "success".into(), "text/plain; charset=utf-8")
}

async fn wechat_verify(
    State(state): State<AppState>,
    Path(account): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let channels = state.channels.clone();
    let wechat = wechat_of(&channels, &account)?;
    let q = fresh_query(&state, raw)?;
    if !same_signature(&signature(&[&wechat.token, &q.timestamp, &q.nonce]), &q.signature) {
        return Err(forbidden());
    }
    Ok(text(StatusCode::OK, q.echostr, "text/plain; charset=utf-8"))
}

async fn wecom_verify(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let channels = state.channels.clone();
    let wecom = wecom_of(&channels, &agent)?;
    let q = fresh_query(&state, raw)?;
    let expected = signature(&[&wecom.token, &q.timestamp, &q.nonce, &q.echostr]);
    if !same_signature(&expected, &q.msg_signature) {
        return Err(forbidden());
    }
    let plain = wecom
        .crypt
        .decrypt(&q.echostr)
        .map_err(|err| ApiError::new(Code::BadRequest, format!("echostr 无法解密：{err}")))?;
    Ok(text(StatusCode::OK, plain, "text/plain; charset=utf-8"))
}

/// The fields of both platforms' XML messages that banshi reads.
#[derive(Debug, Default, Deserialize)]
struct Xml {
    #[serde(rename = "ToUserName", default)]
    to: String,
    #[serde(rename = "FromUserName", default)]
    from: String,
    #[serde(rename = "CreateTime", default)]
    create_time: String,
    #[serde(rename = "MsgType", default)]
    msg_type: String,
    #[serde(rename = "Content", default)]
    content: Option<String>,
    #[serde(rename = "MsgId", default)]
    msg_id: Option<String>,
    #[serde(rename = "Recognition", default)]
    recognition: Option<String>,
    #[serde(rename = "Event", default)]
    event: Option<String>,
    #[serde(rename = "EventKey", default)]
    event_key: Option<String>,
    #[serde(rename = "Encrypt", default)]
    encrypt: Option<String>,
}

fn parse_xml(body: &str) -> Result<Xml, ApiError> {
    quick_xml::de::from_str(body).map_err(|_| ApiError::new(Code::BadRequest, "消息不是有效的 XML，未处理。"))
}

/// What a message asks of the assistant.
enum Ask {
    /// A turn with this text.
    Say(String),
    /// A binding code for this platform user.
    Bind,
    /// The end of this platform user's binding.
    Unbind,
    /// A fixed reply (a welcome, a polite word about a picture).
    Reply(String),
    /// Nothing to say (unsubscribe, a location report).
    Nothing,
}

const ONLY_WORDS: &str = "抱歉，我目前只能看懂文字和语音。请用文字或语音告诉我您要办的事，例如“身份证到期怎么换”。";
const NOT_HEARD: &str = "抱歉，没有听清您说的话，请再说一遍，或者打字告诉我。";

fn ask_of(xml: &Xml, menu: &std::collections::BTreeMap<String, String>, welcome: &str) -> Ask {
    match xml.msg_type.as_str() {
        "text" => match xml.content.as_deref().map(str::trim) {
            Some(content) if !content.is_empty() => Ask::Say(content.to_string()),
            _ => Ask::Reply(NOT_HEARD.into()),
        },
        // The platform's speech recognition: elderly citizens speak rather than type.
        "voice" => match xml.recognition.as_deref().map(str::trim) {
            Some(words) if !words.is_empty() => Ask::Say(words.to_string()),
            _ => Ask::Reply(NOT_HEARD.into()),
        },
        "event" => match xml.event.as_deref().unwrap_or("").to_ascii_lowercase().as_str() {
            "subscribe" | "enter_agent" => Ask::Reply(welcome.to_string()),
            "click" => match xml
                .event_key
                .as_deref()
                .and_then(|key| menu.get(key))
                .map(String::as_str)
            {
                Some("@bind") => Ask::Bind,
                Some("@unbind") => Ask::Unbind,
                Some(message) => Ask::Say(message.to_string()),
                None => Ask::Reply(welcome.to_string()),
            },
            _ => Ask::Nothing,
        },
        _ => Ask::Reply(ONLY_WORDS.into()),
    }
}

/// One platform account's side of a message: how to check and answer it.
struct Side<'a> {
    platform: &'static str,
    account: &'a str,
    token: &'a str,
    /// Keys to try, current first; empty for a plain-only account.
    crypts: &'a [MessageCrypt],
    /// Whether a plain message is accepted.
    plain_ok: bool,
    menu: &'a std::collections::BTreeMap<String, String>,
    /// Whether a request for a human is handed to the account's own staff.
    transfer: bool,
}

async fn wechat_receive(
    State(state): State<AppState>,
    Path(account): Path<String>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let channels = state.channels.clone();
    let wechat = wechat_of(&channels, &account)?;
    let q = fresh_query(&state, raw)?;
    // Every mode signs the URL; safe mode signs the ciphertext too (checked below).
    if !same_signature(&signature(&[&wechat.token, &q.timestamp, &q.nonce]), &q.signature) {
        return Err(forbidden());
    }
    let side = Side {
        platform: "wechat",
        account: &account,
        token: &wechat.token,
        crypts: &wechat.crypts,
        plain_ok: wechat.mode != super::Mode::Safe,
        menu: &wechat.menu,
        transfer: wechat.transfer_to_human,
    };
    receive(&state, &side, &q, body).await
}

async fn wecom_receive(
    State(state): State<AppState>,
    Path(agent): Path<String>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let channels = state.channels.clone();
    let wecom = wecom_of(&channels, &agent)?;
    let q = fresh_query(&state, raw)?;
    let side = Side {
        platform: "wecom",
        account: &agent,
        token: &wecom.token,
        crypts: std::slice::from_ref(&wecom.crypt),
        plain_ok: false,
        menu: &wecom.menu,
        transfer: false,
    };
    receive(&state, &side, &q, body).await
}

async fn receive(state: &AppState, side: &Side<'_>, q: &Query, body: Body) -> Result<Response, ApiError> {
    let bytes = axum::body::to_bytes(body, crate::routes::MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::new(Code::PayloadTooLarge, "消息过大，未处理。"))?;
    let body =
        std::str::from_utf8(&bytes).map_err(|_| ApiError::new(Code::BadRequest, "消息不是 UTF-8 文本，未处理。"))?;
    let outer = parse_xml(body)?;
    // Encrypted: the ciphertext's signature, then the first key that opens it (the previous
    // key still works while the platform switches over).
    let (xml, encrypted) = match outer.encrypt.as_deref() {
        Some(cipher) if !side.crypts.is_empty() => {
            let expected = signature(&[side.token, &q.timestamp, &q.nonce, cipher]);
            if !same_signature(&expected, &q.msg_signature) {
                return Err(forbidden());
            }
            let plain = side
                .crypts
                .iter()
                .find_map(|crypt| crypt.decrypt(cipher).ok())
                .ok_or_else(|| ApiError::new(Code::BadRequest, "消息无法解密，请检查 EncodingAESKey。"))?;
            (parse_xml(&plain)?, true)
        }
        _ if side.plain_ok && q.encrypt_type != "aes" => (outer, false),
        _ => return Err(ApiError::new(Code::BadRequest, "该账号只接受加密消息（安全模式）。")),
    };
    if xml.from.is_empty() || xml.msg_type.is_empty() {
        return Err(ApiError::new(
            Code::BadRequest,
            "消息缺少 FromUserName 或 MsgType，未处理。",
        ));
    }
    let engine = state.engine.load_full();
    let welcome = engine.corpus.phrases.assistant().greeting.clone();
    let ask = ask_of(&xml, side.menu, &welcome);
    if matches!(ask, Ask::Nothing) {
        return Ok(success());
    }
    // One message, one turn: by MsgId, or for events by sender and time.
    let key = match &xml.msg_id {
        Some(id) if !id.trim().is_empty() => id.trim().to_string(),
        _ => format!(
            "{} {} {}",
            xml.from,
            xml.create_time,
            xml.event.as_deref().unwrap_or("")
        ),
    };
    let scope = format!("{} {}", side.platform, side.account);
    let now = state.clock.now();
    let window = state.channels.reply_window;
    let target = state
        .channels
        .target(side.platform, side.account, &xml.from)
        .ok_or_else(|| ApiError::new(Code::NotFound, "没有配置这个账号。"))?;
    let answer = match state
        .store
        .idempotency_begin(&scope, &key, "message", now, STALE_MS)
        .await
    {
        Ok(backend::Replay::Fresh) => {
            let session = session_id(side.platform, side.account, &xml.from);
            let who = backend::PlatformUser {
                channel: side.platform.to_string(),
                account: side.account.to_string(),
                openid: xml.from.clone(),
            };
            let late = Arc::new(AtomicBool::new(false));
            let handle = tokio::spawn(answer_message(
                state.clone(),
                (scope.clone(), key.clone()),
                (session, who),
                ask,
                (target.clone(), side.transfer),
                late.clone(),
            ));
            match tokio::time::timeout(window, handle).await {
                Ok(Ok(true)) => claim(state, &scope, &key).await,
                Ok(_) => None,
                // Still running: the platform's retry takes the answer, or it is sent.
                Err(_) => {
                    late.store(true, Ordering::SeqCst);
                    None
                }
            }
        }
        Ok(backend::Replay::Done { status: 200, .. }) => claim(state, &scope, &key).await,
        // Delivered already (or a request of another kind under this key).
        Ok(backend::Replay::Done { .. } | backend::Replay::Mismatch) => None,
        Ok(backend::Replay::InFlight) => wait_for(state, &scope, &key, window).await,
        Err(err) => return Err(ApiError::internal(err)),
    };
    let Some(answer) = answer.filter(|a| !a.is_empty()) else {
        return Ok(success());
    };
    let now_secs = state.clock.now() / 1000;
    // Handed to the account's own staff: the platform's transfer, the words sent alongside.
    let reply = if let Some(words) = answer.strip_prefix(TRANSFER) {
        if target.can_send() {
            send_later(state, target, vec![words.to_string()], Duration::ZERO);
        }
        transfer_xml(&xml, now_secs)
    } else {
        // A long answer: the first part now, the rest through the outbound API when it can
        // be sent, else one message cut short.
        let mut parts = split(&answer);
        let first = if parts.len() > 1 && target.can_send() {
            let rest = parts.split_off(1);
            send_later(state, target, rest, Duration::from_secs(1));
            parts.remove(0)
        } else {
            cut_short(&answer)
        };
        reply_xml(&xml, &first, now_secs)
    };
    if !encrypted {
        return Ok(text(StatusCode::OK, reply, "application/xml; charset=utf-8"));
    }
    let crypt = &side.crypts[0];
    let cipher = crypt.encrypt(&reply);
    let timestamp = now_secs.to_string();
    let sig = signature(&[side.token, &timestamp, &q.nonce, &cipher]);
    let envelope = format!(
        "<xml><Encrypt>{}</Encrypt><MsgSignature>{}</MsgSignature><TimeStamp>{timestamp}</TimeStamp><Nonce>{}</Nonce></xml>",
        cdata(&cipher),
        cdata(&sig),
        cdata(&q.nonce)
    );
    Ok(text(StatusCode::OK, envelope, "application/xml; charset=utf-8"))
}

/// A retry while the first attempt runs: its answer if it comes within the window.
async fn wait_for(state: &AppState, scope: &str, key: &str, window: Duration) -> Option<String> {
    let until = tokio::time::Instant::now() + window;
    while tokio::time::Instant::now() < until {
        tokio::time::sleep(POLL).await;
        let now = state.clock.now();
        match state
            .store
            .idempotency_begin(scope, key, "message", now, STALE_MS)
            .await
        {
            Ok(backend::Replay::Done { status: 200, .. }) => return claim(state, scope, key).await,
            Ok(backend::Replay::InFlight) => {}
            _ => return None,
        }
    }
    None
}

/// The turn of a new message, run to the end whether or not the platform still waits: the
/// answer is stored for delivery (to the passive reply or a retry); when the handler gave up
/// waiting (`late`), it is sent through the outbound API unless a retry took it first.
/// Returns whether an answer was stored.
async fn answer_message(
    state: AppState,
    (scope, key): (String, String),
    (session, who): (String, backend::PlatformUser),
    ask: Ask,
    (target, transfer): (Target, bool),
    late: Arc<AtomicBool>,
) -> bool {
    let public_url = state.channels.public_url.clone();
    let reply = match ask {
        Ask::Say(message) => {
            // A bound platform user acts as their banshi self, in a conversation of their own.
            let user = super::binding::user_of(&state, &who).await;
            let session = match &user {
                Some(user) => format!("{session}-{}", &signature(&[&user.id])[..8]),
                None => session,
            };
            let origin = crate::service::turn::Origin {
                channel: who.channel.clone(),
                account: Some(who.account.clone()),
                openid: Some(who.openid.clone()),
                // The account's own staff take it when configured; banshi's agents otherwise.
                queue: !transfer,
                elder: false,
            };
            match crate::service::turn::chat_from(&state, user.as_ref(), Some(session), &message, &origin).await {
                Ok(response) if transfer && response.intent == "human" => {
                    Some(format!("{TRANSFER}{}", compose(&response, public_url.as_deref())))
                }
                Ok(response) => Some(compose(&response, public_url.as_deref())),
                Err(err) => match ApiError::from(err) {
                    err if err.code == Code::Internal || err.code == Code::Unavailable => None,
                    err => Some(err.message),
                },
            }
        }
        Ask::Bind => super::binding::offer(&state, &who).await.ok(),
        Ask::Unbind => match state.store.unbind(&who).await {
            Ok(true) => Some("已解除绑定。之后在这里咨询不再使用您的账号身份。".to_string()),
            Ok(false) => Some("您还没有绑定账号。".to_string()),
            Err(_) => None,
        },
        Ask::Reply(text) => Some(text),
        Ask::Nothing => Some(String::new()),
    };
    let Some(reply) = reply else {
        // Our failure: the platform's retry runs the turn again.
        if let Err(err) = state.store.idempotency_abandon(&scope, &key).await {
            tracing::warn!(error = %err, "channel message not released");
        }
        return false;
    };
    if let Err(err) = state.store.idempotency_finish(&scope, &key, 200, &reply).await {
        tracing::warn!(error = %err, "channel answer not stored");
        return false;
    }
    if late.load(Ordering::SeqCst) && target.can_send() {
        tokio::time::sleep(state.channels.delivery_grace).await;
        if let Some(answer) = claim(&state, &scope, &key).await.filter(|a| !a.is_empty()) {
            // Too late to transfer: the words at least.
            let parts = split(answer.trim_start_matches(TRANSFER));
            if !deliver(&state, &target, &parts).await {
                // Not sent: a retry of the platform may still take it.
                let _ = state.store.idempotency_unclaim(&scope, &key).await;
            }
        }
    }
    true
}

/// Takes the stored answer for delivery, if nobody has.
async fn claim(state: &AppState, scope: &str, key: &str) -> Option<String> {
    match state.store.idempotency_claim(scope, key).await {
        Ok(answer) => answer,
        Err(err) => {
            tracing::warn!(error = %err, "channel answer not claimed");
            None
        }
    }
}

/// Sends `parts` in order through the outbound API (off the executor); whether all went.
async fn deliver(state: &AppState, target: &Target, parts: &[String]) -> bool {
    let sender = state.channels.sender.clone();
    let (target, parts) = (target.clone(), parts.to_vec());
    let sent = tokio::task::spawn_blocking(move || {
        for part in &parts {
            if let Err(err) = sender.send_text(&target, part) {
                tracing::warn!(error = %err, "channel message not sent");
                return false;
            }
        }
        true
    })
    .await;
    sent.unwrap_or(false)
}

fn send_later(state: &AppState, target: Target, parts: Vec<String>, after: Duration) {
    let state = state.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        deliver(&state, &target, &parts).await;
    });
}

/// The answer in parts within the platform's limit, cut at line ends where possible.
fn split(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        let mut line = line;
        while current.len() + line.len() > MAX_TEXT_BYTES {
            if !current.is_empty() {
                parts.push(std::mem::take(&mut current).trim_end().to_string());
                continue;
            }
            // One line longer than a message: cut at a character boundary.
            let mut cut = MAX_TEXT_BYTES;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            parts.push(line[..cut].to_string());
            line = &line[cut..];
        }
        current.push_str(line);
    }
    if !current.trim().is_empty() {
        parts.push(current.trim_end().to_string());
    }
    parts
}

/// One message of the answer, cut short with a word saying so.
fn cut_short(text: &str) -> String {
    if text.len() <= MAX_TEXT_BYTES {
        return text.to_string();
    }
    let marker = "……（内容较长，已截断，完整内容请查看办事指南链接或回复“转人工”）";
    let mut cut = MAX_TEXT_BYTES - marker.len();
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{marker}", &text[..cut])
}

/// The conversation of one platform user of one account.
fn session_id(platform: &str, account: &str, user: &str) -> String {
    let prefix = if platform == "wechat" { "wx" } else { "wc" };
    format!(
        "{prefix}-{}",
        &signature(&[&format!("{platform}\n{account}\n{user}")])[..32]
    )
}

/// The reply as text: the answer, the quick replies to send back, and links to the guides
/// cited (when the site's address is configured).
fn compose(response: &crate::wire::ChatResponse, public_url: Option<&str>) -> String {
    let mut out = response.reply.text.trim().to_string();
    if !response.reply.quick_replies.is_empty() {
        out.push_str("\n\n您可以回复：");
        out.push_str(&response.reply.quick_replies.join(" ／ "));
    }
    let mut links = String::new();
    if let Some(base) = public_url {
        let mut seen = Vec::new();
        for citation in &response.reply.citations {
            if !seen.contains(&citation.guide_id) {
                seen.push(citation.guide_id.clone());
                links.push_str(&format!("\n{base}/guides/{}#{}", citation.guide_id, citation.section));
            }
        }
    }
    if !links.is_empty() {
        out.push_str("\n\n完整办事指南：");
        out.push_str(&links);
    }
    out
}

/// Text inside CDATA (a “]]>” in it split across two sections).
fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

fn reply_xml(to: &Xml, content: &str, now_secs: i64) -> String {
    format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{now_secs}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>{}</Content></xml>",
        cdata(&to.from),
        cdata(&to.to),
        cdata(content)
    )
}

/// The platform's hand-over to the account's own customer-service staff.
fn transfer_xml(to: &Xml, now_secs: i64) -> String {
    format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{now_secs}</CreateTime><MsgType><![CDATA[transfer_customer_service]]></MsgType></xml>",
        cdata(&to.from),
        cdata(&to.to)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_each_kind_ask_for_the_right_thing() {
        let menu = std::collections::BTreeMap::from([
            ("HUMAN".to_string(), "转人工".to_string()),
            ("BIND".to_string(), "@bind".to_string()),
        ]);
        let xml = |body: &str| parse_xml(body).unwrap();
        let said = |ask: Ask| match ask {
            Ask::Say(text) => format!("say:{text}"),
            Ask::Reply(text) => format!("reply:{text}"),
            Ask::Bind => "bind".into(),
            Ask::Unbind => "unbind".into(),
            Ask::Nothing => "nothing".into(),
        };
        let text = xml(
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[身份证到期了]]></Content><MsgId>42</MsgId></xml>",
        );
        assert_eq!(text.msg_id.as_deref(), Some("42"));
        assert_eq!(said(ask_of(&text, &menu, "欢迎")), "say:身份证到期了");
        let voice = xml(
            "<xml><FromUserName>o1</FromUserName><MsgType>voice</MsgType><Recognition><![CDATA[社保卡怎么补办]]></Recognition></xml>",
        );
        assert_eq!(said(ask_of(&voice, &menu, "欢迎")), "say:社保卡怎么补办");
        let silent =
            xml("<xml><FromUserName>o1</FromUserName><MsgType>voice</MsgType><Recognition></Recognition></xml>");
        assert_eq!(said(ask_of(&silent, &menu, "欢迎")), format!("reply:{NOT_HEARD}"));
        let click = xml(
            "<xml><FromUserName>o1</FromUserName><MsgType>event</MsgType><Event>CLICK</Event><EventKey>HUMAN</EventKey></xml>",
        );
        assert_eq!(said(ask_of(&click, &menu, "欢迎")), "say:转人工");
        let bind = xml(
            "<xml><FromUserName>o1</FromUserName><MsgType>event</MsgType><Event>CLICK</Event><EventKey>BIND</EventKey></xml>",
        );
        assert_eq!(said(ask_of(&bind, &menu, "欢迎")), "bind");
        let subscribe =
            xml("<xml><FromUserName>o1</FromUserName><MsgType>event</MsgType><Event>subscribe</Event></xml>");
        assert_eq!(said(ask_of(&subscribe, &menu, "欢迎")), "reply:欢迎");
        let image = xml("<xml><FromUserName>o1</FromUserName><MsgType>image</MsgType><PicUrl>http://x</PicUrl></xml>");
        assert_eq!(said(ask_of(&image, &menu, "欢迎")), format!("reply:{ONLY_WORDS}"));
        let gone = xml("<xml><FromUserName>o1</FromUserName><MsgType>event</MsgType><Event>unsubscribe</Event></xml>");
        assert_eq!(said(ask_of(&gone, &menu, "欢迎")), "nothing");
        assert!(parse_xml("<xml><Content>").is_err());
    }

    #[test]
    fn long_answers_split_at_line_ends_within_the_limit() {
        let line = format!("{}\n", "材".repeat(100)); // 301 bytes
        let text = line.repeat(20);
        let parts = split(&text);
        assert!(parts.len() >= 3, "{}", parts.len());
        assert!(parts.iter().all(|p| p.len() <= MAX_TEXT_BYTES && !p.is_empty()));
        assert!(parts.iter().all(|p| p.ends_with('材')), "cut inside a line");
        assert_eq!(parts.concat().replace('\n', ""), text.replace('\n', ""));
        // One endless line is cut at character boundaries.
        let endless = "字".repeat(1500);
        let parts = split(&endless);
        assert_eq!(parts.concat(), endless);
        assert!(parts.iter().all(|p| p.len() <= MAX_TEXT_BYTES));
        let short = cut_short(&endless);
        assert!(
            short.len() <= MAX_TEXT_BYTES && short.contains("已截断"),
            "{}",
            short.len()
        );
        assert_eq!(cut_short("短"), "短");
    }

    #[test]
    fn cdata_survives_its_own_terminator() {
        assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
    }

    #[test]
    fn a_transfer_names_both_sides() {
        let to =
            parse_xml("<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><MsgType>text</MsgType></xml>")
                .unwrap();
        let xml = transfer_xml(&to, 7);
        assert!(
            xml.contains("<ToUserName><![CDATA[o1]]></ToUserName>") && xml.contains("transfer_customer_service"),
            "{xml}"
        );
    }

    #[test]
    fn sessions_are_per_platform_account_and_user() {
        let a = session_id("wechat", "demo", "o1");
        assert!(a.starts_with("wx-") && a.len() == 35, "{a}");
        assert_ne!(a, session_id("wechat", "demo", "o2"));
        assert_ne!(a, session_id("wechat", "other", "o1"));
        assert!(session_id("wecom", "demo", "o1").starts_with("wc-"));
    }
}

//! The one error type of the HTTP layer: a stable code, a status, and a Chinese message a
//! citizen can act on. Internal details are logged, never sent.
//!
//! Malformed bodies and query strings are answered in the same shape, naming the field that
//! is wrong and what it should be (`AppJson`, `AppQuery`); serde's English never reaches the
//! client.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    BadRequest,
    UnsupportedMediaType,
    EmptyMessage,
    MessageTooLong,
    PayloadTooLarge,
    InvalidSessionId,
    NotFound,
    Unauthorized,
    Forbidden,
    InvalidTransition,
    RateLimited,
    Unavailable,
    Internal,
}

impl Code {
    fn status(self) -> StatusCode {
        match self {
            Code::BadRequest | Code::InvalidSessionId => StatusCode::BAD_REQUEST,
            Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::EmptyMessage | Code::MessageTooLong => StatusCode::UNPROCESSABLE_ENTITY,
            Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Forbidden => StatusCode::FORBIDDEN,
            Code::InvalidTransition => StatusCode::CONFLICT,
            Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    /// Seconds to wait before trying again (`Retry-After`), for 429 and 503.
    pub retry_after: Option<u64>,
}

/// `{"error": {"code": "...", "message": "..."}}`
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: Code,
    pub message: String,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// An internal fault: logged with its cause, answered with a generic message.
    pub fn internal(err: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %err, "internal error");
        ApiError::new(Code::Internal, "系统繁忙，请稍后再试。如急需办理，请拨打 12345 热线。")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: plain_states(&self.message),
            },
        };
        let retry_after = self.retry_after.or(match self.code {
            Code::RateLimited | Code::Unavailable => Some(1),
            _ => None,
        });
        let mut response = (self.code.status(), Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds.max(1)),
            );
        }
        response
    }
}

impl ApiError {
    /// The same error, telling the client when to try again.
    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }
}

impl From<crate::service::Error> for ApiError {
    fn from(err: crate::service::Error) -> ApiError {
        use crate::service::Error as E;
        match err {
            E::Invalid(message) => ApiError::new(Code::BadRequest, message),
            E::TooLong(message) => ApiError::new(Code::MessageTooLong, message),
            E::BadSession(message) => ApiError::new(Code::InvalidSessionId, message),
            E::Missing(message) => ApiError::new(Code::EmptyMessage, message),
            E::NotFound(message) => ApiError::new(Code::NotFound, message),
            E::Forbidden(message) => ApiError::new(Code::Forbidden, message),
            E::Unauthorized(message) => ApiError::new(Code::Unauthorized, message),
            E::Conflict(message) => ApiError::new(Code::InvalidTransition, message),
            E::Busy(message) => ApiError::new(Code::Unavailable, message),
            E::Internal(cause) => ApiError::internal(cause),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                Code::UnsupportedMediaType,
                "请以 JSON 格式发送请求（Content-Type: application/json）。",
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(Code::PayloadTooLarge, "请求内容过大，请精简后再发送。")
            }
            JsonRejection::JsonDataError(err) => {
                tracing::debug!(error = %err.body_text(), "json data error");
                let message = match find_source::<serde_path_to_error::Error<serde_json::Error>>(&err) {
                    Some(err) => field_message(&err.path().to_string(), &serde_text(err.inner()), Place::Body),
                    None => "请求字段不正确，请对照接口文档检查字段名称和类型。".to_string(),
                };
                ApiError::new(Code::BadRequest, message)
            }
            other => {
                tracing::debug!(error = %other.body_text(), "json syntax error");
                let at = find_source::<serde_path_to_error::Error<serde_json::Error>>(&other)
                    .map(serde_path_to_error::Error::inner)
                    .or_else(|| find_source::<serde_json::Error>(&other))
                    .filter(|err| err.line() > 0)
                    .map(|err| format!("（第 {} 行第 {} 个字符附近）", err.line(), err.column()))
                    .unwrap_or_default();
                ApiError::new(
                    Code::BadRequest,
                    format!("请求格式不正确，无法解析为 UTF-8 编码的 JSON{at}。"),
                )
            }
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        tracing::debug!(error = %rejection.body_text(), "query string error");
        let message = match find_source::<serde_path_to_error::Error<serde_urlencoded::de::Error>>(&rejection) {
            Some(err) => field_message(&err.path().to_string(), &err.inner().to_string(), Place::Query),
            None => "查询参数不正确，请对照接口文档检查参数名称和取值。".to_string(),
        };
        ApiError::new(Code::BadRequest, message)
    }
}

/// The first error of type `E` in `err`'s chain of sources (axum wraps serde's error twice).
fn find_source<'a, E: std::error::Error + 'static>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a E> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<E>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

/// serde_json's message without its " at line L column C" suffix.
fn serde_text(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rsplit_once(" at line ") {
        Some((message, _)) if err.line() > 0 => message.to_string(),
        _ => text,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Body,
    Query,
}

/// Words serde's message about the field at `path` (`.` for the whole body) in Chinese.
fn field_message(path: &str, serde_message: &str, place: Place) -> String {
    let noun = match place {
        Place::Body => "字段",
        Place::Query => "参数",
    };
    let parent = path.trim_start_matches('.');
    let nested = |name: &str| match parent {
        "" | "?" => name.to_string(),
        parent => format!("{parent}.{name}"),
    };
    let at_root = parent.is_empty() || parent == "?";
    if let Some(name) = backticked(serde_message, "missing field ") {
        return format!("请求缺少{noun} {}。", nested(name));
    }
    if let Some(name) = backticked(serde_message, "duplicate field ") {
        return format!("{noun} {} 重复出现，只能给一次。", nested(name));
    }
    if let Some(name) = backticked(serde_message, "unknown field ") {
        return format!("不认识的{noun} {}，请对照接口文档检查名称。", nested(name));
    }
    let field = if at_root {
        String::new()
    } else {
        format!("{noun} {parent} ")
    };
    if let Some(variant) = backticked(serde_message, "unknown variant ") {
        let allowed: Vec<&str> = serde_message
            .split_once("expected ")
            .map(|(_, rest)| rest.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        return match allowed.as_slice() {
            [] => format!("{field}的取值“{variant}”无效。"),
            allowed => format!("{field}的取值“{variant}”无效，应为 {} 之一。", allowed.join("、")),
        };
    }
    // The whole body of the wrong shape (a list, a string): serde reads a struct from a
    // sequence too and then complains of its length.
    if at_root && (serde_message.starts_with("invalid type: ") || serde_message.starts_with("invalid length ")) {
        return match place {
            Place::Body => "请求内容应为 JSON 对象（{…}），请对照接口文档。".to_string(),
            Place::Query => "查询参数不正确，请对照接口文档检查参数名称和取值。".to_string(),
        };
    }
    if let Some(rest) = serde_message.strip_prefix("invalid type: ") {
        let (got, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        return format!(
            "{field}应为{}，收到的是{}。",
            spaced(expected_kind(expected)),
            got_kind(got)
        );
    }
    if let Some(rest) = serde_message.strip_prefix("invalid value: ") {
        let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
        return format!("{field}的值不正确，应为{}。", spaced(expected_kind(expected)));
    }
    if serde_message.starts_with("invalid length ") {
        return format!("{field}的项数不正确。");
    }
    // serde_urlencoded parses numbers and booleans with `FromStr` and passes its message on.
    let lower = serde_message.to_lowercase();
    if lower.contains("invalid digit") || lower.contains("parse integer") || lower.contains("number too") {
        return format!("{field}应为整数。");
    }
    if lower.contains("float") {
        return format!("{field}应为数字。");
    }
    if lower.contains("`true` or `false`") {
        return format!("{field}应为 true 或 false。");
    }
    format!("{field}的值不正确，请对照接口文档。")
}

/// A space before Latin text that follows Chinese (应为 true 或 false).
fn spaced(words: &str) -> String {
    match words.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        true => format!(" {words}"),
        false => words.to_string(),
    }
}

/// The name between backticks right after `prefix` (serde writes "missing field `x`").
fn backticked<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.strip_prefix('`')?.split('`').next()
}

/// serde's "expected …" in words a citizen reads.
fn expected_kind(expected: &str) -> &'static str {
    let expected = expected.trim();
    let is = |names: &[&str]| names.contains(&expected);
    if expected.contains("string") || expected.contains("char") {
        "文字"
    } else if expected.contains("bool") {
        "true 或 false"
    } else if is(&["u8", "u16", "u32", "u64", "u128", "usize"]) {
        "不小于 0 的整数"
    } else if is(&["i8", "i16", "i32", "i64", "i128", "isize"]) {
        "整数"
    } else if is(&["f32", "f64"]) {
        "数字"
    } else if expected.contains("sequence") || expected.contains("tuple") {
        "列表（[…]）"
    } else if expected.contains("struct") || expected.contains("map") {
        "对象（{…}）"
    } else {
        "正确的类型"
    }
}

/// serde's `Unexpected` ("integer `42`", "string \"x\"", "null") in words.
fn got_kind(got: &str) -> &'static str {
    let kind = got.split([' ', '`']).next().unwrap_or("");
    match kind {
        "boolean" => "true 或 false",
        "integer" | "floating" => "数字",
        "string" | "character" => "文字",
        "null" | "unit" | "Option" => "空值 null",
        "sequence" => "列表",
        "map" => "对象",
        _ => "其他类型",
    }
}

/// Backstop: workflow errors word `backend::Error::InvalidTransition { from, to }`, which
/// carries state codes (“dispatched”). Wherever such a message is built, a code quoted after
/// 状态为 / 当前为 / 变为 (a state) or 不能执行 (a step) is replaced by its Chinese name here, the
/// one place every error passes, so no state code reaches a citizen.
fn plain_states(message: &str) -> String {
    if !message.contains('“') {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('“') {
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        let after = &after['“'.len_utf8()..];
        let Some(close) = after.find('”') else {
            out.push('“');
            rest = after;
            continue;
        };
        let code = &after[..close];
        let named = if out.ends_with("不能执行") {
            step_name(code)
        } else if out.ends_with("状态为") || out.ends_with("当前为") || out.ends_with("变为") {
            state_name(code, message)
        } else {
            None
        };
        out.push('“');
        out.push_str(named.unwrap_or(code));
        out.push('”');
        rest = &after[close + '”'.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// The Chinese name of a state code; `message` tells whose state it is.
fn state_name(code: &str, message: &str) -> Option<&'static str> {
    if message.contains("整改") {
        return match code {
            "open" => Some("待核实"),
            "verified" => Some("已核实"),
            "rectified" => Some("已整改"),
            "visited" => Some("已回访"),
            "appealed" => Some("申诉中"),
            "appeal_upheld" => Some("申诉成立"),
            _ => None,
        };
    }
    if message.contains("办件") {
        return code.parse::<backend::AppState>().ok().map(backend::AppState::label);
    }
    match code {
        "overdue" => Some("已超过办理时限"),
        "rated" => Some("已评价"),
        code => code
            .parse::<backend::TicketState>()
            .ok()
            .map(backend::TicketState::label),
    }
}

/// The Chinese name of the step a state code stands for (the state a step leads to).
fn step_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "dispatched" => "派单",
        "accepted" => "签收",
        "returned" => "退单",
        "in_progress" => "开始办理",
        "waiting_citizen" => "请市民补充信息",
        "replied" => "答复",
        "reopened" => "重新提出",
        "confirmed" => "确认办结",
        "closed" => "办结",
        "summoned" => "召集协办",
        "extended" => "延期",
        "verified" => "核实",
        "rectified" => "整改",
        "visited" => "回访",
        "appealed" => "申诉",
        "appeal_upheld" => "支持申诉",
        "appeal_rejected" => "驳回申诉",
        "changed_after_window" => "修改评价",
        "next" => "下一步",
        _ => return None,
    })
}

/// `Json` whose rejections answer in our error shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// `Query` whose rejections answer in our error shape, naming the parameter.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AppQuery<T>(pub T);

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::{get, post};
    use http_body_util::BodyExt;
    use serde::Deserialize;
    use tower::ServiceExt;

    use super::*;

    #[derive(Deserialize)]
    #[allow(dead_code)] // only deserialised
    struct Probe {
        message: String,
        session_id: Option<String>,
        days: Option<u32>,
        urgent: Option<bool>,
        tags: Option<Vec<String>>,
        kind: Option<Kind>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Application,
        Ticket,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)] // only deserialised
    struct ProbeQuery {
        q: Option<String>,
        limit: Option<usize>,
    }

    fn router() -> Router {
        Router::new()
            .route("/json", post(|AppJson(_): AppJson<Probe>| async { "ok" }))
            .route("/query", get(|AppQuery(_): AppQuery<ProbeQuery>| async { "ok" }))
    }

    async fn error_of(request: Request<Body>) -> (StatusCode, String, String) {
        let response = router().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("our JSON error shape");
        let code = json["error"]["code"].as_str().unwrap().to_string();
        (status, code, json["error"]["message"].as_str().unwrap().to_string())
    }

    async fn body_error(body: &str) -> String {
        let request = Request::post("/json")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, code, message) = error_of(request).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{message}"
        );
        assert_no_english(&message);
        message
    }

    fn assert_no_english(message: &str) {
        for word in [
            "field", "expected", "invalid", "type", "line", "column", "string", "integer",
        ] {
            assert!(!message.contains(word), "serde's English leaked: {message}");
        }
    }

    #[tokio::test]
    async fn a_body_error_names_the_field_and_what_it_should_be() {
        let cases = [
            (r#"{}"#, "请求缺少字段 message。"),
            (r#"{"message": 42}"#, "字段 message 应为文字，收到的是数字。"),
            (r#"{"message": null}"#, "字段 message 应为文字，收到的是空值 null。"),
            (
                r#"{"message": "x", "session_id": ["a"]}"#,
                "字段 session_id 应为文字，收到的是列表。",
            ),
            (
                r#"{"message": "x", "days": "three"}"#,
                "字段 days 应为不小于 0 的整数，收到的是文字。",
            ),
            (
                r#"{"message": "x", "days": -1}"#,
                "字段 days 的值不正确，应为不小于 0 的整数。",
            ),
            (
                r#"{"message": "x", "urgent": "yes"}"#,
                "字段 urgent 应为 true 或 false，收到的是文字。",
            ),
            (
                r#"{"message": "x", "tags": [1]}"#,
                "字段 tags[0] 应为文字，收到的是数字。",
            ),
            (
                r#"{"message": "x", "kind": "rating"}"#,
                "字段 kind 的取值“rating”无效，应为 application、ticket 之一。",
            ),
            (r#"["message"]"#, "请求内容应为 JSON 对象（{…}），请对照接口文档。"),
        ];
        for (body, expected) in cases {
            assert_eq!(body_error(body).await, expected, "{body}");
        }
    }

    #[tokio::test]
    async fn broken_json_says_where() {
        let message = body_error("{\"message\": \"护照\",\n \"x\" 1}").await;
        assert_eq!(
            message,
            "请求格式不正确，无法解析为 UTF-8 编码的 JSON（第 2 行第 6 个字符附近）。"
        );
    }

    #[tokio::test]
    async fn a_query_error_names_the_parameter_in_our_shape() {
        for (uri, expected) in [
            ("/query?q=x&limit=abc", "参数 limit 应为整数。"),
            ("/query?limit=-1", "参数 limit 应为整数。"),
            ("/query?limit=1&limit=2", "参数 limit 重复出现，只能给一次。"),
        ] {
            let (status, code, message) = error_of(Request::get(uri).body(Body::empty()).unwrap()).await;
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::BAD_REQUEST, "bad_request"),
                "{uri}"
            );
            assert_eq!(message, expected, "{uri}");
            assert_no_english(&message);
        }
    }

    #[test]
    fn state_codes_in_error_messages_are_named_in_chinese() {
        let cases = [
            (
                "工单当前状态为“dispatched”，不能执行“replied”。",
                "工单当前状态为“已派单，等待部门签收”，不能执行“答复”。",
            ),
            (
                "工单当前状态为“closed”，不能执行“summoned”。",
                "工单当前状态为“已办结”，不能执行“召集协办”。",
            ),
            (
                "整改任务当前为“open”，不能执行“rectified”。",
                "整改任务当前为“待核实”，不能执行“整改”。",
            ),
            (
                "办件当前状态为“accepted”，不能直接变为“issued”。",
                "办件当前状态为“已受理”，不能直接变为“已办结”。",
            ),
            // Only codes in those places: the user's own words stay as they were.
            ("未知的操作“accepted”。", "未知的操作“accepted”。"),
            ("没有找到编号为“closed”的工单。", "没有找到编号为“closed”的工单。"),
            ("不成对的“引号", "不成对的“引号"),
        ];
        for (message, expected) in cases {
            assert_eq!(plain_states(message), expected);
        }
    }

    #[test]
    fn every_backend_state_code_has_a_chinese_name() {
        for state in backend::TicketState::ALL {
            let message = format!("工单当前状态为“{}”，不能执行“{}”。", state.as_str(), state.as_str());
            let plain = plain_states(&message);
            assert!(!plain.contains(state.as_str()), "{plain}");
        }
    }
}

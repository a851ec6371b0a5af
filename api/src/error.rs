//! The one error type of the HTTP layer: a stable code, a status, and a Chinese message a
//! citizen can act on. Internal details are logged, never sent.

use axum::Json;
use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;
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
                message: self.message,
            },
        };
        (self.code.status(), Json(body)).into_response()
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
                ApiError::new(
                    Code::BadRequest,
                    "请求字段不正确：需要 message（文字），可选 session_id。",
                )
            }
            other => {
                tracing::debug!(error = %other.body_text(), "json syntax error");
                ApiError::new(Code::BadRequest, "请求格式不正确，无法解析为 UTF-8 编码的 JSON。")
            }
        }
    }
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

pub type ApiResult<T> = Result<T, ApiError>;

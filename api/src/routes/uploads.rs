//! Files for an application's materials (`POST /api/v1/uploads`): a photo or scan uploaded
//! in a conversation whose form asks for that material. The type is checked from the bytes
//! (not only the declared `Content-Type`), the size is capped, and the file waits with the
//! conversation until the application is submitted and takes it over. The uploader, and
//! staff of the department that handles the application, can read it back.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use crate::auth::{MaybeUser, Role};
use crate::error::{ApiError, ApiResult, Code};
use crate::state::AppState;
use crate::wire::UploadBody;

/// Largest file accepted.
pub const MAX_UPLOAD_BYTES: usize = bot::forms::MAX_UPLOAD_MB * 1024 * 1024;
/// Files a conversation may upload in all.
pub const MAX_UPLOADS_PER_SESSION: i64 = 30;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/uploads",
            // Read below with the limit, so that a larger file gets our error in Chinese.
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/uploads/{id}", get(download))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The conversation whose form asks for the material.
    pub session_id: String,
    /// The material's name, as the form lists it (`form.uploads[].material`).
    pub material: String,
    /// The file's name on the citizen's device (shown back to them).
    pub name: Option<String>,
}

/// The accepted types, recognised by their first bytes.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// A file name fit to show and to store: no folders, no control characters, at most 100
/// characters.
fn clean_name(name: Option<&str>, content_type: &str) -> String {
    let name = name.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let name: String = name.chars().filter(|c| !c.is_control()).take(100).collect();
    let name = name.trim();
    if name.is_empty() {
        let ext = match content_type {
            "image/jpeg" => "jpg",
            "image/png" => "png",
            _ => "pdf",
        };
        format!("材料.{ext}")
    } else {
        name.to_string()
    }
}

/// Uploads a file for a material of the form in progress; the next chat turn attaches it.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "chat", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file (JPEG, PNG or PDF, at most 10 MB); Content-Type image/jpeg, image/png or application/pdf"),
    responses((status = 200, body = UploadBody, example = super::examples::upload_response),
        (status = 400, body = crate::error::ErrorBody, description = "no form in this conversation asks for this material, or an empty file"),
        (status = 401, body = crate::error::ErrorBody, description = "the conversation is a logged-in citizen's and no token was sent"),
        (status = 404, body = crate::error::ErrorBody, description = "no such conversation, or another person's"),
        (status = 413, body = crate::error::ErrorBody, description = "larger than 10 MB"),
        (status = 415, body = crate::error::ErrorBody, description = "not a JPEG, PNG or PDF")))]
pub async fn upload(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> ApiResult<Json<UploadBody>> {
    let too_large = || {
        ApiError::new(
            Code::PayloadTooLarge,
            format!(
                "文件太大了，单个文件不能超过 {} MB，请压缩或分页扫描后再传。",
                bot::forms::MAX_UPLOAD_MB
            ),
        )
    };
    let body: Bytes = axum::body::to_bytes(body, MAX_UPLOAD_BYTES)
        .await
        .map_err(|_| too_large())?;
    if body.is_empty() {
        return Err(ApiError::new(
            Code::BadRequest,
            "文件是空的，请重新选择要上传的照片或扫描件。",
        ));
    }
    let Some(kind) = sniff(&body) else {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            "只能上传 JPG、PNG 图片或 PDF 文件，请换一种格式后再传。",
        ));
    };
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if let Some(declared) = declared.as_deref()
        && declared != "application/octet-stream"
        && declared != kind
        && !(declared == "image/jpg" && kind == "image/jpeg")
    {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            "文件内容与声明的类型不一致，请重新选择文件上传。",
        ));
    }
    let not_found = || ApiError::new(Code::NotFound, "没有找到这个对话，请在对话中开始办理后再上传材料。");
    let session = state
        .store
        .session(&query.session_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    match (&session.user_id, &user) {
        (Some(owner), Some(user)) if owner != &user.id => return Err(not_found()),
        (Some(_), None) => {
            return Err(ApiError::new(
                Code::Unauthorized,
                "该对话需要登录后继续，请先登录再上传。",
            ));
        }
        _ => {}
    }
    let dialogue: bot::DialogueState = serde_json::from_str(&session.state).unwrap_or_default();
    let asks = dialogue
        .form
        .as_ref()
        .and_then(|f| state.engine.load().corpus.form(&f.service_id))
        .is_some_and(|form| form.uploads.iter().any(|u| u.material == query.material))
        || (dialogue.correcting.is_some() && query.material == crate::service::tickets::CORRECTION_MATERIAL);
    if !asks {
        return Err(ApiError::new(
            Code::BadRequest,
            format!(
                "当前对话中没有正在办理、需要上传“{}”的申请。",
                query.material.chars().take(50).collect::<String>()
            ),
        ));
    }
    let count = state
        .store
        .count_uploads(&session.id)
        .await
        .map_err(ApiError::internal)?;
    if count >= MAX_UPLOADS_PER_SESSION {
        return Err(ApiError::new(
            Code::BadRequest,
            format!("一个对话最多上传 {MAX_UPLOADS_PER_SESSION} 个文件，请开始新对话或到窗口办理。"),
        ));
    }
    let new = backend::NewUpload {
        session_id: session.id.clone(),
        owner_id: user.as_ref().map(|u| u.id.clone()),
        material: query.material.clone(),
        file_name: clean_name(query.name.as_deref(), kind),
        content_type: kind.into(),
        sha256: format!("{:x}", Sha256::digest(&body)),
        data: body.to_vec(),
    };
    let stored = state
        .store
        .put_upload(&new, state.clock.now())
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(upload = %stored.id, session = %stored.session_id, size = stored.size, kind, "file uploaded");
    Ok(Json(wire(stored)))
}

fn wire(upload: backend::Upload) -> UploadBody {
    UploadBody {
        id: upload.id,
        session_id: upload.session_id,
        material: upload.material,
        file_name: upload.file_name,
        content_type: upload.content_type,
        size: upload.size,
        sha256: upload.sha256,
        application: upload.application_number,
    }
}

/// A file, to its uploader, or, once an application holds it, to the applicant and to staff
/// of the department that handles the application (and admins). Anyone else: 404.
#[utoipa::path(get, path = "/api/v1/uploads/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, description = "upload id")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>, description = "the file, with its Content-Type (image/jpeg, image/png or application/pdf)"),
        (status = 404, body = crate::error::ErrorBody, description = "no such file, or not the caller's")))]
pub async fn download(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let not_found = || ApiError::new(Code::NotFound, "没有找到这个文件。");
    let user = user.ok_or_else(not_found)?;
    let upload = state
        .store
        .upload(&id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    let application = match &upload.application_number {
        Some(number) => state.store.application(number).await.map_err(ApiError::internal)?,
        None => None,
    };
    let own = upload.owner_id.as_deref() == Some(user.id.as_str())
        || application.as_ref().is_some_and(|a| a.applicant_id == user.id);
    let staff = application.as_ref().is_some_and(|a| {
        user.has(Role::Admin)
            || (user.has(Role::DeptStaff)
                && state
                    .engine
                    .load()
                    .corpus
                    .guide(&a.service_id)
                    .is_some_and(|g| Some(&g.department) == user.department.as_ref()))
    });
    if !own && !staff {
        return Err(not_found());
    }
    let data = state
        .store
        .upload_data(&id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    if let Some(a) = &application {
        crate::service::audit::read(&state, &user, "upload", &id, Some(&a.applicant_id)).await?;
    }
    Ok((
        [
            (header::CONTENT_TYPE, upload.content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CONTENT_DISPOSITION, "attachment".to_string()),
        ],
        data,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_told_by_their_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some("application/pdf"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"<script>alert(1)</script>"), None);
        assert_eq!(sniff(b"MZ\x90\x00"), None);
    }

    #[test]
    fn file_names_lose_folders_and_control_characters() {
        assert_eq!(
            clean_name(Some("C:\\Users\\a\\租赁合同.pdf"), "application/pdf"),
            "租赁合同.pdf"
        );
        assert_eq!(clean_name(Some("../../etc/passwd"), "image/png"), "passwd");
        assert_eq!(clean_name(Some("a\u{7}b.jpg"), "image/jpeg"), "ab.jpg");
        assert_eq!(clean_name(None, "image/png"), "材料.png");
    }
}

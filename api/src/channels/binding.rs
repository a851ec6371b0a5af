//! Binding a platform user to a banshi user: the platform user asks (a menu key whose message
//! is `@bind`) and gets a one-time code, valid 10 minutes; the citizen, logged in through
//! 统一身份认证 on the website or app, posts it to `POST /api/v1/channels/bind`
//! (`routes::bindings`). Proving control of both sides this way, nobody can bind another
//! person's WeChat to their own account (or the other way round). From then on that platform user's messages act as the banshi user:
//! their forms are prefilled from their e-licences and submitted in their name.

use crate::auth::{Role, User};
use crate::error::{ApiError, Code};
use crate::state::AppState;

/// How long a binding code is valid.
pub const CODE_TTL_MS: i64 = 10 * 60 * 1000;

/// A fresh code: 8 characters without look-alikes (no 0/O, 1/I/L), easy to type.
pub fn new_code() -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        bytes.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
    }
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// The reply to a platform user who asked to bind: the code, and where to enter it.
pub async fn offer(state: &AppState, who: &backend::PlatformUser) -> Result<String, ApiError> {
    let code = new_code();
    let expires = state.clock.now() + CODE_TTL_MS;
    state
        .store
        .put_bind_code(&code, who, expires)
        .await
        .map_err(ApiError::internal)?;
    let place = match &state.channels.public_url {
        Some(url) => format!("请打开 {url}/bind?code={code} 登录后确认"),
        None => "请在本市政务服务网站或 App 登录后，在“账号绑定”中输入".to_string(),
    };
    Ok(format!(
        "您的绑定码是 {code}，10 分钟内有效。{place}。绑定后，您在这里办事将以您本人的身份办理，并可免交电子证照已有的材料。"
    ))
}

/// Binds the platform user a code was sent to to the logged-in `user`; returns whom.
pub async fn bind(state: &AppState, user: &User, code: &str) -> Result<backend::PlatformUser, ApiError> {
    // Only a citizen's or a company's own account speaks for them in a chat.
    let kind = if user.has(Role::Citizen) {
        "citizen"
    } else if user.has(Role::Company) {
        "company"
    } else {
        return Err(ApiError::new(Code::Forbidden, "只有个人或企业账号可以绑定微信。"));
    };
    let code = code.trim().to_ascii_uppercase();
    if code.is_empty() || code.len() > 32 {
        return Err(ApiError::new(
            Code::BadRequest,
            "请填写收到的绑定码（8 位字母和数字）。",
        ));
    }
    let now = state.clock.now();
    state
        .store
        .upsert_user(
            &backend::User {
                id: user.id.clone(),
                kind: kind.into(),
                name: user.name.clone(),
                department: None,
            },
            now,
        )
        .await
        .map_err(ApiError::internal)?;
    state
        .store
        .bind_with_code(&code, &user.id, now)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::new(Code::NotFound, "绑定码不存在、已使用或已过期，请在微信里重新获取。"))
}

/// The banshi user a platform user acts as, if bound.
pub async fn user_of(state: &AppState, who: &backend::PlatformUser) -> Option<User> {
    let id = state.store.bound_user(who).await.ok().flatten()?;
    let stored = state.store.user(&id).await.ok().flatten()?;
    let role = if stored.kind == "company" {
        Role::Company
    } else {
        Role::Citizen
    };
    Some(User {
        id: stored.id,
        name: stored.name,
        roles: vec![role],
        department: None,
    })
}

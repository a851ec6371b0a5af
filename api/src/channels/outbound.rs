//! Messages sent to a platform user outside a passive reply: the official account's
//! customer-service message API (`/cgi-bin/message/custom/send`) and WeCom's app messages
//! (`/cgi-bin/message/send`), with the access token fetched and refreshed. Used for an answer
//! that missed the 5-second window and for the parts of a long answer after the first. The
//! platform allows customer-service messages for 48 hours after the user last wrote; these
//! are all sent seconds after a message of theirs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

/// Whom to send to, and as which account.
#[derive(Debug, Clone)]
pub enum Target {
    Wechat {
        app_id: String,
        app_secret: String,
        openid: String,
    },
    Wecom {
        corp_id: String,
        secret: String,
        agent_id: String,
        userid: String,
    },
}

impl Target {
    /// Whether the account has the secret the outbound API needs.
    pub fn can_send(&self) -> bool {
        match self {
            Target::Wechat { app_secret, .. } => !app_secret.is_empty(),
            Target::Wecom { secret, .. } => !secret.is_empty(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("网络错误：{0}")]
    Network(String),
    #[error("平台返回错误 {code}：{message}")]
    Platform { code: i64, message: String },
}

/// The outbound API, behind a trait so that tests and other platforms can stand in.
pub trait Sender: Send + Sync {
    fn send_text(&self, target: &Target, text: &str) -> Result<(), SendError>;
}

/// A network error's text without the secrets the platform's API puts in its URLs.
fn network(err: impl std::fmt::Display) -> SendError {
    let text = err.to_string();
    let mut out = String::new();
    for (n, part) in text.split(['?', '&']).enumerate() {
        if n > 0 {
            out.push('&');
        }
        if part.starts_with("secret=") || part.starts_with("corpsecret=") || part.starts_with("access_token=") {
            out.push_str("***");
        } else {
            out.push_str(part);
        }
    }
    SendError::Network(out)
}

#[derive(Deserialize)]
struct TokenReply {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: u64,
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

#[derive(Deserialize)]
struct SendReply {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

/// Token errors after which a fresh token is fetched once: invalid, expired, missing.
const TOKEN_ERRORS: [i64; 3] = [40001, 42001, 40014];

/// The platforms' HTTPS API (blocking: call it off the async executor).
pub struct HttpSender {
    wechat_base: String,
    wecom_base: String,
    agent: ureq::Agent,
    /// (platform id, secret holder) → (token, expires at).
    tokens: Mutex<HashMap<String, (String, std::time::Instant)>>,
}

impl HttpSender {
    pub fn new(wechat_base: &str, wecom_base: &str) -> HttpSender {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .into();
        HttpSender {
            wechat_base: wechat_base.trim_end_matches('/').to_string(),
            wecom_base: wecom_base.trim_end_matches('/').to_string(),
            agent,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    fn token(&self, target: &Target, fresh: bool) -> Result<String, SendError> {
        let (cache_key, url) = match target {
            Target::Wechat { app_id, app_secret, .. } => (
                format!("wechat {app_id}"),
                format!(
                    "{}/cgi-bin/token?grant_type=client_credential&appid={app_id}&secret={app_secret}",
                    self.wechat_base
                ),
            ),
            Target::Wecom {
                corp_id,
                secret,
                agent_id,
                ..
            } => (
                format!("wecom {corp_id} {agent_id}"),
                format!(
                    "{}/cgi-bin/gettoken?corpid={corp_id}&corpsecret={secret}",
                    self.wecom_base
                ),
            ),
        };
        let now = std::time::Instant::now();
        if !fresh
            && let Some((token, until)) = self.tokens.lock().ok().and_then(|t| t.get(&cache_key).cloned())
            && until > now
        {
            return Ok(token);
        }
        let reply: TokenReply = self
            .agent
            .get(&url)
            .call()
            .map_err(network)?
            .body_mut()
            .read_json()
            .map_err(network)?;
        if reply.errcode != 0 || reply.access_token.is_empty() {
            return Err(SendError::Platform {
                code: reply.errcode,
                message: reply.errmsg,
            });
        }
        // Refreshed five minutes before the platform's expiry (7200 s as a rule).
        let lifetime = Duration::from_secs(reply.expires_in.max(600) - 300);
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(cache_key, (reply.access_token.clone(), now + lifetime));
        }
        Ok(reply.access_token)
    }

    fn post(&self, target: &Target, token: &str, text: &str) -> Result<SendReply, SendError> {
        let (url, body) = match target {
            Target::Wechat { openid, .. } => (
                format!("{}/cgi-bin/message/custom/send?access_token={token}", self.wechat_base),
                json!({ "touser": openid, "msgtype": "text", "text": { "content": text } }),
            ),
            Target::Wecom { agent_id, userid, .. } => (
                format!("{}/cgi-bin/message/send?access_token={token}", self.wecom_base),
                json!({ "touser": userid, "msgtype": "text", "agentid": agent_id, "text": { "content": text } }),
            ),
        };
        self.agent
            .post(&url)
            .send_json(&body)
            .map_err(network)?
            .body_mut()
            .read_json()
            .map_err(network)
    }
}

impl Sender for HttpSender {
    fn send_text(&self, target: &Target, text: &str) -> Result<(), SendError> {
        let token = self.token(target, false)?;
        let mut reply = self.post(target, &token, text)?;
        if TOKEN_ERRORS.contains(&reply.errcode) {
            let token = self.token(target, true)?;
            reply = self.post(target, &token, text)?;
        }
        if reply.errcode != 0 {
            return Err(SendError::Platform {
                code: reply.errcode,
                message: reply.errmsg,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn network_errors_keep_no_secret() {
        let err = super::network("io error for https://api/cgi-bin/token?grant_type=x&appid=wx1&secret=s3cr3t");
        let text = err.to_string();
        assert!(!text.contains("s3cr3t") && text.contains("wx1"), "{text}");
    }
}

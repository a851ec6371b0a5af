//! 统一身份认证: bearer tokens verified with HS256 (a configured secret) or RS256 (keys from a
//! JWKS file, as provincial identity providers publish them). A development identity
//! provider issues tokens for the seeded demo users when enabled.

use std::path::Path;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Code};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Citizen,
    Company,
    Agent,
    DeptStaff,
    Admin,
}

/// The token's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub name: String,
    #[serde(default)]
    pub roles: Vec<Role>,
    /// For `dept_staff`: the department id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub exp: u64,
    /// Who the token is for: required, and must be the configured audience, when one is
    /// configured; without one, a token that names an audience is refused (it is meant for
    /// another service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// A verified caller.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub department: Option<String>,
}

impl User {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Verifies tokens; issues them too when the development provider is on.
pub struct Auth {
    hs256: Option<(EncodingKey, DecodingKey)>,
    rs256: Vec<(Option<String>, DecodingKey)>,
    pub dev_login: bool,
    audience: Option<String>,
}

/// The shortest HS256 secret accepted: 256 bits, the size of the hash (RFC 7518 §3.2).
pub const MIN_SECRET_BYTES: usize = 32;

/// The `settings` key of the HS256 secret generated when none is configured.
pub const SIGNING_KEY_SETTING: &str = "auth.hs256_secret";

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("cannot read JWKS file {path}: {message}")]
    Jwks { path: String, message: String },
    #[error(
        "the HS256 secret (--jwt-secret / BANSHI_JWT_SECRET) has {n_bytes} bytes; at least {MIN_SECRET_BYTES} are \
         required (for example `openssl rand -hex 32`)"
    )]
    WeakSecret { n_bytes: usize },
}

/// The HS256 secret kept in the database: the first process that needs one generates 32
/// random bytes (hex-encoded) and stores them; every later process and every replica reads
/// the same value back, so a token issued by one verifies in all.
pub async fn stored_secret(store: &backend::Store) -> anyhow::Result<String> {
    let mut bytes = [0u8; MIN_SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|err| anyhow::anyhow!("no system randomness: {err}"))?;
    let candidate: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(store.setting_or_insert(SIGNING_KEY_SETTING, &candidate).await?)
}

impl Auth {
    /// Refuses an HS256 secret shorter than [`MIN_SECRET_BYTES`].
    pub fn new(secret: Option<&str>, jwks_file: Option<&Path>, dev_login: bool) -> Result<Auth, AuthConfigError> {
        if let Some(secret) = secret
            && secret.len() < MIN_SECRET_BYTES
        {
            return Err(AuthConfigError::WeakSecret { n_bytes: secret.len() });
        }
        let hs256 = secret.map(|s| {
            (
                EncodingKey::from_secret(s.as_bytes()),
                DecodingKey::from_secret(s.as_bytes()),
            )
        });
        let mut rs256 = Vec::new();
        if let Some(path) = jwks_file {
            let error = |message: String| AuthConfigError::Jwks {
                path: path.display().to_string(),
                message,
            };
            let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
            let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&text).map_err(|e| error(e.to_string()))?;
            for jwk in &set.keys {
                let key = DecodingKey::from_jwk(jwk).map_err(|e| error(e.to_string()))?;
                rs256.push((jwk.common.key_id.clone(), key));
            }
        }
        Ok(Auth {
            hs256,
            rs256,
            dev_login,
            audience: None,
        })
    }

    /// Accepts only tokens whose `aud` is `audience` (an empty one means none configured).
    pub fn with_audience(mut self, audience: Option<&str>) -> Auth {
        self.audience = audience.map(str::trim).filter(|a| !a.is_empty()).map(str::to_string);
        self
    }

    /// The audience tokens must name, if one is configured.
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// Verifies a bearer token.
    pub fn verify(&self, token: &str) -> Result<User, ApiError> {
        let invalid = || ApiError::new(Code::Unauthorized, "登录已失效或身份凭证无效，请重新登录。");
        let header = decode_header(token).map_err(|_| invalid())?;
        let claims = match header.alg {
            Algorithm::HS256 => {
                let (_, key) = self.hs256.as_ref().ok_or_else(invalid)?;
                decode::<Claims>(token, key, &validation(Algorithm::HS256, self.audience()))
                    .map_err(|_| invalid())?
                    .claims
            }
            Algorithm::RS256 => {
                let key = self
                    .rs256
                    .iter()
                    .find(|(kid, _)| header.kid.is_none() || kid == &header.kid)
                    .map(|(_, key)| key)
                    .ok_or_else(invalid)?;
                decode::<Claims>(token, key, &validation(Algorithm::RS256, self.audience()))
                    .map_err(|_| invalid())?
                    .claims
            }
            _ => return Err(invalid()),
        };
        Ok(User {
            id: claims.sub,
            name: claims.name,
            roles: claims.roles,
            department: claims.department,
        })
    }

    /// Issues an HS256 token (the development provider).
    pub fn issue(&self, claims: &Claims) -> Option<String> {
        let (key, _) = self.hs256.as_ref()?;
        encode(&Header::new(Algorithm::HS256), claims, key).ok()
    }
}

/// Expiry to the second (no leeway), a token not valid before its `nbf` is refused, and the
/// audience, when one is configured, is required and checked.
fn validation(algorithm: Algorithm, audience: Option<&str>) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = 0;
    validation.validate_nbf = true;
    if let Some(audience) = audience {
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "aud"]);
    }
    validation
}

/// The caller, if a valid token was sent; a present but invalid token is an error.
pub struct MaybeUser(pub Option<User>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<MaybeUser, ApiError> {
        let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(MaybeUser(None));
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .ok_or_else(|| {
                ApiError::new(
                    Code::Unauthorized,
                    "身份凭证格式不正确，应为 Authorization: Bearer <token>。",
                )
            })?;
        state.auth.verify(token.trim()).map(|user| MaybeUser(Some(user)))
    }
}

/// A caller who must be logged in.
pub struct AuthUser(pub User);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<AuthUser, ApiError> {
        match MaybeUser::from_request_parts(parts, state).await? {
            MaybeUser(Some(user)) => Ok(AuthUser(user)),
            MaybeUser(None) => Err(ApiError::new(Code::Unauthorized, "请先登录（统一身份认证）后再操作。")),
        }
    }
}

pub fn expiry_in(seconds: u64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    now + seconds
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    const SECRET_A: &str = "secret-a-secret-a-secret-a-secret-a";
    const SECRET_B: &str = "secret-b-secret-b-secret-b-secret-b";

    fn claims(roles: Vec<Role>, exp: u64) -> Claims {
        Claims {
            sub: "citizen-9".into(),
            name: "测试".into(),
            roles,
            department: None,
            exp,
            aud: None,
        }
    }

    #[test]
    fn a_token_for_another_audience_is_refused() {
        let for_audience = |aud: Option<&str>| Claims {
            aud: aud.map(str::to_string),
            ..claims(vec![Role::Citizen], expiry_in(60))
        };
        let issuer = Auth::new(Some(SECRET_A), None, false).unwrap();
        let ours = issuer.issue(&for_audience(Some("banshi-shifan"))).unwrap();
        let theirs = issuer.issue(&for_audience(Some("another-service"))).unwrap();
        let none = issuer.issue(&for_audience(None)).unwrap();
        // With an audience configured: only tokens naming it.
        let auth = Auth::new(Some(SECRET_A), None, false)
            .unwrap()
            .with_audience(Some("banshi-shifan"));
        assert_eq!(auth.verify(&ours).unwrap().id, "citizen-9");
        assert_eq!(auth.verify(&theirs).unwrap_err().code, Code::Unauthorized);
        assert_eq!(auth.verify(&none).unwrap_err().code, Code::Unauthorized);
        // Without one: a token meant for some other service is still refused.
        let plain = Auth::new(Some(SECRET_A), None, false).unwrap();
        assert!(plain.verify(&theirs).is_err());
        assert!(plain.verify(&none).is_ok());
    }

    #[test]
    fn hs256_tokens_round_trip_and_a_wrong_secret_is_refused() {
        let auth = Auth::new(Some(SECRET_A), None, false).unwrap();
        let token = auth.issue(&claims(vec![Role::Citizen], expiry_in(60))).unwrap();
        let user = auth.verify(&token).unwrap();
        assert_eq!((user.id.as_str(), user.has(Role::Citizen)), ("citizen-9", true));
        let other = Auth::new(Some(SECRET_B), None, false).unwrap();
        assert!(other.verify(&token).is_err());
    }

    #[test]
    fn expired_and_garbage_tokens_are_refused() {
        let auth = Auth::new(Some(SECRET_A), None, false).unwrap();
        let expired = auth.issue(&claims(vec![Role::Citizen], 1_000)).unwrap();
        assert_eq!(auth.verify(&expired).unwrap_err().code, Code::Unauthorized);
        assert!(auth.verify("not.a.token").is_err());
    }

    #[test]
    fn rs256_tokens_are_verified_with_the_jwks_file() {
        let auth = Auth::new(None, Some(Path::new(&format!("{DATA}/jwks-test.json"))), false).unwrap();
        let pem = std::fs::read(format!("{DATA}/rs256-test-private.pem")).unwrap();
        let key = EncodingKey::from_rsa_pem(&pem).unwrap();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("test-key-1".into());
        let token = encode(&header, &claims(vec![Role::Company], expiry_in(60)), &key).unwrap();
        assert!(auth.verify(&token).unwrap().has(Role::Company));
        // Without an HS256 secret, an HS256 token cannot be accepted.
        let forged = Auth::new(Some(SECRET_B), None, false)
            .unwrap()
            .issue(&claims(vec![Role::Admin], expiry_in(60)))
            .unwrap();
        assert!(auth.verify(&forged).is_err());
    }

    #[test]
    fn an_unreadable_jwks_file_is_a_clear_error() {
        let err = Auth::new(None, Some(Path::new("/nonexistent/jwks.json")), false)
            .err()
            .unwrap();
        assert!(err.to_string().contains("cannot read JWKS file"), "{err}");
    }

    #[test]
    fn a_short_hs256_secret_is_refused_clearly() {
        let err = Auth::new(Some("change-me"), None, true).err().unwrap();
        assert!(matches!(err, AuthConfigError::WeakSecret { n_bytes: 9 }), "{err}");
        assert!(err.to_string().contains("at least 32"), "{err}");
        assert!(Auth::new(Some(&"k".repeat(MIN_SECRET_BYTES)), None, true).is_ok());
    }

    #[tokio::test]
    async fn the_stored_secret_is_shared_by_every_store_on_the_database() {
        for db in backend::testing::TestDb::all().await {
            let (first, second) = (db.open().await, db.open().await);
            let (a, b) = tokio::join!(stored_secret(&first), stored_secret(&second));
            let (a, b) = (a.unwrap(), b.unwrap());
            assert_eq!(a, b, "{}", db.label);
            assert!(a.len() >= MIN_SECRET_BYTES, "{a}");
            let issuer = Auth::new(Some(&a), None, true).unwrap();
            let token = issuer.issue(&claims(vec![Role::Citizen], expiry_in(60))).unwrap();
            let verifier = Auth::new(Some(&b), None, false).unwrap();
            assert_eq!(verifier.verify(&token).unwrap().id, "citizen-9", "{}", db.label);
            first.close().await;
            second.close().await;
            db.cleanup().await;
        }
    }
}

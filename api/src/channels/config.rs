//! The channels file (`--channels-file`, `BANSHI_CHANNELS_FILE`): one `[wechat.<account>]`
//! per official account and one `[wecom.<agent>]` per WeCom app, checked at start; an error
//! names the file and line. Secrets are never printed (`Debug` leaves them out).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::crypto::MessageCrypt;
use super::outbound::Target;

/// How an official account's messages arrive (the platform's 消息加解密方式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// 明文模式: nothing encrypted.
    Plain,
    /// 兼容模式: both, the reply as the message came.
    Compatible,
    /// 安全模式: everything encrypted; a plain message is refused.
    #[default]
    Safe,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWechat {
    token: String,
    encoding_aes_key: Option<toml::Spanned<String>>,
    /// The key before the last change, still accepted while the platform switches over.
    previous_encoding_aes_key: Option<toml::Spanned<String>>,
    app_id: String,
    #[serde(default)]
    app_secret: String,
    #[serde(default)]
    mode: Mode,
    /// A request for a human goes to the account's own customer-service staff (the platform's
    /// transfer_customer_service); otherwise the reply names the hotline.
    #[serde(default)]
    transfer_to_human: bool,
    /// Menu keys (CLICK events) and the message each one stands for.
    #[serde(default)]
    menu: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWecom {
    token: String,
    encoding_aes_key: toml::Spanned<String>,
    corp_id: String,
    #[serde(default)]
    secret: String,
    /// The app's AgentID (default: the table's name).
    #[serde(default)]
    agent_id: Option<String>,
    #[serde(default)]
    menu: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// Where citizens open a guide page (https://banshi.example.gov.cn): replies link to it.
    #[serde(default)]
    public_url: Option<String>,
    /// The platforms' API addresses (for the messages sent after the passive reply).
    #[serde(default)]
    api_base: Option<String>,
    #[serde(default)]
    wecom_api_base: Option<String>,
    #[serde(default)]
    wechat: BTreeMap<String, FileWechat>,
    #[serde(default)]
    wecom: BTreeMap<String, FileWecom>,
}

/// One official account, ready to use.
pub struct Wechat {
    pub token: String,
    pub app_id: String,
    pub app_secret: String,
    pub mode: Mode,
    pub transfer_to_human: bool,
    pub menu: BTreeMap<String, String>,
    /// The current key first, then the previous one.
    pub crypts: Vec<MessageCrypt>,
}

/// One WeCom app.
pub struct Wecom {
    pub token: String,
    pub corp_id: String,
    pub secret: String,
    pub agent_id: String,
    pub menu: BTreeMap<String, String>,
    pub crypt: MessageCrypt,
}

impl Wechat {
    /// Where the outbound API reaches one of this account's users.
    pub fn target(&self, openid: &str) -> Target {
        Target::Wechat {
            app_id: self.app_id.clone(),
            app_secret: self.app_secret.clone(),
            openid: openid.to_string(),
        }
    }
}

impl Wecom {
    /// Where the outbound API reaches one of this app's users.
    pub fn target(&self, userid: &str) -> Target {
        Target::Wecom {
            corp_id: self.corp_id.clone(),
            secret: self.secret.clone(),
            agent_id: self.agent_id.clone(),
            userid: userid.to_string(),
        }
    }
}

impl std::fmt::Debug for Wechat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wechat")
            .field("app_id", &self.app_id)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Wecom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wecom")
            .field("corp_id", &self.corp_id)
            .finish_non_exhaustive()
    }
}

/// Every configured channel account.
pub struct Channels {
    pub public_url: Option<String>,
    /// The outbound API (an HTTPS client of `api_base` and `wecom_api_base` unless replaced).
    pub sender: std::sync::Arc<dyn super::outbound::Sender>,
    /// How long an answer that missed the window waits for the platform's retry to take it
    /// before it is sent through the outbound API instead.
    pub delivery_grace: std::time::Duration,
    /// How long a message waits for its answer before the platform is told `success` (the
    /// platform gives up at 5 seconds and retries; the retry gets the answer when ready).
    pub reply_window: std::time::Duration,
    pub wechat: BTreeMap<String, Wechat>,
    pub wecom: BTreeMap<String, Wecom>,
}

/// Within the platforms' 5 seconds, with room for the network.
pub const REPLY_WINDOW: std::time::Duration = std::time::Duration::from_millis(4500);

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channels")
            .field("public_url", &self.public_url)
            .field("reply_window", &self.reply_window)
            .field("wechat", &self.wechat)
            .field("wecom", &self.wecom)
            .finish_non_exhaustive()
    }
}

pub const DEFAULT_WECOM_API_BASE: &str = "https://qyapi.weixin.qq.com";

/// The platform retries 5 seconds after its first try: the retry usually takes a late answer.
pub const DELIVERY_GRACE: std::time::Duration = std::time::Duration::from_secs(6);

impl Default for Channels {
    fn default() -> Channels {
        Channels {
            public_url: None,
            sender: std::sync::Arc::new(super::outbound::HttpSender::new(
                DEFAULT_API_BASE,
                DEFAULT_WECOM_API_BASE,
            )),
            delivery_grace: DELIVERY_GRACE,
            reply_window: REPLY_WINDOW,
            wechat: BTreeMap::new(),
            wecom: BTreeMap::new(),
        }
    }
}

pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";

fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

impl Channels {
    /// Where the outbound API reaches a user of a configured account (channel wechat or
    /// wecom); `None` for another channel or an account no longer configured.
    pub fn target(&self, channel: &str, account: &str, user: &str) -> Option<Target> {
        match channel {
            "wechat" => Some(self.wechat.get(account)?.target(user)),
            "wecom" => Some(self.wecom.get(account)?.target(user)),
            _ => None,
        }
    }

    pub fn load(path: &Path) -> anyhow::Result<Channels> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| anyhow::anyhow!("{}: 无法读取渠道配置文件: {err}", path.display()))?;
        Channels::parse(&text, &path.display().to_string())
    }

    /// Parses and checks the file's text; `name` is how errors name the file.
    pub fn parse(text: &str, name: &str) -> anyhow::Result<Channels> {
        let file: File = toml::from_str(text).map_err(|err| {
            let line = err.span().map_or(1, |span| line_of(text, span.start));
            anyhow::anyhow!("{name}:{line}: {}", err.message())
        })?;
        let key = |spanned: &toml::Spanned<String>, receiver: &str| {
            MessageCrypt::new(spanned.get_ref(), receiver)
                .map_err(|err| anyhow::anyhow!("{name}:{}: {err}", line_of(text, spanned.span().start)))
        };
        let mut channels = Channels {
            public_url: file.public_url.map(|u| u.trim_end_matches('/').to_string()),
            sender: std::sync::Arc::new(super::outbound::HttpSender::new(
                file.api_base.as_deref().unwrap_or(DEFAULT_API_BASE),
                file.wecom_api_base.as_deref().unwrap_or(DEFAULT_WECOM_API_BASE),
            )),
            ..Channels::default()
        };
        for (account, wechat) in file.wechat {
            if wechat.token.is_empty() || wechat.app_id.is_empty() {
                anyhow::bail!("{name}: [wechat.{account}] 需要 token 和 app_id");
            }
            let mut crypts = Vec::new();
            if let Some(current) = &wechat.encoding_aes_key {
                crypts.push(key(current, &wechat.app_id)?);
            }
            if let Some(previous) = &wechat.previous_encoding_aes_key {
                crypts.push(key(previous, &wechat.app_id)?);
            }
            if crypts.is_empty() && wechat.mode != Mode::Plain {
                anyhow::bail!("{name}: [wechat.{account}] 安全模式或兼容模式需要 encoding_aes_key");
            }
            channels.wechat.insert(
                account,
                Wechat {
                    token: wechat.token,
                    app_id: wechat.app_id,
                    app_secret: wechat.app_secret,
                    mode: wechat.mode,
                    transfer_to_human: wechat.transfer_to_human,
                    menu: wechat.menu,
                    crypts,
                },
            );
        }
        for (agent, wecom) in file.wecom {
            if wecom.token.is_empty() || wecom.corp_id.is_empty() {
                anyhow::bail!("{name}: [wecom.{agent}] 需要 token 和 corp_id");
            }
            let crypt = key(&wecom.encoding_aes_key, &wecom.corp_id)?;
            let agent_id = wecom.agent_id.unwrap_or_else(|| agent.clone());
            channels.wecom.insert(
                agent,
                Wecom {
                    token: wecom.token,
                    corp_id: wecom.corp_id,
                    secret: wecom.secret,
                    agent_id,
                    menu: wecom.menu,
                    crypt,
                },
            );
        }
        Ok(channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
public_url = "https://banshi.example.gov.cn/"

[wechat.demo]
token = "pamtest"
encoding_aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
app_id = "wxb11529c136998cb6"
app_secret = "never-printed"
mode = "safe"
menu = { STATUS = "查进度", HUMAN = "转人工" }

[wecom.hall]
token = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
encoding_aes_key = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
corp_id = "ww1436e0e65a779aee"
"#;

    #[test]
    fn a_file_with_both_platforms_loads_and_keeps_its_secrets() {
        let channels = Channels::parse(GOOD, "channels.toml").unwrap();
        assert_eq!(channels.public_url.as_deref(), Some("https://banshi.example.gov.cn"));
        let demo = &channels.wechat["demo"];
        assert_eq!(demo.mode, Mode::Safe);
        assert_eq!(demo.menu["HUMAN"], "转人工");
        assert_eq!(demo.crypts.len(), 1);
        assert!(channels.wecom.contains_key("hall"));
        let debug = format!("{channels:?}");
        assert!(
            !debug.contains("never-printed") && !debug.contains("pamtest"),
            "{debug}"
        );
    }

    #[test]
    fn the_sample_file_in_the_repository_loads() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../channels.sample.toml");
        let channels = Channels::load(&path).unwrap();
        assert_eq!(channels.wechat["shifan"].menu["BIND"], "@bind");
        assert_eq!(channels.wecom["hall"].agent_id, "1000002");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let short_key = GOOD.replace("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "short");
        let err = Channels::parse(&short_key, "channels.toml").unwrap_err().to_string();
        assert!(err.starts_with("channels.toml:6:"), "{err}");
        assert!(err.contains("EncodingAESKey"), "{err}");

        let bad_mode = GOOD.replace("mode = \"safe\"", "mode = \"secret\"");
        let err = Channels::parse(&bad_mode, "channels.toml").unwrap_err().to_string();
        assert!(err.starts_with("channels.toml:9:"), "{err}");

        let typo = GOOD.replace("app_secret", "app_secert");
        let err = Channels::parse(&typo, "channels.toml").unwrap_err().to_string();
        assert!(err.starts_with("channels.toml:8:"), "{err}");
    }
}

//! The server's configuration (`banshi serve`) and the knowledge options every command
//! shares, as clap arguments with environment variables. The other subcommands are the `cli`
//! crate's.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/banshi.db";

#[derive(Debug, Clone, Args)]
pub struct KnowledgeArgs {
    /// Folder with guides/, lexicon.toml, departments.toml, e_licenses.toml
    /// [default: ./knowledge/data, else the sample corpus this binary was built with].
    #[arg(long, env = "BANSHI_KNOWLEDGE_DIR")]
    pub knowledge_dir: Option<PathBuf>,
    /// How Chinese text is segmented for the index.
    #[arg(long, env = "BANSHI_SEGMENTATION", default_value = "jieba-bigram", value_parser = parse_segmentation)]
    pub segmentation: index::Segmentation,
    /// Folder with the model files from scripts/fetch-models.sh (e5-small-q4.bin), or an HF
    /// model folder; embeddings and trained heads are cached in its `cache/` [default: ./.cache/models].
    #[arg(long, env = "BANSHI_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Retrieval: bm25, dense or hybrid (without the model files every mode is bm25).
    #[arg(long, env = "BANSHI_MODE", default_value = "hybrid", value_parser = parse_mode)]
    pub mode: bot::Mode,
    /// Fusion of BM25 and dense scores: rrf, weighted or weighted:W (W = dense weight).
    #[arg(long, env = "BANSHI_FUSION", default_value = "weighted", value_parser = parse_fusion)]
    pub fusion: bot::Fusion,
}

fn parse_mode(text: &str) -> Result<bot::Mode, String> {
    text.parse()
}

fn parse_fusion(text: &str) -> Result<bot::Fusion, String> {
    text.parse()
}

fn parse_segmentation(text: &str) -> Result<index::Segmentation, String> {
    text.parse()
}

impl KnowledgeArgs {
    pub fn dir(&self) -> PathBuf {
        self.knowledge_dir.clone().unwrap_or_else(knowledge::default_data_dir)
    }

    /// The model folder: configured, else `./.cache/models`, else the one beside this build's sources.
    pub fn model_dir(&self) -> PathBuf {
        if let Some(dir) = &self.model_dir {
            return dir.clone();
        }
        let local = PathBuf::from(".cache/models");
        if local.is_dir() {
            return local;
        }
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.cache/models"))
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "BANSHI_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// sqlite://PATH (default) or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    #[command(flatten)]
    pub knowledge: KnowledgeArgs,
    /// Refuse to start (and refuse reloads) when any guide is invalid, instead of skipping it.
    #[arg(long, env = "BANSHI_STRICT")]
    pub strict: bool,
    /// Delete conversations not used for this many days.
    #[arg(long, env = "BANSHI_RETENTION_DAYS", default_value_t = 180)]
    pub retention_days: u32,
    /// Requests per minute allowed from one client address.
    #[arg(long, env = "BANSHI_RATE_LIMIT_PER_MINUTE", default_value_t = 120)]
    pub rate_limit_per_minute: u32,
    /// How often the knowledge folder is checked for changes, in seconds (0: never).
    #[arg(long, env = "BANSHI_RELOAD_INTERVAL_SECS", default_value_t = 2)]
    pub reload_interval_secs: u64,
    /// Log format.
    #[arg(long, env = "BANSHI_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Secret for HS256 tokens (统一身份认证), at least 32 bytes. Without one, the development
    /// provider signs with a random secret generated once and kept in the database, so
    /// restarts and replicas keep their sessions.
    #[arg(long, env = "BANSHI_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// JWKS file with the identity provider's RS256 public keys.
    #[arg(long, env = "BANSHI_JWKS_FILE")]
    pub jwks_file: Option<std::path::PathBuf>,
    /// The `aud` every token must carry (the identity provider's client id for banshi); a
    /// token for another audience is refused. Without it, tokens that name any audience are.
    #[arg(long, env = "BANSHI_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// Days within which a citizen may change a rating (好差评).
    #[arg(long, env = "BANSHI_RATING_WINDOW_DAYS", default_value_t = 7)]
    pub rating_window_days: u32,
    /// Working days a department has to rectify after a bad rating.
    #[arg(long, env = "BANSHI_RECTIFICATION_DAYS", default_value_t = 5)]
    pub rectification_days: u32,
    /// Development identity provider (demo users log in without a password through
    /// POST /api/v1/dev/login): on only when asked for. Never on a public address.
    #[arg(long, env = "BANSHI_DEV_LOGIN", value_enum, default_value_t = DevLogin::Off)]
    pub dev_login: DevLogin,
    /// Messaging platforms (WeChat official accounts, WeCom apps): a TOML file with
    /// `[wechat.<account>]` and `[wecom.<agent>]` tables (see the README).
    #[arg(long, env = "BANSHI_CHANNELS_FILE")]
    pub channels_file: Option<std::path::PathBuf>,
    /// Web origins allowed to call the JSON API from a browser, comma-separated
    /// (https://www.example.gov.cn); none by default.
    #[arg(long, env = "BANSHI_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// When human agents answer a hand-over (转人工), every day in China time, as
    /// HH:MM-HH:MM; outside them a call-back 12345 ticket is offered. Default: around the clock.
    #[arg(long, env = "BANSHI_AGENT_HOURS")]
    pub agent_hours: Option<crate::state::AgentHours>,
    /// Conversation turns computed at once (default: two per core).
    #[arg(long, env = "BANSHI_TURN_WORKERS")]
    pub turn_workers: Option<usize>,
    /// Turns that may wait for a worker; past them a turn is refused at once with 503 and
    /// `Retry-After` (overload sheds instead of slowing everyone down).
    #[arg(long, env = "BANSHI_TURN_QUEUE", default_value_t = 128)]
    pub turn_queue: usize,
    /// On SIGTERM or ctrl-c: seconds to finish the turns already received (new connections
    /// are refused, `/readyz` answers 503 `stopping`, live views end) before stopping anyway.
    #[arg(long, env = "BANSHI_DRAIN_SECS", default_value_t = 30)]
    pub drain_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DevLogin {
    On,
    Off,
    /// Kept so that an old `BANSHI_DEV_LOGIN=auto` still starts; it now means off (it used
    /// to mean on whenever the server listened on loopback).
    #[value(hide = true)]
    Auto,
}

impl ServeConfig {
    /// Only an explicit `--dev-login on` turns the development provider on.
    pub fn dev_login_enabled(&self) -> bool {
        self.dev_login == DevLogin::On
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

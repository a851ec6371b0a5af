//! Command-line and environment configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/banshi.db";

#[derive(Debug, Parser)]
#[command(
    name = "banshi",
    version,
    about = "办事: a self-hosted assistant for government services"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeConfig),
    /// Search the guides (no server needed, writes nothing).
    Search(SearchArgs),
    /// Ask a question as a citizen would (no server needed, writes nothing).
    Ask(AskArgs),
    /// Knowledge base tools.
    Knowledge {
        #[command(subcommand)]
        command: KnowledgeCommand,
    },
    /// Search index tools.
    Index {
        #[command(subcommand)]
        command: IndexCommand,
    },
    /// Score retrieval and intents on a dataset (or `eval tickets`: ticket routing).
    Eval(EvalArgs),
    /// Train the intent and ticket-routing heads on the encoder (saved in the model cache).
    Train(KnowledgeArgs),
    /// Measure speed and memory: model load, query embedding, ask end to end, and the C engine.
    Bench(KnowledgeArgs),
    /// 12345 ticket tools.
    Ticket {
        #[command(subcommand)]
        command: TicketCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TicketCommand {
    /// Classify messages: one per line in, one {"category", "department", "confidence"} per line out.
    Classify {
        #[arg(long)]
        json: bool,
        #[arg(long, value_name = "FILE")]
        batch: PathBuf,
        #[command(flatten)]
        knowledge: KnowledgeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Ticket routing accuracy on labelled messages (JSONL with title, detail, label_l1).
    ///
    /// With `--cv K` instead of a dataset: K-fold cross-validation on our own examples,
    /// comparing the classifiers.
    Tickets {
        #[arg(long, required_unless_present = "cv")]
        dataset: Option<PathBuf>,
        /// Cross-validate on `knowledge/data/ticket_examples.toml` with this many folds.
        #[arg(long, conflicts_with = "dataset")]
        cv: Option<usize>,
        /// bayes, head or ensemble (the default; Bayes alone without the model).
        #[arg(long, env = "BANSHI_TICKET_CLASSIFIER", default_value = "ensemble")]
        classifier: bot::routing::Classifier,
        #[command(flatten)]
        knowledge: KnowledgeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum KnowledgeCommand {
    /// Validate every file; prints `path:line: reason`, exits non-zero on errors.
    Check(KnowledgeArgs),
}

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Build the index on disk and print its statistics.
    Build {
        #[command(flatten)]
        knowledge: KnowledgeArgs,
        /// Folder for the index files (emptied first).
        #[arg(long, env = "BANSHI_INDEX_DIR", default_value = "data/index")]
        index_dir: PathBuf,
    },
}

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
    /// Secret for HS256 tokens (统一身份认证). Without one, the development provider signs
    /// with a random secret of this process.
    #[arg(long, env = "BANSHI_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// JWKS file with the identity provider's RS256 public keys.
    #[arg(long, env = "BANSHI_JWKS_FILE")]
    pub jwks_file: Option<std::path::PathBuf>,
    /// Days within which a citizen may change a rating (好差评).
    #[arg(long, env = "BANSHI_RATING_WINDOW_DAYS", default_value_t = 7)]
    pub rating_window_days: u32,
    /// Working days a department has to rectify after a bad rating.
    #[arg(long, env = "BANSHI_RECTIFICATION_DAYS", default_value_t = 5)]
    pub rectification_days: u32,
    /// Development identity provider (demo users, POST /api/v1/dev/login): auto = on when
    /// listening on a loopback address, off otherwise.
    #[arg(long, env = "BANSHI_DEV_LOGIN", value_enum, default_value_t = DevLogin::Auto)]
    pub dev_login: DevLogin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DevLogin {
    Auto,
    On,
    Off,
}

impl ServeConfig {
    pub fn dev_login_enabled(&self) -> bool {
        match self.dev_login {
            DevLogin::On => true,
            DevLogin::Off => false,
            DevLogin::Auto => self.addr.ip().is_loopback(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    /// Print JSON: {"hits": [{"id", "title", "score"}]}.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
    #[command(flatten)]
    pub knowledge: KnowledgeArgs,
    pub query: String,
}

#[derive(Debug, Clone, Args)]
pub struct AskArgs {
    /// Print JSON: {"intent", "guides", "answer", "citations"}.
    #[arg(long)]
    pub json: bool,
    /// Read one question per line from FILE and print one answer per line.
    #[arg(long, value_name = "FILE", conflicts_with = "query")]
    pub batch: Option<PathBuf>,
    #[command(flatten)]
    pub knowledge: KnowledgeArgs,
    #[arg(required_unless_present = "batch")]
    pub query: Option<String>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub command: Option<EvalCommand>,
    /// JSONL dataset: {"query", "intent", "expected": [ids], "style"}.
    #[arg(long, default_value = "evals/data/queries.jsonl")]
    pub dataset: PathBuf,
    #[command(flatten)]
    pub knowledge: KnowledgeArgs,
    /// Also list every miss.
    #[arg(long)]
    pub misses: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print each case's retrieval features (TSV) instead of the report, for tuning.
    #[arg(long)]
    pub features: bool,
}

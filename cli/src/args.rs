//! The `banshi` command line: every subcommand and its arguments. The server's own
//! configuration (`ServeConfig`) and the shared knowledge options live in `api::config`.

use std::path::PathBuf;

use api::config::{KnowledgeArgs, ServeConfig};
use clap::{Args, Parser, Subcommand};

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
    Bench(BenchArgs),
    /// Drive realistic conversations against a real server and print throughput, latency per
    /// kind of turn, errors, shed turns and the server's memory and CPU.
    Loadtest(crate::loadtest::LoadArgs),
    /// Copy the SQLite database while the server runs (a consistent snapshot).
    Backup(BackupArgs),
    /// What citizens asked that no guide answered, grouped by meaning, largest first.
    Gaps(GapsArgs),
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
    /// Multi-turn conversations (JSONL: {"id", "style", "turns": [{"user", "intent",
    /// "expected", "facet", "ordinal"}]}): turn, follow-up and ordinal accuracy.
    Conversations {
        #[arg(long)]
        dataset: PathBuf,
        /// Also list every wrong turn.
        #[arg(long)]
        misses: bool,
        #[command(flatten)]
        knowledge: KnowledgeArgs,
    },
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
    /// Turn a service-catalogue export (.csv in UTF-8, .xlsx, .xls, .ods) into guides/<id>.toml;
    /// prints `file:row: reason` for each row left out, exits non-zero when any was.
    Import(ImportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The catalogue export.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Which column feeds which field, how cells are split, departments and ids
    /// (see knowledge/import-sample/mapping.toml).
    #[arg(long, value_name = "MAPPING")]
    pub mapping: PathBuf,
    /// The knowledge folder to write guides/ into. Required (or BANSHI_KNOWLEDGE_DIR): an
    /// import writes files, so it never falls back to the sample corpus.
    #[arg(long, env = "BANSHI_KNOWLEDGE_DIR", value_name = "DIR")]
    pub knowledge_dir: PathBuf,
    /// Say what would be new or changed, write nothing.
    #[arg(long)]
    pub dry_run: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_config(args: &[&str]) -> ServeConfig {
        let cli = Cli::try_parse_from(["banshi", "serve"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Serve(config) => config,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dev_login_is_on_only_when_asked_for() {
        // Loopback used to turn it on by itself.
        assert!(!serve_config(&["--addr", "127.0.0.1:8080", "--dev-login", "off"]).dev_login_enabled());
        assert!(!serve_config(&["--addr", "127.0.0.1:8080", "--dev-login", "auto"]).dev_login_enabled());
        assert!(serve_config(&["--addr", "0.0.0.0:8080", "--dev-login", "on"]).dev_login_enabled());
    }
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Instead: generate a corpus of this many guides (the sample's, copied per district)
    /// and measure a real server on it: the first answer after start, the time to hybrid
    /// search with an empty and a full embedding cache, RSS, cache size, chat p50/p99.
    #[arg(long, value_name = "N")]
    pub corpus_scale: Option<usize>,
    #[command(flatten)]
    pub knowledge: KnowledgeArgs,
}

#[derive(Debug, Args)]
pub struct GapsArgs {
    /// The server's database.
    #[arg(long, env = "DATABASE_URL", default_value = api::config::DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// The last this many days.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// List the largest this many topics.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub knowledge: KnowledgeArgs,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The database to copy: sqlite://PATH.
    #[arg(long, env = "DATABASE_URL", default_value = api::config::DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// The new file (it must not exist yet).
    #[arg(long)]
    pub to: std::path::PathBuf,
}

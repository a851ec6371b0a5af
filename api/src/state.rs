//! The state shared by every request.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use backend::Store;
use bot::Engine;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// How the knowledge folder is loaded, at start and on every reload.
#[derive(Debug, Clone)]
pub struct KnowledgeSource {
    pub dir: PathBuf,
    pub strict: bool,
    pub index: index::IndexConfig,
    /// The encoder (loaded once, kept across reloads) and the cache folder for embeddings and heads.
    pub model: Option<ModelSetup>,
}

#[derive(Debug, Clone)]
pub struct ModelSetup {
    pub encoder: Arc<models::Encoder>,
    pub cache_dir: PathBuf,
    pub mode: bot::Mode,
    pub fusion: bot::Fusion,
}

/// Loads the encoder from `model_dir` (the E5S1 file, or an HF folder); `None`, said loudly,
/// when the files are missing: the assistant then runs on BM25 alone.
pub fn load_model(model_dir: &Path, mode: bot::Mode, fusion: bot::Fusion) -> Option<ModelSetup> {
    if mode == bot::Mode::Bm25 {
        return None;
    }
    let file = model_dir.join("e5-small-q4.bin");
    let path = if file.is_file() {
        file
    } else if model_dir.join("config.json").is_file() {
        model_dir.to_path_buf()
    } else {
        tracing::warn!(dir = %model_dir.display(), "model files missing: DEGRADED MODE, BM25 only (run scripts/fetch-models.sh)");
        return None;
    };
    let started = std::time::Instant::now();
    match models::Encoder::load(&path) {
        Ok(encoder) => {
            tracing::info!(path = %path.display(), elapsed_ms = started.elapsed().as_millis() as u64, "encoder loaded");
            Some(ModelSetup {
                encoder: Arc::new(encoder),
                cache_dir: model_dir.join("cache"),
                mode,
                fusion,
            })
        }
        Err(err) => {
            tracing::error!(error = %err, path = %path.display(), "cannot load the encoder: DEGRADED MODE, BM25 only");
            None
        }
    }
}

impl KnowledgeSource {
    /// Loads and indexes the folder. Invalid guides are skipped with a warning, or, in strict
    /// mode, refuse the whole load.
    pub fn load(&self) -> anyhow::Result<Engine> {
        load_engine(&self.dir, self.strict, self.index, None, self.model.as_ref())
    }

    /// The folder's fingerprint now: take it before `load` and hand it to the reloader.
    pub fn fingerprint(&self) -> Option<u64> {
        knowledge::fingerprint(&self.dir).ok()
    }

    /// A reload: like `load`, but a guide whose file broke keeps its version in `previous`.
    pub fn reload(&self, previous: &knowledge::Corpus) -> anyhow::Result<Engine> {
        load_engine(&self.dir, self.strict, self.index, Some(previous), self.model.as_ref())
    }
}

pub fn load_engine(
    dir: &Path,
    strict: bool,
    config: index::IndexConfig,
    previous: Option<&knowledge::Corpus>,
    model: Option<&ModelSetup>,
) -> anyhow::Result<Engine> {
    let mut outcome = knowledge::Corpus::load(dir)?;
    for diagnostic in &outcome.diagnostics {
        tracing::warn!(%diagnostic, "knowledge file problem");
    }
    let corpus = if strict {
        outcome.into_strict()?
    } else {
        if outcome.n_errors() > 0 {
            tracing::warn!(
                n_errors = outcome.n_errors(),
                "invalid guides skipped (use --strict to refuse)"
            );
            if let Some(previous) = previous {
                for id in outcome.keep_last_good(previous) {
                    tracing::warn!(guide = %id, "guide file is invalid: serving its last good version");
                }
            }
        }
        outcome.corpus
    };
    let mut engine = match model {
        Some(model) => Engine::with_encoder(corpus, config, model.encoder.clone(), Some(&model.cache_dir))?,
        None => Engine::new(corpus, config)?,
    };
    if let Some(model) = model {
        engine.mode = model.mode;
        engine.fusion = model.fusion;
    }
    Ok(engine)
}

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<ArcSwap<Engine>>,
    pub store: Store,
    pub limiter: Arc<DefaultKeyedRateLimiter<std::net::IpAddr>>,
    pub auth: Arc<crate::auth::Auth>,
    pub clock: Arc<dyn crate::clock::Clock>,
    /// Days within which a rating may still be changed.
    pub rating_window_days: u32,
    /// Working days a department has to rectify after a bad rating.
    pub rectification_days: u32,
    /// The messaging platforms' accounts (WeChat, WeCom); none unless configured.
    pub channels: Arc<crate::channels::Channels>,
    /// Web origins (a mini-program's web view, a portal) allowed to call the JSON API from a
    /// browser; none unless configured.
    pub cors_origins: Vec<String>,
}

impl AppState {
    /// With a development identity provider signing with a fresh random secret (tests,
    /// local runs); use [`AppState::with_auth`] for configured identity.
    pub fn new(engine: impl Into<Arc<Engine>>, store: Store, requests_per_minute: u32) -> AppState {
        let secret = uuid::Uuid::new_v4().to_string();
        let auth = crate::auth::Auth::new(Some(&secret), None, true).expect("no JWKS file to read");
        AppState::with_auth(engine, store, requests_per_minute, auth)
    }

    /// With the development identity provider signing with the secret kept in the database,
    /// as `banshi serve --dev-login on` without a configured secret: every state built on the
    /// same database accepts the others' tokens.
    pub async fn with_stored_secret(
        engine: impl Into<Arc<Engine>>,
        store: Store,
        requests_per_minute: u32,
    ) -> anyhow::Result<AppState> {
        let secret = crate::auth::stored_secret(&store).await?;
        let auth = crate::auth::Auth::new(Some(&secret), None, true)?;
        Ok(AppState::with_auth(engine, store, requests_per_minute, auth))
    }

    pub fn with_auth(
        engine: impl Into<Arc<Engine>>,
        store: Store,
        requests_per_minute: u32,
        auth: crate::auth::Auth,
    ) -> AppState {
        let per_minute = std::num::NonZeroU32::new(requests_per_minute.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
        AppState {
            engine: Arc::new(ArcSwap::new(engine.into())),
            store,
            limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
            auth: Arc::new(auth),
            clock: Arc::new(crate::clock::SystemClock),
            rating_window_days: 7,
            rectification_days: 5,
            channels: Arc::new(crate::channels::Channels::default()),
            cors_origins: Vec::new(),
        }
    }
}

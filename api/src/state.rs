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

    /// Serving from the first second: the folder with BM25 and the rules only (no encoder),
    /// then [`KnowledgeSource::embed`] off the executor for the full engine.
    pub fn load_bm25(&self) -> anyhow::Result<Engine> {
        let mut engine = load_engine(&self.dir, self.strict, self.index, None, None)?;
        if let Some(model) = &self.model {
            engine.fusion = model.fusion;
        }
        Ok(engine)
    }

    /// The full engine (the encoder's chunk embeddings, cached by text, and the heads), with
    /// its progress shown in `progress`.
    pub fn embed(&self, progress: &bot::semantic::Progress) -> anyhow::Result<Engine> {
        load_engine_with(
            &self.dir,
            self.strict,
            self.index,
            None,
            self.model.as_ref(),
            Some(progress),
            true,
        )
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
    load_engine_with(dir, strict, config, previous, model, None, false)
}

/// [`load_engine`] showing the embedding's progress in `progress` (a CLI's bar).
pub fn load_engine_showing(
    dir: &Path,
    config: index::IndexConfig,
    model: Option<&ModelSetup>,
    progress: &bot::semantic::Progress,
) -> anyhow::Result<Engine> {
    load_engine_with(dir, false, config, None, model, Some(progress), false)
}

fn load_engine_with(
    dir: &Path,
    strict: bool,
    config: index::IndexConfig,
    previous: Option<&knowledge::Corpus>,
    model: Option<&ModelSetup>,
    progress: Option<&bot::semantic::Progress>,
    quiet: bool,
) -> anyhow::Result<Engine> {
    let mut outcome = knowledge::Corpus::load(dir)?;
    // The second load at start (the full engine after the BM25 one) does not repeat them.
    for diagnostic in outcome.diagnostics.iter().filter(|_| !quiet) {
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
        Some(model) => {
            Engine::with_encoder_progress(corpus, config, model.encoder.clone(), Some(&model.cache_dir), progress)?
        }
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
    /// When human agents answer (China time); none: around the clock, as 12345 is.
    pub agent_hours: Option<AgentHours>,
    /// Wakes the live views of a conversation (`/api/v1/sessions/{id}/events`) in this
    /// process when a line is added; other replicas' views find it on their next look.
    pub live: tokio::sync::broadcast::Sender<String>,
    /// The turns computed at once, and the bounded queue in front of them: past it, a turn is
    /// refused at once with 503 and `Retry-After` instead of waiting without end.
    pub admission: Arc<Admission>,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Set once the server is asked to stop: `/readyz` says so (a load balancer stops sending
    /// new conversations here) and live views end, so that draining waits only for turns.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
    /// The fingerprint of the knowledge folder being served (0 when not known), shown by
    /// `/healthz` so an operator can see that every replica serves the same version.
    pub knowledge_version: Arc<std::sync::atomic::AtomicU64>,
    /// The guides' embeddings computed after start, while BM25 answers: how far they are.
    pub warmup: Option<Arc<bot::semantic::Progress>>,
}

impl AppState {
    /// The served knowledge folder's version, as `/healthz` shows it.
    pub fn knowledge_version(&self) -> String {
        match self.knowledge_version.load(std::sync::atomic::Ordering::Relaxed) {
            0 => "unknown".into(),
            version => format!("{version:016x}"),
        }
    }

    /// Whether the server is draining before it stops.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }
}

/// A bounded queue in front of the assistant's work (the encoder, the index, the database
/// writes of a turn): overload sheds instead of slowing every conversation down.
#[derive(Debug)]
pub struct Admission {
    permits: Arc<tokio::sync::Semaphore>,
    waiting: std::sync::atomic::AtomicUsize,
    max_waiting: usize,
}

impl Admission {
    pub fn new(workers: usize, max_waiting: usize) -> Admission {
        Admission {
            permits: Arc::new(tokio::sync::Semaphore::new(workers.max(1))),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// A place to compute a turn, waiting in the queue when all are busy; `None` when the
    /// queue is full.
    pub async fn enter(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        use std::sync::atomic::Ordering;
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Some(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let permit = self.permits.clone().acquire_owned().await.ok();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit
    }

    /// Whether a turn arriving now would be refused: every place busy and the queue full.
    /// Checked before any database work is done for a turn (its `Idempotency-Key` record),
    /// so that shedding stays free when the database is what is busy.
    pub fn full(&self) -> bool {
        self.permits.available_permits() == 0
            && self.waiting.load(std::sync::atomic::Ordering::SeqCst) >= self.max_waiting
    }

    /// Turns waiting now.
    pub fn queued(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Turns computed at once by default: one per core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Staffed hours of the human agents, every day, in China time: `08:30-20:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentHours {
    /// Minutes after midnight.
    pub start: u32,
    pub end: u32,
}

impl std::str::FromStr for AgentHours {
    type Err = String;

    fn from_str(text: &str) -> Result<AgentHours, String> {
        let minutes = |part: &str| -> Option<u32> {
            let (h, m) = part.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
        };
        let wrong = || format!("人工服务时间“{text}”格式不正确，应为 HH:MM-HH:MM，例如 08:30-20:00。");
        let (start, end) = text.split_once('-').ok_or_else(wrong)?;
        let (start, end) = (minutes(start).ok_or_else(wrong)?, minutes(end).ok_or_else(wrong)?);
        if start >= end {
            return Err(wrong());
        }
        Ok(AgentHours { start, end })
    }
}

impl AgentHours {
    /// Whether `now` (unix ms) falls within the hours, in China time (UTC+8).
    pub fn open_at(&self, now: i64) -> bool {
        let minute = ((now / 60_000 + 8 * 60).rem_euclid(24 * 60)) as u32;
        (self.start..self.end).contains(&minute)
    }

    pub fn show(&self) -> String {
        format!(
            "{:02}:{:02}–{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

impl AppState {
    /// Whether human agents answer now.
    pub fn agents_on_duty(&self) -> bool {
        self.agent_hours.is_none_or(|hours| hours.open_at(self.clock.now()))
    }

    /// Tells this process's live views that `session_id` has a new line or state.
    pub fn touch(&self, session_id: &str) {
        // No receiver is not an error: nobody is watching.
        let _ = self.live.send(session_id.to_string());
    }

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
            agent_hours: None,
            live: tokio::sync::broadcast::channel(1024).0,
            admission: Arc::new(Admission::new(default_workers() * 2, 128)),
            metrics: Arc::new(crate::metrics::Metrics::default()),
            stopping: Arc::new(tokio::sync::watch::channel(false).0),
            knowledge_version: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            warmup: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AgentHours;

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_a_freed_place_is_taken() {
        let admission = std::sync::Arc::new(super::Admission::new(1, 1));
        assert!(!admission.full());
        let first = admission.enter().await.expect("a free place");
        assert!(!admission.full(), "a place in the queue is left");
        let waiting = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.enter().await.is_some() })
        };
        while admission.queued() == 0 {
            tokio::task::yield_now().await;
        }
        // One computing, one waiting: the next is refused without waiting.
        assert!(admission.full());
        assert!(admission.enter().await.is_none());
        drop(first);
        assert!(waiting.await.unwrap());
        assert_eq!(admission.queued(), 0);
    }

    #[test]
    fn agent_hours_are_read_and_checked_in_china_time() {
        let hours: AgentHours = "08:30-20:00".parse().unwrap();
        assert_eq!(hours, AgentHours { start: 510, end: 1200 });
        assert_eq!(hours.show(), "08:30–20:00");
        // 2026-12-01 00:00 UTC is 08:00 in China: closed; 01:00 UTC is 09:00: open.
        let midnight_utc = 1_796_083_200_000_i64;
        assert!(!hours.open_at(midnight_utc));
        assert!(hours.open_at(midnight_utc + 3_600_000));
        assert!(!hours.open_at(midnight_utc + 12 * 3_600_000 + 30 * 60_000));
        for wrong in ["8-20", "20:00-08:00", "08:30", "25:00-26:00", "08:60-09:00"] {
            let err = wrong.parse::<AgentHours>().unwrap_err();
            assert!(err.contains("HH:MM-HH:MM"), "{wrong}: {err}");
        }
        assert!("00:00-24:00".parse::<AgentHours>().is_ok());
    }
}

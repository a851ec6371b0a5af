//! Background tasks of the server: reloading the knowledge folder when it changes, and
//! deleting old conversations.

use std::time::Duration;

use crate::state::{AppState, KnowledgeSource};

/// Polls the folder's fingerprint; on a change, builds a new engine off the executor and
/// swaps it in. A failed load keeps the engine that is serving. `loaded` is the fingerprint
/// taken before the serving engine was read, so a change made meanwhile is not missed.
pub async fn reload_knowledge(state: AppState, source: KnowledgeSource, loaded: Option<u64>, interval: Duration) {
    let mut last = loaded;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let current = match knowledge::fingerprint(&source.dir) {
            Ok(current) => current,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read knowledge folder");
                continue;
            }
        };
        if last == Some(current) {
            continue;
        }
        last = Some(current);
        let loader = source.clone();
        let previous = state.engine.load_full();
        match tokio::task::spawn_blocking(move || loader.reload(&previous.corpus)).await {
            Ok(Ok(engine)) => {
                let n_guides = engine.corpus.len();
                state.engine.store(std::sync::Arc::new(engine));
                state
                    .knowledge_version
                    .store(current, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(n_guides, "knowledge reloaded");
            }
            Ok(Err(err)) => {
                tracing::error!(error = %err, "knowledge reload refused, still serving the previous version")
            }
            Err(err) => tracing::error!(error = %err, "knowledge reload task failed"),
        }
    }
}

/// Deletes conversations not used for `retention_days`, once an hour.
pub async fn purge_old_sessions(state: AppState, retention_days: u32) {
    let mut ticker = tokio::time::interval(Duration::from_secs(3600));
    loop {
        ticker.tick().await;
        let now = state.clock.now();
        let cutoff = now - i64::from(retention_days) * 86_400_000;
        // A retried request comes within minutes; its stored answer is kept a day.
        if let Err(err) = state.store.purge_idempotency_before(now - 86_400_000).await {
            tracing::warn!(error = %err, "idempotency key purge failed");
        }
        match state.store.purge_sessions_before(cutoff).await {
            Ok(0) => {}
            Ok(n_sessions) => tracing::info!(n_sessions, retention_days, "old conversations deleted"),
            Err(err) => tracing::warn!(error = %err, "retention purge failed"),
        }
    }
}

/// One SLA sweep at the state's clock: overdue tickets are supervised (督办) and notified.
pub async fn sweep_once(state: &AppState) -> backend::Result<Vec<String>> {
    let escalated = state.store.sweep_overdue(state.clock.now()).await?;
    if !escalated.is_empty() {
        tracing::warn!(n_tickets = escalated.len(), "overdue tickets escalated");
    }
    Ok(escalated)
}

/// The SLA sweeper, every `interval`.
pub async fn sweep_sla(state: AppState, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(err) = sweep_once(&state).await {
            tracing::warn!(error = %err, "sla sweep failed");
        }
    }
}

/// 服务找人, every `interval` (hourly in the server): each occasion is written once, so
/// running it more often than daily only makes a new reminder appear sooner.
pub async fn remind(state: AppState, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(err) = crate::service::reminders::run(&state, state.clock.now()).await {
            tracing::warn!(error = %err, "reminder job failed");
        }
    }
}

/// Computes the full engine (the guides' embeddings and the heads) off the executor while
/// BM25 answers, logging its progress every 5 s, and swaps it in; then watches the folder
/// (a change made meanwhile is seen: `loaded` was taken before the first load).
pub async fn warm_up_then_reload(
    state: AppState,
    source: KnowledgeSource,
    loaded: Option<u64>,
    progress: Option<std::sync::Arc<bot::semantic::Progress>>,
    reload: Option<Duration>,
) {
    if let Some(progress) = progress {
        let started = std::time::Instant::now();
        let shown = progress.clone();
        let logger = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(5));
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let view = shown.view();
                tracing::info!(
                    phase = view.phase,
                    done = view.done,
                    total = view.total,
                    per_second = format!("{:.1}", view.per_second),
                    eta_s = view.eta_s.map(|s| s.round() as u64),
                    "computing the guides' embeddings (answers use BM25 meanwhile)"
                );
            }
        });
        let loader = source.clone();
        let working = progress.clone();
        match tokio::task::spawn_blocking(move || loader.embed(&working)).await {
            Ok(Ok(engine)) => {
                let view = progress.view();
                state.engine.store(std::sync::Arc::new(engine));
                tracing::info!(
                    embedded = view.done,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "search: hybrid (the guides' embeddings are ready)"
                );
            }
            Ok(Err(err)) => tracing::error!(error = %err, "the guides' embeddings failed: still BM25 only"),
            Err(err) => tracing::error!(error = %err, "the embedding task failed: still BM25 only"),
        }
        logger.abort();
        progress.set_phase("ready");
    }
    if let Some(interval) = reload {
        reload_knowledge(state, source, loaded, interval).await;
    }
}

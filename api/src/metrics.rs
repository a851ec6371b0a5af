//! `GET /metrics`: Prometheus/OpenMetrics text. Turns by intent and outcome, their latency,
//! turns shed by the full queue, the queue's depth, hand-overs waiting, tickets by state and
//! overdue, the encoder's calls and time, the database pool. Counters live in the process (each replica is scraped); the
//! gauges are read from the database at each scrape.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TurnLabels {
    /// service, complaint, status, rating, human, chitchat, out_of_scope; `none` when refused.
    pub intent: String,
    /// answered, held (an agent has it), refused (the citizen's mistake), shed (queue full), failed.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabel {
    connections: String,
}

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    turns: Family<TurnLabels, Counter>,
    turn_seconds: Histogram,
    queue: Gauge,
    handoffs_waiting: Gauge,
    tickets: Family<StateLabel, Gauge>,
    tickets_overdue: Gauge,
    pool: Family<PoolLabel, Gauge>,
    /// The encoder's work, brought up to `models::encoder_use()` at each scrape.
    encoder_calls: Counter,
    encoder_texts: Counter,
    encoder_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    encoder_seen: std::sync::Mutex<models::EncoderUse>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("banshi");
        let turns = Family::<TurnLabels, Counter>::default();
        registry.register("turns", "Conversation turns by intent and outcome", turns.clone());
        let turn_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        registry.register("turn_seconds", "Time to answer a turn", turn_seconds.clone());
        let queue = Gauge::default();
        registry.register("turn_queue", "Turns waiting for a worker", queue.clone());
        let handoffs_waiting = Gauge::default();
        registry.register(
            "handoffs_waiting",
            "Conversations waiting for a human agent",
            handoffs_waiting.clone(),
        );
        let tickets = Family::<StateLabel, Gauge>::default();
        registry.register("tickets", "12345 tickets by state", tickets.clone());
        let tickets_overdue = Gauge::default();
        registry.register(
            "tickets_overdue",
            "Open tickets past their reply deadline",
            tickets_overdue.clone(),
        );
        let pool = Family::<PoolLabel, Gauge>::default();
        registry.register("db_pool", "Database connections, open and idle", pool.clone());
        let encoder_calls = Counter::default();
        registry.register("encoder_calls", "Calls to the sentence encoder", encoder_calls.clone());
        let encoder_texts = Counter::default();
        registry.register(
            "encoder_texts",
            "Texts embedded by the sentence encoder",
            encoder_texts.clone(),
        );
        let encoder_seconds = Counter::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "encoder_seconds",
            "Time spent in the sentence encoder",
            encoder_seconds.clone(),
        );
        Metrics {
            encoder_calls,
            encoder_texts,
            encoder_seconds,
            encoder_seen: std::sync::Mutex::new(models::EncoderUse {
                calls: 0,
                texts: 0,
                micros: 0,
            }),
            registry,
            turns,
            turn_seconds,
            queue,
            handoffs_waiting,
            tickets,
            tickets_overdue,
            pool,
        }
    }
}

impl Metrics {
    /// Counts a turn; `seconds` when it was answered or held.
    pub fn turn(&self, intent: &str, outcome: &str, seconds: Option<f64>) {
        self.turns
            .get_or_create(&TurnLabels {
                intent: intent.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        if let Some(seconds) = seconds {
            self.turn_seconds.observe(seconds);
        }
    }
}

async fn scrape(State(state): State<AppState>) -> Response {
    let metrics = &state.metrics;
    metrics.queue.set(state.admission.queued() as i64);
    if let Ok(waiting) = state.store.handoffs_waiting().await {
        metrics.handoffs_waiting.set(waiting);
    }
    if let Ok((by_state, overdue)) = state.store.ticket_gauges(state.clock.now()).await {
        for (name, n) in by_state {
            metrics.tickets.get_or_create(&StateLabel { state: name }).set(n);
        }
        metrics.tickets_overdue.set(overdue);
    }
    let (open, idle) = state.store.pool_gauges();
    for (which, n) in [("open", open as i64), ("idle", idle as i64)] {
        metrics
            .pool
            .get_or_create(&PoolLabel {
                connections: which.into(),
            })
            .set(n);
    }
    if let Ok(mut seen) = metrics.encoder_seen.lock() {
        let now = models::encoder_use();
        metrics.encoder_calls.inc_by(now.calls.saturating_sub(seen.calls));
        metrics.encoder_texts.inc_by(now.texts.saturating_sub(seen.texts));
        metrics
            .encoder_seconds
            .inc_by(now.micros.saturating_sub(seen.micros) as f64 / 1e6);
        *seen = now;
    }
    let mut text = String::new();
    if let Err(err) = prometheus_client::encoding::text::encode(&mut text, &metrics.registry) {
        return crate::error::ApiError::internal(err).into_response();
    }
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

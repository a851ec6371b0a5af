//! `banshi serve`: loads the knowledge and the encoder, opens the database, sets up identity,
//! spawns the background tasks and serves until a shutdown signal.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::auth::Auth;
use crate::config::ServeConfig;
use crate::state::{AppState, KnowledgeSource, load_model};

/// Logged (line by line, at warn) whenever the development identity provider is on.
pub const DEV_LOGIN_BANNER: &str = "\
################################################################################
#  DEVELOPMENT LOGIN IS ON (--dev-login on)                                    #
#  Anyone who can reach this server can log in as any demo user, staff member  #
#  or administrator through POST /api/v1/dev/login, without a password.        #
#  Never run it like this where real citizens or real data are.                #
################################################################################";

/// Runs the server on the current tokio runtime until ctrl-c or SIGTERM.
pub async fn run(config: ServeConfig) -> anyhow::Result<()> {
    let knowledge = config.knowledge.clone();
    let model =
        tokio::task::spawn_blocking(move || load_model(&knowledge.model_dir(), knowledge.mode, knowledge.fusion))
            .await?;
    let source = KnowledgeSource {
        dir: config.knowledge.dir(),
        strict: config.strict,
        index: index::IndexConfig {
            segmentation: config.knowledge.segmentation,
            ..index::IndexConfig::default()
        },
        model,
    };
    let started = Instant::now();
    let fingerprint = source.fingerprint();
    let loader = source.clone();
    // With the encoder, answers start at once on BM25 and the rules while the guides'
    // embeddings are computed in the background (hybrid once they are).
    let warm_up = source.model.is_some();
    let engine = tokio::task::spawn_blocking(move || if warm_up { loader.load_bm25() } else { loader.load() })
        .await?
        .with_context(|| format!("无法加载知识库 {}", source.dir.display()))?;
    tracing::info!(n_guides = engine.corpus.len(), dir = %source.dir.display(), elapsed_ms = started.elapsed().as_millis() as u64, "knowledge loaded");
    match (engine.semantic.is_some(), warm_up) {
        (true, _) => tracing::info!(mode = ?engine.default_mode(), fusion = ?engine.fusion, "search: encoder loaded"),
        (false, true) => {
            tracing::info!("search: BM25 while the guides' embeddings are computed; /readyz shows how far")
        }
        (false, false) => tracing::warn!("search: BM25 only (degraded: no encoder); /readyz says so"),
    }
    let store = backend::Store::open(&config.database_url)
        .await
        .with_context(|| format!("无法打开数据库 {}", backend::redact(&config.database_url)))?;
    tracing::info!(database = ?store.kind(), "database ready");
    let auth = identity(&config, &store).await?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("无法监听 {}（端口可能已被占用）", config.addr))?;
    if auth.dev_login {
        for line in DEV_LOGIN_BANNER.lines() {
            tracing::warn!("{line}");
        }
        let departments: Vec<String> = engine.corpus.departments.iter().map(|d| d.id.clone()).collect();
        let n_users = crate::demo::seed(&store, &departments).await?;
        tracing::warn!(n_users, addr = %config.addr, "development identity provider on: demo users can log in without a password");
    }
    let mut state = AppState::with_auth(engine, store.clone(), config.rate_limit_per_minute, auth);
    state.rating_window_days = config.rating_window_days;
    state
        .knowledge_version
        .store(fingerprint.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
    if let Some(path) = &config.channels_file {
        let channels = crate::channels::Channels::load(path)?;
        tracing::info!(
            wechat = channels.wechat.len(),
            wecom = channels.wecom.len(),
            "messaging channels configured"
        );
        state.channels = std::sync::Arc::new(channels);
    }
    state.rectification_days = config.rectification_days;
    state.agent_hours = config.agent_hours;
    state.admission = std::sync::Arc::new(crate::state::Admission::new(
        config
            .turn_workers
            .unwrap_or_else(|| crate::state::default_workers() * 2),
        config.turn_queue,
    ));
    state.cors_origins = config
        .cors_origins
        .iter()
        .map(|o| o.trim().to_string())
        .filter(|o| !o.is_empty())
        .collect();
    let progress = warm_up.then(bot::semantic::Progress::new);
    state.warmup = progress.clone();
    let reload = (config.reload_interval_secs > 0).then(|| Duration::from_secs(config.reload_interval_secs));
    tokio::spawn(crate::tasks::warm_up_then_reload(
        state.clone(),
        source,
        fingerprint,
        progress,
        reload,
    ));
    tokio::spawn(crate::tasks::purge_old_sessions(state.clone(), config.retention_days));
    tokio::spawn(crate::tasks::sweep_sla(state.clone(), Duration::from_secs(60)));
    tokio::spawn(crate::tasks::remind(state.clone(), Duration::from_secs(3600)));
    tracing::info!(addr = %config.addr, "banshi listening");
    let stopping = state.stopping.clone();
    let app = crate::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("stopping: finishing the turns already received");
        stopping.send_replace(true);
        let _ = signalled_tx.send(());
    });
    let drain = Duration::from_secs(config.drain_secs);
    let server = server.into_future();
    tokio::pin!(server);
    tokio::select! {
        served = &mut server => served?,
        () = async {
            if signalled_rx.await.is_ok() {
                tokio::time::sleep(drain).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => tracing::warn!(drain_secs = config.drain_secs, "stopping with turns still open after the drain time"),
    }
    store.close().await;
    tracing::info!("banshi stopped");
    Ok(())
}

/// Token verification as configured. The HS256 secret is the configured one (refused when
/// shorter than 32 bytes); without one, and only when the development provider is on (the
/// only issuer of HS256 tokens then), the secret kept in the database. Without either, HS256
/// stays off: a key anyone with database access could read would only widen what is accepted.
pub async fn identity(config: &ServeConfig, store: &backend::Store) -> anyhow::Result<Auth> {
    if config.dev_login == crate::config::DevLogin::Auto {
        tracing::warn!("--dev-login auto now means off: pass --dev-login on for the development identity provider");
    }
    let dev_login = config.dev_login_enabled();
    let secret = match (&config.jwt_secret, dev_login) {
        (Some(secret), _) => Some(secret.clone()),
        (None, true) => Some(
            crate::auth::stored_secret(store)
                .await
                .context("无法读取或保存令牌签名密钥")?,
        ),
        (None, false) => None,
    };
    Ok(Auth::new(secret.as_deref(), config.jwks_file.as_deref(), dev_login)
        .context("身份认证配置无效")?
        .with_audience(config.jwt_audience.as_deref()))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

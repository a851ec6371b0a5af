//! The `banshi` binary: the server (the `api` crate's `server::run`) and the offline tools
//! (search, ask, knowledge check and import, index build, eval, train, bench, ticket classify).
//!
//! Key design decision: the server crate stays a library without the evaluation harness or
//! the benchmark (which compiles C with gcc at run time); this crate puts them together into
//! one binary.

mod args;
mod bench;
mod loadtest;
mod serverproc;

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use api::config::{KnowledgeArgs, LogFormat, ServeConfig};
use api::state::load_model;
use api::wire::{AskOutput, SearchResponse};
use args::{
    AskArgs, BackupArgs, Cli, Command, EvalArgs, EvalCommand, GapsArgs, ImportArgs, IndexCommand, KnowledgeCommand,
    SearchArgs, TicketCommand,
};
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (default_level, format) = match &cli.command {
        Command::Serve(config) => ("info", config.log_format),
        _ => ("warn", LogFormat::Text),
    };
    init_tracing(default_level, format);
    let result = match cli.command {
        Command::Serve(config) => serve(config),
        Command::Search(args) => search(args),
        Command::Ask(args) => ask(args),
        Command::Knowledge {
            command: KnowledgeCommand::Check(args),
        } => return check(args),
        Command::Knowledge {
            command: KnowledgeCommand::Import(args),
        } => return import(&args),
        Command::Index {
            command: IndexCommand::Build { knowledge, index_dir },
        } => build_index(knowledge, index_dir),
        Command::Eval(EvalArgs {
            command:
                Some(EvalCommand::Tickets {
                    dataset,
                    cv,
                    classifier,
                    knowledge,
                }),
            ..
        }) => match (dataset, cv) {
            (_, Some(k)) => cross_validate_tickets(k, &knowledge),
            (Some(dataset), None) => eval_tickets(&dataset, classifier, &knowledge),
            (None, None) => Err(anyhow::anyhow!("请给出 --dataset 或 --cv")),
        },
        Command::Eval(EvalArgs {
            command:
                Some(EvalCommand::Conversations {
                    dataset,
                    misses,
                    knowledge,
                }),
            ..
        }) => eval_conversations(&dataset, misses, &knowledge),
        Command::Eval(args) => eval(args),
        Command::Train(args) => train(&args),
        Command::Bench(args) => match args.corpus_scale {
            Some(n) => bench::corpus_scale(&args.knowledge, n),
            None => bench::run(&args.knowledge),
        },
        Command::Backup(args) => backup(&args),
        Command::Gaps(args) => gaps(&args),
        Command::Loadtest(args) => loadtest::run(&args),
        Command::Ticket {
            command: TicketCommand::Classify { json, batch, knowledge },
        } => classify(json, &batch, &knowledge),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("错误：{err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(default_level: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_env("BANSHI_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // ID and mobile numbers never reach the log.
        .with_writer(api::logmask::Masked(std::io::stderr));
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// `banshi backup`: a consistent copy of the SQLite database, safe while the server runs.
fn backup(args: &BackupArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = backend::Store::open(&args.database_url)
            .await
            .with_context(|| format!("无法打开数据库 {}", args.database_url))?;
        store
            .backup_sqlite(&args.to)
            .await
            .with_context(|| format!("无法备份到 {}", args.to.display()))?;
        store.close().await;
        anyhow::Ok(())
    })?;
    let bytes = std::fs::metadata(&args.to).map(|m| m.len()).unwrap_or(0);
    println!("已备份到 {}（{bytes} 字节）", args.to.display());
    Ok(())
}

fn gaps(args: &GapsArgs) -> anyhow::Result<()> {
    let engine = std::sync::Arc::new(engine(&args.knowledge)?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(async {
        let store = backend::Store::open(&args.database_url)
            .await
            .with_context(|| format!("无法打开数据库 {}", backend::redact(&args.database_url)))?;
        let since = backend::now_millis() - i64::from(args.days.max(1)) * 86_400_000;
        let report = api::service::gaps::report(&store, engine, since, args.top.max(1))
            .await
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        store.close().await;
        anyhow::Ok(report)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", api::service::gaps::render(&report));
    }
    Ok(())
}

fn index_config(args: &KnowledgeArgs) -> index::IndexConfig {
    index::IndexConfig {
        segmentation: args.segmentation,
        ..index::IndexConfig::default()
    }
}

/// Runs `job` with a progress bar on stderr (shown on a terminal only, and only once there is
/// something to count): what is done of the total (texts embedded, rows imported, questions
/// evaluated), the rate and the time left.
fn with_progress_bar<T>(label: &str, job: impl FnOnce(&bot::semantic::Progress) -> T) -> T {
    let progress = bot::semantic::Progress::new();
    let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} · {per_sec} · 剩余约 {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label.to_string());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (progress, bar, done) = (progress.clone(), bar.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let view = progress.view();
                if view.total > 0 {
                    bar.set_length(view.total as u64);
                    bar.set_position(view.done as u64);
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        })
    };
    let out = job(&progress);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = watcher.join();
    bar.finish_and_clear();
    out
}

fn engine(args: &KnowledgeArgs) -> anyhow::Result<bot::Engine> {
    let dir = args.dir();
    let model = load_model(&args.model_dir(), args.mode, args.fusion);
    let mut engine = with_progress_bar("计算指南向量", |progress| {
        api::state::load_engine_showing(&dir, index_config(args), model.as_ref(), progress)
    })
    .with_context(|| format!("无法加载知识库 {}", dir.display()))?;
    engine.mode = args.mode;
    engine.fusion = args.fusion;
    Ok(engine)
}

fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let served = runtime.block_on(api::server::run(config));
    // A stop while the guides' embeddings are still being computed does not wait for them
    // (they are computed again, from the cache's last save, at the next start).
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    served
}

fn search(args: SearchArgs) -> anyhow::Result<()> {
    let engine = engine(&args.knowledge)?;
    let ranked = engine.retrieve(&args.query, args.limit, args.knowledge.mode)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let response = SearchResponse {
            hits: ranked
                .iter()
                .map(|r| api::wire::SearchHit {
                    id: r.id.clone(),
                    title: r.title.clone(),
                    score: r.score,
                    snippet: None,
                })
                .collect(),
        };
        serde_json::to_writer(&mut out, &response)?;
        writeln!(out)?;
    } else {
        for hit in ranked {
            writeln!(out, "{:>7.3}  {:<40} {}", hit.score, hit.id, hit.title)?;
        }
    }
    Ok(())
}

fn ask(args: AskArgs) -> anyhow::Result<()> {
    let engine = engine(&args.knowledge)?;
    let mut out = std::io::stdout().lock();
    let answer = |query: &str, out: &mut std::io::StdoutLock<'_>| -> anyhow::Result<()> {
        let (_, reply) = bot::respond(
            &engine,
            &bot::Context::anonymous(),
            &bot::DialogueState::default(),
            query,
        )?;
        if args.json {
            serde_json::to_writer(&mut *out, &AskOutput::from(&reply))?;
            writeln!(out)?;
        } else {
            writeln!(out, "[{}] {}", reply.intent.as_str(), reply.text)?;
            if !reply.quick_replies.is_empty() {
                writeln!(out, "  → {}", reply.quick_replies.join(" | "))?;
            }
        }
        Ok(())
    };
    match (&args.batch, &args.query) {
        (Some(path), _) => {
            let file = std::fs::File::open(path).with_context(|| format!("无法读取 {}", path.display()))?;
            for line in std::io::BufReader::new(file).lines() {
                // One output line per input line, in order: a bad line still gets an answer.
                let line = line.unwrap_or_default();
                answer(line.trim(), &mut out)?;
            }
        }
        (None, Some(query)) => answer(query, &mut out)?,
        (None, None) => anyhow::bail!("请给出问题，或用 --batch FILE"),
    }
    out.flush()?;
    Ok(())
}

fn check(args: KnowledgeArgs) -> ExitCode {
    let dir = args.dir();
    let outcome = match knowledge::Corpus::load(&dir) {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    for diagnostic in &outcome.diagnostics {
        println!("{diagnostic}");
    }
    let n_errors = outcome.n_errors();
    let n_warnings = outcome.diagnostics.len() - n_errors;
    println!(
        "{}：{} 份指南有效，{} 个错误，{} 个警告，{} 条口语词",
        dir.display(),
        outcome.corpus.len(),
        n_errors,
        n_warnings,
        outcome.corpus.lexicon.len()
    );
    if n_errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `banshi knowledge import`: bad rows as `file:row: 错误：reason`, then the counts; exits
/// non-zero when a row was left out (the good rows are written all the same).
fn import(args: &ImportArgs) -> ExitCode {
    let write = if args.dry_run {
        knowledge::import::Write::DryRun
    } else {
        knowledge::import::Write::Files
    };
    let imported = with_progress_bar("导入事项", |progress| {
        knowledge::import::import_showing(&args.file, &args.mapping, &args.knowledge_dir, write, &|done, more| {
            progress.begin(more);
            progress.advance(done);
        })
    });
    let report = match imported {
        Ok(report) => report,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    for problem in &report.problems {
        println!("{problem}");
    }
    let guides = args.knowledge_dir.join("guides");
    for (label, ids) in [("新增", &report.new), ("更新", &report.changed)] {
        for id in ids {
            println!("{label} {}", guides.join(format!("{id}.toml")).display());
        }
    }
    println!(
        "{} → {}：{} 行，新增 {}，更新 {}，未变 {}，失败 {}{}",
        args.file.display(),
        guides.display(),
        report.n_rows,
        report.new.len(),
        report.changed.len(),
        report.unchanged.len(),
        report.n_failed(),
        if args.dry_run {
            "（试运行，未写入）"
        } else {
            ""
        }
    );
    if report.n_failed() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn build_index(knowledge: KnowledgeArgs, index_dir: std::path::PathBuf) -> anyhow::Result<()> {
    let dir = knowledge.dir();
    let started = Instant::now();
    let outcome = knowledge::Corpus::load(&dir)?;
    for diagnostic in &outcome.diagnostics {
        eprintln!("{diagnostic}");
    }
    let corpus = outcome.corpus;
    let index = index::SearchIndex::build(&corpus, index_config(&knowledge), Some(&index_dir))?;
    println!(
        "index built in {} ms: {} guides, segmentation {:?}, at {}",
        started.elapsed().as_millis(),
        index.n_docs(),
        knowledge.segmentation,
        index_dir.display()
    );
    Ok(())
}

fn eval_conversations(dataset: &std::path::Path, misses: bool, knowledge: &KnowledgeArgs) -> anyhow::Result<()> {
    let conversations = evals::load_conversations(dataset)?;
    let engine = engine(knowledge)?;
    let report = with_progress_bar("评测多轮对话", |progress| {
        evals::run_conversations_showing(&engine, &conversations, Some(progress))
    })?;
    println!("dataset: {} · mode: {:?}", dataset.display(), engine.default_mode());
    print!("{}", report.table());
    if misses {
        println!("\nwrong turns:");
        for (id, turn, text, expected, intent, got) in &report.misses {
            println!(
                "  {id}#{turn} {text} | expected {expected:?} | got {} {got:?}",
                intent.as_str()
            );
        }
    }
    Ok(())
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let cases = evals::load_dataset(&args.dataset)?;
    let engine = engine(&args.knowledge)?;
    if args.features {
        print!("{}", evals::features(&engine, &cases)?);
        return Ok(());
    }
    let started = Instant::now();
    let report = with_progress_bar("评测", |progress| evals::run_showing(&engine, &cases, Some(progress)))?;
    let elapsed = started.elapsed();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "dataset: {} · segmentation: {:?} · mode: {:?} · fusion: {:?}",
        args.dataset.display(),
        args.knowledge.segmentation,
        engine.default_mode(),
        engine.fusion
    );
    print!("{}", report.table());
    println!(
        "time: {:.1} ms per query",
        elapsed.as_secs_f64() * 1000.0 / cases.len().max(1) as f64
    );
    if args.misses {
        println!("\nmisses:");
        for miss in &report.misses {
            println!(
                "  {} | expected {} {:?} | got {} {:?}",
                miss.query,
                miss.expected_intent.as_str(),
                miss.expected,
                miss.intent.as_str(),
                miss.got
            );
        }
    }
    Ok(())
}

fn classify(json: bool, batch: &std::path::Path, knowledge: &KnowledgeArgs) -> anyhow::Result<()> {
    let engine = engine(knowledge)?;
    let file = std::fs::File::open(batch).with_context(|| format!("无法读取 {}", batch.display()))?;
    let mut out = std::io::stdout().lock();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.unwrap_or_default();
        let (category, department, confidence) = engine
            .route(line.trim())
            .unwrap_or_else(|| ("其他".into(), "hotline-12345".into(), 0.0));
        if json {
            let value = serde_json::json!({ "category": category, "department": department, "confidence": confidence });
            writeln!(out, "{value}")?;
        } else {
            writeln!(out, "{category}\t{department}\t{confidence:.3}")?;
        }
    }
    Ok(())
}

fn cross_validate_tickets(k: usize, knowledge: &KnowledgeArgs) -> anyhow::Result<()> {
    let engine = engine(knowledge)?;
    let cache_dir = knowledge.model_dir().join("cache");
    let started = Instant::now();
    let (expected, runs) = bot::routing::cross_validate(&engine, k, Some(&cache_dir))?;
    println!(
        "{k}-fold cross-validation on {} own examples ({:.1} s)",
        expected.len(),
        started.elapsed().as_secs_f32()
    );
    for (classifier, predicted) in runs {
        println!("\n## {}", classifier.name());
        print!("{}", evals::classification_report(&expected, &predicted));
    }
    Ok(())
}

fn eval_tickets(
    dataset: &std::path::Path,
    classifier: bot::routing::Classifier,
    knowledge: &KnowledgeArgs,
) -> anyhow::Result<()> {
    let mut engine = engine(knowledge)?;
    engine.classifier = classifier;
    let cases = evals::load_ticket_dataset(dataset)?;
    let predictions: Vec<String> = cases
        .iter()
        .map(|(message, _)| engine.route(message).map_or_else(|| "其他".into(), |r| r.0))
        .collect();
    let report = evals::classification_report(&cases.iter().map(|c| c.1.clone()).collect::<Vec<_>>(), &predictions);
    println!(
        "dataset: {} · classifier: {}",
        dataset.display(),
        engine.route_classifier().name()
    );
    print!("{report}");
    Ok(())
}

fn train(args: &KnowledgeArgs) -> anyhow::Result<()> {
    let model_dir = args.model_dir();
    let model = load_model(&model_dir, bot::Mode::Hybrid, args.fusion).with_context(|| {
        format!(
            "没有可用的模型：请先运行 scripts/fetch-models.sh（{}）",
            model_dir.display()
        )
    })?;
    let outcome = knowledge::Corpus::load(&args.dir())?;
    let corpus = outcome.corpus;
    let mut cache = bot::semantic::EmbeddingCache::open(Some(&model.cache_dir), &model.encoder);
    let engine = bot::Engine::new(corpus, index_config(args))?;
    let corpus = &engine.corpus;
    let intent_examples = bot::semantic::intent_examples(corpus, &engine.index);
    let lookalikes = bot::lookalikes::generate(corpus, &engine.index);
    println!(
        "look-alikes generated from the guides (out of scope): {}{}",
        lookalikes.len(),
        lookalikes.iter().take(12).fold(String::new(), |all, l| all + " · " + l)
    );
    for (name, examples) in [("intent", &intent_examples), ("ticket", &corpus.ticket_examples)] {
        let started = Instant::now();
        let head = with_progress_bar(&format!("训练 {name} 分类头：计算样例向量"), |progress| {
            bot::semantic::train_head_with(&model.encoder, &mut cache, name, examples, Some(progress))
        })?;
        let path = bot::semantic::head_path(&model.cache_dir, &model.encoder, name, examples);
        std::fs::create_dir_all(path.parent().unwrap_or(&model.cache_dir))?;
        head.save(&path)?;
        let texts: Vec<&str> = examples.iter().map(|(_, t)| t.as_str()).collect();
        let vectors = cache.embed(&model.encoder, &texts, models::TextKind::Query)?;
        let correct = examples
            .iter()
            .zip(&vectors)
            .filter(|((label, _), v)| head.predict(v).0 == label)
            .count();
        println!(
            "{name} head: {} examples, {} labels, training accuracy {:.3}, {:.1} s → {}",
            examples.len(),
            head.labels.len(),
            correct as f64 / examples.len().max(1) as f64,
            started.elapsed().as_secs_f64(),
            path.display()
        );
    }
    cache.save()?;
    Ok(())
}

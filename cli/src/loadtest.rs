//! `banshi loadtest`: realistic conversations against a real server (started by this command
//! on a fresh database, or `--addr` of a running one). Each simulated citizen, with think time
//! between turns, asks a question from the eval sets and a follow-up, files a complaint to a
//! ticket, or logs in, fills a form to submission and rates it. Printed: turns per second,
//! p50/p95/p99 per kind of turn, errors, turns shed (503) and the server's RSS and CPU over
//! the run. Figures are printed, never asserted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use api::config::KnowledgeArgs;

use crate::serverproc::{Server, cpu_ticks, rss_kb};

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub knowledge: KnowledgeArgs,
    /// Simulated citizens talking at once.
    #[arg(long, default_value_t = 200)]
    pub conversations: usize,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 60)]
    pub duration_secs: u64,
    /// Mean think time between a citizen's turns, in milliseconds (0.5× to 1.5× at random).
    #[arg(long, default_value_t = 3000)]
    pub think_ms: u64,
    /// Citizens arrive at random over this many seconds, as a morning's callers do, instead of
    /// all within the first think time [default: one think time].
    #[arg(long)]
    pub ramp_secs: Option<u64>,
    /// The database of the server this command starts [default: a fresh SQLite file].
    #[arg(long)]
    pub database_url: Option<String>,
    /// Load a running server instead (it needs `--dev-login on` for the form scenario).
    #[arg(long)]
    pub addr: Option<String>,
    /// Turn workers and queue of the started server (`--turn-workers`, `--turn-queue`).
    #[arg(long)]
    pub turn_queue: Option<usize>,
    /// Crash test: kill -9 the server this many times under the load (restarting it each
    /// time), then check that everything acknowledged is stored, once.
    #[arg(long, default_value_t = 0)]
    pub kills: usize,
    /// Mean time between kills, in milliseconds (0.5× to 1.5× at random).
    #[arg(long, default_value_t = 3000)]
    pub kill_every_ms: u64,
    /// Servers started on the one database (use PostgreSQL for more than one); each request
    /// goes to the next, so every conversation moves between them turn by turn.
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
}

type Http = Client<HttpConnector, Full<Bytes>>;

/// What the run measured.
#[derive(Default)]
struct Tally {
    latencies: BTreeMap<&'static str, Vec<f64>>,
    /// When each accepted turn was answered, for the steady rate.
    answered_at: Vec<Instant>,
    statuses: BTreeMap<u16, usize>,
    failures: usize,
    tickets: usize,
    applications: usize,
    ratings: usize,
    /// Numbers and ids a client received.
    acked_tickets: Vec<String>,
    acked_applications: Vec<String>,
    acked_ratings: Vec<String>,
    /// Scripts that sent their final message at least once (an upper bound of what may be stored).
    complaints_sent: usize,
    forms_sent: usize,
    /// Requests answered only after the server came back (retried with the same Idempotency-Key).
    retried: usize,
    /// How long each 503 took to arrive (shedding must be quick).
    shed_ms: Vec<f64>,
}

struct Citizen {
    http: Http,
    /// The servers' addresses; requests take turns among them.
    bases: Arc<Vec<String>>,
    turn: usize,
    tally: Arc<Mutex<Tally>>,
    rng: u64,
    deadline: Instant,
    think: Duration,
    /// The citizen's first turn comes at a random moment within this.
    ramp: Duration,
    /// Set when the run ends early (the crash test's last kill): no new script starts.
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// Retry a request that got no answer (the server is down) with its Idempotency-Key.
    retry: bool,
}

impl Citizen {
    fn next(&mut self) -> u64 {
        // xorshift64*: enough randomness for choosing scripts and think times.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    async fn pause(&mut self) {
        let factor = 0.5 + (self.next() % 1000) as f64 / 1000.0;
        tokio::time::sleep(self.think.mul_f64(factor)).await;
    }

    /// One request; the JSON answer when it was a 200. In the crash test a request that got
    /// no answer is sent again, with the same Idempotency-Key, until the server is back (at
    /// most 90 s: a first attempt cut off by the kill is taken as dead after 20 s).
    async fn call(
        &mut self,
        kind: &'static str,
        path: &str,
        body: serde_json::Value,
        token: Option<&str>,
    ) -> Option<serde_json::Value> {
        let key = format!("load-{:016x}", self.next());
        self.turn += 1;
        let base = self.bases[self.turn % self.bases.len()].clone();
        let build = || {
            let mut request = hyper::Request::post(format!("{base}{path}"))
                .header("content-type", "application/json")
                .header("idempotency-key", key.as_str());
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            request.body(Full::new(Bytes::from(body.to_string()))).ok()
        };
        let started = Instant::now();
        let mut answer;
        let mut attempts = 0;
        let mut accepted_at;
        loop {
            attempts += 1;
            let request = build()?;
            let attempt_started = Instant::now();
            let got = tokio::time::timeout(Duration::from_secs(60), async {
                let response = self.http.request(request).await.ok()?;
                let status = response.status().as_u16();
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let bytes = response.into_body().collect().await.ok()?.to_bytes();
                Some((status, bytes, wait))
            })
            .await
            .ok()
            .flatten();
            // Shed: the turn waits as long as the server asked, as a real client does, and
            // only the accepted attempt's time counts as the turn's latency.
            if let Some((503, _, wait)) = &got {
                {
                    let mut tally = self.tally.lock().unwrap();
                    *tally.statuses.entry(503).or_default() += 1;
                    tally.shed_ms.push(attempt_started.elapsed().as_secs_f64() * 1000.0);
                }
                if started.elapsed() < Duration::from_secs(90) {
                    tokio::time::sleep(Duration::from_secs(wait.unwrap_or(1))).await;
                    continue;
                }
            }
            accepted_at = attempt_started;
            answer = got.map(|(status, bytes, _)| (status, bytes));
            // No answer (the server is down), or 409 (the first try is still being handled).
            let again = answer.is_none() || answer.as_ref().is_some_and(|(s, _)| *s == 409);
            if !(self.retry && again) || started.elapsed() > Duration::from_secs(90) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        // In the crash test a turn's time includes the restart it waited through.
        let from = if self.retry { started } else { accepted_at };
        let elapsed = from.elapsed().as_secs_f64() * 1000.0;
        let mut tally = self.tally.lock().unwrap();
        if attempts > 1 && answer.is_some() {
            tally.retried += 1;
        }
        match answer {
            Some((status, bytes)) => {
                *tally.statuses.entry(status).or_default() += 1;
                if status == 200 {
                    tally.latencies.entry(kind).or_default().push(elapsed);
                    tally.answered_at.push(Instant::now());
                    serde_json::from_slice(&bytes).ok()
                } else {
                    None
                }
            }
            None => {
                tally.failures += 1;
                None
            }
        }
    }

    async fn say(
        &mut self,
        kind: &'static str,
        session: &mut Option<String>,
        text: &str,
        token: Option<&str>,
    ) -> Option<serde_json::Value> {
        let mut body = serde_json::json!({ "message": text });
        if let Some(id) = session.as_ref() {
            body["session_id"] = id.clone().into();
        }
        let answer = self.call(kind, "/api/v1/chat", body, token).await?;
        *session = answer["session_id"].as_str().map(str::to_string);
        Some(answer)
    }

    async fn run(mut self, questions: Arc<Vec<String>>) {
        // Start at a random moment so that the citizens do not all arrive at once.
        let first = self.ramp.mul_f64((self.next() % 1000) as f64 / 1000.0);
        tokio::time::sleep(first).await;
        while Instant::now() < self.deadline && !self.stop.load(std::sync::atomic::Ordering::SeqCst) {
            let mut session = None;
            match self.next() % 10 {
                0..=5 => {
                    let question = questions[(self.next() as usize) % questions.len()].clone();
                    self.say("answer", &mut session, &question, None).await;
                    self.pause().await;
                    let follow = ["要带什么材料", "要多少钱", "能网上办吗", "多久能办好"][(self.next() % 4) as usize];
                    self.say("follow_up", &mut session, follow, None).await;
                }
                6..=7 => {
                    let script = [
                        "我要投诉，小区门口垃圾三天没人清运",
                        "幸福路12号",
                        "昨天",
                        "13900001111",
                        "否",
                        "确认",
                    ];
                    for line in script {
                        if line == "确认" {
                            self.tally.lock().unwrap().complaints_sent += 1;
                        }
                        let answer = self.say("complaint", &mut session, line, None).await;
                        if let Some(number) = answer.as_ref().and_then(|a| a["ticket"]["number"].as_str()) {
                            let mut tally = self.tally.lock().unwrap();
                            tally.tickets += 1;
                            tally.acked_tickets.push(number.to_string());
                        }
                        self.pause().await;
                    }
                }
                _ => {
                    let user = ["citizen-1", "citizen-2"][(self.next() % 2) as usize];
                    let Some(login) = self
                        .call("login", "/api/v1/dev/login", serde_json::json!({ "user": user }), None)
                        .await
                    else {
                        continue;
                    };
                    let token = login["token"].as_str().unwrap_or_default().to_string();
                    let script = ["我要在线办理身份证到期换领", "13812345678", "邮寄到家", "确认提交"];
                    let mut number = None;
                    for line in script {
                        if line == "确认提交" {
                            self.tally.lock().unwrap().forms_sent += 1;
                        }
                        let answer = self.say("form", &mut session, line, Some(&token)).await;
                        if let Some(n) = answer.as_ref().and_then(|a| a["application"]["number"].as_str()) {
                            number = Some(n.to_string());
                        }
                        self.pause().await;
                    }
                    if let Some(number) = number {
                        {
                            let mut tally = self.tally.lock().unwrap();
                            tally.applications += 1;
                            tally.acked_applications.push(number.clone());
                        }
                        let body = serde_json::json!({ "target_kind": "application", "target_id": number, "level": 5 });
                        if let Some(rated) = self.call("rating", "/api/v1/ratings", body, Some(&token)).await {
                            let mut tally = self.tally.lock().unwrap();
                            tally.ratings += 1;
                            tally.acked_ratings.extend(rated["id"].as_str().map(str::to_string));
                        }
                    }
                }
            }
            self.pause().await;
        }
    }
}

fn percentile(sorted: &[f64], quantile: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * quantile).round() as usize]
}

/// First questions: the eval sets' (dev halves and our own), as citizens would type them.
fn questions() -> anyhow::Result<Vec<String>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../evals/data");
    let mut out = Vec::new();
    for file in ["queries.jsonl", "fresh.jsonl"] {
        let text = std::fs::read_to_string(dir.join(file)).with_context(|| file.to_string())?;
        for line in text.lines() {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(line)
                && let Some(query) = value["query"].as_str()
            {
                out.push(query.to_string());
            }
        }
    }
    anyhow::ensure!(!out.is_empty(), "no questions in evals/data");
    Ok(out)
}

pub fn run(args: &LoadArgs) -> anyhow::Result<()> {
    let questions = Arc::new(questions()?);
    let dir = tempfile::tempdir()?;
    let mut extra = vec!["--dev-login", "on", "--rate-limit-per-minute", "100000000"];
    let queue = args.turn_queue.map(|q| q.to_string());
    if let Some(queue) = &queue {
        extra.extend(["--turn-queue", queue.as_str()]);
    }
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("load.db").display()));
    let servers: Vec<Server> = match &args.addr {
        Some(_) => Vec::new(),
        None => (0..args.replicas.max(1))
            .map(|_| Server::start(&args.knowledge, &database_url, &extra))
            .collect::<anyhow::Result<_>>()?,
    };
    let bases: Vec<String> = match &args.addr {
        Some(addr) => vec![format!("http://{addr}")],
        None => servers.iter().map(|s| format!("http://{}", s.addr)).collect(),
    };
    let addr = bases.join(", ");
    let bases = Arc::new(bases);
    anyhow::ensure!(
        args.kills == 0 || !servers.is_empty(),
        "the crash test needs the servers this command starts (no --addr)"
    );
    let n_servers = servers.len();
    let server = Arc::new(Mutex::new(servers));
    // The first server's memory and CPU are sampled.
    let pid = {
        let server = server.clone();
        move || server.lock().unwrap().first().map(Server::pid)
    };
    if args.kills > 0 {
        println!(
            "crash test         {} kills (kill -9, restart) about every {} ms under {} conversations",
            args.kills, args.kill_every_ms, args.conversations
        );
    } else {
        println!(
            "load               {} conversations for {} s, think time {} ms, arriving over {} s, against {addr}",
            args.conversations,
            args.duration_secs,
            args.think_ms,
            args.ramp_secs.unwrap_or(args.think_ms / 1000)
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Instant::now();
    // This client's own CPU: on one machine it takes its share from the server.
    let client_ticks = cpu_ticks("self");
    let deadline = if args.kills > 0 {
        started + Duration::from_secs(3600)
    } else {
        started + Duration::from_secs(args.duration_secs)
    };
    let (samples, restarts) = runtime.block_on(async {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http: Http = Client::builder(TokioExecutor::new()).build(connector);
        let mut tasks = Vec::new();
        for i in 0..args.conversations {
            let citizen = Citizen {
                http: http.clone(),
                bases: bases.clone(),
                turn: i,
                tally: tally.clone(),
                rng: 0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
                deadline,
                think: Duration::from_millis(args.think_ms),
                ramp: args
                    .ramp_secs
                    .map_or(Duration::from_millis(args.think_ms), Duration::from_secs),
                stop: stop.clone(),
                retry: args.kills > 0,
            };
            tasks.push(tokio::spawn(citizen.run(questions.clone())));
        }
        // The killer: kill -9 at random moments, restart, and after the last one end the run.
        let killer = {
            let (server, stop) = (server.clone(), stop.clone());
            let (kills, every) = (args.kills, args.kill_every_ms);
            tokio::task::spawn_blocking(move || {
                let mut restarts = Vec::new();
                let mut rng = 0x2545_F491_4F6C_DD1Du64;
                for _ in 0..kills {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let factor = 0.5 + (rng % 1000) as f64 / 1000.0;
                    std::thread::sleep(Duration::from_millis(every).mul_f64(factor));
                    let which = (rng >> 20) as usize % n_servers.max(1);
                    if let Some(server) = server.lock().unwrap().get_mut(which) {
                        match server.kill_and_restart() {
                            Ok(took) => restarts.push(took.as_secs_f64() * 1000.0),
                            Err(err) => {
                                eprintln!("restart failed: {err:#}");
                                break;
                            }
                        }
                    }
                }
                if kills > 0 {
                    std::thread::sleep(Duration::from_secs(2));
                    stop.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                restarts
            })
        };
        // The server's memory and CPU every 5 s.
        let mut samples = Vec::new();
        let mut last = (Instant::now(), pid().as_deref().and_then(cpu_ticks));
        while Instant::now() < deadline && !stop.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(5)).await;
            if let Some(pid) = pid() {
                let now = (Instant::now(), cpu_ticks(&pid));
                let cpu = match (last.1, now.1) {
                    (Some(a), Some(b)) if b >= a => {
                        (b - a) as f64 / 100.0 / now.0.duration_since(last.0).as_secs_f64() * 100.0
                    }
                    _ => 0.0,
                };
                samples.push((started.elapsed().as_secs(), rss_kb(&pid).unwrap_or(0), cpu));
                last = now;
            }
        }
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(120), task).await;
        }
        (samples, killer.await.unwrap_or_default())
    });
    let elapsed = started.elapsed().as_secs_f64();
    let tally = tally.lock().unwrap();
    let turns: usize = tally.latencies.values().map(Vec::len).sum();
    println!(
        "turns              {turns} answered in {elapsed:.0} s: {:.1} per second",
        turns as f64 / elapsed
    );
    // The steady rate: once every citizen has arrived and before the scripts wind down.
    let ramp = Duration::from_secs(args.ramp_secs.unwrap_or(args.think_ms / 1000));
    if args.kills == 0 && deadline > started + ramp + Duration::from_secs(1) {
        let (from, to) = (started + ramp, deadline);
        let steady = tally.answered_at.iter().filter(|at| **at >= from && **at < to).count();
        println!(
            "steady rate        {:.1} accepted turns per second from {} s to {} s",
            steady as f64 / (to - from).as_secs_f64(),
            ramp.as_secs(),
            args.duration_secs
        );
    }
    for (kind, latencies) in &tally.latencies {
        let mut sorted = latencies.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "  {kind:<16} {:>6} p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms",
            sorted.len(),
            percentile(&sorted, 0.50),
            percentile(&sorted, 0.95),
            percentile(&sorted, 0.99)
        );
    }
    let statuses: Vec<String> = tally.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
    println!(
        "statuses           {} ; no answer (timeout, connection) {}",
        statuses.join(" "),
        tally.failures
    );
    let mut shed_ms = tally.shed_ms.clone();
    shed_ms.sort_by(f64::total_cmp);
    println!(
        "shed               {} (503 with Retry-After, answered in p50 {:.1} ms, p99 {:.1} ms; the citizen waits and sends again); errors {}",
        tally.statuses.get(&503).copied().unwrap_or(0),
        if shed_ms.is_empty() {
            0.0
        } else {
            percentile(&shed_ms, 0.5)
        },
        if shed_ms.is_empty() {
            0.0
        } else {
            percentile(&shed_ms, 0.99)
        },
        tally
            .statuses
            .iter()
            .filter(|(s, _)| **s >= 400 && **s != 503)
            .map(|(_, n)| n)
            .sum::<usize>()
            + tally.failures
    );
    println!(
        "filed              {} tickets, {} applications, {} ratings",
        tally.tickets, tally.applications, tally.ratings
    );
    if !samples.is_empty() {
        let early = samples[samples.len() / 5];
        let late = samples[samples.len() - 1];
        let cpu: f64 = samples.iter().map(|s| s.2).sum::<f64>() / samples.len() as f64;
        println!(
            "server RSS         {} kB at {} s, {} kB at {} s ({:+.1} %); CPU {:.0} % on average (100 % = one core)",
            early.1,
            early.0,
            late.1,
            late.0,
            (late.1 as f64 - early.1 as f64) / early.1.max(1) as f64 * 100.0,
            cpu
        );
    }
    if let (Some(before), Some(after)) = (client_ticks, cpu_ticks("self")) {
        println!(
            "client CPU         {:.0} % on average (this load generator, on the same machine)",
            after.saturating_sub(before) as f64 / 100.0 / elapsed * 100.0
        );
    }
    if args.kills > 0 {
        let mut restarts = restarts;
        restarts.sort_by(f64::total_cmp);
        println!(
            "restarts           {} after kill -9, back in p50 {:.0} ms, max {:.0} ms; {} requests answered only after a restart",
            restarts.len(),
            if restarts.is_empty() {
                0.0
            } else {
                percentile(&restarts, 0.5)
            },
            restarts.last().copied().unwrap_or(0.0),
            tally.retried
        );
        let tally = &*tally;
        drop(server);
        return runtime.block_on(verify(&database_url, tally));
    }
    Ok(())
}

/// After the crash test: everything a client was told is stored, and nothing twice.
async fn verify(database_url: &str, tally: &Tally) -> anyhow::Result<()> {
    let store = backend::Store::open(database_url).await?;
    let mut missing = Vec::new();
    for number in &tally.acked_tickets {
        if store.ticket(number).await?.is_none() {
            missing.push(number.clone());
        }
    }
    for number in &tally.acked_applications {
        if store.application(number).await?.is_none() {
            missing.push(number.clone());
        }
    }
    for id in &tally.acked_ratings {
        if store.rating(id).await?.is_none() {
            missing.push(id.clone());
        }
    }
    let (by_state, _) = store.ticket_gauges(0).await?;
    let tickets: i64 = by_state.iter().map(|(_, n)| n).sum();
    let mut applications = 0;
    for citizen in ["citizen-1", "citizen-2"] {
        applications += store
            .applications_of(citizen)
            .await?
            .iter()
            .filter(|a| a.parent_number.is_none())
            .count();
    }
    store.close().await;
    println!(
        "acknowledged       {} tickets, {} applications, {} ratings; missing after the restarts: {}",
        tally.acked_tickets.len(),
        tally.acked_applications.len(),
        tally.acked_ratings.len(),
        missing.len()
    );
    println!(
        "stored             {tickets} tickets (at most {} complaints reached 确认), {applications} applications (at most {} forms reached 确认提交)",
        tally.complaints_sent, tally.forms_sent
    );
    let doubled = tickets as usize > tally.complaints_sent || applications > tally.forms_sent;
    anyhow::ensure!(missing.is_empty(), "acknowledged but not stored: {missing:?}");
    anyhow::ensure!(
        !doubled,
        "more stored than was ever submitted: something was stored twice"
    );
    println!("crash test         passed: every acknowledged number is stored, nothing twice");
    Ok(())
}

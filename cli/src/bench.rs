//! `banshi bench`: speed and memory figures printed, not asserted (the machine is shared and
//! noisy). The reference C engine is compiled from the model cache's `e5.c` by gcc when it
//! can be, and measured in the same run on the same queries.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use models::{Encoder, TextKind};

use api::config::KnowledgeArgs;

use crate::serverproc::{Server, http, status_field};

const SERVICES: [&str; 20] = [
    "居住证",
    "身份证",
    "护照",
    "驾驶证",
    "营业执照",
    "住房公积金",
    "社保卡",
    "医保报销",
    "户口迁移",
    "结婚登记",
    "出生医学证明",
    "不动产登记",
    "个人所得税汇算",
    "退休手续",
    "失业保险金",
    "港澳通行证",
    "残疾人证",
    "老年人优待证",
    "机动车年检",
    "新生儿落户",
];
const TEMPLATES: [&str; 10] = [
    "{}怎么办理",
    "办理{}需要什么材料",
    "{}在哪里办",
    "{}多久能拿到",
    "{}要收费吗",
    "{}可以网上办吗",
    "{}丢了怎么补办",
    "外地人能办{}吗",
    "{}的办理流程是什么",
    "How do I apply for {}?",
];
const WARMUP: usize = 10;
const PAUSE: Duration = Duration::from_millis(20);
const BATCH: usize = 16;

/// `banshi bench`: model load, query embedding p50/p99 (and the C engine's on the same
/// queries, with the ratio), `ask` end to end p50/p99 warm, passage throughput, peak RSS.
pub fn run(args: &KnowledgeArgs) -> anyhow::Result<()> {
    let model_dir = args.model_dir();
    let model_path = model_dir.join("e5-small-q4.bin");
    if !model_path.exists() {
        bail!("{} is missing: run scripts/fetch-models.sh", model_path.display());
    }
    let queries: Vec<String> = TEMPLATES
        .iter()
        .flat_map(|t| SERVICES.iter().map(move |s| t.replace("{}", s)))
        .collect();
    let passages = passages();
    let passages: Vec<&str> = passages.iter().map(String::as_str).collect();

    let started = Instant::now();
    let encoder = Encoder::load(&model_path)?;
    println!("model              {}", model_path.display());
    println!("load               {:.0} ms", ms(started.elapsed()));

    // The reference engine, when it builds, answers query by query in turn with the
    // encoder, so that both see the same load on the machine; a pause between the two lets
    // the other engine's idle threads stop spinning (OpenMP's spin for a while).
    let mut c_engine = match CEngine::start(&model_dir, &model_path) {
        Ok(engine) => Some(engine),
        Err(error) => {
            println!("C engine           not measured: {error:#}");
            None
        }
    };
    if let Some(engine) = &c_engine {
        println!("C engine load      {:.0} ms", engine.load_ms);
    }
    for query in queries.iter().take(WARMUP) {
        encoder.embed(&[query], TextKind::Query)?;
        if let Some(engine) = &mut c_engine {
            engine.query(query)?;
        }
    }
    let mut latencies = Vec::with_capacity(queries.len());
    let mut c_latencies = Vec::with_capacity(queries.len());
    for query in &queries {
        let started = Instant::now();
        encoder.embed(&[query], TextKind::Query)?;
        latencies.push(ms(started.elapsed()));
        if let Some(engine) = &mut c_engine {
            std::thread::sleep(PAUSE);
            c_latencies.push(engine.query(query)?);
            std::thread::sleep(PAUSE);
        }
    }
    let n_tokens: usize = queries
        .iter()
        .map(|q| encoder.token_ids(q, TextKind::Query).len())
        .sum();
    let encoder_p50 = percentile(&mut latencies, 0.50);
    println!(
        "query embedding    p50 {:.1} ms, p99 {:.1} ms ({} queries of {:.1} tokens on average, one at a time, taking turns with C after a {} ms pause)",
        encoder_p50,
        percentile(&mut latencies, 0.99),
        queries.len(),
        n_tokens as f64 / queries.len() as f64,
        PAUSE.as_millis()
    );
    if !c_latencies.is_empty() {
        let (c_p50, c_p99) = (percentile(&mut c_latencies, 0.50), percentile(&mut c_latencies, 0.99));
        println!("C engine query     p50 {c_p50:.1} ms, p99 {c_p99:.1} ms");
        println!(
            "ratio candle / C   {:.2} (query p50, taking turns)",
            encoder_p50 / c_p50
        );
    }
    // Back to back: each engine embeds all the queries in a row (its threads stay warm), the
    // way a busy server sees them; the two runs follow each other, not interleaved.
    let mut back_to_back = Vec::with_capacity(queries.len());
    for query in &queries {
        let started = Instant::now();
        encoder.embed(&[query], TextKind::Query)?;
        back_to_back.push(ms(started.elapsed()));
    }
    let b2b_p50 = percentile(&mut back_to_back, 0.50);
    println!(
        "query back to back p50 {:.1} ms, p99 {:.1} ms",
        b2b_p50,
        percentile(&mut back_to_back, 0.99)
    );
    if let Some(engine) = &mut c_engine {
        let mut c_back_to_back = Vec::with_capacity(queries.len());
        for query in &queries {
            c_back_to_back.push(engine.query(query)?);
        }
        let c_p50 = percentile(&mut c_back_to_back, 0.50);
        println!(
            "C back to back     p50 {:.1} ms, p99 {:.1} ms",
            c_p50,
            percentile(&mut c_back_to_back, 0.99)
        );
        println!("ratio candle / C   {:.2} (query p50, back to back)", b2b_p50 / c_p50);
    }

    let n_tokens: usize = passages
        .iter()
        .map(|p| encoder.token_ids(p, TextKind::Passage).len())
        .sum();
    encoder.embed(&passages[..BATCH], TextKind::Passage)?;
    let started = Instant::now();
    for batch in passages.chunks(BATCH) {
        encoder.embed(batch, TextKind::Passage)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "passages           {:.1} passages/s, {:.0} tokens/s ({} passages of {:.0} tokens on average, batches of {BATCH})",
        passages.len() as f64 / seconds,
        n_tokens as f64 / seconds,
        passages.len(),
        n_tokens as f64 / passages.len() as f64
    );
    if let Some(engine) = c_engine {
        let c_seconds = engine.passages(&passages)? / 1000.0;
        println!("C engine passages  {:.1} passages/s", passages.len() as f64 / c_seconds);
    }
    drop(encoder);

    // `ask` end to end on the engine the server runs, with questions it has not seen (no
    // query-cache hits): embedding, BM25, fusion, the intent head and the composed answer.
    let started = Instant::now();
    let engine = api::state::load_engine(
        &args.dir(),
        false,
        index::IndexConfig {
            segmentation: args.segmentation,
            ..index::IndexConfig::default()
        },
        None,
        api::state::load_model(&model_dir, args.mode, args.fusion).as_ref(),
    )?;
    println!(
        "engine build       {:.0} ms (guides indexed and embedded, heads loaded or trained)",
        ms(started.elapsed())
    );
    let asks: Vec<String> = ASK_TEMPLATES
        .iter()
        .flat_map(|t| SERVICES.iter().map(move |s| t.replace("{}", s)))
        .collect();
    let context = bot::Context::anonymous();
    for question in asks.iter().take(WARMUP) {
        bot::respond(
            &engine,
            &context,
            &bot::DialogueState::default(),
            &format!("{question}？"),
        )?;
    }
    let mut ask_latencies = Vec::with_capacity(asks.len());
    for question in &asks {
        let started = Instant::now();
        bot::respond(&engine, &context, &bot::DialogueState::default(), question)?;
        ask_latencies.push(ms(started.elapsed()));
    }
    let ask_p50 = percentile(&mut ask_latencies, 0.50);
    println!(
        "ask end to end     p50 {:.1} ms, p99 {:.1} ms ({} questions, warm, mode {:?})",
        ask_p50,
        percentile(&mut ask_latencies, 0.99),
        asks.len(),
        engine.default_mode()
    );
    // The questions follow each other without a pause, so the fair encoder figure is the
    // back-to-back one (the taking-turns one includes waking idle threads).
    println!(
        "ratio ask / embed  {:.2} (p50, against the encoder back to back; {:.2} against taking turns)",
        ask_p50 / b2b_p50,
        ask_p50 / encoder_p50
    );
    let started = Instant::now();
    for question in &asks {
        bot::respond(&engine, &context, &bot::DialogueState::default(), question)?;
    }
    println!(
        "ask, cached query  {:.1} ms per question (the same questions again: query-embedding LRU)",
        ms(started.elapsed()) / asks.len() as f64
    );
    println!(
        "peak RSS           {} (this process: two encoders loaded in turn, the engine)",
        status_field("self", "VmHWM")
    );
    drop(engine);
    if let Err(error) = server(args, &asks) {
        println!("server             not measured: {error:#}");
    }
    Ok(())
}

/// The real server: `banshi serve` started from this binary on a free port with a fresh
/// SQLite file; the same questions over HTTP (`POST /api/v1/chat`, a new conversation each),
/// then its resident memory, steady (VmRSS) and peak (VmHWM).
fn server(args: &KnowledgeArgs, asks: &[String]) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let database_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let child = Server::start(args, &database_url, &["--rate-limit-per-minute", "1000000"])?;
    let addr = child.addr.clone();
    println!("server ready       {:.0} ms after start", ms(started.elapsed()));
    let pid = child.pid();
    let chat = |question: &str| -> anyhow::Result<f64> {
        let body = serde_json::json!({ "message": question }).to_string();
        let started = Instant::now();
        let (status, response) = http(&addr, "POST", "/api/v1/chat", Some(&body))?;
        if status != 200 {
            bail!("chat answered {status}: {response}");
        }
        Ok(ms(started.elapsed()))
    };
    for question in asks.iter().take(WARMUP) {
        chat(&format!("{question}？"))?;
    }
    let mut latencies = Vec::with_capacity(asks.len());
    for question in asks {
        latencies.push(chat(question)?);
    }
    println!(
        "server chat        p50 {:.1} ms, p99 {:.1} ms ({} questions over HTTP, each a new conversation stored in SQLite)",
        percentile(&mut latencies, 0.50),
        percentile(&mut latencies, 0.99),
        asks.len()
    );
    // The widget's view: the first streamed piece of a reply (a new conversation each time).
    let mut first = Vec::with_capacity(asks.len());
    for question in asks {
        let body = serde_json::json!({ "message": question }).to_string();
        first.push(first_event(&addr, "/api/v1/chat/stream", &body)?);
    }
    println!(
        "stream first byte  p50 {:.1} ms, p99 {:.1} ms (POST /api/v1/chat/stream until the first event arrives)",
        percentile(&mut first, 0.50),
        percentile(&mut first, 0.99)
    );
    println!(
        "widget transfer    {} bytes gzipped (widget.js + widget.css); {} bytes for all pages and scripts",
        api::assets::widget_transfer_bytes(),
        api::assets::total_gzip_bytes()
    );
    println!(
        "server RSS         {} steady after {} chats, {} peak",
        status_field(&pid, "VmRSS"),
        WARMUP + 2 * asks.len(),
        status_field(&pid, "VmHWM")
    );
    Ok(())
}

/// Milliseconds from sending a request to the first server-sent event of its answer.
fn first_event(addr: &str, path: &str, body: &str) -> anyhow::Result<f64> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let started = Instant::now();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            bail!("the stream ended before any event: {}", String::from_utf8_lossy(&seen));
        }
        seen.extend_from_slice(&buffer[..n]);
        if seen.windows(6).any(|w| w == b"event:") {
            return Ok(ms(started.elapsed()));
        }
    }
}

const ASK_TEMPLATES: [&str; 5] = [
    "请问{}要带哪些证件",
    "我想办{}去哪里",
    "{}大概几天能办好",
    "{}收不收费",
    "帮我看看{}的条件",
];

/// Service-guide-like passages of 60 to 400 characters.
fn passages() -> Vec<String> {
    let sentences = [
        "申请人应当携带本人居民身份证原件及复印件。",
        "办理地点为各区政务服务中心综合受理窗口，工作日上午九点至下午五点。",
        "符合条件的，承办机构应当自受理之日起十五个工作日内作出决定。",
        "本事项不收取任何费用，可通过政务服务网或者手机应用在线申请。",
        "委托他人代办的，应当提交授权委托书和代办人身份证明。",
        "Applicants may also submit the form online and track its progress with the reference number.",
        "跨省通办的，可以在居住地任一政务服务中心提交申请，由户籍地审核。",
        "材料不齐全的，窗口工作人员应当一次性告知需要补正的全部内容。",
    ];
    (0..64)
        .map(|i| {
            let n_sentences = 2 + i % 9;
            (0..n_sentences)
                .map(|j| sentences[(i * 3 + j) % sentences.len()])
                .collect::<String>()
        })
        .collect()
}

fn percentile(latencies: &mut [f64], quantile: f64) -> f64 {
    latencies.sort_by(f64::total_cmp);
    latencies[((latencies.len() as f64 - 1.0) * quantile).round() as usize]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The reference engine, built by gcc from the cache dir's e5.c with a driver that answers
/// on stdout, one line per request: the load time, then for each query (NUL-terminated on
/// stdin) the milliseconds `e5_embed` took; after an empty record, the passages
/// (NUL-terminated, then another empty record) in batches of `BATCH`, and their total time.
struct CEngine {
    _build_dir: tempfile::TempDir,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    load_ms: f64,
}

const C_DRIVER: &str = r#"
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "e5.h"
static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
int main(int argc, char **argv) {
    double t0 = now_ms();
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    int batch = atoi(argv[2]);
    printf("%f\n", now_ms() - t0); fflush(stdout);
    float *out = malloc(sizeof(float) * e5_dim(m) * batch);
    char *line = NULL; size_t cap = 0; ssize_t n;
    while ((n = getdelim(&line, &cap, 0, stdin)) > 1) {
        double s = now_ms(); e5_embed(m, line, 1, out);
        printf("%f\n", now_ms() - s); fflush(stdout);
    }
    char **texts = NULL; int count = 0;
    while ((n = getdelim(&line, &cap, 0, stdin)) > 1) {
        texts = realloc(texts, sizeof(char *) * (count + 1)); texts[count++] = strdup(line);
    }
    e5_embed_batch(m, (const char **)texts, count < batch ? count : batch, 0, out);
    double s = now_ms();
    for (int i = 0; i < count; i += batch) e5_embed_batch(m, (const char **)texts + i, count - i < batch ? count - i : batch, 0, out);
    printf("%f\n", now_ms() - s); fflush(stdout);
    return 0;
}
"#;

impl CEngine {
    fn start(model_dir: &Path, model_path: &Path) -> anyhow::Result<CEngine> {
        let source = model_dir.join("e5.c");
        if !source.exists() || !model_dir.join("e5.h").exists() {
            bail!("no e5.c and e5.h in {}", model_dir.display());
        }
        let build_dir = tempfile::tempdir()?;
        let driver = build_dir.path().join("driver.c");
        std::fs::write(&driver, C_DRIVER)?;
        let binary = build_dir.path().join("e5bench");
        let output = Command::new("gcc")
            .args(["-O3", "-march=native", "-fopenmp", "-I"])
            .arg(model_dir)
            .arg(&driver)
            .arg(&source)
            .args(["-lm", "-o"])
            .arg(&binary)
            .output()
            .context("cannot run gcc")?;
        if !output.status.success() {
            bail!("gcc failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        let mut child = Command::new(&binary)
            .arg(model_path)
            .arg(BATCH.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().context("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("no stdout")?);
        let mut engine = CEngine {
            _build_dir: build_dir,
            child,
            stdin,
            stdout,
            load_ms: 0.0,
        };
        engine.load_ms = engine.read_ms()?;
        Ok(engine)
    }

    fn query(&mut self, text: &str) -> anyhow::Result<f64> {
        self.stdin.write_all(text.as_bytes())?;
        self.stdin.write_all(b"\0")?;
        self.stdin.flush()?;
        self.read_ms()
    }

    fn passages(mut self, passages: &[&str]) -> anyhow::Result<f64> {
        self.stdin.write_all(b"\0")?;
        for passage in passages {
            self.stdin.write_all(passage.as_bytes())?;
            self.stdin.write_all(b"\0")?;
        }
        self.stdin.write_all(b"\0")?;
        self.stdin.flush()?;
        let total = self.read_ms()?;
        drop(self.stdin);
        self.child.wait()?;
        Ok(total)
    }

    fn read_ms(&mut self) -> anyhow::Result<f64> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("the C engine stopped");
        }
        line.trim()
            .parse()
            .with_context(|| format!("unexpected output from the C engine: {line:?}"))
    }
}

/// District names the generated corpus copies the sample guides for.
const DISTRICTS: [&str; 12] = [
    "中山区",
    "滨江区",
    "东湖区",
    "西陵区",
    "南湖区",
    "北山区",
    "青溪县",
    "白石县",
    "临川县",
    "枫林镇",
    "石桥镇",
    "云岭乡",
];

/// Writes `n` guides into `to` (with the sample's other files): the sample's guides first,
/// then copies per district (`<id>-d<k>`, the district in the title and summary, so every
/// chunk is a new text to embed; no aliases, related services or forms of their own).
fn scaled_corpus(from: &Path, to: &Path, n: usize) -> anyhow::Result<usize> {
    std::fs::create_dir_all(to.join("guides"))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    std::fs::create_dir_all(to.join("forms"))?;
    for entry in std::fs::read_dir(from.join("forms"))? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join("forms").join(entry.file_name()))?;
    }
    let mut sample: Vec<std::path::PathBuf> = std::fs::read_dir(from.join("guides"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    sample.sort();
    if sample.is_empty() {
        bail!("no guides in {}", from.display());
    }
    for i in 0..n {
        let path = &sample[i % sample.len()];
        let copy = i / sample.len();
        let text = std::fs::read_to_string(path)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
        if copy == 0 {
            std::fs::write(to.join("guides").join(&name), text)?;
            continue;
        }
        let mut value: toml::Value = toml::from_str(&text)?;
        let district = format!("{}（第{}片）", DISTRICTS[(copy - 1) % DISTRICTS.len()], copy);
        let id = format!("{}-d{copy}", name.trim_end_matches(".toml"));
        if let Some(table) = value.as_table_mut() {
            let title = table
                .get("title")
                .and_then(|t| t.as_str())
                .unwrap_or_default()
                .to_string();
            let summary = table
                .get("summary")
                .and_then(|t| t.as_str())
                .unwrap_or_default()
                .to_string();
            table.insert("id".into(), id.clone().into());
            table.insert("title".into(), format!("{title}（{district}）").into());
            table.insert("summary".into(), format!("{district}：{summary}").into());
            table.insert("aliases".into(), toml::Value::Array(Vec::new()));
            table.insert("related".into(), toml::Value::Array(Vec::new()));
            table.insert("members".into(), toml::Value::Array(Vec::new()));
            table.remove("summary_en");
        }
        std::fs::write(to.join("guides").join(format!("{id}.toml")), toml::to_string(&value)?)?;
    }
    Ok(n)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => dir_bytes(&e.path()),
                    _ => e.metadata().map_or(0, |m| m.len()),
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Starts a real server on the corpus and reports: the first answered chat after start,
/// `/readyz`'s embedding progress, the time until hybrid search, RSS, then chat p50/p99.
fn scale_run(args: &KnowledgeArgs, database_url: &str, label: &str, asks: &[String]) -> anyhow::Result<()> {
    let started = Instant::now();
    let server = Server::launch(args, database_url, &["--rate-limit-per-minute", "1000000"])?;
    let addr = server.addr.clone();
    let body = serde_json::json!({ "message": asks[0] }).to_string();
    let first = loop {
        if let Ok((200, _)) = http(&addr, "POST", "/api/v1/chat", Some(&body)) {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("no answer within 120 s of start");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    println!("{label}: first chat answered {:.1} s after start", first.as_secs_f64());
    let mut shown = Instant::now();
    let hybrid = loop {
        let (status, body) = http(&addr, "GET", "/readyz", None)?;
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if status == 200 && json.get("embedding").is_none() {
            break started.elapsed();
        }
        if shown.elapsed() > Duration::from_secs(15) {
            let e = &json["embedding"];
            println!(
                "{label}:   /readyz {} {}/{} texts, {} a second, about {} s left (answers meanwhile: search = {})",
                e["phase"].as_str().unwrap_or("?"),
                e["done"],
                e["total"],
                e["per_second"],
                e["eta_s"],
                json["search"].as_str().unwrap_or("?")
            );
            shown = Instant::now();
        }
        if started.elapsed() > Duration::from_secs(7200) {
            bail!("not hybrid after 2 hours");
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    println!("{label}: hybrid search {:.1} s after start", hybrid.as_secs_f64());
    let mut latencies = Vec::with_capacity(asks.len());
    for question in asks {
        let body = serde_json::json!({ "message": question }).to_string();
        let sent = Instant::now();
        let (status, response) = http(&addr, "POST", "/api/v1/chat", Some(&body))?;
        if status != 200 {
            bail!("chat answered {status}: {response}");
        }
        latencies.push(ms(sent.elapsed()));
    }
    println!(
        "{label}: chat p50 {:.1} ms, p99 {:.1} ms ({} questions); RSS {} (peak {})",
        percentile(&mut latencies, 0.50),
        percentile(&mut latencies, 0.99),
        asks.len(),
        status_field(&server.pid(), "VmRSS"),
        status_field(&server.pid(), "VmHWM")
    );
    Ok(())
}

/// `banshi bench --corpus-scale N`.
pub fn corpus_scale(args: &KnowledgeArgs, n: usize) -> anyhow::Result<()> {
    let model_path = args.model_dir().join("e5-small-q4.bin");
    if !model_path.exists() {
        bail!("{} missing: run scripts/fetch-models.sh first", model_path.display());
    }
    let work = tempfile::tempdir()?;
    let dir = work.path().join("knowledge");
    scaled_corpus(&args.dir(), &dir, n)?;
    let outcome = knowledge::Corpus::load(&dir)?;
    println!(
        "corpus             {} guides generated in {} ({} errors)",
        outcome.corpus.len(),
        dir.display(),
        outcome.n_errors()
    );
    // A model folder of its own, with an empty cache: the cold start embeds everything.
    let model_dir = work.path().join("model");
    std::fs::create_dir_all(&model_dir)?;
    for file in ["e5-small-q4.bin", "tokenizer.json"] {
        if let Ok(from) = args.model_dir().join(file).canonicalize() {
            std::os::unix::fs::symlink(&from, model_dir.join(file))?;
        }
    }
    let scaled = KnowledgeArgs {
        knowledge_dir: Some(dir),
        model_dir: Some(model_dir.clone()),
        ..args.clone()
    };
    let asks: Vec<String> = SERVICES
        .iter()
        .flat_map(|s| TEMPLATES.iter().take(5).map(move |t| t.replace("{}", s)))
        .collect();
    let database_url = format!("sqlite://{}", work.path().join("bench.db").display());
    scale_run(&scaled, &database_url, "cold (empty cache)", &asks)?;
    println!(
        "embedding cache    {:.1} MB on disk",
        dir_bytes(&model_dir.join("cache")) as f64 / 1_048_576.0
    );
    scale_run(&scaled, &database_url, "warm (full cache) ", &asks)?;
    Ok(())
}

//! Speed of the encoder, and of the reference C engine on the same texts when it can be built.
//!
//! ```sh
//! scripts/fetch-models.sh
//! cargo run --release --example bench            # model from the cache dir
//! cargo run --release --example bench -- FILE    # or any model path
//! ```
//!
//! Prints the load time, the p50/p99 latency of single short queries (warm), the throughput of
//! passages in batches, and, when gcc can build the cache dir's e5.c, the C engine's p50 on the
//! same queries and the ratio.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use models::{Encoder, TextKind};

const SERVICES: [&str; 20] = [
    "居住证", "身份证", "护照", "驾驶证", "营业执照", "住房公积金", "社保卡", "医保报销", "户口迁移", "结婚登记",
    "出生医学证明", "不动产登记", "个人所得税汇算", "退休手续", "失业保险金", "港澳通行证", "残疾人证", "老年人优待证",
    "机动车年检", "新生儿落户",
];
const TEMPLATES: [&str; 10] = [
    "{}怎么办理", "办理{}需要什么材料", "{}在哪里办", "{}多久能拿到", "{}要收费吗", "{}可以网上办吗",
    "{}丢了怎么补办", "外地人能办{}吗", "{}的办理流程是什么", "How do I apply for {}?",
];
const WARMUP: usize = 10;
const BATCH: usize = 16;

fn main() -> anyhow::Result<()> {
    let model_dir = match std::env::var_os("BANSHI_MODEL_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/models"),
    };
    let model_path = std::env::args_os().nth(1).map(PathBuf::from).unwrap_or_else(|| model_dir.join("e5-small-q4.bin"));
    if !model_path.exists() {
        bail!("{} is missing: run scripts/fetch-models.sh", model_path.display());
    }
    let queries: Vec<String> =
        TEMPLATES.iter().flat_map(|t| SERVICES.iter().map(move |s| t.replace("{}", s))).collect();
    let passages = passages();

    let started = Instant::now();
    let encoder = Encoder::load(&model_path)?;
    let load = started.elapsed();
    println!("model              {}", model_path.display());
    println!("load               {:.0} ms", ms(load));

    for query in queries.iter().take(WARMUP) {
        encoder.embed(&[query], TextKind::Query)?;
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(queries.len());
    for query in &queries {
        let started = Instant::now();
        encoder.embed(&[query], TextKind::Query)?;
        latencies.push(started.elapsed());
    }
    let n_query_tokens: usize = queries.iter().map(|q| encoder.token_ids(q, TextKind::Query).len()).sum();
    let (p50, p99) = (percentile(&mut latencies, 0.50), percentile(&mut latencies, 0.99));
    println!(
        "query              p50 {:.1} ms, p99 {:.1} ms ({} queries, {:.1} tokens on average)",
        ms(p50),
        ms(p99),
        queries.len(),
        n_query_tokens as f64 / queries.len() as f64
    );

    let n_passage_tokens: usize = passages.iter().map(|p| encoder.token_ids(p, TextKind::Passage).len()).sum();
    let texts: Vec<&str> = passages.iter().map(String::as_str).collect();
    encoder.embed(&texts[..BATCH], TextKind::Passage)?;
    let started = Instant::now();
    for batch in texts.chunks(BATCH) {
        encoder.embed(batch, TextKind::Passage)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "passages           {:.1} passages/s, {:.0} tokens/s ({} passages of {:.0} tokens on average, batches of {BATCH})",
        passages.len() as f64 / elapsed,
        n_passage_tokens as f64 / elapsed,
        passages.len(),
        n_passage_tokens as f64 / passages.len() as f64
    );

    match reference_engine(&model_dir, &model_path, &queries, &texts) {
        Ok(c) => {
            println!("C engine load      {:.0} ms", c.load_ms);
            println!("C engine query     p50 {:.1} ms, p99 {:.1} ms", c.p50_ms, c.p99_ms);
            println!("C engine passages  {:.1} passages/s", passages.len() as f64 / (c.passages_ms / 1000.0));
            println!("ratio candle / C   {:.2} (query p50)", ms(p50) / c.p50_ms);
        }
        Err(error) => println!("C engine           not measured: {error:#}"),
    }
    Ok(())
}

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
            (0..n_sentences).map(|j| sentences[(i * 3 + j) % sentences.len()]).collect::<String>()
        })
        .collect()
}

fn percentile(latencies: &mut [Duration], quantile: f64) -> Duration {
    latencies.sort();
    let index = ((latencies.len() as f64 - 1.0) * quantile).round() as usize;
    latencies[index]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

struct CEngine {
    load_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    passages_ms: f64,
}

/// A driver for the reference engine: loads the model, embeds the first texts as warm-up,
/// then times each query alone and the passages in batches. Texts come NUL-separated on
/// stdin, queries first, then an empty record, then passages.
const C_DRIVER: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "e5.h"
static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
int main(int argc, char **argv) {
    size_t cap = 1 << 20, n = 0, r; char *in = malloc(cap);
    while ((r = fread(in + n, 1, cap - n, stdin)) > 0) { n += r; if (n == cap) in = realloc(in, cap *= 2); }
    const char *texts[4096]; int nq = -1, nt = 0;
    for (size_t i = 0; i < n && nt < 4096; i += strlen(in + i) + 1) {
        if (in[i] == 0 && nq < 0) { nq = nt; continue; }
        texts[nt++] = in + i;
    }
    double t0 = now_ms();
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    printf("load %f\n", now_ms() - t0);
    float *out = malloc(sizeof(float) * e5_dim(m) * 64);
    int warmup = atoi(argv[2]), batch = atoi(argv[3]);
    for (int i = 0; i < warmup && i < nq; i++) e5_embed(m, texts[i], 1, out);
    double *lat = malloc(sizeof(double) * nq);
    for (int i = 0; i < nq; i++) { double s = now_ms(); e5_embed(m, texts[i], 1, out); lat[i] = now_ms() - s; }
    qsort(lat, nq, sizeof(double), cmp);
    printf("p50 %f\np99 %f\n", lat[(int)((nq - 1) * 0.50 + 0.5)], lat[(int)((nq - 1) * 0.99 + 0.5)]);
    int np = nt - nq;
    e5_embed_batch(m, texts + nq, batch < np ? batch : np, 0, out);
    double s = now_ms();
    for (int i = 0; i < np; i += batch) e5_embed_batch(m, texts + nq + i, np - i < batch ? np - i : batch, 0, out);
    printf("passages %f\n", now_ms() - s);
    return 0;
}
"#;

fn reference_engine(model_dir: &Path, model_path: &Path, queries: &[String], passages: &[&str]) -> anyhow::Result<CEngine> {
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

    let mut input = Vec::new();
    for text in queries.iter().map(String::as_str).chain([""]).chain(passages.iter().copied()) {
        input.extend_from_slice(text.as_bytes());
        input.push(0);
    }
    let mut child = Command::new(&binary)
        .arg(model_path)
        .arg(WARMUP.to_string())
        .arg(BATCH.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().context("no stdin")?.write_all(&input)?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("the C engine failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let stdout = String::from_utf8(output.stdout)?;
    let value = |key: &str| -> anyhow::Result<f64> {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(key).map(|v| v.trim().parse::<f64>()))
            .with_context(|| format!("no {key} in the C engine's output"))?
            .map_err(Into::into)
    };
    Ok(CEngine { load_ms: value("load")?, p50_ms: value("p50")?, p99_ms: value("p99")?, passages_ms: value("passages")? })
}

//! The `banshi` binary's contracts: the JSON shapes other tools depend on, exit codes, and
//! clear errors.

use std::process::{Command, Output};

fn banshi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_banshi"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(
            "BANSHI_KNOWLEDGE_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../knowledge/data"),
        )
        .env_remove("DATABASE_URL")
        .output()
        .expect("banshi runs")
}

fn stdout_json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

#[test]
fn search_json_has_the_contract_shape() {
    let json = stdout_json(&banshi(&["search", "--json", "--limit", "2", "居民身份证丢失补领"]));
    let hits = json["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0]["id"], "id-card-replacement");
    assert!(hits[0]["title"].is_string() && hits[0]["score"].is_number());
    assert_eq!(
        hits[0].as_object().unwrap().len(),
        3,
        "exactly id, title, score: {}",
        hits[0]
    );
}

#[test]
fn ask_json_has_the_contract_shape() {
    let json = stdout_json(&banshi(&["ask", "--json", "开个奶茶店要办什么证"]));
    let object = json.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["answer", "citations", "guides", "intent"]);
    assert_eq!(json["intent"], "service");
    assert!(json["answer"].as_str().unwrap().len() > 20);
    for citation in json["citations"].as_array().unwrap() {
        assert!(citation["guide_id"].is_string() && citation["section"].is_string());
    }
}

#[test]
fn ask_batch_answers_every_line_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("questions.txt");
    std::fs::write(&file, "护照怎么办\n\n转人工\n今天天气怎么样\n").unwrap();
    let output = banshi(&["ask", "--json", "--batch", file.to_str().unwrap()]);
    assert!(output.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let intents: Vec<&str> = lines.iter().map(|l| l["intent"].as_str().unwrap()).collect();
    assert_eq!(intents, ["service", "out_of_scope", "human", "out_of_scope"]);
    assert_eq!(lines[0]["guides"][0]["id"], "passport");
    assert!(lines[3]["guides"].as_array().unwrap().is_empty());
}

#[test]
fn knowledge_check_passes_on_the_sample_and_fails_with_path_and_line() {
    let ok = banshi(&["knowledge", "check"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));

    let dir = tempfile::tempdir().unwrap();
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/../knowledge/data");
    for name in ["departments.toml", "e_licenses.toml", "lexicon.toml"] {
        std::fs::copy(format!("{source}/{name}"), dir.path().join(name)).unwrap();
    }
    std::fs::create_dir(dir.path().join("guides")).unwrap();
    let passport = std::fs::read_to_string(format!("{source}/guides/passport.toml")).unwrap();
    std::fs::write(
        dir.path().join("guides/passport.toml"),
        passport.replacen("department = \"", "department = ", 1),
    )
    .unwrap();
    let bad = banshi(&["knowledge", "check", "--knowledge-dir", dir.path().to_str().unwrap()]);
    assert!(!bad.status.success());
    let stdout = String::from_utf8_lossy(&bad.stdout);
    let line = passport.lines().position(|l| l.starts_with("department")).unwrap() + 1;
    assert!(stdout.contains(&format!("passport.toml:{line}: 错误")), "{stdout}");
}

/// A copy of the sample corpus's directory files with an empty guides/ folder.
fn empty_knowledge_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/../knowledge/data");
    for name in ["departments.toml", "e_licenses.toml", "lexicon.toml"] {
        std::fs::copy(format!("{source}/{name}"), dir.path().join(name)).unwrap();
    }
    std::fs::create_dir(dir.path().join("guides")).unwrap();
    dir
}

#[test]
fn knowledge_import_reports_bad_rows_as_file_and_row_writes_the_good_ones_and_fails() {
    let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/../knowledge/import-sample");
    let mapping = format!("{samples}/mapping.toml");
    let dir = empty_knowledge_dir();
    let knowledge_dir = dir.path().to_str().unwrap();

    let broken = format!("{samples}/catalog-broken.csv");
    let output = banshi(&[
        "knowledge",
        "import",
        &broken,
        "--mapping",
        &mapping,
        "--knowledge-dir",
        knowledge_dir,
    ]);
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    for row in [3, 4, 5, 6, 7] {
        assert!(
            stdout.contains(&format!("catalog-broken.csv:{row}: 错误：")),
            "{stdout}"
        );
    }
    assert!(stdout.contains("7 行，新增 2，更新 0，未变 0，失败 5"), "{stdout}");
    let check = banshi(&["knowledge", "check", "--knowledge-dir", knowledge_dir]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    assert!(String::from_utf8_lossy(&check.stdout).contains("2 份指南有效，0 个错误"));

    let good = format!("{samples}/catalog.csv");
    let output = banshi(&[
        "knowledge",
        "import",
        &good,
        "--mapping",
        &mapping,
        "--knowledge-dir",
        knowledge_dir,
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    // Two of the broken file's good rows are the same as the sample's.
    assert!(stdout.contains("11 行，新增 9，更新 0，未变 2，失败 0"), "{stdout}");

    let output = banshi(&[
        "knowledge",
        "import",
        &good,
        "--mapping",
        "nowhere.toml",
        "--knowledge-dir",
        knowledge_dir,
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nowhere.toml"));
}

#[test]
fn serve_refuses_a_taken_port_and_a_bad_database_clearly() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/t.db", dir.path().display());
    let output = banshi(&["serve", "--addr", &addr, "--database-url", &db]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("无法监听") && stderr.contains(&addr), "{stderr}");

    let output = banshi(&["serve", "--addr", "127.0.0.1:0", "--database-url", "mysql://nowhere/x"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("无法打开数据库"), "{stderr}");
}

#[test]
fn serve_refuses_a_short_jwt_secret_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/t.db", dir.path().display());
    let output = banshi(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        &db,
        "--mode",
        "bm25",
        "--jwt-secret",
        "change-me",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("身份认证配置无效") && stderr.contains("has 9 bytes; at least 32"),
        "{stderr}"
    );
}

/// Starts `banshi serve` on a free port and returns its log up to "banshi listening".
fn serve_log(extra: &[&str]) -> String {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/t.db", dir.path().display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_banshi"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--database-url",
            &db,
            "--mode",
            "bm25",
        ])
        .args(["--reload-interval-secs", "0", "--log-format", "text"])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(
            "BANSHI_KNOWLEDGE_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../knowledge/data"),
        )
        .env("BANSHI_LOG", "info")
        .env_remove("BANSHI_DEV_LOGIN")
        .env_remove("BANSHI_JWT_SECRET")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("banshi serve starts");
    let mut log = String::new();
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("banshi listening") {
            break;
        }
    }
    child.kill().ok();
    child.wait().ok();
    assert!(log.contains("banshi listening"), "{log}");
    log
}

#[test]
fn dev_login_is_off_by_default_and_loud_when_on() {
    let quiet = serve_log(&[]);
    assert!(!quiet.contains("DEVELOPMENT LOGIN"), "{quiet}");

    let loud = serve_log(&["--dev-login", "on"]);
    let n_banner_lines = loud.lines().filter(|l| l.contains("WARN") && l.contains('#')).count();
    assert!(n_banner_lines >= 5, "a multi-line banner: {loud}");
    assert!(loud.contains("DEVELOPMENT LOGIN IS ON"), "{loud}");
}

/// The load test's and the crash test's CI smoke runs (the full runs are in the README).
#[test]
fn a_short_load_and_a_short_crash_test_lose_nothing() {
    let load = banshi(&[
        "loadtest",
        "--mode",
        "bm25",
        "--conversations",
        "20",
        "--duration-secs",
        "4",
        "--think-ms",
        "100",
    ]);
    let out = String::from_utf8_lossy(&load.stdout).to_string();
    assert!(load.status.success(), "{out}{}", String::from_utf8_lossy(&load.stderr));
    assert!(
        out.contains("shed               0 (") && out.contains("errors 0\n"),
        "{out}"
    );
    let crash = banshi(&[
        "loadtest",
        "--mode",
        "bm25",
        "--conversations",
        "12",
        "--think-ms",
        "150",
        "--kills",
        "3",
        "--kill-every-ms",
        "1500",
    ]);
    let out = String::from_utf8_lossy(&crash.stdout).to_string();
    assert!(
        crash.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&crash.stderr)
    );
    assert!(out.contains("restarts           3 after kill -9"), "{out}");
    assert!(out.contains("missing after the restarts: 0"), "{out}");
    assert!(out.contains("crash test         passed"), "{out}");
}

/// The replica run's CI smoke version: two servers on one fresh PostgreSQL database, every
/// request to the next one, then two kill -9s under that load; nothing lost or doubled.
#[test]
fn two_replicas_on_postgres_lose_nothing_under_load_and_kills() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // One fresh database per run: the crash check compares what is stored with what its own
    // clients submitted.
    let fresh = || runtime.block_on(backend::testing::TestDb::postgres());
    let (Some(load_db), Some(crash_db)) = (fresh(), fresh()) else {
        return;
    };
    let run = |db: &backend::testing::TestDb, extra: &[&str]| {
        let mut args = vec![
            "loadtest",
            "--mode",
            "bm25",
            "--replicas",
            "2",
            "--database-url",
            &db.url,
            "--conversations",
            "12",
        ];
        args.extend_from_slice(extra);
        let output = banshi(&args);
        let out = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "{out}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        out
    };
    let load = run(&load_db, &["--duration-secs", "4", "--think-ms", "100"]);
    assert!(
        load.contains("shed               0 (") && load.contains("errors 0\n"),
        "{load}"
    );
    let crash = run(
        &crash_db,
        &["--think-ms", "150", "--kills", "2", "--kill-every-ms", "1500"],
    );
    assert!(crash.contains("missing after the restarts: 0"), "{crash}");
    assert!(crash.contains("crash test         passed"), "{crash}");
    runtime.block_on(load_db.cleanup());
    runtime.block_on(crash_db.cleanup());
}

/// One HTTP/1.1 exchange on `stream` (already connected): the status and body, or the error
/// (a refused or reset connection).
fn exchange(stream: &mut std::net::TcpStream, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    Ok((status, body))
}

fn request(addr: &str, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    exchange(&mut stream, method, path, body)
}

/// A local address no one listens on.
fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

fn serve_on(db: &str, addr: &str) -> std::process::Child {
    let child = Command::new(env!("CARGO_BIN_EXE_banshi"))
        .args(["serve", "--addr", addr, "--database-url", db, "--mode", "bm25"])
        .args([
            "--reload-interval-secs",
            "0",
            "--turn-workers",
            "1",
            "--turn-queue",
            "1000",
        ])
        .args(["--rate-limit-per-minute", "100000"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(
            "BANSHI_KNOWLEDGE_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../knowledge/data"),
        )
        .env("BANSHI_LOG", "warn")
        .env_remove("BANSHI_DEV_LOGIN")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("banshi serve starts");
    let started = std::time::Instant::now();
    while !matches!(request(addr, "GET", "/readyz", ""), Ok((200, _))) {
        assert!(started.elapsed().as_secs() < 120, "not ready after 120 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child
}

/// SIGTERM while turns are queued and a live view is open: every turn whose request reached
/// the server is answered and stored, the live view ends, and the process exits at once
/// (well inside the 30 s drain limit) with success.
#[test]
fn stopping_finishes_the_turns_already_received() {
    use std::sync::{Arc, Barrier, Mutex};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/t.db", dir.path().display());
    let addr = free_addr();
    let mut server = serve_on(&db, &addr);

    // A live view on a conversation: it must end when the server stops.
    let (status, body) = request(&addr, "POST", "/api/v1/chat", r#"{"message":"护照怎么办"}"#).unwrap();
    assert_eq!(status, 200, "{body}");
    let first: serde_json::Value = serde_json::from_str(&body).unwrap();
    let watched = first["session_id"].as_str().unwrap().to_string();
    let live = {
        let addr = addr.clone();
        let watched = watched.clone();
        std::thread::spawn(move || {
            let mut stream = std::net::TcpStream::connect(&addr).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            let ended = exchange(&mut stream, "GET", &format!("/api/v1/sessions/{watched}/events"), "");
            (ended.map(|(status, _)| status), Instant::now())
        })
    };
    std::thread::sleep(Duration::from_millis(300));

    const TURNS: usize = 200;
    let questions = [
        "居民身份证丢了怎么补",
        "公积金怎么提取",
        "驾照到期换证要什么材料",
        "新生儿怎么上户口",
    ];
    let sent = Arc::new(Barrier::new(TURNS + 1));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..TURNS)
        .map(|i| {
            let (addr, sent, answers) = (addr.clone(), sent.clone(), answers.clone());
            let message = questions[i % questions.len()];
            std::thread::spawn(move || {
                use std::io::Write;
                let mut stream = std::net::TcpStream::connect(&addr).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                let body = format!(r#"{{"message":"{message}"}}"#);
                let head = format!(
                    "POST /api/v1/chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let wrote = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes()));
                sent.wait();
                wrote.unwrap();
                let mut response = String::new();
                let read = std::io::Read::read_to_string(&mut stream, &mut response);
                answers.lock().unwrap().push((read.map(|_| response), Instant::now(), message));
            })
        })
        .collect();
    sent.wait();
    // Time for the server to take the connections it was sent (they wait in its turn queue).
    std::thread::sleep(Duration::from_millis(50));
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let exited = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(20),
            "still running 20 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let stopped_in = signalled.elapsed();
    for client in clients {
        client.join().unwrap();
    }
    let (live_status, live_ended) = live.join().unwrap();
    assert!(exited.success(), "{exited}");
    assert!(
        stopped_in < Duration::from_secs(10),
        "a live view held the server: {stopped_in:?}"
    );
    assert_eq!(live_status.unwrap(), 200, "the live view ends cleanly");
    assert!(live_ended >= signalled, "the live view ended with the stop");

    // Every request the server took was answered in full, before or after the signal.
    let answers = std::mem::take(&mut *answers.lock().unwrap());
    let mut sessions = Vec::new();
    let mut after_signal = 0;
    for (response, at, message) in &answers {
        let response = response.as_ref().expect("no connection is cut in the middle of a turn");
        let status = response.split(' ').nth(1).unwrap_or("");
        assert_eq!(status, "200", "{response}");
        let body = response.split_once("\r\n\r\n").unwrap().1;
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        sessions.push((json["session_id"].as_str().unwrap().to_string(), *message));
        after_signal += usize::from(*at > signalled);
    }
    assert_eq!(sessions.len(), TURNS);
    assert!(
        after_signal > 0,
        "no turn was still open at the signal; the test proves nothing"
    );

    // Each answered turn is stored: the same database, served again, has it.
    let mut again = serve_on(&db, &addr);
    for (session, message) in &sessions {
        let (status, body) = request(&addr, "GET", &format!("/api/v1/chat/{session}/messages"), "").unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(message), "{session}: {body}");
    }
    again.kill().ok();
    again.wait().ok();
    eprintln!("{TURNS} turns, {after_signal} answered after SIGTERM, stopped in {stopped_in:?}");
}

/// `banshi gaps` reads what the server recorded and prints it grouped, largest first.
#[test]
fn gaps_lists_the_unanswered_topics_with_their_counts() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gaps.db").display());
    let now = backend::now_millis();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = backend::Store::open(&url).await.unwrap();
        for text in ["养犬登记怎么办理", "养犬登记证丢了怎么补办", "养犬登记要带什么材料"]
        {
            store.add_gap("declined", text, None, now).await.unwrap();
        }
        for text in ["渔业捕捞许可证怎么申请", "申请渔业捕捞许可证需要什么条件"] {
            store.add_gap("declined", text, None, now).await.unwrap();
        }
        store.close().await;
    });
    let json = stdout_json(&banshi(&["gaps", "--json", "--database-url", &url]));
    assert_eq!(json["n_questions"], 5, "{json}");
    let counts: Vec<u64> = json["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [3, 2], "{json}");
    assert!(
        json["clusters"][0]["topic"].as_str().unwrap().contains("养犬"),
        "{json}"
    );
    let text = banshi(&["gaps", "--database-url", &url]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("— 3 条") && text.contains("最接近"), "{text}");
}

/// With the encoder and an empty embedding cache, the server answers at once (BM25) while it
/// embeds, `/readyz` shows how far it is, and a SIGTERM then does not wait for the embedding.
#[test]
fn a_server_answers_while_it_embeds_and_stops_without_waiting_for_it() {
    use std::time::{Duration, Instant};
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/models");
    let Ok(model) = models.join("e5-small-q4.bin").canonicalize() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs the model: run scripts/fetch-models.sh"
        );
        eprintln!("skipping: no model files");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("model");
    std::fs::create_dir_all(&model_dir).unwrap();
    std::os::unix::fs::symlink(&model, model_dir.join("e5-small-q4.bin")).unwrap();
    if let Ok(tokenizer) = models.join("tokenizer.json").canonicalize() {
        std::os::unix::fs::symlink(tokenizer, model_dir.join("tokenizer.json")).unwrap();
    }
    let addr = free_addr();
    let db = format!("sqlite://{}/t.db", dir.path().display());
    let mut server = Command::new(env!("CARGO_BIN_EXE_banshi"))
        .args(["serve", "--addr", &addr, "--database-url", &db, "--mode", "hybrid"])
        .args([
            "--model-dir",
            &model_dir.display().to_string(),
            "--reload-interval-secs",
            "0",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(
            "BANSHI_KNOWLEDGE_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../knowledge/data"),
        )
        .env("BANSHI_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("banshi serve starts");
    let started = Instant::now();
    let ready = loop {
        if let Ok((200, body)) = request(&addr, "GET", "/readyz", "") {
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "not ready after 60 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    assert!(ready["embedding"]["total"].as_u64().is_some(), "{ready}");
    assert!(ready["search"].as_str().unwrap().contains("warming up"), "{ready}");
    let (status, body) = request(&addr, "POST", "/api/v1/chat", r#"{"message":"护照怎么办"}"#).unwrap();
    assert_eq!(status, 200, "{body}");
    let signalled = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(15),
            "still running 15 s after SIGTERM: it waits for the embedding"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

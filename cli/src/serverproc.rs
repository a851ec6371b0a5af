//! A real `banshi serve` started from this binary on a free port, for the benchmark, the load
//! test and the crash test: readiness, its memory and CPU from /proc, and kill -9.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use api::config::KnowledgeArgs;

/// The server; killed when dropped, however the caller ends.
pub struct Server {
    child: Child,
    pub addr: String,
    /// The command that started it, to start it again on the same database.
    command: Vec<String>,
}

impl Server {
    /// Starts `banshi serve` on `database_url` with `extra` arguments and waits until
    /// `/readyz` answers 200 and the guides' embeddings are ready (at most 300 s).
    pub fn start(args: &KnowledgeArgs, database_url: &str, extra: &[&str]) -> anyhow::Result<Server> {
        let mut server = Server::launch(args, database_url, extra)?;
        server.wait_ready()?;
        Ok(server)
    }

    /// Starts it without waiting for anything.
    pub fn launch(args: &KnowledgeArgs, database_url: &str, extra: &[&str]) -> anyhow::Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let mut command: Vec<String> = vec![
            "serve".into(),
            "--addr".into(),
            addr.clone(),
            "--database-url".into(),
            database_url.into(),
            "--reload-interval-secs".into(),
            "3600".into(),
            "--knowledge-dir".into(),
            args.dir().display().to_string(),
            "--model-dir".into(),
            args.model_dir().display().to_string(),
            "--mode".into(),
            format!("{:?}", args.mode).to_lowercase(),
        ];
        command.extend(extra.iter().map(|s| s.to_string()));
        let child = spawn(&command)?;
        Ok(Server { child, addr, command })
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            // Ready, and answering with the encoder (no embedding still in progress).
            if let Ok((200, body)) = http(&self.addr, "GET", "/readyz", None)
                && !body.contains("\"embedding\"")
            {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(300) {
                bail!("the server was not ready after 300 s");
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("the server stopped: {status}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// kill -9, then the same command again on the same address and database; the time
    /// until it is ready again.
    pub fn kill_and_restart(&mut self) -> anyhow::Result<Duration> {
        self.child.kill()?;
        self.child.wait()?;
        let started = Instant::now();
        self.child = spawn(&self.command)?;
        self.wait_ready()?;
        Ok(started.elapsed())
    }
}

fn spawn(command: &[String]) -> anyhow::Result<Child> {
    Command::new(std::env::current_exe()?)
        .args(command)
        .env("BANSHI_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start banshi serve")
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection: the status code and the body.
pub fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> anyhow::Result<(u16, String)> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .context("no HTTP status line")?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    Ok((status, body))
}

/// A field of /proc/<pid>/status (Linux), such as VmRSS or VmHWM.
pub fn status_field(pid: &str, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .map(|l| l[field.len() + 1..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Resident memory in kB.
pub fn rss_kb(pid: &str) -> Option<u64> {
    status_field(pid, "VmRSS").split_whitespace().next()?.parse().ok()
}

/// CPU time used so far (user + system), in clock ticks.
pub fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

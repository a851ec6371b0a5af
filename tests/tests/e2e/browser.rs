//! The widget, the demo portal, the guide pages and the agent console in a real headless
//! Chromium (Debian's `chromium` and `chromium-driver`, installed by
//! `scripts/install-browser.sh`), driven over WebDriver with fantoccini, on SQLite and on
//! PostgreSQL: a streamed cited answer, a citation followed, a reload that keeps the
//! conversation, 长辈版 sizes and contrast from computed styles, a form filled and submitted
//! while logged in, a rating, a hand-over taken in a second browser and talked through both
//! ways, keyboard use, reflow at 320 px, and axe-core on every page. Screenshots are kept in
//! the test's temporary target folder (and in `$BANSHI_SCREENSHOTS_DIR` when set).
//!
//! Without the browser the test says so loudly and passes, except in CI (`CI` set), where it
//! fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use backend::testing::TestDb;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn axe_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/browser/axe.min.js")
}

/// The browser, or `None` (said loudly) outside CI when it is not installed.
fn browser_available() -> bool {
    let missing: Vec<String> = [CHROMIUM, CHROMEDRIVER]
        .iter()
        .map(PathBuf::from)
        .chain([axe_path()])
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "BROWSER TESTS NOT RUN: missing {} — run scripts/install-browser.sh",
        missing.join(", ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message} (required in CI)");
    }
    eprintln!("\n!!!!!!!! {message} !!!!!!!!\n");
    false
}

struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Driver { child, url };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on {port}");
}

async fn open_browser(driver: &Driver, width: u32, height: u32) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--lang=zh-CN", format!("--window-size={width},{height}")]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session");
    client.set_window_size(width, height).await.unwrap();
    client
}

/// The server on a real port, with the development login on.
async fn serve(store: backend::Store) -> String {
    let app = api::app(crate::common::state(store));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .unwrap();
    });
    format!("http://{addr}")
}

fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Keeps a screenshot as `{label}-{name}.png`; the SQLite run's also goes to
/// `$BANSHI_SCREENSHOTS_DIR/{name}.png` when set (the README's pictures).
async fn screenshot(client: &Client, label: &str, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(artefacts().join(format!("{label}-{name}.png")), &png).unwrap();
    if label == "sqlite"
        && let Some(dir) = std::env::var_os("BANSHI_SCREENSHOTS_DIR")
    {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(format!("{name}.png")), &png).unwrap();
    }
}

async fn js(client: &Client, script: &str) -> Value {
    client.execute(script, Vec::new()).await.unwrap()
}

/// Polls `expression` until it is truthy (15 s at most); a timeout keeps a screenshot.
async fn wait_for(client: &Client, what: &str, expression: &str) -> Value {
    let script = format!("return ({expression});");
    for _ in 0..150 {
        let value = client.execute(&script, Vec::new()).await.unwrap();
        let truthy = match &value {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            _ => true,
        };
        if truthy {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(client, "timeout", &what.replace(' ', "-")).await;
    let log = js(
        client,
        "const l=document.querySelector('#banshi-log');return l?l.innerText:document.body.innerText",
    )
    .await;
    panic!("waited 15 s for {what} ({expression}); the page says: {log}");
}

async fn click(client: &Client, css: &str) {
    client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Types into the widget and sends with Enter, as a person does.
async fn say(client: &Client, text: &str) {
    let before = js(
        client,
        "return document.querySelectorAll('#banshi-log .banshi-bot').length",
    )
    .await;
    let input = client.find(Locator::Css("#banshi-input")).await.unwrap();
    input.send_keys(text).await.unwrap();
    input
        .send_keys(&char::from(fantoccini::key::Key::Enter).to_string())
        .await
        .unwrap();
    let before = before.as_u64().unwrap_or(0);
    wait_for(
        client,
        "the reply",
        &format!(
            "document.querySelectorAll('#banshi-log .banshi-bot').length > {before} && !document.querySelector('#banshi-log .banshi-pending') && document.querySelector('#banshi-send').disabled === false"
        ),
    )
    .await;
}

/// axe-core's serious and critical violations on the page as it is now.
async fn axe(client: &Client, page: &str) {
    let source = std::fs::read_to_string(axe_path()).unwrap();
    client
        .execute(&format!("{source}\nreturn typeof window.axe;"), Vec::new())
        .await
        .unwrap();
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             window.axe.run(document, { resultTypes: ['violations'] })
               .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')) }))))
               .catch(e => done([{ id: 'axe-error', help: String(e) }]));",
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(found, json!([]), "axe-core on {page}: {found:#}");
}

/// Computed sizes and contrast inside the widget's panel.
const MEASURE: &str = r#"
const parse = c => (c.match(/[\d.]+/g) || []).map(Number);
const lum = c => { const [r, g, b] = parse(c).map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4)); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
const bgOf = el => { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor; const p = parse(c); if (p.length === 3 || (p.length === 4 && p[3] > 0)) return c; } return 'rgb(255, 255, 255)'; };
const text = [...document.querySelectorAll('#banshi-log .banshi-bot .banshi-text')].pop();
const cs = getComputedStyle(text);
const fontSize = parseFloat(cs.fontSize);
const lineHeight = parseFloat(cs.lineHeight) / fontSize;
const buttons = ['#banshi-send', '#banshi-elder', '#banshi-new', '#banshi-close', '.banshi-read', '.banshi-quick']
  .map(s => document.querySelector(s)).filter(b => b && b.getClientRects().length)
  .map(b => { const r = b.getBoundingClientRect(); return { name: b.id || b.className, w: r.width, h: r.height }; });
let worst = 99, worstOf = '';
for (const el of document.querySelectorAll('#banshi-panel *')) {
  if (!el.getClientRects().length) continue;
  if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
  const r = ratio(getComputedStyle(el).color, bgOf(el));
  if (r < worst) { worst = r; worstOf = (el.id || el.className || el.tagName) + ': ' + el.textContent.slice(0, 20); }
}
return { fontSize, lineHeight, buttons, worst, worstOf };
"#;

#[tokio::test]
async fn a_citizen_and_an_agent_use_banshi_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let driver = start_driver().await;
    for db in TestDb::all().await {
        let store = db.open().await;
        api::demo::seed(&store, &[]).await.unwrap();
        let base = serve(store.clone()).await;
        citizen_journey(&driver, &base, db.label, &store).await;
        store.close().await;
        db.cleanup().await;
    }
}

async fn citizen_journey(driver: &Driver, base: &str, label: &str, store: &backend::Store) {
    let citizen = open_browser(driver, 1280, 800).await;
    citizen.goto(&format!("{base}/")).await.unwrap();
    // The bubble is a real button a keyboard reaches; opening focuses the input.
    let bubble = js(
        &citizen,
        "const b = document.querySelector('#banshi-bubble'); return [b.tagName, b.getAttribute('aria-label')]",
    )
    .await;
    assert_eq!(bubble[0], "BUTTON", "{bubble}");
    js(&citizen, "document.querySelector('#banshi-bubble').focus()").await;
    citizen
        .active_element()
        .await
        .unwrap()
        .send_keys(&char::from(fantoccini::key::Key::Enter).to_string())
        .await
        .unwrap();
    wait_for(
        &citizen,
        "the panel to open",
        "!document.querySelector('#banshi-panel').hidden && document.activeElement.id === 'banshi-input'",
    )
    .await;
    let log = js(
        &citizen,
        "const l = document.querySelector('#banshi-log'); return [l.getAttribute('role'), l.getAttribute('aria-live')]",
    )
    .await;
    assert_eq!(log, json!(["log", "polite"]));
    screenshot(&citizen, label, "desktop-open").await;

    // A question: the reply streams in pieces, then carries numbered citations.
    js(
        &citizen,
        "window.__pieces = 0; new MutationObserver(rs => { for (const r of rs) if (r.target.classList && r.target.classList.contains('banshi-text') && r.addedNodes.length) window.__pieces++; })
           .observe(document.querySelector('#banshi-log'), { subtree: true, childList: true });",
    )
    .await;
    say(&citizen, "护照怎么办").await;
    let pieces = js(&citizen, "return window.__pieces").await.as_u64().unwrap();
    assert!(pieces >= 2, "{label}: the reply arrived in {pieces} piece(s)");
    let cite = wait_for(
        &citizen,
        "a citation",
        "[...document.querySelectorAll('#banshi-log a.banshi-cite')].map(a => a.getAttribute('href'))[0]",
    )
    .await;
    let href = cite.as_str().unwrap().to_string();
    assert!(href.contains("/guides/passport#"), "{href}");
    screenshot(&citizen, label, "desktop").await;
    axe(&citizen, "the portal with an answer").await;

    // Following the citation: the readable guide page, at the cited section.
    citizen.goto(&href).await.unwrap();
    let section = href.split('#').nth(1).unwrap().to_string();
    let found = js(
        &citizen,
        &format!("return [document.querySelector('h1').textContent, !!document.getElementById('{section}')]"),
    )
    .await;
    assert!(
        found[0].as_str().unwrap().contains("护照") && found[1] == true,
        "{found}"
    );
    axe(&citizen, "a guide page").await;

    // Back on the portal after a reload: the conversation is still there.
    citizen.goto(&format!("{base}/")).await.unwrap();
    click(&citizen, "#banshi-bubble").await;
    wait_for(
        &citizen,
        "the kept conversation",
        "document.querySelector('#banshi-log').innerText.includes('护照怎么办')",
    )
    .await;
    // Esc closes and gives the focus back to the bubble.
    citizen
        .find(Locator::Css("#banshi-input"))
        .await
        .unwrap()
        .send_keys(&char::from(fantoccini::key::Key::Escape).to_string())
        .await
        .unwrap();
    wait_for(
        &citizen,
        "Esc to close",
        "document.querySelector('#banshi-panel').hidden && document.activeElement.id === 'banshi-bubble'",
    )
    .await;
    click(&citizen, "#banshi-bubble").await;

    // The standard mode: readable and with enough contrast.
    let standard = js(&citizen, MEASURE).await;
    assert!(standard["fontSize"].as_f64().unwrap() >= 16.0, "{standard}");
    assert!(
        standard["worst"].as_f64().unwrap() >= 4.5,
        "{label}: standard contrast {standard}"
    );

    // 长辈版: one tap, remembered, large and high-contrast from computed styles.
    click(&citizen, "#banshi-elder").await;
    wait_for(
        &citizen,
        "长辈版",
        "document.querySelector('#banshi-elder').getAttribute('aria-pressed') === 'true'",
    )
    .await;
    say(&citizen, "要多少钱").await;
    let elder = js(&citizen, MEASURE).await;
    assert!(elder["fontSize"].as_f64().unwrap() >= 24.0, "{label}: {elder}");
    assert!(elder["lineHeight"].as_f64().unwrap() >= 1.5, "{label}: {elder}");
    assert!(
        elder["worst"].as_f64().unwrap() >= 7.0,
        "{label}: 长辈版 contrast {elder}"
    );
    for button in elder["buttons"].as_array().unwrap() {
        assert!(
            button["w"].as_f64().unwrap() >= 60.0 && button["h"].as_f64().unwrap() >= 60.0,
            "{label}: a key button under 60×60 in 长辈版: {button}"
        );
    }
    axe(&citizen, "the widget in 长辈版").await;
    screenshot(&citizen, label, "elder").await;
    citizen.refresh().await.unwrap();
    click(&citizen, "#banshi-bubble").await;
    wait_for(
        &citizen,
        "长辈版 remembered",
        "document.querySelector('#banshi-panel').classList.contains('banshi-elder')",
    )
    .await;
    click(&citizen, "#banshi-elder").await;

    // A phone: the panel fills the screen, nothing scrolls sideways at 320 px.
    citizen.set_window_size(375, 812).await.unwrap();
    screenshot(&citizen, label, "phone").await;
    citizen.set_window_size(320, 640).await.unwrap();
    let overflow = js(
        &citizen,
        "return document.documentElement.scrollWidth - window.innerWidth",
    )
    .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "{label}: {overflow} px sideways at 320 px"
    );
    // 200 % zoom of a 1280 px window is a 640 px one.
    citizen.set_window_size(640, 400).await.unwrap();
    let overflow = js(
        &citizen,
        "return document.documentElement.scrollWidth - window.innerWidth",
    )
    .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "{label}: {overflow} px sideways at 200 % zoom"
    );
    citizen.set_window_size(1280, 800).await.unwrap();

    // Logged in: a form filled turn by turn, submitted, then rated.
    click(&citizen, "#banshi-new").await;
    click(&citizen, "#banshi-login").await;
    click(&citizen, ".banshi-login-user[data-user='citizen-1']").await;
    wait_for(&citizen, "the login", "localStorage.getItem('banshi.token')").await;
    say(&citizen, "我要在线办理身份证到期换领").await;
    wait_for(&citizen, "the form panel", "!document.querySelector('#banshi-form').hidden && document.querySelectorAll('#banshi-form li[data-status]').length > 0").await;
    let prefilled = js(
        &citizen,
        "return document.querySelectorAll('#banshi-form li[data-status=prefilled]').length",
    )
    .await;
    assert!(
        prefilled.as_u64().unwrap() > 0,
        "{label}: nothing prefilled from the e-licences"
    );
    say(&citizen, "13812345678").await;
    say(&citizen, "邮寄到家").await;
    say(&citizen, "确认提交").await;
    let reference = wait_for(
        &citizen,
        "the application number",
        "(document.querySelector('.banshi-ref') || {}).textContent",
    )
    .await;
    assert!(reference.as_str().unwrap().contains("办件编号"), "{reference}");
    wait_for(
        &citizen,
        "the rating prompt",
        "document.querySelector('#banshi-rating') && !document.querySelector('#banshi-rating').hidden",
    )
    .await;
    // A bad rating needs a reason.
    click(&citizen, "#banshi-rating .banshi-level[data-level='2']").await;
    click(&citizen, "#banshi-rating-submit").await;
    wait_for(&citizen, "the reason asked for", "document.querySelector('#banshi-rating') && document.querySelector('#banshi-rating').innerText.includes('原因')").await;
    citizen
        .find(Locator::Css("#banshi-rating-reason"))
        .await
        .unwrap()
        .send_keys("等的时间太长")
        .await
        .unwrap();
    click(&citizen, "#banshi-rating-submit").await;
    wait_for(
        &citizen,
        "the thanks",
        "document.querySelector('#banshi-log').innerText.includes('感谢您的评价')",
    )
    .await;

    // The number comes with a way to ask how far it has got.
    let number = reference
        .as_str()
        .unwrap()
        .split('：')
        .nth(1)
        .unwrap()
        .split('，')
        .next()
        .unwrap()
        .to_string();
    click(&citizen, ".banshi-ref .banshi-status").await;
    wait_for(
        &citizen,
        "the application's status",
        &format!("[...document.querySelectorAll('#banshi-log .banshi-bot .banshi-text')].pop().innerText.includes('{number}')"),
    )
    .await;

    // The department asks for a 补正: the file is chosen in the widget's panel, uploaded, and
    // the application goes back with it.
    store
        .transition(
            &number,
            "staff-public-security",
            backend::AppState::CorrectionRequested,
            Some("请补充近期免冠照片"),
            None,
            backend::now_millis(),
        )
        .await
        .unwrap();
    say(&citizen, "补正").await;
    wait_for(
        &citizen,
        "the upload button",
        "!!document.querySelector('#banshi-form .banshi-upload')",
    )
    .await;
    let file = std::env::temp_dir().join(format!("banshi-{label}-photo.pdf"));
    std::fs::write(&file, b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj<<>>endobj\n%%EOF\n").unwrap();
    citizen
        .find(Locator::Css("#banshi-form input.banshi-file"))
        .await
        .unwrap()
        .send_keys(&file.display().to_string())
        .await
        .unwrap();
    wait_for(
        &citizen,
        "the file received",
        "document.querySelector('#banshi-log').innerText.includes('已收到 1 份')",
    )
    .await;
    say(&citizen, "重新提交").await;
    wait_for(
        &citizen,
        "the resubmission",
        "document.querySelector('#banshi-log').innerText.includes('已重新提交')",
    )
    .await;
    assert_eq!(store.uploads_of_application(&number).await.unwrap().len(), 1, "{label}");
    let _ = std::fs::remove_file(&file);

    // 转人工: an agent in a second browser takes it; they talk both ways; closed; rated.
    click(&citizen, "#banshi-new").await;
    say(&citizen, "护照怎么办").await;
    say(&citizen, "转人工").await;
    wait_for(&citizen, "the queue place", "!document.querySelector('#banshi-handoff').hidden && document.querySelector('#banshi-handoff').textContent.includes('1')").await;
    let session = js(&citizen, "return localStorage.getItem('banshi.session')").await;
    let session = session.as_str().unwrap().to_string();

    let agent = open_browser(driver, 1280, 800).await;
    agent.goto(&format!("{base}/agent")).await.unwrap();
    click(&agent, "#agent-dev-login").await;
    let item = format!("li.agent-item[data-session='{session}'] button.agent-take");
    click(&agent, &item).await;
    wait_for(
        &agent,
        "the transcript",
        "document.querySelector('#agent-transcript').innerText.includes('护照怎么办')",
    )
    .await;
    let summary = wait_for(
        &agent,
        "the summary",
        "document.querySelector('#agent-summary').textContent",
    )
    .await;
    assert!(summary.as_str().unwrap().contains("护照"), "{summary}");
    wait_for(
        &agent,
        "a cited suggestion",
        "document.querySelector('#agent-suggestions a.agent-cite')",
    )
    .await;
    wait_for(
        &citizen,
        "工作人员已接入",
        "document.querySelector('#banshi-log').innerText.includes('工作人员已接入')",
    )
    .await;
    // One click puts a suggestion in the reply box; the agent edits it and sends.
    click(&agent, ".agent-use").await;
    let drafted = wait_for(
        &agent,
        "the suggestion in the box",
        "document.querySelector('#agent-text').value",
    )
    .await;
    assert!(drafted.as_str().unwrap().contains("护照"), "{drafted}");
    js(&agent, "document.querySelector('#agent-text').value = ''").await;
    agent
        .find(Locator::Css("#agent-text"))
        .await
        .unwrap()
        .send_keys("您好，我是工作人员小王，护照可以网上预约后到窗口办理。")
        .await
        .unwrap();
    click(&agent, "#agent-send").await;
    wait_for(
        &citizen,
        "the agent's words",
        "[...document.querySelectorAll('#banshi-log .banshi-agent')].some(m => m.innerText.includes('工作人员小王'))",
    )
    .await;
    say_relayed(&citizen, "好的，谢谢").await;
    wait_for(
        &agent,
        "the citizen's words",
        "document.querySelector('#agent-transcript').innerText.includes('好的，谢谢')",
    )
    .await;
    // Stored text is shown as text on both sides: markup in it never runs.
    say_relayed(&citizen, "<img src=x onerror=\"window.__pwned=1\">").await;
    wait_for(
        &agent,
        "the markup as text",
        "document.querySelector('#agent-transcript').innerText.includes('<img src=x')",
    )
    .await;
    for side in [&citizen, &agent] {
        let safe = js(
            side,
            "return window.__pwned === undefined && !document.querySelector('#banshi-log img, #agent-transcript img')",
        )
        .await;
        assert_eq!(safe, json!(true), "{label}: markup from a message ran");
    }
    js(&agent, "window.scrollTo(0, 0)").await;
    screenshot(&agent, label, "agent-console").await;
    axe(&agent, "the agent console").await;
    click(&agent, "#agent-close").await;
    wait_for(
        &citizen,
        "the rating after the hand-over",
        "document.querySelector('#banshi-rating') && !document.querySelector('#banshi-rating').hidden",
    )
    .await;
    click(&citizen, "#banshi-rating .banshi-level[data-level='5']").await;
    click(&citizen, "#banshi-rating-submit").await;
    wait_for(&citizen, "the thanks for the agent's rating", "document.querySelectorAll('#banshi-log .banshi-system').length && [...document.querySelectorAll('#banshi-log .banshi-system')].pop().innerText.includes('感谢')").await;
    agent.close().await.unwrap();
    citizen.close().await.unwrap();
}

/// Sends while an agent holds the conversation: no assistant reply comes.
async fn say_relayed(client: &Client, text: &str) {
    let input = client.find(Locator::Css("#banshi-input")).await.unwrap();
    input.send_keys(text).await.unwrap();
    input
        .send_keys(&char::from(fantoccini::key::Key::Enter).to_string())
        .await
        .unwrap();
    wait_for(
        client,
        "the relay",
        "document.querySelector('#banshi-send').disabled === false",
    )
    .await;
}

/// The operator's dashboard at `/admin`: the administrator logs in, sees the KPI tiles and
/// three SVG charts drawn by the server (with sizes, titles and data tables), an overdue
/// ticket whose text holds markup shown as text, the period changed, axe-core, and the page
/// printed to PDF with the controls left out of print; department staff see their own.
#[tokio::test]
async fn an_administrator_reads_and_prints_the_dashboard_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let driver = start_driver().await;
    for db in TestDb::all().await {
        let store = db.open().await;
        crate::common::seed_demo_with_staff(&store).await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let mut numbers = Vec::new();
        for (department, category, summary) in [
            (
                "urban-management",
                "城乡建设",
                "<img src=x onerror=\"window.__pwned=1\">占道经营",
            ),
            ("ecology-environment", "环境保护", "夜间施工噪声"),
        ] {
            let filed = now - 6 * 3_600_000;
            let ticket = crate::dashboard::ticket(department, category, summary, filed);
            numbers.push(store.create_ticket(&ticket, filed).await.unwrap().number);
        }
        let base = serve(store.clone()).await;
        let label = db.label;

        let admin = open_browser(&driver, 1280, 900).await;
        admin.goto(&format!("{base}/admin")).await.unwrap();
        click(&admin, "#admin-dev-login").await;
        wait_for(
            &admin,
            "the dashboard",
            "document.querySelectorAll('#admin-dashboard svg.dash-chart').length",
        )
        .await;
        let drawn = js(
            &admin,
            "return [...document.querySelectorAll('#admin-dashboard svg.dash-chart')].map(s => {
               const r = s.getBoundingClientRect();
               return { w: Math.round(r.width), h: Math.round(r.height), title: s.querySelector('title').textContent,
                        marks: s.querySelectorAll('rect, path, circle').length };
             })",
        )
        .await;
        let charts = drawn.as_array().unwrap();
        assert_eq!(charts.len(), 3, "{label}: trend, categories, ratings: {drawn}");
        for chart in &charts[..2] {
            assert!(
                chart["w"].as_u64().unwrap() > 300 && chart["h"].as_u64().unwrap() > 40,
                "{label}: {chart}"
            );
            assert!(chart["marks"].as_u64().unwrap() > 0, "{label}: an empty chart: {chart}");
        }
        let page = js(&admin, "return document.querySelector('#admin-dashboard').innerText").await;
        let page = page.as_str().unwrap();
        for expected in [
            "运营看板 · 全市",
            "签收率",
            "办结率",
            "按时办结率",
            "满意率",
            "超期工单",
            "签收超时",
        ] {
            assert!(page.contains(expected), "{label}: {expected} missing from {page}");
        }
        for number in &numbers {
            assert!(page.contains(number.as_str()), "{label}: overdue {number} missing");
        }
        assert!(
            page.contains("<img src=x"),
            "{label}: the stored markup is shown as text"
        );
        let safe = js(
            &admin,
            "return window.__pwned === undefined && !document.querySelector('#admin-dashboard img')",
        )
        .await;
        assert_eq!(safe, json!(true), "{label}: markup from a ticket ran");
        // Another period: the trend gets 4 weekly rows.
        admin
            .execute(
                "const s = document.querySelector('#admin-weeks'); s.value = '4'; s.dispatchEvent(new Event('change'));",
                Vec::new(),
            )
            .await
            .unwrap();
        wait_for(
            &admin,
            "four weeks",
            "document.querySelector('#admin-dashboard .dash-period') && document.querySelector('#admin-dashboard .dash-period').innerText.includes('近 4 周')",
        )
        .await;
        screenshot(&admin, label, "admin-dashboard").await;
        axe(&admin, "the dashboard").await;
        // Printable: the controls are left out of print, and the page prints to a PDF.
        let hidden_in_print = js(
            &admin,
            "return [...document.styleSheets].flatMap(s => [...s.cssRules]).filter(r => r.media && r.media.mediaText === 'print')
               .some(r => [...r.cssRules].some(x => x.selectorText && x.selectorText.includes('.admin-controls') && x.style.display === 'none'))",
        )
        .await;
        assert_eq!(
            hidden_in_print,
            json!(true),
            "{label}: a print style hides the controls"
        );
        let pdf = admin
            .print(fantoccini::wd::PrintConfiguration::default())
            .await
            .unwrap();
        assert!(
            pdf.starts_with(b"%PDF") && pdf.len() > 10_000,
            "{label}: {} bytes",
            pdf.len()
        );
        std::fs::write(artefacts().join(format!("{label}-admin-dashboard.pdf")), &pdf).unwrap();
        // Department staff: their own tickets only.
        admin
            .execute("localStorage.removeItem('banshi.admin.token');", Vec::new())
            .await
            .unwrap();
        let staff = login_token(&admin, "staff-ecology-environment").await;
        admin
            .execute(
                &format!(
                    "localStorage.setItem('banshi.admin.token', {}); location.reload();",
                    json!(staff)
                ),
                Vec::new(),
            )
            .await
            .unwrap();
        wait_for(
            &admin,
            "the department's dashboard",
            "document.querySelector('#admin-dashboard .dash-head') && document.querySelector('#admin-dashboard .dash-head').innerText.includes('示范市生态环境局')",
        )
        .await;
        let page = js(&admin, "return document.querySelector('#admin-dashboard').innerText").await;
        let page = page.as_str().unwrap();
        assert!(
            page.contains(numbers[1].as_str()) && !page.contains(numbers[0].as_str()),
            "{label}: {page}"
        );
        admin.close().await.unwrap();
        store.close().await;
        db.cleanup().await;
    }
}

/// A development token for `user`, asked for by the page itself.
async fn login_token(client: &Client, user: &str) -> String {
    let token = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/v1/dev/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                          body: JSON.stringify({ user: arguments[0] }) })
               .then(r => r.json()).then(j => done(j.token)).catch(e => done(null));",
            vec![json!(user)],
        )
        .await
        .unwrap();
    token.as_str().expect("a development token").to_string()
}

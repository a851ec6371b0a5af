//! The browser side, inside the binary: the chat widget (`/widget.js`, `/widget.css`), the
//! demo portal of 示范市 (`/`), the agent console (`/agent`, `/agent.js`, `/agent.css`) and the
//! operator's dashboard (`/admin`, `/admin.js`, `/admin.css`); the two staff pages share `/base.css`.
//! No CDN, nothing inline (a strict Content-Security-Policy holds), gzip when the browser
//! takes it, an ETag on everything; a `?v=` equal to the file's hash is cached for a year.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// The Content-Security-Policy of the pages: only this origin's scripts, styles and
/// connections.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'";

/// One file as served.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub gzip: Vec<u8>,
    /// The first 16 hex digits of the body's SHA-256: the ETag and the `?v=` value.
    pub hash: String,
}

const WIDGET_JS: &str = include_str!("../assets/widget.js");
const WIDGET_CSS: &str = include_str!("../assets/widget.css");
const AGENT_JS: &str = include_str!("../assets/agent.js");
const AGENT_CSS: &str = include_str!("../assets/agent.css");
const INDEX_HTML: &str = include_str!("../assets/index.html");
const AGENT_HTML: &str = include_str!("../assets/agent.html");
const BASE_CSS: &str = include_str!("../assets/base.css");
const ADMIN_JS: &str = include_str!("../assets/admin.js");
const ADMIN_CSS: &str = include_str!("../assets/admin.css");
const ADMIN_HTML: &str = include_str!("../assets/admin.html");

fn asset(name: &'static str, content_type: &'static str, body: String) -> Asset {
    let hash = hex(&Sha256::digest(body.as_bytes())[..8]);
    let gzip = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(body.as_bytes()).expect("writing to memory");
        encoder.finish().expect("writing to memory")
    };
    Asset {
        name,
        content_type,
        body: body.into_bytes(),
        gzip,
        hash,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The static files (scripts and styles), with the pages' references to them versioned.
pub fn files() -> &'static [Asset] {
    static FILES: OnceLock<Vec<Asset>> = OnceLock::new();
    FILES.get_or_init(|| {
        let css = asset("widget.css", "text/css; charset=utf-8", WIDGET_CSS.to_string());
        let agent_css = asset("agent.css", "text/css; charset=utf-8", AGENT_CSS.to_string());
        // The widget asks for the stylesheet of its own version: cached for good.
        let js = WIDGET_JS.replace("'/widget.css'", &format!("'/widget.css?v={}'", css.hash));
        let widget = asset("widget.js", "text/javascript; charset=utf-8", js);
        let agent = asset("agent.js", "text/javascript; charset=utf-8", AGENT_JS.to_string());
        let admin = asset("admin.js", "text/javascript; charset=utf-8", ADMIN_JS.to_string());
        let admin_css = asset("admin.css", "text/css; charset=utf-8", ADMIN_CSS.to_string());
        let base = asset("base.css", "text/css; charset=utf-8", BASE_CSS.to_string());
        vec![widget, css, agent, agent_css, admin, admin_css, base]
    })
}

fn file(name: &str) -> &'static Asset {
    files().iter().find(|a| a.name == name).expect("a shipped asset")
}

/// A page with its references versioned and the development login shown or not.
fn page(html: &str, dev_login: bool) -> Asset {
    let mut html = html.replace("{{DEV_LOGIN}}", if dev_login { "on" } else { "off" });
    for asset in files() {
        let plain = format!("\"/{}\"", asset.name);
        html = html.replace(&plain, &format!("\"/{}?v={}\"", asset.name, asset.hash));
    }
    asset("page", "text/html; charset=utf-8", html)
}

struct Pages {
    portal: Asset,
    agent: Asset,
    admin: Asset,
}

fn pages(dev_login: bool) -> &'static Pages {
    static ON: OnceLock<Pages> = OnceLock::new();
    static OFF: OnceLock<Pages> = OnceLock::new();
    let cell = if dev_login { &ON } else { &OFF };
    cell.get_or_init(|| Pages {
        portal: page(INDEX_HTML, dev_login),
        agent: page(AGENT_HTML, dev_login),
        admin: page(ADMIN_HTML, dev_login),
    })
}

/// The widget's transfer size: every file a page with the widget loads, gzipped.
pub fn widget_transfer_bytes() -> usize {
    file("widget.js").gzip.len() + file("widget.css").gzip.len()
}

/// Every shipped file gzipped (the widget, the portal, the console and the dashboard).
pub fn total_gzip_bytes() -> usize {
    files().iter().map(|a| a.gzip.len()).sum::<usize>()
        + pages(false).portal.gzip.len()
        + pages(false).agent.gzip.len()
        + pages(false).admin.gzip.len()
}

#[derive(Debug, Deserialize)]
struct Version {
    v: Option<String>,
}

fn serve(asset: &Asset, headers: &HeaderMap, version: Option<&str>, is_page: bool) -> Response {
    let etag = format!("\"{}\"", asset.hash);
    let cache = match version {
        Some(v) if v == asset.hash => "public, max-age=31536000, immutable",
        // The embed address itself: checked again every time (an ETag makes that cheap).
        _ => "no-cache",
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let gzip = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
        let mut response = if gzip {
            asset.gzip.clone().into_response()
        } else {
            asset.body.clone().into_response()
        };
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        if gzip {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    };
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, etag);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if is_page {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    } else {
        // Another site embeds the widget: its script and stylesheet load from anywhere.
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    response
}

pub fn router() -> Router<AppState> {
    let file_route = |name: &'static str| {
        get(move |headers: HeaderMap, Query(version): Query<Version>| async move {
            serve(file(name), &headers, version.v.as_deref(), false)
        })
    };
    Router::new()
        .route("/widget.js", file_route("widget.js"))
        .route("/widget.css", file_route("widget.css"))
        .route("/agent.js", file_route("agent.js"))
        .route("/agent.css", file_route("agent.css"))
        .route("/base.css", file_route("base.css"))
        .route("/admin.js", file_route("admin.js"))
        .route("/admin.css", file_route("admin.css"))
        .route(
            "/",
            get(|State(state): State<AppState>, headers: HeaderMap| async move {
                serve(&pages(state.auth.dev_login).portal, &headers, None, true)
            }),
        )
        .route(
            "/agent",
            get(|State(state): State<AppState>, headers: HeaderMap| async move {
                serve(&pages(state.auth.dev_login).agent, &headers, None, true)
            }),
        )
        .route(
            "/admin",
            get(|State(state): State<AppState>, headers: HeaderMap| async move {
                serve(&pages(state.auth.dev_login).admin, &headers, None, true)
            }),
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn everything_shipped_stays_small_and_keeps_to_the_policy() {
        let total = super::total_gzip_bytes();
        assert!(total < 60 * 1024, "the browser side is {total} bytes gzipped");
        for source in [
            super::WIDGET_JS,
            super::WIDGET_CSS,
            super::AGENT_JS,
            super::AGENT_CSS,
            super::INDEX_HTML,
            super::AGENT_HTML,
            super::BASE_CSS,
            super::ADMIN_JS,
            super::ADMIN_CSS,
            super::ADMIN_HTML,
        ] {
            for banned in ["style=\"", "onclick", "<style", "innerHTML"] {
                assert!(!source.contains(banned), "{banned} in a shipped file");
            }
            // Nothing is loaded from another site.
            for elsewhere in [
                "url(http",
                "url(//",
                "@import",
                "src=\"http",
                "src=\"//",
                "href=\"http",
                "href=\"//",
            ] {
                assert!(!source.contains(elsewhere), "{elsewhere} in a shipped file");
            }
        }
        // The widget loads the stylesheet of its own version.
        let js = String::from_utf8(super::file("widget.js").body.clone()).unwrap();
        assert!(js.contains(&format!("/widget.css?v={}", super::file("widget.css").hash)));
    }
}

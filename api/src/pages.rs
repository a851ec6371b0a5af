//! `GET /guides/{id}`: a guide as a readable page (large type, plain layout, printable) that
//! answers link to, with one anchor per cited section (`#materials`, `#fees`, `#faq:2` …).
//! Server-rendered, no script.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::error::{ApiError, Code};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/guides/{id}", get(page))
}

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:20px/1.7 system-ui,'PingFang SC','Microsoft YaHei',sans-serif;max-width:46em;margin:0 auto;padding:1em;color:#111;background:#fff}\
h1{font-size:1.6em;line-height:1.3}h2{font-size:1.25em;margin-top:1.6em;border-bottom:2px solid #1a5fb4}\
a{color:#1a5fb4}li{margin:.3em 0}.muted{color:#444}@media print{body{font-size:14pt}a{color:#000}}";

fn list(items: impl IntoIterator<Item = String>, ordered: bool) -> String {
    let tag = if ordered { "ol" } else { "ul" };
    let items: String = items.into_iter().map(|item| format!("<li>{item}</li>")).collect();
    format!("<{tag}>{items}</{tag}>")
}

async fn page(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let engine = state.engine.load();
    let guide = engine
        .corpus
        .guide(&id)
        .ok_or_else(|| ApiError::new(Code::NotFound, format!("没有找到编号为“{id}”的办事指南。")))?;
    let department = engine.corpus.departments.iter().find(|d| d.id == guide.department);
    let mut body = format!(
        "<h1>{}</h1><p class=\"muted\">{}</p><section id=\"summary\"><h2>办理须知</h2><p>{}</p>",
        escape(&guide.title),
        department.map_or(String::new(), |d| escape(&d.name)),
        escape(&guide.summary)
    );
    if let Some(english) = &guide.summary_en {
        body.push_str(&format!("<p lang=\"en\">{}</p>", escape(english)));
    }
    body.push_str("</section>");
    if !guide.conditions.is_empty() {
        body.push_str(&format!(
            "<section id=\"conditions\"><h2>办理条件</h2>{}</section>",
            list(guide.conditions.iter().map(|c| escape(c)), false)
        ));
    }
    if !guide.materials.is_empty() {
        let items = guide.materials.iter().map(|m| {
            let mut item = format!("{}（{}，{} 份）", escape(&m.name), escape(&m.form), m.count);
            if m.e_license.is_some() {
                item.push_str("：可用电子证照，免于提交");
            }
            if let Some(note) = &m.note {
                item.push_str(&format!("<br><span class=\"muted\">{}</span>", escape(note)));
            }
            item
        });
        body.push_str(&format!(
            "<section id=\"materials\"><h2>申请材料</h2>{}</section>",
            list(items, false)
        ));
    }
    if !guide.steps.is_empty() {
        body.push_str(&format!(
            "<section id=\"steps\"><h2>办理流程</h2>{}</section>",
            list(guide.steps.iter().map(|s| escape(s)), true)
        ));
    }
    let limit = &guide.time_limit;
    body.push_str(&format!(
        "<section id=\"time_limit\"><h2>办理时限</h2><p>法定 {} 个工作日，承诺 {} 个工作日。{}</p></section>",
        limit.legal_days,
        limit.promised_days,
        limit.note.as_deref().map(escape).unwrap_or_default()
    ));
    let fees = if guide.fees.is_empty() {
        "<p>不收费。</p>".to_string()
    } else {
        list(
            guide.fees.iter().map(|f| {
                format!(
                    "{}：{}{}",
                    escape(&f.item),
                    escape(&f.amount),
                    f.note
                        .as_deref()
                        .map(|n| format!("（{}）", escape(n)))
                        .unwrap_or_default()
                )
            }),
            false,
        )
    };
    body.push_str(&format!("<section id=\"fees\"><h2>收费标准</h2>{fees}</section>"));
    let mut where_ = String::new();
    for online in &guide.channels.online {
        where_.push_str(&format!(
            "<li>网上办理：<a href=\"{}\">{}</a></li>",
            escape(&online.url),
            escape(&online.name)
        ));
    }
    for hall in &guide.channels.halls {
        where_.push_str(&format!(
            "<li>{}：{}，{}{}</li>",
            escape(&hall.name),
            escape(&hall.address),
            escape(&hall.hours),
            hall.phone
                .as_deref()
                .map(|p| format!("，电话 {}", escape(p)))
                .unwrap_or_default()
        ));
    }
    if !where_.is_empty() {
        body.push_str(&format!(
            "<section id=\"channels\"><h2>办理地点和渠道</h2><ul>{where_}</ul></section>"
        ));
    }
    if guide.cross_province {
        body.push_str("<section id=\"cross_province\"><h2>跨省通办</h2><p>本事项支持跨省通办。</p></section>");
    }
    for (n, faq) in guide.faq.iter().enumerate() {
        if n == 0 {
            body.push_str("<h2>常见问题</h2>");
        }
        body.push_str(&format!(
            "<section id=\"faq:{}\"><p><strong>问：{}</strong></p><p>答：{}</p></section>",
            n + 1,
            escape(&faq.q),
            escape(&faq.a)
        ));
    }
    if let Some(department) = department {
        body.push_str(&format!(
            "<p class=\"muted\">咨询电话：{}（{}）。本页依据 {} 审核的办事指南。</p>",
            escape(&department.hotline),
            escape(&department.hours),
            escape(&guide.reviewed)
        ));
    }
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{} · 办事指南</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(&guide.title)
    );
    let mut response = Html(html).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_escaped() {
        assert_eq!(
            super::escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}

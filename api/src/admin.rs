//! The operator's dashboard, drawn by the server: `GET /api/v1/admin/dashboard`
//! (`routes/dashboard.rs`) answers an administrator (the whole city) or department staff
//! (their own department) with this HTML fragment of KPI tiles, SVG charts and the tables
//! behind them; the `/admin` page (`assets/admin.html`, `admin.js`) logs in and shows it. No script, no CDN: the charts are
//! plain SVG with presentation attributes (the pages' Content-Security-Policy allows no style
//! attribute), every chart has a title, a description and a table of its figures for screen
//! readers and for print, and every stored text is escaped.

use std::fmt::Write;

use crate::pages::escape;
use crate::service::dashboard::{Dashboard, Kpis};

/// A rate as a percentage with one decimal, or a dash.
fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_string(), |r| format!("{:.1}%", r * 100.0))
}

/// The series of the trend chart: name, the rate of a week, stroke pattern, colour.
type Series = (&'static str, fn(&Kpis) -> Option<f64>, &'static str, &'static str);
const SERIES: [Series; 4] = [
    ("签收率", Kpis::response_rate, "", "#1a5fb4"),
    ("办结率", Kpis::resolution_rate, "8 4", "#26a269"),
    ("按时办结率", Kpis::on_time_rate, "2 3", "#a51d2d"),
    ("满意率", Kpis::satisfaction_rate, "10 3 2 3", "#613583"),
];

pub fn render(board: &Dashboard) -> String {
    let mut out = String::new();
    let scope = match &board.department {
        Some((_, name)) => escape(name),
        None => "全市".to_string(),
    };
    let first = board.weeks.first().map(|w| w.start.to_string()).unwrap_or_default();
    let _ = write!(
        out,
        "<article class=\"dash\" aria-labelledby=\"dash-title\">\
         <header class=\"dash-head\"><h2 id=\"dash-title\">运营看板 · {scope}</h2>\
         <p class=\"dash-period\">统计区间：{first} 起，近 {} 周（按周一起算，北京时间）；生成于 {}</p></header>",
        board.weeks.len(),
        escape(&knowledge::time::show(board.now)),
    );
    kpi_tiles(&mut out, &board.total);
    trend(&mut out, board);
    let categories: Vec<(String, i64, i64)> = board
        .by_category
        .iter()
        .map(|g| (g.key.clone(), g.n_tickets, g.n_overdue))
        .collect();
    groups(&mut out, "dash-cat", "工单分类", "类别", &categories);
    let departments: Vec<(String, i64, i64)> = board
        .by_department
        .iter()
        .map(|g| (g.key.clone(), g.n_tickets, g.n_overdue))
        .collect();
    groups(&mut out, "dash-dept", "各部门工单", "部门", &departments);
    overdue(&mut out, board);
    ratings(&mut out, board);
    gaps(&mut out, board);
    out.push_str("</article>");
    out
}

fn kpi_tiles(out: &mut String, k: &Kpis) {
    let tiles = [
        (
            "签收率",
            k.response_rate(),
            format!("{} / {} 件按时签收", k.n_accepted_on_time, k.n_tickets),
        ),
        (
            "办结率",
            k.resolution_rate(),
            format!("{} / {} 件已答复", k.n_replied, k.n_tickets),
        ),
        (
            "按时办结率",
            k.on_time_rate(),
            format!("{} / {} 件按时答复", k.n_replied_on_time, k.n_replied),
        ),
        (
            "满意率",
            k.satisfaction_rate(),
            format!("{} / {} 条评价满意", k.n_satisfied, k.n_rated),
        ),
    ];
    out.push_str(
        "<section class=\"dash-card\" aria-labelledby=\"dash-kpi\"><h3 id=\"dash-kpi\">热线指标（区间合计）</h3><ul class=\"dash-kpis\">",
    );
    for (name, rate, note) in tiles {
        let _ = write!(
            out,
            "<li class=\"dash-kpi\"><span class=\"dash-kpi-name\">{name}</span>\
             <span class=\"dash-kpi-value\" data-kpi=\"{name}\">{}</span><span class=\"dash-kpi-note\">{note}</span></li>",
            percent(rate)
        );
    }
    out.push_str("</ul></section>");
}

/// The four rates week by week as lines (each with its own dash pattern, so print in black
/// and white keeps them apart), then the same figures as a table.
fn trend(out: &mut String, board: &Dashboard) {
    const W: f64 = 720.0;
    const H: f64 = 260.0;
    const LEFT: f64 = 48.0;
    const RIGHT: f64 = 32.0;
    const TOP: f64 = 16.0;
    const BOTTOM: f64 = 36.0;
    let n = board.weeks.len().max(1);
    let x = |i: usize| {
        if n == 1 {
            LEFT + (W - LEFT - RIGHT) / 2.0
        } else {
            LEFT + (W - LEFT - RIGHT) * i as f64 / (n - 1) as f64
        }
    };
    let y = |rate: f64| TOP + (H - TOP - BOTTOM) * (1.0 - rate.clamp(0.0, 1.0));
    out.push_str(
        "<section class=\"dash-card\" aria-labelledby=\"dash-trend\"><h3 id=\"dash-trend\">指标趋势（按周）</h3>",
    );
    let _ = write!(
        out,
        "<figure class=\"dash-figure\"><svg class=\"dash-chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"dash-trend-t dash-trend-d\">\
         <title id=\"dash-trend-t\">热线指标周趋势</title><desc id=\"dash-trend-d\">签收率、办结率、按时办结率、满意率，每周一个点；数据见下表。</desc>"
    );
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#c0c0c0\" stroke-width=\"1\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\" fill=\"#333\">{}%</text>",
            W - RIGHT,
            LEFT - 6.0,
            y(tick) + 4.0,
            (tick * 100.0) as i64,
            y = y(tick),
        );
    }
    for (i, week) in board.weeks.iter().enumerate() {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\" fill=\"#333\">{}</text>",
            x(i),
            H - 12.0,
            week.start.format("%m-%d")
        );
    }
    for (name, rate, dash, colour) in SERIES {
        // A week without a denominator breaks the line rather than drawing a false zero.
        let mut path = String::new();
        let mut pen_down = false;
        let mut points = String::new();
        for (i, week) in board.weeks.iter().enumerate() {
            match rate(&week.kpis) {
                Some(r) => {
                    let _ = write!(path, "{}{:.1},{:.1} ", if pen_down { "L" } else { "M" }, x(i), y(r));
                    pen_down = true;
                    let _ = write!(
                        points,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{colour}\"><title>{name} {} 周：{}</title></circle>",
                        x(i),
                        y(r),
                        week.start.format("%m-%d"),
                        percent(Some(r))
                    );
                }
                None => pen_down = false,
            }
        }
        if !path.is_empty() {
            let _ = write!(
                out,
                "<path class=\"dash-line\" data-series=\"{name}\" d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\" stroke-dasharray=\"{dash}\"/>",
                path.trim_end()
            );
        }
        out.push_str(&points);
    }
    out.push_str("</svg><figcaption class=\"dash-legend\">");
    for (name, _, dash, colour) in SERIES {
        let _ = write!(
            out,
            "<span class=\"dash-key\"><svg viewBox=\"0 0 28 10\" width=\"28\" height=\"10\" aria-hidden=\"true\" focusable=\"false\">\
             <line x1=\"0\" x2=\"28\" y1=\"5\" y2=\"5\" stroke=\"{colour}\" stroke-width=\"2.5\" stroke-dasharray=\"{dash}\"/></svg>{name}</span>"
        );
    }
    out.push_str("</figcaption></figure>");
    out.push_str(
        "<table class=\"dash-table\"><caption>每周明细</caption><thead><tr><th scope=\"col\">周（起）</th><th scope=\"col\">工单</th>\
         <th scope=\"col\">签收率</th><th scope=\"col\">办结率</th><th scope=\"col\">按时办结率</th><th scope=\"col\">评价</th><th scope=\"col\">满意率</th></tr></thead><tbody>",
    );
    for week in &board.weeks {
        let k = &week.kpis;
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            week.start,
            k.n_tickets,
            percent(k.response_rate()),
            percent(k.resolution_rate()),
            percent(k.on_time_rate()),
            k.n_rated,
            percent(k.satisfaction_rate()),
        );
    }
    out.push_str("</tbody></table></section>");
}

/// Horizontal bars: all tickets of a group, the overdue part drawn over it in a dark red and
/// its count written beside the bar (so print in black and white still tells it); then the
/// table. At most 15 bars; the table lists every group.
fn groups(out: &mut String, id: &str, heading: &str, what: &str, rows: &[(String, i64, i64)]) {
    let _ = write!(
        out,
        "<section class=\"dash-card\" aria-labelledby=\"{id}\"><h3 id=\"{id}\">{heading}</h3>"
    );
    if rows.is_empty() {
        out.push_str("<p class=\"dash-empty\">暂无工单。</p></section>");
        return;
    }
    const W: f64 = 720.0;
    const LABEL: f64 = 200.0;
    const ROW: f64 = 28.0;
    let shown = &rows[..rows.len().min(15)];
    let h = ROW * shown.len() as f64 + 8.0;
    let max = shown.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64;
    // Room on the right for the longest figure, “12345（超期 6789）”.
    let scale = |n: i64| (W - LABEL - 170.0) * n as f64 / max;
    let _ = write!(
        out,
        "<figure class=\"dash-figure\"><svg class=\"dash-chart\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\">\
         <title id=\"{id}-t\">{heading}</title><desc id=\"{id}-d\">每{what}一条横条：工单总数，深色部分为超期未办结；数据见下表。</desc>"
    );
    for (i, (key, n, overdue)) in shown.iter().enumerate() {
        let top = 4.0 + ROW * i as f64;
        let label: String = key.chars().take(12).collect();
        let _ = write!(
            out,
            "<g class=\"dash-bar\" data-key=\"{key}\"><text x=\"{x:.1}\" y=\"{ty:.1}\" text-anchor=\"end\" font-size=\"14\" fill=\"#111\">{label}</text>\
             <rect x=\"{LABEL}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"20\" fill=\"#8fb3e0\"/>\
             <rect x=\"{LABEL}\" y=\"{top:.1}\" width=\"{wo:.1}\" height=\"20\" fill=\"#a51d2d\"/>\
             <text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"14\" fill=\"#111\">{n}{extra}</text></g>",
            key = escape(key),
            label = escape(&label),
            x = LABEL - 8.0,
            ty = top + 15.0,
            w = scale(*n).max(1.0),
            wo = scale(*overdue),
            tx = LABEL + scale(*n).max(1.0) + 6.0,
            extra = if *overdue > 0 {
                format!("（超期 {overdue}）")
            } else {
                String::new()
            },
        );
    }
    out.push_str("</svg></figure>");
    let _ = write!(
        out,
        "<table class=\"dash-table\"><caption>{heading}明细</caption><thead><tr><th scope=\"col\">{what}</th><th scope=\"col\">工单</th><th scope=\"col\">超期未办结</th></tr></thead><tbody>"
    );
    for (key, n, overdue) in rows {
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{n}</td><td>{overdue}</td></tr>",
            escape(key)
        );
    }
    out.push_str("</tbody></table></section>");
}

fn overdue(out: &mut String, board: &Dashboard) {
    out.push_str("<section class=\"dash-card\" aria-labelledby=\"dash-overdue\"><h3 id=\"dash-overdue\">超期工单</h3>");
    if board.overdue.is_empty() {
        out.push_str("<p class=\"dash-empty\">没有超期工单。</p></section>");
        return;
    }
    out.push_str(
        "<table class=\"dash-table dash-overdue\"><caption>超期最久的在前</caption><thead><tr><th scope=\"col\">工单号</th><th scope=\"col\">类别</th>\
         <th scope=\"col\">部门</th><th scope=\"col\">超期</th><th scope=\"col\">应完成</th><th scope=\"col\">督办</th><th scope=\"col\">诉求</th></tr></thead><tbody>",
    );
    for (ticket, department) in board.overdue.iter().zip(&board.overdue_departments) {
        let late_hours = (board.now - ticket.due).max(0) / 3_600_000;
        let late = if late_hours >= 24 {
            format!("{} 天 {} 小时", late_hours / 24, late_hours % 24)
        } else {
            format!("{late_hours} 小时")
        };
        let which = if ticket.which == "response" {
            "签收超时"
        } else {
            "办理超时"
        };
        let summary: String = ticket.summary.chars().take(40).collect();
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{which} {late}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&ticket.number),
            escape(&ticket.category),
            escape(department),
            escape(&knowledge::time::show(ticket.due)),
            if ticket.supervised { "已督办" } else { "—" },
            escape(&summary),
        );
    }
    out.push_str("</tbody></table></section>");
}

/// Satisfaction per service as bars on a 0–100 % scale, then the table with the counts.
fn ratings(out: &mut String, board: &Dashboard) {
    out.push_str(
        "<section class=\"dash-card\" aria-labelledby=\"dash-ratings\"><h3 id=\"dash-ratings\">各事项好差评</h3>",
    );
    if board.ratings.is_empty() {
        out.push_str("<p class=\"dash-empty\">暂无评价。</p></section>");
        return;
    }
    const W: f64 = 720.0;
    const LABEL: f64 = 260.0;
    const ROW: f64 = 28.0;
    let h = ROW * board.ratings.len() as f64 + 8.0;
    let _ = write!(
        out,
        "<figure class=\"dash-figure\"><svg class=\"dash-chart\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-labelledby=\"dash-ratings-t dash-ratings-d\">\
         <title id=\"dash-ratings-t\">各事项满意率</title><desc id=\"dash-ratings-d\">每个事项一条横条，长度为满意率（0 到 100%）；评价数与差评数见下表。</desc>"
    );
    for (i, row) in board.ratings.iter().enumerate() {
        let top = 4.0 + ROW * i as f64;
        let rate = row.stats.satisfaction_rate();
        let label: String = row.title.chars().take(14).collect();
        let w = (W - LABEL - 80.0) * rate;
        let _ = write!(
            out,
            "<g class=\"dash-bar\" data-key=\"{key}\"><text x=\"{x:.1}\" y=\"{ty:.1}\" text-anchor=\"end\" font-size=\"14\" fill=\"#111\">{label}</text>\
             <rect x=\"{LABEL}\" y=\"{top:.1}\" width=\"{full:.1}\" height=\"20\" fill=\"#ececec\"/>\
             <rect x=\"{LABEL}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"20\" fill=\"{fill}\"/>\
             <text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"14\" fill=\"#111\">{p}</text></g>",
            key = escape(&row.key),
            label = escape(&label),
            x = LABEL - 8.0,
            ty = top + 15.0,
            full = W - LABEL - 80.0,
            fill = if rate < 0.8 { "#a51d2d" } else { "#26a269" },
            tx = W - 74.0,
            p = percent(Some(rate)),
        );
    }
    out.push_str("</svg></figure>");
    out.push_str(
        "<table class=\"dash-table\"><caption>各事项评价明细</caption><thead><tr><th scope=\"col\">事项</th><th scope=\"col\">评价</th>\
         <th scope=\"col\">满意率</th><th scope=\"col\">差评</th><th scope=\"col\">已整改</th><th scope=\"col\">按时整改</th></tr></thead><tbody>",
    );
    for row in &board.ratings {
        let s = &row.stats;
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&row.title),
            s.n_ratings,
            percent(Some(s.satisfaction_rate())),
            s.n_bad,
            s.n_rectified,
            s.n_rectified_on_time
        );
    }
    out.push_str("</tbody></table></section>");
}

fn gaps(out: &mut String, board: &Dashboard) {
    let report = &board.gaps;
    let _ = write!(
        out,
        "<section class=\"dash-card\" aria-labelledby=\"dash-gaps\"><h3 id=\"dash-gaps\">知识缺口</h3>\
         <p class=\"dash-note\">{} 起（最多近 7 天）未能回答或回答不确定的提问 {} 条，归为 {} 个话题（已去除个人信息）；\
         更长的时段用 <code>banshi gaps --days N</code>。</p>",
        escape(&report.since),
        report.n_questions,
        report.n_topics
    );
    if report.clusters.is_empty() {
        out.push_str("<p class=\"dash-empty\">没有知识缺口。</p></section>");
        return;
    }
    out.push_str(
        "<table class=\"dash-table dash-gaps\"><thead><tr><th scope=\"col\">话题</th><th scope=\"col\">提问数</th>\
         <th scope=\"col\">最接近的指南</th><th scope=\"col\">例句</th></tr></thead><tbody>",
    );
    for cluster in &report.clusters {
        let closest = cluster
            .closest
            .as_ref()
            .map(|g| format!("<a href=\"/guides/{}\">{}</a>", escape(&g.id), escape(&g.title)))
            .unwrap_or_else(|| "—".into());
        let examples: Vec<String> = cluster.examples.iter().map(|e| escape(e)).collect();
        let _ = write!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{closest}</td><td>{}</td></tr>",
            escape(&cluster.topic),
            cluster.count,
            examples.join("<br>")
        );
    }
    out.push_str("</tbody></table></section>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::dashboard::{ServiceRatings, Week};

    fn board() -> Dashboard {
        let start = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        Dashboard {
            department: Some(("d".into(), "<b>局</b>".into())),
            now: 0,
            weeks: vec![
                Week {
                    start,
                    kpis: Kpis {
                        n_tickets: 2,
                        n_accepted_on_time: 1,
                        ..Kpis::default()
                    },
                },
                Week {
                    start: start + chrono::Duration::weeks(1),
                    kpis: Kpis::default(),
                },
            ],
            total: Kpis::default(),
            by_category: vec![backend::GroupCounts {
                key: "<script>alert(1)</script>".into(),
                n_tickets: 3,
                n_open: 2,
                n_overdue: 1,
            }],
            by_department: vec![],
            overdue: vec![],
            overdue_departments: vec![],
            ratings: vec![ServiceRatings {
                key: "passport".into(),
                title: "护照\"签发\"".into(),
                stats: backend::RatingStats {
                    n_ratings: 4,
                    n_satisfied: 3,
                    n_bad: 1,
                    n_rectified: 0,
                    n_rectified_on_time: 0,
                },
            }],
            gaps: crate::wire::GapReport {
                since: String::new(),
                n_questions: 0,
                n_topics: 0,
                clusters: vec![],
            },
        }
    }

    #[test]
    fn stored_text_is_escaped_and_every_chart_is_described() {
        let html = render(&board());
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&lt;b&gt;局&lt;/b&gt;"));
        assert!(html.contains("护照&quot;签发&quot;"));
        let charts = html.matches("<svg class=\"dash-chart\"").count();
        assert_eq!(charts, 3, "trend, categories, ratings");
        assert_eq!(html.matches("role=\"img\"").count(), charts);
        assert_eq!(html.matches("<desc ").count(), charts);
        assert!(!html.contains("style="), "the pages' CSP allows no style attribute");
    }

    #[test]
    fn a_week_without_figures_breaks_the_line_instead_of_dropping_to_zero() {
        let html = render(&board());
        // 签收率 has one week (50 %), the second week has no ticket: one point, no segment.
        let line = html
            .split("data-series=\"签收率\" d=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the 签收率 line");
        assert_eq!(line.matches('M').count(), 1, "{line}");
        assert_eq!(line.matches('L').count(), 0, "{line}");
        assert!(html.contains("data-kpi=\"满意率\">—<"), "no rating: a dash, not 0%");
        assert!(html.contains("75.0%"), "the service's satisfaction");
    }
}

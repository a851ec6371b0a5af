//! The operator's dashboard (`GET /api/v1/admin/dashboard`, shown by `/admin`) on every
//! database: tickets filed, accepted, answered and rated over three weeks by the API with a
//! manual clock; the administrator sees the whole city's KPIs, trend, categories,
//! departments, overdue tickets, ratings and gaps; department staff see only their own
//! department; everyone else is refused; stored text is escaped.

use std::sync::Arc;

use axum::http::StatusCode;
use backend::testing::TestDb;
use serde_json::json;

use crate::common::state;
use crate::forms::{authed_get, login};
use crate::tickets::post;

/// 2026-12-01 (a Tuesday) 10:00 China time.
const TUESDAY_10AM: i64 = 1_796_090_400_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// A citizen-1 complaint filed at `now`: to be accepted within 4 hours, answered within 5 days.
pub fn ticket(department: &str, category: &str, summary: &str, now: i64) -> backend::NewTicket {
    backend::NewTicket {
        kind: "投诉".into(),
        category: category.into(),
        department: department.into(),
        district: None,
        citizen_id: Some("citizen-1".into()),
        contact: None,
        summary: summary.into(),
        location: "示范市滨江区".into(),
        happened: None,
        urgent: false,
        response_due: now + 4 * HOUR,
        resolve_due: now + 5 * DAY,
        idempotency_key: None,
    }
}

/// The text between `data-kpi="{name}">` and the next `<`.
fn kpi(html: &str, name: &str) -> String {
    let marker = format!("data-kpi=\"{name}\">");
    html.split(&marker)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no {name} tile in {html}"))
        .to_string()
}

#[tokio::test]
async fn the_dashboard_counts_what_happened_and_shows_each_department_its_own() {
    for db in TestDb::all().await {
        let store = db.open().await;
        crate::common::seed_demo_with_staff(&store).await;
        let clock = Arc::new(api::clock::ManualClock::new(TUESDAY_10AM - 15 * DAY));
        let mut app_state = state(store.clone());
        app_state.clock = clock.clone();
        let app = api::app(app_state);
        let ecology = login(&app, "staff-ecology-environment").await;
        let urban = login(&app, "staff-urban-management").await;
        let civil = login(&app, "staff-civil-affairs").await;
        let admin = login(&app, "admin").await;
        let citizen = login(&app, "citizen-1").await;
        let act = |number: String, token: String, action: &'static str, text: Option<&'static str>| {
            let app = app.clone();
            async move {
                let response = post(
                    &app,
                    &format!("/api/v1/staff/tickets/{number}/action"),
                    &token,
                    json!({ "action": action, "text": text }),
                )
                .await;
                assert_eq!(response.status, StatusCode::OK, "{action}: {}", response.json);
            }
        };

        // Two weeks ago (Monday 10:00): two ecology tickets. The first is accepted within the
        // hour and answered the next day, then rated 非常满意; the second is accepted late and
        // never answered.
        let start = TUESDAY_10AM - 15 * DAY;
        let answered = store
            .create_ticket(&ticket("ecology-environment", "环境保护", "餐馆油烟扰民", start), start)
            .await
            .unwrap()
            .number;
        let late = store
            .create_ticket(&ticket("ecology-environment", "环境保护", "夜间工地噪声", start), start)
            .await
            .unwrap()
            .number;
        clock.advance(HOUR);
        act(answered.clone(), ecology.clone(), "accept", None).await;
        clock.advance(DAY);
        act(
            answered.clone(),
            ecology.clone(),
            "reply",
            Some("已责令安装油烟净化设备，复查合格"),
        )
        .await;
        clock.advance(5 * HOUR);
        act(late.clone(), ecology.clone(), "accept", None).await;
        let rated = post(
            &app,
            "/api/v1/ratings",
            &citizen,
            json!({ "target_kind": "ticket", "target_id": answered, "level": 5 }),
        )
        .await;
        assert_eq!(rated.status, StatusCode::OK, "{}", rated.json);

        // This week: an urban-management ticket nobody accepts, with markup in its text.
        clock.advance(TUESDAY_10AM - 8 * HOUR - clock_now(&clock));
        let now = clock_now(&clock);
        let unaccepted = store
            .create_ticket(
                &ticket(
                    "urban-management",
                    "城乡建设",
                    "<script>window.pwned=1</script>占道经营 <img src=x onerror=alert(1)>",
                    now,
                ),
                now,
            )
            .await
            .unwrap()
            .number;
        store
            .add_gap("declined", "离婚登记需要带什么材料", Some("marriage-registration"), now)
            .await
            .unwrap();
        clock.advance(8 * HOUR);

        // The administrator: the whole city over three weeks.
        let board = authed_get(&app, "/api/v1/admin/dashboard?weeks=3", &admin).await;
        assert_eq!(board.status, StatusCode::OK, "{}: {}", db.label, board.json);
        let html = board.json.as_str().expect("an HTML fragment").to_string();
        assert!(html.contains("运营看板 · 全市"), "{html}");
        assert_eq!(kpi(&html, "签收率"), "33.3%", "1 of 3 accepted on time");
        assert_eq!(kpi(&html, "办结率"), "33.3%", "1 of 3 answered");
        assert_eq!(kpi(&html, "按时办结率"), "100.0%", "the one answer was on time");
        assert_eq!(kpi(&html, "满意率"), "100.0%", "one ticket rating, 非常满意");
        for week in ["2026-11-16", "2026-11-23", "2026-11-30"] {
            assert!(
                html.contains(&format!("<th scope=\"row\">{week}</th>")),
                "week {week}: {html}"
            );
        }
        assert!(
            html.contains("<tr><th scope=\"row\">2026-11-16</th><td>2</td>"),
            "{html}"
        );
        assert!(
            html.contains("<tr><th scope=\"row\">2026-11-30</th><td>1</td>"),
            "{html}"
        );
        for number in [&late, &unaccepted] {
            assert!(html.contains(number.as_str()), "{number} is overdue: {html}");
        }
        assert!(!html.contains(answered.as_str()), "the answered ticket is not overdue");
        assert!(html.contains("签收超时") && html.contains("办理超时"), "{html}");
        assert!(
            html.contains("示范市生态环境局") && html.contains("示范市综合行政执法局（城管）"),
            "department names: {html}"
        );
        assert!(html.contains("离婚登记需要带什么材料"), "the gap: {html}");
        assert!(
            html.contains("/guides/marriage-registration"),
            "its closest guide: {html}"
        );
        assert!(html.contains("12345 热线工单"), "ticket ratings by service: {html}");
        assert!(
            !html.contains("<script") && !html.contains("<img"),
            "stored text escaped: {html}"
        );
        assert!(html.contains("&lt;script&gt;window.pwned=1&lt;/script&gt;"), "{html}");

        // Department staff: their own department only.
        let board = |token: &String| {
            let (app, token) = (app.clone(), token.clone());
            async move {
                let answer = authed_get(&app, "/api/v1/admin/dashboard?weeks=3", &token).await;
                assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
                answer.json.as_str().expect("an HTML fragment").to_string()
            }
        };
        let html = board(&ecology).await;
        assert!(html.contains(&late) && !html.contains(&unaccepted), "{html}");
        assert!(html.contains("运营看板 · 示范市生态环境局"), "{html}");
        assert_eq!(kpi(&html, "签收率"), "50.0%");
        assert!(!html.contains("离婚登记"), "another department's gap: {html}");
        assert!(!html.contains("城乡建设"), "another department's category: {html}");
        let html = board(&urban).await;
        assert!(html.contains(&unaccepted) && !html.contains(&late), "{html}");
        assert_eq!(kpi(&html, "签收率"), "0.0%");
        assert_eq!(kpi(&html, "满意率"), "—", "no rating in this department");
        let html = board(&civil).await;
        assert!(
            html.contains("离婚登记需要带什么材料"),
            "the gap nearest its guide: {html}"
        );
        assert!(!html.contains(&late) && !html.contains(&unaccepted), "{html}");

        // Everyone else.
        for user in ["citizen-1", "company-1", "agent-1"] {
            let token = login(&app, user).await;
            let refused = authed_get(&app, "/api/v1/admin/dashboard", &token).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{user}: {}", refused.json);
            assert!(refused.json["error"]["message"].as_str().unwrap().contains("看板"));
        }
        let anonymous = crate::common::get(&app, "/api/v1/admin/dashboard").await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
        let page = crate::common::get(&app, "/admin").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.json.as_str().unwrap().contains("运营看板"));

        store.close().await;
        db.cleanup().await;
    }
}

fn clock_now(clock: &api::clock::ManualClock) -> i64 {
    use api::clock::Clock;
    clock.now()
}

//! Examples for the OpenAPI document, one function per request or response, referenced from
//! the handlers' `#[utoipa::path]` attributes. Values are those of the sample corpus and the
//! demo users.

use serde_json::{Value, json};

pub fn chat_request() -> Value {
    json!({ "message": "驾照快到期了怎么换" })
}

pub fn chat_response() -> Value {
    json!({
        "session_id": "5b0f3c8e-8f6b-4d8e-9a59-3d1f4c2b7a10",
        "intent": "service",
        "reply": {
            "text": "【机动车驾驶证有效期满换证】驾驶证有效期满前 90 日内申请换证……[1]",
            "citations": [{ "guide_id": "driving-license-renewal", "section": "summary" }],
            "quick_replies": ["需要哪些材料", "要多少钱", "在哪里办"]
        },
        "guides": [{ "id": "driving-license-renewal", "title": "机动车驾驶证有效期满换证", "score": 12.4 }],
        "form": null,
        "application": null,
        "ticket": null,
        "handoff": null
    })
}

pub fn search_response() -> Value {
    json!({ "hits": [{
        "id": "housing-fund-loan",
        "title": "住房公积金贷款",
        "score": 9.8,
        "snippet": "缴存职工申请<b>住房公积金</b><b>贷款</b>……"
    }] })
}

pub fn guide_response() -> Value {
    json!({
        "id": "passport",
        "title": "普通护照申请",
        "summary": "中国公民因私出国（境）需要普通护照的，可申请首次签发……",
        "aliases": ["办护照", "换护照", "补办护照"],
        "audience": "个人",
        "department": "exit-entry",
        "kind": "service",
        "cross_province": true,
        "steps": ["网上预约", "窗口采集指纹和照片", "领取护照"]
    })
}

pub fn health_response() -> Value {
    json!({ "status": "ready", "guides": 42, "database": "sqlite", "search": "hybrid", "knowledge": "3f2a9c41d07e5b86" })
}

pub fn login_request() -> Value {
    json!({ "user": "citizen-1" })
}

pub fn token_response() -> Value {
    json!({ "token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjaXRpemVuLTEifQ.c2lnbmF0dXJl" })
}

fn application() -> Value {
    json!({
        "number": "BJ20250301000001",
        "service_id": "id-card-renewal",
        "title": "居民身份证到期换领",
        "state": "accepted",
        "state_label": "已受理",
        "next_step": "部门审核中，请留意短信通知",
        "deadline": "2025-03-14",
        "note": null,
        "fields": { "name": "张明", "id_number": "330102198803151234" },
        "materials": [{ "name": "居民户口簿", "status": "免于提交" }],
        "parts": [],
        "events": [{ "actor": "staff-public-security", "from": "submitted", "to": "accepted", "reason": null, "at": 1740787200000_i64 }],
        "created_at": 1740700800000_i64
    })
}

pub fn application_response() -> Value {
    application()
}

pub fn application_list() -> Value {
    json!({ "applications": [application()] })
}

pub fn transition_request() -> Value {
    json!({ "to": "correction_requested", "reason": "请补充近期免冠照片一张（一次性告知，其余材料齐全）" })
}

fn ticket() -> Value {
    json!({
        "number": "GD20250301000007",
        "kind": "投诉",
        "category": "城乡建设",
        "department": "housing",
        "state": "accepted",
        "state_label": "部门已签收",
        "summary": "小区施工夜间噪音扰民",
        "location": "示范市中山区民生路100号",
        "urgent": false,
        "response_due": "2025-03-03 17:30",
        "deadline": "2025-03-14 17:30",
        "supervised": false,
        "reply": null,
        "co_handlers": [],
        "timeline": [{ "at": "2025-03-01 10:02", "actor": "staff-housing", "action": "accept", "from": "dispatched", "to": "accepted", "note": null }]
    })
}

pub fn ticket_response() -> Value {
    ticket()
}

pub fn ticket_list() -> Value {
    json!({ "tickets": [ticket()] })
}

pub fn confirm_request() -> Value {
    json!({ "solved": false, "reason": "施工仍在夜间进行" })
}

pub fn action_request() -> Value {
    json!({ "action": "reply", "text": "已责令施工单位夜间停工，并安排专人巡查。" })
}

pub fn rating_request() -> Value {
    json!({
        "target_kind": "application",
        "target_id": "BJ20250301000001",
        "level": 2,
        "tags": ["办理时间长"],
        "comment": "等了两周才受理",
        "channel": "web"
    })
}

pub fn rating_response() -> Value {
    json!({ "id": "r-7f3a", "level": 2, "level_label": "不满意", "changed": false, "rectification_due": "2025-03-10 17:30" })
}

pub fn rectify_request() -> Value {
    json!({ "step": "verified", "text": "经核实，受理环节确有延误。" })
}

pub fn rectify_response() -> Value {
    json!({ "rating_id": "r-7f3a", "state": "verified", "due": "2025-03-10 17:30", "on_time": null })
}

pub fn rating_stats_response() -> Value {
    json!({ "by": "department", "groups": { "public-security": {
        "ratings": 12, "satisfaction_rate": 0.917, "bad": 1, "rectified": 1, "rectified_on_time": 1
    } } })
}

pub fn hotline_response() -> Value {
    json!({
        "tickets": 30, "response_rate": 0.9, "resolution_rate": 0.8, "on_time_rate": 0.95,
        "satisfaction_rate": 0.88, "supervised": 2
    })
}

pub fn error_response() -> Value {
    json!({ "error": { "code": "bad_request", "message": "字段 message 应为文字，收到的是数字。" } })
}

pub fn bind_request() -> Value {
    json!({ "code": "K7M2QX9P" })
}

pub fn bind_response() -> Value {
    json!({ "channel": "wechat", "account": "demo" })
}

pub fn empty_request() -> Value {
    json!({})
}

pub fn handoff_taken() -> Value {
    json!({ "session_id": "wx-3f2a9c0d1e4b5a6978c0d1e2f3a4b5c6", "state": "connected", "agent_id": "agent-1" })
}

pub fn handoff_closed() -> Value {
    let mut body = handoff_taken();
    body["state"] = "closed".into();
    body
}

pub fn agent_queue() -> Value {
    json!({ "conversations": [{
        "session_id": "wx-3f2a9c0d1e4b5a6978c0d1e2f3a4b5c6",
        "state": "waiting",
        "waiting_since": "2026-11-30 10:02",
        "waiting_s": 95,
        "summary": "市民问：“我的低保申请为什么还没批”。涉及事项：最低生活保障。助手已答复：办理时限。",
        "channel": "wechat",
        "agent_id": null
    }] })
}

pub fn agent_message() -> Value {
    json!({ "text": "您好，我是 12345 客服小王，您的低保申请正在入户调查阶段，预计本周内完成。" })
}

pub fn agent_message_sent() -> Value {
    json!({ "delivered": true })
}

pub fn ticket_draft() -> Value {
    json!({
        "category": "市容环境",
        "department": "",
        "location": "示范市东城区幸福路 12 号",
        "contact": "13800138000",
        "text": "小区门口垃圾三天没人清运"
    })
}

pub fn filed_ticket() -> Value {
    json!({ "number": "GD20261130000123", "category": "市容环境", "department": "city-management", "deadline": "2026-12-07 17:00" })
}

pub fn agent_conversation() -> Value {
    json!({
        "session_id": "5b0f3c8e-8f6b-4d8e-9a59-3d1f4c2b7a10",
        "state": "connected",
        "agent_id": "agent-1",
        "summary": "市民问：“护照怎么办”。涉及事项：普通护照申请。助手已答复：办理须知。",
        "transcript": transcript()["messages"].clone(),
        "suggestions": [{
            "text": "【普通护照申请】示范市公安局出入境管理支队\n\n可在示范办 App 预约后到出入境窗口办理…… [1]",
            "citations": [{ "guide_id": "passport", "section": "summary", "title": "普通护照申请 · 办理须知" }]
        }],
        "ticket_draft": ticket_draft()
    })
}

pub fn assist_request() -> Value {
    json!({ "transcript": [
        { "role": "caller", "text": "你好，我想问一下护照怎么办" },
        { "role": "agent", "text": "您是第一次办护照吗？" },
        { "role": "caller", "text": "对，要带什么材料" }
    ] })
}

pub fn assist_response() -> Value {
    json!({
        "intent": "service",
        "suggestions": agent_conversation()["suggestions"].clone(),
        "summary": "市民问：“对，要带什么材料”。涉及事项：普通护照申请。助手已答复：申请材料。",
        "ticket_draft": null,
        "form_prefill": {}
    })
}

pub fn sessions() -> Value {
    json!({ "sessions": [{ "session_id": "5b0f3c8e-8f6b-4d8e-9a59-3d1f4c2b7a10", "title": "护照怎么办", "updated_at": "2026-11-30 10:05" }] })
}

pub fn session_events() -> Value {
    Value::String(
        "event: handoff\ndata: {\"state\":\"connected\",\"position\":null,\"expected_wait_s\":null}\n\n\
         event: message\ndata: {\"id\":42,\"role\":\"agent\",\"text\":\"您好，请问有什么可以帮您？\",\"at\":\"2026-11-30 10:03\"}\n\n"
            .into(),
    )
}

pub fn transcript() -> Value {
    json!({ "messages": [
        { "role": "user", "text": "转人工", "at": "2026-11-30 10:02" },
        { "role": "bot", "text": "好的，正在为您转接人工客服，请稍候。", "at": "2026-11-30 10:02" },
        { "role": "agent", "text": "您好，我是 12345 客服小王，请问有什么可以帮您？", "at": "2026-11-30 10:03" }
    ] })
}

pub fn chat_stream() -> Value {
    Value::String(
        "event: delta\ndata: 【机动车驾驶证有效期满换证】示范市公安局交通警察支队\n\n\
         event: delta\ndata: 驾驶证有效期满前 90 日内申请换证。\n\n\
         event: done\ndata: {\"session_id\":\"…\",\"intent\":\"service\",\"reply\":{…},\"guides\":[…],\"form\":null,\"application\":null,\"ticket\":null,\"handoff\":null}\n\n"
            .into(),
    )
}

pub fn access_log() -> Value {
    json!({ "reads": [{ "actor": "staff-public-security", "actor_role": "dept_staff", "object_kind": "application",
        "object_id": "RX20261130000042", "at": "2026-11-30 10:15" }] })
}

pub fn upload_response() -> Value {
    json!({
        "id": "upl-6f1c2a9e4b7d4e0f9a8b7c6d5e4f3a2b", "session_id": "3f2a9c0d-1e4b-5a69-78c0-d1e2f3a4b5c6",
        "material": "租赁合同", "file_name": "租赁合同.pdf", "content_type": "application/pdf", "size": 482113,
        "sha256": "9f2c6b0e7a3d41c58e6f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d", "application": null
    })
}

fn appointment() -> Value {
    json!({
        "number": "YY20261202000003", "service_id": "passport", "title": "普通护照申请",
        "hall": "示范市政务服务中心", "address": "示范市中山区民生路88号", "window": "公安户政出入境窗口（A区）",
        "start": "2026-12-02 14:00", "end": "2026-12-02 14:30", "state": "booked"
    })
}

pub fn appointment_list() -> Value {
    json!({ "appointments": [appointment()] })
}

pub fn appointment_cancelled() -> Value {
    let mut body = appointment();
    body["state"] = "cancelled".into();
    body
}

pub fn inbox() -> Value {
    json!({
        "items": [{
            "id": "inb-0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f", "kind": "driving-license-expiry",
            "service_id": "driving-license-renewal", "title": "机动车驾驶证有效期满换证",
            "reason": "因为您的驾驶证将于 2027-01-15 到期，可以在到期前 90 天内申请换证",
            "due": "2027-01-15", "start": "我要办机动车驾驶证有效期满换证"
        }],
        "reminders": true
    })
}

pub fn inbox_settings() -> Value {
    json!({ "reminders": false })
}

pub fn gap_report() -> Value {
    json!({
        "since": "2026-11-24 10:00", "n_questions": 58, "n_topics": 9,
        "clusters": [{
            "topic": "离婚登记要准备什么材料", "count": 37,
            "examples": ["离婚登记要准备什么材料", "离婚登记在哪个窗口", "离婚证当天能拿吗"],
            "kinds": { "declined": 35, "unsure": 2 },
            "closest": { "id": "marriage-registration", "title": "内地居民结婚登记", "score": 0.0 }
        }]
    })
}

pub fn dashboard_html() -> Value {
    json!(
        "<article class=\"dash\" aria-labelledby=\"dash-title\"><header class=\"dash-head\"><h2 id=\"dash-title\">运营看板 · 全市</h2>…</header>\
         <section class=\"dash-card\" aria-labelledby=\"dash-kpi\"><h3 id=\"dash-kpi\">热线指标（区间合计）</h3><ul class=\"dash-kpis\">\
         <li class=\"dash-kpi\"><span class=\"dash-kpi-name\">签收率</span><span class=\"dash-kpi-value\" data-kpi=\"签收率\">96.4%</span>…</li>…</ul></section>\
         <section class=\"dash-card\" aria-labelledby=\"dash-trend\"><h3 id=\"dash-trend\">指标趋势（按周）</h3><figure class=\"dash-figure\">\
         <svg class=\"dash-chart\" viewBox=\"0 0 720 260\" role=\"img\" aria-labelledby=\"dash-trend-t dash-trend-d\">…</svg></figure>…</section>…</article>"
    )
}

//! `GET /api/v1/openapi.json`: every endpoint with its request and response schemas and
//! examples (`examples.rs`). A test reads the routers' route calls and fails when an
//! endpoint is missing here.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "banshi 办事 API",
        description = "政务服务智能助手：问答、办事指南检索、在线办理、12345 诉求、好差评。错误一律为 {\"error\": {\"code\", \"message\"}}，message 为中文。"
    ),
    paths(
        super::chat::chat,
        super::chat::transcript,
        super::chat::chat_stream,
        super::bindings::bind,
        super::handoffs::queue,
        super::handoffs::conversation,
        super::handoffs::take,
        super::handoffs::message,
        super::handoffs::close,
        super::handoffs::ticket,
        super::handoffs::assist,
        super::live::sessions,
        super::applications::access_log,
        super::live::events,
        super::guides::guide,
        super::guides::search,
        super::applications::list,
        super::applications::one,
        super::applications::queue,
        super::applications::transition,
        super::applications::dev_login,
        super::uploads::upload,
        super::uploads::download,
        super::appointments::list,
        super::appointments::cancel,
        super::appointments::inbox,
        super::appointments::settings,
        super::gaps::gaps,
        super::dashboard::dashboard,
        super::tickets::list,
        super::tickets::one,
        super::tickets::confirm,
        super::tickets::queue,
        super::tickets::action,
        super::tickets::rate,
        super::tickets::rectify,
        super::tickets::rating_stats,
        super::tickets::hotline_kpis,
        super::health::healthz,
        super::health::readyz,
        openapi_json
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail, crate::error::Code)),
    modifiers(&BearerAuth),
    tags(
        (name = "chat", description = "对话：咨询、填表办理、提出诉求、评价"),
        (name = "guides", description = "办事指南"),
        (name = "applications", description = "我的办件"),
        (name = "tickets", description = "我的 12345 诉求"),
        (name = "ratings", description = "好差评"),
        (name = "staff", description = "部门工作人员：办件、工单、整改"),
        (name = "stats", description = "统计"),
        (name = "agent", description = "人工客服：转人工的会话队列、接入、回复、结束"),
        (name = "identity", description = "身份：开发用身份提供方（--dev-login on）、微信 / 企业微信账号绑定"),
        (name = "health", description = "运行状态")
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme the paths' `security(("bearer" = []))` refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("统一身份认证的令牌（HS256 或 RS256）"))
                    .build(),
            ),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "health",
    responses((status = 200, body = Object, description = "OpenAPI 3.1", example = json!({"openapi": "3.1.0", "info": {"title": "banshi 办事 API"}, "paths": {}}))))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    /// Every `(METHOD, path)` the routers declare, read from `src/routes/*.rs`: the router
    /// cannot list its routes, and a list kept by hand would miss the next one added.
    fn routed() -> BTreeSet<(String, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes");
        let mut routes = BTreeSet::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            // A route call: the path in quotes, then the method routers, possibly over lines.
            // Spelt in two pieces so that this line is not itself read as a route call.
            let needle = [".", "route("].concat();
            for call in source.split(&needle).skip(1) {
                let Some(rest) = call.trim_start().strip_prefix('"') else {
                    continue;
                };
                let (route, rest) = rest.split_once('"').unwrap();
                let handlers = &rest[..rest.find("))").map_or(rest.len(), |i| i + 2)];
                for method in ["get", "post", "put", "patch", "delete"] {
                    let n_calls = handlers.matches(&format!("{method}(")).count();
                    if n_calls > 0 {
                        routes.insert((method.to_uppercase(), route.to_string()));
                    }
                }
            }
        }
        assert!(routes.len() >= 20, "the scan found the routes: {routes:?}");
        routes
    }

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    #[test]
    fn every_route_is_documented_and_every_documented_path_is_routed() {
        let doc = document();
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let routed = routed();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        assert!(undocumented.is_empty(), "add to ApiDoc's paths: {undocumented:?}");
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(unrouted.is_empty(), "documented but not routed: {unrouted:?}");
    }

    #[test]
    fn every_operation_has_schemas_and_an_example() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let name = format!("{method} {path}");
                let content = &operation["responses"]["200"]["content"];
                // A streaming operation answers server-sent events, the dashboard HTML;
                // everything else JSON.
                // A file read back is bytes: a schema, no example.
                let binary = content["application/octet-stream"].is_object();
                let ok = if content["text/event-stream"].is_object() {
                    &content["text/event-stream"]
                } else if content["text/html"].is_object() {
                    // The dashboard: an HTML fragment drawn by the server.
                    &content["text/html"]
                } else if binary {
                    &content["application/octet-stream"]
                } else {
                    &content["application/json"]
                };
                assert!(ok["schema"].is_object(), "{name}: a 200 schema");
                let body = &operation["requestBody"]["content"];
                if method == "post" {
                    // A file upload sends bytes; everything else JSON with an example.
                    let file = &body["application/octet-stream"];
                    let request = &body["application/json"];
                    assert!(
                        request["schema"].is_object() || file["schema"].is_object(),
                        "{name}: a request schema"
                    );
                    assert!(
                        !request["example"].is_null() || file["schema"].is_object(),
                        "{name}: a request example"
                    );
                }
                assert!(binary || !ok["example"].is_null(), "{name}: a response example");
                for (status, response) in operation["responses"].as_object().unwrap() {
                    let content = &response["content"];
                    assert!(
                        content["application/json"]["schema"].is_object()
                            || content["text/event-stream"]["schema"].is_object()
                            || content["application/octet-stream"]["schema"].is_object()
                            || content["text/html"]["schema"].is_object(),
                        "{name} {status}: a schema"
                    );
                }
            }
        }
    }

    #[test]
    fn the_bearer_scheme_the_paths_use_is_declared() {
        let doc = document();
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    }

    #[test]
    fn examples_match_their_schemas_field_for_field() {
        // The examples are written by hand: every key a property, every required one there.
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let mut pairs = vec![&operation["responses"]["200"]["content"]["application/json"]];
                pairs.push(&operation["requestBody"]["content"]["application/json"]);
                for content in pairs {
                    let (Some(reference), Some(example)) =
                        (content["schema"]["$ref"].as_str(), content["example"].as_object())
                    else {
                        continue;
                    };
                    let name = reference.rsplit('/').next().unwrap();
                    let schema = &schemas[name];
                    let properties: BTreeSet<&str> = schema["properties"]
                        .as_object()
                        .unwrap()
                        .keys()
                        .map(String::as_str)
                        .collect();
                    let keys: BTreeSet<&str> = example.keys().map(String::as_str).collect();
                    let unknown: Vec<_> = keys.difference(&properties).collect();
                    assert!(unknown.is_empty(), "{method} {path}: {name} has no {unknown:?}");
                    for required in schema["required"].as_array().into_iter().flatten() {
                        let required = required.as_str().unwrap();
                        assert!(
                            keys.contains(required),
                            "{method} {path}: example of {name} lacks {required}"
                        );
                    }
                }
            }
        }
    }
}

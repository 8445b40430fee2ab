//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every route
//! ([`ROUTES`] lists them; a test checks the server serves exactly these).

use actix_web::HttpResponse;
use serde_json::{Map, Value, json};

/// Every route: method, path, summary, whether it changes state.
pub const ROUTES: &[(&str, &str, &str)] = &[
    (
        "get",
        "/",
        "The dashboard (HTML; its assets are under /assets/).",
    ),
    (
        "get",
        "/assets/{file}",
        "The dashboard's script (app.js) and style sheet (app.css).",
    ),
    (
        "get",
        "/metrics",
        "Prometheus text exposition (format 0.0.4).",
    ),
    ("get", "/api/v1/openapi.json", "This document."),
    (
        "get",
        "/api/v1/engines",
        "Every engine: registry entry, snapshot, restarts, conditions.",
    ),
    (
        "get",
        "/api/v1/engines/{bot}",
        "One bot's engine: a fresh snapshot, counters since start, conditions, its alerts.",
    ),
    (
        "get",
        "/api/v1/engines/{bot}/history",
        "The bot's cycle history: with since/until, the earliest `limit` records of the range; without, the last `limit`.",
    ),
    (
        "post",
        "/api/v1/engines/{bot}/pause",
        "Pause the bot's engine: its ticks are skipped as \"paused\".",
    ),
    (
        "post",
        "/api/v1/engines/{bot}/resume",
        "Resume the bot's engine.",
    ),
    (
        "post",
        "/api/v1/engines/{bot}/run",
        "Run one cycle now with the energy asked for (body {\"energy\": 1..100}, default 1).",
    ),
    (
        "get",
        "/api/v1/models/{bot}",
        "The bot's model registry: versions, champion, alias history, pending post-deploy check.",
    ),
    (
        "post",
        "/api/v1/models/{bot}/activate",
        "Make a version the champion (body {\"version\": n, \"reason\": \"…\"}), through the engine that trains the bot; 404 for an unknown bot or version, 409 when it already serves.",
    ),
    (
        "post",
        "/api/v1/models/{bot}/rollback",
        "Roll the champion back to the newest version that served and passed its check (body {\"reason\": \"…\"}).",
    ),
    (
        "get",
        "/api/v1/variants",
        "Every bot's variants as last saved: the serving variant, the population's size and generation, promotions, and the running A/B test's status (evidence, threshold, uplift, confidence sequence, decision).",
    ),
    (
        "post",
        "/api/v1/variants/{bot}/{id}/promote",
        "Make a variant serve now, through the engine that runs the bot's variants (a running A/B test is cancelled unjudged; body {\"reason\": \"…\"}); answers the event and the variants after it. 404 for an unknown bot (unknown_bot), a bot without variants (no_variants) or an unknown variant (unknown_variant); 409 when it serves already.",
    ),
    (
        "post",
        "/api/v1/variants/{bot}/{id}/retire",
        "Take a variant out; a mutated child of the serving variant takes its place (body {\"reason\": \"…\"}); answers the event and the variants after it. 404 as for promote; 409 for the serving variant (promote another first).",
    ),
    (
        "get",
        "/api/v1/autoscale",
        "The last autoscale decisions and the autoscaler's conditions (AbleToScale, ScalingActive, ScalingLimited).",
    ),
    (
        "post",
        "/api/v1/autoscale",
        "One autoscale step; dry-run unless ?dry_run=false (body {\"energy\": x, \"trend\": y} to decide from other readings).",
    ),
    (
        "get",
        "/api/v1/alerts",
        "Alerts firing now, the last alert events and the thresholds of the rules in effect.",
    ),
    (
        "get",
        "/api/v1/audit",
        "The audit trail: every state-changing action (since/until/bot/limit).",
    ),
    (
        "get",
        "/api/v1/decisions",
        "The decision stream as Server-Sent Events (?bot=B, ?skips=false).",
    ),
];

fn bot_param() -> Value {
    json!({"name": "bot", "in": "path", "required": true,
           "description": "The bot's name ([A-Za-z0-9_.-]{1,64}, not starting with '.').",
           "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}})
}

fn query(name: &str, kind: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false,
           "description": description, "schema": {"type": kind}})
}

fn parameters(method: &str, path: &str) -> Vec<Value> {
    let mut p = Vec::new();
    if path.contains("{bot}") {
        p.push(bot_param());
    }
    if path.contains("{id}") {
        p.push(json!({"name": "id", "in": "path", "required": true,
                      "description": "The variant's id (see kaizen variants list).",
                      "schema": {"type": "integer", "minimum": 0}}));
    }
    if path.contains("{file}") {
        p.push(json!({"name": "file", "in": "path", "required": true,
                      "schema": {"type": "string", "enum": ["app.js", "app.css"]}}));
    }
    let range = [
        query(
            "since",
            "string",
            "RFC 3339 time or Unix seconds (inclusive).",
        ),
        query(
            "until",
            "string",
            "RFC 3339 time or Unix seconds (exclusive).",
        ),
        query(
            "limit",
            "integer",
            "At most this many records (1..=10000, default 1000).",
        ),
    ];
    match (method, path) {
        ("get", "/api/v1/engines/{bot}/history") => p.extend(range),
        ("get", "/api/v1/audit") => {
            p.extend(range);
            p.push(query("bot", "string", "Only actions on this bot."));
        }
        ("post", "/api/v1/autoscale") => p.push(query(
            "dry_run",
            "boolean",
            "Decide and record without acting (default true).",
        )),
        ("get", "/api/v1/decisions") => {
            p.push(query(
                "bot",
                "string",
                "Only this bot's items (and the fleet's).",
            ));
            p.push(query("skips", "boolean", "false: leave out skipped ticks."));
        }
        _ => {}
    }
    p
}

fn error_response(description: &str) -> Value {
    json!({"description": description,
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn operation(method: &str, path: &str, summary: &str) -> Value {
    let content_type = match path {
        "/" => "text/html",
        "/assets/{file}" => "text/javascript",
        "/metrics" => "text/plain",
        "/api/v1/decisions" => "text/event-stream",
        _ => "application/json",
    };
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({"description": "OK", "content": {content_type: {}}}),
    );
    let mut op = json!({
        "summary": summary,
        "operationId": format!("{method}{}", path.replace(['/', '{', '}', '.'], "_")),
        "parameters": parameters(method, path),
    });
    if method == "post" {
        op["security"] = json!([{"bearer": []}]);
        op["requestBody"] = json!({"required": false,
            "content": {"application/json": {"schema": {"type": "object"}}}});
        responses.insert(
            "400".into(),
            error_response("Malformed body, query or bot name"),
        );
        responses.insert(
            "409".into(),
            error_response("Conflicts with the engine's state (paused, busy, …)"),
        );
        responses.insert("413".into(), error_response("Body over the size limit"));
    } else if path.starts_with("/api/") || path == "/metrics" {
        op["security"] = json!([{}, {"bearer": []}]);
    }
    if path.contains("{bot}") || path.contains("{file}") {
        responses.insert(
            "404".into(),
            error_response("No engine (or registry) for the bot"),
        );
    }
    if path.starts_with("/api/") || path == "/metrics" {
        responses.insert("401".into(), error_response("Token missing or wrong"));
        responses.insert(
            "429".into(),
            error_response("Too many requests from this address"),
        );
    }
    op["responses"] = Value::Object(responses);
    op
}

/// The document.
pub fn spec() -> Value {
    let mut paths = Map::new();
    for (method, path, summary) in ROUTES {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = operation(method, path, summary);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "kaizen control plane",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "See and steer a running kaizen fleet. Times are RFC 3339 (UTC). \
                Reads need the bearer token only when the server listens beyond loopback; \
                every POST needs it and is written to the audit trail."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {
                    "type": "object",
                    "required": ["status", "code", "message"],
                    "properties": {
                        "status": {"type": "integer"},
                        "code": {"type": "string"},
                        "message": {"type": "string"}
                    }
                }}
            }}
        }
    })
}

pub(super) async fn document() -> HttpResponse {
    HttpResponse::Ok().json(spec())
}

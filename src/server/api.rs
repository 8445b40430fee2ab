//! The read-only routes: engines, history, models, autoscale, alerts, the
//! audit trail, `/metrics`. Every time in a JSON answer is RFC 3339
//! ([`crate::present`]).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::PathBuf;

use super::AppState;
use super::error::ApiError;
use super::live::lock;
use crate::conditions::{autoscale_conditions, engine_conditions};
use crate::history::{Query, parse_rfc3339};
use crate::present::with_rfc3339_times;

/// The most records one history or audit answer holds.
pub const MAX_RECORDS: usize = 10_000;

pub(super) type Reply = Result<HttpResponse, ApiError>;

fn ok(value: Value) -> Reply {
    Ok(HttpResponse::Ok().json(value))
}

pub(super) async fn not_found(req: HttpRequest) -> Reply {
    Err(ApiError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "no_route",
        format!(
            "no route {} {}; GET /api/v1/openapi.json lists them",
            req.method(),
            req.path()
        ),
    ))
}

pub(super) async fn metrics(state: web::Data<AppState>) -> Reply {
    let text = state
        .exposition
        .encode()
        .map_err(|_| ApiError::internal("the metrics could not be encoded"))?;
    Ok(HttpResponse::Ok()
        .content_type(super::metrics::CONTENT_TYPE)
        .body(text))
}

/// Checks a bot name from a path.
pub(super) fn checked_bot(bot: &str) -> Result<(), ApiError> {
    crate::engine::validate_name("bot", bot)
        .map_err(|e| ApiError::bad_request("invalid_bot", e.to_string()))
}

/// The engine that looks after `bot`: the one the live state knows, else the one named after it.
pub(super) async fn engine_addr(
    state: &AppState,
    bot: &str,
) -> Result<(String, actix::Addr<crate::engine::SelfImprovementEngine>), ApiError> {
    checked_bot(bot)?;
    let name = state
        .parts
        .live
        .engine_of(bot)
        .map_or_else(|| bot.to_string(), |e| e.to_string());
    match state.parts.registry.engine(&name).await {
        Ok(Some(addr)) => Ok((name, addr)),
        Ok(None) => Err(ApiError::unknown_bot(bot)),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn engines(state: web::Data<AppState>) -> Reply {
    let report = state.parts.registry.status().await?;
    state.parts.live.refreshed(&report);
    let firing = firing(&state);
    let engines: Vec<Value> = report
        .engines
        .iter()
        .map(|e| {
            let conditions = e
                .status
                .as_ref()
                .map(|s| engine_conditions(s, e.entry.failed.as_deref(), &firing));
            let mut v = with_rfc3339_times(e);
            v["conditions"] = json!(conditions);
            v
        })
        .collect();
    ok(json!({
        "engines": engines,
        "dropped_ticks": report.dropped_ticks,
        "period_secs": report.period.map(|p| p.as_secs_f64()),
    }))
}

fn firing(state: &AppState) -> Vec<crate::alert::AlertEvent> {
    state
        .parts
        .monitor
        .as_ref()
        .map(|m| m.firing())
        .unwrap_or_default()
}

#[derive(Serialize)]
struct Counters {
    cycles: u64,
    failures: u64,
    skips: u64,
}

pub(super) async fn engine(state: web::Data<AppState>, bot: web::Path<String>) -> Reply {
    let (name, addr) = engine_addr(&state, &bot).await?;
    let snapshot = addr
        .send(crate::engine::Status)
        .await
        .map_err(|_| ApiError::unknown_bot(&bot))?;
    let live = state.parts.live.bots.get(bot.as_str()).map(|b| {
        (
            Counters {
                cycles: b.cycles,
                failures: b.failures,
                skips: b.skips,
            },
            b.last,
        )
    });
    let firing: Vec<_> = firing(&state)
        .into_iter()
        .filter(|a| a.bot.as_deref() == Some(bot.as_str()))
        .collect();
    let conditions = engine_conditions(&snapshot, None, &firing);
    ok(with_rfc3339_times(&json!({
        "engine": name,
        "bot": *bot,
        "snapshot": snapshot,
        "conditions": conditions,
        "since_start": live.as_ref().map(|l| &l.0),
        "last": live.as_ref().and_then(|l| l.1),
        "alerts": firing,
    })))
}

/// A time in a query: RFC 3339, or Unix seconds.
fn time_param(what: &'static str, text: &Option<String>) -> Result<Option<f64>, ApiError> {
    let Some(text) = text.as_deref() else {
        return Ok(None);
    };
    if let Ok(t) = text.parse::<f64>()
        && t.is_finite()
    {
        return Ok(Some(t));
    }
    parse_rfc3339(text).map(Some).map_err(|_| {
        ApiError::bad_request(
            "bad_query",
            format!("{what} = {text:?} is not a time: give RFC 3339 (2026-01-02T03:04:05Z) or Unix seconds"),
        )
    })
}

/// `?since=&until=&limit=` of a history or audit query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Range {
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
    bot: Option<String>,
}

impl Range {
    fn query(&self) -> Result<(Query, usize), ApiError> {
        let limit = self.limit.unwrap_or(1000);
        if limit == 0 || limit > MAX_RECORDS {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("limit = {limit}: expected 1 to {MAX_RECORDS}"),
            ));
        }
        let q = Query::between(
            time_param("since", &self.since)?,
            time_param("until", &self.until)?,
        );
        q.validate()
            .map_err(|e| ApiError::bad_request("bad_query", e.to_string()))?;
        Ok((q, limit))
    }
}

fn history_of(state: &AppState) -> Result<&crate::history::History, ApiError> {
    state.parts.history.as_deref().ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "no_history",
            "this server keeps no history (kaizen run --no-history)",
        )
    })
}

/// `GET /api/v1/engines/{bot}/history`: with `since`, the earliest `limit`
/// records from then (until `until`); without, the last `limit` records.
pub(super) async fn history(
    state: web::Data<AppState>,
    bot: web::Path<String>,
    range: web::Query<Range>,
) -> Reply {
    checked_bot(&bot)?;
    if range.bot.is_some() {
        return Err(ApiError::bad_request(
            "bad_query",
            "bot is given in the path here, not in the query",
        ));
    }
    let (query, limit) = range.query()?;
    let history = history_of(&state)?;
    let bot = bot.into_inner();
    let reader = history.reader();
    let records = if query.since.is_some() || query.until.is_some() {
        reader.range(&bot, &query.with_limit(limit))
    } else {
        reader.last(&bot, limit)
    }
    .map_err(|e| ApiError::internal(e.to_string()))?;
    if records.is_empty() && state.parts.live.engine_of(&bot).is_none() {
        return Err(ApiError::unknown_bot(&bot));
    }
    ok(with_rfc3339_times(
        &json!({ "bot": bot, "records": records }),
    ))
}

fn bot_dir(state: &AppState, bot: &str) -> Result<PathBuf, ApiError> {
    checked_bot(bot)?;
    let root = state.parts.state_root.as_ref().ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "no_state",
            "this server has no state folder, so no model registries",
        )
    })?;
    Ok(root.join(bot))
}

pub(super) async fn models(state: web::Data<AppState>, bot: web::Path<String>) -> Reply {
    let dir = bot_dir(&state, &bot)?;
    if !dir.join(crate::models::MODELS_DIR).is_dir() {
        // A bot without a training pipeline has no registry: an empty one.
        engine_addr(&state, &bot).await?;
        return ok(json!({"registry": false, "champion": null, "versions": [], "history": []}));
    }
    let catalog = web::block(move || crate::models::Catalog::read(&dir))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    ok(with_rfc3339_times(&catalog_json(&catalog)))
}

/// A catalog as the API and the dashboard show it.
pub(super) fn catalog_json(c: &crate::models::Catalog) -> Value {
    let versions: Vec<Value> = c
        .versions()
        .map(|m| {
            let mut v = json!(m);
            v["status"] = json!(m.status().as_str());
            v
        })
        .collect();
    json!({
        "registry": true,
        "champion": c.champion(),
        "versions": versions,
        "damaged": c.damaged().map(|(id, why)| json!({"version": id, "why": why})).collect::<Vec<_>>(),
        "history": c.history(),
        "pending_check": c.pending_check(),
    })
}

pub(super) async fn autoscale(state: web::Data<AppState>) -> Reply {
    let report = state.parts.registry.status().await?;
    let now = state.parts.clock.now();
    let last = report.autoscale.last();
    let last_change = report
        .autoscale
        .iter()
        .rev()
        .find(|r| r.applied)
        .map(|r| r.time);
    let conditions = autoscale_conditions(last, report.engines.len(), last_change, now);
    ok(with_rfc3339_times(&json!({
        "engines": report.engines.len(),
        "conditions": conditions,
        "decisions": report.autoscale,
    })))
}

pub(super) async fn alerts(state: web::Data<AppState>) -> Reply {
    let recent: Vec<_> = lock(&state.parts.live.alerts).iter().cloned().collect();
    let rules = state.parts.monitor.as_ref().map(|m| json!(m.rules()));
    ok(with_rfc3339_times(&json!({
        "firing": firing(&state),
        "recent": recent,
        "latency_p99_secs": state.parts.monitor.as_ref().and_then(|m| m.latency_p99()),
        "resources": state.parts.monitor.as_ref().and_then(|m| m.resources()),
        "rules": rules,
    })))
}

pub(super) async fn audit(state: web::Data<AppState>, range: web::Query<Range>) -> Reply {
    let (query, limit) = range.query()?;
    if let Some(bot) = &range.bot {
        checked_bot(bot)?;
    }
    let history = history_of(&state)?;
    let entries = if query.since.is_some() || query.until.is_some() || range.bot.is_some() {
        history
            .audit()
            .range(range.bot.as_deref(), &query.with_limit(limit))
    } else {
        history.audit().last(limit)
    }
    .map_err(|e| ApiError::internal(e.to_string()))?;
    ok(with_rfc3339_times(&json!({ "entries": entries })))
}

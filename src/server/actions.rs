//! The state-changing routes: pause, resume and run an engine, an autoscale
//! step, activate or roll back a bot's model (through the engine that trains
//! it when one runs, [`RegistryHandle::change_model`](crate::registry::RegistryHandle::change_model)),
//! promote or retire a bot's variant (through the engine that runs them,
//! [`RegistryHandle::change_variant`](crate::registry::RegistryHandle::change_variant)). Each needs the token (the
//! guard checked it) and is written to the audit trail — who (the token's
//! name), what, on which bot, and how it ended — before it is answered.

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, web};
use futures_util::StreamExt;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::AppState;
use super::api::{Reply, engine_addr};
use super::error::ApiError;
use super::guard::Who;
use crate::autoscale::AutoscaleConfig;
use crate::autoscale::AutoscaleRequest;
use crate::history::AuditEntry;
use crate::models::{AliasMove, ModelRegistry, ModelsError, RegistryConfig, VersionId};
use crate::present::with_rfc3339_times;
use crate::training::ModelAction;
use crate::variants::VariantAction;

/// Reads a JSON body of at most `limit` bytes; an empty body is `T::default()`.
async fn body<T: DeserializeOwned + Default>(
    mut payload: web::Payload,
    limit: usize,
) -> Result<T, ApiError> {
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("malformed_body", e.to_string()))?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is over {limit} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&buf).map_err(|e| {
        ApiError::bad_request("malformed_body", format!("the JSON body is not valid: {e}"))
    })
}

fn who(req: &HttpRequest) -> String {
    req.extensions()
        .get::<Who>()
        .map_or_else(|| "unknown".into(), |w| w.0.clone())
}

/// Writes the audit entry of an action (succeeded or failed), then answers.
async fn audited(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    action: &str,
    bot: Option<&str>,
    detail: String,
    result: Reply,
) -> Reply {
    let mut entry = AuditEntry::new(state.parts.clock.now(), who(req), action).with_detail(detail);
    if let Some(bot) = bot {
        entry = entry.on_bot(bot);
    }
    if let Err(e) = &result {
        entry = entry.failed(e.message.clone());
    }
    match state.parts.history.clone() {
        Some(history) => {
            let written = web::block(move || history.audit().append(&entry)).await;
            match written {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, action, "action not written to the audit trail")
                }
                Err(e) => {
                    tracing::error!(error = %e, action, "action not written to the audit trail")
                }
            }
        }
        None => tracing::warn!(action, "no history: the action is not in an audit trail"),
    }
    result
}

pub(super) async fn pause(
    state: web::Data<AppState>,
    bot: web::Path<String>,
    req: HttpRequest,
) -> Reply {
    set_paused(state, bot, req, true).await
}

pub(super) async fn resume(
    state: web::Data<AppState>,
    bot: web::Path<String>,
    req: HttpRequest,
) -> Reply {
    set_paused(state, bot, req, false).await
}

async fn set_paused(
    state: web::Data<AppState>,
    bot: web::Path<String>,
    req: HttpRequest,
    paused: bool,
) -> Reply {
    let result = async {
        let (engine, addr) = engine_addr(&state, &bot).await?;
        let sent = if paused {
            addr.send(crate::engine::Pause).await
        } else {
            addr.send(crate::engine::Resume).await
        };
        sent.map_err(|_| ApiError::unknown_bot(&bot))?;
        state.parts.live.set_paused(&bot, paused);
        Ok(actix_web::HttpResponse::Ok().json(json!({
            "bot": *bot, "engine": engine, "paused": paused,
        })))
    }
    .await;
    let action = if paused {
        "engine.pause"
    } else {
        "engine.resume"
    };
    audited(&state, &req, action, Some(&bot), String::new(), result).await
}

/// The body of `POST …/run`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RunBody {
    /// The energy asked for, 1..=100 (default 1).
    energy: u32,
}

impl Default for RunBody {
    fn default() -> Self {
        RunBody { energy: 1 }
    }
}

pub(super) async fn run(
    state: web::Data<AppState>,
    bot: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Reply {
    let asked: Result<RunBody, ApiError> = body(payload, state.config.body_limit).await;
    let detail = asked
        .as_ref()
        .map_or_else(|_| String::new(), |b| format!("energy {}", b.energy));
    let result = async {
        let asked = asked?;
        let (engine, _) = engine_addr(&state, &bot).await?;
        let record = state
            .parts
            .registry
            .run_cycle(&engine, asked.energy)
            .await?;
        Ok(actix_web::HttpResponse::Ok().json(with_rfc3339_times(&record)))
    }
    .await;
    audited(&state, &req, "engine.run", Some(&bot), detail, result).await
}

/// `?dry_run=` of `POST /api/v1/autoscale` (true unless said otherwise).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DryRun {
    dry_run: Option<bool>,
}

/// The body of `POST /api/v1/autoscale`: readings to decide from instead of
/// the registry's own.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AutoscaleBody {
    energy: Option<f64>,
    trend: Option<f64>,
}

pub(super) async fn autoscale(
    state: web::Data<AppState>,
    query: web::Query<DryRun>,
    req: HttpRequest,
    payload: web::Payload,
) -> Reply {
    let dry_run = query.dry_run.unwrap_or(true);
    let asked: Result<AutoscaleBody, ApiError> = body(payload, state.config.body_limit).await;
    let detail = format!("dry_run {dry_run}");
    let result = async {
        let asked = asked?;
        let config = AutoscaleConfig {
            dry_run: dry_run || state.parts.autoscale.dry_run,
            ..state.parts.autoscale.clone()
        };
        let record = state
            .parts
            .registry
            .autoscale(AutoscaleRequest {
                energy: asked.energy,
                trend: asked.trend,
                resources: None,
                config: Some(config),
            })
            .await?;
        Ok(actix_web::HttpResponse::Ok().json(with_rfc3339_times(&record)))
    }
    .await;
    audited(&state, &req, "autoscale.run", None, detail, result).await
}

/// The body of `POST /api/v1/models/{bot}/activate`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ActivateBody {
    version: Option<u64>,
    reason: Option<String>,
}

/// The body of `POST /api/v1/models/{bot}/rollback`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RollbackBody {
    reason: Option<String>,
}

fn models_error(e: ModelsError) -> ApiError {
    match e {
        ModelsError::Locked { .. } => ApiError::conflict(
            "models_locked",
            format!("{e}; no engine of this server trains the bot, another process holds it"),
        ),
        ModelsError::UnknownVersion { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_version", e.to_string())
        }
        ModelsError::Invalid { .. } => ApiError::bad_request("invalid", e.to_string()),
        ModelsError::AlreadyChampion(_) | ModelsError::NoRollbackTarget { .. } => {
            ApiError::conflict("conflict", e.to_string())
        }
        other => ApiError::internal(other.to_string()),
    }
}

/// Moves `bot`'s champion: through the engine that trains the bot when one
/// runs (its training pipeline holds the model registry's lock; the move
/// happens between two of its cycles), else by opening the bot's model
/// registry for this one move.
async fn move_model(
    state: &web::Data<AppState>,
    bot: &str,
    action: ModelAction,
    reason: String,
) -> Reply {
    super::api::checked_bot(bot)?;
    let moved = match state
        .parts
        .registry
        .change_model(bot, action, reason.clone())
        .await
    {
        Ok(moved) => moved,
        // No engine trains the bot: its registry is free to open.
        Err(crate::Error::UnknownEngine { .. }) => open_and_move(state, bot, action, reason)
            .await
            .map_err(|e| match e.code {
                "no_models" | "no_state" => ApiError::unknown_bot(bot),
                _ => e,
            })?,
        Err(crate::Error::NoModels { .. }) => open_and_move(state, bot, action, reason).await?,
        Err(crate::Error::Models(e)) => return Err(models_error(e)),
        Err(e) => return Err(e.into()),
    };
    Ok(actix_web::HttpResponse::Ok().json(with_rfc3339_times(&moved)))
}

/// Opens the bot's model registry for one move (taking its lock for the
/// move only) and makes it.
async fn open_and_move(
    state: &web::Data<AppState>,
    bot: &str,
    action: ModelAction,
    reason: String,
) -> Result<AliasMove, ApiError> {
    let root = state.parts.state_root.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_state",
            "this server has no state folder",
        )
    })?;
    let dir = root.join(bot);
    if !dir.join(crate::models::MODELS_DIR).is_dir() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_models",
            format!("bot {bot:?} has no model registry"),
        ));
    }
    let now = state.parts.clock.now();
    web::block(move || {
        let mut registry = ModelRegistry::open(&dir, RegistryConfig::default(), now)?;
        action.apply(&mut registry, &reason, now)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(models_error)
}

pub(super) async fn activate(
    state: web::Data<AppState>,
    bot: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Reply {
    let asked: Result<ActivateBody, ApiError> = body(payload, state.config.body_limit).await;
    let detail = asked
        .as_ref()
        .ok()
        .and_then(|b| b.version)
        .map_or_else(String::new, |v| format!("version v{v}"));
    let who = who(&req);
    let result = async {
        let asked = asked?;
        let version = asked.version.ok_or_else(|| {
            ApiError::bad_request(
                "malformed_body",
                "the body needs \"version\": the version to activate",
            )
        })?;
        let reason = asked
            .reason
            .unwrap_or_else(|| format!("activated by {who} through the API"));
        move_model(
            &state,
            &bot,
            ModelAction::Activate {
                version: VersionId(version),
            },
            reason,
        )
        .await
    }
    .await;
    audited(&state, &req, "model.activate", Some(&bot), detail, result).await
}

pub(super) async fn rollback(
    state: web::Data<AppState>,
    bot: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Reply {
    let asked: Result<RollbackBody, ApiError> = body(payload, state.config.body_limit).await;
    let who = who(&req);
    let result = async {
        let asked = asked?;
        let reason = asked
            .reason
            .unwrap_or_else(|| format!("rolled back by {who} through the API"));
        move_model(&state, &bot, ModelAction::Rollback, reason).await
    }
    .await;
    audited(
        &state,
        &req,
        "model.rollback",
        Some(&bot),
        String::new(),
        result,
    )
    .await
}

/// The body of `POST /api/v1/variants/{bot}/{id}/promote` and `/retire`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VariantBody {
    reason: Option<String>,
}

fn variants_error(bot: &str, e: crate::Error) -> ApiError {
    use crate::Error as E;
    match e {
        E::UnknownVariant { .. } => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_variant",
            format!("bot {bot:?}: {e}"),
        ),
        E::NoVariants { .. } => ApiError::new(StatusCode::NOT_FOUND, "no_variants", e.to_string()),
        E::VariantRefused { .. } => ApiError::conflict("conflict", format!("bot {bot:?}: {e}")),
        other => other.into(),
    }
}

pub(super) async fn promote_variant(
    state: web::Data<AppState>,
    path: web::Path<(String, u64)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Reply {
    let (bot, id) = path.into_inner();
    change_variant(state, bot, VariantAction::Promote(id), req, payload).await
}

pub(super) async fn retire_variant(
    state: web::Data<AppState>,
    path: web::Path<(String, u64)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Reply {
    let (bot, id) = path.into_inner();
    change_variant(state, bot, VariantAction::Retire(id), req, payload).await
}

/// Promotes or retires a variant through the engine that runs the bot's
/// variants; answers the event and the variants after it. The audit entry
/// is the CLI's: `variants.promote|retire`, `variant <id>[: <reason>]`.
async fn change_variant(
    state: web::Data<AppState>,
    bot: String,
    action: VariantAction,
    req: HttpRequest,
    payload: web::Payload,
) -> Reply {
    let asked: Result<VariantBody, ApiError> = body(payload, state.config.body_limit).await;
    let detail = match asked.as_ref().ok().and_then(|b| b.reason.as_deref()) {
        Some(reason) if !reason.is_empty() => format!("variant {}: {reason}", action.id()),
        _ => format!("variant {}", action.id()),
    };
    let result = async {
        asked?;
        super::api::checked_bot(&bot)?;
        let (event, variants) = state
            .parts
            .registry
            .change_variant(&bot, action)
            .await
            .map_err(|e| variants_error(&bot, e))?;
        Ok(actix_web::HttpResponse::Ok().json(json!({
            "bot": bot, "event": event, "serving": variants.serving(), "variants": variants,
        })))
    }
    .await;
    audited(
        &state,
        &req,
        action.audit_name(),
        Some(&bot),
        detail,
        result,
    )
    .await
}

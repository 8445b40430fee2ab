//! The HTTP control plane (feature `server`): an actix-web server on the
//! actix system kaizen already runs, serving the API, `/metrics`, the
//! decision stream as Server-Sent Events and the dashboard.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the dashboard (assets embedded in the binary) |
//! | `GET /metrics` | Prometheus text exposition ([`metrics`]) |
//! | `GET /api/v1/engines`, `/api/v1/engines/{bot}` | engines, their snapshots, settings and conditions |
//! | `GET /api/v1/engines/{bot}/history?since=&until=&limit=` | the bot's cycle history (RFC 3339 or Unix times) |
//! | `POST /api/v1/engines/{bot}/pause`, `/resume`, `/run` | steer one engine (`run` takes `{"energy": n}`) |
//! | `GET /api/v1/models/{bot}` | the bot's model registry (read-only catalog) |
//! | `POST /api/v1/models/{bot}/activate`, `/rollback` | move the bot's champion model |
//! | `GET /api/v1/variants` | every bot's serving variant and running A/B test (from `state/<bot>/variants.json`) |
//! | `POST /api/v1/variants/{bot}/{id}/promote`, `/retire` | promote or retire one of the bot's variants |
//! | `GET /api/v1/autoscale`, `POST /api/v1/autoscale?dry_run=true` | the last steps with HPA-style conditions; one step (dry-run unless `dry_run=false`) |
//! | `GET /api/v1/alerts`, `/api/v1/audit` | alerts firing and recent; the audit trail |
//! | `GET /api/v1/decisions` | the decision stream (SSE) |
//! | `GET /api/v1/openapi.json` | the OpenAPI 3.1 document of all of the above |
//!
//! **Security**: every state-changing request needs `Authorization: Bearer
//! <token>` ([`auth`]); when the server listens beyond loopback, every API
//! read and `/metrics` need it too (the dashboard's page itself holds no
//! data). Each change is written to the audit trail with the token's name.
//! Request bodies are bounded (`body_limit`, 64 KiB), each client address
//! gets a token bucket of requests (`rate_limit`), and CORS headers are sent
//! only for origins given in `cors_origins`. TLS is left to a reverse proxy.

mod actions;
pub mod address;
mod api;
pub mod auth;
mod dashboard;
mod error;
mod guard;
pub mod live;
pub mod metrics;
mod openapi;
mod sse;
mod variants;

pub use address::ServerAddress;
pub use auth::{Token, TokenSource};
pub use error::ApiError;
pub use live::{LiveObserver, LiveState};

use actix_web::{App, HttpServer, web};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::autoscale::AutoscaleConfig;
use crate::history::History;
use crate::host::Clock;
use crate::monitor::MonitorStats;
use crate::registry::RegistryHandle;

/// What can stop the server from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A file operation failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// To what.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The token is unusable.
    #[error("the API token from {from} is unusable: {why}")]
    Token {
        /// Where it came from (`KAIZEN_TOKEN` or the file).
        from: String,
        /// What is wrong with it.
        why: String,
    },
    /// The address could not be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A setting is out of range.
    #[error("invalid server setting {what} = {value}: expected {expected}")]
    Invalid {
        /// The setting.
        what: &'static str,
        /// Its value.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
    /// The server was started outside an actix system.
    #[error("the server must be started inside an actix system")]
    NoActixSystem,
}

/// How many requests a client address may make.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Requests per second, sustained.
    pub per_second: f64,
    /// Requests allowed at once after a quiet spell.
    pub burst: u32,
}

/// The server's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// Where to listen (`127.0.0.1:9464` by default; port 0 picks a free one).
    pub listen: SocketAddr,
    /// The largest request body accepted, in bytes (64 KiB).
    pub body_limit: usize,
    /// Requests per client address (50/s, bursts of 100).
    pub rate_limit: RateLimit,
    /// Origins allowed to call the API from a browser (none: no CORS headers).
    pub cors_origins: Vec<String>,
    /// HTTP worker threads (1: the API is light; the engines keep the cores).
    pub workers: usize,
    /// How often engine snapshots are refreshed for `/metrics` and the dashboard (5 s).
    pub refresh_every: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            body_limit: 64 << 10,
            rate_limit: RateLimit {
                per_second: 50.0,
                burst: 100,
            },
            cors_origins: Vec::new(),
            workers: 1,
            refresh_every: Duration::from_secs(5),
        }
    }
}

impl ServerConfig {
    /// Checks every setting, naming the first that is out of range.
    pub fn validate(&self) -> Result<(), ServerError> {
        let invalid = |what, value: String, expected| ServerError::Invalid {
            what,
            value,
            expected,
        };
        if self.body_limit == 0 {
            return Err(invalid("body_limit", "0".into(), "at least 1 byte"));
        }
        if !(self.rate_limit.per_second.is_finite() && self.rate_limit.per_second > 0.0) {
            return Err(invalid(
                "rate_limit",
                self.rate_limit.per_second.to_string(),
                "a positive number of requests per second",
            ));
        }
        if self.rate_limit.burst == 0 {
            return Err(invalid("rate_limit burst", "0".into(), "at least 1"));
        }
        if self.workers == 0 {
            return Err(invalid("workers", "0".into(), "at least 1"));
        }
        if self.refresh_every.is_zero() {
            return Err(invalid("refresh_every", "0s".into(), "a positive duration"));
        }
        Ok(())
    }
}

/// What the server serves.
pub struct ServerParts {
    /// The registry it reads and steers.
    pub registry: RegistryHandle,
    /// The token requests must carry.
    pub token: Token,
    /// The state folder (model registries live in `<bot>/models`).
    pub state_root: Option<PathBuf>,
    /// The history and audit trail, when kept.
    pub history: Option<Arc<History>>,
    /// Live per-bot state (feed it with a [`LiveObserver`] on the monitor).
    pub live: Arc<LiveState>,
    /// The monitor's readings and alerts.
    pub monitor: Option<Arc<MonitorStats>>,
    /// The options of autoscale steps asked for through the API.
    pub autoscale: AutoscaleConfig,
    /// The clock the audit trail is dated by.
    pub clock: Arc<dyn Clock>,
}

/// Everything a handler reads.
pub(crate) struct AppState {
    parts: ServerParts,
    exposition: metrics::Exposition,
    config: ServerConfig,
    limiter: guard::Limiter,
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
}

impl Server {
    /// Binds `config.listen` and starts serving on the current actix system.
    pub fn start(config: ServerConfig, parts: ServerParts) -> Result<Server, ServerError> {
        config.validate()?;
        if actix::System::try_current().is_none() {
            return Err(ServerError::NoActixSystem);
        }
        let exposition = metrics::Exposition::new(metrics::Sources {
            live: parts.live.clone(),
            timings: parts.registry.timings(),
            monitor: parts.monitor.clone(),
            history: parts
                .history
                .clone()
                .map(metrics::Sources::history_counters),
        });
        actix::spawn(live::refresh(
            parts.live.clone(),
            parts.registry.clone(),
            config.refresh_every,
        ));
        let state = web::Data::new(AppState {
            limiter: guard::Limiter::new(config.rate_limit),
            exposition,
            config: config.clone(),
            parts,
        });
        let limit = config.body_limit;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(limit)
                        .error_handler(error::extract::json),
                )
                .app_data(web::QueryConfig::default().error_handler(error::extract::query))
                .app_data(web::PathConfig::default().error_handler(error::extract::path))
                .wrap(actix_web::middleware::from_fn(guard::guard))
                .configure(routes)
                .default_service(web::to(api::not_found))
        })
        .workers(config.workers)
        .disable_signals()
        .shutdown_timeout(2)
        .bind(config.listen)
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        let addr = server.addrs().first().copied().unwrap_or(config.listen);
        let server = server.run();
        let handle = server.handle();
        actix::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!(error = %e, "the HTTP server stopped");
            }
        });
        Ok(Server { addr, handle })
    }

    /// The address it listens on (with the port chosen, for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting requests and ends the open ones (event streams included).
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(dashboard::index))
        .route("/assets/{file}", web::get().to(dashboard::asset))
        .route("/metrics", web::get().to(api::metrics))
        .service(
            web::scope("/api/v1")
                .route("/openapi.json", web::get().to(openapi::document))
                .route("/engines", web::get().to(api::engines))
                .route("/engines/{bot}", web::get().to(api::engine))
                .route("/engines/{bot}/history", web::get().to(api::history))
                .route("/engines/{bot}/pause", web::post().to(actions::pause))
                .route("/engines/{bot}/resume", web::post().to(actions::resume))
                .route("/engines/{bot}/run", web::post().to(actions::run))
                .route("/models/{bot}", web::get().to(api::models))
                .route("/models/{bot}/activate", web::post().to(actions::activate))
                .route("/models/{bot}/rollback", web::post().to(actions::rollback))
                .route("/variants", web::get().to(variants::list))
                .route(
                    "/variants/{bot}/{id}/promote",
                    web::post().to(actions::promote_variant),
                )
                .route(
                    "/variants/{bot}/{id}/retire",
                    web::post().to(actions::retire_variant),
                )
                .route("/autoscale", web::get().to(api::autoscale))
                .route("/autoscale", web::post().to(actions::autoscale))
                .route("/alerts", web::get().to(api::alerts))
                .route("/audit", web::get().to(api::audit))
                .route("/decisions", web::get().to(sse::decisions)),
        );
}

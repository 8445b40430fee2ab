//! # kaizen — a runtime for self-improving bots
//!
//! kaizen decides, for each bot it looks after, **when** to run that bot's
//! improvement pipeline and **how much energy** (budget) to give it, learns
//! from the ROI each cycle produced, and grows or shrinks the number of
//! engines with the energy available, the ROI trend and the machine's load.
//!
//! ## Tour
//! The crate is a functional core inside an actor shell:
//! - [`persist`] — the one safe way every state file is read and written.
//! - [`roi`] — ROI deltas, their moving average, short mean and long-term trend.
//! - [`policy`] — the tabular Q-learning policy that decides whether to run a cycle.
//! - [`synergy`] — cross-module synergy metrics and the learners that weigh them.
//! - [`metalog`] — per-module ROI accounting and the stable module index.
//! - [`energy`] — the energy score: how much capacity there is to spend now.
//! - [`chain`] — the energy chain: how much energy one cycle gets.
//! - [`decide`] — learned decisions: how much energy a cycle gets, from what the ledger showed.
//! - [`evaluate`] — off-policy evaluation: what other `[decide]` settings would have earned on a log of learned decisions.
//! - [`record`] — what one tick decided and why ([`record::CycleRecord`], [`record::Reason`]).
//! - [`reward`] — the weighted multi-component reward: a cycle's value from its reported metrics.
//! - [`autoscale`] — the decision to create or remove an engine.
//! - [`cycle`] — one bot's learning state and its cycle as typed steps (the engine's core).
//! - [`snapshot`] — what an engine knows about itself at one moment ([`snapshot::EngineSnapshot`]).
//! - [`forecast`] — the built-in ROI forecaster: ARIMA chosen by AIC, a linear fallback.
//! - [`pipeline`] — the host's improvement job and how it is run safely.
//! - [`process`] — pipeline process groups: killed with kaizen, recorded, reaped.
//! - [`host`] — the host's ledger, forecasts, diagnostics, machine load and clock.
//! - [`engine`] — the `SelfImprovementEngine` actor, one per bot.
//! - [`runtime`] — the services every engine of a process shares: bot locks, learner pool, state writer.
//! - [`registry`] — the `ImprovementEngineRegistry` actor: owns, runs, supervises and scales engines.
//! - [`decision`] — the stream of every cycle and autoscale record, for hosts to subscribe to.
//! - [`history`] — the cycle history and the audit trail on disk, queried by time; RFC 3339 times.
//! - [`limits`] — the yardsticks: what the machine does with nothing of kaizen in the way.
//! - [`sim`] — a seeded world of bots for simulations, baselines and an oracle.
//! - [`spec`] — engine specs (`engines/*.toml`) for `kaizen run`.
//! - [`models`] — the per-bot model registry: versions, the champion alias, its history, rollback.
//! - [`histogram`] — histograms with explicit buckets, and quantiles as PromQL computes them.
//! - [`conditions`] — Kubernetes-style conditions of the autoscaler and of an engine.
//! - [`alert`] — alert rules: error rate, decision latency, resource use, model degradation.
//! - [`present`] — records as people and API clients see them: times in RFC 3339.
//! - [`monitor`] — the decision stream's subscriber that keeps the history and raises alerts.
//! - `server` (feature `server`, on by default) — the HTTP control plane: API, `/metrics`, SSE, dashboard.
//! - [`stats`] — significance tests, anytime-valid A/B tests, FDR control and off-policy estimators.
//! - [`training`] — the candle training pipeline: data sources, model, deploy gate, monitor, schedulers, job pool.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alert;
pub mod autoscale;
pub mod chain;
pub mod conditions;
pub mod cycle;
pub mod decide;
pub mod decision;
pub mod energy;
pub mod engine;
pub mod error;
pub mod evaluate;
pub mod forecast;
pub mod histogram;
#[cfg(unix)]
pub mod history;
pub mod host;
pub mod limits;
pub mod metalog;
pub mod models;
#[cfg(unix)]
pub mod monitor;
pub mod persist;
pub mod pipeline;
pub mod policy;
#[cfg(unix)]
pub mod present;
pub mod process;
pub mod record;
pub mod registry;
pub mod reward;
pub mod roi;
pub mod runtime;
#[cfg(all(unix, feature = "server"))]
pub mod server;
pub mod sim;
pub mod snapshot;
pub mod spec;
pub mod stats;
pub mod synergy;
pub mod training;
pub mod variants;

pub use error::{Error, Result};

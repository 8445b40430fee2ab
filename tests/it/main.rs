//! kaizen's integration tests: one binary, one module per area.

mod cli_bench;
mod cli_monitoring;
mod cli_run;
mod crash_write_behind;
mod engine_cycle;
mod engine_failures;
mod engine_saves;
mod history_crash;
mod models_crash;
mod registry_autoscale;
mod registry_load;
mod registry_supervision;
#[cfg(feature = "server")]
mod server_api;
#[cfg(feature = "server")]
mod server_browser;
mod sim_cli;
mod state_round1;
mod stats_significance;
mod support;
#[cfg(feature = "server")]
mod support_server;

//! Integration tests, one module per area (`<area>_<feature>.rs`): engine_, registry_ and sim_ drive the real actors on a `ManualClock`,
//! cli_, crash_ and state_ run the built `kaizen` binary; shared helpers live in `support.rs`.

mod cli_bench;
mod cli_evaluate;
mod cli_monitoring;
mod cli_run;
mod cli_training;
mod crash_per_cycle;
mod crash_write_behind;
mod engine_cycle;
mod engine_failures;
mod engine_forecast;
mod engine_saves;
mod engine_training;
mod forecast_statsmodels;
mod history_crash;
mod models_crash;
mod registry_autoscale;
mod registry_forced;
mod registry_load;
mod registry_supervision;
mod reliability_links;
mod reliability_lock;
mod reliability_numbers;
mod reliability_pipelines;
mod reliability_process;
mod reliability_profit;
mod reliability_rounds;
mod reliability_signals;
mod reliability_status;
#[cfg(feature = "server")]
mod server_api;
#[cfg(feature = "server")]
mod server_browser;
mod sim_cli;
mod sim_yardstick;
mod state_round1;
mod stats_abtest;
mod stats_offpolicy;
mod stats_significance;
mod stats_validity;
mod support;
#[cfg(feature = "server")]
mod support_server;
mod training_drift;
mod training_real_data;
mod variants_crash;
mod variants_pbt;
mod variants_run;

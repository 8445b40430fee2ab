//! Integration tests, one module per area (`<area>_<feature>.rs`): engine_, registry_ and sim_ drive the real actors on a `ManualClock`,
//! cli_, crash_ and state_ run the built `kaizen` binary; shared helpers live in `support.rs`.

mod cli_bench;
mod cli_run;
mod crash_write_behind;
mod engine_cycle;
mod engine_failures;
mod engine_saves;
mod forecast_statsmodels;
mod history_crash;
mod models_crash;
mod registry_autoscale;
mod registry_load;
mod registry_supervision;
mod sim_cli;
mod sim_yardstick;
mod state_round1;
mod stats_abtest;
mod stats_offpolicy;
mod stats_significance;
mod stats_validity;
mod support;
mod training_drift;
mod training_real_data;

//! kaizen's integration tests: one binary, one module per area.

mod cli_bench;
mod cli_run;
mod crash_write_behind;
mod engine_cycle;
mod engine_failures;
mod engine_saves;
mod models_crash;
mod registry_autoscale;
mod registry_load;
mod registry_supervision;
mod reliability_links;
mod reliability_lock;
mod reliability_numbers;
mod reliability_rounds;
mod sim_cli;
mod state_round1;
mod stats_abtest;
mod stats_offpolicy;
mod stats_significance;
mod stats_validity;
mod support;

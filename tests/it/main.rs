//! kaizen's integration tests: one binary, one module per area.

mod cli_bench;
mod cli_run;
mod crash_write_behind;
mod engine_cycle;
mod engine_failures;
mod engine_saves;
mod registry_autoscale;
mod registry_load;
mod registry_supervision;
mod sim_cli;
mod sim_yardstick;
mod state_round1;
mod support;

//! Command-line parsing, logging set-up and dispatch. Each command lives in
//! its own module with its arguments.

mod bench;
mod models;
mod run;
mod simulate;
mod status;
mod synergy;
mod table;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// kaizen: a runtime that decides when to improve each bot, and with how much energy.
#[derive(Debug, Parser)]
#[command(name = "kaizen", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a seeded multi-bot simulation and compare the learned policy with baselines and an oracle.
    Simulate(simulate::SimulateArgs),
    /// Load engines/*.toml and run registry cycles on a timer with autoscaling.
    Run(run::RunArgs),
    /// Show engines, their last cycles, EMA and weights, from the state folder.
    Status(status::StatusArgs),
    /// Inspect and edit a bot's learned synergy weights.
    Synergy(synergy::SynergyArgs),
    /// List, show and compare a bot's model versions; activate one or roll back.
    Models(models::ModelsArgs),
    /// Measure the runtime: engine-ticks/s, cycles/s, latency, memory, bytes written.
    Bench(bench::BenchArgs),
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Parses the command line, runs the command, and turns an error into a
/// message on stderr and exit status 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Simulate(a) => simulate::run(a),
        Command::Run(a) => run::run(a),
        Command::Status(a) => status::run(a),
        Command::Synergy(a) => synergy::run(a),
        Command::Models(a) => models::run(a),
        Command::Bench(a) => bench::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

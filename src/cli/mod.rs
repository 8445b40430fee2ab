//! Command-line parsing, logging set-up and dispatch. Each command lives in
//! its own module with its arguments.

mod bench;
mod describe;
mod evaluate;
mod history;
mod models;
mod observe;
mod process;
mod report;
mod run;
mod run_api;
mod simulate;
mod status;
mod synergy;
mod table;
mod variants;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// kaizen: a runtime that decides when to improve each bot, and with how much energy.
#[derive(Debug, Parser)]
#[command(name = "kaizen", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    /// How logs on stderr are written: `text` (coloured only on a terminal) or `json` (one object per line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,

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
    /// A bot's variants: list them or show one.
    Variants(variants::VariantsArgs),
    /// Each bot's variant A/B test: evidence, the uplift's confidence sequence, decision.
    Abtest(variants::AbtestArgs),
    /// Show a bot's cycle history (and the audit trail's actions on it) over a time range.
    History(history::HistoryArgs),
    /// Describe one bot's engine like `kubectl describe`: settings, conditions, last events.
    Describe(describe::DescribeArgs),
    /// Estimate what a candidate spec's learned-decision settings would have earned on a decision log (IPS, SNIPS, DR).
    Evaluate(evaluate::EvaluateArgs),
    /// Write a report of the fleet over a period: HTML (self-contained, SVG charts) or Markdown.
    Report(report::ReportArgs),
    /// Start a pipeline's program with the limits kaizen found (used by `kaizen run`).
    #[command(hide = true)]
    PipelineExec(process::ExecArgs),
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Lines for people; ANSI colour only when stderr is a terminal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

fn init_logging(verbose: u8, format: LogFormat) {
    use std::io::IsTerminal;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().init(),
    }
}

/// An error and its causes in one line, each said once: a message that
/// already ends with its cause's text (as `PersistError`'s do) does not
/// repeat it.
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

/// Parses the command line, runs the command, and turns an error into a
/// message on stderr and exit status 1.
pub fn main() -> ExitCode {
    process::catch_file_size_signal();
    let cli = Cli::parse();
    let command = match cli.command {
        Command::PipelineExec(args) => {
            // Only returns when the program could not be started: 127, as a shell says.
            if let Err(e) = process::exec(args) {
                eprintln!("kaizen: {}", describe(&e));
            }
            return ExitCode::from(127);
        }
        other => other,
    };
    process::raise_open_files();
    init_logging(cli.verbose, cli.log_format);
    let result = match command {
        Command::PipelineExec(_) => Ok(()),
        Command::Simulate(a) => simulate::run(a),
        Command::Run(a) => run::run(a),
        Command::Status(a) => status::run(a),
        Command::Synergy(a) => synergy::run(a),
        Command::Models(a) => models::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Variants(a) => variants::run(a),
        Command::Abtest(a) => variants::abtest(a),
        Command::History(a) => history::run(a),
        Command::Describe(a) => describe::run(a),
        Command::Report(a) => report::run(a),
        Command::Evaluate(a) => evaluate::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let persist = kaizen::persist::PersistError::Io {
            op: "read",
            path: "state/x.json".into(),
            source: io,
        };
        let e = anyhow::Error::new(persist).context("loading alpha");
        let text = describe(&e);
        assert_eq!(text.matches("entity not found").count(), 1, "{text}");
        assert!(
            text.starts_with("loading alpha: cannot read state/x.json"),
            "{text}"
        );
    }
}

//! `kaizen simulate`: run a scenario and compare the learned policy with the
//! baselines and the oracle.
//!
//! Without `--scenario` it runs the built-in default, `examples/scenarios/mixed.toml`
//! (embedded in the binary, so it works from any folder). The table goes to
//! stdout; `--json FILE` writes the full report (`-` for stdout, in place of
//! the table). A progress bar is drawn on stderr only when stderr is a terminal.

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal as _;
use std::path::PathBuf;

use kaizen::sim::{PolicyKind, Scenario, SimOptions, simulate};

/// The built-in default scenario.
const DEFAULT_SCENARIO: &str = include_str!("../../examples/scenarios/mixed.toml");

/// Arguments of `kaizen simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Scenario file (TOML; see examples/scenarios/). Default: the built-in mixed scenario.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,

    /// Which policy to run (or all); the oracle is always computed for the
    /// "% oracle" column.
    #[arg(long, default_value = "all", value_parser = policy_names())]
    policy: String,

    /// Seed of every random number (default: the scenario's).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// Ticks to simulate (default: the scenario's).
    #[arg(long, value_name = "N")]
    ticks: Option<u64>,

    /// Write the full report as JSON to FILE ("-": stdout, instead of the table).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// `all` and every policy's name.
fn policy_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        PolicyKind::ALL.iter().map(|p| p.name()).chain(["all"]),
    )
}

/// Runs `kaizen simulate`.
pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path)
            .with_context(|| format!("cannot use scenario file {}", path.display()))?,
        None => Scenario::from_toml(DEFAULT_SCENARIO)
            .context("the built-in scenario is invalid (a bug)")?,
    };
    let options = SimOptions {
        seed: args.seed,
        ticks: args.ticks,
        policies: match args.policy.as_str() {
            "all" => PolicyKind::ALL.to_vec(),
            name => vec![name.parse()?],
        },
    };
    let ticks = options.ticks.unwrap_or(scenario.ticks);
    let bar = if std::io::stderr().is_terminal() {
        let total = ticks.saturating_mul(options.runs().len() as u64);
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template("{msg:>9} {wide_bar} {pos}/{len} ticks") {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let report = simulate(&scenario, &options, &mut |policy, _| {
        bar.set_message(policy.name());
        bar.inc(1);
    })
    .with_context(|| format!("simulating scenario {}", scenario.name))?;
    bar.finish_and_clear();
    let json = report.to_json();
    match args.json.as_deref() {
        Some(path) if path.as_os_str() == "-" => print!("{json}"),
        Some(path) => {
            std::fs::write(path, &json)
                .with_context(|| format!("cannot write the report to {}", path.display()))?;
            print!("{}", report.table());
        }
        None => print!("{}", report.table()),
    }
    Ok(())
}

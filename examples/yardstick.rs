//! The yardstick: every policy on every scenario over several seeds, as a
//! share of the oracle's net profit (mean and minimum over the seeds), in
//! Markdown ([`kaizen::sim::yardstick`]).
//!
//! ```text
//! cargo run --release --example yardstick                          # examples/scenarios/*.toml, seeds 1–5
//! cargo run --release --example yardstick -- --seeds 1-10 FILE…    # given scenarios
//! cargo run --release --example yardstick -- --policies core,tuned,oracle FILE…
//! cargo run --release --example yardstick -- --random 1000-1029   # worlds drawn at random
//! cargo run --release --example yardstick -- --show --random 7-7  # print the worlds, run nothing
//! ```
//!
//! A last line says on which scenarios the decision core (`core`) falls
//! under 90% of the oracle on some seed, or under 99% of `tuned`'s mean.

use kaizen::sim::{PolicyKind, Scenario, yardstick};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut seeds: Vec<u64> = (1..=5).collect();
    let mut policies: Vec<PolicyKind> = PolicyKind::ALL.to_vec();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut random: Option<(u64, u64)> = None;
    let mut show = false;
    let range =
        |arg: Option<String>, what: &str| -> Result<(u64, u64), Box<dyn std::error::Error>> {
            let arg = arg.ok_or(format!("{what} needs A-B"))?;
            let (a, b) = arg.split_once('-').ok_or(format!("{what} needs A-B"))?;
            Ok((a.parse()?, b.parse()?))
        };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seeds" => {
                let (a, b) = range(args.next(), "--seeds")?;
                seeds = (a..=b).collect();
            }
            "--show" => show = true,
            "--random" => random = Some(range(args.next(), "--random")?),
            "--policies" => {
                let list = args.next().ok_or("--policies needs a list")?;
                policies = list.split(',').map(str::parse).collect::<Result<_, _>>()?;
            }
            _ => files.push(arg.into()),
        }
    }
    let mut scenarios: Vec<Scenario> = Vec::new();
    if let Some((a, b)) = random {
        scenarios.extend((a..=b).map(Scenario::random));
    } else if files.is_empty() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/scenarios");
        files = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
        files.sort();
    }
    for file in &files {
        scenarios.push(Scenario::load(file)?);
    }
    // Model bots have no oracle to be a share of (see sim::model_world).
    scenarios.retain(|s| !s.has_models());
    if show {
        for scenario in &scenarios {
            println!("{scenario:#?}");
        }
        return Ok(());
    }
    let table = yardstick::measure(&scenarios, &seeds, &policies)?;
    println!("% of the oracle's net profit, mean / min over seeds {seeds:?}\n");
    print!("{}", table.markdown());
    if let Some((under, behind)) = table.shortfalls(90.0, 0.99) {
        println!(
            "\ncore under 90% of the oracle on some seed: {under:?}; core's mean under 99% of tuned's: {behind:?}"
        );
    }
    Ok(())
}

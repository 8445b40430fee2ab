//! The yardstick: every policy on every scenario over several seeds, as a
//! share of the oracle's net profit (mean and minimum over the seeds).
//!
//! ```text
//! cargo run --release --example yardstick                          # examples/scenarios/*.toml, seeds 1–5
//! cargo run --release --example yardstick -- --seeds 1-10 FILE…    # given scenarios
//! cargo run --release --example yardstick -- --policies tuned,oracle FILE…
//! ```

use kaizen::sim::{PolicyKind, Scenario, SimOptions, simulate};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut seeds: Vec<u64> = (1..=5).collect();
    let mut policies: Vec<PolicyKind> = PolicyKind::ALL.to_vec();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seeds" => {
                let range = args.next().ok_or("--seeds needs A-B")?;
                let (a, b) = range.split_once('-').ok_or("--seeds needs A-B")?;
                seeds = (a.parse()?..=b.parse()?).collect();
            }
            "--policies" => {
                let list = args.next().ok_or("--policies needs a list")?;
                policies = list.split(',').map(str::parse).collect::<Result<_, _>>()?;
            }
            _ => files.push(arg.into()),
        }
    }
    if files.is_empty() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/scenarios");
        files = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
        files.sort();
    }
    let shown: Vec<PolicyKind> = PolicyKind::ALL
        .into_iter()
        .filter(|k| policies.contains(k))
        .collect();
    print!("{:<12}", "scenario");
    for k in &shown {
        print!(" {:>15}", k.name());
    }
    println!("   (% of oracle: mean / min over seeds {:?})", seeds);
    for file in &files {
        let scenario = Scenario::load(file)?;
        let mut shares: Vec<Vec<f64>> = vec![Vec::new(); shown.len()];
        for &seed in &seeds {
            let options = SimOptions {
                seed: Some(seed),
                policies: shown.clone(),
                ..SimOptions::default()
            };
            let report = simulate(&scenario, &options, &mut |_, _| {})?;
            for (k, kind) in shown.iter().enumerate() {
                let row = report.policy(*kind).ok_or("missing row")?;
                shares[k].push(100.0 * row.net_profit / report.oracle_net_profit);
            }
        }
        print!("{:<12}", scenario.name);
        for s in &shares {
            let mean = s.iter().sum::<f64>() / s.len() as f64;
            let min = s.iter().copied().fold(f64::INFINITY, f64::min);
            print!(" {:>7.1} /{:>6.1}", mean, min);
        }
        println!();
    }
    Ok(())
}

//! The yardstick: every policy on every scenario over several seeds, as a
//! share of the oracle's net profit (mean and minimum over the seeds).
//!
//! ```text
//! cargo run --release --example yardstick                          # examples/scenarios/*.toml, seeds 1–5
//! cargo run --release --example yardstick -- --seeds 1-10 FILE…    # given scenarios
//! cargo run --release --example yardstick -- --policies tuned,oracle FILE…
//! cargo run --release --example yardstick -- --random 1000-1029   # worlds drawn at random
//! ```
//!
//! With `--random A-B` each world (`Scenario::random(seed)` for seeds A to B)
//! runs on seed 1 only (unless `--seeds` says otherwise), and a summary closes the table: per policy
//! the mean and minimum share of the oracle over the worlds, and how the
//! decision core (`core`) fares against `tuned`.

use kaizen::sim::{PolicyKind, Scenario, SimOptions, simulate};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut seeds: Option<Vec<u64>> = None;
    let mut policies: Vec<PolicyKind> = PolicyKind::ALL.to_vec();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut random: Option<(u64, u64)> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seeds" => {
                let range = args.next().ok_or("--seeds needs A-B")?;
                let (a, b) = range.split_once('-').ok_or("--seeds needs A-B")?;
                seeds = Some((a.parse()?..=b.parse()?).collect());
            }
            "--random" => {
                let range = args.next().ok_or("--random needs A-B")?;
                let (a, b) = range.split_once('-').ok_or("--random needs A-B")?;
                random = Some((a.parse()?, b.parse()?));
            }
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
    let seeds = seeds.unwrap_or_else(|| {
        if random.is_some() {
            vec![1]
        } else {
            (1..=5).collect()
        }
    });
    let shown: Vec<PolicyKind> = PolicyKind::ALL
        .into_iter()
        .filter(|k| policies.contains(k))
        .collect();
    print!("{:<12}", "scenario");
    for k in &shown {
        print!(" {:>15}", k.name());
    }
    println!("   (% of oracle: mean / min over seeds {:?})", seeds);
    let mut all: Vec<Vec<f64>> = vec![Vec::new(); shown.len()];
    for scenario in &scenarios {
        let mut shares: Vec<Vec<f64>> = vec![Vec::new(); shown.len()];
        for &seed in &seeds {
            let options = SimOptions {
                seed: Some(seed),
                policies: shown.clone(),
                ..SimOptions::default()
            };
            let report = simulate(scenario, &options, &mut |_, _| {})?;
            for (k, kind) in shown.iter().enumerate() {
                let row = report.policy(*kind).ok_or("missing row")?;
                shares[k].push(100.0 * row.net_profit / report.oracle_net_profit);
            }
        }
        print!("{:<12}", scenario.name);
        for (k, s) in shares.iter().enumerate() {
            let (mean, min) = summary(s);
            print!(" {:>7.1} /{:>6.1}", mean, min);
            all[k].push(mean);
        }
        println!();
    }
    if scenarios.len() > 1 {
        print!("{:<12}", "all");
        for s in &all {
            let (mean, min) = summary(s);
            print!(" {:>7.1} /{:>6.1}", mean, min);
        }
        println!();
        let at = |k: PolicyKind| shown.iter().position(|x| *x == k);
        if let (Some(c), Some(t)) = (at(PolicyKind::Core), at(PolicyKind::Tuned)) {
            let ratio: Vec<f64> = all[c].iter().zip(&all[t]).map(|(c, t)| c / t).collect();
            let below = all[c].iter().filter(|&&x| x < 90.0).count();
            let behind = ratio.iter().filter(|&&r| r < 0.99).count();
            let (mean, min) = summary(&ratio);
            println!(
                "core / tuned: mean {mean:.3}, min {min:.3}; core under 90% of the oracle in {below} of {}, under 99% of tuned in {behind}",
                ratio.len()
            );
        }
    }
    Ok(())
}

/// The mean and minimum of `values`.
fn summary(values: &[f64]) -> (f64, f64) {
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    (mean, values.iter().copied().fold(f64::INFINITY, f64::min))
}

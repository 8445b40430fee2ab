//! Runs a multi-bot simulation with the library API and prints how the
//! learned policy (the real engines and registry) compares with the fixed
//! baselines and the oracle.
//!
//! ```text
//! cargo run --release --example multi_bot_sim                     # the mixed scenario
//! cargo run --release --example multi_bot_sim -- examples/scenarios/drifting.toml 7
//! ```

use kaizen::sim::{PolicyKind, Scenario, SimOptions, simulate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let scenario = match args.next() {
        Some(path) => Scenario::load(std::path::Path::new(&path))
            .map_err(|e| format!("cannot use scenario file {path}: {e}"))?,
        None => Scenario::from_toml(include_str!("scenarios/mixed.toml"))?,
    };
    let seed = args.next().map(|s| s.parse::<u64>()).transpose()?;
    let options = SimOptions {
        seed,
        ..SimOptions::default()
    };

    let report = simulate(&scenario, &options, &mut |_, _| {})?;
    print!("{}", report.table());

    let learned = report.policy(PolicyKind::Learned).ok_or("no learned row")?;
    let best = report.best_baseline().ok_or("no baseline row")?;
    let share = |r: Option<f64>| r.map_or_else(|| "-".into(), |r| format!("{:.1}%", 100.0 * r));
    println!(
        "\nlearned: {} of the oracle; best baseline ({}): {}",
        share(learned.share_of_oracle),
        best.policy,
        share(best.share_of_oracle)
    );
    println!("per bot (learned):");
    for bot in &learned.bots {
        println!(
            "  {:<10} net {:>10.1}  cycles {:>5}  energy {:>6}  final skill {:.2}",
            bot.name, bot.net_profit, bot.cycles, bot.energy, bot.final_skill
        );
    }
    Ok(())
}

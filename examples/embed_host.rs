//! A bot-orchestration host embedding kaizen: its own pipeline type, its own
//! ledger, three bots, one registry.
//!
//! Run with `cargo run --release --example embed_host`.

use kaizen::decision::Decision;
use kaizen::engine::EngineBuilder;
use kaizen::host::{FixedProbe, HostError, ManualClock, ProfitSource};
use kaizen::pipeline::{AutomationResult, Pipeline, PipelineError, PipelineFuture};
use kaizen::record::CycleAction;
use kaizen::registry::{RegistryConfig, RegistryHandle};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The host's books: cumulative profit per bot.
#[derive(Clone, Default)]
struct Ledger(Arc<Mutex<BTreeMap<String, f64>>>);

impl Ledger {
    fn add(&self, bot: &str, amount: f64) {
        let mut books = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *books.entry(bot.to_string()).or_default() += amount;
    }
}

impl ProfitSource for Ledger {
    fn profit(&self, bot: &str) -> Result<f64, HostError> {
        let books = self.0.lock().map_err(|_| "ledger lock poisoned")?;
        Ok(books.get(bot).copied().unwrap_or(0.0))
    }
}

/// The host's improvement job: "retrain" a bot. Each bot has a quality; a
/// retrain with more energy earns more, minus what the compute cost.
struct Retrain {
    ledger: Ledger,
    quality: BTreeMap<&'static str, f64>,
}

impl Pipeline for Retrain {
    fn run(&self, bot: &str, energy: u32) -> PipelineFuture {
        let Some(&quality) = self.quality.get(bot) else {
            let bot = bot.to_string();
            return Box::pin(
                async move { Err(PipelineError::Failed(format!("unknown bot {bot}"))) },
            );
        };
        let earned = quality * f64::from(energy) - 0.2 * f64::from(energy);
        self.ledger.add(bot, earned);
        let module = format!("{bot}-model");
        Box::pin(async move {
            Ok(AutomationResult {
                modules: vec![module],
                metrics: BTreeMap::from([("synergy_efficiency".to_string(), quality)]),
                ..AutomationResult::default()
            })
        })
    }
}

#[actix::main]
async fn main() -> kaizen::Result<()> {
    let state = std::env::temp_dir().join(format!("kaizen-embed-host-{}", std::process::id()));
    let clock = ManualClock::new(1_800_000_000.0);
    let ledger = Ledger::default();
    let pipeline = Arc::new(Retrain {
        ledger: ledger.clone(),
        quality: BTreeMap::from([("scout", 0.9), ("trader", 0.5), ("scribe", 0.1)]),
    });
    let registry = RegistryHandle::builder(RegistryConfig {
        state_root: Some(state.clone()),
        ..RegistryConfig::default()
    })
    .clock(Arc::new(clock.clone()))
    .probe(FixedProbe::default())
    .start()?;
    let mut decisions = registry.subscribe();
    for bot in ["scout", "trader", "scribe"] {
        let builder = EngineBuilder::with_pipeline(bot, pipeline.clone())
            .profit_source(Arc::new(ledger.clone()))
            .capital_energy();
        registry.register_engine(builder).await?;
    }
    println!("three bots registered; state in {}", state.display());
    for round in 1..=6 {
        clock.advance(600.0);
        let records = registry.run_all_cycles().await?;
        let ran = records
            .values()
            .filter(|r| r.action == CycleAction::Run)
            .count();
        println!(
            "round {round}: {ran} of {} engines ran a cycle",
            records.len()
        );
    }
    while let Ok(d) = decisions.try_recv() {
        if let Decision::Cycle(r) = d
            && let Some(o) = &r.outcome
        {
            println!(
                "  {:<7} cycle {} ({:<8}) energy {:>3}  delta {:+8.3}  reward {:+8.3}",
                r.bot,
                r.cycle,
                r.reason.as_str(),
                r.energy().unwrap_or(0),
                o.delta,
                o.reward
            );
        }
    }
    for e in registry.status().await?.engines {
        if let Some(s) = e.status {
            println!(
                "{:<7} cycles {}  ema {:+.3}  profit {:+.2}",
                e.entry.name,
                s.cycles,
                s.roi_delta_ema,
                ledger.profit(&e.entry.name).unwrap_or(0.0)
            );
        }
    }
    registry.shutdown().await?;
    println!(
        "saved; run `kaizen status --state {}` to look at it",
        state.display()
    );
    Ok(())
}

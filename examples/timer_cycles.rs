//! A registry on a timer with autoscaling: rounds every 100 ms for two
//! seconds; the autoscaler adds engines while energy and the ROI trend are
//! good, then the host turns the machine's load up and it removes them.
//!
//! Run with `cargo run --release --example timer_cycles`.

use kaizen::autoscale::AutoscaleConfig;
use kaizen::decision::Decision;
use kaizen::engine::EngineBuilder;
use kaizen::host::{FixedProbe, HostError, ProfitSource, Resources};
use kaizen::pipeline::{AutomationResult, pipeline_fn};
use kaizen::registry::{RegistryConfig, RegistryHandle};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Every bot's profit grows by one unit per cycle of any bot.
#[derive(Clone, Default)]
struct Growing(Arc<AtomicU64>);

impl ProfitSource for Growing {
    fn profit(&self, _: &str) -> Result<f64, HostError> {
        Ok(self.0.load(Ordering::SeqCst) as f64)
    }
}

#[actix::main]
async fn main() -> kaizen::Result<()> {
    let profit = Growing::default();
    let make = {
        let profit = profit.clone();
        move |name: &str| {
            let counter = profit.0.clone();
            let pipeline = pipeline_fn(move |_: &str, _: u32| {
                counter.fetch_add(1, Ordering::SeqCst);
                async { Ok(AutomationResult::default()) }
            });
            EngineBuilder::new(name, pipeline)
                .interval(Duration::ZERO)
                .profit_source(Arc::new(profit.clone()))
        }
    };
    let probe = FixedProbe::new(Resources {
        cpu: 0.2,
        memory: 0.3,
    });
    let factory = {
        let make = make.clone();
        Arc::new(move |name: &str| Ok(make(name)))
    };
    let registry = RegistryHandle::builder(RegistryConfig::default())
        .probe(probe.clone())
        .factory(factory)
        .start()?;
    registry.register_engine(make("engine0")).await?;
    let mut decisions = registry.subscribe();
    let autoscale = AutoscaleConfig {
        max_engines: 4,
        cooldown_secs: 0.2,
        ..AutoscaleConfig::default()
    };
    registry
        .schedule(Duration::from_millis(100), Some(autoscale))
        .await?;
    let printer = actix::spawn(async move {
        let mut cycles = 0u64;
        while let Ok(d) = decisions.recv().await {
            match d {
                Decision::Cycle(r) if r.outcome.is_some() => cycles += 1,
                Decision::Cycle(_) => {}
                Decision::Autoscale(a) if a.applied => println!(
                    "autoscale {:?} ({} engines before): {}",
                    a.decision.action,
                    a.inputs.engines.len(),
                    a.decision.reason
                ),
                Decision::Autoscale(_) => {}
                Decision::Engine(e) => println!("engine {} {:?}", e.engine, e.kind),
                Decision::Alert(a) => println!("alert {} {:?}: {}", a.alert, a.state, a.message),
                Decision::Variant(v) => println!("variants of {}: {:?}", v.bot, v.event),
            }
        }
        cycles
    });
    actix::clock::sleep(Duration::from_secs(1)).await;
    println!("-- the host reports a busy machine (cpu 0.95) --");
    probe.set(Resources {
        cpu: 0.95,
        memory: 0.3,
    });
    actix::clock::sleep(Duration::from_secs(1)).await;
    let report = registry.status().await?;
    println!(
        "{} engine(s) left, {} timer ticks dropped",
        report.engines.len(),
        report.dropped_ticks
    );
    registry.shutdown().await?;
    // The stream ends when the last sender (the registry, this handle) is gone.
    drop(registry);
    let cycles = printer.await.unwrap_or(0);
    println!("{cycles} cycles ran in 2 s");
    Ok(())
}

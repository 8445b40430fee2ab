//! `kaizen run`: load `engines/*.toml`, run registry rounds on a timer with
//! autoscaling, stop cleanly on Ctrl-C after saving.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::table::Table;
use kaizen::autoscale::AutoscaleConfig;
use kaizen::decision::Decision;
use kaizen::engine::{EngineBuilder, Origin};
use kaizen::persist::{Inspected, inspect_json};
use kaizen::record::{CycleAction, CycleRecord};
use kaizen::registry::{REGISTRY_FILE, RegistryConfig, RegistryFile, RegistryHandle};
use kaizen::spec::{SpecDuration, load_dir};

/// Arguments of `kaizen run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Folder of engine specs, one `*.toml` per bot.
    #[arg(long, default_value = "engines", value_name = "DIR")]
    pub engines: PathBuf,
    /// Folder the engines keep their state in (one sub-folder per bot).
    #[arg(long, default_value = "state", value_name = "DIR")]
    pub state: PathBuf,
    /// Time between rounds: seconds, or "30s", "5m", "1h".
    #[arg(long, default_value = "1m", value_name = "DURATION", value_parser = duration)]
    pub period: Duration,
    /// Run one round of cycles, save, and exit.
    #[arg(long)]
    pub once: bool,
    /// Autoscaling creates engines named engine0, engine1, … as copies of this
    /// bot's spec. Without it, autoscaling only records what it would do.
    #[arg(long, value_name = "BOT")]
    pub template: Option<String>,
    /// Autoscaling never goes below this many engines.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub min_engines: usize,
    /// Autoscaling never goes above this many engines.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub max_engines: usize,
    /// Time after an autoscale change before the next one.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = duration)]
    pub cooldown: Duration,
    /// Print every cycle and autoscale record as a JSON line on stdout.
    #[arg(long)]
    pub json: bool,
}

fn duration(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) => Duration::try_from_secs_f64(secs).map_err(|e| e.to_string()),
        Err(_) => SpecDuration::parse(text).map(|d| d.0),
    }
}

/// Runs `kaizen run`.
pub fn run(args: RunArgs) -> Result<()> {
    // Everything that can be wrong with the specs is found before anything runs.
    let specs = load_dir(&args.engines)?;
    let mut builders = Vec::with_capacity(specs.len());
    for spec in &specs {
        let builder = match kaizen::sim::spec_pipeline(spec)? {
            Some(simulated) => spec.builder_with(simulated),
            None => spec
                .builder()
                .with_context(|| format!("{}", spec.file.display()))?,
        };
        builders.push(builder);
    }
    let template = match &args.template {
        None => None,
        Some(bot) => Some(
            builders
                .iter()
                .find(|b| b.name() == bot)
                .cloned()
                .with_context(|| {
                    format!(
                        "--template {bot:?} is not a bot of {}",
                        args.engines.display()
                    )
                })?,
        ),
    };
    let autoscale = AutoscaleConfig {
        min_engines: args.min_engines,
        max_engines: args.max_engines,
        cooldown_secs: args.cooldown.as_secs_f64(),
        dry_run: template.is_none(),
        ..AutoscaleConfig::default()
    };
    autoscale.validate()?;
    actix::System::new().block_on(serve(args, builders, template, autoscale))
}

async fn serve(
    args: RunArgs,
    builders: Vec<EngineBuilder>,
    template: Option<EngineBuilder>,
    autoscale: AutoscaleConfig,
) -> Result<()> {
    let mut registry = RegistryHandle::builder(RegistryConfig {
        state_root: Some(args.state.clone()),
        autoscale: autoscale.clone(),
        ..RegistryConfig::default()
    });
    let copy = template.map(|template| {
        let origin = Origin::Template(template.name().to_string());
        move |name: &str| {
            template
                .clone()
                .renamed(name)
                .bot(name)
                .origin(origin.clone())
        }
    });
    if let Some(copy) = copy.clone() {
        registry = registry.factory(Arc::new(move |name: &str| Ok(copy(name))));
    }
    // Engines autoscaling created in an earlier run come back as copies of
    // the template (they are not in engines/).
    let earlier = autoscaled_before(&args.state, &builders);
    let builders: Vec<EngineBuilder> = match &copy {
        Some(copy) => builders
            .into_iter()
            .chain(earlier.iter().map(|name| copy(name)))
            .collect(),
        None => {
            for name in &earlier {
                eprintln!(
                    "kaizen: engine {name} was created by autoscaling; give --template to bring it back"
                );
            }
            builders
        }
    };
    let registry = registry.start()?;
    for builder in builders {
        let name = builder.name().to_string();
        registry
            .register_engine(builder)
            .await
            .with_context(|| format!("cannot start engine {name}"))?;
    }
    if args.once {
        let records = registry.run_all_cycles().await?;
        print_round(&records, args.json)?;
        return registry.shutdown().await.context("saving state");
    }
    let mut decisions = registry.subscribe();
    registry.schedule(args.period, Some(autoscale)).await?;
    eprintln!(
        "kaizen: {} engine(s), a round every {:?}; state in {}; Ctrl-C to stop",
        registry.status().await?.engines.len(),
        args.period,
        args.state.display()
    );
    let json = args.json;
    let printer = actix::spawn(async move {
        loop {
            match decisions.recv().await {
                Ok(d) => {
                    if let Err(e) = print_decision(&d, json) {
                        eprintln!("error: {e:#}");
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    eprintln!("kaizen: output fell behind; {n} records not shown");
                }
                Err(_) => return,
            }
        }
    });
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    eprintln!("kaizen: stopping; letting running cycles finish and saving state…");
    let result = registry.shutdown().await.context("saving state");
    printer.abort();
    result
}

/// Engines `registry.json` lists as made by autoscaling (from a template)
/// that no spec describes.
fn autoscaled_before(state: &std::path::Path, specs: &[EngineBuilder]) -> Vec<String> {
    match inspect_json::<RegistryFile>(&state.join(REGISTRY_FILE)) {
        Inspected::Good { value, .. } => value
            .engines
            .into_iter()
            .filter(|e| {
                matches!(e.spec.origin, Some(Origin::Template(_)))
                    && e.failed.is_none()
                    && specs.iter().all(|b| b.name() != e.name)
            })
            .map(|e| e.name)
            .collect(),
        _ => Vec::new(),
    }
}

fn outcome_cells(r: &CycleRecord) -> [String; 4] {
    let energy = r.energy().map(|e| e.to_string()).unwrap_or_default();
    match &r.outcome {
        Some(o) => [
            energy,
            format!("{:+.4}", o.delta),
            if o.ok { "yes" } else { "no" }.into(),
            o.error.clone().unwrap_or_default(),
        ],
        None => [energy, String::new(), String::new(), String::new()],
    }
}

fn print_round(records: &BTreeMap<String, CycleRecord>, json: bool) -> Result<()> {
    if json {
        for r in records.values() {
            println!("{}", serde_json::to_string(&Decision::Cycle(r.clone()))?);
        }
        return Ok(());
    }
    let mut t = Table::new([
        "engine", "action", "reason", "energy", "delta", "ok", "error",
    ]);
    for (name, r) in records {
        let action = match r.action {
            CycleAction::Run => "run",
            CycleAction::Skip => "skip",
        };
        let [energy, delta, ok, error] = outcome_cells(r);
        t.row([
            name.clone(),
            action.into(),
            r.reason.to_string(),
            energy,
            delta,
            ok,
            error,
        ]);
    }
    print!("{}", t.render());
    Ok(())
}

fn print_decision(d: &Decision, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(d)?);
        return Ok(());
    }
    match d {
        Decision::Cycle(r) if r.action == CycleAction::Run => {
            let [energy, delta, ok, error] = outcome_cells(r);
            let error = if error.is_empty() {
                error
            } else {
                format!(" — {error}")
            };
            println!(
                "{} cycle {} ({}): energy {energy}, delta {delta}, ok {ok}{error}",
                r.engine, r.cycle, r.reason
            );
        }
        Decision::Cycle(_) => {}
        Decision::Autoscale(a) => println!(
            "autoscale: {:?}{} — {}",
            a.decision.action,
            if a.applied { "" } else { " (not applied)" },
            a.decision.reason
        ),
        Decision::Engine(e) => println!("engine {}: {:?} — {}", e.engine, e.kind, e.detail),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_accept_seconds_and_units() {
        assert_eq!(duration("2.5").unwrap(), Duration::from_millis(2500));
        assert_eq!(duration("5m").unwrap(), Duration::from_secs(300));
        assert!(duration("soon").is_err());
        assert!(duration("-1").is_err());
    }
}

//! `kaizen status`: engines, their last cycles with reasons, EMA and weights,
//! read from the state folder without changing it.

use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

use super::table::Table;
use kaizen::cycle::inspect_engine;
use kaizen::decision::AutoscaleRecord;
use kaizen::metalog::{CycleEntry, META_FILE, MetaLogger};
use kaizen::persist::{Inspected, inspect_json};
use kaizen::registry::EngineEntry;
use kaizen::registry::{REGISTRY_FILE, RegistryFile};
use kaizen::snapshot::EngineSnapshot;
use kaizen::synergy::{SynergyWeights, inspect_weights};

/// Arguments of `kaizen status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The state folder (as given to `kaizen run --state`).
    #[arg(long, default_value = "state", value_name = "DIR")]
    pub state: PathBuf,
    /// How many recent cycles to show per engine.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub last: usize,
    /// Print the status as one JSON document.
    #[arg(long)]
    pub json: bool,
}

/// One engine's saved state: its snapshot, what could not be read, and its
/// last cycles.
#[derive(Debug, Serialize)]
struct EngineView {
    #[serde(flatten)]
    snapshot: EngineSnapshot,
    problem: Option<String>,
    recent: Vec<CycleEntry>,
}

#[derive(Debug, Serialize)]
struct StatusView {
    state: PathBuf,
    engines: Vec<EngineView>,
    autoscale: Vec<AutoscaleRecord>,
}

/// What could not be read, in words, or the value.
fn good<T>(what: &str, found: Inspected<T>, problems: &mut Vec<String>) -> Option<T> {
    match found {
        Inspected::Good { value, from_backup } => {
            if from_backup {
                problems.push(format!("{what} unusable; showing its backup"));
            }
            Some(value)
        }
        Inspected::Missing => None,
        Inspected::Corrupt(why) => {
            problems.push(format!("{what} corrupt: {why}"));
            None
        }
        Inspected::Newer(v) => {
            problems.push(format!("{what} written by a newer kaizen (version {v})"));
            None
        }
    }
}

/// The view of the engine folder `dir`; `entry` is what `registry.json`
/// says of the engine (its bot and ROI settings), when it says anything.
fn engine_view(dir: &Path, entry: Option<&EngineEntry>, last: usize) -> Option<EngineView> {
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let bot = entry.map_or(name.as_str(), |e| e.bot.as_str());
    let roi = entry.and_then(|e| e.spec.roi).unwrap_or_default();
    let mut problems = Vec::new();
    let saved = good(
        "engine.json",
        inspect_engine(dir, &name, bot, roi),
        &mut problems,
    );
    let meta: Option<MetaLogger> =
        good(META_FILE, inspect_json(&dir.join(META_FILE)), &mut problems);
    let weights: Option<SynergyWeights> = good("synergy.json", inspect_weights(dir), &mut problems);
    if saved.is_none() && meta.is_none() && weights.is_none() && problems.is_empty() {
        return None; // not an engine folder
    }
    let recent = meta
        .map(|m| {
            let skip = m.recent().len().saturating_sub(last);
            m.recent().iter().skip(skip).cloned().collect()
        })
        .unwrap_or_default();
    if saved.is_none() && problems.is_empty() {
        problems.push("no engine.json yet".into());
    }
    let mut snapshot = saved.unwrap_or_else(|| EngineSnapshot {
        engine: name.as_str().into(),
        bot: bot.into(),
        paused: false,
        busy: false,
        cycles: 0,
        failures: 0,
        success_rate: 1.0,
        roi_delta_ema: 0.0,
        short_mean: 0.0,
        trend: 0.0,
        last_run: None,
        last_module: None,
        learner: None,
        weights: Vec::new(),
        last: None,
    });
    snapshot.learner = entry.map(|e| e.spec.learner.clone());
    snapshot.weights = weights
        .map(|w| w.iter().map(|(k, v)| (k.name().to_string(), v)).collect())
        .unwrap_or_default();
    Some(EngineView {
        snapshot,
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
        recent,
    })
}

/// Runs `kaizen status`.
pub fn run(args: StatusArgs) -> Result<()> {
    let entries = std::fs::read_dir(&args.state)
        .with_context(|| format!("cannot read the state folder {}", args.state.display()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut problems = Vec::new();
    let registry: Option<RegistryFile> = good(
        REGISTRY_FILE,
        inspect_json(&args.state.join(REGISTRY_FILE)),
        &mut problems,
    );
    let entry = |dir: &Path| {
        let name = dir.file_name()?.to_string_lossy();
        registry.as_ref()?.engines.iter().find(|e| e.name == name)
    };
    let engines: Vec<EngineView> = dirs
        .iter()
        .filter_map(|d| engine_view(d, entry(d), args.last))
        .collect();
    let view = StatusView {
        state: args.state.clone(),
        engines,
        autoscale: registry.map(|r| r.autoscale).unwrap_or_default(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(());
    }
    print!("{}", render(&view, &problems));
    Ok(())
}

/// Unix seconds as an RFC 3339 UTC time (or the number, if out of range).
fn when(secs: f64) -> String {
    std::time::Duration::try_from_secs_f64(secs)
        .ok()
        .and_then(|d| std::time::UNIX_EPOCH.checked_add(d))
        .map_or_else(
            || format!("{secs:.0}"),
            |t| humantime::format_rfc3339_seconds(t).to_string(),
        )
}

fn render(view: &StatusView, problems: &[String]) -> String {
    let mut out = String::new();
    if view.engines.is_empty() {
        out.push_str(&format!("no engines in {}\n", view.state.display()));
    } else {
        let mut t = Table::new([
            "bot", "cycles", "failed", "success", "ema", "short", "trend", "last run", "weights",
        ]);
        for e in &view.engines {
            let e = &e.snapshot;
            let weights: Vec<String> = e
                .weights
                .iter()
                .map(|(k, w)| format!("{k}={w:.3}"))
                .collect();
            let mut bot = e.bot.to_string();
            if e.paused {
                bot.push_str(" (paused)");
            }
            t.row([
                bot,
                e.cycles.to_string(),
                e.failures.to_string(),
                format!("{:.0}%", 100.0 * e.success_rate),
                format!("{:+.4}", e.roi_delta_ema),
                format!("{:+.4}", e.short_mean),
                format!("{:+.4}", e.trend),
                e.last_run.map_or_else(|| "never".into(), when),
                weights.join(" "),
            ]);
        }
        out.push_str(&t.render());
        for e in &view.engines {
            if let Some(p) = &e.problem {
                out.push_str(&format!("\n{}: {p}\n", e.snapshot.bot));
            }
            if !e.recent.is_empty() {
                out.push_str(&format!("\n{} — last cycles:\n", e.snapshot.bot));
                for c in &e.recent {
                    let modules = if c.modules.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", c.modules.join(", "))
                    };
                    out.push_str(&format!(
                        "  #{} {}: delta {:+.4}{modules}\n",
                        c.cycle, c.reason, c.delta
                    ));
                }
            }
        }
    }
    if let Some(last) = view.autoscale.last() {
        out.push_str(&format!(
            "\nlast autoscale: {:?}{} — {}\n",
            last.decision.action,
            if last.applied { "" } else { " (not applied)" },
            last.decision.reason
        ));
    }
    for p in problems {
        out.push_str(&format!("\nregistry: {p}\n"));
    }
    out
}

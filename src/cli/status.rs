//! `kaizen status`: engines, their last cycles with reasons, EMA and weights,
//! read from the state folder without changing it.

use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

use super::table::Table;
use kaizen::decision::AutoscaleRecord;
use kaizen::engine::{SavedEngine, inspect_engine};
use kaizen::metalog::{CycleEntry, META_FILE, MetaLogger};
use kaizen::persist::{Inspected, inspect_json};
use kaizen::registry::{REGISTRY_FILE, RegistryFile};
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

/// One engine's saved state.
#[derive(Debug, Serialize)]
struct EngineView {
    bot: String,
    problem: Option<String>,
    cycles: u64,
    failures: u64,
    success_rate: f64,
    roi_delta_ema: f64,
    short_mean: f64,
    trend: f64,
    last_run: Option<f64>,
    paused: bool,
    weights: Vec<(String, f64)>,
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

fn engine_view(dir: &Path, last: usize) -> Option<EngineView> {
    let bot = dir.file_name()?.to_string_lossy().into_owned();
    let mut problems = Vec::new();
    let saved: Option<SavedEngine> = good("engine.json", inspect_engine(dir), &mut problems);
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
    let weights = weights
        .map(|w| w.iter().map(|(k, v)| (k.name().to_string(), v)).collect())
        .unwrap_or_default();
    Some(match saved {
        Some(s) => EngineView {
            bot,
            problem: (!problems.is_empty()).then(|| problems.join("; ")),
            cycles: s.cycles,
            failures: s.failures,
            success_rate: s.success_rate,
            roi_delta_ema: s.roi.ema(),
            short_mean: s.roi.short_mean(),
            trend: s.roi.trend(),
            last_run: s.last_run,
            paused: s.paused,
            weights,
            recent,
        },
        None => EngineView {
            bot,
            problem: Some(if problems.is_empty() {
                "no engine.json yet".into()
            } else {
                problems.join("; ")
            }),
            cycles: 0,
            failures: 0,
            success_rate: 1.0,
            roi_delta_ema: 0.0,
            short_mean: 0.0,
            trend: 0.0,
            last_run: None,
            paused: false,
            weights,
            recent,
        },
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
    let engines: Vec<EngineView> = dirs
        .iter()
        .filter_map(|d| engine_view(d, args.last))
        .collect();
    let mut problems = Vec::new();
    let registry: Option<RegistryFile> = good(
        REGISTRY_FILE,
        inspect_json(&args.state.join(REGISTRY_FILE)),
        &mut problems,
    );
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
            let weights: Vec<String> = e
                .weights
                .iter()
                .map(|(k, w)| format!("{k}={w:.3}"))
                .collect();
            let mut bot = e.bot.clone();
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
                out.push_str(&format!("\n{}: {p}\n", e.bot));
            }
            if !e.recent.is_empty() {
                out.push_str(&format!("\n{} — last cycles:\n", e.bot));
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

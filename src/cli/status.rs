//! `kaizen status`: engines, their last cycles with reasons, EMA and weights,
//! read from the state folder without changing it; for a bot that trains,
//! its champion and metrics, its job in the training pool while `kaizen run`
//! lives, and its open alerts.

use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

use super::table::Table;
use kaizen::cycle::{DECIDE_FILE, POLICY_FILE, inspect_engine};
use kaizen::decide::{Decider, Decision};
use kaizen::decision::AutoscaleRecord;
use kaizen::energy::{CapitalEnergy, ENERGY_FILE};
use kaizen::history::{HistoryReader, rfc3339_seconds};
use kaizen::metalog::{CycleEntry, META_FILE, MODULES_FILE, MetaLogger, ModuleIndex};
use kaizen::persist::{Inspected, inspect_json};
use kaizen::policy::SelfImprovementPolicy;
use kaizen::registry::EngineEntry;
use kaizen::registry::{REGISTRY_FILE, RegistryFile, inspect_registry};
use kaizen::runtime::StateLock;
use kaizen::snapshot::EngineSnapshot;
use kaizen::synergy::{SynergyWeights, inspect_dqn, inspect_weights};
use kaizen::training::jobs::PoolJobs;
use kaizen::training::{JobState, TrainingStatus};

/// Arguments of `kaizen status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The state folder (as given to `kaizen run --state`).
    #[arg(long, default_value = "state", value_name = "DIR")]
    pub state: PathBuf,
    /// How many recent ticks to show per engine (runs and skips, from the
    /// cycle history; meta.json's last 20 cycles when there is no history).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub last: usize,
    /// Print the status as one JSON document.
    #[arg(long)]
    pub json: bool,
}

/// One engine's saved state: its snapshot, what could not be read, and its
/// last cycles.
#[derive(Debug, Serialize)]
pub(super) struct EngineView {
    #[serde(flatten)]
    pub snapshot: EngineSnapshot,
    pub problem: Option<String>,
    pub recent: Vec<Recent>,
    /// The last learned decision among the recent ticks (learned mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

/// One recent cycle: from the history (with its time), or from meta.json.
#[derive(Debug, Serialize)]
pub(super) struct Recent {
    pub cycle: u64,
    /// When it ran (RFC 3339), when the history says.
    pub time: Option<String>,
    pub reason: String,
    pub delta: f64,
    pub ok: Option<bool>,
    pub modules: Vec<String>,
}

impl From<&CycleEntry> for Recent {
    fn from(c: &CycleEntry) -> Self {
        Recent {
            cycle: c.cycle,
            time: None,
            reason: c.reason.to_string(),
            delta: c.delta,
            ok: None,
            modules: c.modules.clone(),
        }
    }
}

/// The last `n` ticks (runs and skips) of `bot` in the history of `state`,
/// oldest first, and the last learned decision among them; `None` when the
/// history holds none.
fn recent_from_history(
    state: &Path,
    bot: &str,
    n: usize,
) -> Option<(Vec<Recent>, Option<Decision>)> {
    let cycles = HistoryReader::new(state).last_cycles(bot, n).ok()?;
    if cycles.is_empty() {
        return None;
    }
    let decision = cycles.iter().rev().find_map(|r| r.decision.clone());
    let recent = cycles
        .iter()
        .map(|r| Recent {
            cycle: r.cycle,
            time: Some(rfc3339_seconds(r.time)),
            reason: match r.outcome {
                Some(_) => r.reason.to_string(),
                None => format!("skipped ({})", r.reason),
            },
            delta: r.outcome.as_ref().map_or(0.0, |o| o.delta),
            ok: r.outcome.as_ref().map(|o| o.ok),
            modules: r
                .outcome
                .as_ref()
                .map_or_else(Vec::new, |o| o.modules.clone()),
        })
        .collect();
    Some((recent, decision))
}

/// The last decision: each option's expected value, and what was chosen.
fn render_decision(bot: &str, d: &Decision) -> String {
    let options: Vec<String> = d
        .options
        .iter()
        .map(|o| format!("{}: {:+.4}", o.energy, o.value))
        .collect();
    let why = serde_json::to_value(&d.why)
        .ok()
        .and_then(|v| v["kind"].as_str().map(str::to_string))
        .unwrap_or_default();
    format!(
        "\n{bot} — last decision: energy {} ({why}, p = {:.3}); expected value by energy: {}\n",
        d.energy,
        d.propensity,
        options.join(", ")
    )
}

#[derive(Debug, Serialize)]
struct StatusView {
    state: PathBuf,
    engines: Vec<EngineView>,
    autoscale: Vec<AutoscaleRecord>,
    /// Saves in the folder's write-ahead log that are not in its files yet
    /// (a run ended without its last flush); `None` when there are none or
    /// a running kaizen holds the folder (its files are current).
    pending_log: Option<PendingLog>,
}

/// What a crashed run left in the write-ahead log. `status` only looks:
/// the next process that opens the folder (`kaizen run`) replays it before
/// it reads anything, and the figures shown here are from before it.
#[derive(Debug, Serialize)]
struct PendingLog {
    /// File saves in whole logged batches.
    saves: u64,
    /// The files they are of.
    files: usize,
}

/// The write-ahead log's saves waiting for a replay, unless a process
/// holds the folder.
fn pending_log(state: &Path, problems: &mut Vec<String>) -> Option<PendingLog> {
    if StateLock::held(state) {
        return None;
    }
    match kaizen::persist::wal::pending(state) {
        Ok(found) => found.map(|l| PendingLog {
            saves: l.entries,
            files: l.files.len(),
        }),
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    }
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
/// says of the engine (its bot and ROI settings), when it says anything;
/// `jobs` the training jobs of a live `kaizen run`.
pub(super) fn engine_view(
    dir: &Path,
    entry: Option<&EngineEntry>,
    last: usize,
    jobs: Option<&PoolJobs>,
) -> Option<EngineView> {
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
    // The learning files: only whether they can be read (status shows
    // nothing else of them).
    good(
        POLICY_FILE,
        SelfImprovementPolicy::inspect(&dir.join(POLICY_FILE)),
        &mut problems,
    );
    good(
        MODULES_FILE,
        ModuleIndex::inspect(&dir.join(MODULES_FILE)),
        &mut problems,
    );
    good(
        ENERGY_FILE,
        CapitalEnergy::inspect(&dir.join(ENERGY_FILE)),
        &mut problems,
    );
    // The DQN's checkpoint and journal, for the key set of its weights
    // (each set tried when synergy.json cannot be read).
    let dqn = inspect_dqn(dir, weights.as_ref().map(SynergyWeights::keys));
    problems.extend(dqn.problem());
    good::<Decider>(
        DECIDE_FILE,
        inspect_json(&dir.join(DECIDE_FILE)),
        &mut problems,
    );
    if saved.is_none() && meta.is_none() && weights.is_none() && problems.is_empty() {
        return None; // not an engine folder
    }
    let state = dir.parent().unwrap_or(Path::new("."));
    let (recent, decision) = recent_from_history(state, bot, last).unwrap_or_else(|| {
        let recent = meta
            .map(|m| {
                let skip = m.recent().len().saturating_sub(last);
                m.recent().iter().skip(skip).map(Recent::from).collect()
            })
            .unwrap_or_default();
        (recent, None)
    });
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
        training: None,
    });
    snapshot.learner = entry.map(|e| e.spec.learner.clone());
    snapshot.training = match TrainingStatus::inspect(bot, dir) {
        Ok(t) => t.map(|t| TrainingStatus {
            job: jobs.and_then(|j| j.job(bot)).cloned(),
            ..t
        }),
        Err(e) => {
            problems.push(format!("models: {e}"));
            None
        }
    };
    snapshot.weights = weights
        .map(|w| w.iter().map(|(k, v)| (k.name().to_string(), v)).collect())
        .unwrap_or_default();
    Some(EngineView {
        snapshot,
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
        recent,
        decision,
    })
}

/// The engines `registry.json` lists, and what could not be read of it.
pub(super) fn registry_entries(state: &Path) -> (Vec<EngineEntry>, Vec<String>) {
    let mut problems = Vec::new();
    let registry: Option<RegistryFile> =
        good(REGISTRY_FILE, inspect_registry(state), &mut problems);
    (registry.map(|r| r.engines).unwrap_or_default(), problems)
}

/// Runs `kaizen status`.
pub fn run(args: StatusArgs) -> Result<()> {
    let entries = std::fs::read_dir(&args.state)
        .with_context(|| format!("cannot read the state folder {}", args.state.display()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        // Bots' folders only: `.kaizen/` holds kaizen's own files.
        .filter(|p| {
            p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."))
        })
        .collect();
    dirs.sort();
    let mut problems = Vec::new();
    let registry: Option<RegistryFile> =
        good(REGISTRY_FILE, inspect_registry(&args.state), &mut problems);
    let entry = |dir: &Path| {
        let name = dir.file_name()?.to_string_lossy();
        registry.as_ref()?.engines.iter().find(|e| e.name == name)
    };
    let jobs = live_jobs(&args.state);
    let engines: Vec<EngineView> = dirs
        .iter()
        .filter_map(|d| engine_view(d, entry(d), args.last, jobs.as_ref()))
        .collect();
    let view = StatusView {
        state: args.state.clone(),
        pending_log: pending_log(&args.state, &mut problems),
        engines,
        autoscale: registry.map(|r| r.autoscale).unwrap_or_default(),
    };
    if args.json {
        let view = kaizen::present::with_rfc3339_times(&view);
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(());
    }
    print!("{}", render(&view, &problems));
    Ok(())
}

/// A bot's training: the champion and its metrics, the check under way,
/// the buffer, its job in the pool, its open alerts.
fn render_training(bot: &str, t: &TrainingStatus) -> String {
    let mut out = format!("\n{bot} — models:\n");
    match &t.champion {
        Some(c) => {
            let metrics: Vec<String> = ["holdout_loss", "improvement", "p_value", "accuracy"]
                .iter()
                .filter_map(|k| c.metrics.get(*k).map(|v| format!("{k} {v:.4}")))
                .collect();
            out.push_str(&format!(
                "  champion {} (saved {}): {}\n",
                c.version,
                rfc3339_seconds(c.created),
                metrics.join(", ")
            ));
        }
        None => out.push_str("  no champion yet\n"),
    }
    if let Some(m) = &t.last_move {
        out.push_str(&format!(
            "  last move: {} {} at {} — {}\n",
            m.action,
            m.to.map_or_else(|| "none".to_string(), |v| v.to_string()),
            rfc3339_seconds(m.at),
            m.reason
        ));
    }
    if let Some(c) = &t.check {
        out.push_str(&format!(
            "  post-deploy check of {} against {}: {} of {} live samples\n",
            c.version, c.against, c.samples, c.window
        ));
    }
    out.push_str(&format!(
        "  {} versions kept; {} trainings, {} deployed; {} samples buffered\n",
        t.versions, t.counters.trainings, t.counters.deployments, t.buffered
    ));
    if let Some(j) = &t.job {
        let state = match j.state {
            JobState::Running => "training now".to_string(),
            JobState::Waiting { position } => {
                format!("waiting for a training slot (#{position} in line)")
            }
        };
        out.push_str(&format!("  job: {state}, priority {}\n", j.priority));
    }
    for a in &t.alerts {
        out.push_str(&format!(
            "  alert {} since {} ({} runs): {}\n",
            a.kind,
            rfc3339_seconds(a.record.since),
            a.record.runs,
            a.record.message
        ));
    }
    out
}

/// The training jobs of a `kaizen run` that is still running on `state`.
pub(super) fn live_jobs(state: &Path) -> Option<PoolJobs> {
    match PoolJobs::inspect(state) {
        Inspected::Good { value, .. } if value.is_live() => Some(value),
        _ => None,
    }
}

fn render(view: &StatusView, problems: &[String]) -> String {
    let mut out = String::new();
    if let Some(log) = &view.pending_log {
        out.push_str(&format!(
            "the write-ahead log holds {} saves of {} files not yet in them (the last run ended without its final flush); the figures below are from before them, and the next `kaizen run` replays them first\n",
            log.saves, log.files
        ));
    }
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
                e.last_run.map_or_else(|| "never".into(), rfc3339_seconds),
                weights.join(" "),
            ]);
        }
        out.push_str(&t.render());
        for e in &view.engines {
            if let Some(p) = &e.problem {
                out.push_str(&format!("\n{}: {p}\n", e.snapshot.bot));
            }
            if let Some(t) = &e.snapshot.training {
                out.push_str(&render_training(&e.snapshot.bot, t));
            }
            if !e.recent.is_empty() {
                out.push_str(&format!("\n{} — last cycles:\n", e.snapshot.bot));
                for c in &e.recent {
                    let modules = if c.modules.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", c.modules.join(", "))
                    };
                    let when = c
                        .time
                        .as_ref()
                        .map_or(String::new(), |t| format!(" at {t}"));
                    let failed = if c.ok == Some(false) { " FAILED" } else { "" };
                    out.push_str(&format!(
                        "  #{}{when} {}: delta {:+.4}{failed}{modules}\n",
                        c.cycle, c.reason, c.delta
                    ));
                }
            }
            if let Some(d) = &e.decision {
                out.push_str(&render_decision(&e.snapshot.bot, d));
            }
        }
    }
    if let Some(last) = view.autoscale.last() {
        out.push_str(&format!(
            "\nlast autoscale: {}{} — {}\n",
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

//! `kaizen describe --bot B`: one bot's engine on one screen, as `kubectl
//! describe` shows an object — its settings, its status, its conditions,
//! its model, and the last events (cycles, failures, alerts, restarts,
//! operators' actions), read from the state folder and the history.

use anyhow::Result;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use super::history::{audit_of, describe_decision};
use super::status::{engine_view, live_jobs, registry_entries};
use kaizen::alert::{AlertEvent, AlertState};
use kaizen::conditions::engine_conditions;
use kaizen::decision::Decision;
use kaizen::history::{HistoryReader, Query, rfc3339};
use kaizen::record::CycleAction;

/// Arguments of `kaizen describe`.
#[derive(Debug, clap::Args)]
pub struct DescribeArgs {
    /// The bot.
    #[arg(long, value_name = "NAME")]
    pub bot: String,
    /// The state folder (as given to `kaizen run --state`).
    #[arg(long, default_value = "state", value_name = "DIR")]
    pub state: PathBuf,
    /// How many events to show.
    #[arg(long, default_value_t = 15, value_name = "N")]
    pub events: usize,
}

/// The alerts whose last event in `records` says firing.
fn firing(records: &[Decision]) -> Vec<AlertEvent> {
    let mut last: BTreeMap<_, &AlertEvent> = BTreeMap::new();
    for d in records {
        if let Decision::Alert(a) = d {
            last.insert((a.alert, a.bot.clone()), a);
        }
    }
    last.into_values()
        .filter(|a| a.state == AlertState::Firing)
        .cloned()
        .collect()
}

/// Runs `kaizen describe`.
pub fn run(args: DescribeArgs) -> Result<()> {
    kaizen::engine::validate_name("bot", &args.bot)?;
    let (entries, _) = registry_entries(&args.state);
    let entry = entries
        .iter()
        .find(|e| e.bot == args.bot)
        .or_else(|| entries.iter().find(|e| e.name == args.bot));
    let engine = entry.map_or(args.bot.as_str(), |e| e.name.as_str());
    let dir = args.state.join(engine);
    let Some(view) = engine_view(&dir, entry, 0, live_jobs(&args.state).as_ref()) else {
        anyhow::bail!(
            "no engine for bot {:?} in {}",
            args.bot,
            args.state.display()
        );
    };
    // The last events, and enough of the log to know which alerts fire.
    let reader = HistoryReader::new(&args.state);
    let recent = reader.last(&args.bot, 2000)?;
    let events: Vec<&Decision> = recent
        .iter()
        .filter(|d| !matches!(d, Decision::Cycle(r) if r.action == CycleAction::Skip))
        .collect();
    let firing = firing(&recent);
    let since = recent.first().map(Decision::time);
    let audit = audit_of(&args.state, Some(&args.bot), &Query::between(since, None))?;
    let s = &view.snapshot;
    let mut out = String::new();
    let _ = writeln!(out, "Name:          {}", args.bot);
    let _ = writeln!(out, "Engine:        {engine}");
    let _ = writeln!(out, "State folder:  {}", dir.display());
    if let Some(e) = entry {
        let spec = &e.spec;
        let _ = writeln!(out, "Settings:");
        let _ = writeln!(out, "  Origin:            {:?}", spec.origin);
        let _ = writeln!(out, "  Learner:           {}", spec.learner);
        let _ = writeln!(out, "  Interval:          {} s", spec.interval_secs);
        let _ = writeln!(out, "  Energy threshold:  {}", spec.energy_threshold);
        let _ = writeln!(out, "  Pipeline timeout:  {} s", spec.timeout_secs);
        let _ = writeln!(out, "  Persistence:       {}", spec.persistence);
        if let Some(f) = &e.failed {
            let _ = writeln!(out, "  Failed:            {f}");
        }
    }
    let _ = writeln!(out, "Status:");
    let _ = writeln!(out, "  Paused:            {}", s.paused);
    let _ = writeln!(
        out,
        "  Cycles:            {} ({} failed, {:.0}% of the last 50 succeeded)",
        s.cycles,
        s.failures,
        100.0 * s.success_rate
    );
    let _ = writeln!(out, "  ROI delta EMA:     {:+.4}", s.roi_delta_ema);
    let _ = writeln!(out, "  Short mean:        {:+.4}", s.short_mean);
    let _ = writeln!(out, "  Long-term trend:   {:+.4}", s.trend);
    let _ = writeln!(
        out,
        "  Last run:          {}",
        s.last_run.map_or_else(|| "never".into(), rfc3339)
    );
    if let Some(p) = &view.problem {
        let _ = writeln!(out, "  Problem:           {p}");
    }
    let _ = writeln!(out, "Conditions:");
    let _ = writeln!(
        out,
        "  {:<10} {:<7} {:<18} Message",
        "Type", "Status", "Reason"
    );
    for c in engine_conditions(s, entry.and_then(|e| e.failed.as_deref()), &firing) {
        let _ = writeln!(
            out,
            "  {:<10} {:<7} {:<18} {}",
            c.kind,
            if c.status { "True" } else { "False" },
            c.reason,
            c.message
        );
    }
    let bot_dir = args.state.join(&args.bot);
    if bot_dir.join(kaizen::models::MODELS_DIR).is_dir() {
        match kaizen::models::Catalog::read(&bot_dir) {
            Ok(c) => {
                let _ = writeln!(
                    out,
                    "Model:         champion {} of {} versions",
                    c.champion().map_or("none".into(), |v| v.to_string()),
                    c.versions().count()
                );
            }
            Err(e) => {
                let _ = writeln!(out, "Model:         unreadable: {e}");
            }
        }
    }
    let mut lines: Vec<(f64, String)> = events
        .iter()
        .map(|d| {
            let (t, kind, what, detail) = describe_decision(d);
            (t, format!("{kind:<9} {what:<24} {detail}"))
        })
        .collect();
    lines.extend(audit.iter().map(|a| {
        (
            a.time,
            format!(
                "{:<9} {:<24} by {}{}",
                "audit",
                a.action,
                a.who,
                a.error
                    .as_ref()
                    .map_or(String::new(), |e| format!(" FAILED: {e}"))
            ),
        )
    }));
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let skip = lines.len().saturating_sub(args.events);
    let _ = writeln!(out, "Events:");
    if lines.is_empty() {
        let _ = writeln!(out, "  <none in the history>");
    }
    for (t, line) in lines.into_iter().skip(skip) {
        let _ = writeln!(out, "  {}  {line}", rfc3339(t));
    }
    print!("{out}");
    Ok(())
}

//! How `kaizen run` shows records: a table for `--once`, a line per cycle
//! on a timer, or JSON lines with `--json`.

use anyhow::Result;
use std::collections::BTreeMap;

use crate::cli::table::Table;
use kaizen::decision::Decision;
use kaizen::record::{CycleAction, CycleRecord};

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

pub(super) fn print_round(records: &BTreeMap<String, CycleRecord>, json: bool) -> Result<()> {
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

pub(super) fn print_decision(d: &Decision, json: bool) -> Result<()> {
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
            "autoscale: {}{} — {}",
            a.decision.action,
            if a.applied { "" } else { " (not applied)" },
            a.decision.reason
        ),
        Decision::Engine(e) => println!("engine {} {} — {}", e.engine, e.kind, e.detail),
        Decision::Variant(v) => println!(
            "variants of {}: {} — {}",
            v.bot,
            kaizen::variants::event_name(&v.event),
            serde_json::to_string(&v.event)?
        ),
        Decision::Alert(a) => println!(
            "alert {} {:?}{}: {}",
            a.alert,
            a.state,
            a.bot
                .as_deref()
                .map_or(String::new(), |b| format!(" ({b})")),
            a.message
        ),
    }
    Ok(())
}

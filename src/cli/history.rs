//! `kaizen history --bot B [--since T] [--until T] [--json]`: a bot's cycle
//! history and the audit trail's actions on it, merged by time, read from
//! the state folder (also while `kaizen run` writes it).

use anyhow::{Context, Result, bail};
use serde_json::json;
use std::path::{Path, PathBuf};

use super::table::Table;
use kaizen::decision::Decision;
use kaizen::history::{
    AuditEntry, AuditTrail, FLEET, HistoryReader, LogConfig, Query, parse_rfc3339, rfc3339,
};
use kaizen::host::{Clock, SystemClock};
use kaizen::present::with_rfc3339_times;
use kaizen::record::CycleAction;
use kaizen::spec::SpecDuration;

/// Arguments of `kaizen history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The bot (".fleet" for autoscale steps and fleet-wide alerts).
    #[arg(long, value_name = "NAME")]
    pub bot: String,
    /// The state folder (as given to `kaizen run --state`).
    #[arg(long, default_value = "state", value_name = "DIR")]
    pub state: PathBuf,
    /// From this time: RFC 3339 (2026-01-02T03:04:05Z), Unix seconds, or a
    /// duration before now ("30m", "2h", "7d"). Default: 1 day ago.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Up to this time (same forms). Default: now.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Show skipped ticks too (by default only cycles, engine events and alerts).
    #[arg(long)]
    pub skips: bool,
    /// At most this many records (the earliest of the range).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub limit: usize,
    /// Print one JSON document (times in RFC 3339).
    #[arg(long)]
    pub json: bool,
}

/// A time on the command line: RFC 3339, Unix seconds, or a duration before `now`.
pub fn time_arg(what: &str, text: &str, now: f64) -> Result<f64> {
    if let Ok(t) = text.parse::<f64>()
        && t.is_finite()
    {
        return Ok(t);
    }
    if let Ok(t) = parse_rfc3339(text) {
        return Ok(t);
    }
    match SpecDuration::parse(text) {
        Ok(d) => Ok(now - d.0.as_secs_f64()),
        Err(_) => bail!(
            "{what} {text:?} is not a time: give RFC 3339 (2026-01-02T03:04:05Z), Unix seconds, or a duration before now (\"2h\")"
        ),
    }
}

/// `--since`/`--until` as a query; `default_since` when `--since` is not given.
pub fn range(
    since: Option<&str>,
    until: Option<&str>,
    default_since: f64,
    now: f64,
) -> Result<Query> {
    let since = match since {
        Some(t) => time_arg("--since", t, now)?,
        None => default_since,
    };
    let until = until.map(|t| time_arg("--until", t, now)).transpose()?;
    let q = Query::between(Some(since), until);
    q.validate().context("the time range")?;
    Ok(q)
}

/// The audit entries on `bot` in `query`'s range.
pub fn audit_of(state: &Path, bot: Option<&str>, query: &Query) -> Result<Vec<AuditEntry>> {
    let trail = AuditTrail::open(state, LogConfig::audit(), std::sync::Arc::new(SystemClock))?;
    Ok(trail.range(bot, query)?)
}

/// Runs `kaizen history`.
pub fn run(args: HistoryArgs) -> Result<()> {
    if args.bot != FLEET {
        kaizen::engine::validate_name("bot", &args.bot)?;
    }
    let now = SystemClock.now();
    let query = range(
        args.since.as_deref(),
        args.until.as_deref(),
        now - 86_400.0,
        now,
    )?;
    let reader = HistoryReader::new(&args.state);
    let mut records = reader
        .range(&args.bot, &query.with_limit(args.limit))
        .with_context(|| format!("cannot read the history of {}", args.bot))?;
    if !args.skips {
        records.retain(|d| !matches!(d, Decision::Cycle(r) if r.action == CycleAction::Skip));
    }
    let audit = if args.bot == FLEET {
        audit_of(&args.state, None, &query)?
            .into_iter()
            .filter(|a| a.bot.is_none())
            .collect()
    } else {
        audit_of(&args.state, Some(&args.bot), &query)?
    };
    if args.json {
        let doc = json!({
            "bot": args.bot,
            "since": query.since,
            "until": query.until,
            "records": records,
            "audit": audit,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&with_rfc3339_times(&doc))?
        );
        return Ok(());
    }
    print!("{}", render(&args.bot, &records, &audit, &query));
    Ok(())
}

/// One line of the human view: (time, kind, what, detail).
pub fn describe_decision(d: &Decision) -> (f64, &'static str, String, String) {
    match d {
        Decision::Cycle(r) => {
            let what = match r.action {
                CycleAction::Run => format!("run ({})", r.reason),
                CycleAction::Skip => format!("skip ({})", r.reason),
            };
            let detail = match &r.outcome {
                Some(o) => format!(
                    "cycle {} energy {} delta {:+.4}{}",
                    r.cycle,
                    r.energy().unwrap_or(0),
                    o.delta,
                    match &o.error {
                        Some(e) => format!(" FAILED: {e}"),
                        None => String::new(),
                    }
                ),
                None => r
                    .energy_score
                    .map_or(String::new(), |s| format!("energy score {s:.3}")),
            };
            (r.time, "cycle", what, detail)
        }
        Decision::Autoscale(a) => (
            a.time,
            "autoscale",
            format!(
                "{:?}{}",
                a.decision.action,
                if a.applied { "" } else { " (not applied)" }
            ),
            a.decision.reason.clone(),
        ),
        Decision::Engine(e) => (e.time, "engine", format!("{:?}", e.kind), e.detail.clone()),
        Decision::Variant(v) => (
            v.time,
            "variant",
            kaizen::variants::event_name(&v.event).to_string(),
            serde_json::to_string(&v.event).unwrap_or_default(),
        ),
        Decision::Alert(a) => (
            a.time,
            "alert",
            format!("{} {:?}", a.alert, a.state),
            a.message.clone(),
        ),
    }
}

fn render(bot: &str, records: &[Decision], audit: &[AuditEntry], query: &Query) -> String {
    let mut rows: Vec<(f64, [String; 4])> = records
        .iter()
        .map(|d| {
            let (t, kind, what, detail) = describe_decision(d);
            (t, [rfc3339(t), kind.into(), what, detail])
        })
        .collect();
    rows.extend(audit.iter().map(|a| {
        let what = match &a.error {
            Some(_) => format!("{} (failed)", a.action),
            None => a.action.clone(),
        };
        let detail = [
            Some(format!("by {}", a.who)),
            (!a.detail.is_empty()).then(|| a.detail.clone()),
            a.error.clone(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ");
        (a.time, [rfc3339(a.time), "audit".into(), what, detail])
    }));
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let span = format!(
        "{} … {}",
        query.since.map_or("the start".into(), rfc3339),
        query.until.map_or("now".into(), rfc3339)
    );
    if rows.is_empty() {
        return format!("no history for {bot} from {span}\n");
    }
    let mut t = Table::new(["time", "kind", "what", "detail"]);
    for (_, cells) in rows {
        t.row(cells);
    }
    format!("{bot}, {span}:\n{}", t.render())
}

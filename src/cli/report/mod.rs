//! `kaizen report --state DIR --out FILE [--since T] [--until T]`: the
//! fleet over a period, from the history and the state folder — per bot
//! the ROI delta, its EMA, energy and profit over time, cycle and failure
//! counts, the best and worst modules of the period, the diminishing ones,
//! the model versions, the variants and their A/B test (each test's state,
//! evidence and the uplift's confidence sequence, and the period's variant
//! events: verdicts, promotions, PBT copies), and the alerts of the period — as a self-contained
//! HTML page (inline SVG charts, opens offline) or, for `.md`, Markdown.

mod html;
mod markdown;
mod svg;

use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::history::{audit_of, range};
use kaizen::alert::AlertEvent;
use kaizen::decision::{AutoscaleRecord, Decision};
use kaizen::history::{AuditEntry, FLEET, HistoryReader, Query};
use kaizen::host::{Clock, SystemClock};
use kaizen::metalog::{META_FILE, MetaLogger};
use kaizen::models::{Catalog, MODELS_DIR};
use kaizen::persist::{Inspected, inspect_json};
use kaizen::record::CycleAction;
use kaizen::stats::AbStatus;
use kaizen::variants::{Variants, event_name};

/// Arguments of `kaizen report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The state folder (as given to `kaizen run --state`).
    #[arg(long, default_value = "state", value_name = "DIR")]
    pub state: PathBuf,
    /// Where to write: `.md` writes Markdown, anything else self-contained HTML.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// From this time: RFC 3339, Unix seconds, or a duration before now ("7d"). Default: 7 days ago.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Up to this time (same forms). Default: now.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

/// One run cycle, as the charts draw it.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    pub time: f64,
    pub delta: f64,
    pub ema: f64,
    pub energy: f64,
    pub profit: Option<f64>,
}

/// A version of a bot's model.
#[derive(Debug)]
pub struct Version {
    pub id: String,
    pub status: String,
    pub created: f64,
    pub champion: bool,
    pub metrics: String,
}

/// One bot over the period.
#[derive(Debug, Default)]
pub struct BotReport {
    pub bot: String,
    pub points: Vec<Point>,
    pub cycles: u64,
    pub failures: u64,
    pub skips: u64,
    /// The last failures: (time, error).
    pub failed: Vec<(f64, String)>,
    /// Each module's summed ROI delta over the period, best first.
    pub modules: Vec<(String, f64)>,
    /// Modules meta.json flags as giving diminishing returns.
    pub diminishing: Vec<String>,
    pub versions: Vec<Version>,
    pub alerts: Vec<AlertEvent>,
    pub restarts: u64,
    pub variants: Option<VariantsReport>,
}

/// A bot's variants: the serving one, its running A/B test, and the
/// period's variant events from the history.
#[derive(Debug, Default)]
pub struct VariantsReport {
    /// Serving variant, members, generation, promotions (from `variants.json`).
    pub state: Option<(u64, usize, u64, u64)>,
    /// The running test: its challenger and its status at the report's time.
    pub test: Option<(u64, AbStatus)>,
    /// The period's events: (time, name, the event's JSON).
    pub events: Vec<(f64, String, String)>,
}

impl VariantsReport {
    /// The A/B test's table: its head and one row.
    pub fn test_table(&self) -> ([&'static str; 7], Vec<Vec<String>>) {
        let head = [
            "challenger",
            "outcomes (serving+challenger)",
            "evidence / threshold",
            "uplift",
            "confidence sequence",
            "state",
            "hold reason",
        ];
        let rows = self
            .test
            .iter()
            .map(|(challenger, s)| {
                vec![
                    challenger.to_string(),
                    format!("{}+{}", s.serving_outcomes, s.challenger_outcomes),
                    format!("{:.3} / {:.1}", s.evidence, s.threshold),
                    s.uplift.map_or("-".into(), |u| format!("{u:+.4}")),
                    format!(
                        "[{:.4}, {:.4}]",
                        s.confidence_sequence[0], s.confidence_sequence[1]
                    ),
                    format!("{:?}", s.decision).to_lowercase(),
                    s.reason
                        .map_or("-".into(), |r| format!("{r:?}").to_lowercase()),
                ]
            })
            .collect();
        (head, rows)
    }

    /// One line of its state, in words.
    pub fn summary(&self) -> String {
        match self.state {
            Some((serving, members, generation, promotions)) => format!(
                "variant {serving} serves; {members} members, generation {generation}, {promotions} promotions; {}",
                if self.test.is_some() {
                    "a test runs"
                } else {
                    "no test runs"
                }
            ),
            None => "no variants.json".into(),
        }
    }
}

/// The whole report.
#[derive(Debug)]
pub struct Report {
    pub state: PathBuf,
    pub since: f64,
    pub until: f64,
    pub generated: f64,
    pub bots: Vec<BotReport>,
    pub fleet_alerts: Vec<AlertEvent>,
    pub autoscale: Vec<AutoscaleRecord>,
    pub audit: Vec<AuditEntry>,
}

/// Runs `kaizen report`.
pub fn run(args: ReportArgs) -> Result<()> {
    let now = SystemClock.now();
    let query = range(
        args.since.as_deref(),
        args.until.as_deref(),
        now - 7.0 * 86_400.0,
        now,
    )?;
    anyhow::ensure!(
        args.state.is_dir(),
        "the state folder {} does not exist",
        args.state.display()
    );
    let report = gather(&args.state, &query, now)?;
    let text = match args.out.extension().and_then(|e| e.to_str()) {
        Some("md") => markdown::render(&report),
        _ => html::render(&report),
    };
    std::fs::write(&args.out, text)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "kaizen: report of {} bots written to {}",
        report.bots.len(),
        args.out.display()
    );
    Ok(())
}

/// The bots of the state folder: those with a history, and the engine folders.
fn bots(state: &Path, reader: &HistoryReader) -> Result<BTreeSet<String>> {
    let mut bots: BTreeSet<String> = reader.bots()?.into_iter().filter(|b| b != FLEET).collect();
    let (entries, _) = super::status::registry_entries(state);
    bots.extend(entries.into_iter().map(|e| e.bot));
    Ok(bots)
}

fn gather(state: &Path, query: &Query, now: f64) -> Result<Report> {
    let reader = HistoryReader::new(state);
    let mut report = Report {
        state: state.to_path_buf(),
        since: query.since.unwrap_or(0.0),
        until: query.until.unwrap_or(now),
        generated: now,
        bots: Vec::new(),
        fleet_alerts: Vec::new(),
        autoscale: Vec::new(),
        audit: audit_of(state, None, query)?,
    };
    for d in reader.range(FLEET, query)? {
        match d {
            Decision::Alert(a) => report.fleet_alerts.push(a),
            Decision::Autoscale(a) => report.autoscale.push(a),
            _ => {}
        }
    }
    for bot in bots(state, &reader)? {
        let records = reader
            .range(&bot, query)
            .with_context(|| format!("cannot read the history of {bot}"))?;
        report.bots.push(bot_report(state, &bot, &records, now));
    }
    Ok(report)
}

/// The variants section of `bot`: `None` for a bot without variants.
fn variants_report(
    state: &Path,
    bot: &str,
    events: Vec<(f64, String, String)>,
    now: f64,
) -> Option<VariantsReport> {
    let saved = match inspect_json::<Variants>(&state.join(bot).join("variants.json")) {
        Inspected::Good { value, .. } => Some(value),
        _ => None,
    };
    if saved.is_none() && events.is_empty() {
        return None;
    }
    Some(VariantsReport {
        state: saved.as_ref().map(|v| {
            (
                v.serving(),
                v.population().members().len(),
                v.population().generation(),
                v.promotions(),
            )
        }),
        test: saved
            .as_ref()
            .and_then(|v| v.test().map(|t| (t.challenger, t.status(now)))),
        events,
    })
}

fn bot_report(state: &Path, bot: &str, records: &[Decision], now: f64) -> BotReport {
    let mut r = BotReport {
        bot: bot.to_string(),
        ..BotReport::default()
    };
    let mut modules: BTreeMap<String, f64> = BTreeMap::new();
    let mut events = Vec::new();
    for d in records {
        match d {
            Decision::Cycle(c) if c.action == CycleAction::Skip => r.skips += 1,
            Decision::Cycle(c) => {
                r.cycles += 1;
                let Some(o) = &c.outcome else { continue };
                if !o.ok {
                    r.failures += 1;
                    r.failed
                        .push((c.time, o.error.clone().unwrap_or_else(|| "failed".into())));
                }
                for m in &o.modules {
                    *modules.entry(m.clone()).or_default() += o.delta;
                }
                r.points.push(Point {
                    time: c.time,
                    delta: o.delta,
                    ema: c.inputs.as_ref().map_or(f64::NAN, |i| i.roi_ema),
                    energy: c.energy().map_or(f64::NAN, f64::from),
                    profit: o.profit_after,
                });
            }
            Decision::Alert(a) => r.alerts.push(a.clone()),
            Decision::Variant(v) => events.push((
                v.time,
                event_name(&v.event).to_string(),
                serde_json::to_string(&v.event).unwrap_or_default(),
            )),
            Decision::Engine(e) if e.kind == kaizen::decision::EngineEventKind::Restarted => {
                r.restarts += 1
            }
            _ => {}
        }
    }
    let keep = r.failed.len().saturating_sub(10);
    r.failed.drain(..keep);
    r.modules = modules.into_iter().collect();
    r.modules
        .sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if let Inspected::Good { value, .. } =
        inspect_json::<MetaLogger>(&state.join(bot).join(META_FILE))
    {
        r.diminishing = value
            .rankings()
            .into_iter()
            .map(|(m, _)| m)
            .filter(|m| value.is_flagged(m))
            .collect();
    }
    r.variants = variants_report(state, bot, events, now);
    let dir = state.join(bot);
    if dir.join(MODELS_DIR).is_dir()
        && let Ok(c) = Catalog::read(&dir)
    {
        r.versions = c
            .versions()
            .map(|v| Version {
                id: v.id.to_string(),
                status: v.status().as_str().to_string(),
                created: v.created,
                champion: c.champion() == Some(v.id),
                metrics: v
                    .info
                    .metrics
                    .iter()
                    .map(|(k, x)| format!("{k}={x:.4}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            })
            .collect();
    }
    r
}

//! `kaizen evaluate --log FILE --spec CANDIDATE.toml [--bot B] [--json]`:
//! what a candidate spec's learned-decision settings would have earned on
//! the decisions of a log ([`kaizen::evaluate`]), before deploying it.
//!
//! The log is JSON lines as `kaizen run --json` prints them, or a history
//! segment (the same records, with a header and an index line); lines that
//! are not cycle records are skipped, and a line that is not JSON, or a
//! cycle record that does not read, is an error naming `FILE:LINE`. A
//! `kaizen history --json` document (RFC 3339 times) is read too.

use anyhow::{Context as _, Result, bail};
use serde_json::Value;
use std::path::{Path, PathBuf};

use super::table::Table;
use kaizen::decision::Decision;
use kaizen::evaluate::{Candidate, EvaluateOptions, Evaluation, evaluate};
use kaizen::record::CycleRecord;
use kaizen::spec::EngineSpec;

/// Arguments of `kaizen evaluate`.
#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// The decision log: `kaizen run --json` output, a history segment, or `kaizen history --json`.
    #[arg(long, value_name = "FILE")]
    pub log: PathBuf,
    /// The candidate engine spec (its `[decide]` and `[engine] force` settings are evaluated).
    #[arg(long, value_name = "FILE")]
    pub spec: PathBuf,
    /// Only this bot's decisions (default: every bot in the log).
    #[arg(long, value_name = "NAME")]
    pub bot: Option<String>,
    /// Decisions a reward runs to: the ledger from a decision to the one this many later.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub horizon: usize,
    /// The intervals' level: 1 − alpha coverage.
    #[arg(long, default_value_t = 0.05, value_name = "A")]
    pub alpha: f64,
    /// Print the evaluation as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `kaizen evaluate`.
pub fn run(args: EvaluateArgs) -> Result<()> {
    let spec = EngineSpec::load(&args.spec)?;
    let candidate = Candidate::from_config(&spec.config)
        .with_context(|| format!("the candidate spec {}", args.spec.display()))?;
    let mut records = read_log(&args.log)?;
    if let Some(bot) = &args.bot {
        records.retain(|r| &*r.bot == bot);
        if records.is_empty() {
            bail!("{} holds no record of bot {bot:?}", args.log.display());
        }
    }
    let options = EvaluateOptions {
        alpha: args.alpha,
        horizon: args.horizon,
    };
    let mut evaluation = evaluate(&records, &candidate, &options).with_context(|| {
        format!(
            "evaluating {} on {}",
            args.spec.display(),
            args.log.display()
        )
    })?;
    if spec.config.decision.is_none() {
        evaluation.warnings.insert(
            0,
            "the candidate spec sets no [engine] decision: evaluated as learned (a new engine \
             with this spec would run chain; add decision = \"learned\")"
                .into(),
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        print!("{}", render(&evaluation, &candidate));
    }
    Ok(())
}

/// The cycle records of the log at `path`.
fn read_log(path: &Path) -> Result<Vec<CycleRecord>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the log {}", path.display()))?;
    if let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(&text)
        && let Some(Value::Array(items)) = doc.get("records")
    {
        return items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let mut item = item.clone();
                if let Some(Value::String(t)) = item.get("time")
                    && let Ok(t) = kaizen::history::parse_rfc3339(t)
                {
                    item["time"] = Value::from(t);
                }
                cycle_of(item)
                    .with_context(|| format!("{}: records[{i}]", path.display()))
                    .transpose()
            })
            .collect();
    }
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        if line.is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), i + 1);
        let value: Value =
            serde_json::from_str(line).with_context(|| format!("{}: not JSON", at()))?;
        if let Some(r) = cycle_of(value).with_context(at)? {
            records.push(r);
        }
    }
    Ok(records)
}

/// The cycle record in `value`: `None` for anything that is not a decision
/// of the stream or is another kind of decision (autoscale, engine, alert).
fn cycle_of(value: Value) -> Result<Option<CycleRecord>> {
    if value.get("type").is_none() {
        return Ok(None);
    }
    let kind = value["type"].as_str().unwrap_or("").to_string();
    match serde_json::from_value::<Decision>(value) {
        Ok(Decision::Cycle(r)) => Ok(Some(r)),
        Ok(_) => Ok(None),
        Err(e) if kind == "cycle" => bail!("not a cycle record: {e}"),
        Err(_) => Ok(None),
    }
}

/// The evaluation for people.
fn render(e: &Evaluation, candidate: &Candidate) -> String {
    let d = &candidate.decide;
    let mut out = format!(
        "candidate: energies {:?}, epsilon {}, draws {}, horizon {} ticks, seed {}, force {:?}\n\
         {} decisions evaluated; reward: the ledger over the next {} decision(s)\n\n",
        d.energies, d.epsilon, d.draws, d.horizon, d.seed, candidate.force, e.decisions, e.horizon
    );
    let level = format!("{:.0}% interval", 100.0 * (1.0 - e.alpha));
    let mut table = Table::new(["", "value per decision", "std error", level.as_str()]);
    let mut row = |name: &str, value: f64, se: f64, ci: [f64; 2]| {
        table.row([
            name.to_string(),
            format!("{value:.4}"),
            format!("{se:.4}"),
            format!("[{:.4}, {:.4}]", ci[0], ci[1]),
        ]);
    };
    let l = &e.logged;
    row(
        "logged (as run)",
        l.value,
        l.std_error,
        l.confidence_interval,
    );
    for (name, x) in [
        ("IPS", &e.ips),
        ("SNIPS", &e.snips),
        ("doubly robust", &e.doubly_robust),
    ] {
        row(name, x.value, x.std_error, x.confidence_interval);
    }
    out.push_str(&table.render());
    out.push_str(&format!(
        "\neffective sample size {:.1} of {}; mean importance weight {:.3} ± {:.3} (1 expected)\n",
        e.effective_sample_size, e.decisions, e.mean_weight[0], e.mean_weight[1]
    ));
    if !e.warnings.is_empty() {
        out.push_str("\nwarnings:\n");
        for w in &e.warnings {
            out.push_str(&format!("  - {w}\n"));
        }
    }
    out
}

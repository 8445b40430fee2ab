//! `kaizen variants list|show --bot B` and `kaizen abtest status [--bot B]`:
//! a bot's variants and A/B tests, read from `state/<bot>/variants.json`
//! without changing anything.
//!
//! `kaizen variants promote|retire --bot B ID` change them: `promote` makes
//! a variant serve (a running test is cancelled unjudged), `retire` takes
//! one out (a mutated child of the serving variant takes its place). With
//! no run live, the command takes the state folder's lock and changes the
//! file itself. While `kaizen run` holds the folder, its engine owns the
//! variants (and writes them after every cycle): when the run serves its
//! control API (`--listen`), the change goes to `POST
//! /api/v1/variants/{bot}/{id}/promote|retire` and the engine makes it;
//! otherwise it is refused with a message naming the holder's pid. Each
//! change is recorded in the audit trail (`variants.promote`,
//! `variants.retire`), done or failed — by this command, or by the run's API.

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

use super::table::Table;
use kaizen::engine::validate_name;
use kaizen::persist::{Durability, Inspected, inspect_json, save_json};
use kaizen::runtime::StateLock;
use kaizen::stats::AbStatus;
use kaizen::variants::{VariantAction, VariantEvent, Variants};

/// The state folder (as given to `kaizen run --state`).
#[derive(Debug, clap::Args)]
struct State {
    /// The state folder.
    #[arg(long, default_value = "state", value_name = "DIR")]
    state: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `kaizen variants`.
#[derive(Debug, clap::Args)]
pub struct VariantsArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Each variant of a bot: id, serving or challenger, outcomes, mean, parameters.
    List {
        /// The bot.
        #[arg(long, value_name = "NAME")]
        bot: String,
        #[command(flatten)]
        state: State,
    },
    /// One variant in full.
    Show {
        /// The bot.
        #[arg(long, value_name = "NAME")]
        bot: String,
        /// The variant's id.
        id: u64,
        #[command(flatten)]
        state: State,
    },
    /// Makes a variant serve now (a running test is cancelled, unjudged).
    Promote(Change),
    /// Takes a variant out; a mutated child of the serving variant replaces it.
    Retire(Change),
}

/// The target of `promote` and `retire`.
#[derive(Debug, clap::Args)]
struct Change {
    /// The bot.
    #[arg(long, value_name = "NAME")]
    bot: String,
    /// The variant's id.
    id: u64,
    /// Why, for the audit trail.
    #[arg(long, default_value = "")]
    reason: String,
    #[command(flatten)]
    state: State,
}

/// Arguments of `kaizen abtest`.
#[derive(Debug, clap::Args)]
pub struct AbtestArgs {
    #[command(subcommand)]
    action: AbtestAction,
}

#[derive(Debug, clap::Subcommand)]
enum AbtestAction {
    /// Each bot's running test: arms, evidence, the uplift's confidence sequence, decision.
    Status {
        /// Only this bot (default: every bot with variants).
        #[arg(long, value_name = "NAME")]
        bot: Option<String>,
        #[command(flatten)]
        state: State,
    },
}

fn load(state: &Path, bot: &str) -> Result<Option<Variants>> {
    validate_name("bot", bot)?;
    let file = state.join(bot).join("variants.json");
    match inspect_json(&file) {
        Inspected::Good { value, .. } => Ok(Some(value)),
        Inspected::Missing => Ok(None),
        Inspected::Corrupt(why) => bail!("{} is corrupt: {why}", file.display()),
        Inspected::Newer(v) => bail!(
            "{} was written by a newer kaizen (version {v})",
            file.display()
        ),
    }
}

fn need(state: &Path, bot: &str) -> Result<Variants> {
    load(state, bot)?.ok_or_else(|| {
        anyhow::anyhow!(
            "bot {bot:?} has no variants in {} (no variants.json)",
            state.display()
        )
    })
}

/// Runs `kaizen variants`.
pub fn run(args: VariantsArgs) -> Result<()> {
    match args.action {
        Action::List { bot, state } => {
            let v = need(&state.state, &bot)?;
            if state.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            let challenger = v.test().map(|t| t.challenger);
            let mut table = Table::new(["id", "role", "outcomes", "mean", "command", "params"]);
            for m in v.population().members() {
                let role = if m.id == v.serving() {
                    "serving"
                } else if Some(m.id) == challenger {
                    "challenger"
                } else {
                    ""
                };
                table.row([
                    m.id.to_string(),
                    role.to_string(),
                    m.outcomes.count.to_string(),
                    m.score().map_or("-".into(), |s| format!("{s:.4}")),
                    m.command.to_string(),
                    serde_json::to_string(&m.params)?,
                ]);
            }
            print!("{}", table.render());
            println!(
                "generation {}, serving {}, {} promotion(s)",
                v.population().generation(),
                v.serving(),
                v.promotions()
            );
        }
        Action::Show { bot, id, state } => {
            let v = need(&state.state, &bot)?;
            let Some(m) = v.population().get(id) else {
                bail!("bot {bot:?} has no variant {id} (see kaizen variants list --bot {bot})");
            };
            println!("{}", serde_json::to_string_pretty(m)?);
        }
        Action::Promote(c) => change(&c, VariantAction::Promote(c.id))?,
        Action::Retire(c) => change(&c, VariantAction::Retire(c.id))?,
    }
    Ok(())
}

/// Applies an operator's change to a bot's variants with the state folder
/// locked, saves them and records it in the audit trail; while a run holds
/// the folder, through the run's API.
fn change(c: &Change, action: VariantAction) -> Result<()> {
    validate_name("bot", &c.bot)?;
    let _lock = match StateLock::acquire(&c.state.state) {
        Err(kaizen::Error::StateLocked { pid, .. }) => return through_the_run(c, action, pid),
        other => other?,
    };
    let mut v = need(&c.state.state, &c.bot)?;
    let file = c.state.state.join(&c.bot).join("variants.json");
    let done = action
        .apply(&mut v)
        .map_err(anyhow::Error::from)
        .and_then(|event| {
            save_json(&file, &v, Durability::Fsync)?;
            Ok(event)
        });
    let detail = if c.reason.is_empty() {
        format!("variant {}", c.id)
    } else {
        format!("variant {}: {}", c.id, c.reason)
    };
    let outcome = done
        .as_ref()
        .map(drop)
        .map_err(|e| anyhow::anyhow!("{e:#}"));
    super::synergy::audit(
        &c.state.state,
        &c.bot,
        action.audit_name(),
        detail,
        &outcome,
    );
    print_change(c, &done?, None)
}

/// `action` sent to the `kaizen run` (pid `holder`) that holds the state
/// folder, through its control API ([`super::run_api`]); the run's engine
/// makes the change and the run's API writes the audit entry.
fn through_the_run(c: &Change, action: VariantAction, holder: Option<u32>) -> Result<()> {
    let route = match action {
        VariantAction::Promote(_) => "promote",
        VariantAction::Retire(_) => "retire",
    };
    let path = format!("/api/v1/variants/{}/{}/{route}", c.bot, c.id);
    let body = serde_json::json!({ "reason": c.reason }).to_string();
    let answer = super::run_api::post(
        &c.state.state,
        holder,
        &path,
        &body,
        "to change variants while it runs",
    )?;
    let event: VariantEvent =
        serde_json::from_value(answer.value["event"].clone()).map_err(|e| {
            anyhow::anyhow!(
                "the answer of {} is not a variant change ({e}): {}",
                answer.url,
                answer.text
            )
        })?;
    print_change(c, &event, Some(&answer.run))
}

/// Prints a change's event (`made_by`: the run that made it through its API).
fn print_change(c: &Change, event: &VariantEvent, made_by: Option<&str>) -> Result<()> {
    if c.state.json {
        println!("{}", serde_json::to_string_pretty(&event)?);
        return Ok(());
    }
    match event {
        VariantEvent::Promoted {
            variant,
            previous,
            cancelled_test,
        } => println!(
            "bot {}: variant {variant} serves (was {previous}){}",
            c.bot,
            cancelled_test.map_or(String::new(), |t| format!(
                "; the test of challenger {t} was cancelled"
            ))
        ),
        VariantEvent::Retired {
            variant,
            replaced_by,
            cancelled_test,
        } => println!(
            "bot {}: variant {variant} retired, replaced by {replaced_by}{}",
            c.bot,
            if *cancelled_test {
                "; its test was cancelled"
            } else {
                ""
            }
        ),
        other => println!("bot {}: {}", c.bot, serde_json::to_string(other)?),
    }
    if let Some(run) = made_by {
        println!("(made by {run} through its API)");
    }
    Ok(())
}

/// A bot, its serving variant, and its running test's challenger and status.
type Row = (String, u64, Option<(u64, AbStatus)>);

/// Runs `kaizen abtest`.
pub fn abtest(args: AbtestArgs) -> Result<()> {
    let AbtestAction::Status { bot, state } = args.action;
    let bots = match bot {
        Some(b) => vec![b],
        None => {
            let mut names: Vec<String> = std::fs::read_dir(&state.state)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", state.state.display()))?
                .flatten()
                .filter(|e| e.path().join("variants.json").exists())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            names.sort();
            names
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut rows: Vec<Row> = Vec::new();
    for b in bots {
        let v = need(&state.state, &b)?;
        let test = v.test().map(|t| (t.challenger, t.status(now)));
        rows.push((b, v.serving(), test));
    }
    if state.json {
        let json: Vec<serde_json::Value> = rows
            .iter()
            .map(|(bot, serving, test)| {
                serde_json::json!({
                    "bot": bot,
                    "serving": serving,
                    "challenger": test.as_ref().map(|t| t.0),
                    "status": test.as_ref().map(|t| &t.1),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let mut table = Table::new([
        "bot",
        "serving",
        "challenger",
        "outcomes",
        "evidence",
        "uplift",
        "cs low",
        "cs high",
        "decision",
    ]);
    for (bot, serving, test) in rows {
        let Some((challenger, s)) = test else {
            table.row([
                bot,
                serving.to_string(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "no test".into(),
            ]);
            continue;
        };
        table.row([
            bot,
            serving.to_string(),
            challenger.to_string(),
            format!("{}+{}", s.serving_outcomes, s.challenger_outcomes),
            format!("{:.2}/{:.0}", s.evidence, s.threshold),
            s.uplift.map_or("-".into(), |u| format!("{u:+.4}")),
            format!("{:.4}", s.confidence_sequence[0]),
            format!("{:.4}", s.confidence_sequence[1]),
            format!("{:?}", s.decision).to_lowercase(),
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

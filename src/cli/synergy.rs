//! `kaizen synergy show|export|import|reset --bot NAME`: a bot's learned
//! synergy weights (`state/<bot>/synergy.json`).
//!
//! `import` and `reset` take the state folder's lock, so they are refused
//! while `kaizen run` uses the folder (a running engine keeps its weights in
//! memory and would write them back over the file), and they only change a
//! bot the folder knows.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::table::Table;
use kaizen::engine::validate_name;
use kaizen::persist::{Durability, Inspected, write_all};
use kaizen::registry::{REGISTRY_FILE, inspect_registry};
use kaizen::runtime::StateLock;
use kaizen::synergy::{SynergyKeys, SynergyWeights, inspect_weights, weights_file};

/// Arguments of `kaizen synergy`.
#[derive(Debug, clap::Args)]
pub struct SynergyArgs {
    #[command(subcommand)]
    action: Action,
}

/// Which bot, where.
#[derive(Debug, clap::Args)]
struct Target {
    /// The bot whose weights to use.
    #[arg(long, value_name = "NAME")]
    bot: String,
    /// The state folder (as given to `kaizen run --state`).
    #[arg(long, default_value = "state", value_name = "DIR")]
    state: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Print the weights.
    Show {
        #[command(flatten)]
        target: Target,
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the weights as JSON to a file (or stdout).
    Export {
        #[command(flatten)]
        target: Target,
        /// Where to write; stdout when not given.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Replace the weights with those in a JSON file (as written by export).
    Import {
        #[command(flatten)]
        target: Target,
        /// The JSON file: {"roi": 1.2, "efficiency": 0.8, …}, each in [0, 10].
        file: PathBuf,
    },
    /// Put every weight back to 1.0.
    Reset {
        #[command(flatten)]
        target: Target,
        /// The key set to reset to; by default the one the file has (core when none).
        #[arg(long, value_name = "core|extended")]
        keys: Option<String>,
    },
}

/// Records a change of the command line to `bot` in the audit trail of the
/// state folder `state`.
pub(super) fn audit(state: &Path, bot: &str, action: &str, detail: String, done: &Result<()>) {
    use kaizen::history::{AuditEntry, AuditTrail, CLI, LogConfig};
    use kaizen::host::{Clock, SystemClock};
    let mut entry = AuditEntry::new(SystemClock.now(), CLI, action)
        .on_bot(bot)
        .with_detail(detail);
    if let Err(e) = done {
        entry = entry.failed(format!("{e:#}"));
    }
    let appended = AuditTrail::open(state, LogConfig::audit(), std::sync::Arc::new(SystemClock))
        .and_then(|trail| trail.append(&entry));
    if let Err(e) = appended {
        eprintln!("kaizen: the audit trail could not record {action}: {e}");
    }
}

impl Target {
    fn dir(&self) -> Result<PathBuf> {
        validate_name("bot", &self.bot)?;
        Ok(self.state.join(&self.bot))
    }

    /// The bot's folder, for a change: the state folder must exist and know
    /// the bot (its folder, or an engine of `registry.json`), so a typo
    /// makes no new folder; and no other process may be using the state
    /// folder (a running engine would write its own weights back).
    fn dir_to_change(&self) -> Result<(PathBuf, StateLock)> {
        let dir = self.dir()?;
        if !self.state.is_dir() {
            bail!(
                "there is no state folder {} (give the one kaizen run used with --state)",
                self.state.display()
            );
        }
        let listed = || match inspect_registry(&self.state) {
            Inspected::Good { value, .. } => value.engines.iter().any(|e| e.name == self.bot),
            _ => false,
        };
        if !dir.is_dir() && !listed() {
            bail!(
                "{} has no bot {:?} (no folder {} and no engine of that name in {REGISTRY_FILE})",
                self.state.display(),
                self.bot,
                dir.display()
            );
        }
        let lock = StateLock::acquire(&self.state)?;
        Ok((dir, lock))
    }
}

/// The bot's weights; a missing file gives the defaults, a broken one an error.
fn current(dir: &Path) -> Result<(SynergyWeights, bool)> {
    match inspect_weights(dir) {
        Inspected::Good { value, .. } => Ok((value, true)),
        Inspected::Missing => Ok((SynergyWeights::new(SynergyKeys::Core), false)),
        Inspected::Corrupt(why) => bail!("{}/synergy.json is corrupt: {why}", dir.display()),
        Inspected::Newer(v) => bail!(
            "{}/synergy.json was written by a newer kaizen (version {v})",
            dir.display()
        ),
    }
}

fn to_json(w: &SynergyWeights) -> Result<String> {
    let map: BTreeMap<&str, f64> = w.iter().map(|(k, v)| (k.name(), v)).collect();
    Ok(serde_json::to_string_pretty(&map)?)
}

fn save(dir: &Path, w: &SynergyWeights) -> Result<()> {
    write_all(&[weights_file(dir, w)?], Durability::Fsync)
        .with_context(|| format!("cannot write {}/synergy.json", dir.display()))?;
    Ok(())
}

/// Reads an import file: every key of `keys`, numbers in [0, 10]; `version`
/// (if present) must be 1; any other key is refused.
fn parse_import(file: &Path, keys: SynergyKeys) -> Result<SynergyWeights> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let map: BTreeMap<String, Value> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON object", file.display()))?;
    let mut weights = SynergyWeights::new(keys);
    for (name, value) in &map {
        if name == "version" {
            if value.as_u64() != Some(1) {
                bail!("{}: unsupported version {value}", file.display());
            }
            continue;
        }
        let key = keys
            .keys()
            .iter()
            .find(|k| k.name() == name)
            .with_context(|| {
                let known: Vec<&str> = keys.keys().iter().map(|k| k.name()).collect();
                format!(
                    "{}: unknown weight {name:?}; known: {}",
                    file.display(),
                    known.join(", ")
                )
            })?;
        let number = value.as_f64().with_context(|| {
            format!(
                "{}: weight {name:?} is not a number: {value}",
                file.display()
            )
        })?;
        weights
            .set(*key, number)
            .with_context(|| format!("{}: weight {name:?}", file.display()))?;
    }
    for key in keys.keys() {
        if !map.contains_key(key.name()) {
            bail!("{}: weight {:?} is missing", file.display(), key.name());
        }
    }
    Ok(weights)
}

/// Runs `kaizen synergy …`.
pub fn run(args: SynergyArgs) -> Result<()> {
    match args.action {
        Action::Show { target, json } => {
            let dir = target.dir()?;
            let (w, saved) = current(&dir)?;
            if json {
                println!("{}", to_json(&w)?);
                return Ok(());
            }
            let mut t = Table::new(["weight", "value"]);
            for (k, v) in w.iter() {
                t.row([k.name().to_string(), format!("{v:.4}")]);
            }
            print!("{}", t.render());
            if !saved {
                println!(
                    "({} has no learned weights yet: these are the defaults)",
                    target.bot
                );
            }
        }
        Action::Export { target, out } => {
            let (w, _) = current(&target.dir()?)?;
            let text = to_json(&w)? + "\n";
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{text}"),
            }
        }
        Action::Import { target, file } => {
            let (dir, _lock) = target.dir_to_change()?;
            let (old, _) = current(&dir)?;
            let w = parse_import(&file, old.keys())?;
            let done = save(&dir, &w);
            audit(
                &target.state,
                &target.bot,
                "synergy.import",
                format!("from {}", file.display()),
                &done,
            );
            done?;
            println!("imported {} weights for {}", w.iter().count(), target.bot);
        }
        Action::Reset { target, keys } => {
            let (dir, _lock) = target.dir_to_change()?;
            let keys = match keys {
                Some(name) => SynergyKeys::from_name(&name)?,
                None => current(&dir)?.0.keys(),
            };
            let done = save(&dir, &SynergyWeights::new(keys));
            audit(
                &target.state,
                &target.bot,
                "synergy.reset",
                format!("keys {}", keys.name()),
                &done,
            );
            done?;
            println!("reset {}'s weights to 1.0", target.bot);
        }
    }
    Ok(())
}

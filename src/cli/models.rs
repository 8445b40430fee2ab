//! `kaizen models list|show|compare|activate|rollback --bot B`: a bot's
//! model registry (`state/<bot>/models/`).
//!
//! `list`, `show` and `compare` read the registry without a lock and change
//! nothing, so they work while `kaizen run` trains. `activate` and
//! `rollback` move the champion: with no run live, the command takes the
//! state folder's lock and the registry's writer lock itself and records the
//! move in the alias history. While `kaizen run` holds the state folder, its
//! training pipeline holds the registry: when the run serves its control API
//! (`--listen`, recorded in `state/.kaizen/server.json`), the command sends
//! the move to `POST /api/v1/models/{bot}/activate|rollback` with the token
//! of `KAIZEN_TOKEN` or `state/.kaizen/token`, and the engine makes it
//! between two cycles; otherwise it is refused with a message saying so.

use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::path::PathBuf;

use super::table::Table;
use kaizen::engine::validate_name;
use kaizen::history::rfc3339_seconds as when;
use kaizen::host::{Clock, SystemClock};
use kaizen::models::{
    AliasMove, Catalog, Comparison, MODELS_DIR, ModelRegistry, RegistryConfig, VersionId,
    VersionMeta,
};
use kaizen::runtime::StateLock;
use kaizen::spec::load_dir;
use kaizen::stats::TestType;
use kaizen::training::ModelAction;

/// Arguments of `kaizen models`.
#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    action: Action,
}

/// Which bot, where.
#[derive(Debug, clap::Args)]
struct Target {
    /// The bot whose models to use.
    #[arg(long, value_name = "NAME")]
    bot: String,
    /// The state folder (as given to `kaizen run --state`).
    #[arg(long, default_value = "state", value_name = "DIR")]
    state: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Every version, the champion first marked, and the last moves of the champion alias.
    List {
        #[command(flatten)]
        target: Target,
        /// How many alias moves to show.
        #[arg(long, default_value_t = 5, value_name = "N")]
        moves: usize,
    },
    /// One version's metadata (default: the champion).
    Show {
        #[command(flatten)]
        target: Target,
        /// The version: `v3` or `3`.
        #[arg(id = "model_version", value_name = "VERSION")]
        version: Option<VersionId>,
    },
    /// How a second version's metrics differ from a first's.
    Compare {
        #[command(flatten)]
        target: Target,
        /// The baseline.
        before: VersionId,
        /// The version compared with it.
        after: VersionId,
    },
    /// Make a version the champion (refused while `kaizen run` trains the bot).
    Activate {
        #[command(flatten)]
        target: Target,
        /// The version: `v3` or `3`.
        #[arg(id = "model_version", value_name = "VERSION")]
        version: VersionId,
        /// Why, kept in the alias history.
        #[arg(long, default_value = "activated by hand")]
        reason: String,
        /// The engine specs, for the bot's post-deploy window.
        #[arg(long, default_value = "engines", value_name = "DIR")]
        engines: PathBuf,
    },
    /// Back to the newest other version that served and passed its post-deploy check.
    Rollback {
        #[command(flatten)]
        target: Target,
        /// Why, kept in the alias history.
        #[arg(long, default_value = "rolled back by hand")]
        reason: String,
        /// The engine specs, for the bot's post-deploy window.
        #[arg(long, default_value = "engines", value_name = "DIR")]
        engines: PathBuf,
    },
}

impl Target {
    fn dir(&self) -> Result<PathBuf> {
        validate_name("bot", &self.bot)?;
        let dir = self.state.join(&self.bot);
        if !dir.join(MODELS_DIR).is_dir() {
            bail!(
                "bot {:?} has no models in {} (no folder {})",
                self.bot,
                self.state.display(),
                dir.join(MODELS_DIR).display()
            );
        }
        Ok(dir)
    }

    fn catalog(&self) -> Result<Catalog> {
        let dir = self.dir()?;
        Catalog::read(&dir)
            .with_context(|| format!("cannot read the model registry in {}", dir.display()))
    }
}

/// Runs `kaizen models`.
pub fn run(args: ModelsArgs) -> Result<()> {
    match args.action {
        Action::List { target, moves } => list(&target, moves),
        Action::Show { target, version } => show(&target, version),
        Action::Compare {
            target,
            before,
            after,
        } => {
            let c = target.catalog()?.compare(before, after)?;
            print(target.json, &c, || render_comparison(&c))
        }
        Action::Activate {
            target,
            version,
            reason,
            engines,
        } => change(
            &target,
            ModelAction::Activate { version },
            &reason,
            &engines,
        ),
        Action::Rollback {
            target,
            reason,
            engines,
        } => change(&target, ModelAction::Rollback, &reason, &engines),
    }
}

/// Prints `value` as JSON, or the text `render` makes.
fn print<T: Serialize>(json: bool, value: &T, render: impl FnOnce() -> String) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", render());
    }
    Ok(())
}

fn number(v: Option<&f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v:.6}"))
}

/// What `list --json` prints.
#[derive(Serialize)]
struct Listing<'a> {
    champion: Option<VersionId>,
    versions: Vec<&'a VersionMeta>,
    damaged: Vec<(VersionId, &'a str)>,
    moves: &'a [AliasMove],
}

fn list(target: &Target, moves: usize) -> Result<()> {
    let c = target.catalog()?;
    let history = c.history();
    let listing = Listing {
        champion: c.champion(),
        versions: c.versions().collect(),
        damaged: c.damaged().collect(),
        moves: &history[history.len().saturating_sub(moves)..],
    };
    print(target.json, &listing, || {
        let mut out = format!(
            "bot {} — champion {}\n",
            target.bot,
            listing
                .champion
                .map_or_else(|| "none".to_string(), |v| v.to_string())
        );
        let mut t = Table::new([
            "version",
            "status",
            "created",
            "parent",
            "holdout_loss",
            "improvement",
            "p_value",
            "accuracy",
            "rows",
        ]);
        for v in listing.versions.iter().rev() {
            let m = &v.info.metrics;
            t.row([
                v.id.to_string(),
                v.status().as_str().to_string(),
                when(v.created),
                v.info.parent.map(|p| p.to_string()).unwrap_or_default(),
                number(m.get("holdout_loss")),
                m.get("improvement")
                    .map(|i| format!("{:+.1}%", 100.0 * i))
                    .unwrap_or_default(),
                m.get("p_value")
                    .map(|p| format!("{p:.2e}"))
                    .unwrap_or_default(),
                number(m.get("accuracy")),
                v.info.data_window.rows.to_string(),
            ]);
        }
        out.push_str(&t.render());
        for (id, why) in &listing.damaged {
            out.push_str(&format!("{id} is damaged: {why}\n"));
        }
        if !listing.moves.is_empty() {
            out.push_str("\nlast moves of the champion:\n");
            for m in listing.moves {
                out.push_str(&format!("  {}\n", describe_move(m)));
            }
        }
        out
    })
}

/// A move of the champion alias in one line.
fn describe_move(m: &AliasMove) -> String {
    let v = |v: Option<VersionId>| v.map_or_else(|| "none".to_string(), |v| v.to_string());
    format!(
        "#{} {} {}: {} → {} — {}",
        m.seq,
        when(m.at),
        m.action,
        v(m.from),
        v(m.to),
        m.reason
    )
}

fn show(target: &Target, version: Option<VersionId>) -> Result<()> {
    let c = target.catalog()?;
    let Some(id) = version.or(c.champion()) else {
        bail!("bot {:?} has no champion; name a version", target.bot);
    };
    let meta = c.version(id)?;
    print(target.json, meta, || {
        render_version(meta, c.champion() == Some(id))
    })
}

fn render_version(v: &VersionMeta, champion: bool) -> String {
    let mut out = format!(
        "{} — {}{}, saved {}",
        v.id,
        v.status().as_str(),
        if champion { " (serving)" } else { "" },
        when(v.created)
    );
    if let Some(p) = v.info.parent {
        out.push_str(&format!(", trained from {p}"));
    }
    out.push('\n');
    let w = &v.info.data_window;
    out.push_str(&format!("data: {} rows", w.rows));
    if let Some([a, b]) = w.times {
        out.push_str(&format!(", from {} to {}", when(a), when(b)));
    }
    out.push_str(&format!(
        "\nweights: {} bytes, CRC-32 {:08x}\n",
        v.weights.bytes, v.weights.crc32
    ));
    let mut t = Table::new(["metric", "value"]);
    for (k, val) in &v.info.metrics {
        t.row([k.clone(), format!("{val:.6}")]);
    }
    out.push_str(&t.render());
    if let Some(s) = &v.info.significance {
        let test = match s.test_type {
            TestType::PairedTTest => "paired t-test",
            TestType::IndependentTTest => "two-sample t-test",
        };
        out.push_str(&format!(
            "deploy gate: {test}, t = {:.3}, p = {:.3e}, effect size {:.3}, mean change {:+.6}\n",
            s.t_statistic, s.p_value, s.effect_size, s.mean_improvement
        ));
    }
    if let Some(gate) = v.info.extra.get("gate").and_then(|g| g.as_str()) {
        out.push_str(&format!("gate said: {gate}\n"));
    }
    if let Some(c) = &v.post_deploy {
        let loss = |l: Option<f64>| l.map_or_else(|| "?".to_string(), |l| format!("{l:.6}"));
        out.push_str(&format!(
            "post-deploy check: {} against {} on {} live samples (loss {} vs {})\n",
            format!("{:?}", c.result).to_lowercase(),
            c.against
                .map_or_else(|| "nothing".into(), |v| v.to_string()),
            c.samples,
            loss(c.champion_loss),
            loss(c.previous_loss)
        ));
    }
    if !v.info.hyperparameters.is_empty() {
        out.push_str(&format!(
            "hyperparameters: {}\n",
            serde_json::Value::Object(v.info.hyperparameters.clone())
        ));
    }
    out
}

fn render_comparison(c: &Comparison) -> String {
    let mut t = Table::new(["metric", "goal", "before", "after", "change", "improvement"]);
    let cell = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.6}"));
    for m in &c.metrics {
        t.row([
            m.name.clone(),
            format!("{:?}", m.goal).to_lowercase(),
            cell(m.before),
            cell(m.after),
            m.change.map_or_else(String::new, |v| format!("{v:+.6}")),
            m.improvement
                .map_or_else(String::new, |v| format!("{:+.1}%", 100.0 * v)),
        ]);
    }
    format!("{} → {}\n{}", c.before, c.after, t.render())
}

/// The bot's registry settings: its spec's post-deploy window and retention
/// when `engines` has a training spec for it, else the defaults.
fn registry_config(bot: &str, engines: &std::path::Path) -> RegistryConfig {
    let config = load_dir(engines).ok().and_then(|specs| {
        specs
            .into_iter()
            .find(|s| s.spec.bot == bot)
            .and_then(|s| s.training_config())
    });
    match config {
        Some(c) => RegistryConfig {
            keep_last: c.keep_versions,
            post_deploy_window: c.post_deploy_window,
            alpha: c.gate.alpha,
            ..RegistryConfig::default()
        },
        None => RegistryConfig::default(),
    }
}

fn change(
    target: &Target,
    action: ModelAction,
    reason: &str,
    engines: &std::path::Path,
) -> Result<()> {
    let dir = target.dir()?;
    // With no run live, this command holds the state folder while it moves
    // the champion; a live run takes the change through its API.
    let _lock = match StateLock::acquire(&target.state) {
        Ok(lock) => lock,
        Err(kaizen::Error::StateLocked { pid, .. }) => {
            return through_the_run(target, action, reason, pid);
        }
        Err(e) => return Err(e).context("cannot lock the state folder"),
    };
    let now = SystemClock.now();
    let config = registry_config(&target.bot, engines);
    let mut registry = ModelRegistry::open(&dir, config, now)
        .with_context(|| format!("cannot open the model registry in {}", dir.display()))?;
    let moved = action.apply(&mut registry, reason, now)?;
    print(target.json, &moved, || {
        format!("{}\n", describe_move(&moved))
    })
}

/// The API route and JSON body that make `action` on a run.
fn api_call(target: &Target, action: ModelAction, reason: &str) -> (String, String) {
    let (route, body) = match action {
        ModelAction::Activate { version } => (
            "activate",
            serde_json::json!({ "version": version.0, "reason": reason }),
        ),
        ModelAction::Rollback => ("rollback", serde_json::json!({ "reason": reason })),
    };
    (
        format!("/api/v1/models/{}/{route}", target.bot),
        body.to_string(),
    )
}

/// `action` sent to the `kaizen run` (pid `holder`) that holds the state
/// folder, through its control API ([`super::run_api`]).
fn through_the_run(
    target: &Target,
    action: ModelAction,
    reason: &str,
    holder: Option<u32>,
) -> Result<()> {
    let (path, body) = api_call(target, action, reason);
    let answer = super::run_api::post(
        &target.state,
        holder,
        &path,
        &body,
        "to move models while it runs",
    )?;
    let moved = decode_move(answer.value).with_context(|| {
        format!(
            "the answer of {} is not a move of the champion: {}",
            answer.url, answer.text
        )
    })?;
    print(target.json, &moved, || {
        format!(
            "{}\n(made by {} through its API)\n",
            describe_move(&moved),
            answer.run
        )
    })
}

/// A move as the API answers it (its time in RFC 3339), back in Unix seconds.
fn decode_move(mut value: serde_json::Value) -> Result<AliasMove> {
    if let Some(at) = value["at"].as_str() {
        value["at"] = kaizen::history::parse_rfc3339(at)?.into();
    }
    Ok(serde_json::from_value(value)?)
}

//! Population-based training across the training bots of one `[variants]
//! group`, through `kaizen run --once` (each round a new process, so every
//! round is a restart): the bottom bot copies the top bot's saved model and
//! its parameters, perturbed; the copy is a challenger that must pass the
//! deploy gate (or serves at once with `pbt_bypass_gate`); the perturbed
//! parameters are what the bot trains with afterwards; and a bot with no
//! saved checkpoint is never copied.

use crate::support::{kaizen, stdout_of};
use kaizen::models::{Catalog, VersionId, VersionStatus};
use kaizen::pipeline::{PBT_FILE, PbtRecord, PbtState};
use kaizen::variants::Variants;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// A bot of group `g`: a check every 3 trained cycles, its score the rows it
/// reads per unit of energy; its variants vary `steps_per_energy`.
fn spec(bot: &str, pbt: &str, gate: &str) -> String {
    format!(
        r#"bot = "{bot}"
[pipeline.training]
data = "{bot}.csv"
task = "regression"
seed = 1
learning_threshold = 20
[pipeline.training.model]
hidden = [8]
optimizer = {{ kind = "adamw", lr = 0.01 }}
[pipeline.training.gate]
{gate}
[engine]
energy = "none"
default_energy = 10
interval = "1ms"
[variants]
seed = 3
metric = "rows"
group = "g"
pbt_interval = 3
{pbt}
[variants.evolution]
size = 2
[variants.space]
steps_per_energy = {{ int = [5, 60] }}
"#
    )
}

struct Group {
    _tmp: tempfile::TempDir,
    engines: PathBuf,
    state: PathBuf,
    rng: ChaCha8Rng,
}

impl Group {
    /// Bots given as (name, the `[variants]` PBT keys, the gate's keys).
    fn new(bots: &[(&str, &str, &str)]) -> Group {
        let tmp = tempfile::tempdir().unwrap();
        let engines = tmp.path().join("engines");
        std::fs::create_dir_all(&engines).unwrap();
        for (bot, pbt, gate) in bots {
            std::fs::write(engines.join(format!("{bot}.toml")), spec(bot, pbt, gate)).unwrap();
            std::fs::write(engines.join(format!("{bot}.csv")), "x,target\n").unwrap();
        }
        Group {
            state: tmp.path().join("state"),
            engines,
            _tmp: tmp,
            rng: ChaCha8Rng::seed_from_u64(9),
        }
    }

    /// Appends `n` rows of `target = a·x + b` (plus noise of scale `noise`).
    fn append(&mut self, bot: &str, n: usize, (a, b): (f64, f64), noise: f64) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.engines.join(format!("{bot}.csv")))
            .unwrap();
        for _ in 0..n {
            let x: f64 = self.rng.random_range(0.0..1.0);
            let e: f64 = self.rng.random_range(-1.0..1.0);
            writeln!(f, "{x},{}", a * x + b + noise * e).unwrap();
        }
    }

    /// One round (a `kaizen run --once` process): bot → its record.
    fn round(&self) -> BTreeMap<String, Value> {
        self.round_with_events().0
    }

    /// One round: bot → its record, and the round's variant events.
    fn round_with_events(&self) -> (BTreeMap<String, Value>, Vec<Value>) {
        let out = stdout_of(
            kaizen()
                .args(["run", "--once", "--json", "--training-jobs", "1"])
                .arg("--engines")
                .arg(&self.engines)
                .arg("--state")
                .arg(&self.state),
        );
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let (cycles, events): (Vec<Value>, Vec<Value>) =
            lines.into_iter().partition(|l| l["type"] == "cycle");
        assert!(events.iter().all(|e| e["type"] == "variant"), "{events:?}");
        let records = cycles
            .into_iter()
            .map(|r| (r["bot"].as_str().unwrap().to_string(), r))
            .collect();
        (records, events)
    }

    fn copies(&self) -> Vec<PbtRecord> {
        let bytes = std::fs::read(self.state.join(PBT_FILE)).unwrap();
        let state: PbtState = kaizen::persist::decode_json(&bytes).unwrap();
        state
            .groups
            .get("g")
            .map(|g| g.copies.clone())
            .unwrap_or_default()
    }

    fn catalog(&self, bot: &str) -> Catalog {
        Catalog::read(&self.state.join(bot)).unwrap()
    }

    fn variants(&self, bot: &str) -> Variants {
        let bytes = std::fs::read(self.state.join(bot).join("variants.json")).unwrap();
        kaizen::persist::decode_json(&bytes).unwrap()
    }

    /// The `steps_per_energy` the version a cycle trained was trained with.
    fn trained_with(&self, bot: &str, record: &Value) -> Option<u64> {
        let version = record["outcome"]["metrics"]["version"].as_f64()? as u64;
        let meta = self.catalog(bot).version(VersionId(version)).ok()?.clone();
        meta.info.hyperparameters["steps_per_energy"].as_u64()
    }
}

fn metric(record: &Value, name: &str) -> Option<f64> {
    record["outcome"]["metrics"][name].as_f64()
}

const LINE_A: (f64, f64) = (3.0, 1.0);
const LINE_B: (f64, f64) = (-3.0, 5.0);

/// Two bots on opposite relations: alpha reads 300 rows a cycle, beta 40,
/// so beta ranks bottom. Rounds 1–3 train; round 4 is beta's check.
fn two_bots(beta_pbt: &str) -> (Group, BTreeMap<String, Value>) {
    let mut g = Group::new(&[("alpha", "", ""), ("beta", beta_pbt, "")]);
    for round in 1..=3 {
        g.append("alpha", 300, LINE_A, 0.0);
        g.append("beta", 40, LINE_B, 0.0);
        let r = g.round();
        assert_eq!(metric(&r["beta"], "trained"), Some(1.0), "round {round}");
        assert!(g.copies().is_empty(), "no check before 3 outcomes");
    }
    assert!(
        g.catalog("alpha").champion().is_some(),
        "alpha has a checkpoint"
    );
    g.append("alpha", 300, LINE_A, 0.0);
    g.append("beta", 40, LINE_B, 0.0);
    let (r, events) = g.round_with_events();
    // The copy is on the decision stream `kaizen run --json` prints.
    let copy = events
        .iter()
        .find(|e| e["event"] == "pbt_copied")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(
        (&copy["bot"], &copy["from"]),
        (&"beta".into(), &"alpha".into())
    );
    (g, r)
}

/// (a) + (c): beta copies alpha; the copy, worse on beta's relation, is a
/// challenger the gate rejects; beta trains with the perturbed parameters
/// in the copy's cycle and, after restarts, in later cycles of that variant.
#[test]
fn the_bottom_bot_copies_a_saved_model_the_gate_judges_and_runs_the_perturbed_values() {
    let (mut g, r) = two_bots("");
    let copies = g.copies();
    assert_eq!(copies.len(), 1, "{copies:?}");
    let c = &copies[0];
    assert_eq!((c.bot.as_str(), c.from.as_str()), ("beta", "alpha"));
    assert!(
        g.catalog("alpha")
            .version(VersionId(c.from_version))
            .is_ok(),
        "the donor's version is on disk"
    );
    let perturbed = c.params["steps_per_energy"].as_f64().unwrap() as u64;

    // (c) A challenger: saved, judged, rejected; the champion did not move to it.
    let copied = VersionId(c.version.expect("the copy was saved"));
    assert_eq!(metric(&r["beta"], "pbt_version"), Some(copied.0 as f64));
    assert_eq!(metric(&r["beta"], "pbt_deployed"), Some(0.0));
    assert!(!c.deployed && !c.bypassed);
    let beta = g.catalog("beta");
    let meta = beta.version(copied).unwrap();
    assert_eq!(meta.info.status, VersionStatus::Rejected);
    assert_eq!(meta.info.extra["pbt"]["from"], "alpha");
    assert!(!beta.served(copied), "a rejected copy never served");

    // (a) The copy's cycle trained with the perturbed value…
    assert_eq!(g.trained_with("beta", &r["beta"]), Some(perturbed));
    // …and after restarts the serving variant still holds it and trains with it.
    let mut later = Vec::new();
    for _ in 0..2 {
        g.append("alpha", 300, LINE_A, 0.0);
        g.append("beta", 40, LINE_B, 0.0);
        let r = g.round();
        later.push(g.trained_with("beta", &r["beta"]).unwrap());
    }
    let v = g.variants("beta");
    assert_eq!(v.serving(), c.variant);
    assert_eq!(
        v.population().get(c.variant).unwrap().params,
        c.params,
        "nothing restored overwrote the perturbed values"
    );
    assert!(
        later.contains(&perturbed),
        "a later cycle trains with {perturbed}: {later:?}"
    );
    assert_eq!(
        g.copies().len(),
        1,
        "the copied variant is unscored: no second copy"
    );
}

/// (d) With `pbt_bypass_gate = true` the copy serves at once, and the alias
/// history says it bypassed the gate.
#[test]
fn pbt_bypass_gate_activates_the_copy() {
    let (g, r) = two_bots("pbt_bypass_gate = true");
    let copies = g.copies();
    assert_eq!(copies.len(), 1, "{copies:?}");
    let copied = VersionId(copies[0].version.unwrap());
    assert!(copies[0].deployed && copies[0].bypassed);
    assert_eq!(metric(&r["beta"], "pbt_deployed"), Some(1.0));
    let beta = g.catalog("beta");
    assert!(beta.served(copied));
    let activation = beta
        .history()
        .iter()
        .find(|m| m.to == Some(copied))
        .expect("the alias moved to the copy");
    assert!(
        activation.reason.contains("pbt_bypass_gate"),
        "{}",
        activation.reason
    );
}

/// (b) The top bot has no saved checkpoint (its gate refuses every
/// version of its noise): it is never copied; the next one is.
#[test]
fn a_bot_without_a_saved_checkpoint_is_never_copied() {
    let quantile = "pbt_quantile = 0.5";
    let mut g = Group::new(&[
        ("alpha", quantile, "min_improvement = 0.5"),
        ("gamma", quantile, ""),
        ("beta", quantile, ""),
        ("delta", quantile, ""),
    ]);
    for _ in 1..=4 {
        g.append("alpha", 400, (0.0, 1.0), 1.0);
        g.append("gamma", 300, LINE_A, 0.0);
        g.append("beta", 40, LINE_B, 0.0);
        g.append("delta", 30, LINE_B, 0.0);
        g.round();
    }
    assert!(
        g.catalog("alpha").champion().is_none(),
        "alpha never served a version"
    );
    assert!(g.catalog("alpha").versions().count() > 0, "alpha trained");
    let score = |bot: &str| g.variants(bot).pbt_member(bot).score;
    assert!(score("alpha") > score("gamma"), "alpha ranks first");
    let copies = g.copies();
    assert!(!copies.is_empty());
    for c in &copies {
        assert_eq!(c.from, "gamma", "{c:?}");
        assert!(c.bot == "beta" || c.bot == "delta", "{c:?}");
    }
}

//! Running a scenario with model bots (see [`super::model_bot`]): the fixed
//! policies over a [`World`] whose model bots' skill is their champion's
//! live accuracy.
//!
//! The world keeps the ledger, the cycle slots and the revenue noise as for
//! any bot; a model bot's cycle trains its model instead of adding skill,
//! and before the tick ends its skill is set to its champion's accuracy on
//! the tick's rows. Bots without a `[bots.model]` table behave as usual.
//! Each policy run gets fresh learners, their registries in a temporary
//! folder removed afterwards, so every policy starts from the same
//! champions and meets the same rows.
//!
//! The `learned` policy and the oracle do not run on a scenario with model
//! bots: the oracle plans with the skill formulas of [`super::bot`], which a
//! model bot does not follow, and the learned engines drive simulated
//! pipelines. The report has no oracle share.
//!
//! ```no_run
//! use kaizen::sim::{PolicyKind, Scenario, SimOptions, simulate};
//! let scenario = Scenario::load("examples/scenarios/models.toml".as_ref())?;
//! let report = simulate(&scenario, &SimOptions::default(), &mut |_, _| {})?;
//! assert!(report.policy(PolicyKind::Oracle).is_none());
//! println!("{}", report.table());
//! # Ok::<(), kaizen::Error>(())
//! ```

use super::PolicyKind;
use super::baseline::Baseline;
use super::model_bot::{ModelBot, ModelBotParams};
use super::report::{PolicyReport, Report};
use super::run::SimOptions;
use super::scenario::Scenario;
use super::world::World;
use crate::persist::PersistError;
use crate::{Error, Result};

/// Runs `policy` over a fresh world of `scenario`'s bots, model bots
/// training for real; `on_tick` after every tick.
pub fn run_models(
    mut policy: Baseline,
    scenario: &Scenario,
    seed: u64,
    ticks: u64,
    on_tick: &mut dyn FnMut(u64),
) -> Result<World> {
    let params = scenario
        .bots
        .iter()
        .map(|b| match &b.model {
            Some(_) => ModelBotParams::world_params(&b.params),
            None => b.params.clone(),
        })
        .collect();
    let mut world = World::new(params, scenario.capacity.max_concurrent, seed)?;
    let dir = tempfile::tempdir().map_err(|source| PersistError::Io {
        op: "create a temporary folder in",
        path: std::env::temp_dir(),
        source,
    })?;
    let mut models = Vec::with_capacity(scenario.bots.len());
    for (i, bot) in scenario.bots.iter().enumerate() {
        models.push(match &bot.model {
            Some(m) => Some(ModelBot::new(m, seed, i, &dir.path().join(&bot.name))?),
            None => None,
        });
    }
    let (mut wanted, mut ran) = (Vec::new(), Vec::new());
    for t in 0..ticks {
        let now = (t + 1) as f64 * scenario.tick_seconds;
        for bot in models.iter_mut().flatten() {
            bot.arrive(t, now)?;
        }
        wanted.clear();
        ran.clear();
        policy.choose(t, &world, &mut wanted);
        for &(i, energy) in &wanted {
            if world.run_cycle(i, energy).is_err() {
                break;
            }
            ran.push(i);
            if let Some(bot) = &mut models[i] {
                bot.improve(energy, now)?;
            }
        }
        for (i, bot) in models.iter().enumerate() {
            if let Some(bot) = bot {
                world.set_skill(i, bot.live_accuracy()?);
            }
        }
        world.end_tick();
        policy.observe(t, &ran, &world);
        on_tick(t);
    }
    Ok(world)
}

/// [`simulate`](super::simulate) for a scenario with model bots: the chosen
/// fixed policies (`learned`, `core`, `tuned` and `oracle` are left out:
/// they plan or learn with the skill world's formulas, which model bots do
/// not follow; choosing none of the fixed ones is an error).
pub fn simulate_models(
    scenario: &Scenario,
    options: &SimOptions,
    seed: u64,
    ticks: u64,
    on_tick: &mut dyn FnMut(PolicyKind, u64),
) -> Result<Report> {
    let names = scenario.bot_names();
    let mut rows = Vec::new();
    for kind in options.runs() {
        let Some(baseline) = Baseline::new(kind, &scenario.baselines, names.len(), seed) else {
            continue;
        };
        let world = run_models(baseline, scenario, seed, ticks, &mut |t| on_tick(kind, t))?;
        rows.push(PolicyReport::from_world(kind, &world, &names));
    }
    if rows.is_empty() {
        return Err(Error::invalid(
            "policies",
            options
                .policies
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", "),
            "at least one of always, interval, threshold, random (a scenario with model bots runs no learned engines, decision core, tuned rule or oracle)",
        ));
    }
    Ok(Report::new(scenario, seed, ticks, 0.0, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{PolicyKind, simulate};

    /// One model bot whose relation changes at tick 30.
    fn one_bot(extra: &str) -> String {
        format!(
            "ticks = 70\n[baselines]\nenergy = 4\nrandom_chance = 0.0\n{extra}\n\
             [[bots]]\nname = \"m\"\nnoise = 0.0\n[bots.model]\ndrift_at = [30]\nlearning_threshold = 60\n"
        )
    }

    fn options(policies: &[PolicyKind]) -> SimOptions {
        SimOptions {
            policies: policies.to_vec(),
            ..SimOptions::default()
        }
    }

    #[test]
    fn the_shipped_scenario_loads() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/scenarios/models.toml"
        );
        let s = Scenario::load(path.as_ref()).unwrap();
        assert!(s.has_models());
        assert_eq!(s.bot_names(), ["fraud", "churn", "spam"]);
        assert_eq!(s.bots[2].model.as_ref().unwrap().drift_at, [40, 90, 160]);
    }

    #[test]
    fn the_same_seed_gives_the_same_report_byte_for_byte() {
        let s = Scenario::from_toml(&one_bot("")).unwrap();
        let o = SimOptions {
            ticks: Some(40),
            ..options(&[PolicyKind::Always, PolicyKind::Threshold])
        };
        let a = simulate(&s, &o, &mut |_, _| {}).unwrap().to_json();
        let b = simulate(&s, &o, &mut |_, _| {}).unwrap().to_json();
        assert_eq!(a, b);
        let other = SimOptions {
            seed: Some(2),
            ..o.clone()
        };
        assert_ne!(a, simulate(&s, &other, &mut |_, _| {}).unwrap().to_json());
        assert!(
            a.contains("\"drift_at\""),
            "the report shows the model table"
        );
    }

    #[test]
    fn accuracy_drops_at_the_drift_and_recovers_after_retraining() {
        let s = Scenario::from_toml(&one_bot("")).unwrap();
        let params = s.bots[0].model.as_ref().unwrap();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        // The same bot twice: retraining every tick from the drift on, or never.
        let mut runs = Vec::new();
        for retrain in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let mut bot = ModelBot::new(params, 1, 0, dir.path()).unwrap();
            let mut acc = Vec::new();
            for t in 0..70 {
                bot.arrive(t, t as f64).unwrap();
                if retrain && t >= 30 {
                    bot.improve(4, t as f64).unwrap();
                }
                acc.push(bot.live_accuracy().unwrap());
            }
            runs.push((acc, bot.learner().state().counters.deployments));
        }
        let (retrained, deployed) = &runs[0];
        let (kept, kept_deployed) = &runs[1];
        let before = mean(&retrained[..30]);
        let drifted = mean(&kept[30..]);
        let recovered = mean(&retrained[50..]);
        assert_eq!(&retrained[..30], &kept[..30], "the same rows and champion");
        assert!(before > 0.85, "the first version serves well: {before}");
        assert!(
            drifted < before - 0.1,
            "the drift hurts: {drifted} vs {before}"
        );
        assert!(
            recovered > drifted + 0.1,
            "retraining recovers: {recovered} vs {drifted}"
        );
        assert!(
            *deployed >= 2 && *kept_deployed == 1,
            "{deployed} {kept_deployed}"
        );
    }

    #[test]
    fn retraining_earns_more_than_never_improving() {
        let s = Scenario::from_toml(&one_bot("")).unwrap();
        // `random` with chance 0 never runs a cycle.
        let r = simulate(
            &s,
            &options(&[PolicyKind::Always, PolicyKind::Random]),
            &mut |_, _| {},
        )
        .unwrap();
        let always = r.policy(PolicyKind::Always).unwrap();
        let never = r.policy(PolicyKind::Random).unwrap();
        assert_eq!((always.cycles, never.cycles), (70, 0));
        assert!(
            always.revenue > never.revenue * 1.1,
            "{} vs {}",
            always.revenue,
            never.revenue
        );
        assert!(r.policy(PolicyKind::Oracle).is_none());
        assert_eq!(always.share_of_oracle, None);
    }

    #[test]
    fn bad_values_are_refused_naming_the_key() {
        let cases = [
            (
                "features = 0",
                "invalid scenario.bots[0].model.features = 0: expected a whole number in 1..=64",
            ),
            (
                "label_noise = 0.5",
                "invalid scenario.bots[0].model.label_noise = 0.5: expected a number in [0, 0.5)",
            ),
            (
                "lr = nan",
                "scenario.bots[0].model.lr must be a finite number, got NaN",
            ),
            (
                "max_buffer = 10",
                "invalid scenario.bots[0].model.max_buffer = 10: expected at least learning_threshold and min_samples",
            ),
            (
                "hidden = [0]",
                "invalid scenario.bots[0].model.hidden = 0: expected layer widths in 1..=256",
            ),
        ];
        for (line, message) in cases {
            let text = format!("{}{line}\n", one_bot(""));
            let err = Scenario::from_toml(&text).unwrap_err().to_string();
            assert_eq!(err, message, "{line}");
        }
        let typo = Scenario::from_toml(&format!("{}featurs = 3\n", one_bot("")))
            .unwrap_err()
            .to_string();
        assert!(typo.contains("featurs") && typo.contains("line"), "{typo}");
        let skill = Scenario::from_toml(
            "[[bots]]\nname = \"m\"\nskill = 0.5\n[bots.model]\nfeatures = 2\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            skill.contains("`skill` does not apply to a model bot"),
            "{skill}"
        );
        let s = Scenario::from_toml(&one_bot("")).unwrap();
        let err = simulate(&s, &options(&[PolicyKind::Learned]), &mut |_, _| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("policies") && err.contains("or oracle"),
            "{err}"
        );
    }
}

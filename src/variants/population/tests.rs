use super::*;
use crate::variants::space::{ParamSpec, Value};
use std::collections::BTreeMap;

const SPACE: &str = "lr = { float = [1e-4, 1.0], log = true }\nn = { int = [1, 16] }\nopt = { choice = [\"a\", \"b\", \"c\", \"d\"] }";

fn space_of(text: &str) -> Space {
    let specs: BTreeMap<String, ParamSpec> = toml::from_str(text).unwrap();
    Space::from_specs(&specs).unwrap()
}

fn space() -> Space {
    space_of(SPACE)
}

/// One hidden parameter of a world: its `[variants.space]` entry, how its
/// best value is drawn, and how fast the value falls away from it.
#[derive(Clone, Copy)]
enum Axis {
    /// A log-scale float whose best is `10^u`, `u` uniform in `[lo, hi)`;
    /// the value falls as a Gaussian of sd `width` decades.
    LogFloat(&'static str, f64, f64, f64),
    /// A float whose best is uniform in `[lo, hi)`; Gaussian of sd `width`.
    Float(&'static str, f64, f64, f64),
    /// An integer whose best is uniform in `lo..=hi`; Gaussian of sd `width`.
    Int(&'static str, i64, i64, f64),
    /// A log-scale integer whose best is `2^k`, `k` uniform in `lo..=hi`;
    /// Gaussian of sd `width` octaves.
    LogInt(&'static str, i64, i64, f64),
    /// One of `n` choices, best uniform; the value loses `step` per place away.
    Choice(&'static str, usize, f64),
}

const LR: (&str, &str, Axis) = (
    "lr",
    "{ float = [1e-4, 1.0], log = true }",
    Axis::LogFloat("lr", -3.5, -0.5, 1.0),
);
const N: (&str, &str, Axis) = ("n", "{ int = [1, 16] }", Axis::Int("n", 2, 15, 5.0));
const OPT: (&str, &str, Axis) = (
    "opt",
    "{ choice = [\"a\", \"b\", \"c\", \"d\"] }",
    Axis::Choice("opt", 4, 0.1),
);
const X: (&str, &str, Axis) = (
    "x",
    "{ float = [0.0, 10.0] }",
    Axis::Float("x", 1.0, 9.0, 1.5),
);
const BATCH: (&str, &str, Axis) = (
    "batch",
    "{ int = [1, 1024], log = true }",
    Axis::LogInt("batch", 1, 9, 1.0),
);

/// A world: hidden parameters; a bot's value (peak 1) is the product of
/// each parameter's closeness to its hidden best.
struct World(Vec<(&'static str, &'static str, Axis)>);

impl World {
    fn space(&self) -> String {
        self.0
            .iter()
            .map(|(n, s, _)| format!("{n} = {s}\n"))
            .collect()
    }

    /// Bot `seed`'s hidden best of each axis, drawn in order.
    fn hidden(&self, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(1_000 + seed);
        self.0
            .iter()
            .map(|(_, _, axis)| match *axis {
                Axis::LogFloat(_, lo, hi, _) => 10f64.powf(rng.random_range(lo..hi)),
                Axis::Float(_, lo, hi, _) => rng.random_range(lo..hi),
                Axis::Int(_, lo, hi, _) => rng.random_range(lo..=hi) as f64,
                Axis::LogInt(_, lo, hi, _) => 2f64.powi(rng.random_range(lo..=hi) as i32),
                Axis::Choice(_, n, _) => rng.random_range(0..n) as f64,
            })
            .collect()
    }

    fn value(&self, best: &[f64], p: &Params) -> f64 {
        let gauss = |d: f64, w: f64| (-0.5 * (d / w).powi(2)).exp();
        self.0
            .iter()
            .zip(best)
            .map(|((_, _, axis), &b)| match *axis {
                Axis::LogFloat(name, .., w) => gauss((p[name].as_f64().unwrap() / b).log10(), w),
                Axis::Float(name, .., w) | Axis::Int(name, .., w) => {
                    gauss(p[name].as_f64().unwrap() - b, w)
                }
                Axis::LogInt(name, .., w) => gauss((p[name].as_f64().unwrap() / b).log2(), w),
                Axis::Choice(name, n, step) => {
                    let Value::Text(o) = &p[name] else { panic!() };
                    let i = (0..n).position(|i| o == &((b'a' + i as u8) as char).to_string());
                    1.0 - step * (i.unwrap() as f64 - b).abs()
                }
            })
            .product()
    }
}

/// Runs `cycles` cycles of bot `seed` in `world` with outcome noise `sd`;
/// returns the best true value in the population and the true value of the
/// member the population ranks best.
fn run(world: &World, seed: u64, cycles: u64, sd: f64) -> (f64, f64) {
    let best = world.hidden(seed);
    let mut pop = Population::new(
        space_of(&world.space()),
        EvolutionConfig::default(),
        1,
        seed,
    )
    .unwrap();
    let mut noise = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    for _ in 0..cycles {
        let v = pop.next().unwrap();
        let (id, truth) = (v.id, world.value(&best, &v.params));
        let z: f64 = (0..12).map(|_| noise.random::<f64>()).sum::<f64>() - 6.0;
        pop.record(id, truth + sd * z, &[]).unwrap();
    }
    let max = pop
        .members()
        .iter()
        .map(|v| world.value(&best, &v.params))
        .fold(0.0, f64::max);
    (max, world.value(&best, &pop.best().unwrap().params))
}

/// Over bots 1..=20 after 200 cycles with noise `sd`: the worst population
/// maximum, and the mean and worst value of the member the population ranks best.
fn scenario(world: &World, sd: f64) -> (f64, f64, f64) {
    let results: Vec<(f64, f64)> = (1..=20).map(|seed| run(world, seed, 200, sd)).collect();
    let worst_max = results.iter().map(|r| r.0).fold(1.0, f64::min);
    let mean_ranked = results.iter().map(|r| r.1).sum::<f64>() / 20.0;
    let worst_ranked = results.iter().map(|r| r.1).fold(1.0, f64::min);
    (worst_max, mean_ranked, worst_ranked)
}

#[test]
fn hidden_best_parameter_is_reached_within_200_cycles() {
    // Issue 14's must-show: each of 20 bots has its own hidden best; outcomes
    // carry noise sd 0.05 (a twentieth of the peak). The member the population
    // ranks best must reach 95% of the best value within 200 cycles.
    let one = scenario(&World(vec![LR]), 0.05);
    eprintln!("one hidden parameter: {one:.3?}");
    assert!(one.0 >= 0.95 && one.2 >= 0.95, "{one:?}");
    // Three hidden parameters at once (a log-scale float, an int, a choice).
    let three = scenario(&World(vec![LR, N, OPT]), 0.05);
    eprintln!("three hidden parameters: {three:.3?}");
    assert!(three.1 >= 0.95 && three.2 >= 0.85, "{three:?}");
}

/// Worlds and noise levels beyond the must-show's, so that the engine is not
/// fitted to one: (worst max, mean ranked, worst ranked) each.
#[test]
fn hidden_best_across_worlds_and_noise() {
    let worlds = [
        ("lr", World(vec![LR]), 0.05),
        ("lr n", World(vec![LR, N]), 0.05),
        ("lr n opt", World(vec![LR, N, OPT]), 0.05),
        ("lr n opt, sd 0", World(vec![LR, N, OPT]), 0.0),
        ("lr n opt, sd 0.15", World(vec![LR, N, OPT]), 0.15),
        ("x batch opt", World(vec![X, BATCH, OPT]), 0.05),
        ("x batch", World(vec![X, BATCH]), 0.1),
    ];
    let mut means = Vec::new();
    for (name, world, sd) in &worlds {
        let r = scenario(world, *sd);
        eprintln!(
            "{name:>18}: worst max {:.3}, ranked mean {:.3}, worst {:.3}",
            r.0, r.1, r.2
        );
        means.push(r.1);
    }
    assert!(means.iter().all(|&m| m >= 0.85), "{means:?}");
}

#[test]
fn same_seed_same_population_and_serde_round_trip_goes_on_identically() {
    let mut a = Population::new(space(), EvolutionConfig::default(), 2, 9).unwrap();
    for i in 0..20 {
        let id = a.next().unwrap().id;
        a.record(id, f64::from(i % 7), &[]).unwrap();
    }
    let mut b: Population = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    assert_eq!(a, b);
    for i in 0..40 {
        let (ia, ib) = (a.next().unwrap().id, b.next().unwrap().id);
        assert_eq!(ia, ib);
        a.record(ia, f64::from(i % 5), &[]).unwrap();
        b.record(ib, f64::from(i % 5), &[]).unwrap();
    }
    assert_eq!(a, b);
    assert!(a.generation() >= 7);
}

#[test]
fn a_generation_replaces_the_bottom_quarter_by_children_of_the_top() {
    let mut pop = Population::new(space(), EvolutionConfig::default(), 1, 3).unwrap();
    let ids: Vec<u64> = pop.members().iter().map(|v| v.id).collect();
    let mut ended = None;
    for (i, &id) in ids.iter().enumerate() {
        // Member i scores i; members 0 and 1 are the bottom two, 6 and 7 the top.
        ended = pop.record(id, i as f64, &[1]).unwrap();
    }
    let generation = ended.expect("the generation ends once all have an outcome");
    // Member 1 is protected, so 0 and 2 go.
    assert_eq!(generation.retired, vec![0, 2]);
    assert_eq!(generation.born, vec![8, 9]);
    for id in generation.born {
        let child = pop.get(id).unwrap();
        assert!(
            child.parents.iter().all(|p| [6, 7].contains(p)),
            "{:?}",
            child.parents
        );
        pop.space().check(&child.params).unwrap();
    }
    assert_eq!(pop.best().unwrap().id, 7);
}

#[test]
fn a_generation_runs_the_new_members_and_the_top_only() {
    let mut pop = Population::new(space(), EvolutionConfig::default(), 1, 3).unwrap();
    for id in 0..8 {
        pop.record(id, id as f64, &[1]).unwrap();
    }
    // Generation 1: children 8 and 9 (new) and 6 and 7 (the top quarter) are
    // due; 1, 3, 4 and 5 wait. Child 8 is lucky and joins the top at once,
    // so 6 is no longer a parent and is not re-run.
    let mut ran = Vec::new();
    let mut ended = None;
    while ended.is_none() {
        let id = pop.next().unwrap().id;
        ran.push(id);
        let value = match id {
            8 => 100.0,
            9 => -1.0,
            _ => id as f64,
        };
        ended = pop.record(id, value, &[1]).unwrap();
    }
    assert_eq!(ran, vec![8, 9, 7]);
    // 1 is protected, so 9 and 3 go; their children are 10 and 11.
    assert_eq!(ended.unwrap().retired, vec![9, 3]);
    // Generation 2 checks the lucky child again (it comes first in order);
    // when 7's estimate falls below 6's, 6 becomes a parent and is due.
    let ran: Vec<u64> = (0..5)
        .map(|_| {
            let id = pop.next().unwrap().id;
            assert!(pop.record(id, 0.0, &[1]).unwrap().is_none());
            id
        })
        .collect();
    assert_eq!(ran, vec![8, 10, 11, 7, 6]);
}

#[test]
fn bad_settings_and_outcomes_are_refused() {
    let bad = |c: EvolutionConfig| Population::new(space(), c, 1, 1).unwrap_err().to_string();
    assert!(
        bad(EvolutionConfig {
            size: 1,
            ..Default::default()
        })
        .contains("variants.evolution.size")
    );
    assert!(
        bad(EvolutionConfig {
            quantile: 0.9,
            ..Default::default()
        })
        .contains("variants.evolution.quantile")
    );
    assert!(
        bad(EvolutionConfig {
            evaluations: 0,
            ..Default::default()
        })
        .contains("variants.evolution.evaluations")
    );
    assert!(Population::new(space(), EvolutionConfig::default(), 0, 1).is_err());
    let mut pop = Population::new(space(), EvolutionConfig::default(), 1, 1).unwrap();
    assert!(pop.record(0, f64::NAN, &[]).is_err());
    assert!(pop.record(99, 1.0, &[]).is_err());
    assert_eq!(pop.members()[0].outcomes.count, 0);
}

//! The decider on a toy bot of known dynamics, tick by tick with a ledger
//! (or with reported values only).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

/// A bot of dynamics `d` starting at `level`, with relative revenue noise
/// `noise`, and its ledger.
#[derive(Clone)]
struct Toy {
    d: Dynamics,
    level: f64,
    noise: f64,
    profit: f64,
    rng: ChaCha8Rng,
}

impl Toy {
    fn new(d: Dynamics, level: f64, noise: f64) -> Toy {
        Toy {
            d,
            level,
            noise,
            profit: 0.0,
            rng: ChaCha8Rng::seed_from_u64(9),
        }
    }

    /// Runs a cycle of `energy` (when > 0); returns the profit after it.
    fn cycle(&mut self, energy: u32) -> f64 {
        self.level = self.d.after(self.level, energy);
        self.profit -= self.d.cost_per_energy * f64::from(energy);
        self.profit
    }

    /// Ends the tick: the revenue of the tick, then the decay.
    fn end_tick(&mut self) {
        let u = self.rng.random::<f64>() * 2.0 - 1.0;
        self.profit += self.level * (1.0 + self.noise * u);
        self.level *= self.d.retention;
    }
}

fn bot() -> Dynamics {
    Dynamics {
        retention: 0.99,
        ceiling: 100.0,
        gain: 0.3,
        half_energy: 8.0,
        cost_per_energy: 2.0,
    }
}

fn decider(seed: u64) -> Decider {
    Decider::new(DecideConfig {
        seed,
        ..DecideConfig::default()
    })
    .unwrap()
}

/// `ticks` ticks of `toy` with `decider` and the ledger; every decision.
fn drive(decider: &mut Decider, toy: &mut Toy, ticks: u64) -> Vec<Decision> {
    (0..ticks)
        .map(|t| {
            let decision = decider.decide(&Context {
                profit: Some(toy.profit),
                remaining: Some(ticks - t),
                ..Context::default()
            });
            if decision.energy > 0 {
                let after = toy.cycle(decision.energy);
                decider.record(Outcome::Ran {
                    energy: decision.energy,
                    profit_after: Some(after),
                    reported: None,
                });
            } else {
                decider.record(Outcome::Skipped);
            }
            toy.end_tick();
            decision
        })
        .collect()
}

#[test]
fn every_option_has_a_known_probability_and_the_record_explains_the_choice() {
    let mut d = decider(1);
    let decisions = drive(&mut d, &mut Toy::new(bot(), 50.0, 0.1), 400);
    let floor = 0.02 / 11.0 / 100.0; // ε spread in proportion to 1 / E
    for x in &decisions {
        assert_eq!(x.options.len(), 11);
        assert_eq!(x.options[0].energy, 0);
        let total: f64 = x.options.iter().map(|o| o.probability).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        assert!(x.options.iter().all(|o| o.probability > floor));
        let chosen = x.options.iter().find(|o| o.energy == x.energy).unwrap();
        assert_eq!(x.propensity, chosen.probability);
        assert_eq!(x.source, Source::Ledger);
        if x.energy > 0 {
            assert_eq!(x.value, chosen.value);
        }
    }
    assert_eq!(decisions[0].why, Why::FirstLook);
    assert_eq!(decisions[0].energy, 0);
    // Once learned, the choice is mostly the option of highest expected value.
    let late = &decisions[200..];
    let best = late
        .iter()
        .filter(|x| match x.why {
            Why::Best => {
                let top = x.options.iter().map(|o| o.value).fold(f64::MIN, f64::max);
                x.options
                    .iter()
                    .find(|o| o.energy == x.energy)
                    .unwrap()
                    .value
                    == top
                    || (x.energy == 0 && top <= 0.0)
            }
            _ => false,
        })
        .count();
    assert!(best > late.len() * 8 / 10, "{best} of {}", late.len());
}

#[test]
fn a_worthwhile_bot_is_kept_up_and_a_dead_end_is_left_alone() {
    let mut good = Toy::new(bot(), 50.0, 0.1);
    let runs = drive(&mut decider(2), &mut good, 1000)
        .iter()
        .filter(|x| x.energy > 0)
        .count();
    // Left alone the level would fall from 50 to nearly 0.
    assert!(good.level > 60.0, "{}", good.level);
    assert!(runs > 30, "{runs}");
    let dead = Dynamics { gain: 0.0, ..bot() };
    let decisions = drive(&mut decider(2), &mut Toy::new(dead, 50.0, 0.1), 1000);
    let late = decisions[500..].iter().filter(|x| x.energy > 0).count();
    assert!(
        late < 25,
        "{late} cycles on a dead end in the last 500 ticks"
    );
}

#[test]
fn the_same_seed_decides_the_same_and_a_saved_decider_carries_on() {
    let mut a = decider(5);
    let mut toy = Toy::new(bot(), 50.0, 0.2);
    drive(&mut a, &mut toy, 150);
    let json = serde_json::to_string(&a).unwrap();
    let mut b: Decider = serde_json::from_str(&json).unwrap();
    assert_eq!(a, b);
    let mut toy_b = toy.clone();
    assert_eq!(drive(&mut a, &mut toy, 100), drive(&mut b, &mut toy_b, 100));
    let other = drive(&mut decider(6), &mut Toy::new(bot(), 50.0, 0.2), 150);
    let again = drive(&mut decider(5), &mut Toy::new(bot(), 50.0, 0.2), 150);
    assert_ne!(other, again);
}

#[test]
fn a_forced_cycle_always_runs_and_diagnostics_widen_the_doubt() {
    let mut d = decider(3);
    let mut toy = Toy::new(bot(), 50.0, 0.05);
    drive(&mut d, &mut toy, 300);
    let context = |force, diagnostics| Context {
        profit: Some(toy.profit),
        remaining: Some(1000),
        triggers: Triggers {
            force,
            diagnostics,
            ..Triggers::default()
        },
        ..Context::default()
    };
    let mut probe = d.clone();
    for _ in 0..50 {
        let x = probe.decide(&context(true, false));
        assert!(x.forced && x.energy > 0 && x.options[0].probability == 0.0);
        probe.record(Outcome::Skipped);
    }
    let calm = d.clone().decide(&context(false, false));
    let worried = d.clone().decide(&context(false, true));
    let spread = |x: &Decision| x.options.iter().map(|o| o.spread).sum::<f64>();
    assert!(spread(&worried) > spread(&calm), "{worried:?} vs {calm:?}");
}

#[test]
fn without_a_ledger_the_reported_values_pick_the_energy() {
    // The pipeline reports a cycle of energy E worth 10 − (E − 8)² / 4.
    let worth = |e: u32| 10.0 - (f64::from(e) - 8.0).powi(2) / 4.0;
    let mut d = decider(4);
    let mut chosen = Vec::new();
    for _ in 0..600 {
        let x = d.decide(&Context::default());
        assert_eq!(x.source, Source::Reported);
        if x.energy > 0 {
            d.record(Outcome::Ran {
                energy: x.energy,
                profit_after: None,
                reported: Some(worth(x.energy)),
            });
        } else {
            d.record(Outcome::Skipped);
        }
        chosen.push(x.energy);
    }
    let late = &chosen[300..];
    let at_best = late.iter().filter(|&&e| e == 8).count();
    assert!(at_best > late.len() * 8 / 10, "{at_best} of {}", late.len());
}

#[test]
fn bad_settings_are_refused_by_name() {
    for (config, field) in [
        (
            DecideConfig {
                energies: vec![3, 2],
                ..DecideConfig::default()
            },
            "decide.energies",
        ),
        (
            DecideConfig {
                epsilon: 0.01,
                ..DecideConfig::default()
            },
            "decide.epsilon",
        ),
        (
            DecideConfig {
                draws: 0,
                ..DecideConfig::default()
            },
            "decide.draws",
        ),
    ] {
        let err = Decider::new(config).unwrap_err().to_string();
        assert!(err.contains(field), "{err}");
    }
}

#[test]
fn new_settings_keep_what_was_learned() {
    let mut d = decider(4);
    let mut toy = Toy::new(bot(), 50.0, 0.1);
    drive(&mut d, &mut toy, 150);
    let learned = d.dynamics().unwrap();
    let mut changed = d.clone();
    changed
        .reconfigure(DecideConfig {
            energies: vec![2, 8, 30],
            epsilon: 0.3,
            ..DecideConfig::default()
        })
        .unwrap();
    assert_eq!(changed.dynamics().unwrap(), learned);
    assert_eq!(changed.config().seed, 4);
    let next = drive(&mut changed, &mut toy.clone(), 1).remove(0);
    assert_eq!(next.options.len(), 4);
    // The floor is the new ε's: 0.3 spread in proportion to 1 / E.
    let weights = [1.0, 0.5, 0.125, 1.0 / 30.0];
    let total: f64 = weights.iter().sum();
    for (o, w) in next.options.iter().zip(weights) {
        assert!(o.probability >= 0.3 * w / total - 1e-12, "{o:?}");
    }
    // Invalid settings change nothing.
    let before = changed.clone();
    assert!(
        changed
            .reconfigure(DecideConfig {
                epsilon: 0.0,
                ..DecideConfig::default()
            })
            .is_err()
    );
    assert_eq!(changed, before);
}

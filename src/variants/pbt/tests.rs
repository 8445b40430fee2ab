use super::*;
use crate::variants::space::ParamSpec;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

fn space() -> Space {
    let specs: BTreeMap<String, ParamSpec> =
        toml::from_str("lr = { float = [1e-4, 1.0], log = true }").unwrap();
    Space::from_specs(&specs).unwrap()
}

fn lr(p: &Params) -> f64 {
    p["lr"].as_f64().unwrap()
}

fn member(bot: &str, lr: f64, score: Option<f64>, saved: Option<u64>) -> PbtMember {
    PbtMember {
        bot: bot.into(),
        params: [("lr".to_string(), crate::variants::Value::Float(lr))].into(),
        score,
        saved,
    }
}

#[test]
fn the_bottom_quarter_copies_the_top_quarters_saved_versions() {
    let members: Vec<PbtMember> = (0..8u32)
        .map(|i| {
            member(
                &format!("b{i}"),
                0.01,
                Some(f64::from(i)),
                Some(100 + u64::from(i)),
            )
        })
        .collect();
    let copies = pbt_step(&space(), &members, 0.25, &mut ChaCha8Rng::seed_from_u64(1));
    let pairs: Vec<(&str, &str, u64)> = copies
        .iter()
        .map(|c| (c.bot.as_str(), c.from.as_str(), c.version))
        .collect();
    assert_eq!(pairs, [("b1", "b7", 107), ("b0", "b6", 106)]);
    for c in &copies {
        assert!(c.params != members[7].params || c.params != members[6].params);
    }
}

#[test]
fn bots_that_saved_nothing_are_never_copied_and_unscored_bots_are_left_alone() {
    let mut members: Vec<PbtMember> = (0..8u32)
        .map(|i| {
            member(
                &format!("b{i}"),
                0.01,
                Some(f64::from(i)),
                Some(u64::from(i)),
            )
        })
        .collect();
    members[7].saved = None;
    members[0].score = None;
    let copies = pbt_step(&space(), &members, 0.25, &mut ChaCha8Rng::seed_from_u64(1));
    assert!(
        copies.iter().all(|c| c.from == "b6" && c.version == 6),
        "{copies:?}"
    );
    assert!(copies.iter().all(|c| c.bot != "b0"));
    for m in &mut members {
        m.saved = None;
    }
    assert!(pbt_step(&space(), &members, 0.25, &mut ChaCha8Rng::seed_from_u64(1)).is_empty());
}

/// A group of bots training one kind of model: each cycle a bot's skill
/// (its checkpoint's value, 0..1) grows at a rate set by how close its
/// learning rate is to the group's hidden best; a version is saved every
/// `interval` cycles.
struct Bot {
    lr: f64,
    skill: f64,
    saved: (u64, f64),
}

fn rate(lr: f64, best: f64) -> f64 {
    let decades = (lr / best).log10();
    0.01 * (-0.5 * decades * decades).exp()
}

/// Mean final skill of 8 bots after 400 cycles, with PBT or with each bot
/// tuning its own learning rate (keep a mutation when its interval grew more).
fn group(seed: u64, pbt: bool) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let best = 10f64.powf(rng.random_range(-3.5..-0.5));
    let space = space();
    let mut bots: Vec<Bot> = (0..8)
        .map(|_| Bot {
            lr: 10f64.powf(rng.random_range(-4.0..0.0)),
            skill: 0.0,
            saved: (0, 0.0),
        })
        .collect();
    let interval = 20;
    let mut last_gain = [0.0; 8];
    let mut previous_lr: Vec<f64> = bots.iter().map(|b| b.lr).collect();
    let mut start = [0.0; 8];
    for cycle in 1..=400u64 {
        for b in &mut bots {
            b.skill += rate(b.lr, best) * (1.0 - b.skill);
        }
        if cycle % interval != 0 {
            continue;
        }
        for (i, b) in bots.iter_mut().enumerate() {
            b.saved = (cycle, b.skill);
            let gain = b.skill - start[i];
            if !pbt {
                // Independent tuning: keep the new rate if it gained more, then try another.
                if gain < last_gain[i] {
                    b.lr = previous_lr[i];
                } else {
                    last_gain[i] = gain;
                }
                previous_lr[i] = b.lr;
                let p: Params = [("lr".to_string(), crate::variants::Value::Float(b.lr))].into();
                b.lr = lr(&mutate(&space, &p, &mut rng));
            }
        }
        if pbt {
            let members: Vec<PbtMember> = bots
                .iter()
                .enumerate()
                .map(|(i, b)| member(&format!("b{i}"), b.lr, Some(b.skill), Some(b.saved.0)))
                .collect();
            for copy in pbt_step(&space, &members, 0.25, &mut rng) {
                let from: usize = copy.from[1..].parse().unwrap();
                let to: usize = copy.bot[1..].parse().unwrap();
                assert_eq!(
                    copy.version, bots[from].saved.0,
                    "only the saved version is copied"
                );
                bots[to].skill = bots[from].saved.1;
                bots[to].lr = lr(&copy.params);
            }
        }
        for (i, b) in bots.iter().enumerate() {
            start[i] = b.skill;
        }
    }
    bots.iter().map(|b| b.skill).sum::<f64>() / 8.0
}

#[test]
fn pbt_beats_independent_tuning_on_a_group_of_8_bots() {
    for seed in 1..=5 {
        let (with, alone) = (group(seed, true), group(seed, false));
        eprintln!("seed {seed}: PBT {with:.3}, independent {alone:.3}");
        assert!(
            with > alone,
            "seed {seed}: PBT {with} vs independent {alone}"
        );
    }
}

#[test]
fn after_a_copy_the_perturbed_parameters_run() {
    // The copy's parameters are a mutation of the donor's, not the donor's,
    // and they are what the sim above runs after restoring the version.
    let members: Vec<PbtMember> = (0..4)
        .map(|i| {
            member(
                &format!("b{i}"),
                0.01 * f64::from(i + 1),
                Some(f64::from(i)),
                Some(1),
            )
        })
        .collect();
    let mut changed = 0;
    for seed in 0..50 {
        let copies = pbt_step(
            &space(),
            &members,
            0.25,
            &mut ChaCha8Rng::seed_from_u64(seed),
        );
        assert_eq!(copies.len(), 1);
        assert_eq!(copies[0].from, "b3");
        changed += usize::from(lr(&copies[0].params) != 0.04);
    }
    assert_eq!(changed, 50);
}

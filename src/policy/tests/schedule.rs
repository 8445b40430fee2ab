//! Exploration schedules inside the policy: when they move, what the
//! choice then uses, how they reload, and how a version-1 file migrates.

use super::*;
use crate::persist::Durability;
use std::fs;

#[test]
fn epsilon_moves_after_each_update_and_the_choice_uses_it() {
    let mut p = policy(PolicyConfig {
        epsilon: 1.0,
        epsilon_schedule: Schedule::Linear { to: 0.0, over: 4 },
        ..PolicyConfig::default()
    });
    let unseen = st(9);
    let mut seen = Vec::new();
    for _ in 0..5 {
        p.update(&st(1), Action::Run, 1.0, None).unwrap();
        seen.push((p.epsilon(), p.action_probabilities(&unseen)[0]));
    }
    // ε: 1 → 0.75, 0.5, 0.25, 0, 0; an unseen state ties (→ run), so p(skip) = ε/2.
    assert_eq!(
        seen,
        [
            (0.75, 0.375),
            (0.5, 0.25),
            (0.25, 0.125),
            (0.0, 0.0),
            (0.0, 0.0)
        ]
    );
    assert_eq!(p.config().epsilon, 0.0);
    assert_eq!(p.schedule_starts().0, 1.0);
}

#[test]
fn temperature_decays_to_its_floor_and_softmax_follows() {
    let mut p = policy(PolicyConfig {
        exploration: Exploration::Softmax,
        temperature: 1.0,
        temperature_schedule: Schedule::Exponential {
            rate: 0.5,
            floor: 0.1,
        },
        ..PolicyConfig::default()
    });
    let s = st(2);
    let mut temperatures = Vec::new();
    for _ in 0..5 {
        // Q(s, run) = 0.5 after the first update, then 0.5·(1 + 0.9·…) …
        p.update(&st(3), Action::Run, 1.0, None).unwrap();
        temperatures.push(p.temperature());
    }
    assert_eq!(temperatures, [0.5, 0.25, 0.125, 0.1, 0.1]);
    // Q(s, run) = 1, Q(s, skip) = 0 at T = 0.1: p(run) = 1/(1 + e^−10).
    p.update(&s, Action::Run, 2.0, None).unwrap();
    close(p.q(&s, Action::Run), 1.0);
    close(
        p.action_probabilities(&s)[1],
        1.0 / (1.0 + (-10.0f64).exp()),
    );
}

#[test]
fn schedules_and_adaptive_rates_move_together() {
    let mut p = policy(PolicyConfig {
        adaptive: true,
        epsilon: 0.5,
        epsilon_schedule: Schedule::Exponential {
            rate: 0.5,
            floor: 0.0,
        },
        ..PolicyConfig::default()
    });
    p.update(&st(1), Action::Run, 1.0, None).unwrap();
    p.update(&st(1), Action::Run, 3.0, None).unwrap();
    // α = max(0.1, 1/3); γ = 0.9/(1 + var{1, 3} = 1) = 0.45 → 0.5; ε = 0.5·0.5².
    close(p.alpha(), 1.0 / 3.0);
    assert_eq!(p.gamma(), 0.5);
    assert_eq!(p.epsilon(), 0.125);
}

#[test]
fn a_loaded_policy_recomputes_its_schedule_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    let config = PolicyConfig {
        epsilon: 1.0,
        epsilon_schedule: Schedule::Linear { to: 0.0, over: 8 },
        ..PolicyConfig::default()
    };
    let mut p = policy(config.clone());
    for _ in 0..3 {
        p.update(&st(1), Action::Run, 1.0, None).unwrap();
    }
    p.save(&path, Durability::Atomic).unwrap();
    // The same settings: exactly the value it had (1 − 3/8).
    let same = SelfImprovementPolicy::load(&path, config.clone()).unwrap();
    assert_eq!(same.epsilon(), 0.625);
    assert_eq!(same, p);
    // Settings come from the config: another schedule (or start) takes over
    // from the file's episode count.
    let faster = SelfImprovementPolicy::load(
        &path,
        PolicyConfig {
            epsilon: 0.5,
            epsilon_schedule: Schedule::Linear { to: 0.0, over: 4 },
            ..config
        },
    )
    .unwrap();
    assert_eq!(faster.epsilon(), 0.125);
    assert_eq!(faster.schedule_starts().0, 0.5);
}

/// A `policy.json` as kaizen round 1 wrote it (version 1: no schedules).
const ROUND1: &str = r#"{"version":1,"hyperparameters":{"alpha":0.5,"gamma":0.9,"epsilon":0.2,"temperature":1.0,"exploration":"epsilon_greedy","adaptive":false,"lambda":0.9,"seed":0},"strategy":"q_learning","episodes":2,"values":[{"state":[2,0,0,0,0,0,0,0,0,0,0,0,0,0],"actions":{"0":0.0,"1":0.5}}],"rng":{"seed":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"stream":0,"word_pos":3}}"#;

#[test]
fn a_version_1_file_migrates_to_constant_schedules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    fs::write(&path, ROUND1).unwrap();
    let config = PolicyConfig {
        epsilon: 0.2,
        ..PolicyConfig::default()
    };
    let p = SelfImprovementPolicy::load(&path, config.clone()).unwrap();
    assert_eq!(p.episodes(), 2);
    assert_eq!(p.q(&st(2), Action::Run), 0.5);
    assert_eq!((p.epsilon(), p.schedule_starts()), (0.2, (0.2, 1.0)));
    assert_eq!(p.config().epsilon_schedule, Schedule::Constant);
    // Written back as version 2, and read again the same.
    p.save(&path, Durability::Atomic).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("{\"version\":2,"), "{text}");
    assert!(text.contains("\"epsilon_start\":0.2"), "{text}");
    assert_eq!(SelfImprovementPolicy::load(&path, config).unwrap(), p);
}

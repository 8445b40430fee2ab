//! The neural strategies as a policy: they learn what pays, choose from the
//! network, and refuse a saved network of another shape.

use super::*;
use crate::persist::Durability;

const NEURAL: [Strategy; 3] = [Strategy::Dqn, Strategy::DoubleDqn, Strategy::DeepQ];

/// Runs pay +1 in state 5 and −1 in state −5; skips pay 0. One-step
/// episodes, ε = 0.3: each strategy's network learns to run in the first
/// and skip in the second, with Q(5, run) near 1.
#[test]
fn each_neural_strategy_learns_which_action_pays() {
    for strategy in NEURAL {
        let mut p = policy(PolicyConfig {
            epsilon: 0.3,
            seed: 11,
            ..with_strategy(strategy)
        });
        let (good, bad) = (st(5), st(-5));
        for t in 0..600 {
            let s = if t % 2 == 0 { good } else { bad };
            let a = p.select_action(&s);
            let r = match (a, t % 2) {
                (Action::Skip, _) => 0.0,
                (Action::Run, 0) => 1.0,
                (Action::Run, _) => -1.0,
            };
            p.update(&s, a, r, None).unwrap();
        }
        let (run_good, skip_good) = (p.q(&good, Action::Run), p.q(&good, Action::Skip));
        let (run_bad, skip_bad) = (p.q(&bad, Action::Run), p.q(&bad, Action::Skip));
        assert!(
            run_good > skip_good + 0.5,
            "{strategy}: {run_good} vs {skip_good}"
        );
        assert!(
            skip_bad > run_bad + 0.5,
            "{strategy}: {skip_bad} vs {run_bad}"
        );
        assert!((run_good - 1.0).abs() < 0.25, "{strategy}: {run_good}");
        assert_eq!(p.score(&good), run_good);
        // ε-greedy over the network's values: 1 − ε/2 on the argmax.
        close(p.action_probabilities(&good)[1], 0.85);
        close(p.action_probabilities(&bad)[0], 0.85);
        assert_eq!(p.episodes(), 600);
        assert!(p.is_empty(), "no Q-table");
    }
}

/// With a next state the target bootstraps: run in state 1 pays nothing but
/// leads to state 2, where a run pays 1 and ends. γ = 0.9, so Q(1, run)
/// learns towards 0.9.
#[test]
fn a_neural_policy_bootstraps_through_the_next_state() {
    for strategy in NEURAL {
        let mut p = policy(PolicyConfig {
            seed: 3,
            network: Some(NetworkConfig {
                lr: 1e-2,
                batch_size: 8,
                target_sync: 5,
                ..NetworkConfig::default()
            }),
            ..with_strategy(strategy)
        });
        let (first, second) = (st(1), st(2));
        for _ in 0..250 {
            p.update(&first, Action::Run, 0.0, Some(&second)).unwrap();
            p.update(&second, Action::Run, 1.0, None).unwrap();
        }
        let q1 = p.q(&first, Action::Run);
        let q2 = p.q(&second, Action::Run);
        assert!((q2 - 1.0).abs() < 0.1, "{strategy}: Q(2, run) = {q2}");
        assert!((q1 - 0.9).abs() < 0.15, "{strategy}: Q(1, run) = {q1}");
    }
}

#[test]
fn the_seed_fixes_the_network_and_the_choices() {
    let run = |seed| {
        let mut p = policy(PolicyConfig {
            seed,
            epsilon: 0.5,
            ..with_strategy(Strategy::DoubleDqn)
        });
        let actions: Vec<Action> = (0..30)
            .map(|t| {
                let s = st(t % 5);
                let a = p.select_action(&s);
                p.update(&s, a, f64::from(t % 3), Some(&st((t + 1) % 5)))
                    .unwrap();
                a
            })
            .collect();
        (actions, p.q(&st(0), Action::Run))
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1).1, run(2).1);
}

#[test]
fn a_saved_network_of_another_width_is_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    let config = with_strategy(Strategy::Dqn);
    let mut p = policy(config.clone());
    p.update(&st(1), Action::Run, 1.0, None).unwrap();
    p.save(&path, Durability::Atomic).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\"q_network\":{\"updates\":1,\"steps\":1,"),
        "{text}"
    );
    let wider = PolicyConfig {
        network: Some(NetworkConfig {
            hidden: 64,
            ..NetworkConfig::default()
        }),
        ..config.clone()
    };
    let err = SelfImprovementPolicy::load(&path, wider).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid policy.network.hidden = 64: expected 32 (the width the saved network was \
         trained with; move policy.json away to start anew)"
    );
    // The learning rate, batch and sync may change: they are settings.
    let faster = PolicyConfig {
        network: Some(NetworkConfig {
            lr: 1e-2,
            batch_size: 8,
            ..NetworkConfig::default()
        }),
        ..config
    };
    let loaded = SelfImprovementPolicy::load(&path, faster).unwrap();
    assert_eq!(loaded.q(&st(1), Action::Run), p.q(&st(1), Action::Run));
}

use super::*;
use crate::Error;
use crate::policy::learn::MAX_TRACES;

#[test]
fn spec_worked_check_fifty_updates() {
    // q ← q + 0.5·(1 + 0.9·q − q) = 0.95·q + 0.5, so q_n = 10·(1 − 0.95ⁿ).
    let mut p = policy(PolicyConfig::default());
    let s = st(3);
    close(p.update(&s, Action::Run, 1.0, Some(&s)).unwrap(), 0.5);
    close(p.update(&s, Action::Run, 1.0, Some(&s)).unwrap(), 0.975);
    for _ in 2..50 {
        p.update(&s, Action::Run, 1.0, Some(&s)).unwrap();
    }
    let expected = 10.0 * (1.0 - 0.95f64.powi(50));
    close(p.score(&s), expected);
    assert!((p.score(&s) - 9.2306).abs() < 1e-4);
    assert_eq!(p.q(&s, Action::Skip), 0.0);
    assert_eq!(p.episodes(), 50);
    assert_eq!(p.len(), 1);
}

#[test]
fn unseen_states_score_zero() {
    let p = policy(PolicyConfig::default());
    assert_eq!(p.score(&st(1)), 0.0);
    assert_eq!(p.q(&st(1), Action::Run), 0.0);
    assert!(p.is_empty());
}

#[test]
fn score_is_the_larger_value_even_when_negative() {
    let mut p = policy(PolicyConfig::default());
    let s = st(1);
    p.update(&s, Action::Skip, -2.0, None).unwrap(); // 0.5·(−2) = −1
    p.update(&s, Action::Run, -4.0, None).unwrap(); // 0.5·(−4) = −2
    close(p.score(&s), -1.0);
}

#[test]
fn q_learning_by_hand() {
    let mut p = policy(with_strategy(Strategy::QLearning));
    let (s1, s2) = (st(1), st(2));
    // Q(s2, run) = 0 + 0.5·(4 − 0) = 2.
    close(p.update(&s2, Action::Run, 4.0, None).unwrap(), 2.0);
    // target = 1 + 0.9·max(0, 2) = 2.8; Q(s1, skip) = 0 + 0.5·2.8 = 1.4.
    close(p.update(&s1, Action::Skip, 1.0, Some(&s2)).unwrap(), 1.4);
    // Q(s1, skip) = 1.4 + 0.5·(2.8 − 1.4) = 2.1.
    close(p.update(&s1, Action::Skip, 1.0, Some(&s2)).unwrap(), 2.1);
    close(p.q(&s1, Action::Run), 0.0);
}

#[test]
fn sarsa_uses_the_same_action_in_the_next_state() {
    let mut p = policy(with_strategy(Strategy::Sarsa));
    let (s1, s2) = (st(1), st(2));
    close(p.update(&s2, Action::Run, 4.0, None).unwrap(), 2.0);
    // Next value Q(s2, skip) = 0: Q(s1, skip) = 0.5·(1 + 0.9·0) = 0.5.
    close(p.update(&s1, Action::Skip, 1.0, Some(&s2)).unwrap(), 0.5);
    // Next value Q(s2, run) = 2: Q(s1, run) = 0.5·(1 + 0.9·2) = 1.4.
    close(p.update(&s1, Action::Run, 1.0, Some(&s2)).unwrap(), 1.4);
    // Q-learning would have used max Q(s2) = 2 for the skip as well.
}

#[test]
fn q_lambda_by_hand() {
    // α = 0.5, γ = 0.9, λ = 0.9: traces decay by γλ = 0.81.
    let mut p = policy(with_strategy(Strategy::QLambda));
    let (s1, s2) = (st(1), st(2));
    // δ = 1 + 0.9·0 − 0 = 1; e(s1,run) = 1; Q(s1,run) = 0.5·1·1 = 0.5; e → 0.81.
    close(p.update(&s1, Action::Run, 1.0, Some(&s2)).unwrap(), 0.5);
    close(p.traces[0].trace, 0.81);
    // δ = 2 − 0 = 2; e(s2,run) = 1.
    // Q(s1,run) += 0.5·2·0.81 = 0.81 → 1.31; Q(s2,run) += 0.5·2·1 = 1.
    close(p.update(&s2, Action::Run, 2.0, None).unwrap(), 1.0);
    close(p.q(&s1, Action::Run), 1.31);
    // Traces: 0.81·0.81 = 0.6561 and 0.81.
    close(p.traces[0].trace, 0.6561);
    close(p.traces[1].trace, 0.81);
    // δ = 0 + 0.9·max Q(s2) − Q(s1,run) = 0.9 − 1.31 = −0.41;
    // e(s1,run) = 0.6561 + 1 = 1.6561.
    // Q(s1,run) += 0.5·(−0.41)·1.6561 = −0.3395005 → 0.9704995;
    // Q(s2,run) += 0.5·(−0.41)·0.81 = −0.16605 → 0.83395.
    close(
        p.update(&s1, Action::Run, 0.0, Some(&s2)).unwrap(),
        0.9704995,
    );
    close(p.q(&s2, Action::Run), 0.83395);
    // Traces: 1.6561·0.81 = 1.341441 and 0.81·0.81 = 0.6561.
    close(p.traces[0].trace, 1.341441);
    close(p.traces[1].trace, 0.6561);
    assert_eq!(p.traces.len(), 2);
}

#[test]
fn q_lambda_traces_decay_and_are_dropped_below_one_millionth() {
    let mut p = policy(with_strategy(Strategy::QLambda));
    let (first, other) = (st(1), st(2));
    p.update(&first, Action::Skip, 1.0, None).unwrap();
    // After its own update the trace is 0.81; after k more it is 0.81^(k+1).
    // 0.81⁶⁵ ≈ 1.12e-6 is kept; 0.81⁶⁶ ≈ 9.1e-7 is dropped.
    for _ in 0..64 {
        p.update(&other, Action::Run, 0.0, None).unwrap();
    }
    let kept = p.traces.iter().find(|t| t.state == first).unwrap();
    assert!((kept.trace - 0.81f64.powi(65)).abs() < 1e-15);
    p.update(&other, Action::Run, 0.0, None).unwrap();
    assert!(p.traces.iter().all(|t| t.state != first));
    // The other pair's trace accumulates: e ← 0.81·(e + 1), one entry only.
    assert_eq!(p.traces.len(), 1);
}

#[test]
fn q_lambda_without_traces_is_q_learning() {
    // λ = 0 clears every trace after its update: one-step Q-learning.
    let mut lambda = policy(PolicyConfig {
        lambda: 0.0,
        ..with_strategy(Strategy::QLambda)
    });
    let mut one_step = policy(with_strategy(Strategy::QLearning));
    let steps = [
        (1, Action::Run, 1.0, 2),
        (2, Action::Skip, -0.5, 1),
        (1, Action::Run, 2.0, 1),
    ];
    for (s, a, r, n) in steps {
        let (s, n) = (st(s), st(n));
        let a1 = lambda.update(&s, a, r, Some(&n)).unwrap();
        let a2 = one_step.update(&s, a, r, Some(&n)).unwrap();
        close(a1, a2);
        assert!(lambda.traces.is_empty());
    }
}

#[test]
fn q_lambda_keeps_at_most_max_traces() {
    // γ = λ = 1: traces never decay; the oldest (smallest-tied) one goes.
    let mut p = policy(PolicyConfig {
        gamma: 1.0,
        lambda: 1.0,
        ..with_strategy(Strategy::QLambda)
    });
    let mut states = Vec::new();
    for k in -50..=50 {
        for m in 0..11 {
            let mut slots = [0i16; PolicyState::LEN];
            slots[0] = k;
            slots[1] = m;
            states.push(PolicyState::from_array(slots).unwrap());
        }
    }
    assert!(states.len() > MAX_TRACES);
    for s in &states[..=MAX_TRACES] {
        p.update(s, Action::Run, 0.0, None).unwrap();
    }
    assert_eq!(p.traces.len(), MAX_TRACES);
    assert_eq!(p.traces[0].state, states[1]);
    assert_eq!(p.traces[MAX_TRACES - 1].state, states[MAX_TRACES]);
}

#[test]
fn actor_critic_by_hand() {
    let mut p = policy(with_strategy(Strategy::ActorCritic));
    let (s1, s2) = (st(1), st(2));
    // td = 1 + 0.9·V(s2) − V(s1) = 1; V(s1) = 0.5; Q(s1,run) = 0.5.
    close(p.update(&s1, Action::Run, 1.0, Some(&s2)).unwrap(), 0.5);
    close(p.state_value(&s1), 0.5);
    // td = 2 + 0.9·0.5 − 0 = 2.45; V(s2) = 1.225; Q(s2,skip) = 1.225.
    close(p.update(&s2, Action::Skip, 2.0, Some(&s1)).unwrap(), 1.225);
    close(p.state_value(&s2), 1.225);
    // td = 0 + 0.9·1.225 − 0.5 = 0.6025; V(s1) = 0.5 + 0.30125 = 0.80125;
    // Q(s1,run) = 0.5 + 0.30125 = 0.80125.
    close(p.update(&s1, Action::Run, 0.0, Some(&s2)).unwrap(), 0.80125);
    close(p.state_value(&s1), 0.80125);
    // No next state: td = 0 − 0.80125; V(s1) = 0.400625; Q(s1,skip) = −0.400625.
    close(p.update(&s1, Action::Skip, 0.0, None).unwrap(), -0.400625);
    close(p.state_value(&s1), 0.400625);
    close(p.q(&s1, Action::Run), 0.80125);
    // Other strategies keep no critic.
    let mut q = policy(PolicyConfig::default());
    q.update(&s1, Action::Run, 1.0, None).unwrap();
    assert_eq!(q.state_value(&s1), 0.0);
}

#[test]
fn adaptive_alpha_and_gamma_by_hand() {
    let mut p = policy(PolicyConfig {
        adaptive: true,
        ..PolicyConfig::default()
    });
    let s = st(0);
    // Update 1 uses α = 0.5: Q = 0.5·1 = 0.5. Then episodes = 1,
    // α = max(0.1, 1/2) = 0.5; one reward only: γ stays 0.9.
    close(p.update(&s, Action::Run, 1.0, None).unwrap(), 0.5);
    close(p.alpha(), 0.5);
    close(p.gamma(), 0.9);
    // Update 2 (α = 0.5): Q = 0.5 + 0.5·(0 − 0.5) = 0.25. Then α = 1/3;
    // rewards [1, 0]: mean 0.5, variance 0.25, γ = 0.9/1.25 = 0.72.
    close(p.update(&s, Action::Run, 0.0, None).unwrap(), 0.25);
    close(p.alpha(), 1.0 / 3.0);
    close(p.gamma(), 0.72);
    // Update 3 (α = 1/3, γ = 0.72 with s' = s): target = 1 + 0.72·0.25 = 1.18;
    // Q = 0.25 + (1.18 − 0.25)/3 = 0.56. Then α = 1/4; rewards [1, 0, 1]:
    // mean 2/3, variance (1/9 + 4/9 + 1/9)/3 = 2/9, γ = 0.9/(11/9) = 8.1/11.
    close(p.update(&s, Action::Run, 1.0, Some(&s)).unwrap(), 0.56);
    close(p.alpha(), 0.25);
    close(p.gamma(), 8.1 / 11.0);
    // α reaches its floor: after 9 updates 1/10 = 0.1, after 10 max(0.1, 1/11).
    for _ in 3..10 {
        p.update(&s, Action::Run, 1.0, None).unwrap();
    }
    assert_eq!(p.episodes(), 10);
    close(p.alpha(), 0.1);
}

#[test]
fn adaptive_gamma_is_clamped_and_looks_at_the_last_hundred_rewards() {
    let config = PolicyConfig {
        adaptive: true,
        ..PolicyConfig::default()
    };
    let mut p = policy(config.clone());
    // Rewards [10, −10]: variance 100, 0.9/101 < 0.5 ⇒ γ = 0.5.
    p.update(&st(1), Action::Run, 10.0, None).unwrap();
    p.update(&st(2), Action::Run, -10.0, None).unwrap();
    close(p.gamma(), 0.5);

    let mut p = policy(config);
    // Rewards [1, 0 × 99]: mean 0.01, variance (0.99² + 99·0.01²)/100 =
    // (0.9801 + 0.0099)/100 = 0.0099, γ = 0.9/1.0099.
    p.update(&st(1), Action::Run, 1.0, None).unwrap();
    for _ in 0..99 {
        p.update(&st(3), Action::Skip, 0.0, None).unwrap();
    }
    close(p.gamma(), 0.9 / 1.0099);
    // One more zero pushes the 1 out of the window of 100: variance 0, γ = 0.9.
    p.update(&st(3), Action::Skip, 0.0, None).unwrap();
    close(p.gamma(), 0.9);
    assert_eq!(p.recent_rewards.len(), 100);
}

#[test]
fn adaptive_gamma_survives_huge_rewards() {
    let config = PolicyConfig {
        adaptive: true,
        ..PolicyConfig::default()
    };
    // Equal huge rewards: the mean does not overflow, variance 0, γ = 0.9.
    let mut p = policy(config.clone());
    p.update(&st(1), Action::Run, 1e308, None).unwrap();
    p.update(&st(1), Action::Run, 1e308, None).unwrap();
    close(p.gamma(), 0.9);
    // Opposite huge rewards: the deviations overflow to ∞, γ takes its floor.
    let mut p = policy(config);
    p.update(&st(1), Action::Run, 1e308, None).unwrap();
    p.update(&st(2), Action::Run, -1e308, None).unwrap();
    close(p.gamma(), 0.5);
}

#[test]
fn without_adaptive_alpha_and_gamma_stay() {
    let mut p = policy(PolicyConfig::default());
    for r in [1.0, -3.0, 7.0] {
        p.update(&st(1), Action::Run, r, None).unwrap();
    }
    assert_eq!((p.alpha(), p.gamma()), (0.5, 0.9));
    assert!(p.recent_rewards.is_empty());
}

#[test]
fn non_finite_rewards_change_nothing() {
    for &strategy in Strategy::ALL {
        let mut p = policy(PolicyConfig {
            adaptive: true,
            ..with_strategy(strategy)
        });
        p.update(&st(1), Action::Run, 1.0, Some(&st(2))).unwrap();
        let before = p.clone();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = p
                .update(&st(1), Action::Run, bad, Some(&st(2)))
                .unwrap_err();
            assert!(
                matches!(err, Error::NonFinite { ref what, .. } if what == "policy reward"),
                "{err}"
            );
        }
        assert_eq!(p, before, "{strategy}");
        assert_eq!(p.episodes(), 1);
    }
}

#[test]
fn an_update_that_would_overflow_changes_nothing() {
    for &strategy in Strategy::ALL.iter().filter(|s| !s.is_neural()) {
        let mut p = policy(PolicyConfig {
            alpha: 1.0,
            gamma: 1.0,
            ..with_strategy(strategy)
        });
        let s = st(1);
        // α = 1, no next state: the value becomes the reward, 1.7e308.
        close(
            p.update(&s, Action::Run, 1.7e308, None).unwrap() / 1e308,
            1.7,
        );
        let before = p.clone();
        // Now 1.7e308 + 1·1.7e308 overflows.
        let err = p.update(&s, Action::Run, 1.7e308, Some(&s)).unwrap_err();
        assert!(matches!(err, Error::NonFinite { .. }), "{strategy}: {err}");
        assert_eq!(p, before, "{strategy}");
    }
}

#[test]
fn q_lambda_checks_every_traced_value_before_changing_any() {
    // α = γ = λ = 1. Q(s1, run) = 1.5e308 with a trace of 1; then an update
    // of s2 with δ = 1e308 would add 1e308 to Q(s1, run): overflow.
    let mut p = policy(PolicyConfig {
        alpha: 1.0,
        gamma: 1.0,
        lambda: 1.0,
        ..with_strategy(Strategy::QLambda)
    });
    p.update(&st(1), Action::Run, 1.5e308, None).unwrap();
    let before = p.clone();
    assert!(p.update(&st(2), Action::Run, 1e308, None).is_err());
    assert_eq!(p, before);
    assert_eq!(p.q(&st(2), Action::Run), 0.0);
}

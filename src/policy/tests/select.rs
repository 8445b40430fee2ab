use super::*;

/// A policy whose Q(s, ·) is exactly `[skip, run]` (α = 1, γ = 0).
fn with_values(
    config: PolicyConfig,
    s: &PolicyState,
    skip: f64,
    run: f64,
) -> SelfImprovementPolicy {
    let mut p = policy(PolicyConfig {
        alpha: 1.0,
        gamma: 0.0,
        ..config
    });
    p.update(s, Action::Skip, skip, None).unwrap();
    p.update(s, Action::Run, run, None).unwrap();
    assert_eq!((p.q(s, Action::Skip), p.q(s, Action::Run)), (skip, run));
    p
}

fn runs(p: &mut SelfImprovementPolicy, s: &PolicyState, draws: usize) -> usize {
    (0..draws)
        .filter(|_| p.select_action(s) == Action::Run)
        .count()
}

fn greedy() -> PolicyConfig {
    PolicyConfig {
        epsilon: 0.0,
        ..PolicyConfig::default()
    }
}

#[test]
fn epsilon_zero_is_always_the_argmax_with_ties_to_run() {
    let s = st(1);
    // Unseen: [0, 0] is a tie.
    let mut p = policy(greedy());
    assert_eq!(p.action_probabilities(&s), [0.0, 1.0]);
    assert_eq!(runs(&mut p, &s, 1000), 1000);
    // An explicit tie.
    let mut p = with_values(greedy(), &s, 0.7, 0.7);
    assert_eq!(runs(&mut p, &s, 1000), 1000);
    // Skip is better, even by a little.
    let mut p = with_values(greedy(), &s, 0.0, -1e-9);
    assert_eq!(p.action_probabilities(&s), [1.0, 0.0]);
    assert_eq!(runs(&mut p, &s, 1000), 0);
    // Run is better.
    let mut p = with_values(greedy(), &s, -1.0, 2.0);
    assert_eq!(runs(&mut p, &s, 1000), 1000);
}

#[test]
fn epsilon_splits_its_share_evenly() {
    // ε = 0.1 with skip the argmax: p(skip) = 0.05 + 0.9 = 0.95.
    let s = st(1);
    let p = with_values(PolicyConfig::default(), &s, 1.0, 0.0);
    let [skip, run] = p.action_probabilities(&s);
    close(skip, 0.95);
    close(run, 0.05);
}

#[test]
fn epsilon_one_is_a_fair_coin() {
    let s = st(1);
    let mut p = with_values(
        PolicyConfig {
            epsilon: 1.0,
            ..PolicyConfig::default()
        },
        &s,
        5.0,
        0.0,
    );
    assert_eq!(p.action_probabilities(&s), [0.5, 0.5]);
    // Seed 0 gives exactly this many runs out of 10,000 (about half).
    let n = runs(&mut p, &s, 10_000);
    assert_eq!(n, 4_947);
    assert!((4_850..=5_150).contains(&n));
}

#[test]
fn softmax_probabilities() {
    let softmax = PolicyConfig {
        exploration: Exploration::Softmax,
        ..PolicyConfig::default()
    };
    let s = st(1);
    // q = [0, ln 3], T = 1: weights [1, 3] ⇒ p(run) = 3/4.
    let mut p = with_values(softmax.clone(), &s, 0.0, 3f64.ln());
    let [skip, run] = p.action_probabilities(&s);
    close(skip, 0.25);
    close(run, 0.75);
    let rate = runs(&mut p, &s, 10_000) as f64 / 10_000.0;
    // The standard error is √(0.75·0.25/10⁴) ≈ 0.0043.
    assert!((rate - 0.75).abs() < 0.015, "{rate}");
    // T = 2 halves the gap: weights [1, √3] ⇒ p(run) = √3/(1 + √3).
    let p = with_values(
        PolicyConfig {
            temperature: 2.0,
            ..softmax.clone()
        },
        &s,
        0.0,
        3f64.ln(),
    );
    close(
        p.action_probabilities(&s)[1],
        3f64.sqrt() / (1.0 + 3f64.sqrt()),
    );
    // T = 0 acts as 0.01: q = [0, 0.1] ⇒ p(skip) = 1/(1 + e¹⁰).
    let p = with_values(
        PolicyConfig {
            temperature: 0.0,
            ..softmax.clone()
        },
        &s,
        0.0,
        0.1,
    );
    close(p.action_probabilities(&s)[0], 1.0 / (1.0 + 10f64.exp()));
    // Huge values do not overflow: the maximum is subtracted first.
    let p = with_values(softmax, &s, 1e300, -1e300);
    assert_eq!(p.action_probabilities(&s), [1.0, 0.0]);
}

#[test]
fn the_same_seed_gives_the_same_actions() {
    let config = PolicyConfig {
        epsilon: 0.5,
        seed: 42,
        ..PolicyConfig::default()
    };
    let s = st(1);
    let sequence = |config: PolicyConfig| {
        let mut p = policy(config);
        (0..200).map(|_| p.select_action(&s)).collect::<Vec<_>>()
    };
    let a = sequence(config.clone());
    assert_eq!(a, sequence(config.clone()));
    assert_ne!(a, sequence(PolicyConfig { seed: 43, ..config }));
}

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

fn d(propensity: f64, target_probability: f64, reward: f64) -> LoggedDecision {
    LoggedDecision {
        propensity,
        target_probability,
        reward,
    }
}

/// w = [2, 0, 2, 1], w·r = [2, 0, 4, 3].
fn log() -> Vec<LoggedDecision> {
    vec![
        d(0.5, 1.0, 1.0),
        d(0.5, 0.0, 0.0),
        d(0.25, 0.5, 2.0),
        d(1.0, 1.0, 3.0),
    ]
}

#[test]
fn ips_by_hand() {
    let e = ips(&log(), 0.05).unwrap();
    assert_eq!(e.value, 2.25);
    // deviations −0.25, −2.25, 1.75, 0.75: Σ² = 8.75, var 8.75/3, se √(var/4).
    assert!((e.std_error - (8.75f64 / 3.0 / 4.0).sqrt()).abs() < 1e-15);
    let z = 1.959_963_984_540_054;
    assert!((e.confidence_interval[0] - (2.25 - z * e.std_error)).abs() < 1e-14);
    assert!((e.effective_sample_size - 25.0 / 9.0).abs() < 1e-15);
    assert_eq!((e.estimator, e.samples), (Estimator::Ips, 4));
}

#[test]
fn snips_by_hand() {
    let e = snips(&log(), 0.05).unwrap();
    assert!((e.value - 1.8).abs() < 1e-15);
    // Σ w²(r − 1.8)² = 4·0.64 + 0 + 4·0.04 + 1.44 = 4.16; se = √4.16 / 5.
    assert!((e.std_error - 4.16f64.sqrt() / 5.0).abs() < 1e-15);
}

#[test]
fn doubly_robust_by_hand() {
    let predictions: Vec<RewardPrediction> = [(0.5, 1.0), (0.5, 0.2), (1.5, 1.0), (2.5, 2.5)]
        .into_iter()
        .map(|(logged_action, target_policy)| RewardPrediction {
            logged_action,
            target_policy,
        })
        .collect();
    // terms v̂ + w(r − q̂) = [2, 0.2, 2, 3].
    let e = doubly_robust(&log(), &predictions, 0.05).unwrap();
    assert!((e.value - 1.8).abs() < 1e-15);
    let err = doubly_robust(&log(), &predictions[..3], 0.05).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid predictions = 3 predictions: expected one per logged decision (4)"
    );
}

#[test]
fn refuses_impossible_logs() {
    let err = ips(&[d(0.0, 1.0, 1.0), d(0.5, 0.5, 1.0)], 0.05).unwrap_err();
    assert!(
        err.to_string().starts_with("invalid log[0].propensity = 0"),
        "{err}"
    );
    let err = ips(&[d(0.5, 1.5, 1.0), d(0.5, 0.5, 1.0)], 0.05).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid log[0].target_probability = 1.5"),
        "{err}"
    );
    let err = ips(&[d(0.5, 0.5, 1.0), d(0.5, 0.5, f64::NAN)], 0.05).unwrap_err();
    assert_eq!(
        err.to_string(),
        "log reward[1] is NaN: every value must be a finite number"
    );
    assert!(matches!(
        ips(&[d(0.5, 0.5, 1.0)], 0.05),
        Err(StatsError::TooFewValues { .. })
    ));
    let err = snips(&[d(0.5, 0.0, 1.0), d(0.5, 0.0, 1.0)], 0.05).unwrap_err();
    assert!(err.to_string().contains("target_probability"), "{err}");
}

/// A seeded bandit: 3 situations, 3 actions, Bernoulli rewards; the logging
/// policy is ε-greedy on a wrong guess, the candidate mostly picks the best.
struct Bandit {
    means: [[f64; 3]; 3],
    logging: [[f64; 3]; 3],
    target: [[f64; 3]; 3],
}

impl Bandit {
    fn new() -> Self {
        Bandit {
            means: [[0.2, 0.5, 0.3], [0.6, 0.1, 0.4], [0.3, 0.3, 0.9]],
            logging: [[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.6, 0.2, 0.2]],
            target: [[0.05, 0.9, 0.05], [0.9, 0.05, 0.05], [0.05, 0.05, 0.9]],
        }
    }

    /// The candidate's true mean reward (situations equally likely).
    fn true_value(&self) -> f64 {
        (0..3)
            .map(|x| {
                (0..3)
                    .map(|a| self.target[x][a] * self.means[x][a])
                    .sum::<f64>()
            })
            .sum::<f64>()
            / 3.0
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> (LoggedDecision, RewardPrediction) {
        let x = rng.random_range(0..3);
        let u: f64 = rng.random();
        let mut a = 0;
        let mut acc = self.logging[x][0];
        while u >= acc && a < 2 {
            a += 1;
            acc += self.logging[x][a];
        }
        let reward = if rng.random::<f64>() < self.means[x][a] {
            1.0
        } else {
            0.0
        };
        // A biased reward model: every prediction off by +0.1.
        let q = |x: usize, a: usize| self.means[x][a] + 0.1;
        let v: f64 = (0..3).map(|b| self.target[x][b] * q(x, b)).sum();
        (
            d(self.logging[x][a], self.target[x][a], reward),
            RewardPrediction {
                logged_action: q(x, a),
                target_policy: v,
            },
        )
    }
}

#[test]
fn intervals_cover_the_true_value_about_95_percent_of_the_time() {
    let bandit = Bandit::new();
    let truth = bandit.true_value();
    let runs = 400;
    let mut covered = [0usize; 3];
    for seed in 0..runs {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (log, predictions): (Vec<_>, Vec<_>) = (0..400).map(|_| bandit.draw(&mut rng)).unzip();
        let estimates = [
            ips(&log, 0.05).unwrap(),
            snips(&log, 0.05).unwrap(),
            doubly_robust(&log, &predictions, 0.05).unwrap(),
        ];
        for (hits, e) in covered.iter_mut().zip(&estimates) {
            let [lo, hi] = e.confidence_interval;
            *hits += usize::from(lo <= truth && truth <= hi);
        }
    }
    for (name, hits) in ["ips", "snips", "dr"].iter().zip(covered) {
        let rate = hits as f64 / runs as f64;
        // 95% nominal; 400 runs give a standard error of about 1.1 points.
        assert!((0.915..=0.985).contains(&rate), "{name}: coverage {rate}");
    }
}

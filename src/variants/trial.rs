//! A/B tests between a bot's serving variant and a challenger, and the
//! fleet's false-discovery-rate rule over them.
//!
//! [`VariantTest`] is a [`stats::AbTest`](crate::stats::AbTest) with the two
//! variants' ids. Its outcomes are **per unit of energy** (an outcome divided
//! by the energy of the cycle that earned it), so a change in the energy the
//! engine learned to give does not favour one arm; the arms alternate (the
//! one with fewer outcomes runs next, serving first), a schedule that never
//! looks at outcome levels, as the test assumes. A challenger is promoted
//! only by the anytime-valid test's evidence against "the uplift is at most
//! `min_effect`"; without it by `max_outcomes` or the deadline, the test
//! holds and the serving variant stays.
//!
//! [`Fleet`]: across bots, a test's promotion stands only if the online
//! e-LOND rule ([`ELond`]) accepts the e-value the test stopped with, so the
//! expected share of false promotions over the whole fleet stays ≤ α
//! however the bots' tests depend on each other and whenever they stop.
//! Each test starts at the level the rule would grant the next test
//! ([`Fleet::level`]), so it keeps running until its evidence can pass.

use serde::{Deserialize, Serialize};

use crate::stats::{AbStatus, AbTest, AbTestConfig, Arm, Decision, ELond};
use crate::{Error, Result};

/// A running or finished test of `challenger` against `serving`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantTest {
    /// The variant serving when the test started.
    pub serving: u64,
    /// The variant that may replace it.
    pub challenger: u64,
    /// When it started (the caller's clock, seconds).
    pub started_at: f64,
    test: AbTest,
}

impl VariantTest {
    /// A test with no outcome yet.
    ///
    /// # Errors
    /// Settings the A/B test refuses, or a challenger that is the serving variant.
    pub fn start(serving: u64, challenger: u64, config: AbTestConfig, now: f64) -> Result<Self> {
        if serving == challenger {
            return Err(Error::invalid(
                "challenger",
                challenger,
                "a variant other than the serving one",
            ));
        }
        Ok(VariantTest {
            serving,
            challenger,
            started_at: now,
            test: AbTest::new(config)?,
        })
    }

    /// The arm to run next.
    pub fn next_arm(&self) -> Arm {
        let s = self.test.status(self.started_at);
        if s.challenger_outcomes < s.serving_outcomes {
            Arm::Challenger
        } else {
            Arm::Serving
        }
    }

    /// The variant of `arm`.
    pub fn variant(&self, arm: Arm) -> u64 {
        match arm {
            Arm::Serving => self.serving,
            Arm::Challenger => self.challenger,
        }
    }

    /// Adds `outcome` earned by `arm` with `energy` (compared per unit of energy).
    ///
    /// # Errors
    /// A non-finite outcome, an energy that is not above 0, or a test that
    /// has already decided (nothing changes).
    pub fn observe(&mut self, arm: Arm, outcome: f64, energy: f64) -> Result<()> {
        if !(energy.is_finite() && energy > 0.0) {
            return Err(Error::invalid("energy", energy, "a number above 0"));
        }
        Ok(self.test.observe(arm, outcome / energy)?)
    }

    /// Where it stands at `now`.
    pub fn status(&self, now: f64) -> AbStatus {
        self.test.status(now)
    }

    /// The A/B test's settings.
    pub fn config(&self) -> &AbTestConfig {
        self.test.config()
    }
}

/// The fleet's false-discovery-rate rule (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fleet {
    rule: ELond,
}

impl Fleet {
    /// A fleet at level `alpha`; `horizon` is the number of tests it expects
    /// (see [`ELond`]: with one, each of the first `horizon` tests gets
    /// `alpha / horizon` before any promotion).
    ///
    /// # Errors
    /// `alpha` outside (0, 1) or a horizon of 0.
    pub fn new(alpha: f64, horizon: Option<u64>) -> Result<Self> {
        Ok(Fleet {
            rule: ELond::new(alpha, horizon)?,
        })
    }

    /// The level the next test to stop gets, `α_t`, at most `cap` (a bot's own α).
    pub fn level(&self, cap: f64) -> f64 {
        (1.0 / self.rule.next_threshold()).min(cap)
    }

    /// Judges a test that has stopped: `true` promotes its challenger. A
    /// test still running is refused.
    ///
    /// # Errors
    /// A test whose decision is still `continue`.
    pub fn judge(&mut self, status: &AbStatus) -> Result<bool> {
        if status.decision == Decision::Continue {
            return Err(Error::invalid(
                "test",
                "continue",
                "a test that has stopped (promote or hold)",
            ));
        }
        let promote = self.rule.judge(status.evidence)?;
        Ok(promote && status.decision == Decision::Promote)
    }

    /// Tests judged and promotions so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.rule.tested(), self.rule.discoveries())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn normal(rng: &mut ChaCha8Rng) -> f64 {
        (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0
    }

    /// Runs a test to its end with challenger uplift `uplift` (per unit of
    /// energy) and energy varying by arm-independent cycles.
    fn run(seed: u64, uplift: f64, config: AbTestConfig) -> AbStatus {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut t = VariantTest::start(0, 1, config, 0.0).unwrap();
        for i in 0..10_000 {
            let arm = t.next_arm();
            let energy = f64::from(1 + (i % 7) as u32);
            let per_energy =
                1.0 + if arm == Arm::Challenger { uplift } else { 0.0 } + 0.5 * normal(&mut rng);
            t.observe(arm, per_energy * energy, energy).unwrap();
            let s = t.status(i as f64);
            if s.decision != Decision::Continue {
                return s;
            }
        }
        t.status(1e9)
    }

    #[test]
    fn promotes_a_real_uplift_and_holds_an_aa_at_max_outcomes() {
        let cfg = AbTestConfig {
            max_outcomes: Some(2_000),
            ..AbTestConfig::default()
        };
        let s = run(1, 0.3, cfg.clone());
        assert_eq!(s.decision, Decision::Promote, "{s:?}");
        assert!(s.confidence_sequence[0] > 0.0);
        // A/A: 200 tests watched after every outcome promote at most α of the time.
        let false_promotions = (0..200)
            .filter(|&seed| {
                run(
                    seed,
                    0.0,
                    AbTestConfig {
                        max_outcomes: Some(300),
                        ..AbTestConfig::default()
                    },
                )
                .decision
                    == Decision::Promote
            })
            .count();
        assert!(false_promotions <= 10, "{false_promotions}");
    }

    #[test]
    fn a_min_effect_above_the_uplift_never_promotes() {
        let cfg = AbTestConfig {
            min_effect: 0.5,
            max_outcomes: Some(2_000),
            ..AbTestConfig::default()
        };
        for seed in 0..20 {
            assert_ne!(run(seed, 0.3, cfg.clone()).decision, Decision::Promote);
        }
    }

    #[test]
    fn holds_at_the_deadline() {
        let cfg = AbTestConfig {
            deadline: Some(100.0),
            ..AbTestConfig::default()
        };
        let mut t = VariantTest::start(0, 1, cfg, 0.0).unwrap();
        t.observe(Arm::Serving, 1.0, 1.0).unwrap();
        t.observe(Arm::Challenger, 1.1, 1.0).unwrap();
        assert_eq!(t.status(99.0).decision, Decision::Continue);
        let s = t.status(100.0);
        assert_eq!(
            (s.decision, s.reason),
            (Decision::Hold, Some(crate::stats::HoldReason::Deadline))
        );
    }

    #[test]
    fn arms_alternate_and_bad_energy_is_refused() {
        let mut t = VariantTest::start(3, 5, AbTestConfig::default(), 0.0).unwrap();
        let mut seen = Vec::new();
        for _ in 0..4 {
            let arm = t.next_arm();
            seen.push(t.variant(arm));
            t.observe(arm, 1.0, 2.0).unwrap();
        }
        assert_eq!(seen, [3, 5, 3, 5]);
        assert!(t.observe(Arm::Serving, 1.0, 0.0).is_err());
        assert!(t.observe(Arm::Serving, f64::NAN, 1.0).is_err());
        assert!(VariantTest::start(2, 2, AbTestConfig::default(), 0.0).is_err());
    }

    #[test]
    fn the_fleet_needs_more_evidence_than_one_test_and_refuses_running_tests() {
        let mut fleet = Fleet::new(0.05, Some(10)).unwrap();
        // 10 expected tests: the first needs e ≥ 10/0.05 = 200.
        assert!((fleet.level(0.05) - 0.005).abs() < 1e-12);
        let cfg = AbTestConfig {
            alpha: fleet.level(0.05),
            max_outcomes: Some(4_000),
            ..AbTestConfig::default()
        };
        let s = run(2, 0.3, cfg);
        assert_eq!(s.decision, Decision::Promote);
        assert!(s.evidence >= 200.0);
        assert!(fleet.judge(&s).unwrap());
        // One discovery doubles the next test's level.
        assert!((fleet.level(0.05) - 0.01).abs() < 1e-12);
        let running = VariantTest::start(0, 1, AbTestConfig::default(), 0.0)
            .unwrap()
            .status(0.0);
        assert!(fleet.judge(&running).is_err());
        // A test promoted at its own α = 0.05 (e ≈ 20) does not pass the fleet's 100.
        let s = run(
            3,
            0.3,
            AbTestConfig {
                max_outcomes: Some(4_000),
                ..AbTestConfig::default()
            },
        );
        assert_eq!(s.decision, Decision::Promote);
        assert!(!fleet.judge(&s).unwrap(), "{s:?}");
        assert_eq!(fleet.counts(), (2, 1));
    }
}

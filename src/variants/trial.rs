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
//!
//! The fleet also keeps each bot's last verdict ([`Verdict`]). The fleet's
//! file is written before the bot's, so a crash between the two writes
//! leaves a bot whose file still runs a test the fleet has judged: that bot
//! takes the recorded verdict ([`Fleet::verdict`]) instead of asking again,
//! and [`Fleet::judge`] answers a test it has judged with the same verdict
//! without counting it twice. Judging is idempotent, so replaying the lost
//! outcome after a restart cannot judge one test twice.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// The fleet's verdict on a bot's last judged test, and which test it was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The test's serving variant.
    pub serving: u64,
    /// The test's challenger.
    pub challenger: u64,
    /// When the test started (the bot's clock, seconds).
    pub started_at: f64,
    /// The challenger was promoted.
    pub promoted: bool,
}

impl Verdict {
    fn is_for(&self, test: &VariantTest) -> bool {
        self.serving == test.serving
            && self.challenger == test.challenger
            && self.started_at.to_bits() == test.started_at.to_bits()
    }
}

/// The fleet's false-discovery-rate rule (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fleet {
    rule: ELond,
    /// Each bot's last verdict (absent from files before version 2).
    #[serde(default)]
    verdicts: BTreeMap<String, Verdict>,
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
            verdicts: BTreeMap::new(),
        })
    }

    /// The level the next test to stop gets, `α_t`, at most `cap` (a bot's own α).
    pub fn level(&self, cap: f64) -> f64 {
        (1.0 / self.rule.next_threshold()).min(cap)
    }

    /// The verdict already given on `bot`'s `test`, if the fleet judged it.
    pub fn verdict(&self, bot: &str, test: &VariantTest) -> Option<bool> {
        self.verdicts
            .get(bot)
            .filter(|v| v.is_for(test))
            .map(|v| v.promoted)
    }

    /// `bot`'s last verdict.
    pub fn last_verdict(&self, bot: &str) -> Option<&Verdict> {
        self.verdicts.get(bot)
    }

    /// Judges `bot`'s `test`, which has stopped with `status`: `true`
    /// promotes its challenger. A test judged before gets the same verdict
    /// and is not counted again; a test still running is refused.
    ///
    /// # Errors
    /// A test whose decision is still `continue`.
    pub fn judge(&mut self, bot: &str, test: &VariantTest, status: &AbStatus) -> Result<bool> {
        if let Some(promoted) = self.verdict(bot, test) {
            return Ok(promoted);
        }
        if status.decision == Decision::Continue {
            return Err(Error::invalid(
                "test",
                "continue",
                "a test that has stopped (promote or hold)",
            ));
        }
        let promoted = self.rule.judge(status.evidence)? && status.decision == Decision::Promote;
        self.verdicts.insert(
            bot.to_string(),
            Verdict {
                serving: test.serving,
                challenger: test.challenger,
                started_at: test.started_at,
                promoted,
            },
        );
        Ok(promoted)
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
        run_test(seed, uplift, config).1
    }

    /// [`run`], with the test.
    fn run_test(seed: u64, uplift: f64, config: AbTestConfig) -> (VariantTest, AbStatus) {
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
                return (t, s);
            }
        }
        let s = t.status(1e9);
        (t, s)
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
        let (t, s) = run_test(2, 0.3, cfg);
        assert_eq!(s.decision, Decision::Promote);
        assert!(s.evidence >= 200.0);
        assert!(fleet.judge("a", &t, &s).unwrap());
        // Judged again (a replay after a crash): the same verdict, counted once.
        assert!(fleet.judge("a", &t, &s).unwrap());
        assert_eq!(fleet.verdict("a", &t), Some(true));
        assert_eq!(fleet.verdict("b", &t), None);
        assert_eq!(fleet.counts(), (1, 1));
        // One discovery doubles the next test's level.
        assert!((fleet.level(0.05) - 0.01).abs() < 1e-12);
        let running = VariantTest::start(0, 1, AbTestConfig::default(), 0.0).unwrap();
        assert!(fleet.judge("c", &running, &running.status(0.0)).is_err());
        // A test promoted at its own α = 0.05 (e ≈ 20) does not pass the fleet's 100.
        let (t, s) = run_test(
            3,
            0.3,
            AbTestConfig {
                max_outcomes: Some(4_000),
                ..AbTestConfig::default()
            },
        );
        assert_eq!(s.decision, Decision::Promote);
        assert!(!fleet.judge("b", &t, &s).unwrap(), "{s:?}");
        assert_eq!(fleet.last_verdict("b").map(|v| v.promoted), Some(false));
        assert_eq!(fleet.counts(), (2, 1));
    }
}

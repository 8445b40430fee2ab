//! False-discovery-rate control across a fleet of A/B tests that stop at
//! different times, on e-values.
//!
//! Each [`AbTest`](super::AbTest)'s `evidence` is an e-process: read at any
//! stopping time — when the test promotes, holds, or when the fleet is
//! reviewed — it is an e-value (`E[e] ≤ 1` under its null). Two rules turn
//! the e-values of many tests into promotions whose false-discovery rate (the
//! expected share of promotions whose challenger does not beat its serving
//! variant by `δ`) is at most `α`, **whatever the dependence between the
//! tests** — bots of one fleet share traffic, seasons and code:
//!
//! - [`e_bh`], e-BH (Wang & Ramdas 2022): given `K` e-values at once, promote
//!   the `k*` largest, `k* = max{k : e₍ₖ₎ ≥ K/(α·k)}`. Use it for a review
//!   of the whole fleet at one moment: a finished test brings the e-value it
//!   stopped with, a running one its current e-value.
//! - [`ELond`], e-LOND (Xu & Ramdas 2024), an online rule: tests are judged
//!   one by one in the order they stop, each decision is final when it is
//!   made, and the `t`-th test is promoted when `e ≥ 1/α_t` with
//!   `α_t = α·γ_t·(D + 1)` (`D` promotions so far, `Σ γ_t ≤ 1`). Its FDR is
//!   ≤ α at every time because `1{e ≥ 1/α_t} ≤ α_t·e`. Use it when
//!   promotions must happen as tests finish.
//!
//! LORD++ is the better-known online rule, but it needs p-values that are
//! independent across tests; e-LOND needs neither, and keeps kaizen on the
//! e-values its tests produce.

use serde::{Deserialize, Serialize};

use super::error::{StatsError, ensure_level};

/// The e-BH procedure at level `alpha`: `true` for each e-value whose test is
/// a discovery (promote), `false` otherwise, in the order given.
///
/// Assumes each `e_values[i]` is an e-value for its test's null (any
/// dependence between tests is fine). An empty list gives an empty answer.
///
/// # Errors
/// `alpha` outside (0, 1), or an e-value that is negative or NaN (+∞ is
/// allowed).
///
/// ```
/// // K = 4, α = 0.1: thresholds K/(αk) = 40, 20, 13.3, 10 for k = 1..4.
/// let promote = kaizen::stats::e_bh(&[25.0, 25.0, 14.0, 0.5], 0.1)?;
/// assert_eq!(promote, [true, true, true, false]); // 14 ≥ 13.3 at k = 3
/// # Ok::<(), kaizen::stats::StatsError>(())
/// ```
pub fn e_bh(e_values: &[f64], alpha: f64) -> Result<Vec<bool>, StatsError> {
    let alpha = ensure_level("fdr.alpha", alpha)?;
    for (index, &e) in e_values.iter().enumerate() {
        check_e_value(index, e)?;
    }
    let k_total = e_values.len() as f64;
    let mut sorted: Vec<f64> = e_values.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let k_star = (1..=sorted.len())
        .rev()
        .find(|&k| sorted[k - 1] >= k_total / (alpha * k as f64))
        .unwrap_or(0);
    if k_star == 0 {
        return Ok(vec![false; e_values.len()]);
    }
    let threshold = k_total / (alpha * k_star as f64);
    Ok(e_values.iter().map(|&e| e >= threshold).collect())
}

fn check_e_value(index: usize, e: f64) -> Result<(), StatsError> {
    if e.is_nan() || e < 0.0 {
        Err(StatsError::invalid(
            format!("e-value[{index}]"),
            e,
            "a number ≥ 0 (an e-value)",
        ))
    } else {
        Ok(())
    }
}

/// The online e-LOND rule (see the module docs): judge tests one at a time,
/// in the order they stop. A small serde-serialisable state.
///
/// `γ_t`: with a `horizon` of `K` tests, `1/K` for each of the first `K`
/// (tests beyond it are never promoted); without one, Javanmard &
/// Montanari's `γ_t = 0.0772·ln(max(t, 2)) / (t·e^√(ln t))`, which sums to
/// about 0.98 over all `t` but gives the first test only 0.054 — set a
/// horizon when the fleet's number of tests is known.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ELondFields")]
pub struct ELond {
    alpha: f64,
    horizon: Option<u64>,
    tested: u64,
    discoveries: u64,
}

/// The serialised form, validated into an [`ELond`] on load.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ELondFields {
    alpha: f64,
    horizon: Option<u64>,
    tested: u64,
    discoveries: u64,
}

impl TryFrom<ELondFields> for ELond {
    type Error = StatsError;

    fn try_from(f: ELondFields) -> Result<Self, StatsError> {
        let mut rule = ELond::new(f.alpha, f.horizon)?;
        if f.discoveries > f.tested {
            return Err(StatsError::invalid(
                "fdr.discoveries",
                f.discoveries,
                "at most the number of tests judged",
            ));
        }
        (rule.tested, rule.discoveries) = (f.tested, f.discoveries);
        Ok(rule)
    }
}

impl ELond {
    /// A rule at level `alpha` with no test judged yet.
    ///
    /// # Errors
    /// `alpha` outside (0, 1) or a horizon of 0.
    pub fn new(alpha: f64, horizon: Option<u64>) -> Result<Self, StatsError> {
        let alpha = ensure_level("fdr.alpha", alpha)?;
        if horizon == Some(0) {
            return Err(StatsError::invalid("fdr.horizon", 0, "at least 1 test"));
        }
        Ok(ELond {
            alpha,
            horizon,
            tested: 0,
            discoveries: 0,
        })
    }

    /// `γ_t` for the `t`-th test (1-based).
    fn gamma(&self, t: u64) -> f64 {
        match self.horizon {
            Some(k) if t <= k => 1.0 / k as f64,
            Some(_) => 0.0,
            None => {
                let tf = t as f64;
                0.077_208_38 * tf.max(2.0).ln() / (tf * tf.ln().sqrt().exp())
            }
        }
    }

    /// The e-value the next test needs to be promoted: `1/α_t`.
    pub fn next_threshold(&self) -> f64 {
        1.0 / (self.alpha * self.gamma(self.tested + 1) * (self.discoveries + 1) as f64)
    }

    /// Judges the next test to stop, with the e-value it stopped with:
    /// `true` means promote. Final: later tests do not revisit it.
    ///
    /// # Errors
    /// A negative or NaN e-value (nothing changes).
    pub fn judge(&mut self, e_value: f64) -> Result<bool, StatsError> {
        check_e_value(self.tested as usize, e_value)?;
        let threshold = self.next_threshold();
        self.tested += 1;
        let discovery = e_value >= threshold;
        if discovery {
            self.discoveries += 1;
        }
        Ok(discovery)
    }

    /// Tests judged so far.
    pub fn tested(&self) -> u64 {
        self.tested
    }

    /// Promotions so far.
    pub fn discoveries(&self) -> u64 {
        self.discoveries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e_bh_by_hand() {
        // K = 4, α = 0.1, thresholds 40, 20, 13.3, 10. Sorted 50, 30, 8, 1:
        // k = 2 is the largest with e₍ₖ₎ ≥ threshold.
        assert_eq!(
            e_bh(&[50.0, 8.0, 30.0, 1.0], 0.1).unwrap(),
            [true, false, true, false]
        );
        // Step-up: k = 1 fails (25 < 40) but k = 3 passes (14 ≥ 13.3).
        assert_eq!(
            e_bh(&[25.0, 25.0, 14.0, 0.5], 0.1).unwrap(),
            [true, true, true, false]
        );
        // K = 2, α = 0.1: thresholds 20, 10; 15 < 20 and 9 < 10.
        assert_eq!(e_bh(&[15.0, 9.0], 0.1).unwrap(), [false, false]);
        // One test: plain e ≥ 1/α.
        assert_eq!(e_bh(&[20.0], 0.05).unwrap(), [true]);
        assert_eq!(e_bh(&[f64::INFINITY, 0.0], 0.05).unwrap(), [true, false]);
        assert!(e_bh(&[], 0.05).unwrap().is_empty());
    }

    #[test]
    fn e_bh_refuses_what_is_not_an_e_value() {
        let err = e_bh(&[1.0, -0.5], 0.05).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid e-value[1] = -0.5: expected a number ≥ 0 (an e-value)"
        );
        assert!(e_bh(&[f64::NAN], 0.05).is_err());
        assert!(e_bh(&[1.0], 1.5).is_err());
    }

    #[test]
    fn e_lond_by_hand_with_a_horizon() {
        // α = 0.1, K = 10: γ = 0.1, so 1/α_t = 100/(D + 1).
        let mut rule = ELond::new(0.1, Some(10)).unwrap();
        let steps = [
            (50.0, 100.0, false),
            (120.0, 100.0, true),
            (60.0, 50.0, true),
            (34.0, 100.0 / 3.0, true),
            (20.0, 25.0, false),
        ];
        for (e, threshold, promote) in steps {
            assert!((rule.next_threshold() - threshold).abs() < 1e-9);
            assert_eq!(rule.judge(e).unwrap(), promote, "e = {e}");
        }
        assert_eq!((rule.tested(), rule.discoveries()), (5, 3));
        // Past the horizon nothing is promoted.
        let mut short = ELond::new(0.1, Some(1)).unwrap();
        short.judge(0.0).unwrap();
        assert!(!short.judge(1e300).unwrap());
    }

    #[test]
    fn e_lond_default_sequence_sums_below_one() {
        let rule = ELond::new(0.05, None).unwrap();
        // γ₁ = 0.0772·ln 2 by hand.
        assert!((rule.gamma(1) - 0.077_208_38 * 2f64.ln()).abs() < 1e-15);
        let partial: f64 = (1..=1_000_000).map(|t| rule.gamma(t)).sum();
        // The rest, ∫ over t > 10⁶ with v = √ln t, is 0.0772·∫ 2v³e^(−v) dv
        // from v = √ln 10⁶ = 3.717: 0.0772·2·e^(−v)(v³ + 3v² + 6v + 6).
        let v = 1e6f64.ln().sqrt();
        let tail = 0.077_208_38 * 2.0 * (-v).exp() * (v.powi(3) + 3.0 * v * v + 6.0 * v + 6.0);
        assert!(partial + tail < 1.0, "{partial} + {tail}");
        assert!(partial + tail > 0.95);
    }

    #[test]
    fn e_lond_state_round_trips() {
        let mut rule = ELond::new(0.05, None).unwrap();
        rule.judge(1e6).unwrap();
        let back: ELond = serde_json::from_str(&serde_json::to_string(&rule).unwrap()).unwrap();
        assert_eq!(back, rule);
        let bad = r#"{"alpha":0.05,"horizon":null,"tested":1,"discoveries":2}"#;
        assert!(
            serde_json::from_str::<ELond>(bad)
                .unwrap_err()
                .to_string()
                .contains("fdr.discoveries")
        );
        assert!(rule.judge(f64::NAN).is_err());
        assert_eq!(rule.tested(), 1);
    }
}

//! The energy chain: how much energy one cycle gets (SPEC §4).
//!
//! A cycle's energy starts from the energy score (or the requested energy when
//! no [`EnergySource`](crate::energy::EnergySource) is set) and is scaled, one
//! recorded factor at a time, by the policy's confidence, the ROI forecast, the
//! synergy adjustment, and the ROI averages:
//!
//! ```text
//! E0 = rhe(5 · energy_score)              with an energy source, else the requested energy
//! E1 = max(1, rhe(E0 · (1 + max(0, p))))  p = policy.score(state)
//! E2 = max(1, rhe(E1 · min(cap, 1 + max(0, f + bias) · k)))   only with a forecast f
//! E3 = rhe(E2 · (1 + adj))                adj = Σ w_k·Δ_k; skipped when adj = 0
//! E4 = rhe(E3 · clamp(1 + roi_delta_ema, 0.5, 2.0))
//! E5 = rhe(E4 · clamp(1 + short_mean, 0.5, 2.0))
//! E  = clamp(E5, 1, 100)
//! ```
//! `rhe` rounds half to even. Intermediate values are kept as whole numbers in
//! `f64`, so a huge policy score saturates instead of overflowing; only `E` is
//! bounded.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, ensure_finite, ensure_unit};

/// The smallest energy a cycle can get.
pub const MIN_ENERGY: u32 = 1;
/// The largest energy a cycle can get.
pub const MAX_ENERGY: u32 = 100;

/// Settings of the forecast factor (E2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChainConfig {
    /// Upper bound of the forecast multiplier (`cap`, default 5).
    pub forecast_cap: f64,
    /// Added to the forecast before it counts (`bias`, default 0).
    pub forecast_bias: f64,
    /// Weight of the forecast (`k`, default 1).
    pub forecast_k: f64,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            forecast_cap: 5.0,
            forecast_bias: 0.0,
            forecast_k: 1.0,
        }
    }
}

impl ChainConfig {
    /// Checks every field: the cap must be at least 1, `k` non-negative, all finite.
    pub fn validate(&self) -> Result<()> {
        let cap = ensure_finite("chain.forecast_cap", self.forecast_cap)?;
        if cap < 1.0 {
            return Err(Error::invalid(
                "chain.forecast_cap",
                cap,
                "a number of at least 1",
            ));
        }
        ensure_finite("chain.forecast_bias", self.forecast_bias)?;
        let k = ensure_finite("chain.forecast_k", self.forecast_k)?;
        if k < 0.0 {
            return Err(Error::invalid("chain.forecast_k", k, "a number ≥ 0"));
        }
        Ok(())
    }
}

/// What the chain is computed from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChainInputs {
    /// The energy asked for (used as E0 when there is no energy score).
    pub requested: u32,
    /// The energy score in [0, 1], when an energy source is set.
    pub energy_score: Option<f64>,
    /// `policy.score(state)`.
    pub policy_score: f64,
    /// The pre-cycle ROI forecast, when a forecaster is set.
    pub forecast: Option<f64>,
    /// `adj = Σ w_k·Δ_k` over the synergy keys.
    pub synergy_adj: f64,
    /// The ROI tracker's `roi_delta_ema`.
    pub roi_ema: f64,
    /// The ROI tracker's short mean.
    pub short_mean: f64,
}

/// Every factor of one cycle's energy, as recorded in its `CycleRecord`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnergyChain {
    /// From the energy score, or the requested energy.
    pub e0: f64,
    /// After the policy score.
    pub e1: f64,
    /// After the forecast; `None` when there was no forecast (E2 = E1).
    pub e2: Option<f64>,
    /// After the synergy adjustment; `None` when `adj` was 0 (E3 = E2).
    pub e3: Option<f64>,
    /// After the ROI moving average.
    pub e4: f64,
    /// After the short mean.
    pub e5: f64,
    /// The energy the pipeline gets, in `1..=100`.
    pub energy: u32,
}

fn rhe(x: f64) -> f64 {
    x.round_ties_even()
}

/// Computes the chain for `inputs`. Refuses non-finite inputs and an energy
/// score outside [0, 1].
///
/// ```
/// use kaizen::chain::{ChainConfig, ChainInputs, energy_chain};
/// let chain = energy_chain(
///     &ChainInputs { requested: 1, energy_score: Some(0.9), policy_score: 1.0, ..Default::default() },
///     &ChainConfig::default(),
/// ).unwrap();
/// // E0 = rhe(4.5) = 4, E1 = rhe(4 · 2) = 8, the rest leave it at 8.
/// assert_eq!((chain.e0, chain.e1, chain.energy), (4.0, 8.0, 8));
/// ```
pub fn energy_chain(inputs: &ChainInputs, config: &ChainConfig) -> Result<EnergyChain> {
    let p = ensure_finite("policy score", inputs.policy_score)?;
    let adj = ensure_finite("synergy adjustment", inputs.synergy_adj)?;
    let ema = ensure_finite("roi_delta_ema", inputs.roi_ema)?;
    let short = ensure_finite("short mean", inputs.short_mean)?;
    let e0 = match inputs.energy_score {
        Some(score) => rhe(5.0 * ensure_unit("energy score", score)?),
        None => f64::from(inputs.requested),
    };
    let e1 = rhe(e0 * (1.0 + p.max(0.0))).max(1.0);
    let e2 = match inputs.forecast {
        Some(f) => {
            let f = ensure_finite("ROI forecast", f)?;
            let factor = (1.0 + (f + config.forecast_bias).max(0.0) * config.forecast_k)
                .min(config.forecast_cap);
            Some(rhe(e1 * factor).max(1.0))
        }
        None => None,
    };
    let before_adj = e2.unwrap_or(e1);
    let e3 = (adj != 0.0).then(|| rhe(before_adj * (1.0 + adj)));
    let e4 = rhe(e3.unwrap_or(before_adj) * (1.0 + ema).clamp(0.5, 2.0));
    let e5 = rhe(e4 * (1.0 + short).clamp(0.5, 2.0));
    let energy = e5.clamp(f64::from(MIN_ENERGY), f64::from(MAX_ENERGY)) as u32;
    Ok(EnergyChain {
        e0,
        e1,
        e2,
        e3,
        e4,
        e5,
        energy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(inputs: ChainInputs) -> EnergyChain {
        energy_chain(&inputs, &ChainConfig::default()).unwrap()
    }

    #[test]
    fn requested_energy_passes_through_when_nothing_scales_it() {
        let c = chain(ChainInputs {
            requested: 7,
            ..Default::default()
        });
        assert_eq!(c.e0, 7.0);
        assert_eq!(c.e1, 7.0);
        assert_eq!(c.e2, None);
        assert_eq!(c.e3, None);
        assert_eq!((c.e4, c.e5, c.energy), (7.0, 7.0, 7));
    }

    #[test]
    fn every_factor_by_hand() {
        // E0 = rhe(5·0.7) = rhe(3.5) = 4 (ties to even)
        // E1 = max(1, rhe(4·(1 + 0.5))) = 6
        // E2 = max(1, rhe(6·min(5, 1 + max(0, 0.3 + 0)·1))) = rhe(7.8) = 8
        // E3 = rhe(8·(1 + 0.25)) = 10
        // E4 = rhe(10·clamp(1 + 0.2, 0.5, 2)) = 12
        // E5 = rhe(12·clamp(1 − 0.1, 0.5, 2)) = rhe(10.8) = 11
        let c = chain(ChainInputs {
            requested: 1,
            energy_score: Some(0.7),
            policy_score: 0.5,
            forecast: Some(0.3),
            synergy_adj: 0.25,
            roi_ema: 0.2,
            short_mean: -0.1,
        });
        assert_eq!(
            (c.e0, c.e1, c.e2, c.e3, c.e4, c.e5, c.energy),
            (4.0, 6.0, Some(8.0), Some(10.0), 12.0, 11.0, 11)
        );
    }

    #[test]
    fn rounding_is_half_to_even() {
        // 5·0.5 = 2.5 ⇒ 2; 5·0.3 = 1.5 ⇒ 2
        let c = chain(ChainInputs {
            energy_score: Some(0.5),
            ..Default::default()
        });
        assert_eq!(c.e0, 2.0);
        let c = chain(ChainInputs {
            energy_score: Some(0.3),
            ..Default::default()
        });
        assert_eq!(c.e0, 2.0);
    }

    #[test]
    fn low_score_is_lifted_to_one_and_negative_policy_score_is_ignored() {
        // E0 = rhe(0.25) = 0 ⇒ E1 = max(1, 0) = 1
        let c = chain(ChainInputs {
            energy_score: Some(0.05),
            policy_score: -3.0,
            ..Default::default()
        });
        assert_eq!((c.e0, c.e1, c.energy), (0.0, 1.0, 1));
    }

    #[test]
    fn forecast_factor_is_capped_and_negative_forecasts_do_nothing() {
        // factor = min(5, 1 + 10) = 5 ⇒ E2 = 10·5 = 50
        let c = chain(ChainInputs {
            requested: 10,
            forecast: Some(10.0),
            ..Default::default()
        });
        assert_eq!(c.e2, Some(50.0));
        let c = chain(ChainInputs {
            requested: 10,
            forecast: Some(-4.0),
            ..Default::default()
        });
        assert_eq!(c.e2, Some(10.0));
        // bias and k: factor = 1 + max(0, 0.5 − 0.25)·2 = 1.5 ⇒ E2 = 15
        let c = energy_chain(
            &ChainInputs {
                requested: 10,
                forecast: Some(0.5),
                ..Default::default()
            },
            &ChainConfig {
                forecast_bias: -0.25,
                forecast_k: 2.0,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.e2, Some(15.0));
    }

    #[test]
    fn averages_are_clamped_between_half_and_double() {
        // ema −0.9 ⇒ factor 0.5; short mean 5 ⇒ factor 2
        let c = chain(ChainInputs {
            requested: 10,
            roi_ema: -0.9,
            short_mean: 5.0,
            ..Default::default()
        });
        assert_eq!((c.e4, c.e5, c.energy), (5.0, 10.0, 10));
    }

    #[test]
    fn synergy_adjustment_can_drive_energy_to_the_floor() {
        // E3 = rhe(10·(1 − 2)) = −10 ⇒ E4 = −10, E5 = −10 ⇒ E = 1
        let c = chain(ChainInputs {
            requested: 10,
            synergy_adj: -2.0,
            ..Default::default()
        });
        assert_eq!(c.e3, Some(-10.0));
        assert_eq!(c.energy, MIN_ENERGY);
    }

    #[test]
    fn energy_is_capped_at_one_hundred_even_for_huge_scores() {
        let c = chain(ChainInputs {
            requested: 100,
            policy_score: 1e300,
            ..Default::default()
        });
        assert_eq!(c.energy, MAX_ENERGY);
    }

    #[test]
    fn non_finite_and_out_of_range_inputs_are_refused() {
        let cfg = ChainConfig::default();
        for inputs in [
            ChainInputs {
                policy_score: f64::NAN,
                ..Default::default()
            },
            ChainInputs {
                synergy_adj: f64::INFINITY,
                ..Default::default()
            },
            ChainInputs {
                roi_ema: f64::NAN,
                ..Default::default()
            },
            ChainInputs {
                short_mean: f64::NEG_INFINITY,
                ..Default::default()
            },
            ChainInputs {
                forecast: Some(f64::NAN),
                ..Default::default()
            },
            ChainInputs {
                energy_score: Some(1.5),
                ..Default::default()
            },
        ] {
            assert!(energy_chain(&inputs, &cfg).is_err(), "{inputs:?}");
        }
    }

    #[test]
    fn config_validation_names_the_field() {
        let err = ChainConfig {
            forecast_cap: 0.5,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("chain.forecast_cap"), "{err}");
        assert!(
            ChainConfig {
                forecast_k: -1.0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(ChainConfig::default().validate().is_ok());
    }
}

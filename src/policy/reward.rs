//! The rewards the policy learns from (SPEC §3).
//!
//! - A **run**: `delta − energy_cost·E + Δ_synergy_roi + Δ_synergy_efficiency`
//!   ([`run_reward`]): the cycle's ROI delta (already divided by
//!   `roi_scale`), less what its energy cost, plus the change of the two
//!   synergy metrics that measure return (a key outside the deltas' set
//!   counts 0). The synergy deltas are taken as they are, not divided by
//!   `roi_scale`.
//! - A **skip**: the profit change from the tick that skipped to the next
//!   profit reading, divided by `roi_scale` ([`skip_reward`]); 0 when either
//!   reading is missing (no profit source, or it failed).
//!
//! ```
//! use kaizen::policy::{run_reward, skip_reward};
//! use kaizen::synergy::{SynergyDeltas, SynergyKeys};
//!
//! let deltas = SynergyDeltas::from_values(SynergyKeys::Core, &[0.1, 0.2, 5.0, 5.0])?;
//! // 3 − 0.5·2 + 0.1 + 0.2 (resilience and antifragility do not count)
//! assert!((run_reward(3.0, 0.5, 2, &deltas) - 2.3).abs() < 1e-12);
//! assert_eq!(skip_reward(Some(100.0), Some(103.0), 2.0), 1.5);
//! assert_eq!(skip_reward(None, Some(103.0), 2.0), 0.0);
//! # Ok::<(), kaizen::Error>(())
//! ```

use crate::synergy::{SynergyDeltas, SynergyKey};

/// The reward of a run cycle with ROI `delta` (after `roi_scale`) and
/// `energy`, at `energy_cost` per unit, given the synergy `deltas` after it.
pub fn run_reward(delta: f64, energy_cost: f64, energy: u32, deltas: &SynergyDeltas) -> f64 {
    delta - energy_cost * f64::from(energy)
        + deltas.get(SynergyKey::Roi).unwrap_or(0.0)
        + deltas.get(SynergyKey::Efficiency).unwrap_or(0.0)
}

/// The reward of a skip: the profit change from `then` (read when the tick
/// skipped) to `now` (the next reading), over `roi_scale`; 0 without both.
pub fn skip_reward(then: Option<f64>, now: Option<f64>, roi_scale: f64) -> f64 {
    match (then, now) {
        (Some(then), Some(now)) => (now - then) / roi_scale,
        _ => 0.0,
    }
}

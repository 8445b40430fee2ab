//! Fixed-size synergy vectors: the observed deltas ([`SynergyDeltas`]), the
//! storage they share with the learned weights
//! ([`SynergyWeights`](super::SynergyWeights), in [`super::weights`]), and
//! the weighted sums of the two.
//!
//! Both hold one `f64` per key of their [`SynergyKeys`] set in a `[f64; 7]`
//! (no heap). Entries of keys outside the set are kept at 0, so a vector over
//! the core set reads as the extended vector with zeros for the extra keys.
//!
//! - [`SynergyWeights`]: each weight in `[0, 10]`, starting at 1.0.
//! - [`SynergyDeltas`]: each delta finite.
//! - [`adjustment`] `= Σ_k w_k·Δ_k`, the energy chain's `adj` (SPEC §4, E3), and
//!   [`core_products`], the four `w_k·Δ_k` of the policy state (SPEC §3).
//!
//! Where SPEC is silent: when the two vectors have different key sets, a key
//! missing from either side contributes 0. Products and sums that would
//! overflow `f64` saturate at `±f64::MAX`, so both functions return a finite
//! number for any valid input.
//!
//! ```
//! use kaizen::synergy::{SynergyDeltas, SynergyKey, SynergyKeys, SynergyWeights, adjustment};
//!
//! let mut weights = SynergyWeights::new(SynergyKeys::Core);
//! weights.set(SynergyKey::Efficiency, 2.0)?;
//! let deltas = SynergyDeltas::from_values(SynergyKeys::Core, &[0.1, 0.2, 0.0, -0.3])?;
//! // 1·0.1 + 2·0.2 + 1·0 + 1·(−0.3)
//! assert!((adjustment(&weights, &deltas) - 0.2).abs() < 1e-12);
//! # Ok::<(), kaizen::Error>(())
//! ```

use super::key::{SynergyKey, SynergyKeys};
use super::weights::SynergyWeights;
use crate::error::ensure_finite;
use crate::{Error, Result};

/// Room for the largest key set.
pub(super) const MAX_KEYS: usize = SynergyKey::ALL.len();

/// `x` with ±∞ replaced by `±f64::MAX` (never given NaN here).
pub(crate) fn saturate(x: f64) -> f64 {
    x.clamp(-f64::MAX, f64::MAX)
}

/// The read-only accessors both vectors share.
macro_rules! keyed_vector {
    ($name:ident, $what:literal) => {
        impl $name {
            /// The key set this vector is over.
            pub fn keys(&self) -> SynergyKeys {
                self.keys
            }

            #[doc = concat!("The ", $what, " for `key`; `None` when `key` is not in this vector's set.")]
            pub fn get(&self, key: SynergyKey) -> Option<f64> {
                self.keys.contains(key).then(|| self.values[key.index()])
            }

            #[doc = concat!("The ", $what, "s in key order, one per key of the set.")]
            pub fn as_slice(&self) -> &[f64] {
                &self.values[..self.keys.keys().len()]
            }

            #[doc = concat!("Each key of the set with its ", $what, ", in key order.")]
            pub fn iter(&self) -> impl Iterator<Item = (SynergyKey, f64)> + '_ {
                self.keys.keys().iter().copied().zip(self.as_slice().iter().copied())
            }

            /// `Error::Invalid` unless `key` belongs to this vector's set.
            fn check_key(&self, key: SynergyKey) -> Result<()> {
                if self.keys.contains(key) {
                    Ok(())
                } else {
                    Err(Error::invalid(
                        concat!("synergy ", $what, " key"),
                        key,
                        format!("one of the {} keys", self.keys),
                    ))
                }
            }

            /// Checks `values` has one entry per key of `keys` and copies it in.
            fn filled(keys: SynergyKeys, values: &[f64]) -> Result<Self> {
                let n = keys.keys().len();
                if values.len() != n {
                    return Err(Error::invalid(
                        concat!("synergy ", $what, "s"),
                        format!("{} values", values.len()),
                        format!("{n} values, one per {keys} key"),
                    ));
                }
                let mut out = Self {
                    keys,
                    values: [0.0; MAX_KEYS],
                };
                for (&key, &value) in keys.keys().iter().zip(values) {
                    out.set(key, value)?;
                }
                Ok(out)
            }
        }
    };
}
pub(super) use keyed_vector;

/// One observed change per synergy metric, each finite.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SynergyDeltas {
    pub(super) keys: SynergyKeys,
    pub(super) values: [f64; MAX_KEYS],
}

keyed_vector!(SynergyDeltas, "delta");

impl SynergyDeltas {
    /// All deltas of `keys` at 0.
    pub fn zeros(keys: SynergyKeys) -> Self {
        Self {
            keys,
            values: [0.0; MAX_KEYS],
        }
    }

    /// Deltas from `values`, one per key of `keys` in key order.
    /// Refuses a wrong count and a non-finite value.
    pub fn from_values(keys: SynergyKeys, values: &[f64]) -> Result<Self> {
        Self::filled(keys, values)
    }

    /// Sets the delta of `key`. Refuses a key outside the set and a non-finite
    /// value; nothing changes then.
    pub fn set(&mut self, key: SynergyKey, value: f64) -> Result<()> {
        self.check_key(key)?;
        self.values[key.index()] = ensure_finite(key_what("synergy delta", key), value)?;
        Ok(())
    }

    /// Deltas computed by this crate, already finite.
    pub(crate) fn from_finite(keys: SynergyKeys, delta: impl Fn(SynergyKey) -> f64) -> Self {
        let mut out = Self::zeros(keys);
        for &key in keys.keys() {
            out.values[key.index()] = delta(key);
        }
        out
    }
}

/// `"<prefix> <key>"`, e.g. `synergy weight roi`, for error messages.
pub(super) fn key_what(prefix: &str, key: SynergyKey) -> String {
    format!("{prefix} {key}")
}

/// `w_k·Δ_k` for every position (0 outside either set), saturated.
fn products(weights: &SynergyWeights, deltas: &SynergyDeltas) -> [f64; MAX_KEYS] {
    // Outside its own set each vector holds 0, so the plain product is 0 there.
    std::array::from_fn(|i| saturate(weights.values[i] * deltas.values[i]))
}

/// `adj = Σ_k w_k·Δ_k` over the keys both vectors have (SPEC §4, E3).
/// Always finite: an overflowing sum saturates at `±f64::MAX`.
pub fn adjustment(weights: &SynergyWeights, deltas: &SynergyDeltas) -> f64 {
    // Saturated terms are finite, so the running sum can reach ±∞ but never NaN.
    saturate(products(weights, deltas).iter().sum())
}

/// The four core products `w_k·Δ_k` (roi, efficiency, resilience,
/// antifragility), as the policy state uses them (SPEC §3). Always finite.
pub fn core_products(weights: &SynergyWeights, deltas: &SynergyDeltas) -> [f64; 4] {
    let p = products(weights, deltas);
    [p[0], p[1], p[2], p[3]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synergy::SynergyWeights;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn weights_start_at_one_and_only_for_their_keys() {
        let w = SynergyWeights::new(SynergyKeys::Core);
        assert_eq!(w.as_slice(), &[1.0; 4]);
        assert_eq!(w.get(SynergyKey::Roi), Some(1.0));
        assert_eq!(w.get(SynergyKey::Throughput), None);
        assert_eq!(SynergyWeights::default(), w);
        let w = SynergyWeights::new(SynergyKeys::Extended);
        assert_eq!(w.as_slice(), &[1.0; 7]);
        let keys: Vec<_> = w.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, SynergyKey::ALL);
    }

    #[test]
    fn weights_refuse_bad_values_and_keep_the_old_ones() {
        let mut w = SynergyWeights::new(SynergyKeys::Core);
        assert!(matches!(
            w.set(SynergyKey::Roi, f64::NAN),
            Err(Error::NonFinite { .. })
        ));
        let err = w.set(SynergyKey::Roi, 10.5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid synergy weight roi = 10.5: expected a weight in [0, 10]"
        );
        assert!(w.set(SynergyKey::Efficiency, -0.1).is_err());
        let err = w.set(SynergyKey::Reliability, 1.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid synergy weight key = reliability: expected one of the core keys"
        );
        assert_eq!(w, SynergyWeights::new(SynergyKeys::Core));
        w.set(SynergyKey::Roi, 10.0).unwrap();
        w.set(SynergyKey::Resilience, 0.0).unwrap();
        assert_eq!(w.as_slice(), &[10.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn from_values_checks_count_and_range() {
        let w = SynergyWeights::from_values(SynergyKeys::Core, &[0.5, 2.0, 3.0, 10.0]).unwrap();
        assert_eq!(w.get(SynergyKey::Antifragility), Some(10.0));
        let err = SynergyWeights::from_values(SynergyKeys::Core, &[1.0; 7]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid synergy weights = 7 values: expected 4 values, one per core key"
        );
        assert!(SynergyWeights::from_values(SynergyKeys::Core, &[1.0, 1.0, 1.0, 11.0]).is_err());
        assert!(
            SynergyWeights::from_values(SynergyKeys::Core, &[1.0, f64::INFINITY, 1.0, 1.0])
                .is_err()
        );
        let d = SynergyDeltas::from_values(SynergyKeys::Core, &[-5.0, 0.0, 1e300, 2.0]).unwrap();
        assert_eq!(d.get(SynergyKey::Resilience), Some(1e300));
        assert!(matches!(
            SynergyDeltas::from_values(SynergyKeys::Core, &[0.0, f64::NAN, 0.0, 0.0]),
            Err(Error::NonFinite { .. })
        ));
        assert!(SynergyDeltas::from_values(SynergyKeys::Extended, &[0.0; 4]).is_err());
    }

    #[test]
    fn deltas_set_refuses_non_finite_and_foreign_keys() {
        let mut d = SynergyDeltas::zeros(SynergyKeys::Core);
        d.set(SynergyKey::Roi, -0.25).unwrap();
        let err = d
            .set(SynergyKey::Efficiency, f64::NEG_INFINITY)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "synergy delta efficiency must be a finite number, got -inf"
        );
        assert!(d.set(SynergyKey::Throughput, 1.0).is_err());
        assert_eq!(d.as_slice(), &[-0.25, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn adjustment_and_core_products_by_hand() {
        let w = SynergyWeights::from_values(SynergyKeys::Core, &[1.0, 2.0, 0.5, 1.0]).unwrap();
        let d = SynergyDeltas::from_values(SynergyKeys::Core, &[0.1, -0.2, 0.4, 1.0]).unwrap();
        // 0.1 − 0.4 + 0.2 + 1.0
        assert!(close(adjustment(&w, &d), 0.9));
        let p = core_products(&w, &d);
        let want = [0.1, -0.4, 0.2, 1.0];
        assert!(p.iter().zip(want).all(|(a, b)| close(*a, b)), "{p:?}");
        assert_eq!(
            adjustment(&w, &SynergyDeltas::zeros(SynergyKeys::Core)),
            0.0
        );
    }

    #[test]
    fn adjustment_over_different_key_sets_uses_the_common_keys() {
        let w = SynergyWeights::from_values(
            SynergyKeys::Extended,
            &[1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0],
        )
        .unwrap();
        let core = SynergyDeltas::from_values(SynergyKeys::Core, &[0.5, 0.5, 0.5, 0.5]).unwrap();
        assert!(close(adjustment(&w, &core), 2.0));
        let ext =
            SynergyDeltas::from_values(SynergyKeys::Extended, &[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
                .unwrap();
        assert!(close(adjustment(&w, &ext), 9.0));
        let core_w = SynergyWeights::new(SynergyKeys::Core);
        assert_eq!(adjustment(&core_w, &ext), 0.0);
        // Extended products still start with the four core products.
        let all =
            SynergyDeltas::from_values(SynergyKeys::Extended, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
                .unwrap();
        assert_eq!(core_products(&w, &all), [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn huge_deltas_saturate_instead_of_overflowing() {
        let w = SynergyWeights::from_values(SynergyKeys::Core, &[10.0, 10.0, 10.0, 10.0]).unwrap();
        let d =
            SynergyDeltas::from_values(SynergyKeys::Core, &[f64::MAX, f64::MAX, -f64::MAX, 1.0])
                .unwrap();
        assert_eq!(core_products(&w, &d), [f64::MAX, f64::MAX, -f64::MAX, 10.0]);
        // MAX + MAX overflows to +∞, then −MAX keeps it at +∞: saturated, not NaN.
        assert_eq!(adjustment(&w, &d), f64::MAX);
    }

    #[test]
    fn weights_serialize_flat_in_key_order() {
        let w = SynergyWeights::from_values(SynergyKeys::Core, &[1.1, 1.0, 0.0, 10.0]).unwrap();
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            r#"{"roi":1.1,"efficiency":1.0,"resilience":0.0,"antifragility":10.0}"#
        );
    }
}

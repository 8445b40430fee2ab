//! What the host gives an engine besides its pipeline, and one profit reading.

use std::sync::Arc;

use crate::error::ensure_bounded;
use crate::host::{Admission, Diagnostics, ProfitSource, RoiForecast};

/// What the host gives an engine besides its pipeline.
#[derive(Clone, Default)]
pub struct Hosts {
    /// The ledger.
    pub profit: Option<Arc<dyn ProfitSource>>,
    /// The pre-cycle ROI forecast.
    pub forecast: Option<Arc<dyn RoiForecast>>,
    /// Diagnostics that force a cycle.
    pub diagnostics: Option<Arc<dyn Diagnostics>>,
    /// The host's admission to a cycle slot, asked first at every tick.
    pub admission: Option<Arc<dyn Admission>>,
}

/// One profit reading.
#[derive(Clone, Debug, PartialEq)]
pub enum Reading {
    /// There is no profit source.
    NoSource,
    /// The profit.
    Profit(f64),
    /// The source failed (or gave NaN, ∞ or a number beyond ±1e100): why.
    Failed(String),
}

impl Reading {
    /// The profit, when it was read.
    pub fn value(&self) -> Option<f64> {
        match self {
            Reading::Profit(p) => Some(*p),
            _ => None,
        }
    }
}

impl Hosts {
    /// Whether `bot` may start a cycle now: the host's admission, when it
    /// has one.
    pub fn admit(&self, bot: &str) -> bool {
        self.admission.as_ref().is_none_or(|a| a.admit(bot))
    }

    /// Reads `bot`'s profit.
    pub fn read_profit(&self, bot: &str) -> Reading {
        match &self.profit {
            None => Reading::NoSource,
            Some(source) => match source.profit(bot) {
                Ok(p) => match ensure_bounded("the profit source's reading", p) {
                    Ok(p) => Reading::Profit(p),
                    Err(e) => Reading::Failed(e.to_string()),
                },
                Err(e) => Reading::Failed(format!("profit source failed: {e}")),
            },
        }
    }
}

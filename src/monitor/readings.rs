//! What the monitor reads for the fleet-wide rules: the decision latency
//! over a sliding window, and a bot's last automatic model rollback.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use crate::alert::Degradation;
use crate::histogram::Snapshot;
use crate::models::{Catalog, MODELS_DIR, ModelsError, MoveAction};

/// Snapshots of a cumulative histogram over a window of time, so the
/// p99 of what was observed within the window can be computed (as
/// Prometheus does with `rate(…[window])`).
#[derive(Debug)]
pub struct LatencyWindow {
    window: f64,
    snapshots: VecDeque<(f64, Snapshot)>,
}

impl LatencyWindow {
    /// A window of `window` seconds.
    pub fn new(window: f64) -> Self {
        LatencyWindow {
            window,
            snapshots: VecDeque::new(),
        }
    }

    /// Adds the histogram's counts `now` and returns the p99 of what was
    /// observed since the oldest snapshot still in the window (none when
    /// nothing was; the first call has nothing to compare with).
    ///
    /// ```
    /// use kaizen::histogram::Histogram;
    /// use kaizen::monitor::LatencyWindow;
    /// let h = Histogram::new(&[0.1, 1.0, 10.0]);
    /// let mut w = LatencyWindow::new(300.0);
    /// h.observe(5.0); // before the window: never counted
    /// assert_eq!(w.p99(0.0, h.snapshot()), None);
    /// h.observe(0.05);
    /// // Interpolated within its bucket (0, 0.1], as Prometheus's
    /// // histogram_quantile does: 0.99 of the way up.
    /// assert!((w.p99(100.0, h.snapshot()).unwrap() - 0.099).abs() < 1e-12);
    /// // 400 s later the 0.05 has left the window, and nothing came since.
    /// assert_eq!(w.p99(500.0, h.snapshot()), None);
    /// ```
    pub fn p99(&mut self, now: f64, counts: Snapshot) -> Option<f64> {
        // Keep the newest snapshot at or before the window's start as the baseline.
        while self.snapshots.len() >= 2 && self.snapshots[1].0 <= now - self.window {
            self.snapshots.pop_front();
        }
        let p99 = self
            .snapshots
            .front()
            .and_then(|(_, base)| counts.since(base).quantile(0.99));
        self.snapshots.push_back((now, counts));
        p99
    }
}

/// The last automatic rollback in the model registry of `bot` (whose state
/// folder is `bot_dir`), if it has a registry and one happened.
pub fn last_degradation(
    bot_dir: &Path,
    bot: &Arc<str>,
) -> Result<Option<Degradation>, ModelsError> {
    if !bot_dir.join(MODELS_DIR).is_dir() {
        return Ok(None);
    }
    let catalog = Catalog::read(bot_dir)?;
    let Some(m) = catalog
        .history()
        .iter()
        .rev()
        .find(|m| m.action == MoveAction::AutoRollback)
    else {
        return Ok(None);
    };
    let loss_increase = m
        .check
        .as_ref()
        .and_then(|c| Some(c.champion_loss? / c.previous_loss? - 1.0))
        .filter(|v| v.is_finite())
        .unwrap_or(0.0);
    let from = m.from.map_or_else(|| "?".into(), |v| v.to_string());
    let to = m.to.map_or_else(|| "none".into(), |v| v.to_string());
    Ok(Some(Degradation {
        bot: bot.clone(),
        at: m.at,
        loss_increase,
        detail: format!("model {from} rolled back to {to}: {}", m.reason),
    }))
}

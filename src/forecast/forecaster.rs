//! [`Forecaster`]: an engine's ROI-delta history, its fitted model and the
//! cached forecast; fit once, update cheaply, persist.

use std::collections::VecDeque;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::linear::fallback;
use super::{ArimaModel, Forecast, ForecastError};
use crate::error::{Error, Result, ensure_finite};
use crate::persist::{self, Durability};
use crate::roi::{keep_newest, push_bounded};

/// The smallest [`ForecasterConfig::min_arima_points`] accepted: enough for
/// ARIMA(2, 1, 2)'s six parameters with a few points to spare.
pub const MIN_ARIMA_POINTS_FLOOR: usize = 10;

/// Settings of a [`Forecaster`]. [`Default`] gives the defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForecasterConfig {
    /// Histories shorter than this use the linear fallback; from this length
    /// on ARIMA is fitted. At least [`MIN_ARIMA_POINTS_FLOOR`]. Default 20.
    pub min_arima_points: usize,
    /// How many of the newest deltas are kept and fitted; at least
    /// `min_arima_points`. Default 1,000 (the engine's `roi_history`).
    pub max_history: usize,
    /// The order is chosen again (all 18 candidates fitted) every this many
    /// new points; in between the fitted model takes each point in one
    /// filter step. At least 1. Default 10.
    pub refit_every: usize,
}

impl Default for ForecasterConfig {
    fn default() -> Self {
        ForecasterConfig {
            min_arima_points: 20,
            max_history: 1000,
            refit_every: 10,
        }
    }
}

impl ForecasterConfig {
    /// `Ok` when every setting is in range, else the first one that is not.
    pub fn validate(&self) -> Result<()> {
        if self.min_arima_points < MIN_ARIMA_POINTS_FLOOR {
            return Err(Error::invalid(
                "forecast.min_arima_points",
                self.min_arima_points,
                "at least 10",
            ));
        }
        if self.max_history < self.min_arima_points {
            return Err(Error::invalid(
                "forecast.max_history",
                self.max_history,
                format!("at least min_arima_points ({})", self.min_arima_points),
            ));
        }
        if self.refit_every == 0 {
            return Err(Error::invalid("forecast.refit_every", 0, "at least 1"));
        }
        Ok(())
    }
}

/// The persisted state of a [`Forecaster`]. It has no `version` field of its
/// own (persistence adds it), so it can be embedded in an engine's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ForecasterState {
    /// The deltas, oldest first.
    pub history: VecDeque<f64>,
    /// The ARIMA chosen at the last fit, with its filter state; `None` before
    /// the first fit or when no ARIMA could be fitted.
    pub model: Option<ArimaModel>,
    /// Points observed since the last fit attempt; `None` before the first.
    pub since_fit: Option<usize>,
}

/// The forecast an engine reads on every tick, kept up to date as ROI deltas
/// come in. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct Forecaster {
    config: ForecasterConfig,
    state: ForecasterState,
    /// Why the last fit found no ARIMA (not persisted).
    fit_error: Option<ForecastError>,
    /// The forecast from the current state.
    current: Option<Forecast>,
    /// Points observed since this value was made (not persisted): tells
    /// [`install`](Self::install) which points came after a [`Refit`] was taken.
    observed: u64,
}

/// A refit to run anywhere (it takes milliseconds on long histories): the
/// history it chooses the order on. [`Forecaster::observe_deferred`] hands
/// one out; [`run`](Refit::run) it, then give the result to
/// [`Forecaster::install`].
#[derive(Clone, Debug)]
pub struct Refit {
    history: Vec<f64>,
    /// The forecaster's count of observed points when the refit was taken.
    observed_at: u64,
}

/// A [`Refit`] that ran: the chosen ARIMA, or why there is none.
#[derive(Clone, Debug)]
pub struct Refitted {
    model: Result<ArimaModel, ForecastError>,
    observed_at: u64,
}

impl Refit {
    /// Chooses the order on the history (all 18 candidates).
    pub fn run(self) -> Refitted {
        Refitted {
            model: ArimaModel::select(&self.history),
            observed_at: self.observed_at,
        }
    }

    /// The number of points it fits.
    pub fn len(&self) -> usize {
        self.history.len()
    }

    /// Whether it has no points (never: a refit is only due from
    /// `min_arima_points` on).
    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }
}

/// The forecast for the value after `history`: the ARIMA with the smallest
/// AIC when `history` has at least `config.min_arima_points` points and one
/// can be fitted, else the linear fallback. What a [`Forecaster`] holding
/// `history` says right after a fit. An error names a non-finite value.
pub fn forecast(
    history: &[f64],
    config: &ForecasterConfig,
) -> Result<Option<Forecast>, ForecastError> {
    let linear = super::linear_forecast(history)?;
    if history.len() < config.min_arima_points {
        return Ok(linear);
    }
    Ok(ArimaModel::select(history)
        .ok()
        .and_then(|m| m.forecast())
        .or(linear))
}

impl Forecaster {
    /// An empty forecaster.
    pub fn new(config: ForecasterConfig) -> Result<Self> {
        Self::from_state(config, ForecasterState::default())
    }

    /// A forecaster that resumes from `state`. A history longer than
    /// `max_history` keeps its newest points; a non-finite number is refused
    /// naming it, and so is a model that is not a valid fit (an order out of
    /// range, non-stationary AR or non-invertible MA coefficients, a scale
    /// that is not positive). A model kept with fewer than `min_arima_points`
    /// points (the setting grew) is dropped.
    pub fn from_state(config: ForecasterConfig, mut state: ForecasterState) -> Result<Self> {
        config.validate()?;
        persist::check_finite(&state).map_err(|at| Error::NonFinite {
            what: format!("forecast state {}", at.path()).into(),
            value: at.value,
        })?;
        if let Some(model) = &state.model {
            model.check().map_err(|(field, value, expected)| {
                Error::invalid(format!("forecast state model.{field}"), value, expected)
            })?;
        }
        keep_newest(&mut state.history, config.max_history);
        if state.history.len() < config.min_arima_points {
            state.model = None;
            state.since_fit = None;
        }
        let mut f = Forecaster {
            config,
            state,
            fit_error: None,
            current: None,
            observed: 0,
        };
        f.current = f.compute();
        Ok(f)
    }

    /// Records one ROI delta. A non-finite delta is refused and changes
    /// nothing. From `min_arima_points` points on, every `refit_every`-th
    /// call refits (all candidates; milliseconds on long histories), the
    /// others update the fitted model in one filter step.
    pub fn observe(&mut self, delta: f64) -> Result<()> {
        if let Some(refit) = self.observe_deferred(delta)? {
            self.install(refit.run());
        }
        Ok(())
    }

    /// [`observe`](Self::observe) without the refit: when one is due, it is
    /// returned to be [run](Refit::run) elsewhere (off a thread that must
    /// stay responsive) and [installed](Self::install) afterwards. Until
    /// then the previous model (or the line) takes the new points and gives
    /// the forecast; a refit that is never installed is asked for again at
    /// the next point.
    pub fn observe_deferred(&mut self, delta: f64) -> Result<Option<Refit>> {
        let delta = ensure_finite("roi delta", delta)?;
        push_bounded(&mut self.state.history, delta, self.config.max_history);
        self.observed += 1;
        if self.state.history.len() < self.config.min_arima_points {
            self.current = self.compute();
            return Ok(None);
        }
        let due = self
            .state
            .since_fit
            .is_none_or(|k| k + 1 >= self.config.refit_every);
        // The fitted model takes the point even when a refit is due, so the
        // forecast stays current until the refit is installed; a model whose
        // filter refuses the point is dropped (the line stands in).
        let stepped = match &mut self.state.model {
            Some(model) => model.observe(delta).is_ok(),
            None => true,
        };
        if !stepped {
            self.state.model = None;
        }
        self.current = self.compute();
        if due || !stepped {
            Ok(Some(self.refit_job()))
        } else {
            self.state.since_fit = self.state.since_fit.map(|k| k + 1);
            Ok(None)
        }
    }

    /// A refit of the current history, to run anywhere.
    pub fn refit_job(&self) -> Refit {
        Refit {
            history: self.state.history.iter().copied().collect(),
            observed_at: self.observed,
        }
    }

    /// Takes the model a [`Refit`] chose; the points observed since it was
    /// taken go through the new model's filter, so nothing is lost. (A refit
    /// of fewer than `min_arima_points` points installs nothing.)
    pub fn install(&mut self, refitted: Refitted) {
        let later = self.observed.saturating_sub(refitted.observed_at);
        let later = usize::try_from(later)
            .unwrap_or(usize::MAX)
            .min(self.state.history.len());
        if self.state.history.len() < self.config.min_arima_points {
            self.current = self.compute();
            return;
        }
        match refitted.model {
            Ok(mut model) => {
                let newer = self
                    .state
                    .history
                    .iter()
                    .skip(self.state.history.len() - later);
                let taken = newer.copied().all(|x| model.observe(x).is_ok());
                self.state.model = taken.then_some(model);
                self.fit_error = None;
            }
            Err(e) => {
                self.state.model = None;
                self.fit_error = Some(e);
            }
        }
        self.state.since_fit = Some(later);
        self.current = self.compute();
    }

    /// Chooses the order again on the current history now (with fewer than
    /// `min_arima_points` points: nothing to fit, the linear fallback stays).
    pub fn refit(&mut self) {
        let job = self.refit_job();
        if job.len() >= self.config.min_arima_points {
            self.install(job.run());
        } else {
            self.current = self.compute();
        }
    }

    /// The forecast of the next delta: cached, `O(1)`. `None` with fewer than
    /// 3 deltas, or when it lies beyond `f64`'s range.
    pub fn forecast(&self) -> Option<Forecast> {
        self.current
    }

    /// The fitted ARIMA, if any.
    pub fn model(&self) -> Option<&ArimaModel> {
        self.state.model.as_ref()
    }

    /// Why the last fit found no ARIMA (e.g. a constant history); `None`
    /// after a successful fit, before any, and after a reload.
    pub fn fit_error(&self) -> Option<&ForecastError> {
        self.fit_error.as_ref()
    }

    /// The deltas, oldest first.
    pub fn history(&self) -> &VecDeque<f64> {
        &self.state.history
    }

    /// The settings.
    pub fn config(&self) -> &ForecasterConfig {
        &self.config
    }

    /// The state to persist, borrowed.
    pub fn state(&self) -> &ForecasterState {
        &self.state
    }

    /// Writes the state to `path` as versioned JSON, atomically. Returns the
    /// bytes written.
    pub fn save(&self, path: &Path, durability: Durability) -> Result<u64> {
        Ok(persist::save_json(path, &self.state, durability)?)
    }

    /// Reads a state saved by [`save`](Self::save). A missing file, or a
    /// corrupt one without a good backup, gives an empty forecaster; a file
    /// from a newer version is an error and is left untouched.
    pub fn load(path: &Path, config: ForecasterConfig) -> Result<Self> {
        match persist::load_json::<ForecasterState>(path)? {
            Some(state) => Self::from_state(config, state),
            None => Self::new(config),
        }
    }

    /// The forecast from the fitted model, else from the line.
    fn compute(&self) -> Option<Forecast> {
        let h = &self.state.history;
        self.state
            .model
            .as_ref()
            .and_then(ArimaModel::forecast)
            .or_else(|| fallback(h.iter().copied(), h.len()))
    }
}

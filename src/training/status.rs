//! [`TrainingStatus`]: what status views show of a bot's training — the
//! champion and its metrics, the post-deploy check under way, the samples
//! waiting, the bot's job in the training pool, the open alerts.
//!
//! A live [`TrainingPipeline`](super::TrainingPipeline) keeps one up to date
//! after every cycle (an engine's snapshot carries it, without waiting for a
//! cycle under way); [`TrainingStatus::inspect`] reads one from a bot's state
//! folder for `kaizen status`, without a lock and without changing anything.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use super::{AlertKind, AlertRecord, Counters, JobStatus, LearnerState, STATE_FILE};
use crate::models::{AliasMove, Catalog, ModelsError, VersionId};
use crate::persist::{Inspected, inspect_json};

/// The serving version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChampionStatus {
    /// Its number.
    pub version: VersionId,
    /// When it was saved (seconds since the Unix epoch).
    pub created: f64,
    /// Its metrics (held-out loss, improvement, p-value, accuracy, …).
    pub metrics: BTreeMap<String, f64>,
}

/// A post-deploy check under way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckStatus {
    /// The champion being checked.
    pub version: VersionId,
    /// The champion it replaced.
    pub against: VersionId,
    /// Live samples compared so far.
    pub samples: usize,
    /// Samples the check needs.
    pub window: usize,
}

/// An alert still open (raised by the last run of its kind).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenAlert {
    /// What kind.
    pub kind: AlertKind,
    /// Since when, how often, and what was seen last.
    #[serde(flatten)]
    pub record: AlertRecord,
}

/// A bot's training at one moment. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingStatus {
    /// The serving version, if any.
    pub champion: Option<ChampionStatus>,
    /// Versions kept in the registry.
    pub versions: usize,
    /// The champion alias's last move.
    pub last_move: Option<AliasMove>,
    /// The post-deploy check under way, if any.
    pub check: Option<CheckStatus>,
    /// Samples waiting for the next training cycle.
    pub buffered: usize,
    /// The bot's job in the training pool, running or waiting (live only).
    pub job: Option<JobStatus>,
    /// Open alerts, by kind.
    pub alerts: Vec<OpenAlert>,
    /// Running totals.
    pub counters: Counters,
}

impl TrainingStatus {
    /// The status of `bot` from its registry's catalog and its learner's state.
    pub fn of(bot: &str, catalog: &Catalog, state: Option<&LearnerState>) -> Self {
        let champion = catalog
            .champion()
            .and_then(|id| catalog.version(id).ok())
            .map(|meta| ChampionStatus {
                version: meta.id,
                created: meta.created,
                metrics: meta.info.metrics.clone(),
            });
        let check = catalog.pending_check().map(|c| CheckStatus {
            version: c.version,
            against: c.against,
            samples: c.samples(),
            window: c.window,
        });
        TrainingStatus {
            champion,
            versions: catalog.versions().count(),
            last_move: catalog.history().last().cloned(),
            check,
            buffered: state.map_or(0, |s| s.buffer.len()),
            job: None,
            alerts: state
                .map(|s| {
                    s.alerts
                        .open(bot)
                        .map(|(kind, r)| OpenAlert {
                            kind,
                            record: r.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            counters: state.map(|s| s.counters.clone()).unwrap_or_default(),
        }
    }

    /// Reads the training status of `bot` from its state folder `bot_dir`
    /// without a lock and without changing anything; `None` when the bot has
    /// never trained (no models and no `training.json`). A damaged
    /// `training.json` is shown as missing (its backup when that is whole).
    pub fn inspect(bot: &str, bot_dir: &Path) -> Result<Option<Self>, ModelsError> {
        let state = match inspect_json::<LearnerState>(&bot_dir.join(STATE_FILE)) {
            Inspected::Good { value, .. } => Some(value),
            _ => None,
        };
        let catalog = Catalog::read(bot_dir)?;
        if state.is_none() && catalog.versions().next().is_none() && catalog.history().is_empty() {
            return Ok(None);
        }
        Ok(Some(Self::of(bot, &catalog, state.as_ref())))
    }
}

//! The `SelfImprovementEngine` actor: one per bot.
//!
//! An engine owns its bot's pipeline and learning state
//! ([`EngineCore`](crate::cycle::EngineCore): ROI tracker, policy, synergy
//! learner, meta logger, module index, energy source) and its state folder. It answers [`Tick`] (decide, maybe run a
//! cycle), [`RunCycle`] (run one now), [`Status`], [`Pause`], [`Resume`],
//! [`RecordMetrics`], [`SetWeights`], [`ChangeModel`] (an engine running the
//! training pipeline), [`Flush`], [`Shutdown`] and [`Stop`].
//!
//! The actor is thin: every decision is made by the core's typed cycle steps
//! ([`crate::cycle`]); the actor routes messages, runs the pipeline (guarded: errors, panics, timeouts and
//! non-finite results become failed cycles), sends heavy synergy updates to a
//! [`LearnerPool`](crate::runtime::LearnerPool) so its thread keeps answering, and hands state files to a
//! [`StateWriter`](crate::persist::StateWriter).
//!
//! ```no_run
//! use kaizen::engine::{EngineBuilder, Tick};
//! use kaizen::host::Resources;
//! use kaizen::pipeline::{AutomationResult, pipeline_fn};
//!
//! #[actix::main]
//! async fn main() {
//!     let pipeline = pipeline_fn(|_bot: &str, _energy: u32| async { Ok(AutomationResult::default()) });
//!     let engine = EngineBuilder::new("alpha", pipeline).state_root("state").start().unwrap();
//!     let record = engine.send(Tick { now: 0.0, resources: Resources::default() }).await.unwrap();
//!     println!("{} because {}", if record.outcome.is_some() { "ran" } else { "skipped" }, record.reason);
//! }
//! ```

mod actor;
mod builder;
mod messages;
mod operate;
mod phase;

pub use actor::SelfImprovementEngine;
pub use builder::{EngineBuilder, Origin};
pub use messages::{
    ChangeModel, ChangeVariant, EngineExited, Flush, ForcedTick, Pause, RecordMetrics, Resume,
    RunCycle, SetWeights, Shutdown, Status, Stop, Tick,
};
pub(crate) use messages::{RoundTick, TickAnswer};

use crate::{Error, Result};

/// The longest bot or engine name.
pub const MAX_NAME_LEN: usize = 64;

/// Checks a bot or engine name: `[A-Za-z0-9_.-]{1,64}`, not starting with `.`,
/// and not a file kaizen keeps in the state root ([`reserved`](crate::persist::root::reserved):
/// `registry.json` and its siblings). Names become folder names under
/// `state/`, so nothing else is allowed.
///
/// ```
/// use kaizen::engine::validate_name;
/// assert!(validate_name("bot_name", "alpha-1.v2").is_ok());
/// for bad in ["", ".hidden", "../x", "a/b", "a b", &"x".repeat(65), "registry.json"] {
///     assert!(validate_name("bot_name", bad).is_err(), "{bad}");
/// }
/// ```
pub fn validate_name(what: &'static str, name: &str) -> Result<()> {
    let why = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is longer than 64 characters")
    } else if name.starts_with('.') {
        Some("it starts with '.'")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        Some("only letters, digits, '_', '.' and '-' are allowed")
    } else {
        None
    };
    if let Some(why) = why {
        return Err(Error::invalid(
            what,
            format!("{name:?}"),
            format!(
                "a name of 1 to 64 letters, digits, '_', '.' or '-', not starting with '.' ({why})"
            ),
        ));
    }
    match crate::persist::root::reserved(name) {
        None => Ok(()),
        Some(file) => Err(Error::invalid(
            what,
            format!("{name:?}"),
            format!(
                "a name that is not a file kaizen keeps in the state folder ({file} and its .bak, .tmp and .corrupt copies are taken)"
            ),
        )),
    }
}

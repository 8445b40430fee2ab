//! The two things a policy can decide: skip a cycle or run it.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::{Error, Result};

/// What the policy decides for one tick.
///
/// Stored in files as the number `0` (skip) or `1` (run), as in SPEC §3.
///
/// ```
/// use kaizen::policy::Action;
///
/// assert_eq!(Action::Run.index(), 1);
/// assert_eq!(Action::try_from(0u8).unwrap(), Action::Skip);
/// assert_eq!(serde_json::to_string(&Action::Run).unwrap(), "1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
#[repr(u8)]
pub enum Action {
    /// Do not run the pipeline this tick.
    Skip = 0,
    /// Run the pipeline this tick.
    Run = 1,
}

impl Action {
    /// Both actions, in index order.
    pub const ALL: [Action; 2] = [Action::Skip, Action::Run];

    /// The action's position in a Q-table row: 0 for skip, 1 for run.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// `"skip"` or `"run"`.
    pub const fn name(self) -> &'static str {
        match self {
            Action::Skip => "skip",
            Action::Run => "run",
        }
    }
}

impl TryFrom<u8> for Action {
    type Error = Error;

    fn try_from(value: u8) -> Result<Self> {
        match value {
            0 => Ok(Action::Skip),
            1 => Ok(Action::Run),
            other => Err(Error::invalid("action", other, "0 (skip) or 1 (run)")),
        }
    }
}

impl From<Action> for u8 {
    fn from(action: Action) -> u8 {
        action as u8
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

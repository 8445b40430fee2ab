//! What a state root holds besides the bots' folders.
//!
//! ```text
//! state/
//!   registry.json      the registry's engines and autoscale decisions (kept here
//!                      so state folders from earlier versions keep loading)
//!   .kaizen/           kaizen's own files: the lock, and whatever comes later
//!     lock             held by the one process using this folder; holds its pid
//!   <bot>/             one folder per engine
//! ```
//!
//! A bot's folder is named after the engine, so an engine name must not be
//! one of the root's own files: names cannot start with `.` (so `.kaizen/`
//! is out of reach) and [`reserved`] refuses `registry.json` and its
//! siblings (`.bak`, `.tmp`, `.corrupt-…`). New root-level files go under
//! [`KAIZEN_DIR`].

use std::path::{Path, PathBuf};

/// The registry's file in the state root.
pub const REGISTRY_FILE: &str = "registry.json";

/// The folder in a state root for kaizen's own files.
pub const KAIZEN_DIR: &str = ".kaizen";

/// The lock file in [`KAIZEN_DIR`].
pub const LOCK_FILE: &str = "lock";

/// `root/.kaizen`.
pub fn kaizen_dir(root: &Path) -> PathBuf {
    root.join(KAIZEN_DIR)
}

/// The root-level file that a folder called `name` would collide with, if
/// any: `registry.json` itself or one of its `.bak`, `.tmp` and
/// `.corrupt-…` siblings.
///
/// ```
/// use kaizen::persist::root::reserved;
/// assert_eq!(reserved("registry.json"), Some("registry.json"));
/// assert_eq!(reserved("registry.json.bak"), Some("registry.json"));
/// assert_eq!(reserved("registry"), None);
/// assert_eq!(reserved("alpha"), None);
/// ```
pub fn reserved(name: &str) -> Option<&'static str> {
    let sibling = name
        .strip_prefix(REGISTRY_FILE)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'));
    sibling.then_some(REGISTRY_FILE)
}

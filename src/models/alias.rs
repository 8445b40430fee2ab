//! The champion alias (`champion.json`): which version serves, the move that
//! put it there, and the post-deploy check under way.
//!
//! `{"version":1,"champion":7,"seq":12,"last_move":{…},"check":{…}}`. The
//! file is replaced atomically (through [`crate::persist`]), so the alias and
//! the check always change together. `last_move` repeats the newest line of
//! the alias history: the alias is written first, so a crash before the
//! history line is appended loses nothing.

use serde::{Deserialize, Serialize};

use super::check::PostDeployCheck;
use super::history::AliasMove;
use super::meta::VersionId;
use crate::persist::{self, Decode};

/// The file's name in the registry's folder.
pub(super) const ALIAS_FILE: &str = "champion.json";

/// What `champion.json` holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Alias {
    /// The version serving now.
    pub champion: Option<VersionId>,
    /// Moves so far: the `seq` of the newest history line.
    pub seq: u64,
    /// The newest move (the history's last line).
    pub last_move: Option<AliasMove>,
    /// The post-deploy check of the champion, while it runs.
    pub check: Option<PostDeployCheck>,
}

/// Decodes `champion.json`, refusing an alias that contradicts itself.
pub(super) fn decode(bytes: &[u8]) -> Result<Alias, Decode> {
    let alias: Alias = persist::decode_json(bytes)?;
    let corrupt = |why: String| Err(Decode::Corrupt(why));
    match &alias.last_move {
        Some(m) if m.seq != alias.seq || m.to != alias.champion => {
            return corrupt(format!(
                "last_move (seq {}, to {:?}) disagrees with the alias (seq {}, champion {:?})",
                m.seq, m.to, alias.seq, alias.champion
            ));
        }
        None if alias.seq != 0 => return corrupt(format!("seq {} with no last_move", alias.seq)),
        _ => {}
    }
    if let Some(check) = &alias.check {
        check.validate().map_err(Decode::Corrupt)?;
        if Some(check.version) != alias.champion {
            return corrupt(format!(
                "a post-deploy check of {} while the champion is {:?}",
                check.version, alias.champion
            ));
        }
    }
    Ok(alias)
}

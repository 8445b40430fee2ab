//! Where a running `kaizen run --listen` can be reached:
//! `state/.kaizen/server.json` (`{"version": 1, "listen": "127.0.0.1:9464",
//! "pid": 4242}`), written once the server listens and removed when it
//! stops. A command that finds the state folder locked by a run reads it to
//! send its change through the run's control API (`kaizen models
//! activate|rollback` does). A run killed with SIGKILL leaves the file
//! behind; it names the run's pid, and a reader trusts it only while that
//! pid still holds the state folder's lock.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::persist::{Durability, Inspected, PersistError, inspect_json, save_json};

/// The file, inside `state/.kaizen/`.
pub const SERVER_FILE: &str = "server.json";

/// A running server, as its run records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerAddress {
    /// The address it listens on.
    pub listen: SocketAddr,
    /// The process that serves it.
    pub pid: u32,
}

/// `state_root/.kaizen/server.json`.
pub fn path(state_root: &Path) -> PathBuf {
    crate::persist::root::kaizen_dir(state_root).join(SERVER_FILE)
}

impl ServerAddress {
    /// Records that this process serves on `listen`, atomically.
    pub fn publish(state_root: &Path, listen: SocketAddr) -> Result<ServerAddress, PersistError> {
        let this = ServerAddress {
            listen,
            pid: std::process::id(),
        };
        save_json(&path(state_root), &this, Durability::Atomic)?;
        Ok(this)
    }

    /// The server recorded in `state_root`, if a readable record is there
    /// (read-only: nothing is moved aside).
    pub fn find(state_root: &Path) -> Option<ServerAddress> {
        match inspect_json(&path(state_root)) {
            Inspected::Good { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Removes the record (and its backup) when it is this process's.
    pub fn withdraw(state_root: &Path) {
        let p = path(state_root);
        if Self::find(state_root).is_some_and(|a| a.pid == std::process::id()) {
            for file in [crate::persist::backup_path(&p), p] {
                if let Err(e) = std::fs::remove_file(&file)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(file = %file.display(), error = %e, "cannot remove the server's address record");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_published_found_and_withdrawn() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ServerAddress::find(dir.path()), None);
        let listen: SocketAddr = "127.0.0.1:9464".parse().unwrap();
        let published = ServerAddress::publish(dir.path(), listen).unwrap();
        assert_eq!(ServerAddress::find(dir.path()), Some(published));
        assert_eq!(published.pid, std::process::id());
        ServerAddress::withdraw(dir.path());
        assert_eq!(ServerAddress::find(dir.path()), None);
        assert!(!path(dir.path()).exists());
    }

    #[test]
    fn another_process_s_record_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let theirs = ServerAddress {
            listen: "127.0.0.1:1".parse().unwrap(),
            pid: std::process::id() + 1,
        };
        save_json(&path(dir.path()), &theirs, Durability::Atomic).unwrap();
        ServerAddress::withdraw(dir.path());
        assert_eq!(ServerAddress::find(dir.path()), Some(theirs));
    }
}

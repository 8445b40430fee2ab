//! The signals `kaizen run` answers: Ctrl-C (SIGINT) and SIGTERM stop it
//! the same way, SIGHUP reloads the engine specs, and SIGCHLD says an
//! adopted orphan may be waiting to be reaped.

use anyhow::{Context, Result};
use tokio::signal::unix::{Signal as Stream, SignalKind, signal};

/// What a signal asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Signal {
    /// SIGINT or SIGTERM: stop.
    Stop,
    /// SIGHUP: reload `engines/`.
    Reload,
    /// SIGCHLD: a child changed state.
    Child,
}

/// The signal streams, installed once (from then on the signals no longer
/// end the process).
pub(super) struct Signals {
    interrupt: Stream,
    terminate: Stream,
    hangup: Stream,
    child: Stream,
}

impl Signals {
    pub fn new() -> Result<Self> {
        let listen = |kind: SignalKind, name: &str| {
            signal(kind).with_context(|| format!("cannot listen for {name}"))
        };
        Ok(Signals {
            interrupt: listen(SignalKind::interrupt(), "SIGINT")?,
            terminate: listen(SignalKind::terminate(), "SIGTERM")?,
            hangup: listen(SignalKind::hangup(), "SIGHUP")?,
            child: listen(SignalKind::child(), "SIGCHLD")?,
        })
    }

    /// The next signal.
    pub async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => Signal::Stop,
            _ = self.terminate.recv() => Signal::Stop,
            _ = self.hangup.recv() => Signal::Reload,
            _ = self.child.recv() => Signal::Child,
        }
    }
}

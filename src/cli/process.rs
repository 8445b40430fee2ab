//! What the `kaizen` binary does to its own process, and gives back to its
//! pipelines.
//!
//! - The soft limit on open files is raised to the hard limit at start
//!   ([`raise_open_files`]): many command engines each hold a few pipes.
//!   The library leaves process limits to its host; this is the binary's
//!   choice.
//! - `SIGXFSZ` (a write past the file-size limit) is caught instead of
//!   killing the process ([`catch_file_size_signal`]): the write then fails
//!   with `EFBIG`, which kaizen reports like a full disk. A caught signal is
//!   reset to its default by `exec`, so pipelines get the default
//!   disposition with nothing more to do.
//! - Pipelines get the soft limit kaizen found, not the raised one: they are
//!   started through `kaizen pipeline-exec --nofile SOFT -- program args…`
//!   ([`launcher`]), which sets the limit back and replaces itself with the
//!   program (`exec`), so between the two nothing else runs. No `pre_exec`
//!   (unsafe) is needed: setting a limit (rustix) and `exec` (std) are safe
//!   calls. The signal mask and `SIGPIPE` are reset by std's `exec` itself.

use anyhow::{Context, Result};
use std::ffi::OsString;
use std::sync::OnceLock;

/// The soft limit on open files kaizen started with, when it raised it.
static FOUND_OPEN_FILES: OnceLock<u64> = OnceLock::new();

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; remembers the soft
/// limit it found for the pipelines.
pub fn raise_open_files() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let (Some(soft), hard) = (limit.current, limit.maximum) else {
        return; // unlimited already
    };
    if hard.is_some_and(|h| h <= soft) {
        return;
    }
    let raised = Rlimit {
        current: hard,
        maximum: hard,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            let _ = FOUND_OPEN_FILES.set(soft);
        }
        Err(e) => tracing::debug!(error = %e, "cannot raise the open-files limit"),
    }
}

/// Catches `SIGXFSZ`, so a write past the file-size limit fails with an
/// error instead of killing kaizen.
pub fn catch_file_size_signal() {
    let caught = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Err(e) = signal_hook::flag::register(signal_hook::consts::SIGXFSZ, caught) {
        tracing::debug!(error = %e, "cannot catch SIGXFSZ");
    }
}

/// What a command pipeline is started through to get the limits kaizen
/// changed back (empty when it changed none).
pub fn launcher() -> Vec<OsString> {
    match (FOUND_OPEN_FILES.get(), std::env::current_exe()) {
        (Some(soft), Ok(me)) => vec![
            me.into_os_string(),
            "pipeline-exec".into(),
            "--nofile".into(),
            soft.to_string().into(),
            "--".into(),
        ],
        _ => Vec::new(),
    }
}

/// Arguments of the hidden `kaizen pipeline-exec`.
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The soft limit on open files to set before the program starts.
    #[arg(long, value_name = "N")]
    nofile: Option<u64>,
    /// The program and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<OsString>,
}

/// Sets the limits back and replaces this process with the program; only
/// returns when the program could not be started.
pub fn exec(args: ExecArgs) -> Result<()> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    use std::os::unix::process::CommandExt;
    if let Some(soft) = args.nofile {
        let hard = getrlimit(Resource::Nofile).maximum;
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(soft),
                maximum: hard,
            },
        )
        .context("cannot set the open-files limit back")?;
    }
    let (program, rest) = args.command.split_first().context("no program to run")?;
    let error = std::process::Command::new(program).args(rest).exec();
    Err(error).with_context(|| format!("cannot run {}", program.to_string_lossy()))
}

//! [`CommandPipeline`]: an external program as a bot's pipeline.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{AutomationResult, Pipeline, PipelineError, PipelineFuture};
use crate::error::{Error, Result};
use crate::process::groups;

/// How much of the program's stderr a failure keeps (its end).
pub const STDERR_TAIL_BYTES: usize = 2048;
/// How much of the program's stdout is kept (its end) to find the result in.
const STDOUT_TAIL_BYTES: usize = 64 * 1024;

/// Runs a program for each cycle.
///
/// The program gets `KAIZEN_BOT` (the bot's name) and `KAIZEN_ENERGY` (the
/// cycle's energy) in its environment, no stdin, and may print anything; the
/// **last line of stdout that is a JSON object** is the cycle's
/// [`AutomationResult`] (only the last 64 KiB of stdout are kept). A non-zero
/// exit is a failure carrying the last 2 KiB of stderr.
///
/// The program leads a process group of its own. The run ends when the
/// program exits: output still in the pipes is read for [`OUTPUT_GRACE`],
/// then whatever it left running in its group is killed (a background
/// process keeping stdout open does not turn a finished run into a
/// timeout). The engine's timeout abandons the run, and the whole group is
/// killed when the run is dropped. The group is known to
/// [`crate::process::groups`] while it runs.
///
/// ```no_run
/// use kaizen::pipeline::CommandPipeline;
/// let p = CommandPipeline::new(vec!["./retrain.sh".into(), "--fast".into()]).unwrap();
/// p.check().unwrap(); // the program exists and can be run
/// ```
#[derive(Clone, Debug)]
pub struct CommandPipeline {
    program: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    dir: Option<PathBuf>,
    launcher: Vec<OsString>,
}

impl CommandPipeline {
    /// A pipeline running `command[0]` with the rest as arguments.
    pub fn new(command: Vec<String>) -> Result<Self> {
        let mut it = command.into_iter();
        let program = match it.next() {
            Some(p) if !p.trim().is_empty() => p,
            _ => {
                return Err(Error::invalid(
                    "pipeline.command",
                    "[]",
                    "a program and its arguments, e.g. [\"./improve.sh\", \"--fast\"]",
                ));
            }
        };
        Ok(CommandPipeline {
            program,
            args: it.collect(),
            env: BTreeMap::new(),
            dir: None,
            launcher: Vec::new(),
        })
    }

    /// The same pipeline (folder, environment) running `command` instead.
    pub fn with_command(&self, command: Vec<String>) -> Result<Self> {
        Ok(CommandPipeline {
            env: self.env.clone(),
            dir: self.dir.clone(),
            ..CommandPipeline::new(command)?
        })
    }

    /// Adds an environment variable for the program.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Runs the program in `dir` (and resolves a relative program path there).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Starts the program through `launcher`: `launcher[0]` is run with the
    /// rest of `launcher`, then the program and its arguments, and must
    /// replace itself with the program (`exec`). The `kaizen` binary uses
    /// this to give its pipelines back the resource limits it raised for
    /// itself (`kaizen pipeline-exec --nofile SOFT --`). Empty: no launcher.
    pub fn launcher(mut self, launcher: Vec<OsString>) -> Self {
        self.launcher = launcher;
        self
    }

    /// The program as given.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// Checks that the program exists and is executable: a path is looked up
    /// as given (relative to the working folder), a bare name on `PATH`
    /// (with the [`which`] crate).
    pub fn check(&self) -> Result<PathBuf> {
        let cwd = self.dir.clone().unwrap_or_else(|| PathBuf::from("."));
        which::which_in(&self.program, std::env::var_os("PATH"), cwd).map_err(|_| {
            Error::invalid(
                "pipeline.command",
                format!("{:?}", self.program),
                "an executable program (a path, or a name found on PATH)",
            )
        })
    }
}

/// Reads `reader` to its end into `tail`, keeping only the last `keep`
/// bytes. What was read stays in `tail` if the read is abandoned.
async fn read_tail<R: AsyncRead + Unpin>(
    reader: Option<R>,
    keep: usize,
    tail: &mut Vec<u8>,
) -> std::io::Result<()> {
    let Some(mut reader) = reader else {
        return Ok(());
    };
    let mut chunk = [0u8; 8192];
    loop {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        tail.extend_from_slice(&chunk[..n]);
        if tail.len() > keep {
            tail.drain(..tail.len() - keep);
        }
    }
}

/// An exit status in words: `exit code 3`, `signal 9 (SIGKILL)`.
fn status_words(status: std::process::ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                1 => " (SIGHUP)",
                2 => " (SIGINT)",
                3 => " (SIGQUIT)",
                6 => " (SIGABRT)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                13 => " (SIGPIPE)",
                15 => " (SIGTERM)",
                25 => " (SIGXFSZ)",
                _ => "",
            };
            return format!("signal {signal}{name}");
        }
    }
    status.to_string()
}

/// The last line of `stdout` that is a JSON object, decoded as a result.
///
/// A line is a JSON object by JSON's grammar, which puts no limit on
/// numbers: the line is checked with `IgnoredAny`, which reads numbers
/// without converting them. So a result whose numbers overflow (`1e999`) is
/// the result line, and fails to decode: the cycle fails, instead of an
/// earlier JSON line being taken silently.
fn parse_result(program: &str, stdout: &[u8]) -> Result<AutomationResult, PipelineError> {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('{') && serde_json::from_str::<serde::de::IgnoredAny>(l).is_ok())
        .ok_or_else(|| PipelineError::Output {
            program: program.to_string(),
            reason: "no line of stdout is a JSON object".into(),
        })?;
    serde_json::from_str(line).map_err(|e| PipelineError::Output {
        program: program.to_string(),
        reason: format!("its last JSON line is not a result ({e}): {line}"),
    })
}

/// How long output is still read once the program has exited: what it
/// wrote is in the pipes already; a process it left running in the
/// background may hold them open, and is not waited for.
pub const OUTPUT_GRACE: Duration = Duration::from_millis(200);

impl Pipeline for CommandPipeline {
    fn run(&self, bot: &str, energy: u32) -> PipelineFuture {
        self.run_with(bot, energy, &[])
    }
}

impl CommandPipeline {
    /// Runs the program as [`Pipeline::run`] does, with `extra` environment
    /// variables for this run only (a variant's `KAIZEN_PARAMS`, …).
    pub fn run_with(&self, bot: &str, energy: u32, extra: &[(&str, String)]) -> PipelineFuture {
        let mut cmd = match self.launcher.split_first() {
            Some((launcher, rest)) => {
                let mut cmd = tokio::process::Command::new(launcher);
                cmd.args(rest).arg(&self.program);
                cmd
            }
            None => tokio::process::Command::new(&self.program),
        };
        cmd.args(&self.args)
            .envs(&self.env)
            .envs(extra.iter().map(|(k, v)| (k, v)))
            .env("KAIZEN_BOT", bot)
            .env("KAIZEN_ENERGY", energy.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(d) = &self.dir {
            cmd.current_dir(d);
        }
        // Its own process group, so a run abandoned at its timeout takes
        // everything it started with it (a shell's children included).
        #[cfg(unix)]
        cmd.process_group(0);
        let program = self.program.clone();
        let bot = bot.to_string();
        Box::pin(async move {
            // Recorded as running before the reaper may look for orphans.
            let (mut child, group) = {
                let _spawning = groups::spawning();
                let child = cmd.spawn().map_err(|source| PipelineError::Spawn {
                    program: program.clone(),
                    source,
                })?;
                // Killed if the run is dropped (the engine gave up at the timeout).
                let group = child.id().map(|pid| groups::started(pid, &bot, &program));
                (child, group)
            };
            let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let status = {
                let reading = futures_util::future::try_join(
                    read_tail(stdout, STDOUT_TAIL_BYTES, &mut out),
                    read_tail(stderr, STDERR_TAIL_BYTES, &mut err),
                );
                tokio::pin!(reading);
                // The program's exit, not the end of its output, ends the
                // run: a background process it started may keep the pipes.
                let mut read_all = false;
                let status = tokio::select! {
                    status = child.wait() => status,
                    read = &mut reading => {
                        read_all = true;
                        match read {
                            Ok(_) => child.wait().await,
                            Err(e) => Err(e),
                        }
                    }
                };
                if status.is_ok() && !read_all {
                    let _ = tokio::time::timeout(OUTPUT_GRACE, &mut reading).await;
                }
                status
            };
            // Whatever the program left in its group goes with it.
            if let Some(group) = group {
                group.finish();
            }
            let status = status
                .map_err(|e| PipelineError::Failed(format!("{program}: waiting for it: {e}")))?;
            if !status.success() {
                return Err(PipelineError::Exit {
                    program,
                    status: status_words(status),
                    stderr_tail: String::from_utf8_lossy(&err).trim().to_string(),
                });
            }
            parse_result(&program, &out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_takes_the_last_json_object_line() {
        let out = b"starting\n{\"roi\":{\"roi\":1.0}}\nlog line\n{\"roi\":{\"roi\":2.5},\"metrics\":{\"synergy_roi\":0.1}}\n[1,2]\ndone\n";
        let r = parse_result("p", out).unwrap();
        assert_eq!(r.roi.unwrap().roi, 2.5);
        assert_eq!(r.metrics["synergy_roi"], 0.1);
    }

    #[test]
    fn parse_without_a_result_line_fails_clearly() {
        let err = parse_result("p", b"hello\n[1]\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("no line of stdout is a JSON object"),
            "{err}"
        );
        let err = parse_result("p", b"{\"roi\": \"high\"}\n").unwrap_err();
        assert!(err.to_string().contains("not a result"), "{err}");
    }

    #[test]
    fn a_result_line_whose_numbers_overflow_fails_instead_of_an_earlier_line() {
        let out = b"{\"roi\":{\"roi\":1.0}}\n{\"roi\":{\"roi\":1e999}}\n";
        let err = parse_result("p", out).unwrap_err();
        assert!(matches!(err, PipelineError::Output { .. }), "{err:?}");
        // Prose that starts with a brace is still not a result line.
        let out = b"{\"roi\":{\"roi\":1.5}}\n{progress: 50%}\n";
        assert_eq!(parse_result("p", out).unwrap().roi.unwrap().roi, 1.5);
    }

    #[test]
    fn empty_command_is_refused() {
        assert!(CommandPipeline::new(vec![]).is_err());
        assert!(CommandPipeline::new(vec!["  ".into()]).is_err());
    }

    #[test]
    fn check_finds_programs_on_path_and_refuses_missing_ones() {
        assert!(
            CommandPipeline::new(vec!["sh".into()])
                .unwrap()
                .check()
                .is_ok()
        );
        let err = CommandPipeline::new(vec!["./no-such-program".into()])
            .unwrap()
            .check()
            .unwrap_err();
        assert!(err.to_string().contains("no-such-program"), "{err}");
        assert!(
            CommandPipeline::new(vec!["no-such-program-kaizen".into()])
                .unwrap()
                .check()
                .is_err()
        );
    }

    #[tokio::test]
    async fn tail_keeps_only_the_end() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut tail = Vec::new();
        read_tail(Some(&data[..]), 100, &mut tail).await.unwrap();
        assert_eq!(tail, data[data.len() - 100..]);
    }
}

//! [`CommandPipeline`]: an external program as a bot's pipeline.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{AutomationResult, Pipeline, PipelineError, PipelineFuture};
use crate::error::{Error, Result};

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
/// exit is a failure carrying the last 2 KiB of stderr. The engine's timeout
/// abandons the run, and the program is killed when the run is dropped.
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

/// Reads `reader` to the end, keeping only its last `keep` bytes.
async fn read_tail<R: AsyncRead + Unpin>(mut reader: R, keep: usize) -> std::io::Result<Vec<u8>> {
    let mut tail = Vec::with_capacity(keep.min(8192));
    let mut chunk = [0u8; 8192];
    loop {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Ok(tail);
        }
        tail.extend_from_slice(&chunk[..n]);
        if tail.len() > keep {
            tail.drain(..tail.len() - keep);
        }
    }
}

/// A running program's process group, killed if the run is dropped before
/// the program has exited (the engine gave up at the timeout).
struct Group {
    id: Option<u32>,
    done: bool,
}

impl Group {
    fn of(id: Option<u32>) -> Self {
        Group { id, done: false }
    }

    fn finished(&mut self) {
        self.done = true;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        #[cfg(unix)]
        if !self.done
            && let Some(pid) = self
                .id
                .and_then(|id| i32::try_from(id).ok())
                .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

/// The last line of `stdout` that is a JSON object, decoded as a result.
fn parse_result(program: &str, stdout: &[u8]) -> Result<AutomationResult, PipelineError> {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('{') && serde_json::from_str::<serde_json::Value>(l).is_ok())
        .ok_or_else(|| PipelineError::Output {
            program: program.to_string(),
            reason: "no line of stdout is a JSON object".into(),
        })?;
    serde_json::from_str(line).map_err(|e| PipelineError::Output {
        program: program.to_string(),
        reason: format!("last JSON line is not a result ({e}): {line}"),
    })
}

impl Pipeline for CommandPipeline {
    fn run(&self, bot: &str, energy: u32) -> PipelineFuture {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args)
            .envs(&self.env)
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
        Box::pin(async move {
            let mut child = cmd.spawn().map_err(|source| PipelineError::Spawn {
                program: program.clone(),
                source,
            })?;
            let mut group = Group::of(child.id());
            let stdout = child.stdout.take();
            let stderr = child.stderr.take();
            let out = async {
                match stdout {
                    Some(s) => read_tail(s, STDOUT_TAIL_BYTES).await,
                    None => Ok(Vec::new()),
                }
            };
            let err = async {
                match stderr {
                    Some(s) => read_tail(s, STDERR_TAIL_BYTES).await,
                    None => Ok(Vec::new()),
                }
            };
            let (out, err, status) = tokio::join!(out, err, child.wait());
            group.finished();
            let io = |e: std::io::Error| PipelineError::Failed(format!("{program}: {e}"));
            let status = status.map_err(io)?;
            let (out, err) = (out.map_err(io)?, err.map_err(io)?);
            if !status.success() {
                return Err(PipelineError::Exit {
                    program,
                    status: status.to_string(),
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
        let tail = read_tail(&data[..], 100).await.unwrap();
        assert_eq!(tail, data[data.len() - 100..]);
    }
}

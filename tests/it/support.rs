//! Small helpers shared by the integration tests.

use kaizen::engine::EngineBuilder;

use kaizen::cycle::Persistence;
use kaizen::host::{FixedProbe, HostError, ManualClock, ProfitSource};
use kaizen::persist::Durability;
use kaizen::pipeline::{AutomationResult, Pipeline, PipelineFuture, RoiResult, pipeline_fn};
use kaizen::registry::{RegistryConfig, RegistryHandle};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A registry keeping its state in `state_root`, on `clock` and a fixed
/// probe (no machine load).
pub fn registry_in(state_root: &std::path::Path, clock: &ManualClock) -> RegistryHandle {
    RegistryHandle::builder(RegistryConfig {
        state_root: Some(state_root.to_path_buf()),
        ..RegistryConfig::default()
    })
    .clock(Arc::new(clock.clone()))
    .probe(FixedProbe::default())
    .start()
    .unwrap()
}

/// A pipeline that succeeds at once with nothing to report.
pub fn noop() -> impl Pipeline {
    pipeline_fn(|_: &str, _: u32| async { Ok(AutomationResult::default()) })
}

/// A pipeline reporting `roi = energy · per_energy` without a ledger.
pub fn roi_per_energy(per_energy: f64) -> impl Pipeline {
    pipeline_fn(move |_: &str, energy: u32| async move {
        Ok(AutomationResult {
            roi: Some(RoiResult {
                roi: f64::from(energy) * per_energy,
                ..Default::default()
            }),
            ..Default::default()
        })
    })
}

/// An engine builder with the test habits: a manual clock, atomic writes,
/// and SPEC §4's chain decision (the tests of the runtime's rounds count on
/// its interval-forced cycles; the learned decision has its own tests).
pub fn builder(name: &str, pipeline: impl Pipeline, clock: &ManualClock) -> EngineBuilder {
    EngineBuilder::new(name, pipeline)
        .decision(kaizen::cycle::DecisionMode::Chain)
        .clock(Arc::new(clock.clone()))
        .persistence(Persistence::PerCycle(Durability::Atomic))
}

/// Appends `n` rows of `y = a·x + b` to the CSV at `path` (x on a grid,
/// no noise; the header `x,target` first when the file is new).
pub fn append_linear(path: &std::path::Path, n: usize, (a, b): (f64, f64)) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    if f.metadata().unwrap().len() == 0 {
        writeln!(f, "x,target").unwrap();
    }
    for i in 0..n {
        let x = (i % 23) as f64 / 11.0 - 1.0;
        writeln!(f, "{x},{}", a * x + b).unwrap();
    }
}

/// A small regression model trained on the CSV at `data` (one hidden layer
/// of 16, lr 0.01, 60 optimizer steps per unit of energy).
pub fn small_regression(data: &std::path::Path) -> kaizen::training::TrainingConfig {
    let mut config =
        kaizen::training::TrainingConfig::new(data, kaizen::training::Task::Regression);
    config.model.hidden = vec![16];
    config.model.optimizer.lr = 0.01;
    config.steps_per_energy = 60;
    config
}

/// The host's ledger: profit per bot, counting every read.
#[derive(Clone, Default)]
pub struct Ledger {
    profit: Arc<Mutex<BTreeMap<String, f64>>>,
    reads: Arc<AtomicU64>,
}

impl Ledger {
    pub fn add(&self, bot: &str, amount: f64) {
        *self
            .profit
            .lock()
            .unwrap()
            .entry(bot.to_string())
            .or_default() += amount;
    }
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }
}

impl ProfitSource for Ledger {
    fn profit(&self, bot: &str) -> Result<f64, HostError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self.profit.lock().unwrap().get(bot).copied().unwrap_or(0.0))
    }
}

/// A pipeline that adds scripted amounts to the ledger, one per run.
pub fn scripted(ledger: &Ledger, amounts: Vec<f64>) -> impl Pipeline {
    let ledger = ledger.clone();
    let next = Arc::new(AtomicUsize::new(0));
    pipeline_fn(move |bot: &str, _: u32| {
        let i = next.fetch_add(1, Ordering::SeqCst);
        ledger.add(bot, amounts.get(i).copied().unwrap_or(0.0));
        async { Ok(AutomationResult::default()) }
    })
}

/// A pipeline that waits until released, counting how many runs are inside
/// at once (and the most there ever were).
#[derive(Clone)]
pub struct Gate {
    inside: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    runs: Arc<AtomicUsize>,
    open: Arc<tokio::sync::Semaphore>,
    entries: Arc<tokio::sync::watch::Sender<usize>>,
}

impl Gate {
    pub fn closed() -> Self {
        Gate {
            inside: Arc::default(),
            most: Arc::default(),
            runs: Arc::default(),
            open: Arc::new(tokio::sync::Semaphore::new(0)),
            entries: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }
    /// Lets `n` waiting (or future) runs finish.
    pub fn release(&self, n: usize) {
        self.open.add_permits(n);
    }
    pub fn most_at_once(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }
    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
    /// Resolves once `n` runs in all have entered the gate.
    pub async fn entries_reach(&self, n: usize) {
        let mut rx = self.entries.subscribe();
        rx.wait_for(|&c| c >= n).await.unwrap();
    }
}

impl Pipeline for Gate {
    fn run(&self, _: &str, _: u32) -> PipelineFuture {
        let g = self.clone();
        Box::pin(async move {
            let now = g.inside.fetch_add(1, Ordering::SeqCst) + 1;
            g.runs.fetch_add(1, Ordering::SeqCst);
            g.most.fetch_max(now, Ordering::SeqCst);
            g.entries.send_modify(|c| *c += 1);
            let permit = g.open.acquire().await;
            if let Ok(p) = permit {
                p.forget();
            }
            g.inside.fetch_sub(1, Ordering::SeqCst);
            Ok(AutomationResult::default())
        })
    }
}

/// Waits for the first decision matching `pred` on `rx` (bounded, so a
/// broken test fails instead of hanging).
pub async fn wait_for<T>(
    rx: &mut tokio::sync::broadcast::Receiver<kaizen::decision::Decision>,
    mut pred: impl FnMut(&kaizen::decision::Decision) -> Option<T>,
) -> T {
    let deadline = std::time::Duration::from_secs(30);
    tokio::time::timeout(deadline, async {
        loop {
            match rx.recv().await {
                Ok(d) => {
                    if let Some(t) = pred(&d) {
                        return t;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("decision stream ended: {e}"),
            }
        }
    })
    .await
    .expect("the awaited decision did not come within 30 s")
}

/// The `kaizen` binary of this build, as a command to run.
pub fn kaizen() -> assert_cmd::Command {
    assert_cmd::cargo::cargo_bin_cmd!("kaizen")
}

/// `kaizen run --once` on the specs in `engines` with its state in `state`.
pub fn run_once_on(engines: &std::path::Path, state: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = kaizen();
    cmd.args(["run", "--once", "--engines"])
        .arg(engines)
        .arg("--state")
        .arg(state);
    cmd
}

/// Runs `cmd`, which must succeed; what it printed on stderr.
pub fn stderr_of(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.assert().success().get_output().stderr.clone();
    String::from_utf8(out).unwrap()
}

/// Runs `cmd`, which must succeed; what it printed on stdout.
pub fn stdout_of(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

/// The JSON file at `path`, parsed.
pub fn read_json(path: impl AsRef<std::path::Path>) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Reads `child`'s stdout on a thread of its own and sends every line that
/// `parse` accepts, with the moment it was read. The thread ends when the
/// child's stdout closes: join it once the child is gone, then what is left
/// on the channel was printed before the child died.
pub fn parsed_lines<T: Send + 'static>(
    child: &mut std::process::Child,
    parse: impl Fn(&str) -> Option<T> + Send + 'static,
) -> (
    std::sync::mpsc::Receiver<(std::time::Instant, T)>,
    std::thread::JoinHandle<()>,
) {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("the child's stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let lines = std::io::BufReader::new(stdout).lines();
        for line in lines.map_while(Result::ok) {
            if let Some(t) = parse(&line) {
                let _ = tx.send((std::time::Instant::now(), t));
            }
        }
    });
    (rx, reader)
}

/// Writes an engine spec `<bot>.toml` into `engines` whose pipeline is the
/// shell script `<bot>.sh` with `body` (after `#!/bin/sh`), plus `extra`
/// TOML lines appended to the spec (e.g. an `[engine]` table).
pub fn command_engine(engines: &std::path::Path, bot: &str, body: &str, extra: &str) {
    std::fs::create_dir_all(engines).unwrap();
    let script = engines.join(format!("{bot}.sh"));
    std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(
        engines.join(format!("{bot}.toml")),
        format!(
            "bot = \"{bot}\"\n[pipeline]\ncommand = [\"./{bot}.sh\"]\ntimeout = \"60s\"\n{extra}\n"
        ),
    )
    .unwrap();
}

/// A `kaizen` process in the background; its stderr is read line by line
/// on a thread of its own, its stdout is piped for the test to take.
pub struct Background {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// Every stderr line read so far.
    pub stderr: Vec<String>,
}

impl Background {
    /// Starts `kaizen` with `args`.
    pub fn start<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kaizen"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Background {
            child,
            lines,
            stderr: Vec::new(),
        }
    }

    /// Waits (30 s at most) for a stderr line containing `text`.
    pub fn wait_stderr(&mut self, text: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stderr.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no stderr line with {text:?} within 30 s; stderr so far:\n{}",
                    self.stderr.join("\n")
                ),
            }
        }
    }

    /// Sends `signal` to the process.
    #[cfg(unix)]
    pub fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
    }

    /// Waits for the process to end; its exit status and the rest of stderr.
    pub fn wait(mut self) -> (std::process::ExitStatus, String) {
        let status = self.child.wait().unwrap();
        self.stderr.extend(self.lines.iter());
        (status, self.stderr.join("\n"))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Loads a committed reference file from `tests/data/stats/`.
pub fn reference(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/data/stats/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `|got − want| ≤ tol·(1 + |want|)`, with a message naming the case.
pub fn assert_close(case: &str, what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol * (1.0 + want.abs()),
        "{case}: {what} = {got:e}, reference {want:e} (diff {:e})",
        (got - want).abs()
    );
}

/// The numbers of a JSON array.
pub fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// An engines folder under `root` with `alpha.toml` holding `spec` and an
/// executable `improve.sh` holding `script`.
pub fn engines_folder(root: &std::path::Path, spec: &str, script: &str) -> std::path::PathBuf {
    let dir = root.join("engines");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("alpha.toml"), spec).unwrap();
    let path = dir.join("improve.sh");
    std::fs::write(&path, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// `kaizen run --period 1h --listen 127.0.0.1:0` on `engines` and `state`
/// (without `KAIZEN_TOKEN`: the run makes its token in the state folder),
/// and whether it recorded its address in `state/.kaizen/server.json`
/// (bounded polling).
pub fn listening_run(
    engines: &std::path::Path,
    state: &std::path::Path,
) -> (std::process::Child, bool) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_kaizen"))
        .args([
            "run",
            "--period",
            "1h",
            "--listen",
            "127.0.0.1:0",
            "--engines",
        ])
        .arg(engines)
        .arg("--state")
        .arg(state)
        .env_remove("KAIZEN_TOKEN")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let record = state.join(".kaizen/server.json");
    let serving = || {
        std::fs::read_to_string(&record)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v["pid"].as_u64() == Some(u64::from(child.id())))
    };
    let mut listening = false;
    for _ in 0..1200 {
        listening = serving();
        if listening {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (child, listening)
}

/// Stops a run with SIGTERM and waits for it.
pub fn stop_run(mut child: std::process::Child) -> std::process::ExitStatus {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap()
}

/// A finished command's stdout then stderr, as text.
pub fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

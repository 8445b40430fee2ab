//! Issue 9 item 1: `kaizen run` under a service manager. SIGTERM stops it
//! like Ctrl-C (a grace, then the pipelines are killed, everything saved,
//! exit 0), a second signal skips the grace, no pipeline process outlives
//! it (process groups, subreaper, records of running groups killed after a
//! SIGKILL), and SIGHUP reloads `engines/`.
#![cfg(target_os = "linux")]

use crate::reliability_pipelines::{alive, pid_in};
use crate::support::*;
use rustix::process::Signal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RESULT: &str = "echo '{\"roi\":{\"roi\":0.5}}'";
const NO_ENERGY: &str = "[engine]\nenergy = \"none\"";

/// `engines/` with a `fast` bot and a `slow` one whose pipeline writes its
/// pid and its background child's pid, then waits for ever.
fn fast_and_slow(root: &Path) -> PathBuf {
    let engines = root.join("engines");
    command_engine(&engines, "fast", RESULT, NO_ENERGY);
    let slow = format!(
        "echo $$ > {0}/slow.pid\nsleep 1000 &\necho $! > {0}/slow.child\nwait",
        engines.display()
    );
    command_engine(&engines, "slow", &slow, NO_ENERGY);
    engines
}

fn start(engines: &Path, state: &Path, extra: &[&str]) -> Background {
    let mut args: Vec<std::ffi::OsString> = ["run", "--period", "0.05"]
        .iter()
        .chain(extra)
        .map(Into::into)
        .collect();
    args.extend([
        "--engines".into(),
        engines.into(),
        "--state".into(),
        state.into(),
    ]);
    let mut run = Background::start(args);
    run.wait_stderr("a round every");
    run
}

/// Waits (30 s at most) until `pid` is gone.
fn gone(pid: i32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while alive(pid) {
        assert!(Instant::now() < deadline, "{what} ({pid}) still runs");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(Instant::now() < deadline, "no {} in 30 s", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_stops_like_ctrl_c_saves_kills_the_pipeline_groups_and_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = fast_and_slow(tmp.path());
    let state = tmp.path().join("state");
    let run = start(&engines, &state, &["--stop-timeout", "0.3"]);
    let (leader, child) = (
        pid_in(&engines.join("slow.pid")),
        pid_in(&engines.join("slow.child")),
    );
    wait_file(&state.join("fast/engine.json"));
    // The running group is recorded in the state folder.
    let record = state.join(format!(".kaizen/groups/{leader}.json"));
    assert!(record.is_file(), "{} missing", record.display());
    run.signal(Signal::TERM);
    let (status, stderr) = run.wait();
    assert!(status.success(), "exit {status:?}: {stderr}");
    assert!(stderr.contains("stopping"), "{stderr}");
    gone(leader, "the slow pipeline");
    gone(child, "the slow pipeline's background child");
    assert!(!record.exists(), "the record of a killed group stays");
    assert!(
        read_json(state.join("fast/engine.json"))["cycles"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[test]
fn a_second_signal_skips_the_stop_grace() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = fast_and_slow(tmp.path());
    let state = tmp.path().join("state");
    let mut run = start(&engines, &state, &["--stop-timeout", "1h"]);
    let leader = pid_in(&engines.join("slow.pid"));
    run.signal(Signal::INT);
    run.wait_stderr("stopping");
    assert!(alive(leader), "the grace kills nothing");
    run.signal(Signal::TERM);
    let (status, stderr) = run.wait();
    assert!(status.success(), "exit {status:?}: {stderr}");
    assert!(stderr.contains("stopping now"), "{stderr}");
    gone(leader, "the slow pipeline");
}

#[test]
fn pipeline_groups_a_killed_kaizen_left_are_killed_before_a_restart_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = fast_and_slow(tmp.path());
    let state = tmp.path().join("state");
    let run = start(&engines, &state, &[]);
    let (leader, child) = (
        pid_in(&engines.join("slow.pid")),
        pid_in(&engines.join("slow.child")),
    );
    run.signal(Signal::KILL);
    let (status, _) = run.wait();
    assert!(!status.success());
    // A SIGKILLed kaizen cannot kill anything: its pipeline lives on.
    assert!(alive(leader) && alive(child));
    command_engine(&engines, "slow", RESULT, NO_ENERGY);
    let stderr = stderr_of(&mut run_once_on(&engines, &state));
    assert!(
        stderr.contains(&format!("process group {leader}")),
        "{stderr}"
    );
    gone(leader, "the leftover pipeline");
    gone(child, "the leftover pipeline's child");
}

#[test]
fn orphans_that_leave_the_pipeline_group_do_not_outlive_kaizen() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    // `setsid` puts the sleep in a session (and group) of its own.
    let body = format!(
        "setsid sleep 1000 > /dev/null 2>&1 &\necho $! > {}/orphan.pid\n{RESULT}",
        engines.display()
    );
    command_engine(&engines, "alpha", &body, NO_ENERGY);
    run_once_on(&engines, &tmp.path().join("state"))
        .assert()
        .success();
    gone(pid_in(&engines.join("orphan.pid")), "the orphan");
}

#[test]
fn sighup_reloads_engines_and_leaves_a_broken_spec_s_engine_running() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    for bot in ["alpha", "beta", "delta"] {
        command_engine(&engines, bot, RESULT, NO_ENERGY);
    }
    let state = tmp.path().join("state");
    let mut run = start(&engines, &state, &[]);
    // New, removed, changed and broken specs.
    command_engine(&engines, "gamma", RESULT, NO_ENERGY);
    std::fs::remove_file(engines.join("delta.toml")).unwrap();
    command_engine(
        &engines,
        "alpha",
        RESULT,
        "[engine]\nenergy = \"none\"\ninterval = \"1s\"",
    );
    std::fs::write(engines.join("beta.toml"), "bot = \n").unwrap();
    run.signal(Signal::HUP);
    let line = run.wait_stderr("reloaded");
    assert!(line.contains("started gamma"), "{line}");
    assert!(line.contains("rebuilt alpha"), "{line}");
    assert!(line.contains("stopped delta"), "{line}");
    assert!(
        !line.contains("beta"),
        "beta's engine left as it was: {line}"
    );
    assert!(
        run.stderr
            .iter()
            .any(|l| l.contains("reload") && l.contains("beta.toml")),
        "{:?}",
        run.stderr
    );
    wait_file(&state.join("gamma/engine.json"));
    run.signal(Signal::TERM);
    let (status, stderr) = run.wait();
    assert!(status.success(), "exit {status:?}: {stderr}");
}

/// A changed `[pipeline.training]` spec is rebuilt on SIGHUP: its engine
/// holds the bot's model registry, so it saves and stops (releasing it)
/// before the new one opens it.
#[test]
fn sighup_rebuilds_a_training_bot_whose_spec_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    std::fs::create_dir_all(&engines).unwrap();
    let spec = |threshold: u32| {
        format!(
            "bot = \"sales\"\n[pipeline.training]\ndata = \"sales.csv\"\ntask = \"regression\"\n\
             learning_threshold = {threshold}\n[engine]\nenergy = \"none\"\ninterval = \"1ms\"\n"
        )
    };
    std::fs::write(engines.join("sales.toml"), spec(50)).unwrap();
    let rows: String = (0..20)
        .map(|i| format!("{i},{},{}\n", i % 3, 2 * i))
        .collect();
    std::fs::write(engines.join("sales.csv"), format!("x1,x2,target\n{rows}")).unwrap();
    let state = tmp.path().join("state");
    let mut run = start(&engines, &state, &[]);
    wait_file(&state.join("sales/engine.json"));
    std::fs::write(engines.join("sales.toml"), spec(10)).unwrap();
    run.signal(Signal::HUP);
    let line = run.wait_stderr("reloaded");
    assert!(line.contains("rebuilt sales"), "{line}");
    assert!(
        !run.stderr.iter().any(|l| l.contains("left as it was")),
        "{:?}",
        run.stderr
    );
    // The rebuilt engine runs and saves (its model registry is its own).
    let saved = |p: &Path| read_json(p)["cycles"].as_u64().unwrap_or(0);
    let engine = state.join("sales/engine.json");
    let before = saved(&engine);
    let deadline = Instant::now() + Duration::from_secs(30);
    while saved(&engine) <= before {
        assert!(Instant::now() < deadline, "the rebuilt engine ran no cycle");
        std::thread::sleep(Duration::from_millis(20));
    }
    run.signal(Signal::TERM);
    let (status, stderr) = run.wait();
    assert!(status.success(), "exit {status:?}: {stderr}");
}

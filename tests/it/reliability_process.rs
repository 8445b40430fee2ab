//! Issue 9 items 5, 13 and 16 through the real binary: many command
//! engines under a low open-files limit, a write past the file-size limit,
//! and logs a collector can read.
#![cfg(target_os = "linux")]

use crate::support::*;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

const RESULT: &str = "echo '{\"roi\":{\"roi\":0.5}}'";
const NO_ENERGY: &str = "[engine]\nenergy = \"none\"";

/// `kaizen args…` started by `sh` after `setup` (e.g. `ulimit -Sn 64`).
fn kaizen_after(setup: &str, args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{setup} && exec \"$0\" \"$@\""))
        .arg(assert_cmd::cargo::cargo_bin("kaizen"))
        .args(args)
        .output()
        .unwrap()
}

fn run_once_args<'a>(engines: &'a Path, state: &'a Path) -> Vec<&'a std::ffi::OsStr> {
    vec![
        "run".as_ref(),
        "--once".as_ref(),
        "--json".as_ref(),
        "--engines".as_ref(),
        engines.as_os_str(),
        "--state".as_ref(),
        state.as_os_str(),
    ]
}

#[test]
fn many_command_engines_run_under_a_low_open_files_limit_and_pipelines_get_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    let bots = 40;
    for i in 0..bots {
        let body = format!(
            "ulimit -Sn > {}/$KAIZEN_BOT.nofile\n{RESULT}",
            engines.display()
        );
        // Every engine runs this round: forced by its interval (a learned
        // engine's first decision may otherwise explore a skip).
        let spec = format!("{NO_ENERGY}\nforce = [\"interval\"]");
        command_engine(&engines, &format!("b{i:02}"), &body, &spec);
    }
    let state = tmp.path().join("state");
    let out = kaizen_after("ulimit -Sn 64", &run_once_args(&engines, &state));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout.matches("\"ok\":true").count(),
        bots,
        "{stdout}\n{stderr}"
    );
    for i in 0..bots {
        let limit = std::fs::read_to_string(engines.join(format!("b{i:02}.nofile"))).unwrap();
        assert_eq!(limit.trim(), "64", "b{i:02}: the limit kaizen started with");
    }
}

#[test]
fn a_write_past_the_file_size_limit_is_an_error_not_a_signal() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    // The pipeline records its ignored signals (SIGXFSZ must not be one) and
    // reports a package name that makes the state files a few KiB.
    let package = "p".repeat(3000);
    let body = format!(
        "grep '^SigIgn' /proc/self/status > {}/signals\necho '{{\"roi\":{{\"roi\":0.5}},\"package\":\"{package}\"}}'",
        engines.display()
    );
    command_engine(&engines, "alpha", &body, NO_ENERGY);
    let state = tmp.path().join("state");
    // 1 block (512 or 1024 bytes): the engine's state files are larger.
    let out = kaizen_after("ulimit -f 1", &run_once_args(&engines, &state));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), None, "killed by a signal: {stderr}");
    // Reported like a full disk: the file (the state root's write-ahead
    // log, which a durable save reaches first), and what the OS said.
    assert!(stderr.contains(".kaizen/wal: File too large"), "{stderr}");
    let ignored = std::fs::read_to_string(engines.join("signals")).unwrap();
    let mask =
        u64::from_str_radix(ignored.trim().trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert_eq!(
        mask & (1 << (25 - 1)),
        0,
        "the pipeline ignores SIGXFSZ: {ignored}"
    );
}

#[test]
fn logs_carry_no_colour_off_a_terminal_and_json_logs_are_json() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    command_engine(&engines, "alpha", RESULT, NO_ENERGY);
    let state = tmp.path().join("state");
    let text = stderr_of(kaizen().arg("-vv").args(run_once_args(&engines, &state)));
    assert!(text.lines().count() > 0);
    assert!(!text.contains('\u{1b}'), "ANSI codes in piped logs: {text}");
    let json = stderr_of(
        kaizen()
            .args(["-vv", "--log-format", "json"])
            .args(run_once_args(&engines, &state)),
    );
    let logs: Vec<serde_json::Value> = json
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!logs.is_empty(), "{json}");
    assert!(logs.iter().all(|l| l["level"].is_string()), "{json}");
}

//! `kaizen simulate` through the real binary.

use crate::support::{kaizen, stdout_of};
use std::path::{Path, PathBuf};

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/scenarios")
        .join(format!("{name}.toml"))
}

/// `kaizen simulate --scenario FILE`, which must fail: what it printed.
fn simulate_fails(file: &Path) -> std::process::Output {
    kaizen()
        .arg("simulate")
        .arg("--scenario")
        .arg(file)
        .assert()
        .failure()
        .get_output()
        .clone()
}

/// Runs `kaizen simulate` with `args`; returns the JSON it wrote to FILE.
fn json_report(args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    kaizen()
        .arg("simulate")
        .args(args)
        .arg("--json")
        .arg(&out)
        .assert()
        .success();
    std::fs::read(&out).unwrap()
}

#[test]
fn same_seed_and_scenario_give_byte_identical_json() {
    let steady = scenario("steady");
    let args = [
        "--scenario",
        steady.to_str().unwrap(),
        "--seed",
        "7",
        "--ticks",
        "300",
    ];
    let first = json_report(&args);
    let second = json_report(&args);
    assert_eq!(first, second);
    let text = String::from_utf8(first).unwrap();
    assert!(text.contains("\"seed\": 7"), "{text}");
    assert!(text.contains("\"ticks\": 300"), "{text}");
    for policy in [
        "learned",
        "core",
        "always",
        "interval",
        "threshold",
        "random",
        "tuned",
        "oracle",
    ] {
        assert!(
            text.contains(&format!("\"policy\": \"{policy}\"")),
            "{policy}"
        );
    }
}

#[test]
fn a_different_seed_gives_a_different_report() {
    let mixed = scenario("mixed");
    let run = |seed: &str| {
        json_report(&[
            "--scenario",
            mixed.to_str().unwrap(),
            "--seed",
            seed,
            "--ticks",
            "200",
        ])
    };
    assert_ne!(run("1"), run("2"));
}

#[test]
fn help_lists_every_flag() {
    let help = stdout_of(kaizen().args(["simulate", "--help"]));
    for flag in ["--scenario", "--policy", "--seed", "--ticks", "--json"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    for value in [
        "learned",
        "core",
        "always",
        "interval",
        "threshold",
        "random",
        "tuned",
        "oracle",
        "all",
    ] {
        assert!(help.contains(value), "{value} missing from:\n{help}");
    }
}

#[test]
fn a_bad_scenario_file_names_the_file_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "ticks = 10\n\n[[bots]]\nname = \"a\"\ngian = 0.3\n").unwrap();
    let out = simulate_fails(&path);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("gian"), "{stderr}");
    assert!(out.stdout.is_empty());

    // A value out of range names the file and the field.
    std::fs::write(&path, "[[bots]]\nname = \"a\"\ngain = 3.0\n").unwrap();
    let out = simulate_fails(&path);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("broken.toml"), "{stderr}");
    assert!(stderr.contains("scenario.bots[0].gain"), "{stderr}");

    // A file that is not there is named too.
    let missing = dir.path().join("missing.toml");
    let out = simulate_fails(&missing);
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("missing.toml")
    );
}

#[test]
fn without_arguments_the_built_in_scenario_runs_and_prints_the_table() {
    let out = kaizen()
        .args(["simulate", "--ticks", "300"])
        .assert()
        .success()
        .get_output()
        .clone();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.starts_with("scenario mixed"), "{table}");
    let rows: Vec<&str> = table.lines().skip(2).collect();
    let names: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        [
            "learned",
            "core",
            "always",
            "interval",
            "threshold",
            "random",
            "tuned",
            "oracle"
        ]
    );
    assert!(rows[7].ends_with("100.0%"), "{table}");
    // stderr is not a terminal here: no progress bar.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn one_policy_and_json_on_stdout() {
    let out = stdout_of(kaizen().args([
        "simulate", "--policy", "interval", "--ticks", "50", "--json", "-",
    ]));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let policies = report["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0]["policy"], "interval");
    assert!(report["oracle_net_profit"].as_f64().unwrap() > 0.0);
    assert!(policies[0]["share_of_oracle"].as_f64().is_some());
}

//! `kaizen evaluate` on a committed decision log: 60 learned decisions of
//! bot `bot` under the default `[decide]` settings (ledger source), as
//! `kaizen run --json` prints them, with a history segment's header line and
//! an engine event mixed in (both skipped).

use crate::support::{kaizen, stdout_of};
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/evaluate/decisions.jsonl")
}

/// A candidate spec for bot `bot` with `extra` appended.
fn spec(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("candidate.toml");
    std::fs::write(
        &path,
        format!("bot = \"bot\"\n[pipeline]\ncommand = [\"./improve.sh\"]\n{extra}"),
    )
    .unwrap();
    path
}

fn evaluate(log: &Path, spec: &Path) -> assert_cmd::Command {
    let mut cmd = kaizen();
    cmd.args(["evaluate", "--log"])
        .arg(log)
        .arg("--spec")
        .arg(spec);
    cmd
}

fn failure(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.assert().failure().get_output().stderr.clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn the_logged_settings_replay_with_weight_one_and_others_are_estimated() {
    let dir = tempfile::tempdir().unwrap();
    let same = spec(dir.path(), "[engine]\ndecision = \"learned\"\n");
    let json: serde_json::Value =
        serde_json::from_str(&stdout_of(evaluate(&fixture(), &same).arg("--json"))).unwrap();
    assert_eq!(json["decisions"], 59, "{json}");
    assert_eq!(json["excluded"]["end_of_log"], 1);
    assert_eq!(json["excluded"]["undecided"], 0);
    assert_eq!(json["effective_sample_size"].as_f64(), Some(59.0));
    assert_eq!(json["ips"]["value"], json["logged"]["value"]);
    for key in ["ips", "snips", "doubly_robust"] {
        let ci = json[key]["confidence_interval"].as_array().unwrap();
        assert!(ci[0].as_f64() <= ci[1].as_f64(), "{key}: {json}");
    }

    let other = spec(
        dir.path(),
        "[engine]\ndecision = \"learned\"\n[decide]\nepsilon = 0.3\n",
    );
    let text = stdout_of(evaluate(&fixture(), &other).args(["--bot", "bot"]));
    for want in [
        "IPS",
        "SNIPS",
        "doubly robust",
        "logged (as run)",
        "effective sample size",
        "95% interval",
        "epsilon 0.3",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    // No decision mode in the spec: evaluated as learned, and said so.
    let unset = spec(dir.path(), "");
    let text = stdout_of(&mut evaluate(&fixture(), &unset));
    assert!(text.contains("sets no [engine] decision"), "{text}");
}

#[test]
fn a_history_json_document_reads_as_the_same_log() {
    let dir = tempfile::tempdir().unwrap();
    let same = spec(dir.path(), "[engine]\ndecision = \"learned\"\n");
    let records: Vec<serde_json::Value> = std::fs::read_to_string(fixture())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("type").is_some())
        .collect();
    // As `kaizen history --json` prints it: times in RFC 3339.
    let doc = kaizen::present::with_rfc3339_times(&serde_json::json!({
        "bot": "bot",
        "records": records,
        "audit": [],
    }));
    assert!(
        doc["records"][0]["time"].is_string(),
        "{}",
        doc["records"][0]
    );
    let path = dir.path().join("history.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let from_doc: serde_json::Value =
        serde_json::from_str(&stdout_of(evaluate(&path, &same).arg("--json"))).unwrap();
    let from_lines: serde_json::Value =
        serde_json::from_str(&stdout_of(evaluate(&fixture(), &same).arg("--json"))).unwrap();
    assert_eq!(from_doc, from_lines);
}

#[test]
fn bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = spec(dir.path(), "");
    // A line that is not JSON, by file and line.
    let lines: Vec<String> = std::fs::read_to_string(fixture())
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let broken = dir.path().join("broken.jsonl");
    let mut cut = lines.clone();
    cut[4] = cut[4][..40].to_string();
    std::fs::write(&broken, cut.join("\n")).unwrap();
    let err = failure(&mut evaluate(&broken, &good));
    assert!(err.contains("broken.jsonl:5: not JSON"), "{err}");
    // A cycle record that does not read.
    let mut bad = lines;
    bad[6] = r#"{"type":"cycle","engine":"bot"}"#.to_string();
    std::fs::write(&broken, bad.join("\n")).unwrap();
    let err = failure(&mut evaluate(&broken, &good));
    assert!(err.contains("broken.jsonl:7: not a cycle record"), "{err}");
    // A bot the log does not have.
    let err = failure(evaluate(&fixture(), &good).args(["--bot", "nobody"]));
    assert!(err.contains("no record of bot \"nobody\""), "{err}");
    // A chain candidate, and a spec without its bot.
    let chain = spec(dir.path(), "[engine]\ndecision = \"chain\"\n");
    let err = failure(&mut evaluate(&fixture(), &chain));
    assert!(
        err.contains("engine.decision") && err.contains("\"learned\""),
        "{err}"
    );
    let nameless = dir.path().join("nameless.toml");
    std::fs::write(&nameless, "[pipeline]\ncommand = [\"x\"]\n").unwrap();
    let err = failure(&mut evaluate(&fixture(), &nameless));
    assert!(
        err.contains("nameless.toml") && err.contains("bot"),
        "{err}"
    );
}

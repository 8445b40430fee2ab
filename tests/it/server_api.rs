//! The HTTP control plane, through a real server on an ephemeral loopback
//! port and a real HTTP client (issue 13).

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use super::support_server::{Fleet, SECRET, Setup, WHO, get, post};

fn fleet() -> Fleet {
    let f = Fleet::start(Setup::default());
    f.round();
    f
}

/// Polls `check` until it holds (bounded: 30 s).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_read_route_answers_on_loopback_without_a_token() {
    let f = fleet();
    let page = get(&f.url("/"), None);
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.body.contains("/assets/app.js"));
    for asset in ["/assets/app.js", "/assets/app.css"] {
        assert_eq!(get(&f.url(asset), None).status, 200, "{asset}");
    }
    let engines = get(&f.url("/api/v1/engines"), None).json();
    let names: Vec<&str> = engines["engines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(engines["engines"][0]["conditions"][0]["type"], "Ready");
    let alpha = get(&f.url("/api/v1/engines/alpha"), None).json();
    assert_eq!(alpha["snapshot"]["cycles"], 1);
    // Times are RFC 3339.
    assert_eq!(alpha["snapshot"]["last_run"], "2027-01-15T09:00:00.000Z");
    let history = get(&f.url("/api/v1/engines/alpha/history"), None).json();
    let records = history["records"].as_array().unwrap();
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "cycle" && r["action"] == "run"),
        "{history}"
    );
    assert!(records.iter().all(|r| r["time"].is_string()));
    let since = get(
        &f.url("/api/v1/engines/alpha/history?since=2027-01-15T08:30:00Z&until=1900000000"),
        None,
    )
    .json();
    assert_eq!(since["records"].as_array().unwrap().len(), 1, "{since}");
    let models = get(&f.url("/api/v1/models/alpha"), None).json();
    assert_eq!(models["registry"], false);
    let scale = get(&f.url("/api/v1/autoscale"), None).json();
    assert_eq!(scale["conditions"][0]["reason"], "NoStepYet");
    let alerts = get(&f.url("/api/v1/alerts"), None).json();
    assert!(alerts["firing"].is_array());
    assert_eq!(
        alerts["rules"]["resource_use"], 0.9,
        "the rules in effect: {alerts}"
    );
    assert!(get(&f.url("/api/v1/audit"), None).json()["entries"].is_array());
    let doc = get(&f.url("/api/v1/openapi.json"), None).json();
    assert_eq!(doc["openapi"], "3.1.0");
    let metrics = get(&f.url("/metrics"), None);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .content_type
            .starts_with("text/plain; version=0.0.4")
    );
}

#[test]
fn the_openapi_document_describes_every_route_the_server_has() {
    let f = fleet();
    let doc = get(&f.url("/api/v1/openapi.json"), None).json();
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            documented.push(format!("{method} {path}"));
        }
    }
    documented.sort();
    // Every documented GET route exists (none answers "no_route").
    for entry in &documented {
        let (method, path) = entry.split_once(' ').unwrap();
        let path = path.replace("{bot}", "alpha").replace("{file}", "app.js");
        if method == "get" && path != "/api/v1/decisions" {
            let a = get(&f.url(&path), None);
            assert_ne!(a.status, 404, "{entry}: {}", a.body);
        }
    }
    // A route the document does not list is not served.
    let missing = get(&f.url("/api/v1/nothing"), None);
    assert_eq!((missing.status, missing.code().as_str()), (404, "no_route"));
    assert_eq!(documented.len(), 21, "{documented:?}");
}

#[test]
fn changes_need_the_token_and_are_audited_with_its_name() {
    let f = fleet();
    let url = f.url("/api/v1/engines/alpha/pause");
    let missing = post(&url, None, "");
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (401, "token_missing")
    );
    let wrong = post(&url, Some("not-the-token-at-all"), "");
    assert_eq!((wrong.status, wrong.code().as_str()), (401, "token_wrong"));
    assert_eq!(
        get(&f.url("/api/v1/engines/alpha"), None).json()["snapshot"]["paused"],
        false
    );
    let right = post(&url, Some(SECRET), "");
    assert_eq!(right.status, 200, "{}", right.body);
    assert_eq!(right.json()["paused"], true);
    assert_eq!(
        get(&f.url("/api/v1/engines/alpha"), None).json()["snapshot"]["paused"],
        true
    );
    // Paused: a run is refused with a conflict, and that is audited too.
    let run = post(
        &f.url("/api/v1/engines/alpha/run"),
        Some(SECRET),
        r#"{"energy": 3}"#,
    );
    assert_eq!(
        (run.status, run.code().as_str()),
        (409, "conflict"),
        "{}",
        run.body
    );
    let resumed = post(&f.url("/api/v1/engines/alpha/resume"), Some(SECRET), "");
    assert_eq!(resumed.json()["paused"], false);
    let ran = post(
        &f.url("/api/v1/engines/alpha/run"),
        Some(SECRET),
        r#"{"energy": 3}"#,
    );
    assert_eq!(ran.status, 200, "{}", ran.body);
    assert_eq!(ran.json()["reason"], "requested");
    let audit = get(&f.url("/api/v1/audit?bot=alpha&since=0"), None).json();
    let actions: Vec<(String, String, bool)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["who"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["error"].is_null(),
            )
        })
        .collect();
    let who = WHO.to_string();
    assert_eq!(
        actions,
        [
            (who.clone(), "engine.pause".to_string(), true),
            (who.clone(), "engine.run".to_string(), false),
            (who.clone(), "engine.resume".to_string(), true),
            (who, "engine.run".to_string(), true),
        ]
    );
}

#[test]
fn beyond_loopback_reads_need_the_token_too() {
    let f = Fleet::start(Setup {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..Setup::default()
    });
    for path in ["/api/v1/engines", "/metrics", "/api/v1/decisions"] {
        let a = get(&f.url(path), None);
        assert_eq!(
            (a.status, a.code().as_str()),
            (401, "token_missing"),
            "{path}"
        );
    }
    assert_eq!(get(&f.url("/api/v1/engines"), Some(SECRET)).status, 200);
    // The page itself holds no data.
    assert_eq!(get(&f.url("/"), None).status, 200);
}

#[test]
fn bad_requests_get_a_json_error_naming_the_problem() {
    let f = Fleet::start(Setup {
        body_limit: 1024,
        ..Setup::default()
    });
    let run = f.url("/api/v1/engines/alpha/run");
    let malformed = post(&run, Some(SECRET), "{\"energy\": ");
    assert_eq!(
        (malformed.status, malformed.code().as_str()),
        (400, "malformed_body")
    );
    assert!(
        malformed.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid")
    );
    let unknown_field = post(&run, Some(SECRET), r#"{"energi": 3}"#);
    assert_eq!(unknown_field.status, 400);
    assert!(
        unknown_field.body.contains("energi"),
        "{}",
        unknown_field.body
    );
    let out_of_range = post(&run, Some(SECRET), r#"{"energy": 500}"#);
    assert_eq!(out_of_range.status, 400, "{}", out_of_range.body);
    assert!(
        out_of_range.body.contains("1..=100"),
        "{}",
        out_of_range.body
    );
    let big = format!("{{\"energy\": 3, \"pad\": \"{}\"}}", "x".repeat(4096));
    let oversized = post(&run, Some(SECRET), &big);
    assert_eq!(
        (oversized.status, oversized.code().as_str()),
        (413, "body_too_large")
    );
    let unknown = get(&f.url("/api/v1/engines/nobody"), None);
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (404, "unknown_bot")
    );
    let unknown = post(&f.url("/api/v1/engines/nobody/pause"), Some(SECRET), "");
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (404, "unknown_bot")
    );
    let invalid = get(&f.url("/api/v1/engines/.hidden/history"), None);
    assert_eq!(
        (invalid.status, invalid.code().as_str()),
        (400, "invalid_bot")
    );
    let bad_time = get(
        &f.url("/api/v1/engines/alpha/history?since=yesterday"),
        None,
    );
    assert_eq!(bad_time.status, 400);
    assert!(bad_time.body.contains("since"), "{}", bad_time.body);
    let bad_query = get(&f.url("/api/v1/engines/alpha/history?sinse=0"), None);
    assert_eq!(
        (bad_query.status, bad_query.code().as_str()),
        (400, "bad_query")
    );
    assert!(bad_query.content_type.starts_with("application/json"));
}

#[test]
fn requests_beyond_the_rate_are_refused() {
    let f = Fleet::start(Setup {
        rate: 5.0,
        ..Setup::default()
    });
    let codes: Vec<u16> = (0..20)
        .map(|_| get(&f.url("/api/v1/alerts"), None).status)
        .collect();
    assert!(codes.contains(&429), "{codes:?}");
    assert_eq!(codes[0], 200);
}

#[test]
fn cors_headers_only_for_configured_origins() {
    let plain = fleet();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let r = agent
        .get(&plain.url("/api/v1/engines"))
        .header("Origin", "https://grafana.example")
        .call()
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    drop(plain);
    let f = Fleet::start(Setup {
        cors: vec!["https://grafana.example".into()],
        ..Setup::default()
    });
    let r = agent
        .get(&f.url("/api/v1/engines"))
        .header("Origin", "https://grafana.example")
        .call()
        .unwrap();
    assert_eq!(
        r.headers().get("access-control-allow-origin").unwrap(),
        "https://grafana.example"
    );
}

#[test]
fn autoscale_through_the_api_is_a_dry_run_unless_asked() {
    let f = fleet();
    let step = post(
        &f.url("/api/v1/autoscale"),
        Some(SECRET),
        r#"{"energy": 0.95, "trend": 0.5}"#,
    );
    assert_eq!(step.status, 200, "{}", step.body);
    let step = step.json();
    assert_eq!(step["applied"], false);
    assert_eq!(step["config"]["dry_run"], true);
    assert!(step["time"].is_string());
    let scale = get(&f.url("/api/v1/autoscale"), None).json();
    let reasons: Vec<&str> = scale["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"DryRun"), "{scale}");
    let bad = post(
        &f.url("/api/v1/autoscale?dry_run=perhaps"),
        Some(SECRET),
        "",
    );
    assert_eq!((bad.status, bad.code().as_str()), (400, "bad_query"));
}

#[test]
fn sse_delivers_a_cycle_record_within_one_round() {
    let f = fleet();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut r = agent
        .get(&f.url("/api/v1/decisions?skips=false"))
        .call()
        .unwrap();
    assert_eq!(
        r.headers().get("content-type").unwrap(),
        "text/event-stream"
    );
    let mut lines = BufReader::new(r.body_mut().as_reader());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    assert!(first.starts_with(": subscribed"), "{first}");
    f.round();
    let mut event = String::new();
    loop {
        let mut line = String::new();
        assert!(lines.read_line(&mut line).unwrap() > 0, "the stream ended");
        if line.starts_with("event: ") {
            event = line.trim_end().to_string();
        }
        if let Some(data) = line.strip_prefix("data: ") {
            let d: serde_json::Value = serde_json::from_str(data).unwrap();
            if d["type"] == "cycle" {
                assert_eq!(event, "event: cycle");
                assert_eq!(d["action"], "run");
                assert!(d["time"].as_str().unwrap().ends_with('Z'));
                break;
            }
        }
    }
}

#[test]
fn metrics_follow_prometheus_conventions_and_pass_promtool() {
    let f = Fleet::start(Setup {
        broken: vec!["gamma"],
        ..Setup::default()
    });
    f.round();
    f.round();
    eventually("the error-rate alert on gamma", || {
        get(&f.url("/api/v1/alerts"), None).json()["firing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["alert"] == "error_rate" && a["bot"] == "gamma")
    });
    let text = get(&f.url("/metrics"), None).body;
    for needle in [
        "# TYPE kaizen_tick_latency_seconds histogram",
        "kaizen_tick_latency_seconds_bucket{le=\"+Inf\"}",
        "# TYPE kaizen_cycle_duration_seconds histogram",
        "# TYPE kaizen_cycle_energy histogram",
        "kaizen_bot_cycles_total{bot=\"alpha\"} 2",
        "kaizen_bot_cycle_failures_total{bot=\"gamma\"} 2",
        "kaizen_alerts_firing{alert=\"error_rate\",bot=\"gamma\"} 1",
        "kaizen_resource_usage_ratio{resource=\"memory\"} 0.2",
        "# TYPE kaizen_engines gauge",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    // Histograms have no bot label.
    assert!(
        !text
            .lines()
            .any(|l| l.contains("_bucket{") && l.contains("bot="))
    );
    // Every series the example alerting rules ask for is exposed.
    let rules = std::fs::read_to_string(examples().join("alerts.yml")).unwrap();
    for name in metric_names(&rules) {
        assert!(
            text.lines().any(|l| l
                .strip_prefix(name.as_str())
                .is_some_and(|rest| rest.starts_with(['{', ' ']))),
            "examples/prometheus/alerts.yml uses {name}, which /metrics does not expose"
        );
    }
    let Some(out) = promtool(&["check", "metrics"], Some(&text)) else {
        return;
    };
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn example_alert_rules_and_scrape_config_pass_promtool() {
    let dir = examples();
    let rules = dir.join("alerts.yml");
    let config = dir.join("prometheus.yml");
    // The four conditions of kaizen's own alert rules are there.
    let text = std::fs::read_to_string(&rules).unwrap();
    for needle in [
        "kaizen_bot_cycle_failures_total",
        "kaizen_tick_latency_seconds_bucket",
        "kaizen_resource_usage_ratio",
        "alert=\"model_degradation\"",
    ] {
        assert!(text.contains(needle), "alerts.yml lacks {needle}");
    }
    for args in [
        ["check", "rules", rules.to_str().unwrap()],
        ["check", "config", config.to_str().unwrap()],
    ] {
        let Some(out) = promtool(&args, None) else {
            return;
        };
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// examples/prometheus.
fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus")
}

/// The `kaizen_…` names a rules file uses.
fn metric_names(rules: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = rules;
    while let Some(i) = rest.find("kaizen_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    assert!(!names.is_empty(), "no kaizen_ metric in the rules");
    names
}

/// Runs `promtool args…` with `input` on its stdin; None (said on stderr)
/// when promtool is not installed.
fn promtool(args: &[&str], input: Option<&str>) -> Option<std::process::Output> {
    let Some(promtool) = which("promtool") else {
        eprintln!(
            "SKIPPED promtool {}: promtool is not installed (Debian's `prometheus` package; .ci/run installs it)",
            args.join(" ")
        );
        return None;
    };
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(promtool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(input) = input {
        stdin.write_all(input.as_bytes()).unwrap();
    }
    drop(stdin);
    Some(child.wait_with_output().unwrap())
}

/// The path of a program on PATH.
pub fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join(program))
        .find(|p| p.is_file())
}

#[test]
fn models_are_listed_activated_and_rolled_back_through_the_api() {
    use kaizen::models::{ModelRegistry, NewVersion, RegistryConfig};
    let f = fleet();
    let dir = f.state.path().join("alpha");
    {
        let weights = |x: f32| {
            let t = candle_core::Tensor::new(&[x], &candle_core::Device::Cpu).unwrap();
            safetensors::serialize([("w", t)], None).unwrap()
        };
        let mut m = ModelRegistry::open(&dir, RegistryConfig::default(), 1000.0).unwrap();
        let v1 = m
            .save(
                NewVersion::new(weights(0.5)).metric("val_loss", 0.4),
                1000.0,
            )
            .unwrap();
        m.deploy(v1, "first", 1001.0).unwrap();
        let v2 = m
            .save(
                NewVersion::new(weights(0.7)).metric("val_loss", 0.3),
                2000.0,
            )
            .unwrap();
        m.deploy(v2, "better", 2001.0).unwrap();
    }
    let models = get(&f.url("/api/v1/models/alpha"), None).json();
    assert_eq!(models["champion"], 2);
    assert_eq!(models["versions"].as_array().unwrap().len(), 2);
    assert_eq!(models["versions"][0]["created"], "1970-01-01T00:16:40.000Z");
    let rolled = post(&f.url("/api/v1/models/alpha/rollback"), Some(SECRET), "");
    assert_eq!(rolled.status, 200, "{}", rolled.body);
    assert_eq!(rolled.json()["to"], 1);
    let again = post(
        &f.url("/api/v1/models/alpha/activate"),
        Some(SECRET),
        r#"{"version": 1}"#,
    );
    assert_eq!(
        (again.status, again.code().as_str()),
        (409, "conflict"),
        "{}",
        again.body
    );
    let activated = post(
        &f.url("/api/v1/models/alpha/activate"),
        Some(SECRET),
        r#"{"version": 2, "reason": "try again"}"#,
    );
    assert_eq!(activated.status, 200, "{}", activated.body);
    assert_eq!(
        get(&f.url("/api/v1/models/alpha"), None).json()["champion"],
        2
    );
    let missing = post(&f.url("/api/v1/models/alpha/activate"), Some(SECRET), "{}");
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (400, "malformed_body")
    );
}

/// Issue 12: while an engine trains a bot, its training pipeline holds the
/// bot's model registry; the API moves the champion through that engine.
#[test]
fn models_move_through_the_engine_that_trains_them() {
    let f = Fleet::start(Setup {
        bots: vec![],
        trained: vec!["sales"],
        ..Setup::default()
    });
    let data = f.state.path().join("sales.csv");
    let run = || {
        let r = post(
            &f.url("/api/v1/engines/sales/run"),
            Some(SECRET),
            r#"{"energy": 5}"#,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    // v1 beats the mean and serves; on a new relation, v2 replaces it.
    assert_eq!(run()["outcome"]["metrics"]["champion_version"], 1.0);
    super::support::append_linear(&data, 100, (-1.0, 3.0));
    assert_eq!(run()["outcome"]["metrics"]["champion_version"], 2.0);

    // The engine holds the registry's lock: the move goes through it.
    let activated = post(
        &f.url("/api/v1/models/sales/activate"),
        Some(SECRET),
        r#"{"version": 1, "reason": "v2 misbehaves"}"#,
    );
    assert_eq!(activated.status, 200, "{}", activated.body);
    let moved = activated.json();
    assert_eq!(
        (moved["from"].clone(), moved["to"].clone()),
        (2.into(), 1.into())
    );
    assert_eq!(moved["reason"], "v2 misbehaves");
    assert_eq!(
        get(&f.url("/api/v1/models/sales"), None).json()["champion"],
        1
    );
    // v2 has passed no post-deploy check: nothing to roll back to, a real
    // conflict; activating it by name moves it back.
    let rolled = post(&f.url("/api/v1/models/sales/rollback"), Some(SECRET), "");
    assert_eq!(
        (rolled.status, rolled.code().as_str()),
        (409, "conflict"),
        "{}",
        rolled.body
    );
    assert!(
        rolled.body.contains("no version to roll back to"),
        "{}",
        rolled.body
    );
    let back = post(
        &f.url("/api/v1/models/sales/activate"),
        Some(SECRET),
        r#"{"version": 2}"#,
    );
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(back.json()["to"], 2, "{}", back.body);
    assert_eq!(
        get(&f.url("/api/v1/models/sales"), None).json()["champion"],
        2
    );
    // The next cycle serves the champion the operator chose.
    assert_eq!(run()["outcome"]["metrics"]["champion_version"], 2.0);

    // Typed errors: an unknown version or bot is 404, a real conflict 409.
    let unknown = post(
        &f.url("/api/v1/models/sales/activate"),
        Some(SECRET),
        r#"{"version": 9}"#,
    );
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (404, "unknown_version"),
        "{}",
        unknown.body
    );
    let serving = post(
        &f.url("/api/v1/models/sales/activate"),
        Some(SECRET),
        r#"{"version": 2}"#,
    );
    assert_eq!(
        (serving.status, serving.code().as_str()),
        (409, "conflict"),
        "{}",
        serving.body
    );
    let nobody = post(
        &f.url("/api/v1/models/nobody/activate"),
        Some(SECRET),
        r#"{"version": 1}"#,
    );
    assert_eq!(
        (nobody.status, nobody.code().as_str()),
        (404, "unknown_bot"),
        "{}",
        nobody.body
    );

    // Every move is in the audit trail, by whom and how it ended.
    eventually("the audit entries", || {
        let audit = get(&f.url("/api/v1/audit"), None).json();
        let entries = audit["entries"].as_array().unwrap().clone();
        let moves: Vec<_> = entries
            .iter()
            .filter(|e| e["bot"] == "sales" && e["action"].as_str().unwrap().starts_with("model."))
            .collect();
        moves.len() == 5
            && moves[0]["action"] == "model.activate"
            && moves[0]["who"] == WHO
            && moves[0]["error"].is_null()
            && moves[1]["action"] == "model.rollback"
            && !moves[1]["error"].is_null()
            && moves[2]["error"].is_null()
            && !moves[3]["error"].is_null()
            && !moves[4]["error"].is_null()
    });
}

/// Issue 14 item 4: the engine runs (and keeps writing) the bot's variants;
/// the API promotes and retires them through it, answering the new state.
#[test]
fn variants_are_promoted_and_retired_through_the_engine_that_runs_them() {
    let f = Fleet::start(Setup {
        bots: vec!["alpha"],
        variants: vec!["tuned"],
        ..Setup::default()
    });
    let file = f.state.path().join("tuned").join("variants.json");
    let on_disk = || -> kaizen::variants::Variants {
        kaizen::persist::decode_json(&std::fs::read(&file).unwrap()).unwrap()
    };
    let change = |id: &str, what: &str, body: &str| {
        post(
            &f.url(&format!("/api/v1/variants/tuned/{id}/{what}")),
            Some(SECRET),
            body,
        )
    };
    // Variant 0 serves; one cycle records an outcome of the first member.
    f.round();
    assert_eq!(on_disk().serving(), 0);

    let promoted = change("2", "promote", r#"{"reason": "looks better"}"#);
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    let answer = promoted.json();
    assert_eq!(answer["event"]["event"], "promoted", "{}", promoted.body);
    assert_eq!(
        (
            answer["event"]["variant"].clone(),
            answer["event"]["previous"].clone()
        ),
        (2.into(), 0.into())
    );
    assert_eq!(answer["serving"], 2);
    assert_eq!((on_disk().serving(), on_disk().promotions()), (2, 1));

    // The serving variant can be neither promoted nor retired: 409.
    for what in ["promote", "retire"] {
        let refused = change("2", what, "");
        assert_eq!(
            (refused.status, refused.code().as_str()),
            (409, "conflict"),
            "{what}: {}",
            refused.body
        );
    }
    let retired = change("1", "retire", "");
    assert_eq!(retired.status, 200, "{}", retired.body);
    let answer = retired.json();
    assert_eq!(answer["event"]["event"], "retired", "{}", retired.body);
    let child = answer["event"]["replaced_by"].as_u64().unwrap();
    let v = on_disk();
    assert!(v.population().get(1).is_none());
    assert_eq!(v.population().get(child).unwrap().parents, vec![2]);
    // The engine keeps running with the change: the next cycle's outcome
    // lands in the state the operator made.
    f.round();
    let v = on_disk();
    assert_eq!(v.serving(), 2);
    assert!(v.population().get(1).is_none());
    // The read route (the dashboard's variants panel) shows the new state;
    // bots without variants are not listed.
    let listed = get(&f.url("/api/v1/variants"), None).json();
    let bots = listed["bots"].as_array().unwrap();
    assert_eq!(bots.len(), 1, "{listed}");
    assert_eq!(
        (bots[0]["bot"].clone(), bots[0]["serving"].clone()),
        ("tuned".into(), 2.into()),
        "{listed}"
    );
    assert_eq!(
        (bots[0]["members"].clone(), bots[0]["promotions"].clone()),
        (4.into(), 1.into())
    );

    // Unknown variant, unknown bot, a bot without variants: 404, each named.
    for (url, code) in [
        ("/api/v1/variants/tuned/1/promote", "unknown_variant"),
        ("/api/v1/variants/tuned/99/retire", "unknown_variant"),
        ("/api/v1/variants/nobody/1/promote", "unknown_bot"),
        ("/api/v1/variants/alpha/1/promote", "no_variants"),
    ] {
        let a = post(&f.url(url), Some(SECRET), "");
        assert_eq!(
            (a.status, a.code().as_str()),
            (404, code),
            "{url}: {}",
            a.body
        );
    }
    // Without the token nothing changes.
    let anonymous = post(&f.url("/api/v1/variants/tuned/0/promote"), None, "");
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    assert_eq!(on_disk().serving(), 2);

    // Every change is in the audit trail as the CLI writes it.
    eventually("the audit entries", || {
        let audit = get(&f.url("/api/v1/audit?bot=tuned"), None).json();
        let entries = audit["entries"].as_array().unwrap().clone();
        let changes: Vec<_> = entries
            .iter()
            .filter(|e| e["action"].as_str().unwrap().starts_with("variants."))
            .collect();
        changes.len() == 6
            && changes[0]["action"] == "variants.promote"
            && changes[0]["detail"] == "variant 2: looks better"
            && changes[0]["who"] == WHO
            && changes[0]["error"].is_null()
            && !changes[1]["error"].is_null()
            && changes[2]["action"] == "variants.retire"
            && !changes[2]["error"].is_null()
            && changes[3]["error"].is_null()
            && changes[3]["detail"] == "variant 1"
    });
}

//! Scenario parsing and validation.

use super::*;
use crate::policy::Strategy;

const TWO_BOTS: &str = "[[bots]]\nname = \"a\"\n[[bots]]\nname = \"b\"\n";

fn err(text: &str) -> String {
    Scenario::from_toml(text).unwrap_err().to_string()
}

#[test]
fn a_minimal_scenario_takes_every_default() {
    let s = Scenario::from_toml(TWO_BOTS).unwrap();
    assert_eq!(s.name, "scenario");
    assert_eq!((s.seed, s.ticks, s.tick_seconds), (1, 1000, 3600.0));
    assert_eq!(s.bot_names(), ["a", "b"]);
    assert_eq!(s.bot_params(), vec![BotParams::default(); 2]);
    assert_eq!(s.capacity, CapacityConfig::default());
    assert_eq!(s.baselines, BaselineConfig::default());
    assert_eq!(s.learned, LearnedConfig::default());
    assert!(!s.autoscale.enabled);
    // Without [learned] the engines run their own defaults, as a spec
    // without tables would.
    let config = s.learned.engine_config().unwrap();
    let spec = crate::spec::EngineOptions::default().config().unwrap();
    assert_eq!(config.interval, spec.interval);
    assert_eq!(config.roi.scale, spec.roi.scale);
    assert_eq!(config.policy.epsilon, spec.policy.epsilon);
}

#[test]
fn every_table_parses() {
    let s = Scenario::from_toml(
        r#"
        name = "x"
        description = "d"
        seed = 9
        ticks = 20
        tick_seconds = 60.0
        [capacity]
        max_concurrent = 2
        cpu_per_cycle = 0.25
        [baselines]
        energy = 7
        interval_ticks = 3
        threshold_short = 2
        threshold_long = 6
        threshold_drop = 0.2
        random_chance = 0.5
        [learned]
        deltas = "ledger"
        capacity_energy = false
        [learned.report]
        payback_ticks = 10.0
        synergy = ["synergy_roi", "synergy_efficiency"]
        modules = false
        [learned.engine]
        interval = "2h"
        energy = "none"
        default_energy = 4
        [learned.policy]
        strategy = "sarsa"
        [learned.synergy]
        learner = "weights"
        lr = 0.2
        [autoscale]
        enabled = true
        every_ticks = 5
        initial_engines = 1
        [autoscale.options]
        max_engines = 2
        cooldown_secs = 10.0
        [[bots]]
        name = "only"
        skill = 0.5
        drift = 0.02
        demand = 10.0
        noise = 0.0
        gain = 0.1
        half_energy = 3.0
        cost_per_energy = 0.5
        eval_noise = 0.0
        "#,
    )
    .unwrap();
    assert_eq!((s.seed, s.ticks, s.tick_seconds), (9, 20, 60.0));
    assert_eq!(s.capacity.max_concurrent, 2);
    assert_eq!(s.baselines.random_chance(), 0.5);
    assert_eq!(s.learned.deltas, DeltaSource::Ledger);
    assert!(!s.learned.capacity_energy);
    assert_eq!(s.learned.report.synergy.len(), 2);
    let c = s.learned.engine_config().unwrap();
    assert_eq!(c.interval, std::time::Duration::from_secs(7200));
    assert_eq!(c.default_energy, 4);
    assert_eq!(c.policy.strategy, Strategy::Sarsa);
    assert_eq!(s.autoscale.options.max_engines, 2);
    assert_eq!(s.autoscale.options.cooldown_secs, 10.0);
    assert_eq!(s.bots[0].params.half_energy, 3.0);
    assert_eq!(s.baselines.energy, 7);
}

#[test]
fn random_chance_defaults_to_one_over_the_interval() {
    let b = BaselineConfig {
        interval_ticks: 8,
        ..BaselineConfig::default()
    };
    assert_eq!(b.random_chance(), 0.125);
}

#[test]
fn toml_errors_give_line_and_column() {
    let e = err("ticks = 10\n[[bots]]\nname = \"a\"\ngian = 0.1\n");
    assert!(
        e.starts_with("invalid scenario = line 2, column 1: "),
        "{e}"
    );
    assert!(e.contains("unknown field `gian`"), "{e}");
    let e = err("ticks = \"ten\"\n");
    assert!(e.contains("line 1, column 9"), "{e}");
    let e = err("seed = 1\nbogus = 2\n");
    assert!(
        e.contains("line 2") && e.contains("unknown field `bogus`"),
        "{e}"
    );
    let e = err("ticks = [\n");
    assert!(e.contains("line"), "{e}");
    let e = err(&format!("{TWO_BOTS}[learned]\nspeed = 1\n"));
    assert!(e.contains("unknown field `speed`"), "{e}");
    let e = err(&format!("{TWO_BOTS}[learned.policy]\nalfa = 0.1\n"));
    assert!(e.contains("unknown field `alfa`"), "{e}");
    let e = err(&format!("{TWO_BOTS}[autoscale.options]\nmax_engine = 3\n"));
    assert!(e.contains("unknown field `max_engine`"), "{e}");
    assert!(e.contains("max_engines"), "{e}");
}

#[test]
fn bot_tables_need_a_string_name() {
    assert!(err("[[bots]]\ngain = 0.1\n").contains("missing field `name`"));
    let e = err("[[bots]]\nname = 3\n");
    assert!(
        e.contains("a bot's name must be a string, not integer"),
        "{e}"
    );
}

#[test]
fn values_out_of_range_name_their_place() {
    let cases = [
        (
            format!("{TWO_BOTS}[[bots]]\nname = \"c\"\ngain = 1.5\n"),
            "invalid scenario.bots[2].gain = 1.5: expected a number in [0, 1]",
        ),
        (
            format!("{TWO_BOTS}[[bots]]\nname = \"c\"\ndrift = nan\n"),
            "scenario.bots[2].drift must be a finite number, got NaN",
        ),
        (
            format!("{TWO_BOTS}[[bots]]\nname = \"c\"\ndemand = inf\n"),
            "scenario.bots[2].demand must be a finite number, got inf",
        ),
        (
            format!("{TWO_BOTS}[[bots]]\nname = \"a\"\n"),
            "invalid scenario.bots[2].name = \"a\": expected a name no other bot has (scenario.bots[0] has it)",
        ),
        (
            "[[bots]]\nname = \"../x\"\n".to_string(),
            "invalid scenario.bots[0].name = \"../x\": expected a name of 1 to 64 letters, digits, '_', '.' or '-', not starting with '.' (it starts with '.')",
        ),
        (
            "ticks = 1000\n".to_string(),
            "invalid scenario.bots = 0 bots: expected 1 to 1000 [[bots]] tables",
        ),
        (
            format!("ticks = 0\n{TWO_BOTS}"),
            "invalid scenario.ticks = 0: expected a whole number in 1..=1000000",
        ),
        (
            format!("tick_seconds = -1.0\n{TWO_BOTS}"),
            "invalid scenario.tick_seconds = -1: expected a number greater than 0",
        ),
        (
            format!("{TWO_BOTS}[capacity]\ncpu_idle = 2.0\n"),
            "invalid scenario.capacity.cpu_idle = 2: expected a number in [0, 1]",
        ),
        (
            format!("{TWO_BOTS}[baselines]\nenergy = 0\n"),
            "invalid scenario.baselines.energy = 0: expected a whole number in 1..=100",
        ),
        (
            format!("{TWO_BOTS}[baselines]\ninterval_ticks = 0\n"),
            "invalid scenario.baselines.interval_ticks = 0: expected at least 1",
        ),
        (
            format!("{TWO_BOTS}[baselines]\nthreshold_short = 0\n"),
            "invalid scenario.baselines.threshold_short = 0: expected at least 1",
        ),
        (
            format!("{TWO_BOTS}[baselines]\nthreshold_long = 5\n"),
            "invalid scenario.baselines.threshold_long = 5: expected more than scenario.baselines.threshold_short (5)",
        ),
        (
            format!("{TWO_BOTS}[baselines]\nthreshold_drop = 1.0\n"),
            "invalid scenario.baselines.threshold_drop = 1: expected a number in [0, 1)",
        ),
        (
            format!("{TWO_BOTS}[baselines]\nrandom_chance = 1.5\n"),
            "invalid scenario.baselines.random_chance = 1.5: expected a number in [0, 1]",
        ),
        (
            format!("{TWO_BOTS}[learned.report]\npayback_ticks = 0.0\n"),
            "invalid scenario.learned.report.payback_ticks = 0: expected a number greater than 0",
        ),
        (
            format!("{TWO_BOTS}[learned.engine]\nenergy_threshold = 1.5\n"),
            "invalid scenario.learned.engine.energy_threshold = 1.5: expected a number in [0, 1]",
        ),
        (
            format!("{TWO_BOTS}[learned.policy]\nalpha = 0.0\n"),
            "invalid scenario.learned.policy.alpha = 0: expected a number in (0, 1]",
        ),
        (
            format!("{TWO_BOTS}[autoscale]\nevery_ticks = 0\n"),
            "invalid scenario.autoscale.every_ticks = 0: expected at least 1",
        ),
        (
            format!("{TWO_BOTS}[autoscale]\ninitial_engines = 3\n"),
            "invalid scenario.autoscale.initial_engines = 3: expected 1 to the number of bots (2)",
        ),
        (
            format!("{TWO_BOTS}[autoscale.options]\ncreate_energy = 2.0\n"),
            "invalid scenario.autoscale.options.create_energy = 2: expected a number in [0, 1]",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(err(&text), message, "{text}");
    }
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.toml");
    let e = Scenario::load(&path).unwrap_err().to_string();
    assert!(e.contains("nope.toml"), "{e}");
    std::fs::write(&path, TWO_BOTS).unwrap();
    assert_eq!(Scenario::load(&path).unwrap().bots.len(), 2);
}

#[test]
fn the_shipped_scenarios_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scenarios");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let s = Scenario::from_toml(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert_eq!(
            Some(s.name.as_str()),
            path.file_stem().and_then(|n| n.to_str())
        );
        // No tuned settings: every scenario measures the engines' defaults.
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("[learned")),
            "{path:?}"
        );
        assert_eq!(s.learned, LearnedConfig::default(), "{path:?}");
        names.push(s.name);
    }
    names.sort();
    assert_eq!(
        names,
        [
            "broken",
            "drifting",
            "expensive",
            "fleet",
            "mixed",
            "models",
            "noisy",
            "one_slot",
            "regime",
            "saturating",
            "stable",
            "steady"
        ]
    );
}

#[test]
fn bot_events_parse_and_are_checked_in_tick_order() {
    let s = Scenario::from_toml(
        r#"
        [[bots]]
        name = "a"
        [[bots.events]]
        tick = 500
        skill = 0.2
        drift = 0.03
        [[bots.events]]
        tick = 100
        gain = 0.1
        "#,
    )
    .unwrap();
    let events = &s.bots[0].params.events;
    assert_eq!(events.len(), 2);
    assert_eq!((events[0].tick, events[0].skill), (500, Some(0.2)));
    assert_eq!(events[1].gain, Some(0.1));
    // A scenario without events serialises as before.
    let plain = Scenario::from_toml(TWO_BOTS).unwrap();
    let json = serde_json::to_string(&plain.bots).unwrap();
    assert!(!json.contains("events"), "{json}");
    assert_eq!(
        err("[[bots]]\nname = \"a\"\n[[bots.events]]\ntick = 3\ndrift = 1.0"),
        "invalid scenario.bots[0].events[0].drift = 1: expected a number in [0, 1)"
    );
    assert!(
        err("[[bots]]\nname = \"a\"\n[[bots.events]]\ntick = 3\ndrfit = 0.1").contains("drfit")
    );
    assert!(err("[[bots]]\nname = \"a\"\n[[bots.events]]\nskill = 0.1").contains("tick"));
}

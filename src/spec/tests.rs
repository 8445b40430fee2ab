use super::*;
use crate::cycle::Persistence;
use crate::persist::Durability;
use crate::synergy::{LearnerConfig, SynergyKeys};
use std::ffi::OsString;
use std::time::Duration;

fn parse(text: &str) -> std::result::Result<LoadedSpec, SpecError> {
    EngineSpec::parse(text, Path::new("engines/alpha.toml"))
}

const MINIMAL: &str = "bot = \"alpha\"\n[pipeline]\ncommand = [\"./improve.sh\"]\n";

#[test]
fn minimal_spec_gets_spec_defaults() {
    let s = parse(MINIMAL).unwrap();
    assert_eq!(s.spec.bot, "alpha");
    let d = EngineConfig::default();
    assert_eq!(s.config.interval, d.interval);
    assert_eq!(s.config.energy_threshold, 0.5);
    assert_eq!(s.config.timeout, DEFAULT_TIMEOUT);
    assert_eq!(s.config.policy, PolicyConfig::default());
    assert_eq!(s.config.learner, LearnerConfig::default());
    assert_eq!(s.spec.engine.energy, EnergyKind::Capital);
}

#[test]
fn every_table_is_read() {
    let text = r#"
bot = "beta"
[pipeline]
command = ["python3", "improve.py", "--fast"]
timeout = "90s"
[engine]
interval = "10m"
energy_threshold = 0.3
energy = "none"
roi_ema_alpha = 0.25
roi_scale = 100
persistence = "write_behind"
write_behind_window = "250ms"
fsync = false
[policy]
strategy = "sarsa"
epsilon = 0.05
[synergy]
learner = "dqn"
keys = "extended"
batch_size = 16
"#;
    let s = parse(text).unwrap();
    assert_eq!(s.config.timeout, Duration::from_secs(90));
    assert_eq!(s.config.interval, Duration::from_secs(600));
    assert_eq!(s.config.energy_threshold, 0.3);
    assert_eq!(s.config.roi.ema_alpha, 0.25);
    assert_eq!(s.config.roi.scale, 100.0);
    assert_eq!(
        s.config.persistence,
        Persistence::WriteBehind {
            window: Duration::from_millis(250),
            durability: Durability::Atomic
        }
    );
    assert_eq!(s.config.policy.strategy, crate::policy::Strategy::Sarsa);
    match &s.config.learner {
        LearnerConfig::Dqn(c) => {
            assert_eq!(c.keys, SynergyKeys::Extended);
            assert_eq!(c.batch_size, 16);
            assert_eq!(c.lr, 1e-3);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_key_names_the_file_line_and_what_was_expected() {
    let text = "bot = \"alpha\"\n[pipeline]\ncommand = [\"x\"]\n[engine]\nintervall = \"1h\"\n";
    let err = parse(text).unwrap_err();
    assert_eq!(err.file, Path::new("engines/alpha.toml"));
    assert_eq!(err.line, Some(5));
    assert!(err.message.contains("intervall"), "{err}");
    assert!(err.message.contains("interval"), "{err}");
    assert!(
        err.to_string().starts_with("engines/alpha.toml:5: "),
        "{err}"
    );
}

#[test]
fn wrong_type_and_bad_values_name_the_key_and_its_line() {
    let err = parse(
        "bot = \"alpha\"\n[pipeline]\ncommand = [\"x\"]\n[engine]\nenergy_threshold = \"high\"\n",
    )
    .unwrap_err();
    assert_eq!(err.line, Some(5));
    let err = parse("bot = \"alpha\"\n[pipeline]\ncommand = [\"x\"]\n[policy]\n\nalpha = 0\n")
        .unwrap_err();
    assert_eq!(err.line, Some(6), "{err}");
    assert!(err.message.contains("policy.alpha"), "{err}");
    assert!(err.message.contains("(0, 1]"), "{err}");
    let err =
        parse("bot = \"alpha\"\n[pipeline]\ncommand = [\"x\"]\n[engine]\nroi_ema_alpha = 2\n")
            .unwrap_err();
    assert_eq!(err.line, Some(5), "{err}");
    assert!(err.message.contains("roi_ema_alpha"), "{err}");
    let err =
        parse("bot = \"alpha\"\n[pipeline]\ncommand = [\"x\"]\n[policy]\nstrategy = \"greedy\"\n")
            .unwrap_err();
    assert!(
        err.message
            .contains("q_learning, sarsa, q_lambda, actor_critic"),
        "{err}"
    );
    let err =
        parse("bot = \"alpha\"\n[pipeline]\ncommand = [\"x\"]\ntimeout = \"soon\"\n").unwrap_err();
    assert_eq!(err.line, Some(4), "{err}");
}

#[test]
fn bad_bot_names_and_empty_commands_are_refused() {
    let err = parse("bot = \"../x\"\n[pipeline]\ncommand = [\"x\"]\n").unwrap_err();
    assert!(err.message.contains("bot"), "{err}");
    let err = parse("bot = \"ok\"\n[pipeline]\ncommand = []\n").unwrap_err();
    assert!(err.message.contains("pipeline.command"), "{err}");
    let err = parse("bot = \"ok\"\n").unwrap_err();
    assert!(err.message.contains("pipeline"), "{err}");
}

#[test]
fn dqn_keys_with_the_weight_learner_are_refused() {
    let err = parse("bot = \"a\"\n[pipeline]\ncommand = [\"x\"]\n[synergy]\nbatch_size = 8\n")
        .unwrap_err();
    assert!(err.message.contains("synergy.batch_size"), "{err}");
    assert_eq!(err.line, Some(5));
}

#[test]
fn durations() {
    assert_eq!(
        SpecDuration::parse("250ms").unwrap().0,
        Duration::from_millis(250)
    );
    assert_eq!(
        SpecDuration::parse("2d").unwrap().0,
        Duration::from_secs(172_800)
    );
    for bad in ["", "5", "-5s", "5 parsecs", "inf s"] {
        assert!(SpecDuration::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_folder_of_specs_loads_sorted_and_refuses_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bot: &str| {
        std::fs::write(
            dir.path().join(name),
            format!("bot = \"{bot}\"\n[pipeline]\ncommand = [\"x\"]\n"),
        )
        .unwrap()
    };
    write("b.toml", "beta");
    write("a.toml", "alpha");
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let specs = load_dir(dir.path()).unwrap();
    let bots: Vec<_> = specs.iter().map(|s| s.spec.bot.as_str()).collect();
    assert_eq!(bots, ["alpha", "beta"]);
    write("c.toml", "alpha");
    let err = load_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("c.toml"), "{err}");
    assert!(err.to_string().contains("a.toml"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    assert!(load_dir(empty.path()).is_err());
}

#[test]
fn builder_needs_an_existing_program() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.toml");
    let s = EngineSpec::parse(
        "bot = \"a\"\n[pipeline]\ncommand = [\"./missing.sh\"]\n",
        &file,
    )
    .unwrap();
    let err = s.builder().unwrap_err();
    assert!(err.to_string().contains("missing.sh"), "{err}");
    // The file and the line of `command`.
    assert_eq!((err.file.as_path(), err.line), (file.as_path(), Some(3)));
    let s = EngineSpec::parse(
        "bot = \"a\"\n[pipeline]\ncommand = [\"sh\", \"-c\", \"true\"]\n",
        &file,
    )
    .unwrap();
    let b = s.builder().unwrap();
    assert_eq!(b.name(), "a");
}

#[test]
fn a_simulated_table_is_kept_as_written_and_not_built_here() {
    let text = "bot = \"sim\"\n[pipeline]\nseed = 3\n[pipeline.simulated]\nskill = 0.4\n";
    let s = parse(text).unwrap();
    assert_eq!(
        s.spec.pipeline.simulated.as_ref().unwrap()["skill"].as_float(),
        Some(0.4)
    );
    // Commands only: a simulated pipeline comes from kaizen::sim::spec_pipeline.
    assert!(s.builder().unwrap_err().to_string().contains("kaizen::sim"));
    let both = "bot = \"sim\"\n[pipeline]\ncommand = [\"x\"]\n[pipeline.simulated]\n";
    assert!(parse(both).unwrap_err().message.contains("not both"));
}

#[test]
fn a_variants_table_is_checked_and_its_errors_name_key_and_line() {
    let text = "bot = \"v\"\n[pipeline]\ncommand = [\"sh\"]\n[variants]\nseed = 1\n[variants.space]\nlr = { float = [1e-4, 0.1], log = true }\nn = { int = [5, 2] }\n";
    let err = EngineSpec::parse(text, Path::new("v.toml")).unwrap_err();
    assert_eq!(err.line, Some(8), "{err}");
    assert!(err.message.contains("variants.space.n"), "{err}");
    let ok = text.replace("[5, 2]", "[2, 5]");
    let s = EngineSpec::parse(&ok, Path::new("v.toml")).unwrap();
    assert_eq!(s.spec.variants.as_ref().unwrap().space.len(), 2);
    // The builder runs the command as the bot's variants.
    assert!(s.builder().is_ok());
    let err =
        EngineSpec::parse(&ok.replace("seed = 1", "seeds = 1"), Path::new("v.toml")).unwrap_err();
    assert_eq!(err.line, Some(5), "{err}");
}

#[test]
fn a_spec_without_a_strategy_takes_the_environments() {
    let env = |name: &str| (name == POLICY_STRATEGY_VAR).then(|| OsString::from("ddqn"));
    let file = Path::new("engines/alpha.toml");
    let s = EngineSpec::parse_in(MINIMAL, file, &env).unwrap();
    assert_eq!(s.config.policy.strategy, crate::policy::Strategy::DoubleDqn);
    assert_eq!(s.strategy_source, StrategySource::Environment);
    // Named in the spec: the spec's, whatever the environment says.
    let named = format!("{MINIMAL}[policy]\nstrategy = \"sarsa\"\n");
    let s = EngineSpec::parse_in(&named, file, &env).unwrap();
    assert_eq!(s.config.policy.strategy, crate::policy::Strategy::Sarsa);
    assert_eq!(s.strategy_source, StrategySource::Spec);
    // parse reads no environment.
    let s = parse(MINIMAL).unwrap();
    assert_eq!(s.strategy_source, StrategySource::Default);
    // A network table needs a neural strategy, wherever the strategy came from.
    let net = format!("{MINIMAL}[policy.network]\nhidden = 16\n");
    let tabular = |name: &str| (name == POLICY_STRATEGY_VAR).then(|| OsString::from("sarsa"));
    let err = EngineSpec::parse_in(&net, file, &tabular).unwrap_err();
    assert!(err.message.contains("policy.network"), "{err}");
    assert_eq!(err.line, Some(4), "{err}");
    let s = EngineSpec::parse_in(&net, file, &env).unwrap();
    assert_eq!(s.config.policy.network().hidden, 16);
    // An unknown name in the environment names the variable and the known ones.
    let bad = |name: &str| (name == POLICY_STRATEGY_VAR).then(|| OsString::from("ppo"));
    let err = EngineSpec::parse_in(MINIMAL, file, &bad).unwrap_err();
    assert!(err.message.contains("KAIZEN_POLICY_STRATEGY"), "{err}");
    assert!(err.message.contains("deep_q"), "{err}");
}

#[test]
fn schedules_are_read_from_the_policy_table() {
    let text = format!(
        "{MINIMAL}[policy]\nepsilon = 0.5\nepsilon_schedule = {{ kind = \"linear\", to = 0.05, over = 200 }}\n\
         temperature_schedule = {{ kind = \"exponential\", rate = 0.99, floor = 0.1 }}\n"
    );
    let s = parse(&text).unwrap();
    assert_eq!(
        s.config.policy.epsilon_schedule,
        crate::policy::Schedule::Linear {
            to: 0.05,
            over: 200
        }
    );
    let bad = format!(
        "{MINIMAL}[policy]\n\nepsilon_schedule = {{ kind = \"linear\", to = 2, over = 5 }}\n"
    );
    let err = parse(&bad).unwrap_err();
    assert!(err.message.contains("policy.epsilon_schedule.to"), "{err}");
    assert_eq!(err.line, Some(6), "{err}");
}

#[test]
fn the_built_in_forecaster_is_chosen_in_the_engine_table() {
    assert_eq!(parse(MINIMAL).unwrap().config.forecast, None);
    let s = parse(&format!("{MINIMAL}[engine]\nforecast = \"arima\"\n")).unwrap();
    let f = s.config.forecast.unwrap();
    assert_eq!(
        (f.max_history, f.refit_every, f.min_arima_points),
        (200, 10, 20)
    );
    let s = parse(&format!(
        "{MINIMAL}[engine]\nforecast = \"arima\"\nforecast_history = 50\nforecast_refit_every = 3\n"
    ))
    .unwrap();
    let f = s.config.forecast.unwrap();
    assert_eq!((f.max_history, f.refit_every), (50, 3));
    let err = parse(&format!("{MINIMAL}[engine]\nforecast = \"prophet\"\n")).unwrap_err();
    assert!(err.message.contains("arima"), "{err}");
    let err = parse(&format!(
        "{MINIMAL}[engine]\nforecast = \"arima\"\nforecast_refit_every = 0\n"
    ))
    .unwrap_err();
    assert!(err.message.contains("refit_every"), "{err}");
}

#[test]
fn a_reward_table_reaches_the_engine_config_and_its_errors_have_lines() {
    let text = "bot = \"a\"\n[pipeline]\ncommand = [\"x\"]\n[reward]\nweights = { quality = 0.6, speed = 0.4 }\nbonus_threshold = 0.8\n";
    let s = parse(text).unwrap();
    let r = s.config.reward.as_ref().unwrap();
    assert_eq!(r.weights["speed"], 0.4);
    assert_eq!((r.bonus_threshold, r.bonus), (Some(0.8), 0.1));
    assert!(parse(MINIMAL).unwrap().config.reward.is_none());
    let bad = "bot = \"a\"\n[pipeline]\ncommand = [\"x\"]\n[reward]\nweights = { q = 1.0 }\npenalty_multiplier = -2\n";
    let err = parse(bad).unwrap_err();
    assert_eq!(err.line, Some(6), "{err}");
    assert!(
        err.message
            .starts_with("invalid reward.penalty_multiplier = -2"),
        "{err}"
    );
    let empty = "bot = \"a\"\n[pipeline]\ncommand = [\"x\"]\n[reward]\nweights = {}\n";
    let err = parse(empty).unwrap_err();
    assert_eq!(err.line, Some(5), "{err}");
    let typo = "bot = \"a\"\n[pipeline]\ncommand = [\"x\"]\n[reward]\nweights = { q = 1.0 }\nbonus_treshold = 1\n";
    let err = parse(typo).unwrap_err();
    assert_eq!(err.line, Some(6), "{err}");
}

#[test]
fn variants_need_a_pipeline_that_takes_them() {
    // A simulated bot cannot take variants: the error names the bot and the key.
    let sim = "bot = \"sim\"\n[pipeline.simulated]\nskill = 0.4\n[variants]\n[variants.space]\nx = { float = [0.0, 1.0] }\n";
    let err = EngineSpec::parse(sim, Path::new("sim.toml")).unwrap_err();
    assert_eq!(err.line, Some(4), "{err}");
    assert!(
        err.message.starts_with("invalid variants = ") && err.message.contains("\"sim\""),
        "{err}"
    );
    // A training bot's variants are hyperparameters: other names and code
    // variants are refused, each naming its key.
    let training = "bot = \"t\"\n[pipeline.training]\ndata = \"d.csv\"\ntask = \"regression\"\n[variants]\n[variants.space]\nlr = { float = [1e-4, 0.1], log = true }\nmomentum = { float = [0.5, 0.9] }\n";
    let err = EngineSpec::parse(training, Path::new("t.toml")).unwrap_err();
    assert_eq!(err.line, Some(8), "{err}");
    assert!(err.message.contains("variants.space.momentum"), "{err}");
    assert!(
        err.message.contains("steps_per_energy"),
        "the names it takes: {err}"
    );
    let ok = training.replace(
        "momentum = { float = [0.5, 0.9] }",
        "hidden = { int = [4, 32] }",
    );
    assert!(EngineSpec::parse(&ok, Path::new("t.toml")).is_ok());
    let code = ok.replace(
        "[variants]\n",
        "[variants]\ncommands = [[\"a\"], [\"b\"]]\n",
    );
    let err = EngineSpec::parse(&code, Path::new("t.toml")).unwrap_err();
    assert!(err.message.contains("variants.commands"), "{err}");
    // A PBT group copies saved models: a training bot may join one, a
    // command bot may not.
    let grouped = ok.replace("[variants]\n", "[variants]\ngroup = \"g\"\n");
    assert!(EngineSpec::parse(&grouped, Path::new("t.toml")).is_ok());
    let command = "bot = \"c\"\n[pipeline]\ncommand = [\"sh\"]\n[variants]\ngroup = \"g\"\n[variants.space]\nx = { float = [0.0, 1.0] }\n";
    let err = EngineSpec::parse(command, Path::new("c.toml")).unwrap_err();
    assert_eq!(err.line, Some(5), "{err}");
    assert!(err.message.contains("variants.group"), "{err}");
}

use super::*;
use crate::Error;

#[test]
fn defaults_follow_the_spec() {
    let c = PolicyConfig::default();
    assert_eq!(
        (c.alpha, c.gamma, c.epsilon, c.temperature, c.lambda, c.seed),
        (0.5, 0.9, 0.1, 1.0, 0.9, 0)
    );
    assert_eq!(c.exploration, Exploration::EpsilonGreedy);
    assert_eq!(c.strategy, Strategy::QLearning);
    assert!(!c.adaptive);
    assert!(c.validate().is_ok());
}

#[test]
fn names_round_trip() {
    for &s in Strategy::ALL {
        assert_eq!(Strategy::from_name(s.name()).unwrap(), s);
        assert_eq!(s.to_string().parse::<Strategy>().unwrap(), s);
    }
    for &e in Exploration::ALL {
        assert_eq!(Exploration::from_name(e.name()).unwrap(), e);
    }
    let names: Vec<_> = Strategy::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        [
            "q_learning",
            "sarsa",
            "q_lambda",
            "actor_critic",
            "dqn",
            "double_dqn",
            "deep_q"
        ]
    );
    assert_eq!(available_strategies(), names);
    // The reference's aliases are read, never written.
    for (alias, strategy) in [
        ("q-learning", Strategy::QLearning),
        ("qlambda", Strategy::QLambda),
        ("actor-critic", Strategy::ActorCritic),
        ("ddqn", Strategy::DoubleDqn),
        ("double-dqn", Strategy::DoubleDqn),
    ] {
        assert_eq!(Strategy::from_name(alias).unwrap(), strategy, "{alias}");
        assert_ne!(strategy.name(), alias);
    }
    let neural: Vec<_> = Strategy::ALL.iter().filter(|s| s.is_neural()).collect();
    assert_eq!(
        neural,
        [&Strategy::Dqn, &Strategy::DoubleDqn, &Strategy::DeepQ]
    );
}

#[test]
fn unknown_names_list_the_known_ones() {
    match Strategy::from_name("Q_learning").unwrap_err() {
        Error::UnknownName { kind, name, known } => {
            assert_eq!(kind, "strategy");
            assert_eq!(name, "Q_learning");
            assert_eq!(
                known,
                "q_learning, sarsa, q_lambda, actor_critic, dqn, double_dqn, deep_q \
                 (also: q-learning, qlambda, actor-critic, ddqn, double-dqn)"
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        "boltzmann".parse::<Exploration>().unwrap_err().to_string(),
        "unknown exploration \"boltzmann\"; known: epsilon_greedy, softmax"
    );
}

#[test]
fn serde_uses_the_names() {
    let c = PolicyConfig {
        strategy: Strategy::ActorCritic,
        exploration: Exploration::Softmax,
        ..PolicyConfig::default()
    };
    let json = serde_json::to_string(&c).unwrap();
    assert!(json.contains("\"strategy\":\"actor_critic\""), "{json}");
    assert!(json.contains("\"exploration\":\"softmax\""), "{json}");
    assert_eq!(serde_json::from_str::<PolicyConfig>(&json).unwrap(), c);
    // Missing fields take their defaults.
    let partial: PolicyConfig = serde_json::from_str(r#"{"strategy":"sarsa"}"#).unwrap();
    assert_eq!(partial, with_strategy(Strategy::Sarsa));
    let err = serde_json::from_str::<PolicyConfig>(r#"{"strategy":"dqm"}"#).unwrap_err();
    assert!(
        err.to_string().contains("known: q_learning, sarsa"),
        "{err}"
    );
    // An alias reads as its strategy and is written by its own name.
    let ddqn: PolicyConfig = serde_json::from_str(r#"{"strategy":"double-dqn"}"#).unwrap();
    assert_eq!(ddqn.strategy, Strategy::DoubleDqn);
    assert!(
        serde_json::to_string(&ddqn)
            .unwrap()
            .contains("\"double_dqn\"")
    );
}

#[test]
fn schedules_and_networks_are_checked() {
    let linear = |to, over| Schedule::Linear { to, over };
    let exponential = |rate, floor| Schedule::Exponential { rate, floor };
    type Spoil = Box<dyn Fn(&mut PolicyConfig)>;
    let cases: Vec<(Spoil, &str)> = vec![
        (
            Box::new(move |c| c.epsilon_schedule = linear(1.5, 10)),
            "invalid policy.epsilon_schedule.to = 1.5: expected a number in [0, 1]",
        ),
        (
            Box::new(move |c| c.epsilon_schedule = linear(0.1, 0)),
            "invalid policy.epsilon_schedule.over = 0: expected at least 1 update",
        ),
        (
            Box::new(move |c| c.temperature_schedule = exponential(1.5, 0.1)),
            "invalid policy.temperature_schedule.rate = 1.5: expected a number in (0, 1]",
        ),
        (
            Box::new(move |c| c.temperature_schedule = exponential(0.9, -1.0)),
            "invalid policy.temperature_schedule.floor = -1: expected a number ≥ 0",
        ),
        (
            Box::new(move |c| c.epsilon_schedule = exponential(0.0, 0.1)),
            "invalid policy.epsilon_schedule.rate = 0: expected a number in (0, 1]",
        ),
        (
            Box::new(|c| c.network = Some(NetworkConfig::default())),
            "invalid policy.network = q_learning: expected a neural strategy (dqn, double_dqn or deep_q); the tabular ones have no network",
        ),
        (
            Box::new(|c| {
                c.strategy = Strategy::Dqn;
                c.network = Some(NetworkConfig {
                    hidden: 0,
                    ..NetworkConfig::default()
                });
            }),
            "invalid policy.network.hidden = 0: expected a whole number in 1..=1024",
        ),
        (
            Box::new(|c| {
                c.strategy = Strategy::DeepQ;
                c.network = Some(NetworkConfig {
                    lr: 0.0,
                    ..NetworkConfig::default()
                });
            }),
            "invalid policy.network.lr = 0: expected a number greater than 0",
        ),
    ];
    for (spoil, message) in cases {
        let mut c = PolicyConfig::default();
        spoil(&mut c);
        assert_eq!(c.validate().unwrap_err().to_string(), message);
    }
    // A temperature may go above 1; ε may not.
    let c = PolicyConfig {
        temperature_schedule: linear(3.0, 5),
        ..PolicyConfig::default()
    };
    assert!(c.validate().is_ok());
}

#[test]
fn schedules_read_from_a_name_or_a_table() {
    let read = |toml: &str| toml::from_str::<PolicyConfig>(toml).map_err(|e| e.to_string());
    assert_eq!(
        read("epsilon_schedule = \"constant\"")
            .unwrap()
            .epsilon_schedule,
        Schedule::Constant
    );
    assert_eq!(
        read("epsilon_schedule = { kind = \"linear\", to = 0.05, over = 100 }")
            .unwrap()
            .epsilon_schedule,
        Schedule::Linear {
            to: 0.05,
            over: 100
        }
    );
    assert_eq!(
        read("temperature_schedule = { kind = \"exponential\", rate = 0.5, floor = 0.1 }")
            .unwrap()
            .temperature_schedule,
        Schedule::Exponential {
            rate: 0.5,
            floor: 0.1
        }
    );
    let err = read("epsilon_schedule = \"linear\"").unwrap_err();
    assert!(err.contains("needs its parameters"), "{err}");
    let err = read("epsilon_schedule = \"cosine\"").unwrap_err();
    assert!(
        err.contains("unknown schedule \"cosine\"; known: constant, linear, exponential"),
        "{err}"
    );
    let err = read("epsilon_schedule = { kind = \"linear\", to = 0.1, ovr = 5 }").unwrap_err();
    assert!(err.contains("ovr"), "{err}");
    // JSON, as policy.json holds it, round trips.
    let c = PolicyConfig {
        epsilon_schedule: Schedule::Linear { to: 0.0, over: 7 },
        ..PolicyConfig::default()
    };
    let json = serde_json::to_string(&c).unwrap();
    assert!(
        json.contains("\"epsilon_schedule\":{\"kind\":\"linear\",\"to\":0.0,\"over\":7}"),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<PolicyConfig>(&json).unwrap(), c);
}

#[test]
fn bad_settings_name_the_field_and_show_the_value() {
    type Spoil = fn(&mut PolicyConfig);
    let cases: [(Spoil, &str); 10] = [
        (
            |c| c.alpha = 0.0,
            "invalid policy.alpha = 0: expected a number in (0, 1]",
        ),
        (
            |c| c.alpha = 1.5,
            "invalid policy.alpha = 1.5: expected a number in (0, 1]",
        ),
        (
            |c| c.alpha = f64::NAN,
            "policy.alpha must be a finite number, got NaN",
        ),
        (
            |c| c.gamma = -0.1,
            "invalid policy.gamma = -0.1: expected a number in [0, 1]",
        ),
        (
            |c| c.gamma = 1.01,
            "invalid policy.gamma = 1.01: expected a number in [0, 1]",
        ),
        (
            |c| c.epsilon = 2.0,
            "invalid policy.epsilon = 2: expected a number in [0, 1]",
        ),
        (
            |c| c.lambda = -1.0,
            "invalid policy.lambda = -1: expected a number in [0, 1]",
        ),
        (
            |c| c.temperature = -0.5,
            "invalid policy.temperature = -0.5: expected a number ≥ 0 (values below 0.01 act as 0.01)",
        ),
        (
            |c| c.temperature = f64::INFINITY,
            "policy.temperature must be a finite number, got inf",
        ),
        (
            |c| c.epsilon = f64::NEG_INFINITY,
            "policy.epsilon must be a finite number, got -inf",
        ),
    ];
    for (spoil, message) in cases {
        let mut c = PolicyConfig::default();
        spoil(&mut c);
        assert_eq!(c.validate().unwrap_err().to_string(), message);
        assert!(SelfImprovementPolicy::new(c).is_err());
    }
}

#[test]
fn boundary_settings_are_accepted() {
    let c = PolicyConfig {
        alpha: 1.0,
        gamma: 0.0,
        epsilon: 1.0,
        lambda: 0.0,
        temperature: 0.0,
        ..PolicyConfig::default()
    };
    assert!(c.validate().is_ok());
    let c = PolicyConfig {
        gamma: 1.0,
        epsilon: 0.0,
        lambda: 1.0,
        ..PolicyConfig::default()
    };
    assert!(c.validate().is_ok());
}

#[test]
fn actions_are_zero_and_one_in_files() {
    assert_eq!(serde_json::to_string(&Action::Skip).unwrap(), "0");
    assert_eq!(serde_json::from_str::<Action>("1").unwrap(), Action::Run);
    assert!(serde_json::from_str::<Action>("2").is_err());
    assert_eq!(
        Action::try_from(7u8).unwrap_err().to_string(),
        "invalid action = 7: expected 0 (skip) or 1 (run)"
    );
    assert_eq!(Action::Skip.index(), 0);
    assert_eq!(Action::Run.to_string(), "run");
}

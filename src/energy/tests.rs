use super::*;
use crate::Error;
use crate::roi::tests::corrupt_files;

fn even() -> EnergyInputs {
    EnergyInputs {
        capital: 500.0,
        profit_trend: 0.0,
        load: 0.5,
        success_rate: 0.5,
        deploy_eff: 0.5,
        failure_rate: 0.5,
        reward: None,
    }
}

/// capital 800, trend 0.2, load 0.3, success 0.9, eff 1.0, failure 0.1.
fn healthy() -> EnergyInputs {
    EnergyInputs {
        capital: 800.0,
        profit_trend: 0.2,
        load: 0.3,
        success_rate: 0.9,
        deploy_eff: 1.0,
        failure_rate: 0.1,
        reward: None,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn all_close(a: [f64; FEATURES], b: [f64; FEATURES]) -> bool {
    a.iter().zip(b).all(|(x, y)| close(*x, y))
}

#[test]
fn even_inputs_give_one_half_everywhere() {
    assert_eq!(features(&even()), [0.5; FEATURES]);
    let mut e = CapitalEnergy::new();
    assert_eq!(e.energy_score(&even()).unwrap(), 0.5);
    assert_eq!(e.previous(), 0.5);
    assert_eq!(e.weights(), INITIAL_WEIGHTS);
}

#[test]
fn asymmetric_score_by_hand() {
    // capital L(0.8)       = 1/(1+e^−1.5)   = 0.817574476
    // trend   L(0.6)       = 1/(1+e^−0.5)   = 0.622459331
    // load    1 − L(0.3)   = 1 − 1/(1+e^1)  = 0.731058579
    // success L(0.9)       = 1/(1+e^−2)     = 0.880797078
    // eff     L(1.0)       = 1/(1+e^−2.5)   = 0.924141820
    // failure 1 − L(0.1)   = 1 − 1/(1+e^2)  = 0.880797078
    // raw = .3·0.817574 + .2·0.622459 + .1·0.731059 + .2·0.880797
    //     + .1·0.924142 + .1·0.880797 = 0.799523372
    // score = 0.7·0.5 + 0.3·0.799523372 = 0.589857012
    // next  = 0.7·0.589857012 + 0.3·0.799523372 = 0.652756920
    let f = features(&healthy());
    assert!(all_close(
        f,
        [
            0.817574476,
            0.622459331,
            0.731058579,
            0.880797078,
            0.924141820,
            0.880797078
        ]
    ));
    let mut e = CapitalEnergy::new();
    assert!(close(e.energy_score(&healthy()).unwrap(), 0.589857012));
    assert!(close(e.previous(), 0.589857012));
    assert!(close(e.energy_score(&healthy()).unwrap(), 0.652756920));
    // Without a reward nothing is learned.
    assert_eq!(e.weights(), INITIAL_WEIGHTS);
    assert!(e.history().is_empty());
}

#[test]
fn score_is_an_ema_of_raw_starting_at_one_half() {
    // Everything at the far bad end: capital 0 and trend −1 ⇒ L(0),
    // load 1 and failure 1 ⇒ 1 − L(1), success 0 and eff 0 ⇒ L(0); all
    // equal 1/(1+e^2.5) = 0.075858180, and so does raw (Σw = 1). From
    // 0.5 the score decays 0.7·s + 0.3·raw:
    // 0.372757454 → 0.283687672 → 0.221338824.
    let worst = EnergyInputs {
        capital: 0.0,
        profit_trend: -1.0,
        load: 1.0,
        success_rate: 0.0,
        deploy_eff: 0.0,
        failure_rate: 1.0,
        reward: None,
    };
    assert!(all_close(features(&worst), [0.075858180; FEATURES]));
    let mut e = CapitalEnergy::new();
    for expected in [0.372757454, 0.283687672, 0.221338824] {
        assert!(close(e.energy_score(&worst).unwrap(), expected));
        assert!(close(e.previous(), expected));
    }
}

#[test]
fn features_clamp_their_inputs() {
    let wild = EnergyInputs {
        capital: -1e9,
        profit_trend: 1e9,
        ..even()
    };
    let f = features(&wild);
    assert_eq!(f[0], logistic(0.0));
    assert_eq!(f[1], logistic(1.0));
    let rich = EnergyInputs {
        capital: 5000.0,
        profit_trend: -7.0,
        ..even()
    };
    assert_eq!(features(&rich)[..2], [logistic(1.0), logistic(0.0)]);
}

#[test]
fn one_weight_update_by_hand() {
    // Even inputs: every f = 0.5, raw = 0.5; reward 1 ⇒ err = 0.5 and
    // each weight gains 0.05·0.5·0.5 = 0.0125:
    // [.3125, .2125, .1125, .2125, .1125, .1125], Σ|w| = 1.075, so the new
    // weights are [25, 17, 9, 17, 9, 9] / 86.
    let mut e = CapitalEnergy::new();
    let score = e
        .energy_score(&EnergyInputs {
            reward: Some(1.0),
            ..even()
        })
        .unwrap();
    assert_eq!(score, 0.5);
    let expected = [25.0, 17.0, 9.0, 17.0, 9.0, 9.0].map(|n| n / 86.0);
    assert!(all_close(e.weights(), expected), "{:?}", e.weights());
    assert!(close(e.weights().iter().map(|w| w.abs()).sum(), 1.0));
    assert_eq!(
        e.history().iter().copied().collect::<Vec<_>>(),
        [EnergySample {
            features: [0.5; FEATURES],
            reward: 1.0
        }]
    );
}

#[test]
fn asymmetric_weight_update_by_hand() {
    // healthy(): raw 0.799523372; reward 0.2 ⇒ err = −0.599523372.
    // w + 0.05·err·f = [0.275492250, 0.181341054, 0.078085665,
    //   0.173597078, 0.072297769, 0.073597078], Σ|w| = 0.854410894
    // ⇒ [0.322435320, 0.212241037, 0.091391233, 0.203177510,
    //    0.084617096, 0.086137804].
    let mut e = CapitalEnergy::new();
    e.energy_score(&EnergyInputs {
        reward: Some(0.2),
        ..healthy()
    })
    .unwrap();
    assert!(all_close(
        e.weights(),
        [
            0.322435320,
            0.212241037,
            0.091391233,
            0.203177510,
            0.084617096,
            0.086137804
        ]
    ));
}

#[test]
fn weights_that_would_all_vanish_are_kept() {
    // Weights all −0.025 and even inputs: raw = clamp01(−0.075) = 0,
    // reward 1 ⇒ err 1, each weight + 0.05·1·0.5 = 0 ⇒ Σ|w| = 0.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(ENERGY_FILE);
    let text = r#"{"version":1,"weights":[-0.025,-0.025,-0.025,-0.025,-0.025,-0.025],"prev":0.5,"history":[]}"#;
    std::fs::write(&path, text).unwrap();
    let mut e = CapitalEnergy::load(&path).unwrap();
    let score = e
        .energy_score(&EnergyInputs {
            reward: Some(1.0),
            ..even()
        })
        .unwrap();
    assert_eq!(score, 0.35);
    assert_eq!(e.weights(), [-0.025; FEATURES]);
    assert_eq!(e.history().len(), 1);
}

#[test]
fn history_keeps_the_last_hundred() {
    let mut e = CapitalEnergy::new();
    for i in 0..(HISTORY_LEN + 7) {
        e.energy_score(&EnergyInputs {
            reward: Some(i as f64 / 200.0),
            ..even()
        })
        .unwrap();
    }
    assert_eq!(e.history().len(), HISTORY_LEN);
    assert_eq!(e.history().front().unwrap().reward, 7.0 / 200.0);
    assert_eq!(e.history().back().unwrap().reward, 106.0 / 200.0);
}

#[test]
fn bad_inputs_are_refused_by_name_and_change_nothing() {
    let mut e = CapitalEnergy::new();
    e.energy_score(&healthy()).unwrap();
    let before = e.clone();
    let cases: [(EnergyInputs, &str, bool); 10] = [
        (
            EnergyInputs {
                capital: f64::NAN,
                ..even()
            },
            "capital",
            true,
        ),
        (
            EnergyInputs {
                profit_trend: f64::INFINITY,
                ..even()
            },
            "profit_trend",
            true,
        ),
        (
            EnergyInputs {
                load: 1.5,
                ..even()
            },
            "load",
            false,
        ),
        (
            EnergyInputs {
                load: f64::NAN,
                ..even()
            },
            "load",
            true,
        ),
        (
            EnergyInputs {
                success_rate: -0.1,
                ..even()
            },
            "success_rate",
            false,
        ),
        (
            EnergyInputs {
                deploy_eff: 2.0,
                ..even()
            },
            "deploy_eff",
            false,
        ),
        (
            EnergyInputs {
                failure_rate: 1.01,
                ..even()
            },
            "failure_rate",
            false,
        ),
        (
            EnergyInputs {
                failure_rate: f64::NEG_INFINITY,
                ..even()
            },
            "failure_rate",
            true,
        ),
        (
            EnergyInputs {
                reward: Some(f64::NAN),
                ..even()
            },
            "reward",
            true,
        ),
        (
            EnergyInputs {
                reward: Some(f64::INFINITY),
                ..even()
            },
            "reward",
            true,
        ),
    ];
    for (inputs, name, non_finite) in cases {
        let err = e.energy_score(&inputs).unwrap_err();
        match &err {
            Error::NonFinite { what, .. } => assert!(non_finite && what == name, "{err}"),
            Error::Invalid { what, .. } => assert!(!non_finite && what == name, "{err}"),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(e, before);
}

#[test]
fn huge_rewards_stay_finite() {
    let mut e = CapitalEnergy::new();
    for reward in [f64::MAX, f64::MIN, 1e300] {
        e.energy_score(&EnergyInputs {
            reward: Some(reward),
            ..healthy()
        })
        .unwrap();
        assert!(e.weights().iter().all(|w| w.is_finite() && w.abs() <= 1.0));
        assert!(close(e.weights().iter().map(|w| w.abs()).sum(), 1.0));
    }
}

fn trained() -> CapitalEnergy {
    let mut e = CapitalEnergy::new();
    for reward in [0.9, 0.1, 2.1 - 2.0] {
        e.energy_score(&EnergyInputs {
            reward: Some(reward),
            ..healthy()
        })
        .unwrap();
    }
    e
}

#[test]
fn round_trip_through_the_trait_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = trained();
    let source: &dyn EnergySource = &e;
    let n = source.save(dir.path(), Durability::Atomic).unwrap();
    let path = dir.path().join(ENERGY_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(n as usize, text.len());
    assert!(text.starts_with(r#"{"version":1,"weights":["#), "{text}");
    let mut back = CapitalEnergy::load(&path).unwrap();
    assert_eq!(back, e);
    // It continues exactly where it stopped.
    let mut original = e.clone();
    assert_eq!(
        back.energy_score(&healthy()).unwrap(),
        original.energy_score(&healthy()).unwrap()
    );
}

#[test]
fn default_trait_save_writes_nothing() {
    struct Fixed;
    impl EnergySource for Fixed {
        fn energy_score(&mut self, _: &EnergyInputs) -> Result<f64> {
            Ok(1.0)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(Fixed.save(dir.path(), Durability::Atomic).unwrap(), 0);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn missing_or_corrupt_file_gives_a_fresh_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(ENERGY_FILE);
    assert_eq!(CapitalEnergy::load(&path).unwrap(), CapitalEnergy::new());
    let sample = r#"{"features":[0.5,0.5,0.5,0.5,0.5,0.5],"reward":1}"#;
    for text in [
        String::new(),
        r#"{"version":1,"weights":[0.3,0.2"#.to_string(),
        r#"{"version":1,"weights":[0.3,0.2,0.1,0.2,0.1],"prev":0.5,"history":[]}"#.to_string(),
        r#"{"version":1,"weights":[1.5,0,0,0,0,0],"prev":0.5,"history":[]}"#.to_string(),
        r#"{"version":1,"weights":[0.3,0.2,0.1,0.2,0.1,0.1],"prev":1.2,"history":[]}"#.to_string(),
        r#"{"version":1,"weights":[0.3,0.2,0.1,0.2,0.1,0.1],"prev":0.5,"history":[{"features":[0.5,0.5,0.5,0.5,0.5,-1],"reward":1}]}"#.to_string(),
        format!(r#"{{"version":1,"weights":[0.3,0.2,0.1,0.2,0.1,0.1],"history":[{sample}]}}"#),
    ] {
        std::fs::write(&path, &text).unwrap();
        assert_eq!(CapitalEnergy::load(&path).unwrap(), CapitalEnergy::new(), "{text}");
        assert!(!path.exists(), "{text}");
    }
    assert_eq!(corrupt_files(dir.path()), 7);
}

#[test]
fn corrupt_file_falls_back_to_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(ENERGY_FILE);
    let e = trained();
    e.save(&path, Durability::Atomic).unwrap();
    CapitalEnergy::new()
        .save(&path, Durability::Atomic)
        .unwrap();
    std::fs::write(
        &path,
        r#"{"version":1,"weights":[2,0,0,0,0,0],"prev":0.5,"history":[]}"#,
    )
    .unwrap();
    assert_eq!(CapitalEnergy::load(&path).unwrap(), e);
}

#[test]
fn oversized_history_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(ENERGY_FILE);
    let samples: Vec<String> = (0..130)
        .map(|i| format!(r#"{{"features":[0.5,0.5,0.5,0.5,0.5,0.5],"reward":{i}}}"#))
        .collect();
    let text = format!(
        r#"{{"version":1,"weights":[0.3,0.2,0.1,0.2,0.1,0.1],"prev":0.5,"history":[{}]}}"#,
        samples.join(",")
    );
    std::fs::write(&path, text).unwrap();
    let e = CapitalEnergy::load(&path).unwrap();
    assert_eq!(e.history().len(), HISTORY_LEN);
    assert_eq!(e.history().front().unwrap().reward, 30.0);
}

#[test]
fn newer_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(ENERGY_FILE);
    std::fs::write(&path, r#"{"version":2}"#).unwrap();
    assert!(matches!(
        CapitalEnergy::load(&path),
        Err(Error::Persist(persist::PersistError::NewerVersion { .. }))
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), r#"{"version":2}"#);
}

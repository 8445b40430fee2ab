use super::*;
use crate::Error;
use crate::persist::{Durability, PersistError, backup_path};
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    (dir, path)
}

/// `steps` ticks of a small deterministic world from tick `from`: select an
/// action, reward it, learn. Returns the actions taken.
fn drive(p: &mut SelfImprovementPolicy, from: usize, steps: usize) -> Vec<Action> {
    (from..from + steps)
        .map(|t| {
            let s = st((t % 7) as i16 - 3);
            let next = st(((t + 1) % 7) as i16 - 3);
            let a = p.select_action(&s);
            let r = match a {
                Action::Run => ((t * 37) % 11) as f64 / 10.0 - 0.3,
                Action::Skip => -0.1,
            };
            let end = t % 13 == 12;
            p.update(&s, a, r, (!end).then_some(&next)).unwrap();
            a
        })
        .collect()
}

/// Every strategy, adaptive or not, with both explorations and moving
/// schedules.
fn configs() -> Vec<PolicyConfig> {
    let mut out = Vec::new();
    for &strategy in Strategy::ALL {
        for adaptive in [false, true] {
            out.push(PolicyConfig {
                adaptive,
                epsilon: 0.3,
                exploration: if adaptive {
                    Exploration::Softmax
                } else {
                    Exploration::EpsilonGreedy
                },
                seed: 7,
                epsilon_schedule: Schedule::Linear { to: 0.05, over: 70 },
                temperature_schedule: Schedule::Exponential {
                    rate: 0.97,
                    floor: 0.2,
                },
                ..with_strategy(strategy)
            });
        }
    }
    out
}

fn corrupt_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".corrupt-")
        })
        .count()
}

#[test]
fn round_trip_keeps_everything() {
    for config in configs() {
        let (_dir, path) = temp();
        let mut p = policy(config.clone());
        drive(&mut p, 0, 60);
        let written = p.save(&path, Durability::Atomic).unwrap();
        assert_eq!(written, fs::metadata(&path).unwrap().len());
        let loaded = SelfImprovementPolicy::load(&path, config.clone()).unwrap();
        assert_eq!(loaded, p, "{config:?}");
        match config.strategy {
            Strategy::QLambda => assert!(!loaded.traces.is_empty()),
            Strategy::ActorCritic => assert!(!loaded.critic.is_empty()),
            _ => assert!(loaded.traces.is_empty() && loaded.critic.is_empty()),
        }
        assert_eq!(loaded.recent_rewards.is_empty(), !config.adaptive);
        // The schedules have moved, and reload to the same values.
        assert_eq!(loaded.epsilon(), 0.3 + (0.05 - 0.3) * (60.0 / 70.0));
        assert_eq!(loaded.temperature(), 0.97f64.powf(60.0).max(0.2));
        assert_eq!(loaded.schedule_starts(), (0.3, 1.0));
        if config.strategy.is_neural() {
            assert_eq!(loaded.replay_len(), Some(60));
            assert_eq!(loaded.network_steps(), Some(60));
            assert!(loaded.is_empty());
        } else {
            assert_eq!(loaded.replay_len(), None);
        }
    }
}

#[test]
fn a_reloaded_policy_continues_exactly() {
    for config in configs() {
        let (dir, path) = temp();
        let mut never_stopped = policy(config.clone());
        drive(&mut never_stopped, 0, 40);
        never_stopped.save(&path, Durability::Atomic).unwrap();
        let mut reloaded = SelfImprovementPolicy::load(&path, config.clone()).unwrap();
        let a = drive(&mut never_stopped, 40, 80);
        let b = drive(&mut reloaded, 40, 80);
        assert_eq!(a, b, "{config:?}");
        assert_eq!(never_stopped, reloaded, "{config:?}");
        let other = dir.path().join("other.json");
        never_stopped.save(&path, Durability::Atomic).unwrap();
        reloaded.save(&other, Durability::Atomic).unwrap();
        assert_eq!(fs::read(&path).unwrap(), fs::read(&other).unwrap());
    }
}

#[test]
fn the_file_format() {
    let (_dir, path) = temp();
    let mut p = policy(PolicyConfig::default());
    p.update(&st(2), Action::Run, 1.0, None).unwrap(); // 0.5
    p.update(&st(-1), Action::Skip, -1.0, None).unwrap(); // −0.5
    p.save(&path, Durability::Atomic).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let z = ",0,0,0,0,0,0,0,0,0,0,0,0,0]";
    let expected = format!(
        "{{\"version\":2,\"hyperparameters\":{{\"alpha\":0.5,\"gamma\":0.9,\"epsilon\":0.1,\
         \"temperature\":1.0,\"exploration\":\"epsilon_greedy\",\"adaptive\":false,\
         \"lambda\":0.9,\"seed\":0,\"epsilon_start\":0.1,\"temperature_start\":1.0,\
         \"epsilon_schedule\":{{\"kind\":\"constant\"}},\
         \"temperature_schedule\":{{\"kind\":\"constant\"}}}},\
         \"strategy\":\"q_learning\",\"episodes\":2,\
         \"values\":[{{\"state\":[-1{z},\"actions\":{{\"0\":-0.5,\"1\":0.0}}}},\
         {{\"state\":[2{z},\"actions\":{{\"0\":0.0,\"1\":0.5}}}}],\"rng\":{{\"seed\":["
    );
    assert!(text.starts_with(&expected), "{text}");
    assert!(text.ends_with(",\"stream\":0,\"word_pos\":0}}"), "{text}");
    for absent in ["critic", "traces", "recent_rewards", "network"] {
        assert!(!text.contains(absent), "{text}");
    }
}

#[test]
fn equal_tables_give_equal_bytes() {
    let (dir, path) = temp();
    let states: Vec<_> = (-20..20).map(st).collect();
    let mut forward = policy(PolicyConfig::default());
    let mut backward = policy(PolicyConfig::default());
    for s in &states {
        forward.update(s, Action::Run, 1.0, None).unwrap();
    }
    for s in states.iter().rev() {
        backward.update(s, Action::Run, 1.0, None).unwrap();
    }
    let other = dir.path().join("other.json");
    forward.save(&path, Durability::Atomic).unwrap();
    backward.save(&other, Durability::Atomic).unwrap();
    assert_eq!(fs::read(&path).unwrap(), fs::read(&other).unwrap());
}

#[test]
fn settings_come_from_the_config_and_learned_rates_from_the_file() {
    let (_dir, path) = temp();
    let s = st(1);
    let mut p = policy(PolicyConfig::default());
    p.update(&s, Action::Run, 1.0, None).unwrap();
    p.save(&path, Durability::Atomic).unwrap();
    // Not adaptive: the config's α, γ, ε, … apply; the table is kept.
    let config = PolicyConfig {
        alpha: 0.2,
        gamma: 0.5,
        epsilon: 0.3,
        lambda: 0.4,
        temperature: 2.0,
        exploration: Exploration::Softmax,
        ..PolicyConfig::default()
    };
    let loaded = SelfImprovementPolicy::load(&path, config.clone()).unwrap();
    assert_eq!(loaded.config(), &config);
    assert_eq!(loaded.q(&s, Action::Run), 0.5);
    assert_eq!(loaded.episodes(), 1);
}

#[test]
fn adapted_rates_are_kept_when_both_sides_are_adaptive() {
    let (_dir, path) = temp();
    let adaptive = PolicyConfig {
        adaptive: true,
        ..PolicyConfig::default()
    };
    let mut p = policy(adaptive.clone());
    for r in [1.0, 0.0, 1.0] {
        p.update(&st(1), Action::Run, r, None).unwrap();
    }
    // From the hand-worked sequence: α = 1/4, γ = 8.1/11.
    p.save(&path, Durability::Atomic).unwrap();
    let loaded = SelfImprovementPolicy::load(&path, adaptive).unwrap();
    close(loaded.alpha(), 0.25);
    close(loaded.gamma(), 8.1 / 11.0);
    assert_eq!(loaded.recent_rewards.len(), 3);
    // Switching adaptation off takes the config's rates and forgets the rewards.
    let fixed = SelfImprovementPolicy::load(&path, PolicyConfig::default()).unwrap();
    assert_eq!((fixed.alpha(), fixed.gamma()), (0.5, 0.9));
    assert!(fixed.recent_rewards.is_empty());
    assert!(!fixed.config().adaptive);
}

#[test]
fn the_rng_continues_the_files_stream_whatever_the_configs_seed() {
    let (_dir, path) = temp();
    let mut p = policy(PolicyConfig {
        epsilon: 1.0,
        seed: 5,
        ..PolicyConfig::default()
    });
    p.select_action(&st(0));
    p.save(&path, Durability::Atomic).unwrap();
    let mut loaded = SelfImprovementPolicy::load(
        &path,
        PolicyConfig {
            epsilon: 1.0,
            seed: 99,
            ..PolicyConfig::default()
        },
    )
    .unwrap();
    assert_eq!(loaded.config().seed, 5);
    let a: Vec<_> = (0..100).map(|_| p.select_action(&st(0))).collect();
    let b: Vec<_> = (0..100).map(|_| loaded.select_action(&st(0))).collect();
    assert_eq!(a, b);
}

#[test]
fn another_strategy_in_the_config_is_an_error_naming_both() {
    let (_dir, path) = temp();
    policy(PolicyConfig::default())
        .save(&path, Durability::Atomic)
        .unwrap();
    let err = SelfImprovementPolicy::load(&path, with_strategy(Strategy::QLambda)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "invalid policy.strategy = q_lambda: expected q_learning (the strategy {} was \
             trained with; move that file away to start anew)",
            path.display()
        )
    );
    assert!(path.exists());
}

#[test]
fn a_bad_config_is_refused_before_the_file_is_read() {
    let (_dir, path) = temp();
    fs::write(&path, "garbage").unwrap();
    let bad = PolicyConfig {
        gamma: 2.0,
        ..PolicyConfig::default()
    };
    assert!(matches!(
        SelfImprovementPolicy::load(&path, bad),
        Err(Error::Invalid { .. })
    ));
    assert_eq!(fs::read_to_string(&path).unwrap(), "garbage");
}

#[test]
fn a_missing_file_gives_a_new_policy() {
    let (_dir, path) = temp();
    let config = with_strategy(Strategy::Sarsa);
    assert_eq!(
        SelfImprovementPolicy::load(&path, config.clone()).unwrap(),
        policy(config)
    );
}

#[test]
fn corrupt_truncated_or_empty_files_give_a_new_policy_and_are_moved_aside() {
    let mut full = policy(PolicyConfig::default());
    drive(&mut full, 0, 20);
    let (_dir, scratch) = temp();
    full.save(&scratch, Durability::Atomic).unwrap();
    let bytes = fs::read(&scratch).unwrap();
    for content in [
        &b"not json"[..],
        &bytes[..bytes.len() / 2],
        b"",
        b"{}",
        b"[1,2]",
    ] {
        let (dir, path) = temp();
        fs::write(&path, content).unwrap();
        let loaded = SelfImprovementPolicy::load(&path, PolicyConfig::default()).unwrap();
        assert_eq!(loaded, policy(PolicyConfig::default()));
        assert!(!path.exists());
        assert_eq!(corrupt_files(dir.path()), 1);
    }
}

#[test]
fn a_truncated_file_falls_back_to_its_backup() {
    let (dir, path) = temp();
    let mut p = policy(PolicyConfig::default());
    p.update(&st(1), Action::Run, 1.0, None).unwrap();
    p.save(&path, Durability::Atomic).unwrap();
    let good = p.clone();
    p.update(&st(1), Action::Run, 1.0, None).unwrap();
    p.save(&path, Durability::Atomic).unwrap();
    assert!(backup_path(&path).exists());
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let loaded = SelfImprovementPolicy::load(&path, PolicyConfig::default()).unwrap();
    assert_eq!(loaded, good);
    assert_eq!(corrupt_files(dir.path()), 1);
}

#[test]
fn a_newer_file_is_refused_and_left_untouched() {
    let (_dir, path) = temp();
    policy(PolicyConfig::default())
        .save(&path, Durability::Atomic)
        .unwrap();
    let text = fs::read_to_string(&path)
        .unwrap()
        .replacen("\"version\":2", "\"version\":3", 1);
    fs::write(&path, &text).unwrap();
    let err = SelfImprovementPolicy::load(&path, PolicyConfig::default()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Persist(PersistError::NewerVersion { found: 3, .. })
        ),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn impossible_content_counts_as_corrupt() {
    let config = PolicyConfig {
        adaptive: true,
        ..with_strategy(Strategy::QLambda)
    };
    let mut p = policy(config.clone());
    drive(&mut p, 0, 20);
    let (_dir, scratch) = temp();
    p.save(&scratch, Durability::Atomic).unwrap();
    let good: Value = serde_json::from_slice(&fs::read(&scratch).unwrap()).unwrap();
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 9] = [
        ("alpha 7", |v| v["hyperparameters"]["alpha"] = json!(7.0)),
        ("unknown exploration", |v| {
            v["hyperparameters"]["exploration"] = json!("greedy")
        }),
        ("state slot out of range", |v| {
            v["values"][0]["state"][0] = json!(99)
        }),
        ("state listed twice", |v| {
            let first = v["values"][0].clone();
            v["values"].as_array_mut().unwrap().push(first);
        }),
        ("action 2", |v| v["traces"][0]["action"] = json!(2)),
        ("zero trace", |v| v["traces"][0]["trace"] = json!(0.0)),
        ("trace listed twice", |v| {
            let first = v["traces"][0].clone();
            v["traces"].as_array_mut().unwrap().push(first);
        }),
        (
            "critic under q_lambda",
            |v| v["critic"] = json!([{"state": [0,0,0,0,0,0,0,0,0,0,0,0,0,0], "value": 1.0}]),
        ),
        ("101 rewards", |v| {
            v["recent_rewards"] = json!(vec![0.0; 101])
        }),
    ];
    for (name, edit) in edits {
        let (dir, path) = temp();
        let mut v = good.clone();
        edit(&mut v);
        fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        let loaded = SelfImprovementPolicy::load(&path, config.clone()).unwrap();
        assert_eq!(loaded, policy(config.clone()), "{name}");
        assert_eq!(corrupt_files(dir.path()), 1, "{name}");
    }
    // The unedited file loads.
    let (_dir, path) = temp();
    fs::write(&path, serde_json::to_vec(&good).unwrap()).unwrap();
    assert_eq!(SelfImprovementPolicy::load(&path, config).unwrap(), p);
}

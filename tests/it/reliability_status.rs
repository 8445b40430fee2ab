//! Issue 9 item 8: `status` names a damaged learning file (policy, module
//! index, energy, the synergy DQN's checkpoint), not only `engine.json`,
//! and says why.

use crate::support::*;

#[test]
fn damaged_learning_files_are_named_by_status() {
    let tmp = tempfile::tempdir().unwrap();
    let engines = tmp.path().join("engines");
    command_engine(
        &engines,
        "alpha",
        "echo '{\"roi\":{\"roi\":0.5},\"package\":\"p1\"}'",
        "[engine]\nenergy = \"none\"",
    );
    let state = tmp.path().join("state");
    run_once_on(&engines, &state).assert().success();
    let alpha = state.join("alpha");
    for file in ["policy.json", "modules.json", "energy.json"] {
        std::fs::write(alpha.join(file), "{ torn").unwrap();
        let _ = std::fs::remove_file(alpha.join(format!("{file}.bak")));
    }
    let before = std::fs::read(alpha.join("policy.json")).unwrap();
    let shown = stdout_of(kaizen().args(["status", "--json", "--state"]).arg(&state));
    let view: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let problem = view["engines"][0]["problem"].as_str().unwrap_or_default();
    for file in ["policy.json", "modules.json", "energy.json"] {
        assert!(
            problem.contains(&format!("{file} corrupt")),
            "{file}: {problem}"
        );
    }
    // Read only: the damaged file is where it was.
    assert_eq!(std::fs::read(alpha.join("policy.json")).unwrap(), before);
}

/// An engine folder `state/alpha` holding a DQN learner's files, saved
/// after every one of `updates` updates (so a checkpoint, its backup and a
/// journal are there).
fn dqn_folder(state: &std::path::Path, updates: usize) -> std::path::PathBuf {
    use kaizen::persist::Durability;
    use kaizen::synergy::{
        DQNSynergyLearner, DqnConfig, SynergyDeltas, SynergyKeys, SynergyLearner,
    };
    let dir = state.join("alpha");
    std::fs::create_dir_all(&dir).unwrap();
    let mut learner = DQNSynergyLearner::new(DqnConfig::default()).unwrap();
    for i in 0..updates {
        let x = (i % 7) as f64 / 7.0 - 0.5;
        let deltas = SynergyDeltas::from_values(SynergyKeys::Core, &[x, -x, 0.1, x / 2.0]).unwrap();
        learner.update(x, &deltas).unwrap();
        learner.save(&dir, Durability::Atomic).unwrap();
    }
    dir
}

/// `kaizen status --json`'s problem for the engine `alpha`.
fn problem_of(state: &std::path::Path) -> String {
    let shown = stdout_of(kaizen().args(["status", "--json", "--state"]).arg(state));
    let view: serde_json::Value = serde_json::from_str(&shown).unwrap();
    view["engines"][0]["problem"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Issue 9 item 8: a damaged DQN checkpoint is named by `status`, with why
/// and what kaizen will do — read-only, and while another process holds
/// the state folder's lock.
#[test]
fn a_damaged_dqn_checkpoint_is_named_by_status_with_what_kaizen_will_do() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let dir = dqn_folder(&state, 120);
    assert!(
        dir.join("synergy-dqn.ckpt.bak").exists(),
        "no backup checkpoint yet"
    );
    let _held = kaizen::runtime::StateLock::acquire(&state).unwrap();
    let ckpt = dir.join("synergy-dqn.ckpt");
    let whole = std::fs::read(&ckpt).unwrap();
    let problem = problem_of(&state);
    assert!(!problem.contains("synergy-dqn"), "whole files: {problem}");
    // Truncated, with a good backup: resumed from the older copy.
    std::fs::write(&ckpt, &whole[..whole.len() / 3]).unwrap();
    let problem = problem_of(&state);
    assert!(problem.contains("synergy-dqn.ckpt corrupt: "), "{problem}");
    assert!(
        problem.contains("resume the DQN from an older copy"),
        "{problem}"
    );
    // Garbage, and a wrong (older) version, without a backup: fresh.
    std::fs::remove_file(dir.join("synergy-dqn.ckpt.bak")).unwrap();
    let mut old = whole.clone();
    old[8..12].copy_from_slice(&1u32.to_le_bytes());
    for (bytes, why) in [
        (b"garbage".to_vec(), "truncated"),
        (
            b"definitely not a kaizen checkpoint".to_vec(),
            "not a kaizen DQN checkpoint (bad magic)",
        ),
        (old, "unknown format version 1"),
    ] {
        std::fs::write(&ckpt, &bytes).unwrap();
        let problem = problem_of(&state);
        assert!(
            problem.contains(&format!("synergy-dqn.ckpt corrupt: {why}")),
            "{problem}"
        );
        assert!(problem.contains("start the DQN fresh"), "{problem}");
        // Read only: nothing moved aside.
        assert_eq!(std::fs::read(&ckpt).unwrap(), bytes);
    }
    // A newer kaizen's checkpoint: refused, and status says so.
    let mut newer = whole;
    newer[8..12].copy_from_slice(&9u32.to_le_bytes());
    std::fs::write(&ckpt, &newer).unwrap();
    assert!(problem_of(&state).contains("newer kaizen (format 9)"));
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

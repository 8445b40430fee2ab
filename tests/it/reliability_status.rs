//! Issue 9 item 8: `status` names a damaged learning file (policy, module
//! index, energy), not only `engine.json`, and says why.

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

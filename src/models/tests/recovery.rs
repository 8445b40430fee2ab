//! What a crash (or damage) can leave behind, and how the next open mends it.
//! The process-killing test is `tests/it/models_crash.rs`.

use super::*;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

fn models_dir(bot: &Path) -> PathBuf {
    bot.join(MODELS_DIR)
}

/// A registry with v1 deployed, then v2 deployed (a check under way).
fn two_deploys(bot: &Path) -> (VersionId, VersionId) {
    let mut models = open(bot);
    let v1 = save_and_deploy(&mut models, 0.25, 1.0, 10.0);
    let v2 = save_and_deploy(&mut models, 0.75, 0.9, 20.0);
    (v1, v2)
}

fn append(path: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

#[test]
fn a_torn_history_line_is_cut_and_the_move_restored_from_the_alias() {
    let bot = tempfile::tempdir().unwrap();
    let (_, v2) = two_deploys(bot.path());
    let path = models_dir(bot.path()).join(HISTORY_FILE);
    let whole = fs::read(&path).unwrap();
    // The second line torn halfway: the crash came mid-append.
    let first_end = whole.iter().position(|&b| b == b'\n').unwrap() + 1;
    let torn = &whole[..first_end + (whole.len() - first_end) / 2];
    fs::write(&path, torn).unwrap();

    let look = Catalog::read(bot.path()).unwrap();
    assert_eq!(
        look.history().len(),
        2,
        "the look restores the move in memory"
    );
    assert_eq!(fs::read(&path).unwrap(), torn, "and changes nothing");

    let models = open(bot.path());
    assert_eq!(models.catalog().champion(), Some(v2));
    assert_eq!(
        fs::read(&path).unwrap(),
        whole,
        "cut, then the move appended whole"
    );
    assert_eq!(models.catalog().history(), look.history());
}

#[test]
fn a_history_line_lost_before_it_was_written_comes_back() {
    let bot = tempfile::tempdir().unwrap();
    let (v1, v2) = two_deploys(bot.path());
    let path = models_dir(bot.path()).join(HISTORY_FILE);
    let whole = fs::read(&path).unwrap();
    let lines = history_lines(bot.path());
    fs::write(&path, format!("{}\n", lines[0])).unwrap();
    // The crash also came before the statuses were rewritten.
    let meta_path = models_dir(bot.path()).join("versions/v1").join(META_FILE);
    let mut meta: serde_json::Value =
        serde_json::from_slice(&fs::read(&meta_path).unwrap()).unwrap();
    meta["status"] = "champion".into();
    fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();

    let models = open(bot.path());
    assert_eq!(fs::read(&path).unwrap(), whole);
    use VersionStatus::{Champion, Retired};
    assert_eq!(statuses(&models), [(v1, Retired), (v2, Champion)]);
    let on_disk: serde_json::Value =
        serde_json::from_slice(&fs::read(&meta_path).unwrap()).unwrap();
    assert_eq!(on_disk["status"], "retired");
}

#[test]
fn a_damaged_alias_falls_back_to_its_backup_and_then_to_the_history() {
    let bot = tempfile::tempdir().unwrap();
    let (_, v2) = two_deploys(bot.path());
    let alias = models_dir(bot.path()).join("champion.json");
    fs::write(&alias, b"{\"version\":1,\"champ").unwrap();
    // The backup says v1 (one move older); the history knows better.
    let models = open(bot.path());
    assert_eq!(models.catalog().champion(), Some(v2));
    assert_eq!(models.catalog().history().len(), 2);
    assert_eq!(
        models.catalog().pending_check(),
        None,
        "the check was in the lost file"
    );
    let names: Vec<String> = fs::read_dir(models_dir(bot.path()))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let aside = names
        .iter()
        .filter(|n| n.starts_with("champion.json.corrupt-"));
    assert_eq!(
        aside.count(),
        1,
        "the damaged alias is moved aside: {names:?}"
    );
    drop(models);
    assert_eq!(Catalog::read(bot.path()).unwrap().champion(), Some(v2));
}

#[test]
fn half_done_saves_and_removals_are_cleared() {
    let bot = tempfile::tempdir().unwrap();
    let (_, v2) = two_deploys(bot.path());
    let versions = models_dir(bot.path()).join(VERSIONS_DIR);
    for leftover in [".saving-v3", ".removing-v9"] {
        fs::create_dir_all(versions.join(leftover)).unwrap();
        fs::write(versions.join(leftover).join(WEIGHTS_FILE), b"half").unwrap();
    }
    fs::create_dir_all(versions.join("notes")).unwrap();
    assert_eq!(Catalog::read(bot.path()).unwrap().versions().count(), 2);
    let mut models = open(bot.path());
    assert!(!versions.join(".saving-v3").exists());
    assert!(!versions.join(".removing-v9").exists());
    assert!(versions.join("notes").exists(), "not ours, left alone");
    assert_eq!(
        models.save(candidate(0.1, 0.5), 30.0).unwrap(),
        VersionId(3)
    );
    assert_eq!(models.catalog().champion(), Some(v2));
}

#[test]
fn a_damaged_champion_is_replaced_by_the_last_good_version() {
    let bot = tempfile::tempdir().unwrap();
    let (v1, v2) = two_deploys(bot.path());
    let weights_path = models_dir(bot.path())
        .join("versions/v2")
        .join(WEIGHTS_FILE);
    let bytes = fs::read(&weights_path).unwrap();
    fs::write(&weights_path, &bytes[..bytes.len() / 2]).unwrap();

    let look = Catalog::read(bot.path()).unwrap();
    assert_eq!(look.champion(), Some(v2), "a look repairs nothing");
    assert!(matches!(
        look.champion_weights(),
        Err(ModelsError::Damaged { .. })
    ));

    let models = open(bot.path());
    assert_eq!(
        models.catalog().champion_weights().unwrap(),
        Some((v1, weights(0.25)))
    );
    let repair = models.catalog().history().last().unwrap();
    assert_eq!(
        (repair.action, repair.from, repair.to),
        (MoveAction::Repair, Some(v2), Some(v1))
    );
    assert!(
        repair.reason.starts_with("the champion v2 is damaged: "),
        "{}",
        repair.reason
    );
}

#[test]
fn a_check_whose_window_filled_before_a_crash_is_judged_at_open() {
    let bot = tempfile::tempdir().unwrap();
    let (v1, v2) = two_deploys(bot.path());
    // As if the last samples were saved but the process died before judging.
    let alias_path = models_dir(bot.path()).join("champion.json");
    let mut alias: serde_json::Value =
        serde_json::from_slice(&fs::read(&alias_path).unwrap()).unwrap();
    alias["check"]["champion_losses"] = serde_json::json!([1.5, 1.7, 1.4, 1.6]);
    alias["check"]["previous_losses"] = serde_json::json!([1.0, 1.1, 0.9, 1.0]);
    fs::write(&alias_path, serde_json::to_vec(&alias).unwrap()).unwrap();

    let models = ModelRegistry::open(bot.path(), config(), 99.0).unwrap();
    assert_eq!(models.catalog().champion(), Some(v1));
    let last = models.catalog().history().last().unwrap();
    assert_eq!(
        (last.action, last.from, last.at),
        (MoveAction::AutoRollback, Some(v2), 99.0)
    );
}

#[test]
fn files_from_a_newer_kaizen_are_refused_and_left_alone() {
    let bot = tempfile::tempdir().unwrap();
    two_deploys(bot.path());
    let alias_path = models_dir(bot.path()).join("champion.json");
    let newer = br#"{"version":2,"champion":1}"#;
    fs::write(&alias_path, newer).unwrap();
    let err = ModelRegistry::open(bot.path(), config(), 0.0).unwrap_err();
    assert!(
        err.to_string().contains("written by a newer kaizen"),
        "{err}"
    );
    assert!(Catalog::read(bot.path()).is_err());
    assert_eq!(fs::read(&alias_path).unwrap(), newer);

    // A newer history line likewise.
    let bot = tempfile::tempdir().unwrap();
    two_deploys(bot.path());
    let history = models_dir(bot.path()).join(HISTORY_FILE);
    append(&history, b"{\"version\":3,\"seq\":3}\n");
    let err = ModelRegistry::open(bot.path(), config(), 0.0).unwrap_err();
    assert!(err.to_string().contains("format version 3"), "{err}");
}

#[test]
fn a_damaged_line_inside_the_history_is_skipped_not_fatal() {
    let bot = tempfile::tempdir().unwrap();
    let (_, v2) = two_deploys(bot.path());
    let path = models_dir(bot.path()).join(HISTORY_FILE);
    let lines = history_lines(bot.path());
    fs::write(&path, format!("{}\nnot json\n{}\n", lines[0], lines[1])).unwrap();
    let models = open(bot.path());
    assert_eq!(models.catalog().history().len(), 2);
    assert_eq!(models.catalog().champion(), Some(v2));
}

#[cfg(unix)]
#[test]
fn the_history_is_never_appended_through_a_symbolic_link() {
    let bot = tempfile::tempdir().unwrap();
    let elsewhere = bot.path().join("elsewhere.txt");
    fs::write(&elsewhere, b"keep me\n").unwrap();
    fs::create_dir_all(models_dir(bot.path())).unwrap();
    std::os::unix::fs::symlink(&elsewhere, models_dir(bot.path()).join(HISTORY_FILE)).unwrap();
    let mut models = open(bot.path());
    let v1 = models.save(candidate(0.1, 0.5), 1.0).unwrap();
    let err = models.deploy(v1, "test", 2.0).unwrap_err();
    assert!(err.to_string().contains("history.jsonl"), "{err}");
    assert_eq!(fs::read(&elsewhere).unwrap(), b"keep me\n");
}

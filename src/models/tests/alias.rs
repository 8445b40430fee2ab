//! The champion alias: deploy, activate, rollback, its history, the lock.

use super::*;

#[test]
fn deploys_move_the_alias_and_every_move_is_in_the_history() {
    let bot = tempfile::tempdir().unwrap();
    let mut models = open(bot.path());
    assert_eq!(models.catalog().champion(), None);
    assert_eq!(models.catalog().champion_weights().unwrap(), None);
    let v1 = models.save(candidate(0.1, 0.5), 10.0).unwrap();
    let first = models.deploy(v1, "beats the mean", 11.0).unwrap();
    assert_eq!(
        first,
        AliasMove {
            seq: 1,
            at: 11.0,
            action: MoveAction::Deploy,
            from: None,
            to: Some(v1),
            reason: "beats the mean".into(),
            metrics: [("val_loss".to_string(), 0.5)].into(),
            check: None,
        }
    );
    // Nothing to check the first champion against: unopposed, no check.
    let meta = models.catalog().version(v1).unwrap();
    assert_eq!(meta.status(), VersionStatus::Champion);
    assert_eq!(meta.post_deploy, Some(CheckOutcome::unopposed(11.0)));
    assert_eq!(models.catalog().pending_check(), None);

    let v2 = models.save(candidate(0.2, 0.4), 20.0).unwrap();
    let second = models.deploy(v2, "6% better", 21.0).unwrap();
    assert_eq!(
        (second.seq, second.from, second.to),
        (2, Some(v1), Some(v2))
    );
    let check = models.catalog().pending_check().unwrap();
    assert_eq!((check.version, check.against, check.window), (v2, v1, 4));
    use VersionStatus::{Champion, Retired};
    assert_eq!(statuses(&models), [(v1, Retired), (v2, Champion)]);
    assert_eq!(models.catalog().version(v2).unwrap().post_deploy, None);
    assert_eq!(
        models.catalog().champion_weights().unwrap(),
        Some((v2, weights(0.2)))
    );

    // One JSON line per move, versioned, in order; the alias repeats the last.
    let lines = history_lines(bot.path());
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with("{\"version\":1,\"seq\":1,"),
        "{}",
        lines[0]
    );
    assert_eq!(models.catalog().history(), [first, second.clone()]);
    let alias: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bot.path().join("models/champion.json")).unwrap())
            .unwrap();
    assert_eq!(alias["champion"], 2);
    assert_eq!(alias["seq"], 2);
    assert_eq!(alias["last_move"]["reason"], "6% better");
}

#[test]
fn rollback_restores_byte_identical_weights() {
    let bot = tempfile::tempdir().unwrap();
    let mut models = open(bot.path());
    let v1 = save_and_deploy(&mut models, 0.25, 0.5, 10.0);
    let v2 = save_and_deploy(&mut models, 0.75, 0.4, 20.0);
    let before = models.catalog().weights(v1).unwrap();
    assert_eq!(before, weights(0.25));

    let moved = models
        .rollback_to_previous("operator: v2 drifts", 30.0)
        .unwrap();
    assert_eq!(
        (moved.action, moved.from, moved.to),
        (MoveAction::Rollback, Some(v2), Some(v1))
    );
    assert_eq!(moved.reason, "operator: v2 drifts");
    let (champion, bytes) = models.catalog().champion_weights().unwrap().unwrap();
    assert_eq!(champion, v1);
    assert_eq!(bytes, before);
    // A rollback abandons the check under way and starts none.
    assert_eq!(models.catalog().pending_check(), None);
    // v2 never finished a check, so it is no rollback target.
    let err = models.rollback_to_previous("again", 31.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no version to roll back to from v1: no other version has passed a post-deploy check"
    );
    // The same bytes after a reopen.
    drop(models);
    let models = open(bot.path());
    assert_eq!(
        models.catalog().champion_weights().unwrap(),
        Some((v1, weights(0.25)))
    );
}

#[test]
fn activate_by_hand_checks_the_version_first() {
    let bot = tempfile::tempdir().unwrap();
    let mut models = open(bot.path());
    let v1 = save_and_deploy(&mut models, 0.1, 0.5, 10.0);
    let v2 = models.save(candidate(0.2, 0.6), 20.0).unwrap();
    let err = models.activate(v1, "again", 21.0).unwrap_err();
    assert_eq!(err.to_string(), "v1 is already the champion");
    let err = models.activate(VersionId(7), "nope", 21.0).unwrap_err();
    assert!(matches!(
        err,
        ModelsError::UnknownVersion {
            version: VersionId(7),
            ..
        }
    ));

    // A damaged weights file is refused and the alias stays.
    let path = bot.path().join("models/versions/v2").join(WEIGHTS_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let err = models.activate(v2, "try", 22.0).unwrap_err();
    assert!(
        matches!(err, ModelsError::Damaged { version, .. } if version == v2),
        "{err}"
    );
    assert!(err.to_string().contains("checksum"), "{err}");
    assert_eq!(models.catalog().champion(), Some(v1));
    assert_eq!(models.catalog().history().len(), 1);

    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let moved = models.activate(v2, "operator's choice", 23.0).unwrap();
    assert_eq!(moved.action, MoveAction::Activate);
    assert_eq!(models.catalog().pending_check().unwrap().version, v2);
}

#[test]
fn one_writer_at_a_time_and_readers_any_time() {
    let bot = tempfile::tempdir().unwrap();
    // Never opened: not held, and the probe creates nothing.
    assert!(!ModelRegistry::is_held(bot.path()).unwrap());
    assert_eq!(std::fs::read_dir(bot.path()).unwrap().count(), 0);
    let mut models = open(bot.path());
    assert!(ModelRegistry::is_held(bot.path()).unwrap());
    let v1 = save_and_deploy(&mut models, 0.1, 0.5, 10.0);
    let err = ModelRegistry::open(bot.path(), config(), 0.0).unwrap_err();
    assert!(matches!(err, ModelsError::Locked { .. }), "{err}");
    assert!(
        err.to_string().contains("is already open for writing"),
        "{err}"
    );
    // A read-only look needs no lock.
    assert_eq!(Catalog::read(bot.path()).unwrap().champion(), Some(v1));
    drop(models);
    assert!(!ModelRegistry::is_held(bot.path()).unwrap());
    assert_eq!(open(bot.path()).catalog().champion(), Some(v1));
}

#[test]
fn settings_out_of_range_are_refused() {
    let bot = tempfile::tempdir().unwrap();
    for (bad, what) in [
        (
            RegistryConfig {
                keep_last: 0,
                ..config()
            },
            "keep_last",
        ),
        (
            RegistryConfig {
                post_deploy_window: 1,
                ..config()
            },
            "post_deploy_window",
        ),
        (
            RegistryConfig {
                alpha: 1.0,
                ..config()
            },
            "alpha",
        ),
        (
            RegistryConfig {
                alpha: f64::NAN,
                ..config()
            },
            "alpha",
        ),
    ] {
        let err = ModelRegistry::open(bot.path(), bad, 0.0).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!("invalid {what} = ")),
            "{err}"
        );
    }
    assert!(!bot.path().join(MODELS_DIR).exists());
}

#[cfg(unix)]
#[test]
fn a_history_shared_with_a_cp_al_copy_is_never_appended_in_place() {
    let bot = tempfile::tempdir().unwrap();
    let mut models = open(bot.path());
    save_and_deploy(&mut models, 0.25, 0.5, 10.0);
    let history = bot.path().join("models").join(HISTORY_FILE);
    let copy = bot.path().join("history-copy");
    // What `cp -al` leaves: a second name for the same inode.
    std::fs::hard_link(&history, &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    save_and_deploy(&mut models, 0.75, 0.4, 20.0);
    assert_eq!(std::fs::read(&copy).unwrap(), before, "the copy changed");
    assert_eq!(history_lines(bot.path()).len(), 2);
}

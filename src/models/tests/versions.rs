//! Saving versions, reading them back, comparing them, retention.

use super::*;
use std::fs;

#[test]
fn a_saved_version_keeps_its_bytes_and_metadata() {
    let bot = tempfile::tempdir().unwrap();
    let mut models = open(bot.path());
    let mut new = candidate(0.5, 0.4).metric("accuracy", 0.8);
    new.info.data_window = DataWindow {
        rows: 500,
        offsets: Some([100, 599]),
        times: Some([1_700_000_000.0, 1_700_086_400.0]),
    };
    new.info
        .hyperparameters
        .insert("layers".into(), serde_json::json!([16, 64, 64, 1]));
    new.info
        .extra
        .insert("feature_means".into(), serde_json::json!([0.5, -1.25]));
    let v1 = models.save(new.clone(), 1_000.0).unwrap();
    assert_eq!(v1, VersionId(1));
    let v2 = models
        .save(candidate(0.7, 0.3).parent(v1), 2_000.0)
        .unwrap();
    assert_eq!(v2, VersionId(2));

    let dir = bot.path().join("models/versions/v1");
    assert_eq!(fs::read(dir.join(WEIGHTS_FILE)).unwrap(), weights(0.5));
    let meta = models.catalog().version(v1).unwrap();
    assert_eq!(meta.created, 1_000.0);
    assert_eq!(meta.info, new.info);
    assert_eq!(meta.status(), VersionStatus::Candidate);
    assert_eq!(meta.weights.bytes, weights(0.5).len() as u64);
    assert_eq!(meta.weights.crc32, crc32fast::hash(&weights(0.5)));
    assert_eq!(models.catalog().weights(v1).unwrap(), weights(0.5));

    // The file on disk, as another tool would read it.
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join(META_FILE)).unwrap()).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["id"], 1);
    assert_eq!(json["status"], "candidate");
    assert_eq!(json["metrics"]["accuracy"], 0.8);
    assert_eq!(
        json["data_window"]["offsets"],
        serde_json::json!([100, 599])
    );

    // Reopened, and looked at read-only, it is the same.
    drop(models);
    let models = open(bot.path());
    let ids: Vec<_> = models.catalog().versions().map(|m| m.id).collect();
    assert_eq!(ids, [v1, v2]);
    assert_eq!(models.catalog().version(v2).unwrap().info.parent, Some(v1));
    let look = Catalog::read(bot.path()).unwrap();
    assert_eq!(
        look.version(v1).unwrap(),
        models.catalog().version(v1).unwrap()
    );
}

#[test]
fn bad_versions_are_refused_naming_what_was_wrong() {
    let bot = tempfile::tempdir().unwrap();
    let mut models = open(bot.path());
    let err = models.save(NewVersion::new(b"not a model".to_vec()), 1.0);
    let msg = err.unwrap_err().to_string();
    assert!(
        msg.starts_with("invalid model weights = 11 bytes: expected a safetensors file"),
        "{msg}"
    );

    let err = models.save(candidate(0.5, f64::NAN), 1.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid metric val_loss = NaN: expected a finite number"
    );

    let mut serving = candidate(0.5, 0.4);
    serving.info.status = VersionStatus::Champion;
    let err = models.save(serving, 1.0).unwrap_err();
    assert!(
        err.to_string()
            .contains("status of a new version = champion"),
        "{err}"
    );

    let err = models
        .save(candidate(0.5, 0.4).parent(VersionId(1)), 1.0)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid parent = v1: expected an existing version (below v1)"
    );

    let err = models.save(candidate(0.5, 0.4), f64::INFINITY).unwrap_err();
    assert!(err.to_string().contains("now = inf"), "{err}");

    // Nothing was written, and numbering starts at 1.
    assert_eq!(models.catalog().versions().count(), 0);
    assert_eq!(models.save(candidate(0.5, 0.4), 1.0).unwrap(), VersionId(1));
    let err = models.catalog().version(VersionId(9)).unwrap_err();
    assert!(
        err.to_string().ends_with("has no model version v9"),
        "{err}"
    );
}

#[test]
fn compare_gives_each_metrics_improvement_in_its_good_direction() {
    let bot = tempfile::tempdir().unwrap();
    let mut models = open(bot.path());
    let mut a = candidate(0.1, 0.50)
        .metric("accuracy", 0.80)
        .metric("only_a", 1.0);
    a.info.metrics.insert("throughput".into(), 0.0);
    let a = models.save(a, 1.0).unwrap();
    let mut b = candidate(0.2, 0.47)
        .metric("accuracy", 0.84)
        .metric("throughput", 5.0)
        .metric("drift", 2.0);
    b.info.goals.insert("drift".into(), Goal::Minimize);
    b.info.metrics.insert("drift_before".into(), 1.0);
    let b = models.save(b, 2.0).unwrap();

    let c = models.catalog().compare(a, b).unwrap();
    assert_eq!((c.before, c.after), (a, b));
    let by_name = |n: &str| c.metrics.iter().find(|m| m.name == n).unwrap();
    // val_loss 0.50 → 0.47: a loss, 6% lower is 6% better.
    let loss = by_name("val_loss");
    assert_eq!(loss.goal, Goal::Minimize);
    assert!((loss.change.unwrap() + 0.03).abs() < 1e-12);
    assert!((loss.improvement.unwrap() - 0.06).abs() < 1e-12);
    // accuracy 0.80 → 0.84: 5% better.
    let acc = by_name("accuracy");
    assert_eq!(acc.goal, Goal::Maximize);
    assert!((acc.improvement.unwrap() - 0.05).abs() < 1e-12);
    // From 0, no relative improvement; the change is there.
    let tp = by_name("throughput");
    assert_eq!((tp.change, tp.improvement), (Some(5.0), None));
    // Only on one side.
    let only = by_name("only_a");
    assert_eq!(
        (only.before, only.after, only.change),
        (Some(1.0), None, None)
    );
    // A goal given with the version wins over the name.
    assert_eq!(by_name("drift").goal, Goal::Minimize);
    let names: Vec<_> = c.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "accuracy",
            "drift",
            "drift_before",
            "only_a",
            "throughput",
            "val_loss"
        ]
    );
}

#[test]
fn retention_keeps_the_newest_and_every_version_that_served() {
    let bot = tempfile::tempdir().unwrap();
    let mut models = ModelRegistry::open(
        bot.path(),
        RegistryConfig {
            keep_last: 2,
            ..config()
        },
        0.0,
    )
    .unwrap();
    let v1 = save_and_deploy(&mut models, 0.1, 0.5, 10.0);
    for (i, x) in [0.2f32, 0.3, 0.4].into_iter().enumerate() {
        models.save(candidate(x, 0.5), 20.0 + i as f64).unwrap();
    }
    // v2 went when v4 was saved (not newest two, never served).
    let ids: Vec<_> = models.catalog().versions().map(|m| m.id).collect();
    assert_eq!(ids, [v1, VersionId(3), VersionId(4)]);
    assert!(!bot.path().join("models/versions/v2").exists());
    // Numbers are never reused.
    let v5 = models.save(candidate(0.5, 0.5), 30.0).unwrap();
    assert_eq!(v5, VersionId(5));
    let ids: Vec<_> = models.catalog().versions().map(|m| m.id).collect();
    assert_eq!(ids, [v1, VersionId(4), v5]);
    assert_eq!(models.retain(1).unwrap(), [VersionId(4)]);
    let ids: Vec<_> = models.catalog().versions().map(|m| m.id).collect();
    assert_eq!(ids, [v1, v5]);
    // Served versions stay, whatever their age.
    models.deploy(v5, "test", 31.0).unwrap();
    let v6 = models.save(candidate(0.6, 0.5), 32.0).unwrap();
    let v7 = models.save(candidate(0.7, 0.5), 33.0).unwrap();
    models.deploy(v7, "test", 34.0).unwrap();
    assert_eq!(models.retain(1).unwrap(), [v6]);
    let ids: Vec<_> = models.catalog().versions().map(|m| m.id).collect();
    assert_eq!(ids, [v1, v5, v7]);
    assert!(models.retain(0).is_err());
}

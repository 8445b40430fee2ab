//! The post-deploy check and the automatic rollback.
//!
//! Reference numbers: `scipy.stats.ttest_rel(champion, previous)` (scipy
//! 1.17.1), printed by `scripts/reference/models_check_reference.py`.

use super::*;

const PREVIOUS: [f64; 4] = [1.0, 1.1, 0.9, 1.0];
/// 0.5, 0.6, 0.5, 0.6 worse: t = 19.052558883257642, p = 0.0003157333424171953.
const WORSE: [f64; 4] = [1.5, 1.7, 1.4, 1.6];
/// 0.5, 0.6, 0.5, 0.6 better: t = −19.052558883257646, p = 0.0003157333424171952.
const BETTER: [f64; 4] = [0.5, 0.5, 0.4, 0.4];
/// A little worse, not significantly: t = 0.5222329678670931, p = 0.6376180914006021.
const NOISE: [f64; 4] = [1.1, 1.0, 1.0, 1.0];

fn full_check(champion: &[f64]) -> PostDeployCheck {
    let mut check = PostDeployCheck::new(VersionId(2), VersionId(1), 4, 0.0).unwrap();
    assert_eq!(check.observe(champion, &PREVIOUS).unwrap(), 4);
    check
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + b.abs())
}

#[test]
fn a_significantly_worse_champion_fails_and_only_then() {
    let outcome = full_check(&WORSE).verdict(0.05, 5.0).unwrap().unwrap();
    assert_eq!(outcome.result, CheckResult::Failed);
    assert_eq!(
        (outcome.against, outcome.samples, outcome.at),
        (Some(VersionId(1)), 4, 5.0)
    );
    assert!(close(outcome.champion_loss.unwrap(), 1.55));
    assert!(close(outcome.previous_loss.unwrap(), 1.0));
    let sig = outcome.significance.unwrap();
    assert!(
        close(sig.t_statistic, 19.052558883257642),
        "{}",
        sig.t_statistic
    );
    assert!(close(sig.p_value, 0.0003157333424171953), "{}", sig.p_value);

    // Just as significant, but better: a two-sided test alone would flag it.
    let better = full_check(&BETTER).verdict(0.05, 5.0).unwrap().unwrap();
    assert_eq!(better.result, CheckResult::Passed);
    assert!(better.significance.unwrap().significant);

    // Worse on average, but within the noise.
    let noise = full_check(&NOISE).verdict(0.05, 5.0).unwrap().unwrap();
    assert_eq!(noise.result, CheckResult::Passed);
    assert!(close(
        noise.significance.unwrap().p_value,
        0.6376180914006021
    ));
    // At alpha 0.0001 even the clear case is not significant.
    let strict = full_check(&WORSE).verdict(0.0001, 5.0).unwrap().unwrap();
    assert_eq!(strict.result, CheckResult::Passed);
}

#[test]
fn the_same_difference_on_every_sample_needs_no_test() {
    let worse: Vec<f64> = PREVIOUS.iter().map(|p| p + 0.25).collect();
    let outcome = full_check(&worse).verdict(0.05, 1.0).unwrap().unwrap();
    assert_eq!(
        (outcome.result, outcome.significance),
        (CheckResult::Failed, None)
    );
    let same = full_check(&PREVIOUS).verdict(0.05, 1.0).unwrap().unwrap();
    assert_eq!(
        (same.result, same.significance),
        (CheckResult::Passed, None)
    );
}

#[test]
fn samples_are_taken_up_to_the_window_and_bad_ones_refused() {
    let mut check = PostDeployCheck::new(VersionId(2), VersionId(1), 4, 0.0).unwrap();
    assert_eq!(check.verdict(0.05, 0.0).unwrap(), None);
    assert_eq!(check.observe(&WORSE[..3], &PREVIOUS[..3]).unwrap(), 3);
    assert!(!check.is_complete());
    let err = check.observe(&[1.0, 2.0], &[1.0]).unwrap_err();
    assert!(
        err.to_string()
            .contains("2 of the champion and 1 of the previous champion"),
        "{err}"
    );
    let err = check.observe(&[1.0, f64::NAN], &[1.0, 1.0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid champion loss [1] = NaN: expected a finite number"
    );
    assert_eq!(check.samples(), 3, "a refused batch adds nothing");
    // Two more offered, one needed.
    assert_eq!(
        check
            .observe(&[WORSE[3], 9.0], &[PREVIOUS[3], 0.0])
            .unwrap(),
        1
    );
    assert_eq!(check, full_check(&WORSE));
    assert!(PostDeployCheck::new(VersionId(2), VersionId(1), 1, 0.0).is_err());
}

#[test]
fn a_degraded_deploy_is_rolled_back_and_recorded() {
    let bot = tempfile::tempdir().unwrap();
    let mut models = open(bot.path());
    assert_eq!(
        models.observe_post_deploy(&WORSE, &PREVIOUS, 1.0).unwrap(),
        CheckProgress::Idle
    );
    let v1 = save_and_deploy(&mut models, 0.25, 1.0, 10.0);
    let v2 = save_and_deploy(&mut models, 0.75, 0.9, 20.0);

    let progress = models
        .observe_post_deploy(&WORSE[..2], &PREVIOUS[..2], 30.0)
        .unwrap();
    assert_eq!(
        progress,
        CheckProgress::Pending {
            version: v2,
            samples: 2,
            window: 4
        }
    );
    let progress = models
        .observe_post_deploy(&WORSE[2..], &PREVIOUS[2..], 40.0)
        .unwrap();
    let CheckProgress::Finished(done) = progress else {
        panic!("the window is full: {progress:?}")
    };
    let CheckFinished {
        version,
        outcome,
        rollback,
    } = *done;
    assert_eq!((version, outcome.result), (v2, CheckResult::Failed));
    let rollback = rollback.unwrap();
    assert_eq!(
        (rollback.action, rollback.from, rollback.to, rollback.at),
        (MoveAction::AutoRollback, Some(v2), Some(v1), 40.0)
    );
    assert_eq!(rollback.check.as_ref(), Some(&outcome));
    assert!(
        rollback.reason.starts_with(
            "post-deploy check failed: v2's mean live loss 1.550000 against 1.000000 over 4 samples (p = 0.0003)"
        ),
        "{}",
        rollback.reason
    );
    assert_eq!(
        models.catalog().champion_weights().unwrap(),
        Some((v1, weights(0.25)))
    );
    let meta = models.catalog().version(v2).unwrap();
    assert_eq!(meta.status(), VersionStatus::RolledBack);
    assert_eq!(meta.post_deploy.as_ref(), Some(&outcome));
    assert_eq!(models.catalog().pending_check(), None);
    assert_eq!(history_lines(bot.path()).len(), 3);
    // The failed version is never a rollback target.
    assert!(models.catalog().rollback_candidates().next().is_none());
}

#[test]
fn a_passed_check_makes_the_version_a_rollback_target() {
    let bot = tempfile::tempdir().unwrap();
    let mut models = open(bot.path());
    let v1 = save_and_deploy(&mut models, 0.25, 1.0, 10.0);
    let v2 = save_and_deploy(&mut models, 0.5, 0.9, 20.0);
    let progress = models.observe_post_deploy(&NOISE, &PREVIOUS, 30.0).unwrap();
    let CheckProgress::Finished(done) = progress else {
        panic!("{progress:?}")
    };
    assert_eq!(
        (done.outcome.result, done.rollback),
        (CheckResult::Passed, None)
    );
    assert_eq!(models.catalog().champion(), Some(v2));
    assert_eq!(models.catalog().pending_check(), None);
    // Further samples are not used.
    assert_eq!(
        models.observe_post_deploy(&WORSE, &PREVIOUS, 31.0).unwrap(),
        CheckProgress::Idle
    );

    let v3 = save_and_deploy(&mut models, 0.75, 0.8, 40.0);
    assert_eq!(
        models.catalog().rollback_candidates().collect::<Vec<_>>(),
        [v2, v1]
    );
    let moved = models.rollback_to_previous("v3 looks off", 50.0).unwrap();
    assert_eq!((moved.from, moved.to), (Some(v3), Some(v2)));
    assert_eq!(
        models.catalog().champion_weights().unwrap(),
        Some((v2, weights(0.5)))
    );
}

#[test]
fn a_check_goes_on_after_a_restart() {
    let bot = tempfile::tempdir().unwrap();
    let mut models = open(bot.path());
    let v1 = save_and_deploy(&mut models, 0.25, 1.0, 10.0);
    save_and_deploy(&mut models, 0.75, 0.9, 20.0);
    models
        .observe_post_deploy(&WORSE[..3], &PREVIOUS[..3], 30.0)
        .unwrap();
    drop(models);

    let mut models = open(bot.path());
    assert_eq!(models.catalog().pending_check().unwrap().samples(), 3);
    let progress = models
        .observe_post_deploy(&WORSE[3..], &PREVIOUS[3..], 40.0)
        .unwrap();
    assert!(
        matches!(&progress, CheckProgress::Finished(done) if done.rollback.is_some()),
        "{progress:?}"
    );
    assert_eq!(models.catalog().champion(), Some(v1));
}

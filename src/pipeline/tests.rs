use super::*;
use std::future::pending;

fn ok_result(roi: f64) -> AutomationResult {
    AutomationResult {
        roi: Some(RoiResult {
            roi,
            ..Default::default()
        }),
        ..Default::default()
    }
}

struct PanicsOnCall;
impl Pipeline for PanicsOnCall {
    fn run(&self, _: &str, _: u32) -> PipelineFuture {
        panic!("boom at call")
    }
}

#[tokio::test]
async fn ready_result_passes_through() {
    let p = pipeline_fn(|_: &str, e: u32| async move { Ok(ok_result(f64::from(e))) });
    let r = GuardedRun::start(&p, "b", 3, DEFAULT_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(r.roi.unwrap().roi, 3.0);
}

#[tokio::test]
async fn error_passes_through() {
    let p = pipeline_fn(|_: &str, _: u32| async { Err(PipelineError::Failed("nope".into())) });
    let err = GuardedRun::start(&p, "b", 1, DEFAULT_TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "pipeline failed: nope");
}

#[tokio::test]
async fn panic_when_called_is_caught() {
    let err = GuardedRun::start(&PanicsOnCall, "b", 1, DEFAULT_TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PipelineError::Panicked(m) if m == "boom at call"),
        "{err}"
    );
}

#[tokio::test]
async fn panic_while_running_is_caught() {
    let p = pipeline_fn(|bot: &str, _: u32| {
        let bot = bot.to_string();
        async move {
            tokio::task::yield_now().await;
            panic!("boom in {bot}");
        }
    });
    let err = GuardedRun::start(&p, "alpha", 1, DEFAULT_TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PipelineError::Panicked(m) if m == "boom in alpha"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn hanging_run_times_out() {
    let p = pipeline_fn(|_: &str, _: u32| pending());
    let err = GuardedRun::start(&p, "b", 1, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(matches!(err, PipelineError::TimedOut(d) if d == Duration::from_secs(30)));
}

#[tokio::test(start_paused = true)]
async fn slow_run_within_its_timeout_succeeds() {
    let p = pipeline_fn(|_: &str, _: u32| async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        Ok(ok_result(1.0))
    });
    let r = GuardedRun::start(&p, "b", 1, Duration::from_secs(30)).await;
    assert!(r.is_ok());
}

#[tokio::test]
async fn non_finite_results_are_failures() {
    let p = pipeline_fn(|_: &str, _: u32| async { Ok(ok_result(f64::NAN)) });
    let err = GuardedRun::start(&p, "b", 1, DEFAULT_TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(&err, PipelineError::NonFinite { what, .. } if what == "roi.roi"));
    let p = pipeline_fn(|_: &str, _: u32| async {
        let mut r = ok_result(1.0);
        r.metrics.insert("synergy_roi".into(), f64::INFINITY);
        Ok(r)
    });
    let err = GuardedRun::start(&p, "b", 1, DEFAULT_TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pipeline result metric synergy_roi is not a finite number (inf)"
    );
}

#[test]
fn credited_modules_fall_back_to_the_package() {
    let mut r = AutomationResult {
        package: Some("pkg".into()),
        ..Default::default()
    };
    assert_eq!(r.credited_modules(), ["pkg".to_string()]);
    r.modules = vec!["a".into(), "b".into()];
    assert_eq!(r.credited_modules(), ["a".to_string(), "b".to_string()]);
    assert!(AutomationResult::default().credited_modules().is_empty());
}

#[test]
fn result_json_fields_are_all_optional() {
    let r: AutomationResult = serde_json::from_str("{}").unwrap();
    assert_eq!(r, AutomationResult::default());
    let r: AutomationResult =
        serde_json::from_str(r#"{"roi":{"roi":2.0,"cost":1.0},"package":"p","modules":["m"]}"#)
            .unwrap();
    assert_eq!(r.roi.as_ref().unwrap().roi, 2.0);
    assert_eq!(r.roi.unwrap().income, 0.0);
}

mod command {
    use super::*;

    fn sh(script: &str) -> CommandPipeline {
        CommandPipeline::new(vec!["sh".into(), "-c".into(), script.into()]).unwrap()
    }

    #[tokio::test]
    async fn passes_bot_and_energy_and_reads_the_last_json_line() {
        let p = sh(
            r#"echo "working on $KAIZEN_BOT"; echo "{\"roi\":{\"roi\":$KAIZEN_ENERGY},\"package\":\"$KAIZEN_BOT\"}"; echo bye"#,
        );
        let r = GuardedRun::start(&p, "alpha", 7, DEFAULT_TIMEOUT)
            .await
            .unwrap();
        assert_eq!(r.roi.unwrap().roi, 7.0);
        assert_eq!(r.package.as_deref(), Some("alpha"));
    }

    #[tokio::test]
    async fn non_zero_exit_carries_the_stderr_tail() {
        let p = sh("echo '{}'; echo 'first' >&2; echo 'model diverged' >&2; exit 3");
        let err = GuardedRun::start(&p, "b", 1, DEFAULT_TIMEOUT)
            .await
            .unwrap_err();
        match &err {
            PipelineError::Exit {
                status,
                stderr_tail,
                ..
            } => {
                assert!(status.contains('3'), "{status}");
                assert!(stderr_tail.ends_with("model diverged"), "{stderr_tail}");
            }
            other => panic!("expected Exit, got {other}"),
        }
    }

    #[tokio::test]
    async fn missing_program_is_a_spawn_failure() {
        let p = CommandPipeline::new(vec!["/no/such/kaizen-program".into()]).unwrap();
        let err = GuardedRun::start(&p, "b", 1, DEFAULT_TIMEOUT)
            .await
            .unwrap_err();
        assert!(matches!(err, PipelineError::Spawn { .. }), "{err}");
        assert!(err.to_string().contains("/no/such/kaizen-program"));
    }

    #[tokio::test]
    async fn hanging_program_times_out() {
        let p = sh("sleep 30");
        let started = std::time::Instant::now();
        let err = GuardedRun::start(&p, "b", 1, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, PipelineError::TimedOut(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[tokio::test]
    async fn huge_stderr_is_cut_to_its_tail() {
        let p = sh(
            "i=0; while [ $i -lt 2000 ]; do echo \"line $i of noise\" >&2; i=$((i+1)); done; exit 1",
        );
        let err = GuardedRun::start(&p, "b", 1, DEFAULT_TIMEOUT)
            .await
            .unwrap_err();
        match err {
            PipelineError::Exit { stderr_tail, .. } => {
                assert!(stderr_tail.len() <= STDERR_TAIL_BYTES);
                assert!(stderr_tail.ends_with("line 1999 of noise"));
            }
            other => panic!("expected Exit, got {other}"),
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_timed_out_command_takes_its_children_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("grandchild-still-ran");
    // The shell starts a child that would write the marker after 1 s.
    let script = format!("(sleep 1; touch '{}') & sleep 30", marker.display());
    let p = CommandPipeline::new(vec!["sh".into(), "-c".into(), script]).unwrap();
    let err = GuardedRun::start(&p, "b", 1, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(err, PipelineError::TimedOut(_)), "{err}");
    // Wait past the moment the grandchild would have written its marker.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !marker.exists(),
        "a process of the abandoned run kept running"
    );
}

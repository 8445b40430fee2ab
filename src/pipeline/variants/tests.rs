use super::*;
use crate::variants::{Value, VariantEvent};

/// A program that earns its parameter `x` and reports the variant and
/// parameters it was given.
const SCRIPT: &str = r#"x=$(printf '%s' "$KAIZEN_PARAMS" | sed 's/.*"x":\([-0-9.e+]*\).*/\1/')
echo "starting"
echo "{\"roi\":{\"roi\":$x},\"metrics\":{\"variant\":$KAIZEN_VARIANT,\"x\":$x}}"
"#;

fn spec(extra: &str) -> VariantsSpec {
    toml::from_str(&format!(
        "seed = 2\n{extra}\n[evolution]\nsize = 4\n[space]\nx = {{ float = [0.1, 1.0] }}\n"
    ))
    .unwrap()
}

fn base() -> CommandPipeline {
    CommandPipeline::new(vec!["sh".into(), "-c".into(), SCRIPT.into()]).unwrap()
}

#[tokio::test]
async fn each_run_gets_its_variant_and_the_outcome_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("variants.json");
    let fleet_file = dir.path().join("fleet.json");
    let fleet = SharedFleet::open(
        Fleet::new(0.05, Some(10)).unwrap(),
        Some(fleet_file.clone()),
    )
    .unwrap();
    let p = VariantPipeline::open(
        "alpha",
        spec(""),
        base(),
        Some(file.clone()),
        Arc::clone(&fleet),
    )
    .unwrap()
    .with(Arc::new(SystemClock), Durability::Atomic);
    let mut seen = Vec::new();
    for i in 0..12u32 {
        let before = p.variants();
        let a = before.assign().unwrap();
        let energy = 1 + i % 3;
        let r = p.run("alpha", energy).await.unwrap();
        // The program got the variant and its parameters…
        assert_eq!(r.metrics["variant"], a.variant as f64);
        let Value::Float(x) = a.params["x"] else {
            panic!("{:?}", a.params)
        };
        assert!(
            (r.metrics["x"] - x).abs() < 1e-9,
            "{} vs {x}",
            r.metrics["x"]
        );
        // …and its outcome, per unit of energy, went into the variant's score
        // (unless a generation just replaced it).
        let after = p.variants();
        let old = before.population().get(a.variant).unwrap().outcomes;
        if let Some(new) = after.population().get(a.variant).map(|m| m.outcomes) {
            assert_eq!(new.count, old.count + 1);
            let sum = new.mean * new.count as f64 - old.mean * old.count as f64;
            assert!(
                (sum - x / f64::from(energy)).abs() < 1e-9,
                "{sum} vs {x}/{energy}"
            );
        }
        seen.push(a.variant);
        // The state on disk is the state in memory.
        let stored: Variants = persist::load_json(&file).unwrap().unwrap();
        assert_eq!(stored, after);
    }
    // Four members tried once each, then a test of the best against member 0.
    assert_eq!(&seen[..4], &[0, 1, 2, 3]);
    let v = p.variants();
    let test = v.test().expect("a test started after the first generation");
    assert_eq!(test.serving, 0);
    // Reopened from its file, the pipeline goes on from the same state.
    let again =
        VariantPipeline::open("alpha", spec(""), base(), Some(file.clone()), fleet).unwrap();
    assert_eq!(again.variants(), v);
    // A changed table starts over.
    let fleet2 = SharedFleet::open(Fleet::new(0.05, None).unwrap(), None).unwrap();
    let changed =
        VariantPipeline::open("alpha", spec("metric = \"x\""), base(), Some(file), fleet2).unwrap();
    assert_eq!(changed.variants().population().generation(), 0);
}

#[tokio::test]
async fn code_variants_run_their_own_command_and_a_missing_outcome_records_nothing() {
    let fleet = SharedFleet::open(Fleet::new(0.05, None).unwrap(), None).unwrap();
    let spec: VariantsSpec = toml::from_str(
        "metric = \"which\"\ncommands = [[\"sh\", \"-c\", \"echo '{\\\"metrics\\\":{\\\"which\\\":0}}'\"], [\"sh\", \"-c\", \"echo '{\\\"metrics\\\":{\\\"which\\\":1}}'\"]]\n[evolution]\nsize = 2\n",
    )
    .unwrap();
    let p = VariantPipeline::open("alpha", spec, base(), None, fleet).unwrap();
    for expect in [0.0, 1.0] {
        let r = p.run("beta", 1).await.unwrap();
        assert_eq!(r.metrics["which"], expect);
    }
    let v = p.variants();
    assert_eq!(v.population().get(1).unwrap().outcomes.mean, 1.0);
    // A program that reports no such metric: the result passes, nothing is recorded.
    let spec: VariantsSpec =
        toml::from_str("metric = \"absent\"\n[space]\nx = { float = [0.1, 1.0] }\n").unwrap();
    let fleet = SharedFleet::open(Fleet::new(0.05, None).unwrap(), None).unwrap();
    let p = VariantPipeline::open("alpha", spec, base(), None, fleet).unwrap();
    let before = p.variants();
    assert!(p.run("beta", 1).await.is_ok());
    assert_eq!(p.variants(), before);
}

/// The files a crash between the fleet's write and the bot's leaves: the
/// fleet's file holds the verdict, the bot's still runs the test. Opened
/// again, the bot takes the verdict and the fleet counts the test once.
#[tokio::test]
async fn a_crash_between_the_two_writes_judges_the_test_once() {
    let dir = tempfile::tempdir().unwrap();
    let (file, fleet_file) = (
        dir.path().join("variants.json"),
        dir.path().join("fleet.json"),
    );
    let spec = spec("[test]\nmax_outcomes = 40");
    let mut v = Variants::new(spec.clone()).unwrap();
    let mut fleet = Fleet::new(0.05, Some(10)).unwrap();
    let (before, promoted) = (0..2_000u64)
        .find_map(|i| {
            let a = v.assign().unwrap();
            let x = a.params["x"].as_f64().unwrap();
            let before = v.clone();
            let events = v
                .outcome(&a, x, 1.0, i as f64, "alpha", &mut fleet)
                .unwrap();
            events.iter().find_map(|e| match e {
                VariantEvent::TestEnded { promoted, .. } => Some((before.clone(), *promoted)),
                _ => None,
            })
        })
        .expect("a test ended");
    assert!(before.test().is_some());
    persist::save_json(&file, &before, Durability::Atomic).unwrap();
    SharedFleet::save(&fleet_file, &fleet, Durability::Atomic).unwrap();
    let shared = SharedFleet::open(
        Fleet::new(0.05, Some(10)).unwrap(),
        Some(fleet_file.clone()),
    )
    .unwrap();
    let p = VariantPipeline::open(
        "alpha",
        spec,
        base(),
        Some(file.clone()),
        Arc::clone(&shared),
    )
    .unwrap();
    let after = p.variants();
    assert!(after.test().is_none(), "the judged test ended");
    assert_eq!(after.serving(), v.serving());
    assert_eq!(
        after.promotions(),
        before.promotions() + u64::from(promoted)
    );
    assert_eq!(
        persist::load_json::<Variants>(&file).unwrap().unwrap(),
        after
    );
    // The next cycles do not judge it again.
    for _ in 0..3 {
        p.run("alpha", 1).await.unwrap();
    }
    assert_eq!(shared.snapshot().counts(), fleet.counts());
}

#[test]
fn a_version_1_fleet_file_loads_and_is_written_at_version_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("variants-fleet.json");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/variants/variants-fleet-v1.json"
    );
    std::fs::copy(fixture, &file).unwrap();
    let fleet = SharedFleet::load(&file).unwrap().expect("a fleet");
    assert_eq!(fleet.counts(), (3, 1));
    assert_eq!(fleet.last_verdict("alpha"), None);
    SharedFleet::save(&file, &fleet, Durability::Atomic).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("{\"version\":2,"), "{text}");
    assert_eq!(SharedFleet::load(&file).unwrap(), Some(fleet));
    // A newer file is refused, and left as it was.
    std::fs::write(&file, text.replace("\"version\":2", "\"version\":3")).unwrap();
    assert!(SharedFleet::load(&file).is_err());
}

use super::*;
use std::io::Write;
use std::path::Path;

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn kinds(batch: &Batch) -> Vec<(String, &'static str)> {
    batch
        .bad
        .iter()
        .map(|b| {
            (
                b.at.rsplit(':').next().unwrap().to_string(),
                b.reason.kind(),
            )
        })
        .collect()
}

#[test]
fn csv_reads_only_what_was_appended_and_waits_for_a_torn_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.csv");
    append(&p, "a,target,b\n1,10,2\n");
    let mut src = CsvSource::new(&p, CsvOptions::default());
    let b = src.read_new(100).unwrap();
    assert_eq!(b.samples.len(), 1);
    assert_eq!(b.samples[0].features, [1.0, 2.0]);
    assert_eq!(b.samples[0].target, TargetValue::Number(10.0));
    assert_eq!(src.schema().unwrap().features, ["a", "b"]);
    assert!(src.read_new(100).unwrap().samples.is_empty());
    append(&p, "3,30,4\n5,5");
    let b = src.read_new(100).unwrap();
    assert_eq!(b.samples.len(), 1, "the torn row waits");
    assert_eq!(b.samples[0].features, [3.0, 4.0]);
    append(&p, "0,6\n");
    let b = src.read_new(100).unwrap();
    assert_eq!(b.samples[0].features, [5.0, 6.0]);
    assert_eq!(b.samples[0].target, TargetValue::Number(50.0));
}

#[test]
fn csv_bad_rows_are_counted_with_place_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.csv");
    append(
        &p,
        "x,y,target,time,quality\n\
         1,2,3,10,0.9\n\
         1,abc,3,11,0.9\n\
         1,NaN,3,12,0.9\n\
         1,2,3,13\n\
         1,2,,14,0.9\n\
         1,2,3,soon,0.9\n\
         1,2,3,15,1.5\n\
         1,2,inf,16,0.9\n\
         1,\"2,3,4\n\
         1,2,3,2024-01-01T00:00:00Z,1\n",
    );
    let mut src = CsvSource::new(&p, CsvOptions::default());
    let b = src.read_new(100).unwrap();
    assert_eq!(b.samples.len(), 2);
    assert_eq!(b.samples[0].time, Some(10.0));
    assert_eq!(b.samples[0].quality, Some(0.9));
    assert_eq!(b.samples[1].time, Some(1_704_067_200.0));
    assert_eq!(
        kinds(&b),
        [
            ("3".into(), "non_numeric"),
            ("4".into(), "non_finite"),
            ("5".into(), "wrong_width"),
            ("6".into(), "missing_target"),
            ("7".into(), "bad_time"),
            ("8".into(), "bad_quality"),
            ("9".into(), "non_finite"),
            ("10".into(), "malformed"),
        ]
    );
    assert_eq!(
        b.bad[0].to_string(),
        format!("{}:3: y is not a number: \"abc\"", p.display())
    );
    assert_eq!(b.bad[2].reason.to_string(), "expected 5 values, found 4");
}

#[test]
fn csv_named_target_quotes_and_text_labels() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("iris.csv");
    append(
        &p,
        "\"sepal, length\",species\n 5.1 ,\"setosa\"\n4.9,\"say \"\"hi\"\"\"\n",
    );
    let opts = CsvOptions {
        target: "species".into(),
        ..CsvOptions::default()
    };
    let mut src = CsvSource::new(&p, opts);
    let b = src.read_new(100).unwrap();
    assert_eq!(src.schema().unwrap().features, ["sepal, length"]);
    assert_eq!(b.samples[0].features, [5.1]);
    assert_eq!(b.samples[0].target, TargetValue::Text("setosa".into()));
    assert_eq!(b.samples[1].target, TargetValue::Text("say \"hi\"".into()));
}

#[test]
fn csv_header_without_target_makes_its_rows_bad() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.csv");
    append(&p, "x,y\n1,2\n3,4\n");
    let mut src = CsvSource::new(&p, CsvOptions::default());
    let b = src.read_new(100).unwrap();
    assert!(b.samples.is_empty());
    assert_eq!(b.bad.len(), 2);
    assert_eq!(
        b.bad[0].reason.to_string(),
        "bad header: no target column \"target\""
    );
}

#[test]
fn csv_folder_maps_columns_by_name_and_refuses_other_features() {
    let dir = tempfile::tempdir().unwrap();
    append(&dir.path().join("1.csv"), "a,b,target\n1,2,3\n");
    append(&dir.path().join("2.csv"), "target,b,a\n30,20,10\n");
    append(&dir.path().join("3.csv"), "a,c,target\n1,2,3\n");
    let mut src = CsvSource::new(dir.path(), CsvOptions::default());
    let b = src.read_new(100).unwrap();
    let got: Vec<_> = b.samples.iter().map(|s| s.features.clone()).collect();
    assert_eq!(got, [vec![1.0, 2.0], vec![10.0, 20.0]]);
    assert_eq!(b.bad.len(), 1);
    assert_eq!(
        b.bad[0].reason.to_string(),
        "bad header: no feature column \"b\""
    );
}

#[test]
fn csv_position_restores_into_a_new_source_past_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.csv");
    append(&p, "x,target\n1,1\n2,2\n3,3\n");
    let mut src = CsvSource::new(&p, CsvOptions::default());
    assert_eq!(
        src.read_new(2).unwrap().samples.len(),
        1,
        "header + one row"
    );
    let saved = serde_json::to_string(&src.position()).unwrap();
    let mut again = CsvSource::new(&p, CsvOptions::default());
    again.restore(serde_json::from_str(&saved).unwrap());
    let b = again.read_new(100).unwrap();
    let xs: Vec<f64> = b.samples.iter().map(|s| s.features[0]).collect();
    assert_eq!(xs, [2.0, 3.0]);
    assert!(b.bad.is_empty());
}

#[test]
fn csv_replaced_file_is_read_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.csv");
    append(&p, "x,target\n1,1\n2,2\n");
    let mut src = CsvSource::new(&p, CsvOptions::default());
    src.read_new(100).unwrap();
    std::fs::write(&p, "target,x\n7,9\n").unwrap();
    let b = src.read_new(100).unwrap();
    assert_eq!(b.restarted.len(), 1);
    assert_eq!(b.samples[0].features, [9.0]);
    assert_eq!(b.samples[0].target, TargetValue::Number(7.0));
}

#[test]
fn jsonl_reads_rows_incrementally_with_bad_rows_counted() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.jsonl");
    append(
        &p,
        "{\"features\": [1, 2], \"target\": 3, \"time\": \"2024-01-01T00:00:00Z\", \"quality\": 0.8}\n\
         {\"features\": [1], \"target\": 3}\n\
         {\"features\": [1, \"x\"], \"target\": 3}\n\
         not json\n\
         {\"features\": [1, 2]}\n\
         {\"features\": [1, 2], \"target\": \"cat\", \"quality\": 2}\n\
         {\"features\": [4, 5], \"target\": \"cat\", \"time\": 17}\n\
         {\"features\": [6,",
    );
    let mut src = JsonLinesSource::new(&p);
    let b = src.read_new(100).unwrap();
    assert_eq!(b.samples.len(), 2);
    assert_eq!(b.samples[0].time, Some(1_704_067_200.0));
    assert_eq!(b.samples[0].quality, Some(0.8));
    assert_eq!(b.samples[1].target, TargetValue::Text("cat".into()));
    assert_eq!(b.samples[1].time, Some(17.0));
    assert_eq!(
        kinds(&b),
        [
            ("2".into(), "wrong_width"),
            ("3".into(), "non_numeric"),
            ("4".into(), "malformed"),
            ("5".into(), "missing_target"),
            ("6".into(), "bad_quality"),
        ]
    );
    assert_eq!(
        src.schema().unwrap().features,
        ["features[0]", "features[1]"]
    );
    append(&p, " 7], \"target\": 1.5}\n");
    let b = src.read_new(100).unwrap();
    assert_eq!(b.samples[0].features, [6.0, 7.0]);
    assert_eq!(b.samples[0].target, TargetValue::Number(1.5));
}

#[test]
fn labels_of_numbers_have_one_spelling() {
    assert_eq!(TargetValue::parse("1.0").unwrap().label(), "1");
    assert_eq!(TargetValue::Number(1.0).label(), "1");
    assert_eq!(TargetValue::parse("0.5").unwrap().label(), "0.5");
    assert_eq!(TargetValue::parse("dog").unwrap().label(), "dog");
}

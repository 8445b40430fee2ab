//! From raw samples to the sets one training cycle uses.
//!
//! - **Intake**: a row whose target does not fit the task — text for a
//!   regression, a label outside the fixed ones for a classification — is a
//!   bad row, counted with the others.
//! - **Labels** (classification): the distinct targets of the samples the
//!   first model is trained on, numbers first (numerically), then text
//!   (alphabetically); fixed from then on.
//! - **Order**: by `time` when every sample has one (ties in arrival order),
//!   else in arrival order.
//! - **Split**: the most recent `holdout_fraction` (at least 2) are held out
//!   for the gate; of the rest, a seeded random `validation_fraction` (none
//!   under 5 samples, else at least 1) steer the scheduler and early
//!   stopping; the others are trained on.

use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

use crate::training::{BadReason, BadRow, Dataset, Sample, TargetValue, Task};

/// Bad rows of one cycle: how many, by kind, and the first few in full.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BadRowTally {
    /// All of them.
    pub total: u64,
    /// By [`BadReason::kind`].
    pub by_kind: BTreeMap<String, u64>,
    /// The first [`BadRowTally::EXAMPLES`], with place and reason.
    pub examples: Vec<String>,
}

impl BadRowTally {
    /// How many bad rows are kept in full.
    pub const EXAMPLES: usize = 5;

    /// Counts one.
    pub fn add(&mut self, row: &BadRow) {
        self.total += 1;
        *self
            .by_kind
            .entry(row.reason.kind().to_string())
            .or_default() += 1;
        if self.examples.len() < Self::EXAMPLES {
            self.examples.push(row.to_string());
        }
    }
}

/// Whether `sample`'s target fits the task (and the labels, once fixed).
pub fn check_target(
    task: Task,
    labels: Option<&[String]>,
    sample: &Sample,
    target_name: &str,
) -> Result<(), BadReason> {
    match (task, &sample.target) {
        (Task::Regression, TargetValue::Number(_)) => Ok(()),
        (Task::Regression, TargetValue::Text(t)) => Err(BadReason::NonNumeric {
            column: target_name.to_string(),
            value: super::super::source::shorten(t),
        }),
        (Task::Classification, t) => match labels {
            Some(labels) if !labels.contains(&t.label()) => {
                Err(BadReason::UnseenLabel { label: t.label() })
            }
            _ => Ok(()),
        },
    }
}

/// The distinct labels of `samples`, numbers first (numerically), then text.
pub fn labels_of<'a>(samples: impl IntoIterator<Item = &'a Sample>) -> Vec<String> {
    let mut numbers: Vec<f64> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    for s in samples {
        match &s.target {
            TargetValue::Number(v) => numbers.push(*v),
            TargetValue::Text(t) => texts.push(t.clone()),
        }
    }
    numbers.sort_by(f64::total_cmp);
    numbers.dedup();
    texts.sort();
    texts.dedup();
    numbers
        .iter()
        .map(|v| format!("{v}"))
        .chain(texts)
        .collect()
}

/// `samples` ordered for splitting: by time when all have one, else as they came.
pub fn in_time_order(mut samples: Vec<Sample>) -> Vec<Sample> {
    if samples.iter().all(|s| s.time.is_some()) {
        samples.sort_by(|a, b| a.time.unwrap_or(0.0).total_cmp(&b.time.unwrap_or(0.0)));
    }
    samples
}

/// `samples` encoded for a model: the value, or the index of the label.
/// Samples whose label is not in `labels` are left out (intake already
/// counted them).
pub fn encode(
    task: Task,
    labels: &[String],
    samples: &[Sample],
    width: usize,
) -> crate::Result<Dataset> {
    let mut d = Dataset::new(width);
    for s in samples {
        let y = match (task, &s.target) {
            (Task::Regression, TargetValue::Number(v)) => *v,
            (Task::Regression, TargetValue::Text(_)) => continue,
            (Task::Classification, t) => match labels.iter().position(|l| *l == t.label()) {
                Some(i) => i as f64,
                None => continue,
            },
        };
        d.push(&s.features, y)?;
    }
    Ok(d)
}

/// Which samples (indices into the time-ordered set of `n`) go where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Trained on.
    pub train: Vec<usize>,
    /// Steer the scheduler and early stopping.
    pub validation: Vec<usize>,
    /// The most recent: judge champion and challenger.
    pub holdout: Vec<usize>,
}

/// Splits `n ≥ 3` time-ordered samples.
///
/// ```
/// # use kaizen::training::split_for_training;
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let s = split_for_training(100, 0.2, 0.2, &mut rng);
/// assert_eq!(s.holdout, (80..100).collect::<Vec<_>>()); // the most recent 20
/// assert_eq!(s.validation.len(), 16);                    // 20% of the other 80
/// assert_eq!(s.train.len(), 64);
/// ```
pub fn split(
    n: usize,
    holdout_fraction: f64,
    validation_fraction: f64,
    rng: &mut ChaCha8Rng,
) -> Split {
    let held = ((holdout_fraction * n as f64).round() as usize).clamp(2, n - 1);
    let rest = n - held;
    let val = if rest < 5 || validation_fraction <= 0.0 {
        0
    } else {
        ((validation_fraction * rest as f64).round() as usize).clamp(1, rest - 1)
    };
    let mut validation = sample(rng, rest, val).into_vec();
    validation.sort_unstable();
    let train = (0..rest)
        .filter(|i| validation.binary_search(i).is_err())
        .collect();
    Split {
        train,
        validation,
        holdout: (rest..n).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn s(target: TargetValue, time: Option<f64>) -> Sample {
        Sample {
            features: vec![0.0],
            target,
            time,
            quality: None,
        }
    }

    #[test]
    fn labels_sort_numbers_then_text_once_each() {
        let v = [
            s(TargetValue::Text("cat".into()), None),
            s(TargetValue::Number(10.0), None),
            s(TargetValue::Number(2.0), None),
            s(TargetValue::Text("ant".into()), None),
            s(TargetValue::Number(2.0), None),
        ];
        assert_eq!(labels_of(&v), ["2", "10", "ant", "cat"]);
    }

    #[test]
    fn intake_refuses_targets_that_do_not_fit() {
        let text = s(TargetValue::Text("x".into()), None);
        let e = check_target(Task::Regression, None, &text, "y").unwrap_err();
        assert_eq!(e.kind(), "non_numeric");
        let labels = vec!["1".to_string(), "2".to_string()];
        let three = s(TargetValue::Number(3.0), None);
        let e = check_target(Task::Classification, Some(&labels), &three, "y").unwrap_err();
        assert_eq!(
            e.to_string(),
            "label \"3\" is not one of the model's labels"
        );
        assert!(check_target(Task::Classification, None, &three, "y").is_ok());
        let two = s(TargetValue::Number(2.0), None);
        assert!(check_target(Task::Classification, Some(&labels), &two, "y").is_ok());
    }

    #[test]
    fn time_order_only_when_every_sample_has_a_time() {
        let a = s(TargetValue::Number(1.0), Some(5.0));
        let b = s(TargetValue::Number(2.0), Some(1.0));
        let c = s(TargetValue::Number(3.0), None);
        let ordered = in_time_order(vec![a.clone(), b.clone()]);
        assert_eq!(ordered, [b.clone(), a.clone()]);
        assert_eq!(
            in_time_order(vec![a.clone(), b.clone(), c.clone()]),
            [a, b, c]
        );
    }

    #[test]
    fn small_splits_keep_two_held_out_and_no_validation() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let sp = split(10, 0.2, 0.2, &mut rng);
        assert_eq!(sp.holdout, [8, 9]);
        assert_eq!(sp.validation.len(), 2);
        let sp = split(3, 0.2, 0.2, &mut rng);
        assert_eq!(
            (sp.train, sp.validation, sp.holdout),
            (vec![0], vec![], vec![1, 2])
        );
    }

    #[test]
    fn the_tally_keeps_counts_and_a_few_examples() {
        let mut t = BadRowTally::default();
        for i in 0..7 {
            t.add(&BadRow {
                at: format!("d.csv:{i}"),
                reason: BadReason::MissingTarget,
            });
        }
        assert_eq!(t.total, 7);
        assert_eq!(t.by_kind["missing_target"], 7);
        assert_eq!(t.examples.len(), 5);
        assert_eq!(t.examples[0], "d.csv:0: the target is missing");
    }
}

//! [`Dataset`]: encoded rows a model trains on or is judged on.

use crate::error::{Error, Result};

/// Rows of `width` features with one numeric target each: the value
/// (regression) or the class index (classification). Row-major.
///
/// ```
/// use kaizen::training::Dataset;
/// let mut d = Dataset::new(2);
/// d.push(&[1.0, 2.0], 3.0).unwrap();
/// d.push(&[4.0, 5.0], 6.0).unwrap();
/// assert_eq!(d.row(1), [4.0, 5.0]);
/// assert_eq!(d.subset(&[1]).targets(), [6.0]);
/// assert!(d.push(&[1.0], 0.0).is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    width: usize,
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Dataset {
    /// An empty dataset of rows with `width` features.
    pub fn new(width: usize) -> Self {
        Dataset {
            width,
            x: Vec::new(),
            y: Vec::new(),
        }
    }

    /// Adds a row; its features must number `width` and every value be finite.
    pub fn push(&mut self, features: &[f64], target: f64) -> Result<()> {
        if features.len() != self.width {
            return Err(Error::invalid(
                "dataset row",
                format!("{} features", features.len()),
                format!("{} features", self.width),
            ));
        }
        if let Some(v) = features.iter().chain([&target]).find(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "dataset value".into(),
                value: *v,
            });
        }
        self.x.extend_from_slice(features);
        self.y.push(target);
        Ok(())
    }

    /// Features per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The features of row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.width..(i + 1) * self.width]
    }

    /// Every target, in row order.
    pub fn targets(&self) -> &[f64] {
        &self.y
    }

    /// The rows at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut out = Dataset::new(self.width);
        out.x.reserve(indices.len() * self.width);
        for &i in indices {
            out.x.extend_from_slice(self.row(i));
            out.y.push(self.y[i]);
        }
        out
    }
}

//! The one piece of linear algebra the forecaster needs: solving a small
//! dense system (the stationary state covariance, least-squares start values).

/// Solves `a · x = b` in place by Gaussian elimination with partial pivoting;
/// `a` is `n × n`, row-major, and `b` becomes `x`. `None` when the matrix is
/// singular to working precision (a pivot below `1e-13` times the largest
/// entry) or the solution is not finite.
pub(crate) fn solve(a: &mut [f64], b: &mut [f64]) -> Option<()> {
    let n = b.len();
    debug_assert_eq!(a.len(), n * n);
    let largest = a.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    if !(largest > 0.0 && largest.is_finite()) {
        return None;
    }
    let tiny = 1e-13 * largest;
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))
            .unwrap_or(col);
        let pivot_value = a[pivot * n + col].abs();
        if pivot_value.is_nan() || pivot_value <= tiny {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                a.swap(pivot * n + k, col * n + k);
            }
            b.swap(pivot, col);
        }
        let d = a[col * n + col];
        for row in col + 1..n {
            let factor = a[row * n + col] / d;
            if factor != 0.0 {
                for k in col..n {
                    a[row * n + k] -= factor * a[col * n + k];
                }
                b[row] -= factor * b[col];
            }
        }
    }
    for col in (0..n).rev() {
        let tail: f64 = (col + 1..n).map(|k| a[col * n + k] * b[k]).sum();
        b[col] = (b[col] - tail) / a[col * n + col];
    }
    b.iter().all(|v| v.is_finite()).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_system_that_needs_pivoting() {
        // [0 2 1; 1 1 1; 2 1 0] x = [7, 6, 4] has x = [1, 2, 3]; the first pivot is 0.
        let mut a = [0.0, 2.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 0.0];
        let mut b = [7.0, 6.0, 4.0];
        solve(&mut a, &mut b).unwrap();
        for (x, want) in b.iter().zip([1.0, 2.0, 3.0]) {
            assert!((x - want).abs() < 1e-12, "{b:?}");
        }
    }

    #[test]
    fn refuses_a_singular_system() {
        let mut a = [1.0, 2.0, 2.0, 4.0];
        let mut b = [1.0, 2.0];
        assert_eq!(solve(&mut a, &mut b), None);
        let mut zero = [0.0; 4];
        assert_eq!(solve(&mut zero, &mut [1.0, 1.0]), None);
    }
}

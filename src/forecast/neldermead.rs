//! A Nelder–Mead simplex minimiser for the few (at most four) unconstrained
//! ARMA parameters.
//!
//! Standard coefficients (reflection 1, expansion 2, contraction ½, shrink ½),
//! inside and outside contractions, and a restart from the best vertex with a
//! fresh simplex after each convergence until a restart no longer improves the
//! minimum: the classic remedy for a simplex that collapsed early on a ridge
//! (ARMA likelihoods have ridges where AR and MA roots nearly cancel).
//! A function value that is NaN or +∞ (parameters where the likelihood cannot
//! be computed) counts as worse than any finite value.

/// When the search stops.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tolerances {
    /// Stop when every vertex's value is within this of the best one …
    pub f_tol: f64,
    /// … and every vertex is within this of the best one, coordinate by coordinate.
    pub x_tol: f64,
    /// Side of the initial simplex along each axis.
    pub step: f64,
    /// At most this many function evaluations in all (restarts included).
    pub max_evals: usize,
    /// At most this many restarts after the first convergence.
    pub max_restarts: usize,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            f_tol: 1e-10,
            x_tol: 1e-7,
            step: 0.3,
            max_evals: 2000,
            max_restarts: 3,
        }
    }
}

/// The best point found.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Minimum {
    /// Where.
    pub x: Vec<f64>,
    /// The function's value there (+∞ when no finite value was ever seen).
    pub f: f64,
    /// Function evaluations spent.
    pub evals: usize,
    /// `true` when the last simplex met the tolerances before the budget ran out.
    pub converged: bool,
}

/// NaN and +∞ rank last.
fn rank(f: f64) -> f64 {
    if f.is_nan() { f64::INFINITY } else { f }
}

/// Minimises `f` from `x0` (an empty `x0` evaluates `f` once).
pub(crate) fn minimize(mut f: impl FnMut(&[f64]) -> f64, x0: &[f64], tol: Tolerances) -> Minimum {
    let mut evals = 0;
    let mut eval = |x: &[f64]| {
        evals += 1;
        rank(f(x))
    };
    let mut x = x0.to_vec();
    let mut fx = eval(x0);
    let mut converged = true;
    let mut budget = tol.max_evals.saturating_sub(1);
    if !x.is_empty() {
        for restart in 0..=tol.max_restarts {
            let (y, fy, done) = simplex_search(&mut eval, &x, fx, &tol, &mut budget);
            let improvement = fx - fy;
            converged = done;
            if fy <= fx {
                (x, fx) = (y, fy);
            }
            // Out of budget, or a restart that no longer improves: done.
            if !done || (restart > 0 && (improvement.is_nan() || improvement <= tol.f_tol)) {
                break;
            }
        }
    }
    Minimum {
        x,
        f: fx,
        evals,
        converged,
    }
}

/// One simplex search from `x0` (whose value `f0` is known). Returns the best
/// vertex, its value and whether the tolerances were met.
fn simplex_search(
    eval: &mut impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    f0: f64,
    tol: &Tolerances,
    budget: &mut usize,
) -> (Vec<f64>, f64, bool) {
    let n = x0.len();
    let mut points: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
    let mut values: Vec<f64> = Vec::with_capacity(n + 1);
    points.push(x0.to_vec());
    values.push(f0);
    for i in 0..n {
        let mut x = x0.to_vec();
        x[i] += tol.step;
        values.push(eval(&x));
        points.push(x);
    }
    *budget = budget.saturating_sub(n);
    let mut centroid = vec![0.0; n];
    let mut trial = vec![0.0; n];
    let mut trial2 = vec![0.0; n];
    loop {
        // Order the vertices: best first, worst last.
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        points = order.iter().map(|&i| points[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();
        let (fb, fw, fsw) = (values[0], values[n], values[n - 1]);
        let spread_f = values.iter().all(|v| (v - fb).abs() <= tol.f_tol);
        let spread_x = points.iter().all(|p| {
            p.iter()
                .zip(&points[0])
                .all(|(a, b)| (a - b).abs() <= tol.x_tol)
        });
        if fb.is_finite() && spread_f && spread_x {
            return (points.swap_remove(0), fb, true);
        }
        if *budget == 0 {
            return (points.swap_remove(0), fb, false);
        }
        // Centroid of all vertices but the worst.
        centroid.fill(0.0);
        for p in &points[..n] {
            for (c, v) in centroid.iter_mut().zip(p) {
                *c += v / n as f64;
            }
        }
        let along = |t: f64, out: &mut Vec<f64>| {
            for ((o, c), w) in out.iter_mut().zip(&centroid).zip(&points[n]) {
                *o = c + t * (w - c);
            }
        };
        along(-1.0, &mut trial);
        let fr = eval(&trial);
        *budget = budget.saturating_sub(1);
        if fr < fb {
            along(-2.0, &mut trial2);
            let fe = eval(&trial2);
            *budget = budget.saturating_sub(1);
            if fe < fr {
                points[n].clone_from(&trial2);
                values[n] = fe;
            } else {
                points[n].clone_from(&trial);
                values[n] = fr;
            }
            continue;
        }
        if fr < fsw {
            points[n].clone_from(&trial);
            values[n] = fr;
            continue;
        }
        // Contract: outside when the reflection beat the worst, else inside.
        let (t, limit) = if fr < fw { (-0.5, fr) } else { (0.5, fw) };
        along(t, &mut trial2);
        let fc = eval(&trial2);
        *budget = budget.saturating_sub(1);
        if fc < limit {
            points[n].clone_from(&trial2);
            values[n] = fc;
            continue;
        }
        // Shrink every vertex towards the best.
        let (first, rest) = points.split_first_mut().expect("n + 1 >= 2 vertices");
        for (p, v) in rest.iter_mut().zip(values.iter_mut().skip(1)) {
            for (x, b) in p.iter_mut().zip(first.iter()) {
                *x = b + 0.5 * (*x - b);
            }
            *v = eval(p);
        }
        *budget = budget.saturating_sub(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_rosenbrock() {
        let rosen = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let m = minimize(rosen, &[-1.2, 1.0], Tolerances::default());
        assert!(m.converged, "{m:?}");
        assert!(
            (m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] - 1.0).abs() < 1e-4,
            "{m:?}"
        );
        assert!(m.f < 1e-9);
    }

    #[test]
    fn finds_a_quadratic_minimum_in_four_dimensions() {
        let target = [0.3, -1.5, 2.0, 0.01];
        let quad = |x: &[f64]| {
            x.iter()
                .zip(&target)
                .enumerate()
                .map(|(i, (a, b))| (i + 1) as f64 * (a - b).powi(2))
                .sum::<f64>()
        };
        let m = minimize(quad, &[0.0; 4], Tolerances::default());
        for (x, t) in m.x.iter().zip(&target) {
            assert!((x - t).abs() < 1e-5, "{m:?}");
        }
    }

    #[test]
    fn avoids_points_where_the_function_is_undefined() {
        // Undefined (NaN / +inf) left of 0.5; minimum at 1.
        let f = |x: &[f64]| {
            if x[0] < 0.5 {
                f64::NAN
            } else {
                (x[0] - 1.0).powi(2) + x[1] * x[1]
            }
        };
        let m = minimize(f, &[0.6, 0.4], Tolerances::default());
        assert!((m.x[0] - 1.0).abs() < 1e-5 && m.x[1].abs() < 1e-5, "{m:?}");
    }

    #[test]
    fn zero_dimensions_evaluates_once() {
        let m = minimize(|_| 4.0, &[], Tolerances::default());
        assert_eq!((m.f, m.evals, m.converged), (4.0, 1, true));
    }

    #[test]
    fn stops_at_the_budget() {
        let tol = Tolerances {
            max_evals: 20,
            max_restarts: 0,
            ..Tolerances::default()
        };
        let rosen = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let m = minimize(rosen, &[-1.2, 1.0], tol);
        assert!(!m.converged);
        assert!(m.evals <= 24, "{}", m.evals);
    }
}

use super::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

/// Stationarity of `1 − φ₁z − φ₂z²` by the triangle conditions.
fn stationary2(phi: &[f64]) -> bool {
    let (a, b) = (phi[0], phi.get(1).copied().unwrap_or(0.0));
    b + a < 1.0 && b - a < 1.0 && b.abs() < 1.0
}

#[test]
fn the_constraint_maps_are_inverse_and_always_stationary() {
    for u in [
        [0.0, 0.0],
        [0.3, -0.2],
        [5.0, 4.0],
        [-7.0, 0.9],
        [1e3, -1e3],
    ] {
        let phi = constrain_ar(&u);
        assert!(stationary2(&phi), "{u:?} -> {phi:?}");
        let theta = constrain_ma(&u);
        // θ(z) = 1 + θ₁z + θ₂z² is invertible iff −θ is a stationary AR.
        assert!(stationary2(&[-theta[0], -theta[1]]), "{u:?} -> {theta:?}");
        if u[0].abs() < 100.0 {
            let back = unconstrain_ar(&phi).unwrap();
            assert!(close(back[0], u[0], 1e-9) && close(back[1], u[1], 1e-9));
            let back = unconstrain_ma(&theta).unwrap();
            assert!(close(back[0], u[0], 1e-9) && close(back[1], u[1], 1e-9));
        }
    }
    // Small values map to themselves, to first order (with their signs).
    let phi = constrain_ar(&[0.01]);
    let theta = constrain_ma(&[0.01]);
    assert!(close(phi[0], 0.01, 1e-3) && close(theta[0], 0.01, 1e-3));
    // Non-stationary and non-invertible coefficients have no preimage.
    assert_eq!(unconstrain_ar(&[1.0]), None);
    assert_eq!(unconstrain_ar(&[0.5, 0.6]), None);
    assert_eq!(unconstrain_ma(&[-1.2]), None);
    assert!(unconstrain_ma(&[0.5, 0.3]).is_some());
}

#[test]
fn stationary_covariance_matches_closed_forms() {
    // AR(1): var = 1 / (1 − φ²).
    let p = StateSpace::new(&[0.6], &[]).stationary_cov().unwrap();
    assert!(close(p[0][0], 1.0 / (1.0 - 0.36), 1e-12));
    // MA(1): state (w_t, θ ε_t): [[1 + θ², θ], [θ, θ²]].
    let p = StateSpace::new(&[], &[0.4]).stationary_cov().unwrap();
    let want = [[1.16, 0.4], [0.4, 0.16]];
    for i in 0..2 {
        for j in 0..2 {
            assert!(close(p[i][j], want[i][j], 1e-12), "{p:?}");
        }
    }
    // ARMA(1,1): var = (1 + 2φθ + θ²) / (1 − φ²).
    let p = StateSpace::new(&[0.5], &[0.3]).stationary_cov().unwrap();
    assert!(close(p[0][0], (1.0 + 0.3 + 0.09) / 0.75, 1e-12));
    // A unit root has no stationary covariance.
    assert_eq!(StateSpace::new(&[1.0], &[]).stationary_cov(), None);
}

/// Autocovariances (σ² = 1) from the MA(∞) weights, independent of the state space.
fn autocov(ar: &[f64], ma: &[f64], lags: usize) -> Vec<f64> {
    let terms = 4000;
    let mut psi = vec![0.0; terms];
    for j in 0..terms {
        let mut v = match j {
            0 => 1.0,
            _ => ma.get(j - 1).copied().unwrap_or(0.0),
        };
        for (i, phi) in ar.iter().enumerate() {
            if j > i {
                v += phi * psi[j - i - 1];
            }
        }
        psi[j] = v;
    }
    (0..lags)
        .map(|h| (0..terms - h).map(|j| psi[j] * psi[j + h]).sum())
        .collect()
}

/// The exact profile log-likelihood by brute force: Cholesky of the full
/// covariance matrix, GLS mean, ML variance.
fn brute_force_llf(ar: &[f64], ma: &[f64], xs: &[f64]) -> (f64, f64, f64) {
    let n = xs.len();
    let g = autocov(ar, ma, n);
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = g[i - j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            l[i * n + j] = if i == j { s.sqrt() } else { s / l[j * n + j] };
        }
    }
    let forward = |b: &[f64]| {
        let mut y = vec![0.0; n];
        for i in 0..n {
            let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
            y[i] = (b[i] - s) / l[i * n + i];
        }
        y
    };
    let (yx, y1) = (forward(xs), forward(&vec![1.0; n]));
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mean = dot(&yx, &y1) / dot(&y1, &y1);
    let resid: Vec<f64> = yx.iter().zip(&y1).map(|(x, o)| x - mean * o).collect();
    let sigma2 = dot(&resid, &resid) / n as f64;
    let log_det: f64 = (0..n).map(|i| 2.0 * l[i * n + i].ln()).sum();
    let llf =
        -0.5 * n as f64 * ((2.0 * std::f64::consts::PI).ln() + 1.0 + sigma2.ln()) - 0.5 * log_det;
    (llf, mean, sigma2)
}

#[test]
fn kalman_profile_likelihood_equals_the_brute_force_density() {
    let xs: Vec<f64> = (0..40)
        .map(|t| ((t * 37 % 11) as f64 - 5.0) * 0.3 + (t as f64 * 0.7).sin() + 2.0)
        .collect();
    let cases: [(&[f64], &[f64]); 6] = [
        (&[], &[]),
        (&[0.6], &[]),
        (&[], &[0.5]),
        (&[0.5, -0.3], &[0.4]),
        (&[0.3], &[-0.6, 0.2]),
        (&[-0.2, 0.5], &[0.3, 0.3]),
    ];
    for (ar, ma) in cases {
        let got = profile(ar, ma, &xs).unwrap();
        let (llf, mean, sigma2) = brute_force_llf(ar, ma, &xs);
        assert!(
            close(got.llf, llf, 1e-9),
            "{ar:?} {ma:?}: {} vs {llf}",
            got.llf
        );
        assert!(close(got.mean, mean, 1e-9), "{ar:?} {ma:?}");
        assert!(close(got.sigma2, sigma2, 1e-9), "{ar:?} {ma:?}");
    }
}

#[test]
fn the_end_state_predicts_like_a_fresh_filter_and_updates_step_by_step() {
    let xs: Vec<f64> = (0..60)
        .map(|t| (t as f64 * 0.9).cos() + 0.1 * t as f64 % 3.0)
        .collect();
    let (ar, ma) = ([0.4], [0.5, -0.2]);
    let whole = profile(&ar, &ma, &xs).unwrap();
    // Feeding every point through `update` with the fitted mean reproduces
    // the profile's end state (the filter is linear in the data).
    let ss = StateSpace::new(&ar, &ma);
    let mut state = FilterState {
        a: [0.0; DIM],
        p: ss.stationary_cov().unwrap(),
        steady: false,
    };
    for &x in &xs {
        state.update(&ss, x - whole.mean);
    }
    for i in 0..DIM {
        assert!(
            close(state.a[i], whole.end.a[i], 1e-10),
            "{state:?} vs {:?}",
            whole.end
        );
        for j in 0..DIM {
            assert!(close(state.p[i][j], whole.end.p[i][j], 1e-12));
        }
    }
    // A pure AR reaches its steady state after p steps: P = R Rᵀ, F = 1.
    let ar2 = profile(&[0.5, 0.2], &[], &xs).unwrap();
    assert!(ar2.end.steady);
    assert!(close(ar2.end.prediction().1, 1.0, 1e-15));
}

#[test]
fn exact_fits_and_unit_roots_have_no_likelihood() {
    assert_eq!(profile(&[], &[], &[1.0; 10]), None);
    assert_eq!(profile(&[1.0], &[], &[0.1, 0.5, -0.3]), None);
}

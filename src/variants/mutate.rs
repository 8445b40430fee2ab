//! The mutation engine's operators and initial populations, all drawn from a
//! seeded generator handed in (the same seed gives the same variants).
//!
//! - [`mutate`]: a changed parameter (each with probability `1/d`, at
//!   least one) is resampled within its bounds with
//!   probability [`RESAMPLE_P`] (0.25; log-uniformly on a log scale), and
//!   otherwise a number is perturbed ×0.8 or ×1.2 (kept within bounds; an
//!   integer that would not move moves by one) and a choice moves to a
//!   neighbour in its list.
//! - [`crossover`]: each parameter from one of two parents, evenly.
//! - [`grid`] and [`random`]: a first population.

use rand::Rng;
use rand::seq::SliceRandom;

use super::space::{Param, Params, Space, Value};

/// The probability that [`mutate`] resamples a parameter instead of
/// perturbing it.
pub const RESAMPLE_P: f64 = 0.25;
/// The factors a perturbation multiplies a number by.
pub const PERTURB: [f64; 2] = [0.8, 1.2];

/// A value drawn uniformly (log-uniformly on a log scale) within bounds.
pub fn sample(param: &Param, rng: &mut impl Rng) -> Value {
    match param {
        Param::Float { min, max, log } => Value::Float(draw(*min, *max, *log, rng)),
        Param::Int { min, max, log } => {
            let (lo, hi) = (*min as f64, *max as f64);
            let v = if *log {
                draw(lo, hi + 1.0, true, rng).floor()
            } else {
                draw(lo - 0.5, hi + 0.5, false, rng).round()
            };
            Value::Int((v as i64).clamp(*min, *max))
        }
        Param::Choice(options) => Value::Text(options[rng.random_range(0..options.len())].clone()),
    }
}

fn draw(min: f64, max: f64, log: bool, rng: &mut impl Rng) -> f64 {
    let u: f64 = rng.random();
    if log {
        (min.ln() + u * (max.ln() - min.ln())).exp().clamp(min, max)
    } else {
        (min + u * (max - min)).clamp(min, max)
    }
}

/// A random set of parameters of `space`.
pub fn random_params(space: &Space, rng: &mut impl Rng) -> Params {
    space
        .params()
        .iter()
        .map(|(name, p)| (name.clone(), sample(p, rng)))
        .collect()
}

/// `params` mutated (see the module docs): each parameter changes with
/// probability `1/d` (`d` parameters; at least one changes), so a child keeps
/// most of what made its parent good. A parameter missing from `params` is
/// sampled.
pub fn mutate(space: &Space, params: &Params, rng: &mut impl Rng) -> Params {
    let d = space.params().len();
    if d == 0 {
        return Params::new();
    }
    let forced = rng.random_range(0..d);
    space
        .params()
        .iter()
        .enumerate()
        .map(|(i, (name, param))| {
            let value = match params.get(name) {
                None => sample(param, rng),
                Some(v) if i != forced && !rng.random_bool(1.0 / d as f64) => v.clone(),
                Some(_) if rng.random_bool(RESAMPLE_P) => sample(param, rng),
                Some(v) => perturb(param, v, rng),
            };
            (name.clone(), value)
        })
        .collect()
}

fn perturb(param: &Param, value: &Value, rng: &mut impl Rng) -> Value {
    let factor = PERTURB[usize::from(rng.random_bool(0.5))];
    match (param, value) {
        (Param::Float { min, max, .. }, v) => match v.as_f64() {
            Some(x) => Value::Float((x * factor).clamp(*min, *max)),
            None => sample(param, rng),
        },
        (Param::Int { min, max, .. }, Value::Int(x)) => {
            let mut y = (*x as f64 * factor).round() as i64;
            if y == *x {
                y = if factor > 1.0 { x + 1 } else { x - 1 };
            }
            Value::Int(y.clamp(*min, *max))
        }
        (Param::Choice(options), Value::Text(x)) => match options.iter().position(|o| o == x) {
            Some(i) => {
                let up = rng.random_bool(0.5);
                let j = match (i, up) {
                    (0, _) => 1.min(options.len() - 1),
                    (i, _) if i + 1 == options.len() => i - 1,
                    (i, true) => i + 1,
                    (i, false) => i - 1,
                };
                Value::Text(options[j].clone())
            }
            None => sample(param, rng),
        },
        _ => sample(param, rng),
    }
}

/// A child taking each parameter from `a` or `b`, evenly.
pub fn crossover(a: &Params, b: &Params, rng: &mut impl Rng) -> Params {
    a.iter()
        .map(|(name, va)| {
            let v = match b.get(name) {
                Some(vb) if rng.random_bool(0.5) => vb.clone(),
                _ => va.clone(),
            };
            (name.clone(), v)
        })
        .collect()
}

/// `size` random sets of parameters.
pub fn random(space: &Space, size: usize, rng: &mut impl Rng) -> Vec<Params> {
    (0..size).map(|_| random_params(space, rng)).collect()
}

/// `size` sets from a grid: each number takes `points` evenly spaced values
/// (log-spaced on a log scale; distinct integers only), each choice all its
/// values; the grid's points are shuffled and the first `size` taken (all
/// of them, repeated in the same order, when the grid is smaller).
pub fn grid(space: &Space, size: usize, points: usize, rng: &mut impl Rng) -> Vec<Params> {
    let axes: Vec<(String, Vec<Value>)> = space
        .params()
        .iter()
        .map(|(name, p)| (name.clone(), axis(p, points.max(2))))
        .collect();
    let mut all: Vec<Params> = vec![Params::new()];
    for (name, values) in &axes {
        all = all
            .iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.insert(name.clone(), v.clone());
                    q
                })
            })
            .collect();
    }
    all.shuffle(rng);
    all.iter().cycle().take(size).cloned().collect()
}

fn axis(param: &Param, points: usize) -> Vec<Value> {
    let at = |min: f64, max: f64, log: bool, i: usize| {
        let t = i as f64 / (points - 1) as f64;
        if i == 0 {
            min
        } else if i + 1 == points {
            max
        } else if log {
            (min.ln() + t * (max.ln() - min.ln())).exp().clamp(min, max)
        } else {
            (min + t * (max - min)).clamp(min, max)
        }
    };
    match param {
        Param::Float { min, max, log } => (0..points)
            .map(|i| Value::Float(at(*min, *max, *log, i)))
            .collect(),
        Param::Int { min, max, log } => {
            let mut v: Vec<i64> = (0..points)
                .map(|i| (at(*min as f64, *max as f64, *log, i).round() as i64).clamp(*min, *max))
                .collect();
            v.dedup();
            v.into_iter().map(Value::Int).collect()
        }
        Param::Choice(options) => options.iter().cloned().map(Value::Text).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variants::space::ParamSpec;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::collections::BTreeMap;

    fn space() -> Space {
        let specs: BTreeMap<String, ParamSpec> = toml::from_str(
            "lr = { float = [1e-4, 1.0], log = true }\nn = { int = [1, 16] }\nc = { choice = [\"a\", \"b\", \"c\"] }",
        )
        .unwrap();
        Space::from_specs(&specs).unwrap()
    }

    #[test]
    fn everything_stays_in_bounds_and_is_reproducible() {
        let space = space();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut p = random_params(&space, &mut rng);
        for _ in 0..2_000 {
            space.check(&p).unwrap();
            p = mutate(&space, &p, &mut rng);
        }
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let p = random_params(&space, &mut rng);
            (0..10).fold(p, |p, _| mutate(&space, &p, &mut rng))
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn perturb_resample_and_neighbour_rates() {
        // Each of the two parameters changes with probability 1/2 + 1/2·1/2:
        // the float far from its bounds by ×0.8 or ×1.2 (3/4 of changes) or a
        // resample, the choice to its neighbour or a resample.
        let specs: BTreeMap<String, ParamSpec> =
            toml::from_str("x = { float = [0.0, 1000.0] }\nc = { choice = [\"a\", \"b\", \"c\"] }")
                .unwrap();
        let space = Space::from_specs(&specs).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut p = Params::new();
        p.insert("x".into(), Value::Float(100.0));
        p.insert("c".into(), Value::Text("a".into()));
        let (mut perturbed, mut neighbour) = (0, 0);
        let n = 10_000;
        for _ in 0..n {
            let q = mutate(&space, &p, &mut rng);
            let x = q["x"].as_f64().unwrap();
            if (x - 80.0).abs() < 1e-9 || (x - 120.0).abs() < 1e-9 {
                perturbed += 1;
            }
            if q["c"] == Value::Text("b".into()) {
                neighbour += 1;
            }
        }
        let share = perturbed as f64 / n as f64;
        assert!(
            (share - 0.75 * 0.75).abs() < 0.02,
            "perturbed share {share}"
        );
        // "a" moves to its only neighbour "b", or a resample lands on "b".
        let share = neighbour as f64 / n as f64;
        assert!(
            (share - 0.75 * (0.75 + 0.25 / 3.0)).abs() < 0.02,
            "neighbour share {share}"
        );
    }

    #[test]
    fn integers_always_move_when_perturbed() {
        let specs: BTreeMap<String, ParamSpec> = toml::from_str("n = { int = [1, 100] }").unwrap();
        let space = Space::from_specs(&specs).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let p: Params = [("n".to_string(), Value::Int(2))].into();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            if let Value::Int(v) = mutate(&space, &p, &mut rng)["n"] {
                seen.insert(v);
            }
        }
        assert!(seen.contains(&1) && seen.contains(&3), "{seen:?}");
    }

    #[test]
    fn crossover_mixes_parents() {
        let space = space();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let a = random_params(&space, &mut rng);
        let b = random_params(&space, &mut rng);
        let mut from_b = 0;
        for _ in 0..1_000 {
            let c = crossover(&a, &b, &mut rng);
            for (k, v) in &c {
                assert!(v == &a[k] || v == &b[k]);
                from_b += usize::from(v == &b[k] && v != &a[k]);
            }
        }
        assert!((1_000..2_000).contains(&from_b), "{from_b}");
    }

    #[test]
    fn grid_covers_the_axes() {
        let space = space();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // 3 × 3 × 3 = 27 points.
        let g = grid(&space, 27, 3, &mut rng);
        let distinct: std::collections::BTreeSet<String> = g
            .iter()
            .map(|p| serde_json::to_string(p).unwrap())
            .collect();
        assert_eq!(distinct.len(), 27);
        assert!(g.iter().any(|p| p["lr"] == Value::Float(1e-4)));
        assert!(g.iter().any(|p| p["n"] == Value::Int(16)));
        assert!(
            g.iter()
                .any(|p| (p["lr"].as_f64().unwrap() - 0.01).abs() < 1e-12)
        );
        assert_eq!(grid(&space, 30, 3, &mut rng).len(), 30);
    }
}

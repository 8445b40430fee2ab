//! Scenarios drawn at random from a seed: worlds no policy was tuned on.
//!
//! [`Scenario::random`] draws every setting from broad ranges a fleet
//! operator could meet (each uniform, or log-uniform where the scale is
//! unknown):
//!
//! | what | drawn from |
//! |---|---|
//! | bots | one of 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 40 |
//! | slots | none (no limit) with chance 0.3, else `⌈bots · u⌉`, u in [0.1, 1] |
//! | ticks | one of 500, 1000, 2000, 3000, 5000 |
//! | skill | [0.02, 0.3] (poor or broken) with chance 0.3, else [0.3, 0.95] |
//! | drift | log-uniform in [0.0001, 0.08] |
//! | demand | log-uniform in [20, 500] |
//! | noise | [0, 0.2] with chance 0.6, else [0.2, 1] |
//! | gain | [0, 0.002] (a dead end) with chance 0.15, else [0.05, 0.8] |
//! | half_energy | log-uniform in [0.5, 80] |
//! | cost_per_energy | log-uniform in [0.1, 30] × demand / 100 |
//! | eval_noise | [0, 0.05] |
//! | events | one with chance 0.2, at a tick in [0.2, 0.8] of the run, changing one to three of: the skill (to [0.02, 0.9]), the drift (× [0.2, 5]), the gain (to [0, 0.8]), the demand (× [0.5, 2]), the cost (× [0.3, 3]) |
//!
//! ```
//! use kaizen::sim::Scenario;
//!
//! let a = Scenario::random(7);
//! assert_eq!(a, Scenario::random(7));
//! assert_ne!(a, Scenario::random(8));
//! assert!(a.validate().is_ok());
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{BotSpec, Scenario};
use crate::sim::{BotEvent, BotParams, CapacityConfig};

fn log_uniform(rng: &mut ChaCha8Rng, low: f64, high: f64) -> f64 {
    (rng.random_range(low.ln()..high.ln())).exp()
}

/// A number rounded to four significant digits (readable reports).
fn round(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

impl Scenario {
    /// A scenario drawn from `seed`. See the [module docs](self).
    pub fn random(seed: u64) -> Scenario {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 40][rng.random_range(0..12)];
        let slots = if rng.random::<f64>() < 0.3 {
            0
        } else {
            (n as f64 * rng.random_range(0.1..=1.0)).ceil() as u32
        };
        let ticks = [500, 1000, 2000, 3000, 5000][rng.random_range(0..5)];
        let bots = (0..n)
            .map(|i| {
                let r = &mut rng;
                let skill = if r.random::<f64>() < 0.3 {
                    r.random_range(0.02..0.3)
                } else {
                    r.random_range(0.3..0.95)
                };
                let demand = log_uniform(r, 20.0, 500.0);
                let mut params = BotParams {
                    skill: round(skill),
                    drift: round(log_uniform(r, 0.0001, 0.08)),
                    demand: round(demand),
                    noise: round(if r.random::<f64>() < 0.6 {
                        r.random_range(0.0..0.2)
                    } else {
                        r.random_range(0.2..1.0)
                    }),
                    gain: round(if r.random::<f64>() < 0.15 {
                        r.random_range(0.0..0.002)
                    } else {
                        r.random_range(0.05..0.8)
                    }),
                    half_energy: round(log_uniform(r, 0.5, 80.0)),
                    cost_per_energy: round(log_uniform(r, 0.1, 30.0) * demand / 100.0),
                    eval_noise: round(r.random_range(0.0..0.05)),
                    events: Vec::new(),
                };
                if r.random::<f64>() < 0.2 {
                    let tick = (ticks as f64 * r.random_range(0.2..0.8)) as u64;
                    let mut event = BotEvent::at(tick);
                    let changes = r.random_range(1..=3);
                    for _ in 0..changes {
                        match r.random_range(0..5) {
                            0 => event.skill = Some(round(r.random_range(0.02..0.9))),
                            1 => {
                                let d = params.drift * r.random_range(0.2..5.0);
                                event.drift = Some(round(d.min(0.5)));
                            }
                            2 => event.gain = Some(round(r.random_range(0.0..0.8))),
                            3 => {
                                event.demand = Some(round(params.demand * r.random_range(0.5..2.0)))
                            }
                            _ => {
                                let c = params.cost_per_energy * r.random_range(0.3..3.0);
                                event.cost_per_energy = Some(round(c));
                            }
                        }
                    }
                    params.events.push(event);
                }
                BotSpec {
                    name: format!("r{i:02}"),
                    params,
                    model: None,
                }
            })
            .collect();
        Scenario {
            name: format!("random-{seed}"),
            description: format!("drawn at random from seed {seed}"),
            seed: 1,
            ticks,
            capacity: CapacityConfig {
                max_concurrent: slots,
                ..CapacityConfig::default()
            },
            bots,
            ..Scenario::default()
        }
    }
}

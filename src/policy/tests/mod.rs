//! Tests of the policy, by area. Every expected number is worked out by hand
//! in a comment next to it.

mod config;
mod file;
mod learn;
mod neural;
mod schedule;
mod select;
mod state;

use super::*;

/// A state that differs from others in its first slot only.
fn st(k: i16) -> PolicyState {
    let mut slots = [0; PolicyState::LEN];
    slots[0] = k;
    PolicyState::from_array(slots).unwrap()
}

/// A policy with `config` (validated).
fn policy(config: PolicyConfig) -> SelfImprovementPolicy {
    SelfImprovementPolicy::new(config).unwrap()
}

/// The default config with another strategy.
fn with_strategy(strategy: Strategy) -> PolicyConfig {
    PolicyConfig {
        strategy,
        ..PolicyConfig::default()
    }
}

/// `a` and `b` agree to 1e-12.
#[track_caller]
fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

//! The world's capacity: how many cycles can run in one tick, and the
//! simulated CPU and memory those cycles use.
//!
//! - [`CapacityConfig::max_concurrent`] cycle slots per tick (0: no limit).
//!   The world refuses a cycle once they are taken; the fixed policies and
//!   the oracle never ask for more.
//! - [`SimProbe`] is the registry's [`ResourceProbe`]: CPU and memory grow
//!   linearly with the cycles run in the last tick
//!   (`idle + per_cycle · cycles`, clamped to [0, 1]). It feeds the
//!   autoscaler's CPU/memory checks and the `load` input of
//!   [`CapitalEnergy`](crate::energy::CapitalEnergy).
//! - [`SlotGate`] is the engines' [`Admission`] hook, the host's fair job
//!   queue: asked once per engine tick (before the engine decides) whether
//!   the bot may start a cycle now, it books the request (fair sharing
//!   counts who asks). A bot may start one when a slot is free after one is
//!   reserved for each competing bot that has waited longer since its last
//!   cycle ([`World::request_slot`](super::World::request_slot)): who gets
//!   the slots does not depend on the order the engines tick in. A refused
//!   engine skips the tick as `no_slot` instead of starting a cycle that
//!   cannot run.
//! - [`CapacityEnergy`] is an [`EnergySource`] for the simulated engines:
//!   the share of a cycle slot the bot was granted this tick, 1 or 0. It
//!   books nothing; under a [`SlotGate`] it is read only on admitted ticks,
//!   so it gives 1 there.
//!
//! ```
//! use kaizen::host::ResourceProbe;
//! use kaizen::sim::{BotParams, CapacityConfig, SimProbe, World};
//!
//! let config = CapacityConfig { max_concurrent: 2, ..CapacityConfig::default() };
//! let world = World::new(vec![BotParams::default(); 3], config.max_concurrent, 1)?.shared();
//! let mut probe = SimProbe::new(world.clone(), config.clone());
//! assert_eq!(probe.sample(), config.resources(0));
//! # Ok::<(), kaizen::Error>(())
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::world::{SharedWorld, lock};
use crate::Result;
use crate::energy::{EnergyInputs, EnergySource};
use crate::error::ensure_unit;
use crate::host::{Admission, ResourceProbe, Resources};

/// The `[capacity]` table of a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CapacityConfig {
    /// Cycles that can run in one tick, over all bots; 0 means no limit. Default 0.
    pub max_concurrent: u32,
    /// CPU share in use with no cycle running, in [0, 1]. Default 0.1.
    pub cpu_idle: f64,
    /// CPU share each running cycle adds, in [0, 1]. Default 0.1.
    pub cpu_per_cycle: f64,
    /// Memory share in use with no cycle running, in [0, 1]. Default 0.3.
    pub memory_idle: f64,
    /// Memory share each running cycle adds, in [0, 1]. Default 0.05.
    pub memory_per_cycle: f64,
}

impl Default for CapacityConfig {
    fn default() -> Self {
        CapacityConfig {
            max_concurrent: 0,
            cpu_idle: 0.1,
            cpu_per_cycle: 0.1,
            memory_idle: 0.3,
            memory_per_cycle: 0.05,
        }
    }
}

impl CapacityConfig {
    /// Checks the shares; errors name `{prefix}.cpu_idle` and so on.
    pub fn validate(&self, prefix: &str) -> Result<()> {
        for (field, v) in [
            ("cpu_idle", self.cpu_idle),
            ("cpu_per_cycle", self.cpu_per_cycle),
            ("memory_idle", self.memory_idle),
            ("memory_per_cycle", self.memory_per_cycle),
        ] {
            ensure_unit(format!("{prefix}.{field}"), v)?;
        }
        Ok(())
    }

    /// The CPU and memory in use while `cycles` cycles run.
    ///
    /// ```
    /// use kaizen::sim::CapacityConfig;
    /// let r = CapacityConfig::default().resources(3);
    /// assert!((r.cpu - 0.4).abs() < 1e-12);     // 0.1 + 3 · 0.1
    /// assert!((r.memory - 0.45).abs() < 1e-12); // 0.3 + 3 · 0.05
    /// ```
    pub fn resources(&self, cycles: u32) -> Resources {
        let n = f64::from(cycles);
        Resources {
            cpu: (self.cpu_idle + self.cpu_per_cycle * n).clamp(0.0, 1.0),
            memory: (self.memory_idle + self.memory_per_cycle * n).clamp(0.0, 1.0),
        }
    }
}

/// The simulated machine's CPU and memory: what the cycles of the last tick used.
pub struct SimProbe {
    world: SharedWorld,
    config: CapacityConfig,
}

impl SimProbe {
    /// A probe over `world` with the loads of `config`.
    pub fn new(world: SharedWorld, config: CapacityConfig) -> Self {
        SimProbe { world, config }
    }
}

impl ResourceProbe for SimProbe {
    fn sample(&mut self) -> Resources {
        let cycles = lock(&self.world).cycles_last_tick();
        self.config.resources(cycles)
    }
}

/// The slot gate of the world's bots, by name (see the [module docs](self)).
/// Asking books the request in the world; a name the world does not know is
/// refused.
pub struct SlotGate {
    world: SharedWorld,
    bots: BTreeMap<String, usize>,
}

impl SlotGate {
    /// The gate of `world`, whose bots are named `names` (in index order).
    pub fn new(world: SharedWorld, names: &[String]) -> Self {
        let bots = names.iter().cloned().zip(0..).collect();
        SlotGate { world, bots }
    }
}

impl Admission for SlotGate {
    fn admit(&self, bot: &str) -> bool {
        self.bots
            .get(bot)
            .is_some_and(|&i| lock(&self.world).request_slot(i))
    }
}

/// An energy score of fair capacity for one bot: 1 when the world granted
/// it a cycle slot this tick, else 0. Bad inputs are refused like any energy
/// source's.
pub struct CapacityEnergy {
    world: SharedWorld,
    bot: usize,
}

impl CapacityEnergy {
    /// The source for bot `bot` (its index) of `world`.
    pub fn new(world: SharedWorld, bot: usize) -> Self {
        CapacityEnergy { world, bot }
    }
}

impl EnergySource for CapacityEnergy {
    fn energy_score(&mut self, inputs: &EnergyInputs) -> Result<f64> {
        inputs.validate()?;
        Ok(if lock(&self.world).granted(self.bot) {
            1.0
        } else {
            0.0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{BotParams, World};

    fn inputs() -> EnergyInputs {
        EnergyInputs {
            capital: 0.0,
            profit_trend: 0.0,
            load: 0.2,
            success_rate: 1.0,
            deploy_eff: 1.0,
            failure_rate: 0.0,
            reward: None,
        }
    }

    #[test]
    fn probe_follows_the_cycles_of_the_last_tick() {
        let config = CapacityConfig {
            max_concurrent: 3,
            cpu_per_cycle: 0.4,
            ..CapacityConfig::default()
        };
        let world = World::new(vec![BotParams::default(); 3], 3, 1)
            .unwrap()
            .shared();
        let mut probe = SimProbe::new(world.clone(), config);
        {
            let mut w = lock(&world);
            w.run_cycle(0, 1).unwrap();
            w.run_cycle(1, 1).unwrap();
            w.run_cycle(2, 1).unwrap();
        }
        // Nothing ended yet: the last tick had no cycles.
        assert!((probe.sample().cpu - 0.1).abs() < 1e-12);
        lock(&world).end_tick();
        // 0.1 + 3 · 0.4 = 1.3, clamped to 1.
        assert_eq!(probe.sample().cpu, 1.0);
        assert!((probe.sample().memory - 0.45).abs() < 1e-12);
    }

    fn gate(world: &SharedWorld) -> SlotGate {
        SlotGate::new(world.clone(), &["a".to_string(), "b".to_string()])
    }

    #[test]
    fn energy_is_one_when_the_bot_was_granted_a_slot() {
        let world = World::new(vec![BotParams::default(); 2], 1, 1)
            .unwrap()
            .shared();
        let gate = gate(&world);
        let mut first = CapacityEnergy::new(world.clone(), 0);
        let mut second = CapacityEnergy::new(world.clone(), 1);
        // Nothing asked yet: nothing granted.
        assert_eq!(first.energy_score(&inputs()).unwrap(), 0.0);
        assert!(gate.admit("a"));
        assert_eq!(first.energy_score(&inputs()).unwrap(), 1.0);
        lock(&world).run_cycle(0, 1).unwrap();
        assert!(!gate.admit("b"));
        assert_eq!(second.energy_score(&inputs()).unwrap(), 0.0);
        lock(&world).end_tick();
        // Bot b has waited longer: a waits for it, whoever asks first.
        assert!(!gate.admit("a"));
        assert!(gate.admit("b"));
        assert_eq!(first.energy_score(&inputs()).unwrap(), 0.0);
        assert_eq!(second.energy_score(&inputs()).unwrap(), 1.0);
        let bad = EnergyInputs {
            load: f64::NAN,
            ..inputs()
        };
        assert!(second.energy_score(&bad).is_err());
    }

    #[test]
    fn the_gate_admits_without_taking_a_slot() {
        let world = World::new(vec![BotParams::default(); 2], 1, 1)
            .unwrap()
            .shared();
        let gate = gate(&world);
        assert!(gate.admit("a"));
        // A grant takes no slot; the cycle does.
        assert_eq!(lock(&world).free_slots(), Some(1));
        lock(&world).run_cycle(0, 1).unwrap();
        assert_eq!(lock(&world).free_slots(), Some(0));
        assert!(!gate.admit("b"));
        // A bot the world does not know is refused.
        assert!(!gate.admit("nobody"));
    }

    #[test]
    fn validation_names_the_field() {
        let bad = CapacityConfig {
            memory_idle: 1.5,
            ..CapacityConfig::default()
        };
        assert_eq!(
            bad.validate("scenario.capacity").unwrap_err().to_string(),
            "invalid scenario.capacity.memory_idle = 1.5: expected a number in [0, 1]"
        );
    }
}

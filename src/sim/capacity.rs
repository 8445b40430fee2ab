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
//! - [`SlotGate`] is the hook that gates cycles by slot, the host's fair
//!   job queue: asked once per engine tick whether the bot may start a
//!   cycle now, it books the request (fair sharing counts who asks). A bot
//!   may start one when a slot is free after one is reserved for each
//!   competing bot that has waited longer since its last cycle
//!   ([`World::request_slot`](super::World::request_slot)): who gets the
//!   slots does not depend on the order the engines tick in.
//! - [`CapacityEnergy`] is an [`EnergySource`] for the simulated engines
//!   that reports a gate's answer as the score: 1 when the bot may start a
//!   cycle, 0 when not, so with any threshold in (0, 1] an engine skips as
//!   `low_energy` instead of starting a cycle that cannot run. The engine
//!   asks its energy source exactly once per tick, before it decides, which
//!   is where the gate must be asked; the score itself changes nothing.
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

use super::world::{SharedWorld, lock};
use crate::Result;
use crate::energy::{EnergyInputs, EnergySource};
use crate::error::ensure_unit;
use crate::host::{ResourceProbe, Resources};

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

/// The slot gate of one bot: whether it may start a cycle now (see the
/// [module docs](self)). Asking books the request in the world.
pub struct SlotGate {
    world: SharedWorld,
    bot: usize,
}

impl SlotGate {
    /// The gate of bot `bot` (its index) in `world`.
    pub fn new(world: SharedWorld, bot: usize) -> Self {
        SlotGate { world, bot }
    }

    /// Whether the bot may start a cycle now; books the request.
    pub fn admit(&mut self) -> bool {
        lock(&self.world).request_slot(self.bot)
    }
}

/// An energy score of fair capacity for one bot: 1 when its [`SlotGate`]
/// admits a cycle now, else 0. Bad inputs are refused like any energy
/// source's (before the gate is asked).
pub struct CapacityEnergy {
    gate: SlotGate,
}

impl CapacityEnergy {
    /// The source for the engine whose bot `gate` admits.
    pub fn new(gate: SlotGate) -> Self {
        CapacityEnergy { gate }
    }
}

impl EnergySource for CapacityEnergy {
    fn energy_score(&mut self, inputs: &EnergyInputs) -> Result<f64> {
        inputs.validate()?;
        Ok(if self.gate.admit() { 1.0 } else { 0.0 })
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

    #[test]
    fn energy_is_one_when_the_bot_may_start_a_cycle() {
        let world = World::new(vec![BotParams::default(); 2], 1, 1)
            .unwrap()
            .shared();
        let mut first = CapacityEnergy::new(SlotGate::new(world.clone(), 0));
        let mut second = CapacityEnergy::new(SlotGate::new(world.clone(), 1));
        assert_eq!(first.energy_score(&inputs()).unwrap(), 1.0);
        lock(&world).run_cycle(0, 1).unwrap();
        assert_eq!(second.energy_score(&inputs()).unwrap(), 0.0);
        lock(&world).end_tick();
        // Bot 1 has waited longer: bot 0 waits for it, whoever asks first.
        assert_eq!(first.energy_score(&inputs()).unwrap(), 0.0);
        assert_eq!(second.energy_score(&inputs()).unwrap(), 1.0);
        let source = &mut first;
        let bad = EnergyInputs {
            load: f64::NAN,
            ..inputs()
        };
        assert!(source.energy_score(&bad).is_err());
    }

    #[test]
    fn the_gate_admits_without_taking_a_slot() {
        let world = World::new(vec![BotParams::default(); 2], 1, 1)
            .unwrap()
            .shared();
        let mut gate = SlotGate::new(world.clone(), 0);
        assert!(gate.admit());
        // A grant takes no slot; the cycle does.
        assert_eq!(lock(&world).free_slots(), Some(1));
        lock(&world).run_cycle(0, 1).unwrap();
        assert_eq!(lock(&world).free_slots(), Some(0));
        assert!(!SlotGate::new(world.clone(), 1).admit());
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

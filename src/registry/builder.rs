//! [`RegistryBuilder`]: what a registry starts with (its clock, resource
//! probe, autoscale hooks, services and state lock) and starting it.

use actix::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    Approval, Budget, EngineFactory, ImprovementEngineRegistry, Latencies, RegistryConfig,
    RegistryFile, RegistryHandle, TickTimings,
};
use crate::host::{Clock, FixedProbe, ResourceProbe, SysinfoProbe, SystemClock};
use crate::runtime::{PipelineSlots, Services, StateLock};
use crate::{Error, Result};

/// Starts a registry.
pub struct RegistryBuilder {
    config: RegistryConfig,
    clock: Arc<dyn Clock>,
    probe: Option<Box<dyn ResourceProbe>>,
    factory: Option<EngineFactory>,
    approval: Option<Approval>,
    budget: Option<Budget>,
    services: Option<Services>,
    lock: Option<StateLock>,
}

impl RegistryBuilder {
    /// A builder with `config` and nothing else set.
    pub(super) fn new(config: RegistryConfig) -> Self {
        RegistryBuilder {
            config,
            clock: Arc::new(SystemClock),
            probe: None,
            factory: None,
            approval: None,
            budget: None,
            services: None,
            lock: None,
        }
    }

    /// The state folder's lock, when the caller took it already (the CLI
    /// does, before it touches the folder). Without it, `start` takes the
    /// lock of `state_root` itself.
    pub fn state_lock(mut self, lock: StateLock) -> Self {
        self.lock = Some(lock);
        self
    }

    /// The clock cycles are stamped with (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The CPU/memory probe (default: [`SysinfoProbe`], which waits ~200 ms
    /// for its first reading).
    pub fn probe(mut self, probe: impl ResourceProbe + 'static) -> Self {
        self.probe = Some(Box::new(probe));
        self
    }

    /// How the autoscaler builds new engines.
    pub fn factory(mut self, factory: EngineFactory) -> Self {
        self.factory = Some(factory);
        self
    }

    /// Asked before each autoscale create or remove.
    pub fn approval(mut self, approval: Approval) -> Self {
        self.approval = Some(approval);
        self
    }

    /// The `check_budget()` hook of the adaptive autoscaler: asked before it
    /// creates an engine (default: always yes).
    pub fn check_budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The bot locks, learner pool and state writer the registry's engines
    /// use (default: the process-wide ones).
    pub fn services(mut self, services: Services) -> Self {
        self.services = Some(services);
        self
    }

    /// Starts the registry actor on the current arbiter, and its worker
    /// arbiters. Must be called inside an actix system
    /// ([`Error::NoActixSystem`] otherwise). With a `state_root`, the
    /// registry holds the folder's [`StateLock`] until it has shut down:
    /// another registry on the same folder, in this process or another, is
    /// refused with [`Error::StateLocked`].
    pub fn start(self) -> Result<RegistryHandle> {
        if actix::System::try_current().is_none() {
            return Err(Error::NoActixSystem {
                what: "RegistryHandle::builder(…).start()",
            });
        }
        self.config.autoscale.validate()?;
        self.config.alerts.validate()?;
        let alerts = Arc::new(self.config.alerts.clone());
        let mut lock = match (&self.config.state_root, self.lock) {
            (None, _) => None,
            (Some(root), Some(lock)) if lock.root() == root => Some(lock),
            (Some(root), Some(lock)) => {
                return Err(Error::invalid(
                    "registry state lock",
                    lock.root().display(),
                    format!("the lock of the state root {}", root.display()),
                ));
            }
            (Some(root), None) => Some(StateLock::acquire(root)?),
        };
        let probe: Box<dyn ResourceProbe> = match self.probe {
            Some(p) => p,
            None => match SysinfoProbe::new() {
                Ok(p) => Box::new(p),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read CPU and memory use; assuming an idle machine");
                    Box::new(FixedProbe::default())
                }
            },
        };
        let earlier = match &self.config.state_root {
            Some(root) => super::state::load(root)?.unwrap_or_default(),
            None => RegistryFile::default(),
        };
        let services = match self.config.max_running_pipelines {
            Some(n) => Services {
                pipelines: PipelineSlots::new(n),
                ..self.services.unwrap_or_default()
            },
            None => self.services.unwrap_or_default(),
        };
        // Durable saves under the root go through its write-ahead log.
        if let Some(lock) = &mut lock {
            lock.attach_log(&services.writer)?;
        }
        let events = crate::decision::channel();
        let timings = Arc::new(TickTimings::default());
        let registry = ImprovementEngineRegistry {
            workers: super::Workers::new(self.config.arbiters),
            config: self.config,
            clock: self.clock,
            probe,
            entries: BTreeMap::new(),
            next_created: 0,
            events: events.clone(),
            services,
            factory: self.factory,
            approval: self.approval,
            budget: self.budget,
            baseline: earlier.baseline,
            pass_rate: 1.0,
            last_change: earlier.last_change,
            autoscale_log: earlier.autoscale.into_iter().collect(),
            dormant: earlier
                .engines
                .into_iter()
                .map(|e| (Arc::from(e.name.as_str()), e))
                .collect(),
            timer: None,
            round_running: false,
            dropped_ticks: 0,
            latency: Latencies::default(),
            timings: timings.clone(),
            registry_save_pending: false,
            generations: 0,
            retiring: BTreeMap::new(),
            scaling: false,
            stopping: false,
            lock,
        };
        Ok(RegistryHandle {
            addr: registry.start(),
            events,
            timings,
            alerts,
        })
    }
}

//! [`EngineBuilder`]: every engine setting, SPEC's defaults, and the host hooks.

use actix::{Actor, Addr, WeakRecipient};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::actor::{SelfImprovementEngine, Wiring};
use super::messages::EngineExited;
use super::validate_name;
use crate::Result;
use crate::cycle::{EnergyFactory, EngineConfig, EngineCore, Hosts, Persistence};
use crate::decision::DecisionSender;
use crate::energy::{CapitalEnergy, ENERGY_FILE, EnergySource};
use crate::host::{Admission, Clock, Diagnostics, ProfitSource, RoiForecast, SystemClock};
use crate::pipeline::Pipeline;
use crate::policy::PolicyConfig;
use crate::roi::RoiConfig;
use crate::runtime::Services;
use crate::synergy::LearnerConfig;
use crate::training::TrainingPipeline;

/// Builds a [`SelfImprovementEngine`]. Cheap to clone: a registry keeps the
/// builder of each engine it supervises and builds it again, from its saved
/// state, when the engine has to be restarted.
///
/// ```
/// use kaizen::cycle::Persistence;
/// use kaizen::engine::EngineBuilder;
/// use kaizen::pipeline::{AutomationResult, pipeline_fn};
/// use std::time::Duration;
///
/// let builder = EngineBuilder::new("alpha", pipeline_fn(|_: &str, _: u32| async {
///         Ok(AutomationResult::default())
///     }))
///     .interval(Duration::from_secs(600))
///     .energy_threshold(0.4)
///     .capital_energy();
/// assert_eq!(builder.name(), "alpha");
/// assert_eq!(builder.config().energy_threshold, 0.4);
/// ```
#[derive(Clone)]
pub struct EngineBuilder {
    name: String,
    bot: Option<String>,
    pipeline: Arc<dyn Pipeline>,
    config: EngineConfig,
    state_root: Option<PathBuf>,
    hosts: Hosts,
    energy: Option<EnergyFactory>,
    clock: Option<Arc<dyn Clock>>,
    services: Option<Services>,
    origin: Option<Origin>,
    events: Option<DecisionSender>,
    training: Option<TrainingPipeline>,
}

/// Where an engine comes from, as `registry.json` records it.
///
/// In the file it is text, as round 1 wrote it: a spec file's path, or
/// `copy of <bot>` for an engine autoscaling made from a template. Reading
/// the text back ([`Origin::from_recorded`]) is the one place it is parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Built from this engine spec file.
    Spec(PathBuf),
    /// Made by autoscaling as a copy of this bot's engine.
    Template(String),
}

/// How `registry.json` writes [`Origin::Template`].
const TEMPLATE_PREFIX: &str = "copy of ";

impl Origin {
    /// The origin `registry.json` recorded as `text`.
    ///
    /// ```
    /// use kaizen::engine::Origin;
    /// assert_eq!(Origin::from_recorded("copy of alpha"), Origin::Template("alpha".into()));
    /// assert_eq!(Origin::from_recorded("engines/alpha.toml"), Origin::Spec("engines/alpha.toml".into()));
    /// assert_eq!(Origin::Template("alpha".into()).to_string(), "copy of alpha");
    /// ```
    pub fn from_recorded(text: &str) -> Self {
        match text.strip_prefix(TEMPLATE_PREFIX) {
            Some(bot) => Origin::Template(bot.to_string()),
            None => Origin::Spec(PathBuf::from(text)),
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Spec(path) => write!(f, "{}", path.display()),
            Origin::Template(bot) => write!(f, "{TEMPLATE_PREFIX}{bot}"),
        }
    }
}

impl serde::Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Origin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Origin::from_recorded(&text))
    }
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("name", &self.name)
            .field("bot", &self.bot_name())
            .field("config", &self.config)
            .field("state_dir", &self.state_dir())
            .finish_non_exhaustive()
    }
}

impl EngineBuilder {
    /// An engine called `name` (also its bot's name, unless [`bot`](Self::bot)
    /// says otherwise) running `pipeline`, with every SPEC default, no state
    /// folder, no profit source and no energy source.
    pub fn new(name: impl Into<String>, pipeline: impl Pipeline) -> Self {
        Self::with_pipeline(name, Arc::new(pipeline))
    }

    /// As [`new`](Self::new), with a pipeline already shared.
    pub fn with_pipeline(name: impl Into<String>, pipeline: Arc<dyn Pipeline>) -> Self {
        EngineBuilder {
            name: name.into(),
            bot: None,
            pipeline,
            config: EngineConfig::default(),
            state_root: None,
            hosts: Hosts::default(),
            energy: None,
            clock: None,
            services: None,
            origin: None,
            events: None,
            training: None,
        }
    }

    /// An engine running kaizen's [`TrainingPipeline`] for its bot (the
    /// engine's bot must be the pipeline's). Besides running it, the engine
    /// shows the pipeline's [`TrainingStatus`](crate::training::TrainingStatus)
    /// in its snapshot and carries out [`ChangeModel`](super::ChangeModel).
    pub fn with_training(name: impl Into<String>, pipeline: TrainingPipeline) -> Self {
        Self::with_training_run_by(name, pipeline.clone(), Arc::new(pipeline))
    }

    /// As [`with_training`](Self::with_training), with each cycle run by
    /// `runs` (a [`VariantPipeline`](crate::pipeline::VariantPipeline) that
    /// trains each variant with its hyperparameters), which drives
    /// `training`.
    pub fn with_training_run_by(
        name: impl Into<String>,
        training: TrainingPipeline,
        runs: Arc<dyn Pipeline>,
    ) -> Self {
        let mut builder = Self::with_pipeline(name, runs);
        builder.training = Some(training);
        builder
    }

    /// The training pipeline, when the engine runs one.
    pub fn training(&self) -> Option<&TrainingPipeline> {
        self.training.as_ref()
    }

    /// The engine's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bot's name (the engine's name unless set).
    pub fn bot_name(&self) -> &str {
        self.bot.as_deref().unwrap_or(&self.name)
    }

    /// The settings so far.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Another name, keeping everything else (the autoscaler's factories use this).
    pub fn renamed(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The bot this engine improves, when it is not the engine's name.
    pub fn bot(mut self, bot: impl Into<String>) -> Self {
        self.bot = Some(bot.into());
        self
    }

    /// Replaces every setting.
    pub fn config_all(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// How ticks decide (default: the state folder's saved mode, `Chain`
    /// for a folder from before the modes, `Learned` for a new engine; see
    /// [`DecisionMode`](crate::cycle::DecisionMode)).
    pub fn decision(mut self, mode: crate::cycle::DecisionMode) -> Self {
        self.config.decision = Some(mode);
        self
    }

    /// A cycle is forced when this long has passed since the last (default 1 h).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.config.interval = interval;
        self
    }

    /// Ticks with an energy score under this are skipped (default 0.5).
    pub fn energy_threshold(mut self, threshold: f64) -> Self {
        self.config.energy_threshold = threshold;
        self
    }

    /// The pipeline's timeout (default 15 min).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// The policy's settings.
    pub fn policy(mut self, policy: PolicyConfig) -> Self {
        self.config.policy = policy;
        self
    }

    /// The ROI tracker's settings.
    pub fn roi(mut self, roi: RoiConfig) -> Self {
        self.config.roi = roi;
        self
    }

    /// The synergy learner (default: the weight learner).
    pub fn learner(mut self, learner: LearnerConfig) -> Self {
        self.config.learner = learner;
        self
    }

    /// When state is written (default: after every cycle, with fsync).
    pub fn persistence(mut self, persistence: Persistence) -> Self {
        self.config.persistence = persistence;
        self
    }

    /// Keep state in `root/<engine name>/` (SPEC §9); loaded when the engine is built.
    pub fn state_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.state_root = Some(root.into());
        self
    }

    /// The folder this engine's state lives in, if it persists.
    pub fn state_dir(&self) -> Option<PathBuf> {
        self.state_root.as_ref().map(|r| r.join(&self.name))
    }

    /// The host's ledger, read before and after every pipeline run.
    pub fn profit_source(mut self, source: Arc<dyn ProfitSource>) -> Self {
        self.hosts.profit = Some(source);
        self
    }

    /// A pre-cycle ROI forecaster.
    pub fn forecast(mut self, forecast: Arc<dyn RoiForecast>) -> Self {
        self.hosts.forecast = Some(forecast);
        self
    }

    /// Diagnostics whose non-empty report forces a cycle.
    pub fn diagnostics(mut self, diagnostics: Arc<dyn Diagnostics>) -> Self {
        self.hosts.diagnostics = Some(diagnostics);
        self
    }

    /// The host's admission to a cycle slot ([`Admission`]), asked at every
    /// tick before the engine decides.
    pub fn admission(mut self, admission: Arc<dyn Admission>) -> Self {
        self.hosts.admission = Some(admission);
        self
    }

    /// Use [`CapitalEnergy`] (SPEC §7) as the energy source, kept in `energy.json`.
    pub fn capital_energy(mut self) -> Self {
        self.energy = Some(Arc::new(|dir| {
            Ok(Box::new(match dir {
                Some(d) => CapitalEnergy::load(&d.join(ENERGY_FILE))?,
                None => CapitalEnergy::new(),
            }) as Box<dyn EnergySource>)
        }));
        self
    }

    /// Use the host's energy source; `make` gets the state folder (if any) and
    /// is called each time the engine is built or restarted.
    pub fn energy_source(
        mut self,
        make: impl Fn(Option<&std::path::Path>) -> Result<Box<dyn EnergySource>> + Send + Sync + 'static,
    ) -> Self {
        self.energy = Some(Arc::new(make));
        self
    }

    /// The clock for cycles asked for directly (ticks carry their own time).
    /// Default: the registry's clock under a registry, else the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// `clock`, unless one was set.
    pub(crate) fn default_clock(mut self, clock: &Arc<dyn Clock>) -> Self {
        self.clock.get_or_insert_with(|| clock.clone());
        self
    }

    /// The bot locks, learner pool and state writer this engine uses
    /// (default: the process-wide ones; a registry gives its own).
    pub fn services(mut self, services: Services) -> Self {
        self.services = Some(services);
        self
    }

    /// Where this engine comes from (a spec file, a template), as kept in
    /// `registry.json`.
    pub fn origin(mut self, origin: Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Where this engine comes from, if said.
    pub fn origin_of(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    /// Publish every cycle record on this decision stream.
    pub fn decisions(mut self, events: DecisionSender) -> Self {
        self.events = Some(events);
        self
    }

    /// Builds the engine, loading its saved state. Refuses an invalid name or
    /// setting, and a state file from a newer kaizen.
    pub fn build(&self) -> Result<SelfImprovementEngine> {
        self.build_supervised(None, 0)
    }

    /// Builds and starts the engine on the current arbiter; inside an actix
    /// system only ([`Error::NoActixSystem`](crate::Error::NoActixSystem) otherwise).
    pub fn start(&self) -> Result<Addr<SelfImprovementEngine>> {
        if actix::System::try_current().is_none() {
            return Err(crate::Error::NoActixSystem {
                what: "EngineBuilder::start",
            });
        }
        Ok(self.build()?.start())
    }

    pub(crate) fn build_supervised(
        &self,
        watcher: Option<WeakRecipient<EngineExited>>,
        generation: u64,
    ) -> Result<SelfImprovementEngine> {
        validate_name("engine name", &self.name)?;
        validate_name("bot_name", self.bot_name())?;
        if let Some(t) = &self.training
            && t.bot() != self.bot_name()
        {
            return Err(crate::Error::invalid(
                format!("bot of engine {}", self.name),
                self.bot_name(),
                format!("{:?}, the bot its training pipeline trains", t.bot()),
            ));
        }
        let bot: Arc<str> = Arc::from(self.bot_name());
        let services = self.services.clone().unwrap_or_default();
        let lock = services.locks.lock_for(&bot);
        let core = EngineCore::open(
            Arc::from(self.name.as_str()),
            bot,
            self.config.clone(),
            self.state_dir(),
            self.energy.as_ref(),
        )?;
        Ok(SelfImprovementEngine::new(
            core,
            Wiring {
                pipeline: self.pipeline.clone(),
                hosts: self.hosts.clone(),
                clock: self.clock.clone().unwrap_or_else(|| Arc::new(SystemClock)),
                lock,
                learners: services.learners,
                writer: services.writer,
                slots: services.pipelines,
                events: self.events.clone(),
                watcher,
                generation,
                training: self.training.clone(),
            },
        ))
    }
}

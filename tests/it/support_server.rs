//! A real fleet behind a real HTTP server, on its own actix thread, for the
//! server tests: engines with no-op (or failing) pipelines on a manual
//! clock, the history, the monitor and the server on an ephemeral port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use kaizen::history::{History, HistoryConfig, LogConfig};
use kaizen::host::{FixedProbe, ManualClock, Resources};
use kaizen::monitor::{Monitor, MonitorConfig, MonitorParts};
use kaizen::persist::Durability;
use kaizen::pipeline::{AutomationResult, PipelineError, RoiResult, pipeline_fn};
use kaizen::registry::{RegistryConfig, RegistryHandle};
use kaizen::server::{
    LiveObserver, LiveState, RateLimit, Server, ServerConfig, ServerParts, Token,
};
use tokio::sync::{mpsc, oneshot};

use super::support::{append_linear, builder, small_regression};

/// The token the test servers take.
pub const SECRET: &str = "0123456789abcdef0123";
/// Its name, as the audit trail records it.
pub const WHO: &str = "tester";

/// How a test fleet is set up.
#[derive(Clone)]
pub struct Setup {
    /// Bots whose pipeline succeeds, with an ROI of 0.1·energy.
    pub bots: Vec<&'static str>,
    /// Bots whose pipeline always fails.
    pub broken: Vec<&'static str>,
    /// Bots that run kaizen's training pipeline on `state/<bot>.csv`
    /// ([`small_regression`](super::support::small_regression)), which
    /// starts with 100 rows of `y = 2x + 1`.
    pub trained: Vec<&'static str>,
    /// Bots whose pipeline runs a population of 4 variants of `x` in
    /// [0.1, 1.0] (state in `state/<bot>/variants.json`); variant `i`
    /// earns an ROI of 0.1·energy + 0.01·i.
    pub variants: Vec<&'static str>,
    /// Where the server listens.
    pub listen: SocketAddr,
    /// Requests a second per client.
    pub rate: f64,
    /// Allowed CORS origins.
    pub cors: Vec<String>,
    /// The largest body.
    pub body_limit: usize,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            bots: vec!["alpha", "beta"],
            broken: vec![],
            trained: vec![],
            variants: vec![],
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            rate: 10_000.0,
            cors: vec![],
            body_limit: 64 << 10,
        }
    }
}

/// Runs a variant: an ROI of 0.1·energy + 0.01·(its id).
struct Earns;

impl kaizen::pipeline::VariantRunner for Earns {
    fn run_variant(
        &self,
        _: &str,
        energy: u32,
        a: &kaizen::variants::Assignment,
    ) -> kaizen::pipeline::PipelineFuture {
        let roi = 0.1 * f64::from(energy) + 0.01 * a.variant as f64;
        Box::pin(async move {
            Ok(AutomationResult {
                roi: Some(RoiResult {
                    roi,
                    ..Default::default()
                }),
                ..Default::default()
            })
        })
    }
}

enum Command {
    Round(oneshot::Sender<()>),
    Stop,
}

/// A running fleet; stops when dropped.
pub struct Fleet {
    pub addr: SocketAddr,
    pub state: tempfile::TempDir,
    commands: mpsc::UnboundedSender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl Fleet {
    pub fn start(setup: Setup) -> Fleet {
        let state = tempfile::tempdir().unwrap();
        let root = state.path().to_path_buf();
        let clock = ManualClock::new(1_800_000_000.0);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread_clock = clock.clone();
        let thread = std::thread::spawn(move || {
            actix::System::new().block_on(async move {
                let clock = thread_clock;
                let registry = RegistryHandle::builder(RegistryConfig {
                    state_root: Some(root.clone()),
                    arbiters: 1,
                    // Not the default: the API shows the rules in effect,
                    // which the monitor takes from the registry's settings.
                    alerts: kaizen::alert::AlertConfig {
                        resource_use: 0.9,
                        ..Default::default()
                    },
                    ..RegistryConfig::default()
                })
                .clock(Arc::new(clock.clone()))
                .probe(FixedProbe::default())
                .start()
                .unwrap();
                let history = Arc::new(
                    History::open(
                        &root,
                        HistoryConfig {
                            log: LogConfig {
                                durability: Durability::Atomic,
                                ..LogConfig::history()
                            },
                            audit: LogConfig {
                                durability: Durability::Atomic,
                                ..LogConfig::audit()
                            },
                            ..HistoryConfig::default()
                        },
                        Arc::new(clock.clone()),
                    )
                    .unwrap(),
                );
                let live = Arc::new(LiveState::default());
                let monitor = Monitor::start(
                    MonitorParts {
                        history: Some(history.clone()),
                        state_root: Some(root.clone()),
                        observers: vec![Box::new(LiveObserver(live.clone()))],
                        ..MonitorParts::new(
                            &registry,
                            Arc::new(clock.clone()),
                            Box::new(FixedProbe::new(Resources {
                                cpu: 0.1,
                                memory: 0.2,
                            })),
                        )
                    },
                    MonitorConfig {
                        evaluate_every: Duration::from_millis(50),
                        ..MonitorConfig::default()
                    },
                )
                .unwrap();
                for (i, bot) in setup.bots.iter().enumerate() {
                    // ROI 0.1·energy, plus a wave that differs per bot from
                    // the second run on (so charts have a shape).
                    let runs = Arc::new(std::sync::atomic::AtomicU64::new(0));
                    let ok = pipeline_fn(move |_: &str, energy: u32| {
                        let n = runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as f64;
                        let wave = 0.3 * (0.9 * n + i as f64).sin() * (n > 0.0) as u8 as f64;
                        async move {
                            Ok(AutomationResult {
                                roi: Some(RoiResult {
                                    roi: 0.1 * f64::from(energy) + wave,
                                    ..Default::default()
                                }),
                                ..Default::default()
                            })
                        }
                    });
                    registry
                        .register_engine(builder(bot, ok, &clock))
                        .await
                        .unwrap();
                }
                for bot in &setup.broken {
                    let failing = pipeline_fn(|_: &str, _: u32| async {
                        Err(PipelineError::Failed("the build broke".into()))
                    });
                    registry
                        .register_engine(builder(bot, failing, &clock))
                        .await
                        .unwrap();
                }
                let pool = Arc::new(kaizen::training::TrainingPool::new(1));
                for bot in &setup.trained {
                    append_linear(&root.join(format!("{bot}.csv")), 100, (2.0, 1.0));
                    let pipeline = kaizen::training::TrainingPipeline::open(
                        bot,
                        &root.join(bot),
                        small_regression(&root.join(format!("{bot}.csv"))),
                        pool.clone(),
                        Arc::new(clock.clone()),
                    )
                    .unwrap();
                    let engine = kaizen::engine::EngineBuilder::with_training(*bot, pipeline)
                        .clock(Arc::new(clock.clone()));
                    registry.register_engine(engine).await.unwrap();
                }
                let fleet = kaizen::pipeline::SharedFleet::open(
                    kaizen::variants::Fleet::new(0.05, None).unwrap(),
                    None,
                )
                .unwrap();
                for bot in &setup.variants {
                    std::fs::create_dir_all(root.join(bot)).unwrap();
                    let spec: kaizen::variants::VariantsSpec = toml::from_str(
                        "seed = 3\n[evolution]\nsize = 4\n[space]\nx = { float = [0.1, 1.0] }\n",
                    )
                    .unwrap();
                    let pipeline = kaizen::pipeline::VariantPipeline::with_runner(
                        bot,
                        spec,
                        Arc::new(Earns),
                        Some(root.join(bot).join("variants.json")),
                        fleet.clone(),
                    )
                    .unwrap()
                    .with(Arc::new(clock.clone()), Durability::Atomic);
                    registry
                        .register_engine(builder(bot, pipeline, &clock))
                        .await
                        .unwrap();
                }
                let server = Server::start(
                    ServerConfig {
                        listen: setup.listen,
                        rate_limit: RateLimit {
                            per_second: setup.rate,
                            burst: setup.rate.ceil() as u32,
                        },
                        cors_origins: setup.cors.clone(),
                        body_limit: setup.body_limit,
                        refresh_every: Duration::from_millis(100),
                        ..ServerConfig::default()
                    },
                    ServerParts {
                        registry: registry.clone(),
                        token: Token::parse(&format!("{WHO}:{SECRET}"), "test").unwrap(),
                        state_root: Some(root.clone()),
                        history: Some(history.clone()),
                        live,
                        monitor: Some(monitor.stats()),
                        autoscale: kaizen::autoscale::AutoscaleConfig::default(),
                        clock: Arc::new(clock.clone()),
                    },
                )
                .unwrap();
                ready_tx.send(server.addr()).unwrap();
                while let Some(cmd) = rx.recv().await {
                    match cmd {
                        Command::Round(done) => {
                            clock.advance(3600.0);
                            registry.run_all_cycles().await.unwrap();
                            let _ = done.send(());
                        }
                        Command::Stop => break,
                    }
                }
                server.stop().await;
                registry.shutdown().await.unwrap();
                monitor.stop();
                drop(history);
            });
        });
        let addr = ready_rx.recv_timeout(Duration::from_secs(60)).unwrap();
        Fleet {
            addr,
            state,
            commands: tx,
            thread: Some(thread),
        }
    }

    /// Runs one round of every engine (an hour later: every engine cycles).
    pub fn round(&self) {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Round(tx)).unwrap();
        rx.blocking_recv().unwrap();
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An HTTP answer: status, content type and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The `code` of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut r = r.unwrap();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Answer {
        status: r.status().as_u16(),
        content_type,
        body: r.body_mut().read_to_string().unwrap(),
    }
}

/// `GET url`, with the token when given.
pub fn get(url: &str, token: Option<&str>) -> Answer {
    let mut req = agent().get(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    answer(req.call())
}

/// `POST url` with a JSON `body`, with the token when given.
pub fn post(url: &str, token: Option<&str>, body: &str) -> Answer {
    let mut req = agent().post(url).header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    answer(req.send(body))
}

//! What `kaizen run` starts beside its engines: the history (on unless
//! `--no-history`), the monitor that fills it and raises alerts, and with
//! `--listen` the HTTP control plane.

use anyhow::{Context, Result};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kaizen::alert::AlertConfig;
use kaizen::autoscale::AutoscaleConfig;
use kaizen::history::{AuditEntry, CLI, History, HistoryConfig};
use kaizen::host::{Clock, FixedProbe, ResourceProbe, SysinfoProbe, SystemClock};
use kaizen::monitor::{Monitor, MonitorConfig, MonitorParts, Observer};
use kaizen::registry::RegistryHandle;

/// The flags of `kaizen run` for history, alerts and the server.
#[derive(Debug, Clone, clap::Args)]
pub struct ObserveArgs {
    /// Serve the HTTP API, /metrics and the dashboard on this address
    /// (loopback unless said otherwise; beyond loopback every read needs the token).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:9464")]
    pub listen: Option<SocketAddr>,
    /// Keep no cycle history (and no audit trail).
    #[arg(long)]
    pub no_history: bool,
    /// Alert thresholds: a TOML file whose keys (error_rate,
    /// latency_p99_secs, resource_use, …) override the registry's settings,
    /// which are the defaults otherwise.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// An origin allowed to call the API from a browser (repeatable; none by default).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Requests a second each client address may make to the server.
    #[arg(long, default_value_t = 50.0, value_name = "N")]
    pub rate_limit: f64,
}

/// The alert thresholds of `kaizen run`: the registry's settings `base`,
/// with the keys of the `--alerts` file over them.
pub fn alert_config(base: &AlertConfig, path: Option<&PathBuf>) -> Result<AlertConfig> {
    let Some(path) = path else {
        return Ok(base.clone());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let overrides: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    base.overridden_by(overrides)
        .with_context(|| format!("{}", path.display()))
}

/// The history, monitor and server of one `kaizen run`.
pub struct Observing {
    history: Option<Arc<History>>,
    monitor: Option<Monitor>,
    #[cfg(feature = "server")]
    server: Option<kaizen::server::Server>,
    /// The state folder, where a listening server records its address.
    #[cfg(feature = "server")]
    state: PathBuf,
}

/// Records an action of the command line in the audit trail, when there is one.
pub fn audit(history: Option<&History>, entry: AuditEntry) {
    if let Some(h) = history
        && let Err(e) = h.audit().append(&entry)
    {
        eprintln!(
            "kaizen: the audit trail could not record {}: {e}",
            entry.action
        );
    }
}

impl Observing {
    /// Opens the history, subscribes the monitor (before any engine starts,
    /// so it misses nothing) and starts the server. Must run on the actix system.
    pub fn start(
        args: &ObserveArgs,
        state: &std::path::Path,
        registry: &RegistryHandle,
        autoscale: &AutoscaleConfig,
    ) -> Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let history = if args.no_history {
            None
        } else {
            Some(Arc::new(
                History::open(state, HistoryConfig::default(), clock.clone())
                    .context("cannot open the cycle history (--no-history runs without one)")?,
            ))
        };
        #[allow(unused_mut)]
        let mut observers: Vec<Box<dyn Observer>> = Vec::new();
        #[cfg(feature = "server")]
        let live = Arc::new(kaizen::server::LiveState::default());
        #[cfg(feature = "server")]
        if args.listen.is_some() {
            observers.push(Box::new(kaizen::server::LiveObserver(live.clone())));
        }
        let probe: Box<dyn ResourceProbe> = match SysinfoProbe::new() {
            Ok(p) => Box::new(p),
            Err(_) => Box::new(FixedProbe::default()),
        };
        let monitor = Monitor::start(
            MonitorParts {
                history: history.clone(),
                state_root: Some(state.to_path_buf()),
                observers,
                ..MonitorParts::new(registry, clock.clone(), probe)
            },
            // The alert thresholds are the registry's settings.
            MonitorConfig::default(),
        )?;
        #[cfg(feature = "server")]
        let server = match args.listen {
            None => None,
            Some(listen) => Some(serve(
                args,
                listen,
                kaizen::server::ServerParts {
                    registry: registry.clone(),
                    token: api_token(state)?,
                    state_root: Some(state.to_path_buf()),
                    history: history.clone(),
                    live,
                    monitor: Some(monitor.stats()),
                    autoscale: autoscale.clone(),
                    clock,
                },
            )?),
        };
        #[cfg(not(feature = "server"))]
        {
            let _ = autoscale;
            if args.listen.is_some() {
                anyhow::bail!("--listen needs a kaizen built with the `server` feature");
            }
        }
        audit(
            history.as_deref(),
            AuditEntry::new(SystemClock.now(), CLI, "fleet.start").with_detail(match args.listen {
                Some(a) => format!("kaizen run, serving on {a}"),
                None => "kaizen run".into(),
            }),
        );
        // `kaizen models activate|rollback` finds the API through it.
        #[cfg(feature = "server")]
        if let Some(server) = &server
            && let Err(e) = kaizen::server::ServerAddress::publish(state, server.addr())
        {
            eprintln!(
                "kaizen: the server's address could not be recorded in the state folder: {e}"
            );
        }
        Ok(Observing {
            history,
            monitor: Some(monitor),
            #[cfg(feature = "server")]
            server,
            #[cfg(feature = "server")]
            state: state.to_path_buf(),
        })
    }

    /// Stops the server, lets the monitor take in the last records, and
    /// writes what the history still holds. Call after the registry's shutdown.
    pub async fn stop(mut self) {
        #[cfg(feature = "server")]
        if let Some(server) = self.server.take() {
            kaizen::server::ServerAddress::withdraw(&self.state);
            server.stop().await;
        }
        if let Some(monitor) = self.monitor.take() {
            monitor.stop();
        }
        audit(
            self.history.as_deref(),
            AuditEntry::new(SystemClock.now(), CLI, "fleet.stop").with_detail("kaizen run stopped"),
        );
        if let Some(history) = self.history.take()
            && let Ok(Err(e)) = history.flush().await
        {
            eprintln!("kaizen: the history could not be written: {e}");
        }
    }
}

/// The API token: `KAIZEN_TOKEN`, or `state/.kaizen/token` (generated and
/// announced at the first start; its secret is printed only on a terminal).
#[cfg(feature = "server")]
fn api_token(state: &std::path::Path) -> Result<kaizen::server::Token> {
    use kaizen::server::{TokenSource, auth};
    let (token, source) = auth::load_or_generate(state, std::env::var(auth::TOKEN_ENV).ok())?;
    if let TokenSource::Generated(path) = &source {
        if std::io::stderr().is_terminal() {
            eprintln!(
                "kaizen: API token (kept in {}): {}",
                path.display(),
                token.secret()
            );
        } else {
            eprintln!("kaizen: API token generated into {}", path.display());
        }
    }
    Ok(token)
}

#[cfg(feature = "server")]
fn serve(
    args: &ObserveArgs,
    listen: SocketAddr,
    parts: kaizen::server::ServerParts,
) -> Result<kaizen::server::Server> {
    use kaizen::server::{RateLimit, Server, ServerConfig};
    let server = Server::start(
        ServerConfig {
            listen,
            cors_origins: args.cors_origins.clone(),
            rate_limit: RateLimit {
                per_second: args.rate_limit,
                burst: (2.0 * args.rate_limit).ceil().clamp(1.0, 1e6) as u32,
            },
            refresh_every: Duration::from_secs(5),
            ..ServerConfig::default()
        },
        parts,
    )?;
    eprintln!(
        "kaizen: serving the API, /metrics and the dashboard on http://{}/",
        server.addr()
    );
    Ok(server)
}

/// What `kaizen bench` measured of the history and the server.
#[derive(Debug, Default, Clone, Copy)]
pub struct BenchObserved {
    pub history_records: u64,
    pub history_dropped: u64,
    pub scrapes: u64,
    pub scrape_max_ms: f64,
}

/// The history, monitor and (optionally) server beside `kaizen bench`'s
/// engines, as `kaizen run` would start them.
pub struct BenchObserving {
    history: Option<Arc<History>>,
    monitor: Option<Monitor>,
    #[cfg(feature = "server")]
    server: Option<kaizen::server::Server>,
    /// A history folder made for a bench without a state folder.
    scratch: Option<PathBuf>,
}

/// Scrapes `/metrics` on a thread until stopped.
pub struct Scraper {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<(u64, f64)>,
}

impl Scraper {
    /// Stops; returns the scrapes made and the slowest, in ms.
    pub fn stop(self) -> (u64, f64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or((0, 0.0))
    }
}

/// One `GET /metrics`; true for a 200.
fn scrape(addr: SocketAddr) -> std::io::Result<bool> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: kaizen\r\nConnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    Ok(answer.starts_with(b"HTTP/1.1 200"))
}

impl BenchObserving {
    /// Starts what `history` and `server` ask for, before the engines register.
    pub fn start(
        history: bool,
        server: bool,
        state: Option<&std::path::Path>,
        registry: &RegistryHandle,
    ) -> Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let mut scratch = None;
        let history = if history {
            let dir = match state {
                Some(s) => s.to_path_buf(),
                None => {
                    let d = std::env::temp_dir()
                        .join(format!("kaizen-bench-history-{}", std::process::id()));
                    scratch = Some(d.clone());
                    d
                }
            };
            Some(Arc::new(History::open(
                &dir,
                HistoryConfig::default(),
                clock.clone(),
            )?))
        } else {
            None
        };
        #[allow(unused_mut)]
        let mut observers: Vec<Box<dyn Observer>> = Vec::new();
        #[cfg(feature = "server")]
        let live = Arc::new(kaizen::server::LiveState::default());
        #[cfg(feature = "server")]
        if server {
            observers.push(Box::new(kaizen::server::LiveObserver(live.clone())));
        }
        let monitor = (history.is_some() || server)
            .then(|| {
                Monitor::start(
                    MonitorParts {
                        history: history.clone(),
                        observers,
                        ..MonitorParts::new(
                            registry,
                            clock.clone(),
                            Box::new(FixedProbe::default()),
                        )
                    },
                    MonitorConfig::default(),
                )
            })
            .transpose()?;
        #[cfg(feature = "server")]
        let server = match (server, &monitor) {
            (true, Some(monitor)) => Some(kaizen::server::Server::start(
                kaizen::server::ServerConfig {
                    listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                    ..kaizen::server::ServerConfig::default()
                },
                kaizen::server::ServerParts {
                    registry: registry.clone(),
                    token: kaizen::server::Token::generate("bench"),
                    state_root: None,
                    history: history.clone(),
                    live,
                    monitor: Some(monitor.stats()),
                    autoscale: AutoscaleConfig::default(),
                    clock,
                },
            )?),
            _ => None,
        };
        #[cfg(not(feature = "server"))]
        if server {
            anyhow::bail!("--server needs a kaizen built with the `server` feature");
        }
        Ok(BenchObserving {
            history,
            monitor,
            #[cfg(feature = "server")]
            server,
            scratch,
        })
    }

    /// With the server on, a thread that scrapes `/metrics` every `every`.
    pub fn scrape_every(&self, every: Duration) -> Option<Scraper> {
        #[cfg(feature = "server")]
        let addr = self.server.as_ref()?.addr();
        #[cfg(not(feature = "server"))]
        let addr: SocketAddr = {
            let _ = every;
            return None;
        };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut n, mut slowest) = (0u64, 0f64);
            // At least one scrape, however short the timed rounds.
            loop {
                let t = std::time::Instant::now();
                if matches!(scrape(addr), Ok(true)) {
                    n += 1;
                    slowest = slowest.max(t.elapsed().as_secs_f64() * 1e3);
                }
                if flag.load(std::sync::atomic::Ordering::Relaxed) {
                    return (n, slowest);
                }
                std::thread::sleep(every);
            }
        });
        Some(Scraper { stop, thread })
    }

    /// Stops everything; what the history took in and dropped.
    pub async fn stop(mut self, scrapes: Option<(u64, f64)>) -> BenchObserved {
        #[cfg(feature = "server")]
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        if let Some(m) = self.monitor.take() {
            m.stop();
        }
        let (scrapes, scrape_max_ms) = scrapes.unwrap_or_default();
        let mut observed = BenchObserved {
            scrapes,
            scrape_max_ms,
            ..BenchObserved::default()
        };
        if let Some(h) = self.history.take() {
            let _ = h.flush().await;
            observed.history_records = h.stats().appended();
            observed.history_dropped = h.stats().dropped();
        }
        if let Some(dir) = self.scratch.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        observed
    }
}

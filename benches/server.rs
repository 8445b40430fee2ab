//! The HTTP control plane: `GET /metrics` with 10,000 engines (every one
//! has cycled and been refreshed, so each per-bot family has 10,000 lines),
//! through the real server and a real HTTP client on loopback. Target: ≤ 50 ms.

use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::Duration;

use kaizen::engine::EngineBuilder;
use kaizen::host::{FixedProbe, ManualClock};
use kaizen::monitor::{Monitor, MonitorConfig, MonitorParts};
use kaizen::pipeline::{AutomationResult, pipeline_fn};
use kaizen::registry::{RegistryConfig, RegistryHandle};
use kaizen::server::{LiveObserver, LiveState, Server, ServerConfig, ServerParts, Token};

const ENGINES: usize = 10_000;

/// Starts 10,000 engines, the monitor and the server on a thread; returns the address.
fn fleet() -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix::System::new().block_on(async move {
            let clock = ManualClock::new(1_800_000_000.0);
            let registry = RegistryHandle::builder(RegistryConfig::default())
                .clock(Arc::new(clock.clone()))
                .probe(FixedProbe::default())
                .start()
                .unwrap();
            let live = Arc::new(LiveState::default());
            let monitor = Monitor::start(
                MonitorParts {
                    observers: vec![Box::new(LiveObserver(live.clone()))],
                    ..MonitorParts::new(
                        &registry,
                        Arc::new(clock.clone()),
                        Box::new(FixedProbe::default()),
                    )
                },
                MonitorConfig::default(),
            )
            .unwrap();
            let noop = Arc::new(pipeline_fn(|_: &str, _: u32| async {
                Ok(AutomationResult::default())
            }));
            for i in 0..ENGINES {
                let b = EngineBuilder::with_pipeline(format!("bot{i:05}"), noop.clone())
                    .clock(Arc::new(clock.clone()));
                registry.register_engine(b).await.unwrap();
            }
            for _ in 0..3 {
                clock.advance(3600.0);
                registry.run_all_cycles().await.unwrap();
            }
            let server = Server::start(
                ServerConfig {
                    listen: "127.0.0.1:0".parse().unwrap(),
                    refresh_every: Duration::from_secs(3600),
                    ..ServerConfig::default()
                },
                ServerParts {
                    registry: registry.clone(),
                    token: Token::generate("bench"),
                    state_root: None,
                    history: None,
                    live: live.clone(),
                    monitor: Some(monitor.stats()),
                    autoscale: Default::default(),
                    clock: Arc::new(clock.clone()),
                },
            )
            .unwrap();
            // Every bot seen on the stream and refreshed from the registry.
            while live.bots.len() < ENGINES
                || live
                    .bots
                    .iter()
                    .any(|b| b.snapshot.is_none() || b.cycles < 3)
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tx.send(server.addr()).unwrap();
            std::future::pending::<()>().await;
            drop(monitor);
        });
    });
    rx.recv().unwrap()
}

fn metrics(c: &mut Criterion) {
    let addr = fleet();
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let url = format!("http://{addr}/metrics");
    let body = agent
        .get(&url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let lines = body.lines().count();
    assert!(body.contains("kaizen_bot_cycles_total{bot=\"bot09999\"} 3"));
    eprintln!("/metrics: {} bytes, {lines} lines", body.len());
    let mut group = c.benchmark_group("server");
    group.sample_size(20);
    group.bench_function("GET /metrics with 10,000 engines", |b| {
        b.iter(|| {
            agent
                .get(&url)
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, metrics);
criterion_main!(benches);

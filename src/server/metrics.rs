//! `GET /metrics`: the Prometheus text exposition (format 0.0.4), written by
//! `prometheus-client` from what the server already keeps — nothing is
//! counted twice, a scrape only reads.
//!
//! Names follow Prometheus' conventions: the `kaizen_` prefix, base units
//! (seconds, ratios), `_total` on counters. Histograms (explicit buckets, no
//! bot label): `kaizen_tick_latency_seconds` (the decision latency),
//! `kaizen_cycle_duration_seconds`, `kaizen_cycle_energy`. Per-bot series are
//! counters and gauges only (`kaizen_bot_*{bot="…"}`), so 10,000 bots cost
//! a line each per series, not a histogram each. The full list is
//! [`METRICS`].

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::live::{LiveState, lock};
use crate::alert::AlertKind;
use crate::histogram::Snapshot;
use crate::history::HistoryStats;
use crate::monitor::MonitorStats;
use crate::registry::TickTimings;

/// Every metric, with its type and help text, as exposed.
pub const METRICS: &[(&str, &str, &str)] = &[
    ("kaizen_engines", "gauge", "Engines registered."),
    (
        "kaizen_engines_failed",
        "gauge",
        "Engines marked failed (restarted too often).",
    ),
    (
        "kaizen_ticks_dropped_total",
        "counter",
        "Timer ticks the registry dropped (late, or a round still running).",
    ),
    (
        "kaizen_decisions_total{type}",
        "counter",
        "Items of the decision stream, by type (cycle, autoscale, engine, alert).",
    ),
    (
        "kaizen_autoscale_steps_total{action,applied}",
        "counter",
        "Autoscale steps, by action and whether it was applied.",
    ),
    (
        "kaizen_tick_latency_seconds",
        "histogram",
        "Decision latency: from a round's start to an engine's answer, for ticks that ran no pipeline.",
    ),
    (
        "kaizen_cycle_duration_seconds",
        "histogram",
        "From a tick or a run request to the answer, for cycles that ran a pipeline.",
    ),
    (
        "kaizen_cycle_energy",
        "histogram",
        "Energy (1..=100) given to each cycle.",
    ),
    (
        "kaizen_resource_usage_ratio{resource}",
        "gauge",
        "The machine's CPU and memory use, 0..1.",
    ),
    (
        "kaizen_alerts_firing{alert,bot}",
        "gauge",
        "1 for each alert firing now (bot empty for fleet alerts).",
    ),
    (
        "kaizen_history_records_written_total",
        "counter",
        "Records the history's writer wrote.",
    ),
    (
        "kaizen_history_records_dropped_total",
        "counter",
        "Records dropped because the history's writer was behind.",
    ),
    (
        "kaizen_monitor_lagged_total",
        "counter",
        "Decision-stream items the monitor missed because it fell behind.",
    ),
    (
        "kaizen_bot_cycles_total{bot}",
        "counter",
        "Cycles (pipeline runs) since this process started.",
    ),
    (
        "kaizen_bot_cycle_failures_total{bot}",
        "counter",
        "Cycles whose pipeline failed.",
    ),
    (
        "kaizen_bot_skips_total{bot}",
        "counter",
        "Ticks skipped (any reason).",
    ),
    (
        "kaizen_bot_roi_delta_ema{bot}",
        "gauge",
        "The ROI delta's moving average (at the last refresh).",
    ),
    (
        "kaizen_bot_energy_score{bot}",
        "gauge",
        "The last energy score, 0..1.",
    ),
    (
        "kaizen_bot_paused{bot}",
        "gauge",
        "1 while an operator has paused the bot.",
    ),
    (
        "kaizen_bot_last_cycle_timestamp_seconds{bot}",
        "gauge",
        "When the bot's last cycle ran (Unix time).",
    ),
];

fn help(name: &str) -> &'static str {
    METRICS
        .iter()
        .find(|(n, _, _)| n.split('{').next() == Some(name))
        .map_or("", |(_, _, h)| h)
}

/// What the exposition reads.
#[derive(Clone)]
pub struct Sources {
    /// Live per-bot state.
    pub live: Arc<LiveState>,
    /// The registry's timing histograms.
    pub timings: Arc<TickTimings>,
    /// The monitor's readings and alerts.
    pub monitor: Option<Arc<MonitorStats>>,
    /// The history writer's counters.
    pub history: Option<Arc<dyn Fn() -> (u64, u64) + Send + Sync>>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources").finish_non_exhaustive()
    }
}

impl Sources {
    /// The history's (written, dropped) counters, read from its stats.
    pub fn history_counters(
        history: Arc<crate::history::History>,
    ) -> Arc<dyn Fn() -> (u64, u64) + Send + Sync> {
        Arc::new(move || {
            let s: &HistoryStats = history.stats();
            (s.written(), s.dropped())
        })
    }
}

/// The registry of metrics, ready to encode.
pub struct Exposition(Registry);

impl std::fmt::Debug for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exposition")
    }
}

impl Exposition {
    /// The metrics of `sources`.
    pub fn new(sources: Sources) -> Self {
        let mut registry = Registry::with_prefix("kaizen");
        registry.register_collector(Box::new(KaizenCollector(sources)));
        Exposition(registry)
    }

    /// The text exposition now.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(1 << 16);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.0)?;
        Ok(out)
    }
}

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Debug)]
struct KaizenCollector(Sources);

type Fmt = Result<(), std::fmt::Error>;

fn gauge<N: prometheus_client::encoding::EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    value: N,
) -> Fmt {
    let m = enc.encode_descriptor(
        name,
        help(&format!("kaizen_{name}")),
        None,
        MetricType::Gauge,
    )?;
    ConstGauge::new(value).encode(m)
}

fn counter(enc: &mut DescriptorEncoder, name: &str, value: u64) -> Fmt {
    let full = format!("kaizen_{name}_total");
    let m = enc.encode_descriptor(name, help(&full), None, MetricType::Counter)?;
    ConstCounter::new(value).encode(m)
}

fn histogram(enc: &mut DescriptorEncoder, name: &str, unit: Option<&Unit>, s: &Snapshot) -> Fmt {
    let full = match unit {
        Some(u) => format!("kaizen_{name}_{}", u.as_str()),
        None => format!("kaizen_{name}"),
    };
    let mut m = enc.encode_descriptor(name, help(&full), unit, MetricType::Histogram)?;
    let per_bucket = s.per_bucket();
    let buckets: Vec<(f64, u64)> = s
        .bounds()
        .iter()
        .copied()
        .zip(per_bucket.iter().copied())
        .collect();
    m.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
        s.sum(),
        s.count(),
        &buckets,
        None,
    )
}

impl Collector for KaizenCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Fmt {
        let s = &self.0;
        let live = &s.live;
        gauge(
            &mut enc,
            "engines",
            live.engines.load(Ordering::Relaxed) as u64,
        )?;
        gauge(
            &mut enc,
            "engines_failed",
            live.failed.load(Ordering::Relaxed) as u64,
        )?;
        counter(
            &mut enc,
            "ticks_dropped",
            live.dropped_ticks.load(Ordering::Relaxed),
        )?;
        {
            let mut m = enc.encode_descriptor(
                "decisions",
                help("kaizen_decisions_total"),
                None,
                MetricType::Counter,
            )?;
            for (i, kind) in ["cycle", "autoscale", "engine", "alert", "variant"]
                .iter()
                .enumerate()
            {
                let v = live.decisions[i].load(Ordering::Relaxed);
                ConstCounter::new(v).encode(m.encode_family(&[("type", *kind)])?)?;
            }
        }
        {
            let steps = lock(&live.autoscale_steps).clone();
            let mut m = enc.encode_descriptor(
                "autoscale_steps",
                help("kaizen_autoscale_steps_total"),
                None,
                MetricType::Counter,
            )?;
            for ((action, applied), v) in steps {
                let applied = if applied { "true" } else { "false" };
                ConstCounter::new(v)
                    .encode(m.encode_family(&[("action", action), ("applied", applied)])?)?;
            }
        }
        histogram(
            &mut enc,
            "tick_latency",
            Some(&Unit::Seconds),
            &s.timings.decision.snapshot(),
        )?;
        histogram(
            &mut enc,
            "cycle_duration",
            Some(&Unit::Seconds),
            &s.timings.cycle.snapshot(),
        )?;
        histogram(&mut enc, "cycle_energy", None, &live.energy.snapshot())?;
        if let Some(monitor) = &s.monitor {
            if let Some(r) = monitor.resources() {
                let mut m = enc.encode_descriptor(
                    "resource_usage_ratio",
                    help("kaizen_resource_usage_ratio"),
                    None,
                    MetricType::Gauge,
                )?;
                ConstGauge::new(r.cpu).encode(m.encode_family(&[("resource", "cpu")])?)?;
                ConstGauge::new(r.memory).encode(m.encode_family(&[("resource", "memory")])?)?;
            }
            let firing = monitor.firing();
            let mut m = enc.encode_descriptor(
                "alerts_firing",
                help("kaizen_alerts_firing"),
                None,
                MetricType::Gauge,
            )?;
            for kind in AlertKind::ALL {
                for a in firing.iter().filter(|a| a.alert == kind) {
                    let bot = a.bot.as_deref().unwrap_or("");
                    ConstGauge::new(1i64)
                        .encode(m.encode_family(&[("alert", kind.as_str()), ("bot", bot)])?)?;
                }
            }
            counter(&mut enc, "monitor_lagged", monitor.lagged())?;
        }
        if let Some(history) = &s.history {
            let (written, dropped) = history();
            counter(&mut enc, "history_records_written", written)?;
            counter(&mut enc, "history_records_dropped", dropped)?;
        }
        self.per_bot(&mut enc)
    }
}

/// A per-bot counter family's value for one bot.
type RowCounter = fn(&Row) -> u64;
/// A per-bot gauge family's value for one bot, if it has one.
type RowGauge = fn(&Row) -> Option<f64>;

/// What the per-bot families show of one bot.
struct Row {
    bot: Arc<str>,
    cycles: u64,
    failures: u64,
    skips: u64,
    ema: Option<f64>,
    energy_score: Option<f64>,
    paused: f64,
    last_run: Option<f64>,
}

impl KaizenCollector {
    /// The per-bot families, one line per bot each.
    fn per_bot(&self, enc: &mut DescriptorEncoder) -> Fmt {
        let mut rows: Vec<Row> = self
            .0
            .live
            .bots
            .iter()
            .map(|e| {
                let b = e.value();
                Row {
                    bot: e.key().clone(),
                    cycles: b.cycles,
                    failures: b.failures,
                    skips: b.skips,
                    ema: b.snapshot.as_ref().map(|s| s.roi_delta_ema),
                    energy_score: b.energy_score,
                    paused: if b.paused { 1.0 } else { 0.0 },
                    last_run: b.last_run,
                }
            })
            .collect();
        rows.sort_by(|a, b| a.bot.cmp(&b.bot));
        let counters: [(&str, RowCounter); 3] = [
            ("bot_cycles", |r| r.cycles),
            ("bot_cycle_failures", |r| r.failures),
            ("bot_skips", |r| r.skips),
        ];
        for (name, value) in counters {
            let full = format!("kaizen_{name}_total");
            let mut m = enc.encode_descriptor(name, help(&full), None, MetricType::Counter)?;
            for r in &rows {
                ConstCounter::new(value(r)).encode(m.encode_family(&[("bot", &*r.bot)])?)?;
            }
        }
        let gauges: [(&str, RowGauge); 4] = [
            ("bot_roi_delta_ema", |r| r.ema),
            ("bot_energy_score", |r| r.energy_score),
            ("bot_paused", |r| Some(r.paused)),
            ("bot_last_cycle_timestamp_seconds", |r| r.last_run),
        ];
        for (name, value) in gauges {
            let full = format!("kaizen_{name}");
            let mut m = enc.encode_descriptor(name, help(&full), None, MetricType::Gauge)?;
            for r in &rows {
                if let Some(v) = value(r) {
                    ConstGauge::new(v).encode(m.encode_family(&[("bot", &*r.bot)])?)?;
                }
            }
        }
        Ok(())
    }
}

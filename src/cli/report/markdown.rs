//! The report as Markdown: the same sections as the HTML page, the curves
//! as sparklines and their first, last, lowest and highest values.

use std::fmt::Write as _;

use super::svg::thin;
use super::{BotReport, Report};
use kaizen::history::rfc3339;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A one-line chart of `values` (at most 60 characters).
pub fn sparkline(values: &[f64]) -> String {
    let pts: Vec<(f64, f64)> = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .enumerate()
        .map(|(i, v)| (i as f64, v))
        .collect();
    let pts = thin(&pts, 60);
    let (lo, hi) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    pts.iter()
        .map(|p| {
            let k = if hi > lo {
                ((p.1 - lo) / (hi - lo) * 7.0).round() as usize
            } else {
                3
            };
            BARS[k.min(7)]
        })
        .collect()
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn curve(out: &mut String, name: &str, values: &[f64]) {
    let v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return;
    }
    let (lo, hi) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(*x), b.max(*x))
        });
    let _ = writeln!(
        out,
        "| {name} | `{}` | {:+.4} | {:+.4} | {lo:+.4} | {hi:+.4} |",
        sparkline(&v),
        v[0],
        v[v.len() - 1]
    );
}

fn alerts(out: &mut String, list: &[kaizen::alert::AlertEvent]) {
    if list.is_empty() {
        out.push_str("No alerts in the period.\n\n");
        return;
    }
    out.push_str("| time | alert | state | bot | message |\n|---|---|---|---|---|\n");
    for a in list {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            rfc3339(a.time),
            a.alert,
            format!("{:?}", a.state).to_lowercase(),
            a.bot.as_deref().unwrap_or("fleet"),
            cell(&a.message)
        );
    }
    out.push('\n');
}

fn bot(out: &mut String, b: &BotReport) {
    let _ = writeln!(out, "## {}\n", b.bot);
    let _ = writeln!(
        out,
        "{} cycles, {} failed, {} skipped ticks, {} restarts.\n",
        b.cycles, b.failures, b.skips, b.restarts
    );
    if !b.points.is_empty() {
        out.push_str("| curve | over the period | first | last | lowest | highest |\n|---|---|---:|---:|---:|---:|\n");
        curve(
            out,
            "ROI delta",
            &b.points.iter().map(|p| p.delta).collect::<Vec<_>>(),
        );
        curve(
            out,
            "EMA",
            &b.points.iter().map(|p| p.ema).collect::<Vec<_>>(),
        );
        curve(
            out,
            "energy",
            &b.points.iter().map(|p| p.energy).collect::<Vec<_>>(),
        );
        curve(
            out,
            "profit",
            &b.points.iter().filter_map(|p| p.profit).collect::<Vec<_>>(),
        );
        out.push('\n');
    }
    if !b.modules.is_empty() {
        let n = b.modules.len();
        out.push_str("| | module | ROI delta |\n|---|---|---:|\n");
        for (m, v) in b.modules.iter().take(3) {
            let _ = writeln!(out, "| best | {} | {v:+.4} |", cell(m));
        }
        for (m, v) in b.modules.iter().rev().take(3.min(n.saturating_sub(3))) {
            let _ = writeln!(out, "| worst | {} | {v:+.4} |", cell(m));
        }
        out.push('\n');
    }
    if !b.diminishing.is_empty() {
        let _ = writeln!(out, "Diminishing returns: {}\n", b.diminishing.join(", "));
    }
    if !b.failed.is_empty() {
        out.push_str("Last failures:\n\n");
        for (t, e) in &b.failed {
            let _ = writeln!(out, "- {}: {}", rfc3339(*t), cell(e));
        }
        out.push('\n');
    }
    if !b.versions.is_empty() {
        out.push_str("| version | status | created | metrics |\n|---|---|---|---|\n");
        for v in &b.versions {
            let _ = writeln!(
                out,
                "| {}{} | {} | {} | {} |",
                v.id,
                if v.champion { " (champion)" } else { "" },
                v.status,
                rfc3339(v.created),
                cell(&v.metrics)
            );
        }
        out.push('\n');
    }
    if let Some(v) = &b.variants {
        let _ = writeln!(out, "Variants: {}.\n", v.summary());
        let (head, rows) = v.test_table();
        if !rows.is_empty() {
            let _ = writeln!(out, "| {} |", head.join(" | "));
            let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
            for row in rows {
                let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
            out.push('\n');
        }
        for (t, name, detail) in &v.events {
            let _ = writeln!(out, "- {} {name}: {}", rfc3339(*t), cell(detail));
        }
        if !v.events.is_empty() {
            out.push('\n');
        }
    }
    out.push_str("Alerts:\n\n");
    alerts(out, &b.alerts);
}

/// The document.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# kaizen report\n\n{} … {} · state `{}` · generated {}\n",
        rfc3339(r.since),
        rfc3339(r.until),
        r.state.display(),
        rfc3339(r.generated)
    );
    out.push_str(
        "| bot | cycles | failures | alert events | model versions |\n|---|---:|---:|---:|---:|\n",
    );
    for b in &r.bots {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            b.bot,
            b.cycles,
            b.failures,
            b.alerts.len(),
            b.versions.len()
        );
    }
    out.push_str("\nFleet alerts:\n\n");
    alerts(&mut out, &r.fleet_alerts);
    for b in &r.bots {
        bot(&mut out, b);
    }
    if !r.audit.is_empty() {
        out.push_str(
            "## Audit trail\n\n| time | who | action | bot | detail |\n|---|---|---|---|---|\n",
        );
        for a in &r.audit {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                rfc3339(a.time),
                cell(&a.who),
                a.action,
                a.bot.as_deref().unwrap_or(""),
                cell(
                    &a.error
                        .clone()
                        .map_or(a.detail.clone(), |e| format!("failed: {e}"))
                )
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_span_the_range() {
        assert_eq!(sparkline(&[0.0, 1.0, 0.5]), "▁█▅");
        assert_eq!(sparkline(&[2.0, 2.0]), "▄▄");
        assert_eq!(sparkline(&[]), "");
    }
}

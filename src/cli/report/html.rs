//! The report as one self-contained HTML page: inline CSS, inline SVG
//! charts, no script and nothing fetched, so it opens offline.

use std::fmt::Write as _;

use super::svg::{Series, chart, thin};
use super::{BotReport, Report};
use kaizen::history::rfc3339;

/// Text made safe for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;color:#1d2430;margin:2em auto;max-width:1000px;padding:0 1em}\
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #dde1e7;padding-bottom:.2em;margin-top:2em}h3{font-size:1em}\
table{border-collapse:collapse;margin:.5em 0}th,td{text-align:left;padding:.2em .6em;border-bottom:1px solid #dde1e7}\
.muted{color:#6b7685}.firing{color:#c9352b}.k{display:inline-block;width:1em;height:.25em;vertical-align:middle;margin:0 .3em}";

fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", escape(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn alerts_table(out: &mut String, alerts: &[kaizen::alert::AlertEvent]) {
    if alerts.is_empty() {
        out.push_str("<p class=\"muted\">No alerts in the period.</p>");
        return;
    }
    let rows: Vec<Vec<String>> = alerts
        .iter()
        .map(|a| {
            vec![
                rfc3339(a.time),
                a.alert.to_string(),
                format!("{:?}", a.state).to_lowercase(),
                a.bot.as_deref().unwrap_or("fleet").to_string(),
                a.message.clone(),
            ]
        })
        .collect();
    table(out, &["time", "alert", "state", "bot", "message"], &rows);
}

fn bot(out: &mut String, b: &BotReport) {
    let _ = write!(out, "<h2 id=\"bot-{0}\">{0}</h2>", escape(&b.bot));
    let _ = write!(
        out,
        "<p>{} cycles, {} failed ({:.1}%), {} skipped ticks{}.</p>",
        b.cycles,
        b.failures,
        if b.cycles == 0 {
            0.0
        } else {
            100.0 * b.failures as f64 / b.cycles as f64
        },
        b.skips,
        if b.restarts > 0 {
            format!(", {} restarts", b.restarts)
        } else {
            String::new()
        }
    );
    let pick = |f: fn(&super::Point) -> f64| -> Vec<(f64, f64)> {
        thin(
            &b.points.iter().map(|p| (p.time, f(p))).collect::<Vec<_>>(),
            400,
        )
    };
    let profit: Vec<(f64, f64)> = b
        .points
        .iter()
        .filter_map(|p| Some((p.time, p.profit?)))
        .collect();
    let mut roi = vec![
        Series {
            label: "ROI delta",
            color: "#2f6fde",
            points: pick(|p| p.delta),
        },
        Series {
            label: "EMA before the cycle",
            color: "#e08a1e",
            points: pick(|p| p.ema),
        },
    ];
    if !profit.is_empty() {
        roi.push(Series {
            label: "profit",
            color: "#2a9d61",
            points: thin(&profit, 400),
        });
    }
    out.push_str("<h3>ROI delta <span class=\"k\" style=\"background:#2f6fde\"></span> EMA <span class=\"k\" style=\"background:#e08a1e\"></span> profit <span class=\"k\" style=\"background:#2a9d61\"></span></h3>");
    out.push_str(&chart(
        &format!("{}: ROI delta, EMA and profit", b.bot),
        &roi,
        900.0,
        160.0,
    ));
    out.push_str("<h3>Energy <span class=\"k\" style=\"background:#8455d1\"></span></h3>");
    out.push_str(&chart(
        &format!("{}: energy", b.bot),
        &[Series {
            label: "energy",
            color: "#8455d1",
            points: pick(|p| p.energy),
        }],
        900.0,
        90.0,
    ));
    if !b.modules.is_empty() {
        out.push_str("<h3>Modules (ROI delta summed over the period)</h3>");
        let n = b.modules.len();
        let best: Vec<Vec<String>> = b
            .modules
            .iter()
            .take(3)
            .map(|(m, v)| vec!["best".into(), m.clone(), format!("{v:+.4}")])
            .collect();
        let worst: Vec<Vec<String>> = b
            .modules
            .iter()
            .rev()
            .take(3.min(n.saturating_sub(3)))
            .map(|(m, v)| vec!["worst".into(), m.clone(), format!("{v:+.4}")])
            .collect();
        table(out, &["", "module", "ROI delta"], &[best, worst].concat());
    }
    if !b.diminishing.is_empty() {
        let _ = write!(
            out,
            "<p>Diminishing returns: {}</p>",
            escape(&b.diminishing.join(", "))
        );
    }
    if !b.failed.is_empty() {
        out.push_str("<h3>Last failures</h3>");
        let rows: Vec<Vec<String>> = b
            .failed
            .iter()
            .map(|(t, e)| vec![rfc3339(*t), e.clone()])
            .collect();
        table(out, &["time", "error"], &rows);
    }
    if !b.versions.is_empty() {
        out.push_str("<h3>Model versions</h3>");
        let rows: Vec<Vec<String>> = b
            .versions
            .iter()
            .map(|v| {
                vec![
                    format!("{}{}", v.id, if v.champion { " (champion)" } else { "" }),
                    v.status.clone(),
                    rfc3339(v.created),
                    v.metrics.clone(),
                ]
            })
            .collect();
        table(out, &["version", "status", "created", "metrics"], &rows);
    }
    if let Some(v) = &b.variants {
        out.push_str("<h3>Variants and A/B test</h3>");
        let _ = write!(out, "<p>{}</p>", escape(&v.summary()));
        let (head, rows) = v.test_table();
        if !rows.is_empty() {
            table(out, &head, &rows);
        }
        if !v.events.is_empty() {
            let rows: Vec<Vec<String>> = v
                .events
                .iter()
                .map(|(t, name, detail)| vec![rfc3339(*t), name.clone(), detail.clone()])
                .collect();
            table(out, &["time", "event", "detail"], &rows);
        }
    }
    out.push_str("<h3>Alerts</h3>");
    alerts_table(out, &b.alerts);
}

/// The page.
pub fn render(r: &Report) -> String {
    let mut out = String::with_capacity(64 << 10);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>kaizen report</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        out,
        "<h1>kaizen report</h1><p class=\"muted\">{} … {} · state {} · generated {}</p>",
        rfc3339(r.since),
        rfc3339(r.until),
        escape(&r.state.display().to_string()),
        rfc3339(r.generated)
    );
    let rows: Vec<Vec<String>> = r
        .bots
        .iter()
        .map(|b| {
            vec![
                b.bot.clone(),
                b.cycles.to_string(),
                b.failures.to_string(),
                b.alerts.len().to_string(),
                b.versions.len().to_string(),
            ]
        })
        .collect();
    out.push_str("<h2>Fleet</h2>");
    table(
        &mut out,
        &[
            "bot",
            "cycles",
            "failures",
            "alert events",
            "model versions",
        ],
        &rows,
    );
    out.push_str("<h3>Fleet alerts</h3>");
    alerts_table(&mut out, &r.fleet_alerts);
    if !r.autoscale.is_empty() {
        out.push_str("<h3>Autoscale steps</h3>");
        let rows: Vec<Vec<String>> = r
            .autoscale
            .iter()
            .rev()
            .take(20)
            .map(|a| {
                vec![
                    rfc3339(a.time),
                    format!("{:?}", a.decision.action),
                    a.applied.to_string(),
                    a.decision.reason.clone(),
                ]
            })
            .collect();
        table(&mut out, &["time", "action", "applied", "reason"], &rows);
    }
    for b in &r.bots {
        bot(&mut out, b);
    }
    if !r.audit.is_empty() {
        out.push_str("<h2>Audit trail</h2>");
        let rows: Vec<Vec<String>> = r
            .audit
            .iter()
            .map(|a| {
                vec![
                    rfc3339(a.time),
                    a.who.clone(),
                    a.action.clone(),
                    a.bot.clone().unwrap_or_default(),
                    a.error
                        .clone()
                        .map_or(a.detail.clone(), |e| format!("failed: {e}")),
                ]
            })
            .collect();
        table(&mut out, &["time", "who", "action", "bot", "detail"], &rows);
    }
    out.push_str("</body></html>\n");
    out
}

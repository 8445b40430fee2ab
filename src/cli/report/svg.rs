//! Small SVG line charts for the HTML report (no library: a path per series).

use std::fmt::Write as _;

/// One line of a chart: a CSS colour, a label, and (x, y) points.
pub struct Series<'a> {
    pub label: &'a str,
    pub color: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// At most `n` points of `points`, each the mean of an equal run (so a month
/// of records draws as a few hundred points, its shape kept).
pub fn thin(points: &[(f64, f64)], n: usize) -> Vec<(f64, f64)> {
    if points.len() <= n || n == 0 {
        return points.to_vec();
    }
    let per = points.len().div_ceil(n);
    points
        .chunks(per)
        .map(|c| {
            let k = c.len() as f64;
            (
                c.iter().map(|p| p.0).sum::<f64>() / k,
                c.iter().map(|p| p.1).sum::<f64>() / k,
            )
        })
        .collect()
}

/// An SVG chart `w`×`h` of `series` with a zero line and the y range written.
pub fn chart(title: &str, series: &[Series], w: f64, h: f64) -> String {
    let finite: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}">"#,
        super::html::escape(title)
    );
    let _ = write!(
        out,
        r##"<rect width="{w}" height="{h}" fill="#fbfcfd" stroke="#dde1e7"/>"##
    );
    if finite.is_empty() {
        let _ = write!(
            out,
            r##"<text x="8" y="{}" font-size="11" fill="#6b7685">no cycles in the period</text></svg>"##,
            h / 2.0
        );
        return out;
    }
    let fold = |f: fn(f64, f64) -> f64, init: f64, pick: fn(&(f64, f64)) -> f64| {
        finite.iter().map(pick).fold(init, f)
    };
    let x0 = fold(f64::min, f64::INFINITY, |p| p.0);
    let x1 = fold(f64::max, f64::NEG_INFINITY, |p| p.0).max(x0 + 1e-9);
    let y0 = fold(f64::min, 0.0, |p| p.1);
    let mut y1 = fold(f64::max, 0.0, |p| p.1);
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let pad = 6.0;
    let x = |v: f64| pad + (v - x0) / (x1 - x0) * (w - 2.0 * pad);
    let y = |v: f64| h - pad - (v - y0) / (y1 - y0) * (h - 2.0 * pad);
    let _ = write!(
        out,
        r##"<line x1="0" x2="{w}" y1="{0:.1}" y2="{0:.1}" stroke="#dde1e7"/>"##,
        y(0.0)
    );
    for s in series {
        let pts: Vec<String> = s
            .points
            .iter()
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .map(|&(a, b)| format!("{:.1},{:.1}", x(a), y(b)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"><title>{}</title></polyline>"#,
            s.color,
            pts.join(" "),
            super::html::escape(s.label)
        );
    }
    let _ = write!(
        out,
        r##"<text x="{}" y="12" font-size="10" text-anchor="end" fill="#6b7685">{y0:.3} … {y1:.3}</text></svg>"##,
        w - 6.0
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_means_of_equal_runs() {
        let p: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, i as f64)).collect();
        assert_eq!(
            thin(&p, 5),
            vec![(0.5, 0.5), (2.5, 2.5), (4.5, 4.5), (6.5, 6.5), (8.5, 8.5)]
        );
        assert_eq!(thin(&p, 20).len(), 10);
    }

    #[test]
    fn a_chart_draws_a_polyline_per_series() {
        let s = [Series {
            label: "delta",
            color: "#2f6fde",
            points: vec![(0.0, 1.0), (1.0, -1.0)],
        }];
        let svg = chart("t", &s, 300.0, 80.0);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(chart("t", &[], 300.0, 80.0).contains("no cycles"));
    }
}

//! Reports: a terminal table, JSON, a self-contained HTML page with
//! latency-over-time and percentile plots (inline SVG, no scripts), and the
//! `--slo` checks that decide the exit code.

use crate::metrics::KindSummary;
use crate::run::Report;
use std::fmt::Write as _;

/// One limit: `p99=5ms` (every kind) or `offer:p99=5ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// The kind it applies to, or all.
    pub kind: Option<String>,
    /// `p50`, `p90`, `p99`, `p999` or `max`.
    pub percentile: String,
    /// The limit in milliseconds.
    pub limit_ms: f64,
}

impl std::str::FromStr for Slo {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (lhs, rhs) = s
            .split_once('=')
            .ok_or_else(|| format!("--slo {s:?}: expected [KIND:]pNN=VALUE, e.g. p99=5ms"))?;
        let (kind, pct) = match lhs.split_once(':') {
            Some((k, p)) => (Some(k.to_owned()), p.to_owned()),
            None => (None, lhs.to_owned()),
        };
        if !matches!(
            pct.as_str(),
            "p50" | "p90" | "p99" | "p999" | "p99.9" | "max"
        ) {
            return Err(format!(
                "--slo {s:?}: percentile must be p50, p90, p99, p999 or max"
            ));
        }
        let limit_ms = parse_ms(rhs)
            .ok_or_else(|| format!("--slo {s:?}: value must look like 5ms, 250us or 1s"))?;
        Ok(Self {
            kind,
            percentile: pct,
            limit_ms,
        })
    }
}

fn parse_ms(v: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    num.parse::<f64>()
        .ok()
        .map(|x| x * scale)
        .filter(|x| *x >= 0.0)
}

/// Every broken limit, and lost messages, as lines to print.
pub fn violations(report: &Report, slos: &[Slo], max_lost: u64) -> Vec<String> {
    let mut out = Vec::new();
    for k in &report.summary.kinds {
        for slo in slos {
            if slo.kind.as_deref().is_some_and(|n| n != k.kind.name()) {
                continue;
            }
            if let Some(v) = k.latency.get(&slo.percentile)
                && k.latency.count > 0
                && v > slo.limit_ms
            {
                out.push(format!(
                    "SLO broken: {} {} = {:.3} ms > {:.3} ms",
                    k.kind.name(),
                    slo.percentile,
                    v,
                    slo.limit_ms
                ));
            }
        }
    }
    let (_, _, _, lost) = report.summary.totals();
    if lost > max_lost {
        out.push(format!("{lost} messages lost (allowed: {max_lost})"));
    }
    out
}

/// The terminal summary.
pub fn table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "scenario {:?}: {} ops planned at {:.0}/s over {:.0} s ({:.0} s warm-up), achieved {:.0}/s, {} visits{}, {} connections",
        r.scenario,
        r.operations,
        r.rate,
        r.duration_s,
        r.warmup_s,
        r.achieved_rate,
        r.visits,
        if r.lockstep { " in lockstep" } else { "" },
        r.connections
    );
    let _ = writeln!(
        s,
        "{:<11} {:>9} {:>9} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "type",
        "sent",
        "received",
        "errors",
        "lost",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms"
    );
    for k in &r.summary.kinds {
        let l = &k.latency;
        let _ = writeln!(
            s,
            "{:<11} {:>9} {:>9} {:>7} {:>6} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            k.kind.name(),
            k.sent,
            k.received,
            k.errors,
            k.lost,
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.p999_ms,
            l.max_ms
        );
        for p in &k.by_path {
            let l = &p.latency;
            let _ = writeln!(
                s,
                "  {:<12} {:>31} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                p.path.name(),
                format!("{} measured", l.count),
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.p999_ms,
                l.max_ms
            );
        }
    }
    if r.summary.unmatched_errors > 0 {
        let _ = writeln!(
            s,
            "hub errors naming no message: {}",
            r.summary.unmatched_errors
        );
    }
    if let Some(h) = &r.hub {
        if let Some(b) = h.bytes_per_session {
            let _ = writeln!(
                s,
                "hub RSS {:.1} MiB -> {:.1} MiB: {:.0} bytes ({:.2} KiB) per session",
                h.rss_before as f64 / 1048576.0,
                h.rss_after as f64 / 1048576.0,
                b,
                b / 1024.0
            );
        } else {
            let _ = writeln!(
                s,
                "hub CPU {:.2} s for {} measured deliveries: {:.1} µs per message; RSS {:.1} MiB",
                h.cpu_s,
                h.messages,
                h.cpu_us_per_message,
                h.rss_after as f64 / 1048576.0
            );
        }
    }
    s
}

const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A line chart as SVG: `series` of (name, points (x, y)).
fn chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    log_x: bool,
) -> String {
    let (w, h, m, legend) = (860.0, 320.0, 56.0, 120.0);
    let tx = |x: f64| {
        if log_x {
            -(100.0 - x.min(99.9999)).log10() + 2.0
        } else {
            x
        }
    };
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, y)| (tx(*x), *y)))
        .collect();
    if pts.is_empty() {
        return format!("<h3>{}</h3><p>no samples</p>", esc(title));
    }
    let (x0, x1) = pts.iter().fold((f64::MAX, f64::MIN), |(a, b), (x, _)| {
        (a.min(*x), b.max(*x))
    });
    let y1 = pts.iter().fold(0.0f64, |a, (_, y)| a.max(*y)).max(0.001) * 1.1;
    let sx = |x: f64| m + (tx(x) - x0) / (x1 - x0).max(1e-9) * (w - 2.0 * m - legend);
    let sy = |y: f64| h - m - y / y1 * (h - 2.0 * m);
    let mut s = format!(
        "<h3>{}</h3><svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='11'>\
         <rect x='0' y='0' width='{w}' height='{h}' fill='white'/>\
         <line x1='{m}' y1='{}' x2='{}' y2='{}' stroke='black'/><line x1='{m}' y1='{m}' x2='{m}' y2='{}' stroke='black'/>\
         <text x='{}' y='{}' text-anchor='middle'>{}</text><text x='14' y='{}' transform='rotate(-90 14 {})' text-anchor='middle'>{}</text>",
        esc(title),
        h - m,
        w - m - legend,
        h - m,
        h - m,
        (w - legend) / 2.0,
        h - 14.0,
        esc(x_label),
        h / 2.0,
        h / 2.0,
        esc(y_label)
    );
    for i in 0..=4 {
        let y = y1 * i as f64 / 4.0;
        let _ = write!(
            s,
            "<text x='{}' y='{}' text-anchor='end'>{:.2}</text><line x1='{m}' y1='{}' x2='{}' y2='{}' stroke='#eee'/>",
            m - 4.0,
            sy(y) + 4.0,
            y,
            sy(y),
            w - m,
            sy(y)
        );
    }
    let ticks: Vec<f64> = if log_x {
        vec![0.0, 90.0, 99.0, 99.9, 99.99, 99.999]
    } else {
        (0..=5).map(|i| x0 + (x1 - x0) * i as f64 / 5.0).collect()
    };
    for t in ticks {
        let label = if log_x {
            format!("{t}%")
        } else {
            format!("{t:.0}")
        };
        let _ = write!(
            s,
            "<text x='{}' y='{}' text-anchor='middle'>{label}</text>",
            sx(t),
            h - m + 14.0
        );
    }
    for (i, (name, p)) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        let path: Vec<String> = p
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
            .collect();
        let _ = write!(
            s,
            "<polyline fill='none' stroke='{c}' stroke-width='1.5' points='{}'/>",
            path.join(" ")
        );
        let _ = write!(
            s,
            "<text x='{}' y='{}' fill='{c}'>{}</text>",
            w - m + 4.0,
            m + 14.0 * i as f64,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

/// A self-contained HTML report.
pub fn html(r: &Report) -> String {
    let over_time: Vec<(String, Vec<(f64, f64)>)> = r
        .summary
        .kinds
        .iter()
        .flat_map(|k: &KindSummary| {
            [
                (
                    format!("{} p50", k.kind.name()),
                    k.per_second
                        .iter()
                        .map(|p| (p.second as f64, p.p50_ms))
                        .collect(),
                ),
                (
                    format!("{} p99", k.kind.name()),
                    k.per_second
                        .iter()
                        .map(|p| (p.second as f64, p.p99_ms))
                        .collect(),
                ),
            ]
        })
        .collect();
    let dist: Vec<(String, Vec<(f64, f64)>)> = r
        .summary
        .kinds
        .iter()
        .map(|k| (k.kind.name().to_owned(), k.distribution.clone()))
        .collect();
    format!(
        "<!doctype html><html><head><meta charset='utf-8'><title>bedside-loadtest: {:?}</title>\
         <style>body{{font-family:sans-serif;margin:2em;max-width:1000px}}pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}</style></head><body>\
         <h1>bedside-loadtest — {:?}</h1><pre>{}</pre>{}{}\
         <p>Latency is measured from each message's intended send time (open loop, coordinated omission corrected); warm-up excluded.</p></body></html>",
        r.scenario,
        r.scenario,
        esc(&table(r)),
        chart(
            "Latency over time",
            "seconds since start",
            "ms",
            &over_time,
            false
        ),
        chart("Latency by percentile", "percentile", "ms", &dist, true),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slo_parsing() {
        let s: Slo = "p99=5ms".parse().unwrap();
        assert_eq!(
            (s.kind, s.percentile.as_str(), s.limit_ms),
            (None, "p99", 5.0)
        );
        let s: Slo = "offer:max=250us".parse().unwrap();
        assert_eq!((s.kind.as_deref(), s.limit_ms), (Some("offer"), 0.25));
        assert!("p98=5ms".parse::<Slo>().is_err());
        assert!("p99=5".parse::<Slo>().is_err());
    }
}

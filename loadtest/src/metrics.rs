//! What a run measured: per message type, how many were sent, received,
//! refused and lost, and the latency of each from its *intended* send time
//! (so a stalled sender or hub shows up as latency, not as fewer samples:
//! coordinated omission corrected), in HDR histograms, overall and per second.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The message types a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `hello` → `welcome`.
    Hello,
    /// `resume` → `welcome`.
    Resume,
    /// An offer, sender → peer.
    Offer,
    /// An answer, sender → peer.
    Answer,
    /// A trickled candidate, sender → peer.
    Ice,
    /// An e2e chat message, sender → recipient.
    Chat,
    /// An e2e chat message, sender → the hub's durable `ack`.
    ChatAck,
    /// A grant or revoke, provider → the patient's `permissions`.
    Permission,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 8] = [
        Kind::Hello,
        Kind::Resume,
        Kind::Offer,
        Kind::Answer,
        Kind::Ice,
        Kind::Chat,
        Kind::ChatAck,
        Kind::Permission,
    ];

    /// The name in reports and `--slo`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Hello => "hello",
            Kind::Resume => "resume",
            Kind::Offer => "offer",
            Kind::Answer => "answer",
            Kind::Ice => "ice",
            Kind::Chat => "chat",
            Kind::ChatAck => "chat_ack",
            Kind::Permission => "permission",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Where a visit's two participants sit, in a run against several hub
/// nodes: on the owner node both, or one of them on another node (whose
/// messages cross Redis both ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Path {
    /// Provider and patient on one node.
    SameNode,
    /// Provider and patient on two nodes.
    CrossNode,
}

impl Path {
    /// Both, in report order.
    pub const ALL: [Path; 2] = [Path::SameNode, Path::CrossNode];

    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Path::SameNode => "same node",
            Path::CrossNode => "cross node",
        }
    }
}

/// 1 µs .. 60 s at 3 significant digits.
#[allow(clippy::expect_used)] // constant bounds that hdrhistogram accepts
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid constant histogram bounds")
}

#[derive(Debug)]
struct KindStats {
    sent: u64,
    received: u64,
    errors: u64,
    measured: Histogram<u64>,
    per_second: Vec<Histogram<u64>>,
    /// `measured`, split by [`Path`] (for messages sent with one).
    by_path: [Histogram<u64>; 2],
}

impl KindStats {
    fn new() -> Self {
        Self {
            sent: 0,
            received: 0,
            errors: 0,
            measured: histogram(),
            per_second: Vec::new(),
            by_path: [histogram(), histogram()],
        }
    }
}

/// When a message was meant to leave, and between whom.
type Sent = (Instant, Option<Path>);

#[derive(Debug)]
struct Inner {
    kinds: Vec<KindStats>,
    /// Token → what it was, when it was meant to leave, and its path.
    pending: HashMap<u64, (Kind, Instant, Option<Path>)>,
    /// Per (stream, kind) FIFO of intended times and paths, for replies
    /// that carry no token.
    fifo: HashMap<(u64, Kind), VecDeque<Sent>>,
    /// Errors the hub sent that name no message (e.g. `rate_limited`).
    unmatched_errors: u64,
}

/// Shared by every connection of a run.
#[derive(Debug)]
pub struct Metrics {
    start: Instant,
    warmup_end: Instant,
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Measurement starts after `warmup` from now.
    pub fn new(warmup: Duration) -> Self {
        let start = Instant::now();
        Self {
            start,
            warmup_end: start + warmup,
            inner: Mutex::new(Inner {
                kinds: Kind::ALL.iter().map(|_| KindStats::new()).collect(),
                pending: HashMap::new(),
                fifo: HashMap::new(),
                unmatched_errors: 0,
            }),
        }
    }

    /// When the run started.
    pub fn start(&self) -> Instant {
        self.start
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    /// A message identified by `token` was sent, meant to leave at
    /// `intended`, between participants on `path` (if the run knows).
    pub fn sent(&self, kind: Kind, path: Option<Path>, token: u64, intended: Instant) {
        self.with(|i| {
            i.kinds[kind.index()].sent += 1;
            i.pending.insert(token, (kind, intended, path));
        });
    }

    /// A message whose reply carries no token: matched first in, first out
    /// within `stream`.
    pub fn sent_fifo(&self, kind: Kind, path: Option<Path>, stream: u64, intended: Instant) {
        self.with(|i| {
            i.kinds[kind.index()].sent += 1;
            i.fifo
                .entry((stream, kind))
                .or_default()
                .push_back((intended, path));
        });
    }

    fn record(&self, i: &mut Inner, kind: Kind, (intended, path): Sent, now: Instant) {
        let s = &mut i.kinds[kind.index()];
        s.received += 1;
        if intended < self.warmup_end {
            return;
        }
        let us = now.saturating_duration_since(intended).as_micros().max(1) as u64;
        let _ = s.measured.record(us.min(60_000_000));
        if let Some(p) = path {
            let _ = s.by_path[p as usize].record(us.min(60_000_000));
        }
        let second = now.saturating_duration_since(self.start).as_secs() as usize;
        while s.per_second.len() <= second {
            s.per_second.push(histogram());
        }
        let _ = s.per_second[second].record(us.min(60_000_000));
    }

    /// The reply to `token` arrived now. Unknown tokens (duplicates) are ignored.
    pub fn received(&self, token: u64, now: Instant) {
        self.with(|i| {
            if let Some((kind, intended, path)) = i.pending.remove(&token) {
                self.record(i, kind, (intended, path), now);
            }
        });
    }

    /// A token-less reply in `stream` arrived now.
    pub fn received_fifo(&self, kind: Kind, stream: u64, now: Instant) {
        self.with(|i| {
            if let Some(sent) = i
                .fifo
                .get_mut(&(stream, kind))
                .and_then(VecDeque::pop_front)
            {
                self.record(i, kind, sent, now);
            }
        });
    }

    /// The hub refused the message `token`.
    pub fn error(&self, token: u64) {
        self.with(|i| {
            if let Some((kind, _, _)) = i.pending.remove(&token) {
                i.kinds[kind.index()].errors += 1;
            }
        });
    }

    /// The hub sent an error that names no message.
    pub fn unmatched_error(&self) {
        self.with(|i| i.unmatched_errors += 1);
    }

    /// Messages still waiting for their reply.
    pub fn outstanding(&self) -> usize {
        self.with(|i| i.pending.len() + i.fifo.values().map(VecDeque::len).sum::<usize>())
    }

    /// The results; whatever is still outstanding counts as lost.
    pub fn summary(&self) -> Summary {
        self.with(|i| {
            let mut lost: HashMap<Kind, u64> = HashMap::new();
            for (kind, _, _) in i.pending.values() {
                *lost.entry(*kind).or_default() += 1;
            }
            for ((_, kind), q) in &i.fifo {
                *lost.entry(*kind).or_default() += q.len() as u64;
            }
            let kinds = Kind::ALL
                .iter()
                .zip(&i.kinds)
                .filter(|(_, s)| s.sent > 0)
                .map(|(k, s)| KindSummary {
                    kind: *k,
                    sent: s.sent,
                    received: s.received,
                    errors: s.errors,
                    lost: lost.get(k).copied().unwrap_or(0),
                    latency: Percentiles::of(&s.measured),
                    per_second: s
                        .per_second
                        .iter()
                        .enumerate()
                        .filter(|(_, h)| !h.is_empty())
                        .map(|(sec, h)| SecondPoint {
                            second: sec as u64,
                            count: h.len(),
                            p50_ms: ms(h.value_at_quantile(0.5)),
                            p99_ms: ms(h.value_at_quantile(0.99)),
                            max_ms: ms(h.max()),
                        })
                        .collect(),
                    distribution: distribution(&s.measured),
                    by_path: Path::ALL
                        .iter()
                        .zip(&s.by_path)
                        .filter(|(_, h)| !h.is_empty())
                        .map(|(p, h)| PathLatency {
                            path: *p,
                            latency: Percentiles::of(h),
                        })
                        .collect(),
                })
                .collect();
            Summary {
                kinds,
                unmatched_errors: i.unmatched_errors,
            }
        })
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// `(percentile, ms)` points for a percentile plot, 0 .. 99.999.
fn distribution(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for p in [
        0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
    ] {
        out.push((p, ms(h.value_at_percentile(p))));
    }
    out
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Percentiles {
    /// Samples measured (after warm-up).
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th.
    pub p90_ms: f64,
    /// 99th.
    pub p99_ms: f64,
    /// 99.9th.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }

    /// The value for `p50`, `p90`, `p99`, `p999` or `max`.
    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "p50" => self.p50_ms,
            "p90" => self.p90_ms,
            "p99" => self.p99_ms,
            "p999" | "p99.9" => self.p999_ms,
            "max" => self.max_ms,
            _ => return None,
        })
    }
}

/// One second of a kind's latency.
#[derive(Debug, Clone, Serialize)]
pub struct SecondPoint {
    /// Seconds since the run started.
    pub second: u64,
    /// Replies in that second.
    pub count: u64,
    /// Median (ms).
    pub p50_ms: f64,
    /// 99th percentile (ms).
    pub p99_ms: f64,
    /// Largest (ms).
    pub max_ms: f64,
}

/// One kind's results.
#[derive(Debug, Clone, Serialize)]
pub struct KindSummary {
    /// Which.
    pub kind: Kind,
    /// Sent (including warm-up).
    pub sent: u64,
    /// Answered or delivered.
    pub received: u64,
    /// Refused by the hub.
    pub errors: u64,
    /// Neither, when the run ended.
    pub lost: u64,
    /// Latency after warm-up.
    pub latency: Percentiles,
    /// Latency per second.
    pub per_second: Vec<SecondPoint>,
    /// `(percentile, ms)` for the percentile plot.
    pub distribution: Vec<(f64, f64)>,
    /// `latency` by where the participants sat (runs against several nodes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub by_path: Vec<PathLatency>,
}

/// One kind's latency on one [`Path`].
#[derive(Debug, Clone, Serialize)]
pub struct PathLatency {
    /// Which.
    pub path: Path,
    /// Latency after warm-up.
    pub latency: Percentiles,
}

/// Every kind's results.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Per kind, those that were sent.
    pub kinds: Vec<KindSummary>,
    /// Hub errors that named no message.
    pub unmatched_errors: u64,
}

impl Summary {
    /// Total sent, received, errors, lost.
    pub fn totals(&self) -> (u64, u64, u64, u64) {
        self.kinds.iter().fold((0, 0, 0, 0), |(s, r, e, l), k| {
            (s + k.sent, r + k.received, e + k.errors, l + k.lost)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_counts_from_the_intended_time_and_warmup_is_excluded() {
        let m = Metrics::new(Duration::from_millis(0));
        let t = Instant::now();
        // Intended 50 ms before it was (late) sent and received: 50 ms.
        m.sent(Kind::Offer, None, 1, t);
        m.received(1, t + Duration::from_millis(50));
        m.sent(Kind::Offer, None, 2, t);
        m.error(2);
        m.sent(Kind::Offer, None, 3, t);
        let s = m.summary();
        let k = &s.kinds[0];
        assert_eq!((k.sent, k.received, k.errors, k.lost), (3, 1, 1, 1));
        assert!((k.latency.p50_ms - 50.0).abs() < 0.1, "{:?}", k.latency);
        assert!(k.by_path.is_empty(), "no path given, none reported");

        let w = Metrics::new(Duration::from_secs(60));
        w.sent_fifo(Kind::Permission, None, 7, Instant::now());
        w.received_fifo(Kind::Permission, 7, Instant::now());
        let s = w.summary();
        assert_eq!(s.kinds[0].received, 1);
        assert_eq!(
            s.kinds[0].latency.count, 0,
            "warm-up samples are not measured"
        );
    }

    #[test]
    fn latency_is_also_split_by_path() {
        let m = Metrics::new(Duration::ZERO);
        let t = Instant::now();
        m.sent(Kind::Ice, Some(Path::SameNode), 1, t);
        m.sent(Kind::Ice, Some(Path::CrossNode), 2, t);
        m.sent(Kind::Ice, Some(Path::CrossNode), 3, t);
        m.sent_fifo(Kind::Permission, Some(Path::CrossNode), 9, t);
        m.received(1, t + Duration::from_millis(1));
        m.received(2, t + Duration::from_millis(4));
        m.received_fifo(Kind::Permission, 9, t + Duration::from_millis(2));
        let s = m.summary();
        let ice = &s.kinds[0];
        assert_eq!((ice.kind, ice.received, ice.lost), (Kind::Ice, 2, 1));
        let by: Vec<(Path, u64, f64)> = ice
            .by_path
            .iter()
            .map(|p| (p.path, p.latency.count, p.latency.p50_ms.round()))
            .collect();
        assert_eq!(by, [(Path::SameNode, 1, 1.0), (Path::CrossNode, 1, 4.0)]);
        assert_eq!(s.kinds[1].by_path[0].path, Path::CrossNode);
    }
}

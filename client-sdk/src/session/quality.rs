//! Connection quality in five levels, from the figures every WebRTC stack
//! reports (`getStats` in browsers): round-trip time of the selected ICE
//! candidate pair, packet loss over the last interval, and jitter.
//!
//! Platform-free: a shell samples the cumulative counters every
//! [`SAMPLE_INTERVAL_MS`] and feeds them to a [`QualityMeter`]; the meter
//! turns counters into interval loss and reports a level only when it
//! changes.
//!
//! | level | round trip | loss | jitter |
//! |---|---|---|---|
//! | excellent | < 150 ms | < 1 % | < 30 ms |
//! | good | < 300 ms | < 3 % | < 50 ms |
//! | fair | < 500 ms | < 8 % | < 100 ms |
//! | poor | anything worse, while packets arrive | | |
//! | lost | the connection is down, or nothing arrived and no round trip was measured | | |
//!
//! A peer that sends no media (no camera, muted) still has a measured round
//! trip: it is rated on that alone, not shown as lost.
//!
//! The worst of the three figures decides (a call with a 50 ms round trip
//! and 10 % loss is poor). The round-trip limits are stricter than ITU-T
//! G.114's 150 ms one-way comfort limit, so "excellent" leaves headroom.

/// How often a shell samples statistics (ms).
pub const SAMPLE_INTERVAL_MS: u64 = 2_000;

/// A connection's quality (thresholds: the module doc). Ordered from
/// worst to best: `Lost < Poor < Fair < Good < Excellent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Quality {
    /// The connection is down, or nothing arrives and no round trip is
    /// measured.
    Lost,
    /// Audible or visible trouble.
    Poor,
    /// Noticeable but usable.
    Fair,
    /// Fine.
    Good,
    /// As good as it gets.
    Excellent,
}

impl Quality {
    /// Lower-case name, as in events: `excellent`, `good`, `fair`, `poor`
    /// or `lost`.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Lost => "lost",
            Quality::Poor => "poor",
            Quality::Fair => "fair",
            Quality::Good => "good",
            Quality::Excellent => "excellent",
        }
    }
}

/// One sample of a peer connection's statistics (`getStats`): cumulative
/// counters since the connection began, and current figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Packets received on all inbound RTP streams so far.
    pub packets_received: u64,
    /// Packets lost on all inbound RTP streams so far (as reported; may
    /// shrink when duplicates arrive).
    pub packets_lost: i64,
    /// Round-trip time of the selected candidate pair (ms), if measured.
    pub rtt_ms: Option<f64>,
    /// The worst inbound jitter (ms), if any stream reports one.
    pub jitter_ms: Option<f64>,
}

/// The figures behind a level, for display.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// The level.
    pub quality: Quality,
    /// Round trip of the selected candidate pair (ms), if measured.
    pub rtt_ms: Option<f64>,
    /// Fraction of packets lost since the previous sample (0.0 to 1.0; 0
    /// when no packet was expected).
    pub loss: f64,
    /// The worst inbound jitter (ms), if reported.
    pub jitter_ms: Option<f64>,
}

/// Turns samples, one every [`SAMPLE_INTERVAL_MS`], into levels, reporting
/// only changes.
///
/// ```
/// use bedside_sdk::session::quality::{Quality, QualityMeter, Sample};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut meter = QualityMeter::new();
/// let sample = |received, lost| Sample {
///     packets_received: received,
///     packets_lost: lost,
///     rtt_ms: Some(40.0),
///     jitter_ms: Some(5.0),
/// };
/// let first = meter.sample(sample(100, 0)).ok_or("no level")?;
/// assert_eq!(first.quality, Quality::Excellent);
/// assert_eq!(meter.sample(sample(200, 0)), None); // no change, no report
/// // 50 lost of 150 expected in this interval.
/// let worse = meter.sample(sample(300, 50)).ok_or("no change")?;
/// assert_eq!(worse.quality, Quality::Poor);
/// assert_eq!(meter.level(), Some(Quality::Poor));
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct QualityMeter {
    last: Option<Sample>,
    level: Option<Quality>,
}

impl QualityMeter {
    /// A meter with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// The level last reported, once there is one.
    pub fn level(&self) -> Option<Quality> {
        self.level
    }

    /// Feeds a sample; returns the figures when the level changed (the
    /// first sample always reports). Loss is computed over the interval
    /// since the previous sample (over everything counted, for the first
    /// sample after [`QualityMeter::new`] or [`QualityMeter::down`]).
    /// Nothing received in the interval: rated on the round trip alone, or
    /// [`Quality::Lost`] without one.
    pub fn sample(&mut self, s: Sample) -> Option<Figures> {
        let (received, lost) = match self.last {
            Some(prev) => (
                s.packets_received.saturating_sub(prev.packets_received),
                s.packets_lost.saturating_sub(prev.packets_lost).max(0) as u64,
            ),
            None => (s.packets_received, s.packets_lost.max(0) as u64),
        };
        self.last = Some(s);
        let total = received + lost;
        let loss = if total == 0 {
            0.0
        } else {
            lost as f64 / total as f64
        };
        let quality = match (received, s.rtt_ms) {
            (0, None) => Quality::Lost,
            (0, rtt) => classify(rtt, 0.0, None),
            _ => classify(s.rtt_ms, loss, s.jitter_ms),
        };
        self.change(Figures {
            quality,
            rtt_ms: s.rtt_ms,
            loss,
            jitter_ms: s.jitter_ms,
        })
    }

    /// The connection went down (or is not connected yet): the level is
    /// [`Quality::Lost`]. Returns the figures unless it already was; the
    /// next sample counts from scratch.
    pub fn down(&mut self) -> Option<Figures> {
        self.last = None;
        self.change(Figures {
            quality: Quality::Lost,
            rtt_ms: None,
            loss: 0.0,
            jitter_ms: None,
        })
    }

    fn change(&mut self, f: Figures) -> Option<Figures> {
        if self.level == Some(f.quality) {
            return None;
        }
        self.level = Some(f.quality);
        Some(f)
    }
}

/// The level of one set of figures: the round trip (ms), the loss fraction
/// (0.0 to 1.0) and the jitter (ms) are each rated against the table in the
/// module doc, and the worst decides; a missing figure rates excellent.
/// Never [`Quality::Lost`].
///
/// ```
/// use bedside_sdk::session::quality::{Quality, classify};
///
/// assert_eq!(classify(Some(50.0), 0.0, Some(5.0)), Quality::Excellent);
/// assert_eq!(classify(Some(50.0), 0.10, None), Quality::Poor);
/// assert_eq!(classify(Some(200.0), 0.0, None), Quality::Good);
/// ```
pub fn classify(rtt_ms: Option<f64>, loss: f64, jitter_ms: Option<f64>) -> Quality {
    let by = |v: f64, limits: [f64; 3]| {
        if v < limits[0] {
            Quality::Excellent
        } else if v < limits[1] {
            Quality::Good
        } else if v < limits[2] {
            Quality::Fair
        } else {
            Quality::Poor
        }
    };
    let rtt = rtt_ms.map_or(Quality::Excellent, |r| by(r, [150.0, 300.0, 500.0]));
    let loss = by(loss * 100.0, [1.0, 3.0, 8.0]);
    let jitter = jitter_ms.map_or(Quality::Excellent, |j| by(j, [30.0, 50.0, 100.0]));
    rtt.min(loss).min(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn worst_figure_decides() {
        assert_eq!(classify(Some(20.0), 0.0, Some(5.0)), Quality::Excellent);
        assert_eq!(classify(Some(200.0), 0.0, Some(5.0)), Quality::Good);
        assert_eq!(classify(Some(20.0), 0.05, Some(5.0)), Quality::Fair);
        assert_eq!(classify(Some(20.0), 0.10, Some(5.0)), Quality::Poor);
        assert_eq!(classify(Some(20.0), 0.0, Some(120.0)), Quality::Poor);
        assert_eq!(classify(None, 0.0, None), Quality::Excellent);
    }

    #[test]
    fn loss_is_per_interval_and_only_changes_are_reported() {
        let mut m = QualityMeter::new();
        let s = |rx, lost| Sample {
            packets_received: rx,
            packets_lost: lost,
            rtt_ms: Some(10.0),
            jitter_ms: Some(2.0),
        };
        assert_eq!(
            m.sample(s(100, 0)).map(|f| f.quality),
            Some(Quality::Excellent)
        );
        assert_eq!(m.sample(s(200, 0)), None, "no change, no report");
        // 50 lost of 150 expected in this interval (14 % overall).
        let f = m.sample(s(300, 50)).unwrap();
        assert_eq!(f.quality, Quality::Poor);
        assert!((f.loss - 1.0 / 3.0).abs() < 1e-9, "{}", f.loss);
        // Nothing received, but the path answers: rated on the round trip.
        assert_eq!(
            m.sample(s(300, 50)).map(|f| f.quality),
            Some(Quality::Excellent)
        );
        // Nothing received and no round trip: lost.
        let silent = Sample {
            packets_received: 300,
            packets_lost: 50,
            rtt_ms: None,
            jitter_ms: None,
        };
        assert_eq!(m.sample(silent).map(|f| f.quality), Some(Quality::Lost));
        assert_eq!(
            m.sample(s(400, 50)).map(|f| f.quality),
            Some(Quality::Excellent)
        );
        assert_eq!(m.down().map(|f| f.quality), Some(Quality::Lost));
        assert_eq!(m.level(), Some(Quality::Lost));
    }

    #[test]
    fn duplicates_shrinking_the_loss_counter_do_not_count_negative() {
        let mut m = QualityMeter::new();
        let s = |rx, lost| Sample {
            packets_received: rx,
            packets_lost: lost,
            ..Sample::default()
        };
        m.sample(s(100, 5));
        let f = m.sample(s(200, 3));
        assert_eq!(f.map(|f| f.quality), Some(Quality::Excellent));
    }
}

//! Connection statistics: `getStats()` of a connection for the app, and
//! the figures of one report (inbound RTP counters, jitter, the selected
//! candidate pair's round trip) as a [`Sample`] for the quality meter.

use super::{Media, get};
use crate::session::quality::Sample;
use bedside_protocol::ParticipantId;
use std::collections::HashMap;
use wasm_bindgen::JsValue;
use web_sys::RtcStatsReport;

impl Media {
    /// `getStats()` of the connection to `peer`.
    pub(crate) fn stats(&self, peer: &ParticipantId) -> Option<js_sys::Promise> {
        self.peers.get(peer).map(|p| p.pc.get_stats())
    }
}

/// The figures of one `getStats()` report: inbound RTP counters summed,
/// the worst jitter, and the selected candidate pair's round trip.
pub(super) fn sample_of(report: &RtcStatsReport) -> Sample {
    let mut s = Sample::default();
    let mut pairs: HashMap<String, JsValue> = HashMap::new();
    let mut selected: Option<String> = None;
    let num = |v: &JsValue, k: &str| get(v, k).and_then(|x| x.as_f64());
    for stat in report.values().into_iter().flatten() {
        let kind = get(&stat, "type")
            .and_then(|t| t.as_string())
            .unwrap_or_default();
        match kind.as_str() {
            "inbound-rtp" => {
                s.packets_received += num(&stat, "packetsReceived").unwrap_or(0.0) as u64;
                s.packets_lost += num(&stat, "packetsLost").unwrap_or(0.0) as i64;
                if let Some(j) = num(&stat, "jitter") {
                    let ms = j * 1000.0;
                    s.jitter_ms = Some(s.jitter_ms.map_or(ms, |x: f64| x.max(ms)));
                }
            }
            "transport" => {
                selected = get(&stat, "selectedCandidatePairId").and_then(|x| x.as_string());
            }
            "candidate-pair" => {
                if let Some(id) = get(&stat, "id").and_then(|x| x.as_string()) {
                    pairs.insert(id, stat);
                }
            }
            _ => {}
        }
    }
    let pair = selected.and_then(|id| pairs.get(&id).cloned()).or_else(|| {
        pairs.values().find_map(|p| {
            let nominated = get(p, "nominated").and_then(|x| x.as_bool()) == Some(true);
            let ok = get(p, "state").and_then(|x| x.as_string()).as_deref() == Some("succeeded");
            (nominated && ok).then(|| p.clone())
        })
    });
    s.rtt_ms = pair
        .and_then(|p| num(&p, "currentRoundTripTime"))
        .map(|r| r * 1000.0);
    s
}

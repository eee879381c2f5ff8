//! Realistic SDPs: a real Chromium offer and answer with microphone, camera
//! and data channel (from the hub's corpus), with the `o=` session id
//! replaced by a per-message token the receiver reads back.

use bedside_protocol::{TrackId, TrackSource};

/// The SDPs a negotiation sends, and the tracks they name.
#[derive(Debug, Clone)]
pub struct Templates {
    offer: (String, String),
    answer: (String, String),
    /// `(track id, source)` the offer's sender must announce.
    pub offer_tracks: Vec<(TrackId, TrackSource)>,
    /// `(track id, source)` the answer's sender must announce.
    pub answer_tracks: Vec<(TrackId, TrackSource)>,
}

const OFFER: &str = include_str!("../../server/tests/data/sdp/chromium-camera-mic-offer.sdp");
const ANSWER: &str = include_str!("../../server/tests/data/sdp/chromium-camera-mic-answer.sdp");

/// Splits an SDP around its `o=` session id: `(before, after)`.
fn split_origin(sdp: &str) -> anyhow::Result<(String, String)> {
    let start = sdp
        .find("\no=")
        .ok_or_else(|| anyhow::anyhow!("SDP without an o= line"))?
        + 1;
    let line_end = sdp[start..].find('\n').map_or(sdp.len(), |e| start + e);
    let line = &sdp[start..line_end];
    let mut fields = line.splitn(3, ' ');
    let user = fields.next().unwrap_or("o=-");
    let _session_id = fields.next();
    let rest = fields.next().unwrap_or("2 IN IP4 127.0.0.1\r");
    Ok((
        format!("{}{user} ", &sdp[..start]),
        format!(" {rest}{}", &sdp[line_end..]),
    ))
}

/// Track ids named by sending m-sections, with the source their kind implies.
fn tracks(sdp: &str) -> Vec<(TrackId, TrackSource)> {
    let mut out = Vec::new();
    let mut kind = "";
    let mut sending = false;
    let mut ids: Vec<TrackId> = Vec::new();
    let flush = |kind: &str,
                 sending: bool,
                 ids: &mut Vec<TrackId>,
                 out: &mut Vec<(TrackId, TrackSource)>| {
        if sending {
            let source = if kind == "audio" {
                TrackSource::Microphone
            } else {
                TrackSource::Camera
            };
            for id in ids.drain(..) {
                if !out.iter().any(|(t, _)| *t == id) {
                    out.push((id, source));
                }
            }
        }
        ids.clear();
    };
    for line in sdp.lines() {
        if let Some(m) = line.strip_prefix("m=") {
            flush(kind, sending, &mut ids, &mut out);
            kind = if m.starts_with("audio") {
                "audio"
            } else if m.starts_with("video") {
                "video"
            } else {
                ""
            };
            sending = false;
        } else if line == "a=sendrecv" || line == "a=sendonly" {
            sending = !kind.is_empty();
        } else if let Some(t) = line
            .strip_prefix("a=msid:")
            .and_then(bedside_protocol::sdp::msid_track)
        {
            ids.extend(TrackId::new(t).ok());
        }
    }
    flush(kind, sending, &mut ids, &mut out);
    out
}

impl Templates {
    /// The built-in templates.
    pub fn load() -> anyhow::Result<Self> {
        Ok(Self {
            offer: split_origin(OFFER)?,
            answer: split_origin(ANSWER)?,
            offer_tracks: tracks(OFFER),
            answer_tracks: tracks(ANSWER),
        })
    }

    /// The offer carrying `token`.
    pub fn offer(&self, token: u64) -> String {
        format!("{}{token}{}", self.offer.0, self.offer.1)
    }

    /// The answer carrying `token`.
    pub fn answer(&self, token: u64) -> String {
        format!("{}{token}{}", self.answer.0, self.answer.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_replaces_the_session_id_and_tracks_are_found() {
        let t = Templates::load().unwrap();
        let o = t.offer(123456789);
        assert!(o.contains("\no=- 123456789 "), "{}", &o[..200]);
        assert_eq!(
            o.len(),
            OFFER.len()
                - OFFER
                    .lines()
                    .find(|l| l.starts_with("o="))
                    .unwrap()
                    .split(' ')
                    .nth(1)
                    .unwrap()
                    .len()
                + 9
        );
        assert_eq!(t.offer_tracks.len(), 2, "{:?}", t.offer_tracks);
        assert!(
            t.offer_tracks
                .iter()
                .any(|(_, s)| *s == TrackSource::Microphone)
        );
        assert!(
            t.offer_tracks
                .iter()
                .any(|(_, s)| *s == TrackSource::Camera)
        );
        assert!(bedside_visit::sdp::inspect(&o).is_ok());
    }
}

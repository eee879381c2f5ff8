//! What a shell needs from an SDP's media sections, without a full parser:
//! each section's `mid`, kind, direction and the track id its `a=msid`
//! names. Browsers put ids in their SDP that differ from
//! `MediaStreamTrack.id` (Chromium's answers, Firefox always), so the id
//! announced to the hub is read from the local description, and a remote
//! track is matched to its announcement through the transceiver's `mid`.
//!
//! The hub has checked every relayed SDP strictly (docs/protocol.md); this
//! reader only has to agree with it on well-formed input.

/// A media section's kind (`m=` media field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `m=audio`.
    Audio,
    /// `m=video`.
    Video,
    /// `m=application` (data channels) or any other media type.
    Other,
}

/// A section's direction as its SDP's author declares it (`sendrecv` when
/// no direction attribute is present).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv`.
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`, or a rejected section (port 0).
    Inactive,
}

impl Direction {
    /// Whether the SDP's author sends media in this section.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Its `a=mid` value, if any.
    pub mid: Option<String>,
    /// Audio, video or other.
    pub kind: Kind,
    /// As the SDP's author declares it; [`Direction::Inactive`] for a
    /// rejected section (port 0).
    pub direction: Direction,
    /// The track id of `a=msid:<stream> <track>` (normalised: braces
    /// removed), or, without `a=msid`, of the first
    /// `a=ssrc:<n> msid:<stream> <track>` line (Plan B). `None` when no line
    /// names a track by the hub's rule
    /// ([`bedside_protocol::sdp::msid_track`]).
    pub track_id: Option<String>,
}

/// Reads the media sections of `sdp`, in order (index = m-line index).
/// Lines may end in CRLF or LF; session-level lines before the first `m=`
/// are ignored, and so are lines it does not know. Never fails.
///
/// ```
/// use bedside_sdk::session::sections::{self, Direction, Kind};
///
/// let sdp = "v=0\r\n\
///     m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\na=msid:s1 {mic-1}\r\n\
///     m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n";
/// let found = sections::sections(sdp);
/// assert_eq!(found.len(), 2);
/// assert_eq!(found[0].kind, Kind::Audio);
/// assert!(found[0].direction.sends());
/// assert_eq!(found[0].track_id.as_deref(), Some("mic-1"));
/// // Port 0: a rejected section.
/// let video = sections::by_mid(&found, "1").map(|s| s.direction);
/// assert_eq!(video, Some(Direction::Inactive));
/// ```
pub fn sections(sdp: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    // Of the current section: the Plan B track, and whether it is rejected.
    let mut ssrc_track: Option<String> = None;
    let mut rejected = false;
    let finish = |out: &mut Vec<Section>, ssrc_track: &mut Option<String>, rejected: bool| {
        if let Some(last) = out.last_mut() {
            if last.track_id.is_none() {
                last.track_id = ssrc_track.take();
            }
            if rejected {
                last.direction = Direction::Inactive;
            }
        }
        *ssrc_track = None;
    };
    for line in sdp.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(m) = line.strip_prefix("m=") {
            finish(&mut out, &mut ssrc_track, rejected);
            let mut fields = m.split(' ');
            let kind = match fields.next() {
                Some("audio") => Kind::Audio,
                Some("video") => Kind::Video,
                _ => Kind::Other,
            };
            rejected = fields.next() == Some("0");
            out.push(Section {
                mid: None,
                kind,
                direction: Direction::SendRecv,
                track_id: None,
            });
            continue;
        }
        let Some(section) = out.last_mut() else {
            continue; // session level
        };
        let Some(attr) = line.strip_prefix("a=") else {
            continue;
        };
        let (name, value) = attr.split_once(':').unwrap_or((attr, ""));
        match name {
            "mid" => section.mid = Some(value.to_owned()),
            "sendrecv" => section.direction = Direction::SendRecv,
            "sendonly" => section.direction = Direction::SendOnly,
            "recvonly" => section.direction = Direction::RecvOnly,
            "inactive" => section.direction = Direction::Inactive,
            "msid" => section.track_id = msid_track(value),
            "ssrc" if ssrc_track.is_none() => {
                ssrc_track = value
                    .split_once(' ')
                    .and_then(|(_, rest)| rest.strip_prefix("msid:"))
                    .and_then(msid_track);
            }
            _ => {}
        }
    }
    finish(&mut out, &mut ssrc_track, rejected);
    out
}

/// The first section whose `a=mid` is `mid`.
pub fn by_mid<'a>(sections: &'a [Section], mid: &str) -> Option<&'a Section> {
    sections.iter().find(|s| s.mid.as_deref() == Some(mid))
}

pub use bedside_protocol::sdp::normalize_track_id;

/// The track an msid value names, by the hub's own rule
/// ([`bedside_protocol::sdp::msid_track`]).
fn msid_track(value: &str) -> Option<String> {
    bedside_protocol::sdp::msid_track(value).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\na=msid:s1 {a-1}\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=recvonly\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=sendonly\r\na=ssrc:1 cname:x\r\na=ssrc:1 msid:s1 v-2\r\n\
        m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:3\r\na=sendrecv\r\n";

    #[test]
    fn reads_mid_kind_direction_and_track() {
        let s = sections(OFFER);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].mid.as_deref(), Some("0"));
        assert_eq!(s[0].kind, Kind::Audio);
        assert_eq!(s[0].direction, Direction::SendRecv);
        assert_eq!(s[0].track_id.as_deref(), Some("a-1"), "braces removed");
        assert_eq!(s[1].direction, Direction::RecvOnly);
        assert_eq!(s[1].track_id, None);
        assert_eq!(s[2].track_id.as_deref(), Some("v-2"), "Plan B ssrc msid");
        assert!(s[2].direction.sends());
        assert_eq!(s[3].kind, Kind::Other);
        assert_eq!(s[3].direction, Direction::Inactive, "port 0 is rejected");
        assert_eq!(by_mid(&s, "2").map(|x| x.kind), Some(Kind::Video));
        assert!(by_mid(&s, "9").is_none());
    }

    /// Real browser SDPs from the hub's captured corpus.
    #[test]
    fn reads_captured_chromium_and_firefox_sdps() {
        let firefox = sections(include_str!(
            "../../../server/tests/data/sdp/firefox-camera-mic-offer.sdp"
        ));
        assert_eq!(firefox.len(), 3);
        assert_eq!(firefox[0].kind, Kind::Audio);
        assert!(firefox[0].direction.sends());
        assert_eq!(
            firefox[0].track_id.as_deref(),
            Some("81730793-e60e-4e70-aa21-2752d3db5b85"),
            "Firefox's braces removed"
        );
        assert_eq!(by_mid(&firefox, "1").map(|x| x.kind), Some(Kind::Video));
        let chromium = sections(include_str!(
            "../../../server/tests/data/sdp/chromium-camera-mic-answer.sdp"
        ));
        assert_eq!(
            by_mid(&chromium, "1").and_then(|x| x.track_id.as_deref()),
            Some("90e53aef-b4ad-4907-b207-17b20f18531a")
        );
        assert!(chromium.iter().take(2).all(|x| x.direction.sends()));
    }

    #[test]
    fn session_level_attributes_are_not_a_section() {
        let s = sections("v=0\na=msid-semantic: WMS s\na=sendonly\n");
        assert!(s.is_empty());
    }
}

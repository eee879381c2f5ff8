//! SDP validation (PROTOCOL.md section 5) with Mozilla's `webrtc-sdp` parser.
//!
//! [`inspect`] checks the rules that need only the SDP text and returns a
//! [`SdpSummary`] of the m-sections, which the visit checks against its state
//! (published tracks, the screen-share permission). It runs on the sender's
//! connection task, so parsing cost spreads over cores and never stalls a visit.

use webrtc_sdp::SdpSession;
use webrtc_sdp::attribute_type::{SdpAttribute, SdpAttributeFingerprintHashType};
use webrtc_sdp::media_type::{SdpMedia, SdpMediaValue, SdpProtocolValue};

/// Largest SDP accepted.
pub const MAX_SDP_BYTES: usize = 64 * 1024;
/// Most m-sections accepted.
pub const MAX_M_SECTIONS: usize = 16;

/// A broken rule: `rule` is the stable name sent as `error.rule`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct SdpViolation {
    /// Stable rule name.
    pub rule: &'static str,
    /// What was wrong (no SDP content).
    pub detail: String,
}

fn violation(rule: &'static str, detail: impl Into<String>) -> SdpViolation {
    SdpViolation {
        rule,
        detail: detail.into(),
    }
}

/// Media kind of an m-section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// `m=audio`
    Audio,
    /// `m=video`
    Video,
    /// `m=application` (data channels)
    Data,
}

/// What the hub needs to know of one m-section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSection {
    /// Audio, video or data.
    pub kind: MediaKind,
    /// Direction is `sendrecv` or `sendonly`.
    pub sending: bool,
    /// Track ids named by `a=msid` (second field, braces removed).
    pub track_ids: Vec<String>,
}

/// The m-sections of a valid SDP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdpSummary {
    /// In order.
    pub sections: Vec<MediaSection>,
}

/// Parses `sdp` and checks the section 5 rules that need only the text.
pub fn inspect(sdp: &str) -> Result<SdpSummary, SdpViolation> {
    if sdp.len() > MAX_SDP_BYTES {
        return Err(violation(
            "size",
            format!("SDP is larger than {MAX_SDP_BYTES} bytes"),
        ));
    }
    // Cheap pre-check so a huge m-line count never reaches the parser.
    let m_lines = sdp.lines().filter(|l| l.starts_with("m=")).count();
    if m_lines > MAX_M_SECTIONS {
        return Err(violation(
            "m_sections",
            format!("SDP has {m_lines} m-sections; at most {MAX_M_SECTIONS}"),
        ));
    }
    let session = webrtc_sdp::parse_sdp(sdp, false)
        .map_err(|e| violation("parse", format!("SDP does not parse: {}", describe(&e))))?;
    check(&session)
}

/// The parser's error without echoing the offending line (it could hold PHI).
fn describe(e: &webrtc_sdp::error::SdpParserError) -> String {
    use webrtc_sdp::error::SdpParserError as E;
    match e {
        E::Line { line_number, .. } => format!("bad line {line_number}"),
        E::Unsupported { line_number, .. } => format!("unsupported line {line_number}"),
        E::Sequence {
            message,
            line_number,
        } => format!("{message} (line {line_number})"),
    }
}

fn check(session: &SdpSession) -> Result<SdpSummary, SdpViolation> {
    if session.media.len() > MAX_M_SECTIONS {
        return Err(violation("m_sections", "too many m-sections"));
    }
    let session_fp = has_strong_fingerprint(&session.attribute);
    let session_ufrag = has(&session.attribute, |a| {
        matches!(a, SdpAttribute::IceUfrag(_))
    });
    let session_pwd = has(&session.attribute, |a| matches!(a, SdpAttribute::IcePwd(_)));
    let session_dir = direction(&session.attribute);
    if session.media.is_empty() && !session_fp {
        return Err(violation(
            "fingerprint",
            "no sha-256 (or stronger) a=fingerprint",
        ));
    }
    let mut summary = SdpSummary::default();
    for (i, m) in session.media.iter().enumerate() {
        let n = i + 1;
        let kind = check_protocol(m, n)?;
        let attrs = m.get_attributes();
        if !session_fp && !has_strong_fingerprint(attrs) {
            return Err(violation(
                "fingerprint",
                format!("m-section {n} has no sha-256 (or stronger) a=fingerprint"),
            ));
        }
        let ufrag = session_ufrag || has(attrs, |a| matches!(a, SdpAttribute::IceUfrag(_)));
        let pwd = session_pwd || has(attrs, |a| matches!(a, SdpAttribute::IcePwd(_)));
        if !(ufrag && pwd) {
            return Err(violation(
                "ice_credentials",
                format!("m-section {n} lacks a=ice-ufrag or a=ice-pwd"),
            ));
        }
        let dir = direction(attrs)
            .or(session_dir)
            .unwrap_or(Direction::SendRecv);
        let track_ids = attrs
            .iter()
            .filter_map(|a| match a {
                SdpAttribute::Msid(msid) => msid.appdata.as_deref().map(normalize_track_id),
                _ => None,
            })
            .collect();
        summary.sections.push(MediaSection {
            kind,
            sending: matches!(dir, Direction::SendRecv | Direction::SendOnly),
            track_ids,
        });
    }
    Ok(summary)
}

/// Browsers differ in msid spelling (Firefox wraps ids in braces); the hub
/// compares ids without them.
pub fn normalize_track_id(id: &str) -> String {
    id.trim_start_matches('{').trim_end_matches('}').to_owned()
}

fn check_protocol(m: &SdpMedia, n: usize) -> Result<MediaKind, SdpViolation> {
    let proto = m.get_proto();
    match m.get_type() {
        SdpMediaValue::Audio | SdpMediaValue::Video => {
            if *proto != SdpProtocolValue::UdpTlsRtpSavpf {
                return Err(violation(
                    "rtp_profile",
                    format!("m-section {n} uses {proto}; RTP must use UDP/TLS/RTP/SAVPF"),
                ));
            }
            Ok(if matches!(m.get_type(), SdpMediaValue::Audio) {
                MediaKind::Audio
            } else {
                MediaKind::Video
            })
        }
        SdpMediaValue::Application => {
            if *proto != SdpProtocolValue::UdpDtlsSctp {
                return Err(violation(
                    "data_profile",
                    format!("m-section {n} uses {proto}; data must use UDP/DTLS/SCTP"),
                ));
            }
            Ok(MediaKind::Data)
        }
        SdpMediaValue::Unknown(_) => Err(violation(
            "media_type",
            format!("m-section {n} has an unsupported media type"),
        )),
    }
}

#[derive(Clone, Copy)]
enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

fn direction(attrs: &[SdpAttribute]) -> Option<Direction> {
    attrs.iter().find_map(|a| match a {
        SdpAttribute::Sendrecv => Some(Direction::SendRecv),
        SdpAttribute::Sendonly => Some(Direction::SendOnly),
        SdpAttribute::Recvonly => Some(Direction::RecvOnly),
        SdpAttribute::Inactive => Some(Direction::Inactive),
        _ => None,
    })
}

fn has(attrs: &[SdpAttribute], f: impl Fn(&SdpAttribute) -> bool) -> bool {
    attrs.iter().any(f)
}

fn has_strong_fingerprint(attrs: &[SdpAttribute]) -> bool {
    attrs.iter().any(|a| {
        matches!(a, SdpAttribute::Fingerprint(fp) if matches!(
            fp.hash_algorithm,
            SdpAttributeFingerprintHashType::Sha256
                | SdpAttributeFingerprintHashType::Sha384
                | SdpAttributeFingerprintHashType::Sha512
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0 1 2\r\n\
a=msid-semantic: WMS stream\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:abcd\r\n\
a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=sendrecv\r\n\
a=msid:stream mic-1\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
c=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:abcd\r\n\
a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2\r\n\
a=setup:actpass\r\n\
a=mid:1\r\n\
a=sendonly\r\n\
a=msid:stream {cam-1}\r\n\
a=rtcp-mux\r\n\
a=rtpmap:96 VP8/90000\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:abcd\r\n\
a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2\r\n\
a=setup:actpass\r\n\
a=mid:2\r\n\
a=sctp-port:5000\r\n";

    #[test]
    fn valid_offer_summary() {
        let s = inspect(OFFER).unwrap();
        assert_eq!(s.sections.len(), 3);
        assert_eq!(s.sections[0].kind, MediaKind::Audio);
        assert_eq!(s.sections[0].track_ids, vec!["mic-1"]);
        assert_eq!(s.sections[1].track_ids, vec!["cam-1"]);
        assert!(s.sections[1].sending);
        assert_eq!(s.sections[2].kind, MediaKind::Data);
    }

    #[test]
    fn each_rule() {
        let rule = |sdp: &str| inspect(sdp).unwrap_err().rule;
        assert_eq!(
            rule(&OFFER.replacen("UDP/TLS/RTP/SAVPF 111", "RTP/AVP 111", 1)),
            "rtp_profile"
        );
        assert_eq!(
            rule(&OFFER.replace("UDP/DTLS/SCTP", "DTLS/SCTP")),
            "data_profile"
        );
        let fp256 = "sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2";
        let fp1 = "sha-1 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70";
        assert_eq!(rule(&OFFER.replace(fp256, fp1)), "fingerprint");
        assert_eq!(
            rule(&OFFER.replacen("a=fingerprint", "a=x-fingerprint", 1)),
            "fingerprint"
        );
        assert_eq!(
            rule(&OFFER.replace("a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n", "")),
            "ice_credentials"
        );
        assert_eq!(rule("hello"), "parse");
        assert_eq!(rule(&"x".repeat(MAX_SDP_BYTES + 1)), "size");
        let many = format!("{OFFER}{}", "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n".repeat(16));
        assert_eq!(rule(&many), "m_sections");
    }

    #[test]
    fn session_level_fingerprint_counts() {
        let fp = "a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2\r\n";
        let moved = OFFER
            .replace(fp, "")
            .replacen("t=0 0\r\n", &format!("t=0 0\r\n{fp}"), 1);
        assert!(inspect(&moved).is_ok());
    }
}

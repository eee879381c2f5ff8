//! The reference implementation of [`super::inspect`] on Mozilla's
//! `webrtc-sdp` (Firefox's parser): a full parse of every line into typed
//! attributes. The hub's hot path uses the single-pass validator in the
//! parent module (about 15x cheaper); tests and the fuzz target check that
//! the two agree on every SDP both accept, and that the fast one accepts
//! every real SDP this one does.

use super::{
    Direction, MAX_M_SECTIONS, MAX_SDP_BYTES, MediaKind, MediaSection, SdpSummary, SdpViolation,
    normalize_track_id, violation,
};

use webrtc_sdp::SdpSession;
use webrtc_sdp::attribute_type::{SdpAttribute, SdpAttributeFingerprintHashType};
use webrtc_sdp::media_type::{SdpMedia, SdpMediaValue, SdpProtocolValue};

/// Parses `sdp` with webrtc-sdp and checks the section 5 rules.
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

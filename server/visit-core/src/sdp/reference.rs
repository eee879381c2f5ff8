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
    let session_fp = fingerprints(&session.attribute);
    let session_ufrag = has(&session.attribute, |a| {
        matches!(a, SdpAttribute::IceUfrag(_))
    });
    let session_pwd = has(&session.attribute, |a| matches!(a, SdpAttribute::IcePwd(_)));
    if session.media.is_empty() && session_fp != Some(true) {
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
        // RFC 8122 section 5: media-level fingerprints replace the session's.
        if fingerprints(attrs).or(session_fp) != Some(true) {
            return Err(violation(
                "fingerprint",
                format!(
                    "m-section {n} has no sha-256 (or stronger) a=fingerprint, or also a weaker one"
                ),
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
        // The section's own direction only (libwebrtc ignores the
        // session's), as the fast validator.
        let dir = direction(attrs).unwrap_or(Direction::SendRecv);
        let sending = matches!(dir, Direction::SendRecv | Direction::SendOnly);
        let msids: Vec<Option<String>> = attrs
            .iter()
            .filter_map(|a| match a {
                SdpAttribute::Msid(msid) => Some(
                    msid.appdata
                        .as_deref()
                        .filter(|t| well_formed(&msid.id) && well_formed(t))
                        .map(|t| normalize_track_id(t).to_owned()),
                ),
                // Plan B's `a=ssrc:<n> msid:<stream> <track>`.
                SdpAttribute::Ssrc(ssrc) if ssrc.attribute.as_deref() == Some("msid") => Some(
                    ssrc.value
                        .as_deref()
                        .and_then(|v| v.split_once(' '))
                        .filter(|(stream, t)| well_formed(stream) && well_formed(t))
                        .map(|(_, t)| normalize_track_id(t).to_owned()),
                ),
                _ => None,
            })
            .collect();
        let mut track_ids: Vec<String> = Vec::new();
        for id in msids.iter().flatten() {
            if !track_ids.contains(id) {
                track_ids.push(id.clone());
            }
        }
        if sending
            && kind != MediaKind::Data
            && (msids.is_empty() || msids.iter().any(Option::is_none))
        {
            return Err(violation(
                "unannounced_track",
                format!("m-section {n} sends media without naming its track in a=msid"),
            ));
        }
        summary.sections.push(MediaSection {
            kind,
            sending,
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

/// An msid field as RFC 8830 has it: 1–64 token characters (the fast
/// validator's rule; anything else names no track).
fn well_formed(field: &str) -> bool {
    field.len() <= bedside_protocol::sdp::MAX_MSID_FIELD && bedside_protocol::sdp::is_token(field)
}

fn has(attrs: &[SdpAttribute], f: impl Fn(&SdpAttribute) -> bool) -> bool {
    attrs.iter().any(f)
}

/// `None` without fingerprints; else whether every one is sha-256 or
/// stronger.
fn fingerprints(attrs: &[SdpAttribute]) -> Option<bool> {
    let mut all_strong = None;
    for a in attrs {
        if let SdpAttribute::Fingerprint(fp) = a {
            let strong = matches!(
                fp.hash_algorithm,
                SdpAttributeFingerprintHashType::Sha256
                    | SdpAttributeFingerprintHashType::Sha384
                    | SdpAttributeFingerprintHashType::Sha512
            );
            all_strong = Some(all_strong.unwrap_or(true) && strong);
        }
    }
    all_strong
}

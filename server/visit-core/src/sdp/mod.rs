//! SDP validation (PROTOCOL.md section 5): a single-pass validator on the
//! hot path, with Mozilla's `webrtc-sdp` as the reference ([`reference`]).
//!
//! [`inspect`] checks the rules that need only the SDP text and returns a
//! [`SdpSummary`] of the m-sections, which the visit checks against its state
//! (published tracks, the screen-share permission). It runs on the sender's
//! connection task, so parsing cost spreads over cores and never stalls a visit.

pub mod browsers;
pub mod reference;

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

pub(crate) fn violation(rule: &'static str, detail: impl Into<String>) -> SdpViolation {
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

pub use bedside_protocol::sdp::normalize_track_id;
use bedside_protocol::sdp::{FingerprintFields, is_token, msid_track};

/// Parses `sdp` in one pass and checks the section 5 rules that need only
/// the text.
///
/// "Parses as SDP" means the RFC 8866 structure: every line is `<type>=<value>`
/// with a known type letter and no control characters; `v=0`, `o=` (six
/// fields) and `s=` come first in that order; the session part has a `t=`;
/// `m=`, `c=` and `b=` lines have their fields; attribute names are tokens;
/// `a=fingerprint` values are well formed. Attribute values the hub does not
/// act on (codecs, candidates, extensions) are left to the endpoints. The
/// `webrtc-sdp`-based [`reference::inspect`] is the oracle in tests and
/// fuzzing: on every SDP both accept they report the same summary.
pub fn inspect(sdp: &str) -> Result<SdpSummary, SdpViolation> {
    if sdp.len() > MAX_SDP_BYTES {
        return Err(violation(
            "size",
            format!("SDP is larger than {MAX_SDP_BYTES} bytes"),
        ));
    }
    // Every line ends with a newline, and none is blank: Firefox's parser
    // (sipcc) silently drops an unterminated last line and discards all
    // that follows a blank one, so either would hide lines (a=inactive, say)
    // from the browser that the hub read.
    let Some(body) = sdp.strip_suffix('\n') else {
        return Err(violation(
            "parse",
            "SDP does not parse: the last line does not end with a newline",
        ));
    };
    let mut p = Parser::default();
    for (i, raw) in body.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            return Err(bad(i + 1, "blank line"));
        }
        p.line(i + 1, line)?;
    }
    p.finish()
}

#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum Stage {
    #[default]
    Start,
    Origin,
    SessionName,
    Session,
    Media,
}

#[derive(Default)]
struct Level {
    /// A sha-256 (or stronger) `a=fingerprint` at this level.
    strong_fingerprint: bool,
    /// A weaker one (sha-1, md5, unknown hash).
    weak_fingerprint: bool,
    ufrag: bool,
    pwd: bool,
    direction: Option<Direction>,
    setup: bool,
}

struct Section {
    kind: MediaKind,
    level: Level,
    /// Well-formed `a=msid` (and `a=ssrc:… msid:`) track ids.
    track_ids: Vec<String>,
    /// An `a=msid` naming no track a receiver could match (stream only,
    /// `-`, extra fields, odd spacing): a browser plays such a track
    /// under a random id.
    msid_without_track: bool,
    mid: bool,
}

#[derive(Default)]
struct Parser {
    stage: Stage,
    timing: bool,
    session: Level,
    sections: Vec<Section>,
    /// `a=mid` values seen, to refuse a repeated one.
    mids: Vec<String>,
}

fn bad(n: usize, what: &str) -> SdpViolation {
    violation("parse", format!("SDP does not parse: {what} (line {n})"))
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl Parser {
    fn level(&mut self) -> &mut Level {
        match self.sections.last_mut() {
            Some(s) => &mut s.level,
            None => &mut self.session,
        }
    }

    fn line(&mut self, n: usize, line: &str) -> Result<(), SdpViolation> {
        let b = line.as_bytes();
        if b.len() < 2 || b[1] != b'=' {
            return Err(bad(n, "not a <type>=<value> line"));
        }
        // Tabs too: browsers split fields on spaces only (libwebrtc reads
        // `a=msid:s<TAB>t` as one stream id and gives the track a random id).
        if line.bytes().any(|c| c < 0x20 || c == 0x7f) {
            return Err(bad(n, "control character"));
        }
        let value = &line[2..];
        // RFC 8866 type letters are lower case; libwebrtc skips any other
        // line (so `M=` starts no section for a browser, `A=` sets nothing),
        // webrtc-sdp reads them: refused rather than read either way.
        let ty = b[0];
        if ty.is_ascii_uppercase() {
            return Err(bad(n, "line type letters are lower case"));
        }
        match (self.stage, ty) {
            (Stage::Start, b'v') if value.trim() == "0" => self.stage = Stage::Origin,
            (Stage::Start, _) => return Err(bad(n, "the first line must be v=0")),
            (Stage::Origin, b'o') => {
                let f: Vec<&str> = value.split_whitespace().collect();
                if f.len() != 6 || !is_digits(f[1]) || !is_digits(f[2]) || f[3] != "IN" {
                    return Err(bad(n, "malformed o= line"));
                }
                self.stage = Stage::SessionName;
            }
            (Stage::Origin, _) => return Err(bad(n, "the second line must be o=")),
            (Stage::SessionName, b's') => self.stage = Stage::Session,
            (Stage::SessionName, _) => return Err(bad(n, "the third line must be s=")),
            (_, b'v' | b'o' | b's') => return Err(bad(n, "v=, o= or s= repeated")),
            (_, b'm') => self.media(n, value)?,
            (Stage::Session, b't') => {
                let f: Vec<&str> = value.split_whitespace().collect();
                if f.len() != 2 || !is_digits(f[0]) || !is_digits(f[1]) {
                    return Err(bad(n, "malformed t= line"));
                }
                self.timing = true;
            }
            (Stage::Media, b't' | b'r' | b'z') => {
                return Err(bad(n, "session-only line inside a media section"));
            }
            (_, b'r' | b'z' | b'i' | b'u' | b'e' | b'p' | b'k') => {}
            (_, b'c') => {
                let f: Vec<&str> = value.split_whitespace().collect();
                if f.len() != 3 || f[0] != "IN" || !matches!(f[1], "IP4" | "IP6") {
                    return Err(bad(n, "malformed c= line"));
                }
            }
            (_, b'b') => match value.split_once(':') {
                Some((t, v)) if is_token(t) && is_digits(v.trim()) => {}
                _ => return Err(bad(n, "malformed b= line")),
            },
            (_, b'a') => self.attribute(n, value)?,
            _ => return Err(bad(n, "unknown line type")),
        }
        Ok(())
    }

    fn media(&mut self, n: usize, value: &str) -> Result<(), SdpViolation> {
        if self.stage == Stage::Session && !self.timing {
            return Err(bad(n, "no t= line before the first m="));
        }
        if !matches!(self.stage, Stage::Session | Stage::Media) {
            return Err(bad(n, "m= before v=, o= and s="));
        }
        if self.sections.len() >= MAX_M_SECTIONS {
            return Err(violation(
                "m_sections",
                format!("SDP has more than {MAX_M_SECTIONS} m-sections"),
            ));
        }
        self.stage = Stage::Media;
        let f: Vec<&str> = value.split_whitespace().collect();
        let port_ok = f.get(1).is_some_and(|p| {
            let (port, count) = p.split_once('/').unwrap_or((p, "1"));
            is_digits(port) && is_digits(count)
        });
        if f.len() < 4 || !is_token(f[0]) || !port_ok {
            return Err(bad(n, "malformed m= line"));
        }
        let m = self.sections.len() + 1;
        // Media types and protocols compare case-insensitively (as webrtc-sdp).
        let media = f[0].to_ascii_lowercase();
        let kind = match media.as_str() {
            "audio" | "video" => {
                if !f[2].eq_ignore_ascii_case("UDP/TLS/RTP/SAVPF") {
                    return Err(violation(
                        "rtp_profile",
                        format!(
                            "m-section {m} uses {}; RTP must use UDP/TLS/RTP/SAVPF",
                            sanitize(f[2])
                        ),
                    ));
                }
                if media == "audio" {
                    MediaKind::Audio
                } else {
                    MediaKind::Video
                }
            }
            "application" => {
                if !f[2].eq_ignore_ascii_case("UDP/DTLS/SCTP") {
                    return Err(violation(
                        "data_profile",
                        format!(
                            "m-section {m} uses {}; data must use UDP/DTLS/SCTP",
                            sanitize(f[2])
                        ),
                    ));
                }
                MediaKind::Data
            }
            _ => {
                return Err(violation(
                    "media_type",
                    format!("m-section {m} has an unsupported media type"),
                ));
            }
        };
        self.sections.push(Section {
            kind,
            level: Level::default(),
            track_ids: Vec::new(),
            msid_without_track: false,
            mid: false,
        });
        Ok(())
    }

    /// One `a=` line. The attributes the rules depend on must be written
    /// exactly as browsers write them: libwebrtc matches a name case-
    /// sensitively and also when a space or `:` follows it (`a=sendonly x`,
    /// `a=sendrecv:1` are directions to it), webrtc-sdp and sipcc lower-case
    /// names. Wherever those readings could differ, the SDP is refused as
    /// `parse` (see [`browsers`] for the models the tests hold this to).
    /// Other attributes are the endpoints' business.
    fn attribute(&mut self, n: usize, value: &str) -> Result<(), SdpViolation> {
        // No allocation per line: this runs on every relayed offer.
        let trimmed = value.trim_start();
        let head = &trimmed[..trimmed.find([':', ' ']).unwrap_or(trimmed.len())];
        let Some(&name) = CHECKED_ATTRIBUTES
            .iter()
            .find(|a| a.eq_ignore_ascii_case(head))
        else {
            return Ok(());
        };
        let rest = match value.strip_prefix(name) {
            Some(rest) => rest,
            None => {
                return Err(bad(
                    n,
                    &format!("a={name} must be written in lower case, right after a="),
                ));
            }
        };
        if let Some(d) = direction_named(name) {
            if !rest.is_empty() {
                return Err(bad(
                    n,
                    &format!("a={name} followed by other text (browsers disagree on it)"),
                ));
            }
            // Two directions: libwebrtc takes the last, webrtc-sdp the
            // first. Refused.
            if self.level().direction.replace(d).is_some() {
                return Err(bad(n, "more than one direction attribute"));
            }
            return Ok(());
        }
        let Some(arg) = rest.strip_prefix(':').filter(|a| !a.trim().is_empty()) else {
            return Err(bad(n, &format!("a={name} without a value")));
        };
        match name {
            "fingerprint" => {
                let strong =
                    fingerprint_is_strong(arg).ok_or_else(|| bad(n, "malformed a=fingerprint"))?;
                let level = self.level();
                if strong {
                    level.strong_fingerprint = true;
                } else {
                    level.weak_fingerprint = true;
                }
            }
            "ice-ufrag" => self.level().ufrag = true,
            "ice-pwd" => self.level().pwd = true,
            "setup" => {
                if !matches!(arg, "actpass" | "active" | "passive" | "holdconn") {
                    return Err(bad(n, "a=setup is actpass, active, passive or holdconn"));
                }
                if std::mem::replace(&mut self.level().setup, true) {
                    return Err(bad(n, "more than one a=setup"));
                }
            }
            "mid" => {
                let Some(section) = self.sections.last_mut() else {
                    return Err(bad(n, "a=mid at session level"));
                };
                if !is_token(arg) || std::mem::replace(&mut section.mid, true) {
                    return Err(bad(n, "a=mid repeated in a section, or not a token"));
                }
                if self.mids.iter().any(|m| m == arg) {
                    return Err(bad(n, "two m-sections with the same a=mid"));
                }
                self.mids.push(arg.to_owned());
            }
            "msid" => self.msid(n, arg)?,
            "ssrc" => {
                // Plan B's `a=ssrc:<id> msid:<stream> <track>`: libwebrtc
                // reads it when a section has no a=msid, so it counts too.
                if let Some((_, attr)) = arg.split_once(' ')
                    && let Some(msid) = attr.strip_prefix("msid:")
                {
                    self.msid(n, msid)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// An msid value: exactly `<stream> <track>`, each 1–64 token
    /// characters, one space between (RFC 8830). Anything else names no
    /// track a receiver can match to an announcement.
    fn msid(&mut self, n: usize, value: &str) -> Result<(), SdpViolation> {
        let Some(section) = self.sections.last_mut() else {
            return Err(bad(n, "a=msid at session level"));
        };
        match msid_track(value) {
            Some(id) => {
                if !section.track_ids.iter().any(|t| t == id) {
                    section.track_ids.push(id.to_owned());
                }
            }
            None => section.msid_without_track = true,
        }
        Ok(())
    }

    fn finish(self) -> Result<SdpSummary, SdpViolation> {
        if self.stage != Stage::Session && self.stage != Stage::Media {
            return Err(violation(
                "parse",
                "SDP does not parse: missing v=, o= or s=",
            ));
        }
        if !self.timing {
            return Err(violation("parse", "SDP does not parse: no t= line"));
        }
        let s = &self.session;
        if self.sections.is_empty() && (!s.strong_fingerprint || s.weak_fingerprint) {
            return Err(violation(
                "fingerprint",
                "no sha-256 (or stronger) a=fingerprint",
            ));
        }
        let mut summary = SdpSummary::default();
        for (i, sec) in self.sections.into_iter().enumerate() {
            let n = i + 1;
            // RFC 8122 section 5: media-level fingerprints replace the
            // session's. Every one an endpoint may use must be strong
            // (browsers differ on which of several they pick).
            let level = &sec.level;
            let (strong, weak) = if level.strong_fingerprint || level.weak_fingerprint {
                (level.strong_fingerprint, level.weak_fingerprint)
            } else {
                (s.strong_fingerprint, s.weak_fingerprint)
            };
            if !strong || weak {
                return Err(violation(
                    "fingerprint",
                    format!(
                        "m-section {n} has no sha-256 (or stronger) a=fingerprint, or also a weaker one"
                    ),
                ));
            }
            if !((s.ufrag || sec.level.ufrag) && (s.pwd || sec.level.pwd)) {
                return Err(violation(
                    "ice_credentials",
                    format!("m-section {n} lacks a=ice-ufrag or a=ice-pwd"),
                ));
            }
            // Only the section's own direction counts: libwebrtc ignores a
            // session-level one (a section without its own is sendrecv),
            // Firefox inherits it; the hub takes the reading that sends.
            let dir = sec.level.direction.unwrap_or(Direction::SendRecv);
            let sending = matches!(dir, Direction::SendRecv | Direction::SendOnly);
            if sending
                && sec.kind != MediaKind::Data
                && (sec.msid_without_track || sec.track_ids.is_empty())
            {
                return Err(violation(
                    "unannounced_track",
                    format!(
                        "m-section {n} sends media without naming its track in a=msid:<stream> <track>"
                    ),
                ));
            }
            summary.sections.push(MediaSection {
                kind: sec.kind,
                sending,
                track_ids: sec.track_ids,
            });
        }
        Ok(summary)
    }
}

/// `Some(true)` for a well-formed sha-256/384/512 fingerprint, `Some(false)`
/// for another well-formed hash, `None` if malformed. Split as
/// [`FingerprintFields`] splits: on ASCII whitespace, as browsers do.
fn fingerprint_is_strong(arg: &str) -> Option<bool> {
    let f = FingerprintFields::of(arg)?;
    if f.extra || !is_token(f.hash) {
        return None;
    }
    let bytes = f.byte_count()?;
    let want = match f.hash.to_ascii_lowercase().as_str() {
        "sha-256" => 32,
        "sha-384" => 48,
        "sha-512" => 64,
        "sha-1" => return (bytes == 20).then_some(false),
        "sha-224" => return (bytes == 28).then_some(false),
        "md5" | "md2" => return (bytes == 16).then_some(false),
        _ => return Some(false),
    };
    (bytes == want).then_some(true)
}

/// A profile name to quote in an error: only token characters, bounded.
fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect()
}

/// The attributes whose reading the rules depend on: these must be
/// spelled exactly (see `Parser::attribute`).
const CHECKED_ATTRIBUTES: [&str; 11] = [
    "sendrecv",
    "sendonly",
    "recvonly",
    "inactive",
    "fingerprint",
    "ice-ufrag",
    "ice-pwd",
    "setup",
    "mid",
    "msid",
    "ssrc",
];

fn direction_named(name: &str) -> Option<Direction> {
    Some(match name {
        "sendrecv" => Direction::SendRecv,
        "sendonly" => Direction::SendOnly,
        "recvonly" => Direction::RecvOnly,
        "inactive" => Direction::Inactive,
        _ => return None,
    })
}

/// An m-section's (or the session's) direction attribute.
#[derive(Clone, Copy)]
pub(crate) enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
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

    /// Defect: `a=msid` naming no track (stream only, `-`, a trailing
    /// space) skipped the announced-track rule; browsers play such a track
    /// under a random id. Also a sending section with no msid at all.
    #[test]
    fn a_sending_section_must_name_its_track() {
        let cam = "a=msid:stream {cam-1}\r\n";
        for replacement in [
            "a=msid:stream\r\n",
            "a=msid:-\r\n",
            "a=msid:stream {cam-1} \r\n",
            "a=msid:stream  {cam-1}\r\n",
            "a=msid:stream {cam-1} extra\r\n",
            "a=msid: {cam-1}\r\n",
            "",
        ] {
            let sdp = OFFER.replace(cam, replacement);
            let r = inspect(&sdp);
            assert_eq!(
                r.as_ref().err().map(|v| v.rule),
                Some("unannounced_track"),
                "{replacement:?}: {r:?}"
            );
        }
        // Not sending: nothing to name.
        let quiet = OFFER
            .replace(cam, "a=msid:stream\r\n")
            .replace("a=sendonly", "a=inactive");
        assert!(inspect(&quiet).is_ok());
        // Plan B's a=ssrc msid counts as a name too.
        let ssrc = OFFER.replace(cam, &format!("{cam}a=ssrc:1 msid:stream other\r\n"));
        assert_eq!(
            inspect(&ssrc).unwrap().sections[1].track_ids,
            ["cam-1", "other"]
        );
    }

    /// Defect: libwebrtc reads `a=sendrecv:1` and `a=sendonly x` as
    /// directions (and the last direction wins); the hub ignored those
    /// forms, so a section it took for `inactive` was sending. Every
    /// spelling that browsers could read differently is now refused.
    #[test]
    fn direction_spellings_browsers_read_differently_are_refused() {
        for (from, to) in [
            ("a=sendonly", "a=inactive\r\na=sendrecv:1"),
            ("a=sendonly", "a=inactive\r\na=sendonly x"),
            ("a=sendonly", "a=recvonly\r\na=sendonly"),
            ("a=sendonly", "a=inactive "),
            ("a=sendonly", "a=Inactive"),
            ("a=sendonly", "a= inactive"),
            ("a=sendonly", "A=inactive"),
            ("a=sendonly", "a=INACTIVE"),
            ("a=msid:stream {cam-1}", "a=MSID:stream {cam-1}"),
            ("a=msid:stream {cam-1}", "a=msid:stream\t{cam-1}"),
            ("a=mid:1", "a=mid:0"),
            ("a=mid:1", "a=mid:1\r\na=mid:9"),
            (
                "a=setup:actpass\r\na=mid:1",
                "a=setup:actpass\r\na=setup:active\r\na=mid:1",
            ),
            ("a=setup:actpass\r\na=mid:1", "a=setup:maybe\r\na=mid:1"),
            ("m=video", "M=video"),
        ] {
            assert!(OFFER.contains(from), "{from}");
            let sdp = OFFER.replacen(from, to, 1);
            let r = inspect(&sdp);
            assert_eq!(
                r.as_ref().err().map(|v| v.rule),
                Some("parse"),
                "{to:?}: {r:?}"
            );
        }
        // A session-level direction does not make a section non-sending
        // (libwebrtc ignores it): the section is checked as sending.
        let session_inactive = OFFER
            .replacen("t=0 0\r\n", "t=0 0\r\na=inactive\r\n", 1)
            .replace("a=sendrecv\r\n", "")
            .replace("a=sendonly\r\n", "");
        let s = inspect(&session_inactive).unwrap();
        assert!(s.sections[0].sending && s.sections[1].sending);
    }

    /// RFC 8122 section 5: media-level fingerprints replace the session's,
    /// so a weak one there is what the endpoint pins.
    #[test]
    fn a_weak_media_fingerprint_fails_beside_a_strong_session_one() {
        let fp256 = "sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2";
        let fp1 = "sha-1 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70";
        let sdp = OFFER.replace(fp256, fp1).replacen(
            "t=0 0\r\n",
            &format!("t=0 0\r\na=fingerprint:{fp256}\r\n"),
            1,
        );
        assert_eq!(inspect(&sdp).unwrap_err().rule, "fingerprint");
        let both = OFFER.replace(
            &format!("a=fingerprint:{fp256}\r\n"),
            &format!("a=fingerprint:{fp256}\r\na=fingerprint:{fp1}\r\n"),
        );
        assert_eq!(inspect(&both).unwrap_err().rule, "fingerprint");
        // The browser models would have caught the old reader accepting it.
        let any = inspect(OFFER).unwrap();
        assert!(browsers::covers(&any, &browsers::libwebrtc(&sdp)).is_err());
        assert!(browsers::covers(&any, &browsers::firefox(&sdp)).is_err());
    }

    /// Every SDP above that the hub accepts is covered by each browser's
    /// reading; the old reader's mistakes are not.
    #[test]
    fn accepted_sdps_are_read_no_less_sending_by_browsers() {
        let ok = inspect(OFFER).unwrap();
        browsers::covered_by_every_browser(&ok, OFFER).unwrap();
        let hidden = OFFER.replacen("a=sendonly", "a=inactive\r\na=sendrecv:1", 1);
        let old_reading = SdpSummary {
            sections: vec![
                ok.sections[0].clone(),
                MediaSection {
                    sending: false,
                    ..ok.sections[1].clone()
                },
                ok.sections[2].clone(),
            ],
        };
        assert!(browsers::covers(&old_reading, &browsers::libwebrtc(&hidden)).is_err());
    }

    /// Firefox's parser (sipcc) drops an unterminated last line and
    /// discards everything after a blank line: either hid an `a=inactive`
    /// the hub read, making a section it never checked a sending one.
    #[test]
    fn lines_firefox_would_not_read_are_refused() {
        let video_last = OFFER
            .split("m=application")
            .next()
            .unwrap()
            .replace("a=msid:stream {cam-1}\r\n", "a=msid:stream unpublished\r\n")
            .replace("a=sendonly\r\n", "");
        let unterminated = format!("{video_last}a=inactive");
        assert_eq!(inspect(&unterminated).unwrap_err().rule, "parse");
        let blank = video_last.replace(
            "a=rtcp-mux\r\na=rtpmap:96",
            "\r\na=inactive\r\na=rtcp-mux\r\na=rtpmap:96",
        );
        assert_eq!(inspect(&blank).unwrap_err().rule, "parse");
        let spaced = video_last.replace(
            "a=rtcp-mux\r\na=rtpmap:96",
            "  \r\na=inactive\r\na=rtcp-mux\r\na=rtpmap:96",
        );
        assert_eq!(inspect(&spaced).unwrap_err().rule, "parse");
        // What the old reader accepted, Firefox reads as sending.
        let hub_old_view = SdpSummary {
            sections: vec![
                MediaSection {
                    kind: MediaKind::Audio,
                    sending: true,
                    track_ids: vec!["mic-1".into()],
                },
                MediaSection {
                    kind: MediaKind::Video,
                    sending: false,
                    track_ids: vec!["unpublished".into()],
                },
            ],
        };
        assert!(browsers::covers(&hub_old_view, &browsers::firefox(&unterminated)).is_err());
        // LF-only endings are fine.
        assert!(inspect(&OFFER.replace("\r\n", "\n")).is_ok());
    }
}

//! SDP validation (PROTOCOL.md section 5): a single-pass validator on the
//! hot path, with Mozilla's `webrtc-sdp` as the reference ([`reference`]).
//!
//! [`inspect`] checks the rules that need only the SDP text and returns a
//! [`SdpSummary`] of the m-sections, which the visit checks against its state
//! (published tracks, the screen-share permission). It runs on the sender's
//! connection task, so parsing cost spreads over cores and never stalls a visit.

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

/// Browsers differ in msid spelling (Firefox wraps ids in braces); the hub
/// compares ids without them.
pub fn normalize_track_id(id: &str) -> String {
    id.trim_start_matches('{').trim_end_matches('}').to_owned()
}

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
    let mut p = Parser::default();
    for (i, raw) in sdp.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
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
    fingerprint: bool,
    ufrag: bool,
    pwd: bool,
    direction: Option<Direction>,
}

struct Section {
    kind: MediaKind,
    level: Level,
    track_ids: Vec<String>,
}

#[derive(Default)]
struct Parser {
    stage: Stage,
    timing: bool,
    session: Level,
    sections: Vec<Section>,
}

fn bad(n: usize, what: &str) -> SdpViolation {
    violation("parse", format!("SDP does not parse: {what} (line {n})"))
}

/// RFC 8866 `token` characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'{'
                        | b'|'
                        | b'}'
                        | b'~'
                )
        })
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
        if line.bytes().any(|c| c < 0x20 && c != b'\t' || c == 0x7f) {
            return Err(bad(n, "control character"));
        }
        let value = &line[2..];
        // Type letters are case-insensitive in practice (webrtc-sdp, browsers).
        let ty = b[0].to_ascii_lowercase();
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
        });
        Ok(())
    }

    fn attribute(&mut self, n: usize, value: &str) -> Result<(), SdpViolation> {
        let (name, arg) = match value.split_once(':') {
            Some((name, arg)) => (name, Some(arg)),
            None => (value.trim_end(), None),
        };
        // Attributes the hub does not act on are the endpoints' business
        // (webrtc-sdp, too, only warns about unknown ones).
        let name = name.trim();
        // Attribute names are case-insensitive (webrtc-sdp, browsers).
        let name: std::borrow::Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            name.to_ascii_lowercase().into()
        } else {
            name.into()
        };
        match (name.as_ref(), arg) {
            ("fingerprint", Some(arg)) => {
                let strong =
                    fingerprint_is_strong(arg).ok_or_else(|| bad(n, "malformed a=fingerprint"))?;
                self.level().fingerprint |= strong;
            }
            ("ice-ufrag", Some(v)) if !v.trim().is_empty() => self.level().ufrag = true,
            ("ice-pwd", Some(v)) if !v.trim().is_empty() => self.level().pwd = true,
            ("ice-ufrag" | "ice-pwd" | "fingerprint", _) => {
                return Err(bad(n, "attribute without a value"));
            }
            ("sendrecv" | "sendonly" | "recvonly" | "inactive", None) => {
                let d = match name.as_ref() {
                    "sendrecv" => Direction::SendRecv,
                    "sendonly" => Direction::SendOnly,
                    "recvonly" => Direction::RecvOnly,
                    _ => Direction::Inactive,
                };
                // Two directions would let a sender hide a sending section
                // behind `a=inactive`: refused (webrtc-sdp takes the first).
                if self.level().direction.replace(d).is_some() {
                    return Err(bad(n, "more than one direction attribute"));
                }
            }
            ("msid", Some(arg)) => {
                let mut f = arg.split_whitespace();
                if f.next().is_none() {
                    return Err(bad(n, "malformed a=msid"));
                }
                match self.sections.last_mut() {
                    Some(s) => {
                        if let Some(track) = f.next() {
                            s.track_ids.push(normalize_track_id(track));
                        }
                    }
                    None => return Err(bad(n, "a=msid at session level")),
                }
            }
            _ => {}
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
        if self.sections.is_empty() && !s.fingerprint {
            return Err(violation(
                "fingerprint",
                "no sha-256 (or stronger) a=fingerprint",
            ));
        }
        let mut summary = SdpSummary::default();
        for (i, sec) in self.sections.into_iter().enumerate() {
            let n = i + 1;
            if !s.fingerprint && !sec.level.fingerprint {
                return Err(violation(
                    "fingerprint",
                    format!("m-section {n} has no sha-256 (or stronger) a=fingerprint"),
                ));
            }
            if !((s.ufrag || sec.level.ufrag) && (s.pwd || sec.level.pwd)) {
                return Err(violation(
                    "ice_credentials",
                    format!("m-section {n} lacks a=ice-ufrag or a=ice-pwd"),
                ));
            }
            let dir = sec
                .level
                .direction
                .or(s.direction)
                .unwrap_or(Direction::SendRecv);
            summary.sections.push(MediaSection {
                kind: sec.kind,
                sending: matches!(dir, Direction::SendRecv | Direction::SendOnly),
                track_ids: sec.track_ids,
            });
        }
        Ok(summary)
    }
}

/// `Some(true)` for a well-formed sha-256/384/512 fingerprint, `Some(false)`
/// for another well-formed hash, `None` if malformed.
fn fingerprint_is_strong(arg: &str) -> Option<bool> {
    let mut f = arg.split_whitespace();
    let (alg, hex) = (f.next()?, f.next()?);
    if f.next().is_some() || !is_token(alg) {
        return None;
    }
    let bytes: Vec<&str> = hex.split(':').collect();
    if !bytes
        .iter()
        .all(|b| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit()))
    {
        return None;
    }
    let want = match alg.to_ascii_lowercase().as_str() {
        "sha-256" => 32,
        "sha-384" => 48,
        "sha-512" => 64,
        "sha-1" => return (bytes.len() == 20).then_some(false),
        "sha-224" => return (bytes.len() == 28).then_some(false),
        "md5" | "md2" => return (bytes.len() == 16).then_some(false),
        _ => return Some(false),
    };
    (bytes.len() == want).then_some(true)
}

/// A profile name to quote in an error: only token characters, bounded.
fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect()
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
}

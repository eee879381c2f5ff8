//! How browsers read the SDP attributes the hub's rules depend on, as
//! models written from their published parsers, so tests and fuzzing can
//! hold [`super::inspect`] to one promise: **whenever the hub accepts an
//! SDP, no browser reads a section as sending a track the hub did not
//! check**. Not on the relay path.
//!
//! - [`libwebrtc`] (Chromium, Safari; `pc/webrtc_sdp.cc`): a line counts
//!   only if its type letter is exactly `a`/`m` (`IsLineType`); an
//!   attribute matches its name case-sensitively when the name is followed
//!   by `:`, a space or the end of the line (`HasAttribute`), so
//!   `a=sendonly x` and `a=sendrecv:1` are directions; the last direction
//!   line of a section wins; a session-level direction is not read (a
//!   section without its own is sendrecv); `a=msid:<stream> <track>` is
//!   split at the first space (`tokenize_first`), and a value without a
//!   space (`a=msid:s`, `a=msid:-`) names a stream only, so the track gets
//!   a random id; without `a=msid`, `a=ssrc:<n> msid:<stream> <track>` is
//!   read; a sending section without either still gets a remote track
//!   (random id) that `ontrack` delivers.
//! - [`firefox`] (release Firefox parses with sipcc only:
//!   `third_party/sipcc/sdp_main.c`, `sdp_attr.c`; webrtc-sdp runs beside
//!   it in Nightly): attribute names compare case-insensitively, a name
//!   ends at `:`, space or tab and leading blanks are skipped, a flag's
//!   value is ignored, the last direction wins, a session-level direction
//!   is not read, msid fields are the first two blank-separated tokens, a
//!   blank line (or one starting with a blank) silently ends the SDP and an
//!   unterminated last line is dropped. (`A=` lines, which sipcc refuses,
//!   are read as `a=`: a model may read more than the parser, never less.)
//!
//! Both read `a=fingerprint`'s hash name without case, media level before
//! session level, and the `m=` profile as the third field.
//!
//! Where a model cannot know which of two lines a parser takes (two
//! directions), it keeps both readings: the promise must hold for each.
//! `a=mid` and `a=setup` are not modelled: no rule depends on their values,
//! and the hub accepts them only in the one spelling every parser reads
//! alike.

use super::{MediaKind, SdpSummary, normalize_track_id};

/// One browser's reading of one m-section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionReading {
    /// Audio, video or data, or `None` for a media type it does not know
    /// (it rejects that section: nothing is played).
    pub kind: Option<MediaKind>,
    /// Every direction the parser may settle on says the peer sends.
    /// True if any possible reading sends.
    pub sending: bool,
    /// The track ids a receiver may see (several `a=msid` lines: each is a
    /// possible reading); `None` where the browser makes up a random one
    /// (no msid, or msid without a track).
    pub track_ids: Vec<Option<String>>,
    /// The transport profile on the `m=` line, as written.
    pub proto: String,
    /// The hash algorithms of the fingerprints that apply to the section
    /// (its own, else the session's), lower-cased as both browsers do.
    pub fingerprints: Vec<String>,
}

/// A browser's reading of a whole SDP: its m-sections, in order.
pub type Reading = Vec<SectionReading>;

/// The rules one parser follows, as switches.
struct Dialect {
    /// `A=` and `M=` lines count as `a=` and `m=`.
    type_letter_any_case: bool,
    /// Names compare without case; leading blanks skipped; a tab ends a name.
    loose_names: bool,
    /// A section without its own direction takes the session's.
    inherit_session_direction: bool,
    /// sipcc: a blank line (or one starting with a blank) ends the SDP, and
    /// an unterminated last line is dropped.
    stops_at_blank_line: bool,
    /// msid fields split on any run of blanks (else at the first space).
    msid_split_blanks: bool,
}

const LIBWEBRTC: Dialect = Dialect {
    type_letter_any_case: false,
    loose_names: false,
    inherit_session_direction: false,
    stops_at_blank_line: false,
    msid_split_blanks: false,
};

const FIREFOX: Dialect = Dialect {
    type_letter_any_case: true,
    loose_names: true,
    // sipcc, release Firefox's parser, ignores it too.
    inherit_session_direction: false,
    stops_at_blank_line: true,
    msid_split_blanks: true,
};

/// Chromium's and Safari's reading.
pub fn libwebrtc(sdp: &str) -> Reading {
    read(sdp, &LIBWEBRTC)
}

/// Firefox's reading.
pub fn firefox(sdp: &str) -> Reading {
    read(sdp, &FIREFOX)
}

#[derive(Default)]
struct Acc {
    kind: Option<MediaKind>,
    /// Every direction line, in order.
    directions: Vec<bool>,
    msid_tracks: Vec<Option<String>>,
    ssrc_tracks: Vec<Option<String>>,
    proto: String,
    fingerprints: Vec<String>,
}

/// The attribute `name` as this dialect matches it at the start of
/// `value`: the rest of the line after the name, if it matches.
fn matches<'a>(d: &Dialect, value: &'a str, name: &str) -> Option<&'a str> {
    if d.loose_names {
        let v = value.trim_start_matches([' ', '\t']);
        let end = v.find([':', ' ', '\t']).unwrap_or(v.len());
        v[..end].eq_ignore_ascii_case(name).then(|| &v[end..])
    } else {
        let rest = value.strip_prefix(name)?;
        (rest.is_empty() || rest.starts_with([':', ' '])).then_some(rest)
    }
}

fn track_of(d: &Dialect, msid: &str) -> Option<String> {
    if d.msid_split_blanks {
        let mut f = msid.split([' ', '\t']).filter(|f| !f.is_empty());
        let _stream = f.next()?;
        f.next().map(str::to_owned)
    } else {
        // tokenize_first: stream, then everything after the first space.
        let (_, track) = msid.split_once(' ')?;
        (!track.is_empty()).then(|| track.to_owned())
    }
}

fn read(sdp: &str, d: &Dialect) -> Reading {
    let mut session_dirs: Vec<bool> = Vec::new();
    let mut session_fps: Vec<String> = Vec::new();
    let mut sections: Vec<Acc> = Vec::new();
    let lines: Vec<&str> = sdp.split('\n').collect();
    let last = lines.len().saturating_sub(1);
    for (i, raw) in lines.into_iter().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if d.stops_at_blank_line
            && (i == last || line.trim().is_empty() || line.starts_with([' ', '\t']))
        {
            break;
        }
        let b = line.as_bytes();
        if b.len() < 2 || b[1] != b'=' {
            continue;
        }
        let ty = if d.type_letter_any_case {
            b[0].to_ascii_lowercase()
        } else {
            b[0]
        };
        let value = &line[2..];
        if ty == b'm' {
            let kind = match value.split(' ').next() {
                Some("audio") => Some(MediaKind::Audio),
                Some("video") => Some(MediaKind::Video),
                Some("application") => Some(MediaKind::Data),
                Some(t) if d.loose_names && t.eq_ignore_ascii_case("audio") => {
                    Some(MediaKind::Audio)
                }
                Some(t) if d.loose_names && t.eq_ignore_ascii_case("video") => {
                    Some(MediaKind::Video)
                }
                _ => None,
            };
            sections.push(Acc {
                kind,
                proto: value.split(' ').nth(2).unwrap_or_default().to_owned(),
                ..Acc::default()
            });
            continue;
        }
        if ty != b'a' {
            continue;
        }
        if let Some(rest) = matches(d, value, "fingerprint") {
            let alg = rest
                .strip_prefix(':')
                .unwrap_or(rest)
                .split([' ', '\t'])
                .find(|f| !f.is_empty())
                .unwrap_or_default()
                .to_ascii_lowercase();
            match sections.last_mut() {
                Some(s) => s.fingerprints.push(alg),
                None => session_fps.push(alg),
            }
            continue;
        }
        let dirs = match sections.last_mut() {
            Some(s) => &mut s.directions,
            None => &mut session_dirs,
        };
        let mut direction = None;
        for (name, sends) in [
            ("sendrecv", true),
            ("sendonly", true),
            ("recvonly", false),
            ("inactive", false),
        ] {
            if matches(d, value, name).is_some() {
                direction = Some(sends);
            }
        }
        if let Some(sends) = direction {
            dirs.push(sends);
            continue;
        }
        let Some(section) = sections.last_mut() else {
            continue;
        };
        if let Some(rest) = matches(d, value, "msid") {
            let msid = rest.strip_prefix(':').unwrap_or(rest);
            section.msid_tracks.push(track_of(d, msid));
        } else if let Some(rest) = matches(d, value, "ssrc")
            && let Some((_, attr)) = rest.trim_start_matches(':').split_once(' ')
            && let Some(msid) = attr.strip_prefix("msid:")
        {
            section.ssrc_tracks.push(track_of(d, msid));
        }
    }
    sections
        .into_iter()
        .map(|s| {
            let dirs = if s.directions.is_empty() && d.inherit_session_direction {
                &session_dirs
            } else {
                &s.directions
            };
            // No direction: sendrecv. Several: any of them may win.
            let sending = dirs.is_empty() || dirs.iter().any(|&x| x);
            let track_ids = match (s.msid_tracks.is_empty(), s.ssrc_tracks.is_empty()) {
                (false, _) => s.msid_tracks,
                (true, false) => s.ssrc_tracks,
                (true, true) => vec![None],
            };
            let fingerprints = if s.fingerprints.is_empty() {
                session_fps.clone()
            } else {
                s.fingerprints
            };
            SectionReading {
                kind: s.kind,
                sending,
                track_ids,
                proto: s.proto,
                fingerprints,
            }
        })
        .collect()
}

/// The promise: the hub's summary of an SDP it accepted covers `reading`.
/// Every section a browser would play as sending media is sending in the
/// hub's summary too, under a track id the hub checked; and every section
/// a browser would use runs on the profile the rules require, with only
/// sha-256 (or stronger) fingerprints.
pub fn covers(hub: &SdpSummary, reading: &Reading) -> Result<(), String> {
    for (i, b) in reading.iter().enumerate() {
        let profile = match b.kind {
            Some(MediaKind::Audio | MediaKind::Video) => Some("UDP/TLS/RTP/SAVPF"),
            Some(MediaKind::Data) => Some("UDP/DTLS/SCTP"),
            None => None,
        };
        if let Some(profile) = profile {
            if !b.proto.eq_ignore_ascii_case(profile) {
                return Err(format!(
                    "m-section {}: browser uses profile {:?}",
                    i + 1,
                    b.proto
                ));
            }
            let strong = |a: &String| matches!(a.as_str(), "sha-256" | "sha-384" | "sha-512");
            if b.fingerprints.is_empty() || !b.fingerprints.iter().all(strong) {
                return Err(format!(
                    "m-section {}: browser would pin {:?}",
                    i + 1,
                    b.fingerprints
                ));
            }
        }
        let plays = b.sending && matches!(b.kind, Some(MediaKind::Audio | MediaKind::Video));
        if !plays {
            continue;
        }
        let Some(h) = hub.sections.get(i) else {
            return Err(format!("m-section {} exists only for the browser", i + 1));
        };
        if !h.sending {
            return Err(format!(
                "m-section {}: browser sends, hub read no sending",
                i + 1
            ));
        }
        for t in &b.track_ids {
            match t {
                None => {
                    return Err(format!(
                        "m-section {}: browser plays a track with a random id",
                        i + 1
                    ));
                }
                Some(t) if !h.track_ids.iter().any(|id| id == normalize_track_id(t)) => {
                    return Err(format!(
                        "m-section {}: browser's track id is not one the hub checked",
                        i + 1
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// [`covers`] for every modelled browser.
pub fn covered_by_every_browser(hub: &SdpSummary, sdp: &str) -> Result<(), String> {
    covers(hub, &libwebrtc(sdp)).map_err(|e| format!("libwebrtc: {e}"))?;
    covers(hub, &firefox(sdp)).map_err(|e| format!("firefox: {e}"))
}

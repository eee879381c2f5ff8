//! SDP rules the hub, the SDKs and the load tester share, as pure
//! functions (one definition each): RFC 8866 tokens, msid track ids
//! (RFC 8830) and their normalisation, and DTLS fingerprint lines and values
//! (RFC 8122). Every split is on ASCII whitespace only, the way browsers
//! split, so no Unicode space makes the hub and a browser read two
//! different things.

/// RFC 8866 `token` characters (`a=mid` values, msid fields, hash names).
pub fn is_token(s: &str) -> bool {
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

/// Longest msid field the hub accepts (RFC 8830 allows 64).
pub const MAX_MSID_FIELD: usize = 64;

/// The track id an `a=msid` value (or the `msid:` of an `a=ssrc` line)
/// names, normalised ([`normalize_track_id`]): the value must be exactly
/// `<stream> <track>`, one space between, each 1–64 token characters.
/// Anything else names no track a receiver can match to an announcement,
/// and gives `None`.
///
/// ```
/// use bedside_protocol::sdp::msid_track;
/// assert_eq!(msid_track("stream-1 {cam-1}"), Some("cam-1"));
/// assert_eq!(msid_track("stream-1"), None);
/// assert_eq!(msid_track("stream-1  cam-1"), None);
/// ```
pub fn msid_track(value: &str) -> Option<&str> {
    let field = |t: &str| is_token(t) && t.len() <= MAX_MSID_FIELD;
    match value.split_once(' ') {
        Some((stream, track)) if field(stream) && field(track) => Some(normalize_track_id(track)),
        _ => None,
    }
}

/// A track id as announced and compared: browsers differ in msid spelling
/// (Firefox wraps ids in braces), so ids are compared without them
/// (docs/protocol.md).
pub fn normalize_track_id(id: &str) -> &str {
    id.trim_start_matches('{').trim_end_matches('}')
}

/// The value of a DTLS fingerprint line, read as docs/e2ee.md §12.5 reads
/// it: after trimming ASCII whitespace, a line whose first 14 bytes are
/// `a=fingerprint:` in any ASCII case. Wider than SDP's grammar on purpose,
/// so no spelling a lenient parser accepts escapes a check.
pub fn fingerprint_value(line: &str) -> Option<&str> {
    const ATTRIBUTE: &str = "a=fingerprint:";
    let line = line.trim_ascii();
    line.get(..ATTRIBUTE.len())
        .filter(|head| head.eq_ignore_ascii_case(ATTRIBUTE))
        .map(|_| &line[ATTRIBUTE.len()..])
}

/// A fingerprint value split into its fields on ASCII whitespace:
/// `<hash function> <HEX:HEX:…>` (RFC 8122 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FingerprintFields<'a> {
    /// The hash function's name as written (`sha-256`, `SHA-256`, …).
    pub hash: &'a str,
    /// The fingerprint as written: colon-separated hex pairs, any case.
    pub hex: &'a str,
    /// Whether more tokens follow the second (RFC 8122 allows none).
    pub extra: bool,
}

impl<'a> FingerprintFields<'a> {
    /// The fields of `value`, or `None` with fewer than two.
    pub fn of(value: &'a str) -> Option<Self> {
        let mut parts = value.split_ascii_whitespace();
        let (hash, hex) = (parts.next()?, parts.next()?);
        Some(Self {
            hash,
            hex,
            extra: parts.next().is_some(),
        })
    }

    /// How many bytes the hex names, if it is a well-formed list of
    /// two-digit hex bytes separated by colons.
    pub fn byte_count(&self) -> Option<usize> {
        let pair = |b: &str| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit());
        let mut n = 0;
        for b in self.hex.split(':') {
            if !pair(b) {
                return None;
            }
            n += 1;
        }
        Some(n)
    }
}

/// A fingerprint value (`<hash function> <HEX:HEX:…>`) in the form it is
/// signed and compared in (docs/e2ee.md §5.2, §12.5): the hash function
/// lower-case, one space, the hex upper-case; tokens after the second are
/// ignored; empty unless there are two tokens.
///
/// ```
/// use bedside_protocol::sdp::normalize_fingerprint;
/// assert_eq!(normalize_fingerprint("SHA-256 ab:cd"), "sha-256 AB:CD");
/// ```
pub fn normalize_fingerprint(value: &str) -> String {
    match FingerprintFields::of(value) {
        Some(f) => format!(
            "{} {}",
            f.hash.to_ascii_lowercase(),
            f.hex.to_ascii_uppercase()
        ),
        None => String::new(),
    }
}

/// Whether `sdp` names `expected` (a normalized fingerprint) and nothing
/// else: every line a lenient parser might take for a fingerprint
/// ([`fingerprint_value`]) normalizes to it, and there is at least one.
/// An empty `expected` matches nothing.
pub fn fingerprints_all_are(sdp: &str, expected: &str) -> bool {
    let mut seen = 0;
    for fp in sdp.lines().filter_map(fingerprint_value) {
        seen += 1;
        if normalize_fingerprint(fp) != expected {
            return false;
        }
    }
    seen > 0 && !expected.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sdp_must_name_the_expected_fingerprint_and_no_other() {
        let fp = "sha-256 AB:CD";
        assert!(fingerprints_all_are(
            "v=0\r\na=fingerprint:SHA-256 ab:cd\r\n",
            fp
        ));
        assert!(!fingerprints_all_are("v=0\r\n", fp));
        assert!(!fingerprints_all_are(
            "a=fingerprint:sha-256 AB:CD\r\nA=FINGERPRINT:sha-256 EF:01\r\n",
            fp
        ));
        assert!(!fingerprints_all_are("a=fingerprint:sha-256 AB:CD\r\n", ""));
    }

    #[test]
    fn fingerprint_lines_are_read_whatever_their_spelling() {
        for line in [
            "a=fingerprint:sha-256 AB:CD",
            " a=fingerprint:sha-256 AB:CD\r",
            "\tA=Fingerprint:sha-256 AB:CD",
        ] {
            assert_eq!(fingerprint_value(line), Some("sha-256 AB:CD"), "{line:?}");
        }
        assert_eq!(fingerprint_value("a=fingerprin"), None);
        assert_eq!(fingerprint_value("a=setup:actpass"), None);
        assert_eq!(fingerprint_value("é=fingerprint:x"), None);
        assert_eq!(
            normalize_fingerprint("SHA-256\tab:cd  extra"),
            "sha-256 AB:CD"
        );
        assert_eq!(normalize_fingerprint("sha-256"), "");
        // Only ASCII whitespace separates tokens.
        assert_eq!(normalize_fingerprint("sha-256\u{a0}AB:CD"), "");
    }

    #[test]
    fn fingerprint_fields_split_on_ascii_whitespace_only() {
        let f = FingerprintFields::of("sha-256\tAB:cd:0F");
        assert_eq!(f.map(|f| (f.hash, f.extra)), Some(("sha-256", false)));
        assert_eq!(f.and_then(|f| f.byte_count()), Some(3));
        assert_eq!(FingerprintFields::of("sha-256\u{a0}AB:CD"), None);
        assert!(FingerprintFields::of("sha-256 AB x").is_some_and(|f| f.extra));
        for hex in ["AB:", "A:BC", "ABC", "AB:GG", ":AB", ""] {
            let f = FingerprintFields {
                hash: "sha-256",
                hex,
                extra: false,
            };
            assert_eq!(f.byte_count(), None, "{hex:?}");
        }
    }

    #[test]
    fn an_msid_names_a_track_only_as_two_token_fields() {
        assert_eq!(msid_track("s t"), Some("t"));
        assert_eq!(msid_track("- {t}"), Some("t"));
        for value in ["s", "s ", " t", "s  t", "s\tt", "s t u", "s t\u{a0}", "é t"] {
            assert_eq!(msid_track(value), None, "{value:?}");
        }
        let long = "x".repeat(65);
        assert_eq!(msid_track(&format!("s {long}")), None);
        assert_eq!(
            msid_track(&format!("s {}", &long[..64])).map(str::len),
            Some(64)
        );
        assert!(is_token("a{b}~"));
        assert!(!is_token("") && !is_token("a b") && !is_token("a\"b"));
    }

    #[test]
    fn firefox_braces_are_not_part_of_the_id() {
        assert_eq!(normalize_track_id("{a1b2}"), "a1b2");
        assert_eq!(normalize_track_id("a1b2"), "a1b2");
        assert_eq!(normalize_track_id("{{x}}"), "x");
        assert_eq!(normalize_track_id(""), "");
    }
}

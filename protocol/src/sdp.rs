//! SDP rules the hub, the SDKs and the load tester share, as pure
//! functions (one definition each).

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

/// A fingerprint value (`<hash function> <HEX:HEX:…>`) in the form it is
/// signed and compared in (docs/e2ee.md §5.2, §12.5): the hash function
/// lower-case, one space, the hex upper-case; tokens after the second are
/// ignored; empty unless there are two tokens.
pub fn normalize_fingerprint(value: &str) -> String {
    let mut parts = value.split_ascii_whitespace();
    match (parts.next(), parts.next()) {
        (Some(alg), Some(hex)) => {
            format!("{} {}", alg.to_ascii_lowercase(), hex.to_ascii_uppercase())
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn firefox_braces_are_not_part_of_the_id() {
        assert_eq!(normalize_track_id("{a1b2}"), "a1b2");
        assert_eq!(normalize_track_id("a1b2"), "a1b2");
        assert_eq!(normalize_track_id("{{x}}"), "x");
        assert_eq!(normalize_track_id(""), "");
    }
}

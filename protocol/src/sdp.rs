//! SDP rules the hub, the SDKs and the load tester share, as pure
//! functions (one definition each).

/// A track id as announced and compared: browsers differ in msid spelling
/// (Firefox wraps ids in braces), so ids are compared without them
/// (docs/protocol.md).
pub fn normalize_track_id(id: &str) -> &str {
    id.trim_start_matches('{').trim_end_matches('}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firefox_braces_are_not_part_of_the_id() {
        assert_eq!(normalize_track_id("{a1b2}"), "a1b2");
        assert_eq!(normalize_track_id("a1b2"), "a1b2");
        assert_eq!(normalize_track_id("{{x}}"), "x");
        assert_eq!(normalize_track_id(""), "");
    }
}

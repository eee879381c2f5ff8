//! Fuzzes the SDP validator: any text must be accepted with a summary or
//! refused with a rule, never panic, and a summary never names more
//! m-sections than the limit. Differential: whenever the webrtc-sdp
//! reference accepts, the hot-path validator accepts with the same summary,
//! except for what it refuses on purpose (control characters, two direction
//! attributes in one section) and m= lines the reference silently drops.
#![no_main]

use bedside_server::sdp;
use libfuzzer_sys::fuzz_target;

fn deliberately_stricter(text: &str) -> bool {
    // Control characters, including a carriage return that does not end a line.
    let joined = text.replace("\r\n", "\n");
    if joined.bytes().any(|b| b < 0x20 && !matches!(b, b'\n' | b'\t') || b == 0x7f) {
        return true;
    }
    let mut seen = 0;
    for l in text.split('\n').map(|l| l.trim().to_ascii_lowercase()) {
        if l.starts_with("m=") {
            seen = 0;
        } else if ["a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"].contains(&l.as_str()) {
            seen += 1;
            if seen > 1 {
                return true;
            }
        }
    }
    false
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let fast = sdp::inspect(text);
        match &fast {
            Ok(summary) => assert!(summary.sections.len() <= sdp::MAX_M_SECTIONS),
            Err(v) => assert!(!v.rule.is_empty()),
        }
        if let Ok(reference) = sdp::reference::inspect(text) {
            // webrtc-sdp drops an m= line it cannot parse (a warning), so
            // its summary can miss a section the fast validator refuses.
            let m_lines = text
                .split('\n')
                .filter(|l| l.trim_start().to_ascii_lowercase().starts_with("m="))
                .count();
            if !deliberately_stricter(text) && m_lines == reference.sections.len() {
                assert_eq!(fast.as_ref().ok(), Some(&reference), "reference accepts");
            }
        }
    }
});

//! Fuzzes the SDP validator: any text must be accepted with a summary or
//! refused with a rule, never panic, and a summary never names more
//! m-sections than the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match bedside_server::sdp::inspect(text) {
            Ok(summary) => assert!(summary.sections.len() <= bedside_server::sdp::MAX_M_SECTIONS),
            Err(v) => assert!(!v.rule.is_empty()),
        }
    }
});

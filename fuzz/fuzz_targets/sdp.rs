//! Fuzzes the SDP validator: any text must be accepted with a summary or
//! refused with a rule, never panic, and a summary never names more
//! m-sections than the limit. Two differentials:
//! - browsers: whatever the hub accepts, no modelled browser (libwebrtc,
//!   Firefox; `sdp::browsers`) reads as sending a track the hub did not
//!   check;
//! - reference: when both the hub and the webrtc-sdp reference accept,
//!   they summarize the SDP the same way (the hub refuses more on purpose).
#![no_main]

use bedside_server::sdp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let fast = sdp::inspect(text);
        match &fast {
            Ok(summary) => {
                assert!(summary.sections.len() <= sdp::MAX_M_SECTIONS);
                if let Err(e) = sdp::browsers::covered_by_every_browser(summary, text) {
                    panic!("accepted, but {e}");
                }
            }
            Err(v) => assert!(!v.rule.is_empty()),
        }
        if let (Ok(fast), Ok(reference)) = (&fast, sdp::reference::inspect(text)) {
            // webrtc-sdp drops an m= line it cannot parse (a warning).
            if fast.sections.len() == reference.sections.len() {
                assert_eq!(fast, &reference, "both accept");
            }
        }
    }
});

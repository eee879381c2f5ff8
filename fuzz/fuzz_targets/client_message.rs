//! Fuzzes the client-message parser: any text frame must parse or be
//! refused with a `ParseError`, never panic; whatever parses has a type name.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match bedside_protocol::parse_client_message(text) {
            Ok((_, msg)) => assert!(!msg.type_name().is_empty()),
            Err((_, e)) => drop(e.to_string()),
        }
    }
});

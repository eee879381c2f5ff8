//! The browser shell (wasm32): the sans-IO [`Session`](crate::session::Session)
//! over a web-sys `WebSocket`, woken by `setTimeout` at its next deadline,
//! and one `RTCPeerConnection` per remote participant driven by the shared
//! [`Negotiator`](crate::session::negotiator::Negotiator).
//!
//! Everything runs on the page's one thread: the [`Client`] is a cheap
//! `Rc` handle; browser callbacks and finished promises post inputs to a
//! mailbox that is drained in order, so no callback ever runs inside
//! another and no `RefCell` borrow is held across an `await`. Events go to
//! the app's callback after each step, outside any borrow, so the app may
//! call back into the client from there.
//!
//! The JS/TypeScript package (`web-sdk/`) is a thin wasm-bindgen facade
//! over this module.

mod client;
mod media;
mod timer;
mod ws;

pub use client::{Client, ClientConfig, TokenSource, WebEvent};

use crate::session::SdkError;
use wasm_bindgen::{JsCast, JsValue};

/// Unix time in milliseconds (the session core's clock): `Date.now()`.
/// (`SystemTime::now` panics on wasm32-unknown-unknown.)
pub(crate) fn now_ms() -> u64 {
    js_sys::Date::now().max(0.0) as u64
}

/// A JS exception as a short, SDP-free text: its `name: message`.
pub(crate) fn js_text(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        let name = String::from(err.name());
        let message = String::from(err.message());
        // Browsers quote the offending SDP line in some messages: keep the
        // first line only, and never more than 160 characters.
        let first = message.lines().next().unwrap_or("");
        return truncate(&format!("{name}: {first}"), 160);
    }
    e.as_string()
        .map(|s| truncate(s.lines().next().unwrap_or(""), 160))
        .unwrap_or_else(|| "unknown JavaScript error".into())
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// A JS exception as an SDK error.
pub(crate) fn transport(e: JsValue) -> SdkError {
    SdkError::Transport(js_text(&e))
}

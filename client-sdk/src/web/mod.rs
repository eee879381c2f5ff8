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
use wasm_bindgen::JsValue;

/// Unix time in milliseconds (the session core's clock): `Date.now()`.
/// (`SystemTime::now` panics on wasm32-unknown-unknown.)
pub(crate) fn now_ms() -> u64 {
    js_sys::Date::now().max(0.0) as u64
}

/// What a JS exception may say to the app: what failed and the
/// exception's `name` (`OperationError`, `InvalidStateError` …), nothing
/// more. Browsers quote SDP lines and URLs in their messages; those must
/// not reach events or logs.
pub(crate) fn js_error(what: &str, e: &JsValue) -> String {
    let name = js_sys::Reflect::get(e, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string())
        .filter(|n| !n.is_empty() && n.len() <= 40 && n.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "Error".into());
    format!("{what} failed: {name}")
}

/// Maps a JS exception from `what` to an SDK error.
pub(crate) fn transport(what: &'static str) -> impl Fn(JsValue) -> SdkError {
    move |e| SdkError::Transport(js_error(what, &e))
}

//! The Bedside client SDK: one API for native apps and browsers.
//!
//! - [`e2ee`]: the end-to-end encryption of chat (platform-free);
//! - [`session`]: the sans-IO session core (hello/resume, back-off, refresh,
//!   keep-alive, E2E, signaling checks) and the perfect-negotiation
//!   state machine every platform shares;
//! - the platform module, chosen by target: `native` (feature `ws`) has
//!   the tokio-tungstenite transport, the async `native::Client` and peer
//!   connections over any WebRTC stack behind `native::media::backend`'s
//!   traits, webrtc-rs with feature `webrtc` (`native`, on by default,
//!   is both); `web` (wasm32) has the
//!   web-sys WebSocket, `RTCPeerConnection` peers and `web::Client`, which
//!   the JS/TypeScript package (`web-sdk/`) wraps.

#![warn(missing_docs)]

pub mod e2ee;
#[cfg(all(feature = "ws", not(target_arch = "wasm32")))]
pub mod native;
pub mod session;
#[cfg(target_arch = "wasm32")]
pub mod web;

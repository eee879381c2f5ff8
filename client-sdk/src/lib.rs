//! The Bedside client SDK: one API for native apps and (later) browsers.
//!
//! - [`e2ee`]: the end-to-end encryption of chat (platform-free);
//! - [`session`]: the sans-IO session core (hello/resume, back-off, refresh,
//!   keep-alive, E2E, signaling checks);
//! - `native` (feature `native`, on by default): the tokio-tungstenite
//!   transport, webrtc-rs peer connections and the async [`native::Client`].

pub mod e2ee;
#[cfg(feature = "native")]
pub mod native;
pub mod session;

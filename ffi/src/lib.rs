//! Bedside's client SDK for Swift, Kotlin and Python apps, through UniFFI.
//!
//! Rust keeps what is security-critical or subtle: the session core (hello,
//! resume, back-off, refresh), end-to-end encrypted chat, the device's DTLS
//! certificate whose fingerprint is signed into the Hello, the fingerprint
//! check on every local and remote SDP, perfect negotiation, and the
//! WebSocket transport. The app's platform WebRTC (WebRTC.framework,
//! org.webrtc) does media, behind the adapter the app implements
//! ([`MediaFactory`], [`PeerConnectionAdapter`]).
//!
//! - [`BedsideClient`]: join a visit, admit, chat, tracks, permissions,
//!   leave (async methods; `suspend` in Kotlin, `async` in Swift and
//!   Python);
//! - [`EventListener`]: what the visit reports, implemented by the app;
//! - [`TokenSource`]: fresh join tokens, implemented by the app (async);
//! - [`BedsideError`]: typed errors that carry no token, SDP or chat text.
//!
//! Every call runs on one tokio runtime of the library's own (two worker
//! threads), whatever executor the app awaits it from.

#[cfg(target_os = "android")]
mod android;
mod client;
mod error;
mod events;
mod media;
mod runtime;
mod tokens;
mod types;

pub use client::BedsideClient;
pub use error::{AdapterError, BedsideError};
pub use events::{ClientEvent, EventListener};
#[cfg(feature = "webrtc")]
pub use media::webrtc_rs_media_factory;
pub use media::{
    DtlsCertificate, IceCandidateInit, IceServerConfig, MediaFactory, PeerConfig,
    PeerConnectionAdapter, PeerConnectionState, PeerEventSink, SdpType,
};
pub use tokens::TokenSource;
pub use types::*;

uniffi::setup_scaffolding!("bedside");

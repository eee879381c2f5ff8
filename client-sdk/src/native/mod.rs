//! The native shell: a tokio task drives the sans-IO [`Session`](crate::session::Session) over a
//! tokio-tungstenite WebSocket and, when media is on, one webrtc-rs peer
//! connection per remote participant ([`media`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), bedside_sdk::session::SdkError> {
//! use bedside_sdk::native::{Client, ClientConfig};
//! let cfg = ClientConfig::new("ws://127.0.0.1:8443/v1/signal", "laptop-1");
//! let (client, mut events) = Client::connect(cfg, "<join token>".into(), None).await?;
//! while let Some(event) = events.recv().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```

mod client;
pub mod media;
mod tls;

pub use client::{Client, ClientConfig, Events, TokenSource};

/// Unix time in milliseconds (the session core's clock).
pub(crate) fn now_ms() -> u64 {
    let now = bedside_protocol::time::UnixMs::from_system_time(std::time::SystemTime::now());
    u64::try_from(now.0).unwrap_or(0)
}

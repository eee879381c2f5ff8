//! The Bedside hub as a library: the `bedside` binary is a thin shell over it,
//! and integration tests run it in-process on `127.0.0.1:0`.
//!
//! Map: [`config`] (what to run), [`auth`] (who is this), [`visit`] and
//! [`sdp`] (the sans-IO rules of one visit and of SDP: the `bedside-visit`
//! crate, re-exported here), [`store`] (what survives a restart), [`audit`]
//! (the tamper-evident trail), [`alerts`] (ALERT records and the webhook),
//! [`limits`] (abuse limits and network rules), [`ice`] (ICE servers and
//! TURN credentials), [`metrics`] (Prometheus), [`clock`] (the one wall
//! clock the shell reads), [`cluster`] (several nodes on one Redis:
//! leases, presence, forwarding channels), [`hub`] (the shared state of a running hub),
//! [`net`] (the tokio shell: HTTP, WebSocket sessions, visit tasks),
//! [`server`] (start and stop). Keys and token signing are the
//! `bedside-token` crate; the wire types and shared rules `bedside-protocol`.

pub mod alerts;
pub mod at_rest;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod fetch;
pub mod fsutil;
pub mod hub;
pub mod ice;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod net;
pub mod reload;
pub mod revocations;
pub mod server;
pub mod store;

/// The sans-IO core, under the names it had here.
pub use bedside_visit::{sdp, visit};

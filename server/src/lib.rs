//! The Bedside hub as a library: the `bedside` binary is a thin shell over it,
//! and integration tests run it in-process on `127.0.0.1:0`.
//!
//! Map: [`config`] (what to run), [`auth`] (who is this), [`visit`] (the
//! sans-IO rules of one visit), [`sdp`] (SDP rules), [`store`] (what survives
//! a restart), [`net`] (the tokio shell), [`server`] (start and stop).

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod config;
pub mod hub;
pub mod ice;
pub mod limits;
pub mod metrics;
pub mod net;
pub mod sdp;
pub mod server;
pub mod store;
pub mod visit;

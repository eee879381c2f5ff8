//! The Bedside hub as a library: the `bedside` binary is a thin shell over it,
//! and integration tests run it in-process on `127.0.0.1:0`.

pub mod auth;
pub mod config;
pub mod sdp;
pub mod store;
pub mod visit;

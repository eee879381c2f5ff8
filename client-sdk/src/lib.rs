//! The Bedside client SDK (in progress). What exists so far is the
//! platform-free part of the end-to-end encryption ([`e2ee`]); the session
//! core, the native transport and WebRTC follow.

pub mod e2ee;

//! Bedside's sans-IO core, a crate of its own so that the compiler keeps it
//! free of IO: no task, socket, file, clock or log is reachable from here
//! (`tests/io_free.rs` walks the dependency tree and fails if tokio, hyper,
//! rusqlite or tracing ever enter it). The hub (`bedside-server`) is the
//! shell that feeds it inputs, with the time as one of them, and carries out
//! its outputs.
//!
//! Map: [`visit`] (the rules of one visit: a state machine from inputs to
//! outputs), [`sdp`] (what an SDP may contain), [`audit`] (the audit
//! records a visit emits, their durability, and alert kinds), [`store`]
//! (the records a visit reads and asks to be written).

pub mod audit;
pub mod sdp;
pub mod store;
pub mod visit;

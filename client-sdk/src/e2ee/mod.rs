//! End-to-end encryption of chat (DESIGN.md "End-to-end encryption").
//! Platform-free: no IO, no clock, no randomness taken from the platform
//! except where a caller passes it in. Nothing on the hub side depends on it.
//!
//! So far: [`chain`], the per-sender symmetric ratchet with its fixed binary
//! associated data, skipped-key window and replay rejection. Identity keys,
//! signed per-epoch Hellos, pairwise keys and safety numbers come next.

pub mod chain;

pub use chain::{ChainContext, ChainError, ChainKey, MAX_SKIP, ReceivingChain, SendingChain};

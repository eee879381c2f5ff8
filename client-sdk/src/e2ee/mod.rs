//! End-to-end encryption of chat. Specified byte for byte in docs/e2ee.md,
//! which refines the sketch in DESIGN.md ("End-to-end encryption").
//! Platform-free: no IO, no clock, no randomness taken from the platform
//! except where a caller passes it in. Nothing on the hub side depends on it.
//!
//! - [`identity`]: Ed25519 device identities, fingerprints, safety numbers;
//! - [`hello`]: signed per-epoch Hellos and the `keys` bundle;
//! - [`pairwise`]: X25519 pairwise keys and chain-key distribution;
//! - [`chain`]: the per-sender symmetric ratchet;
//! - [`group`]: one device's state in one visit, tying them together.
//!
//! The byte layouts are defined in docs/e2ee.md and pinned by committed test
//! vectors (`client-sdk/tests/vectors/e2ee.json`, docs/e2ee.md §17).

pub mod chain;
pub mod group;
pub mod hello;
pub mod identity;
pub mod pairwise;
mod wire;

pub use chain::{ChainContext, ChainError, ChainKey, MAX_SKIP, ReceivingChain, SendingChain};
pub use group::{E2eeError, Group, Output, Pin, Pins, ReceivedChat, Safety};
pub use hello::{Hello, HelloError, SignedHello, roster_hash};
pub use identity::{Identity, PublicIdentity, SafetyNumber};
pub use pairwise::{EphemeralSecret, PairError};

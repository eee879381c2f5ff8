//! The tamper-evident audit trail (OPERATIONS.md "Audit log"; HIPAA audit
//! controls: if it was not logged, it did not happen).
//!
//! Every part of the hub logs through [`Audit::log`], which returns a
//! [`Logged`] future resolving once the record reached the asked
//! [`Durability`]. Callers hold back the effect a record describes until
//! then. One writer task owns the file: it takes every record waiting,
//! seals them into the hash chain (seq, ts, prev, hash) and writes them with
//! one `write`; a sync thread `fdatasync`s when a record asks for it or 10 ms
//! after the oldest unsynced write (group commit), so writes never wait
//! behind a sync.
//!
//! Durability rule:
//! - [`Durability::Synced`] (access decisions: session start and resume,
//!   admit, deny, remove, permission changes, visit end): on stable storage
//!   before the effect.
//! - [`Durability::Written`] (high-rate relay facts: offers, answers, track
//!   announcements, e2e relays): in the file (the kernel's page cache, so it
//!   survives a crash of the hub process) before the effect, on stable
//!   storage at most 10 ms later; a power cut can lose that window.
//!
//! If the file cannot be written, the hub cannot keep its trail: pending
//! effects are dropped and the hub shuts down.

pub use bedside_visit::audit::record;
pub mod export;
pub mod peers;
pub mod verify;
mod writer;

pub use record::{Action, Actor, Durability, Event, Outcome};
pub use writer::{Audit, AuditError, Logged, Recovery, open};

//! The audit trail's record model (OPERATIONS.md "Audit log"): what an
//! event says, how it is sealed into the hash chain, how durable it must be
//! before its effect, and which alerts exist. Writing and verifying the file
//! is bedside-server's `audit` module.

pub mod record;

pub use record::{Action, Actor, AlertKind, Durability, Event, Outcome};

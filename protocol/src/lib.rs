//! The Bedside signaling protocol, version 1 (`PROTOCOL.md`), as types.
//!
//! Owns: every message a client may send ([`ClientMessage`]) and every message
//! the hub sends ([`ServerMessage`]), identifiers as validated newtypes, error
//! codes and WebSocket close codes. No IO; builds for `wasm32-unknown-unknown`.
//! The hub and the SDKs both depend on this crate, so they cannot drift apart.
//!
//! Invariants: a value of an id type always satisfies the identifier rule of
//! section 1 (1–128 chars of `[A-Za-z0-9._:@-]`); deserializing an invalid id
//! fails, so code holding an id never re-checks it.

#![warn(missing_docs)]

mod bundle;
pub mod claims;
mod client;
mod client_read;
mod codes;
mod ids;
mod model;
mod name;
pub mod sdp;
mod server;
mod server_read;
pub mod time;

pub use bundle::{BundleError, MAX_HELLO_BYTES, canonical_bundle};
pub use claims::JoinClaims;
pub use client::{ClientMessage, Features};
pub use client_read::{MAX_CANDIDATE_BYTES, MAX_REASON_CHARS, ParseError, parse_client_message};
pub use codes::{CloseCode, ErrorCode};
pub use ids::{DeviceId, IdError, MessageId, ParticipantId, TrackId, VisitId, is_valid_id};
pub use model::{
    E2eKind, LeftReason, Participant, ParticipantState, Permission, PresentProvider, Role, Track,
    TrackAction, TrackSource, WaitingEntry,
};
pub use name::{MAX_NAME_CHARS, NameError, check_display_name, check_display_text};
pub use server::{ErrorBody, IceServer, Limits, ServerMessage, WelcomeParticipant};

/// The protocol version this crate implements; the WebSocket path is `/v1/signal`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Path of the signaling endpoint.
pub const SIGNAL_PATH: &str = "/v1/signal";

/// Default `limits.max_message_bytes` (section 1).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 65_536;

/// Maximum size of a `keys` bundle, serialized (section 7).
pub const MAX_KEY_BUNDLE_BYTES: usize = 8 * 1024;

/// Maximum size of a decoded `e2e` body (section 7).
pub const MAX_E2E_BODY_BYTES: usize = 48 * 1024;

/// Protocol errors tolerated on one connection before it is closed with 4000.
pub const MAX_PROTOCOL_ERRORS: u32 = 20;

//! Authentication: join tokens (PROTOCOL.md section 2) to verified claims.
//!
//! - [`keyset`]: the configured JWK set; each key is bound to one algorithm.
//! - [`verify`]: a token and `now` in, [`bedside_protocol::JoinClaims`] or
//!   a typed [`AuthError`] out.
//! - [`json`]: the duplicate-member check every token part passes.
//!
//! Key generation and signing (`bedside keygen`/`token`, dev mode) are in
//! the `bedside-token` crate, which the load tester uses without the hub.
//!
//! The single-use `jti` rule needs storage, so it lives in the store
//! (`Store::claim_jti`), called by the session after [`verify::verify`].

pub mod json;
pub mod keyring;
pub mod keyset;
pub mod refresh;
pub mod verify;

pub use keyset::{KeySet, KeySetError};
pub use verify::{AuthError, Verifier};

//! Authentication: join tokens (PROTOCOL.md section 2) to verified claims.
//!
//! - [`keyset`]: the configured JWK set; each key is bound to one algorithm.
//! - [`verify`]: a token and `now` in, [`Claims`] or a typed [`AuthError`] out.
//! - [`mint`]: key generation and token signing for `bedside keygen`/`token`
//!   and dev mode.
//!
//! The single-use `jti` rule needs storage, so it lives in the store
//! (`Store::claim_jti`), called by the session after [`verify::verify`].

pub mod json;
pub mod keyset;
pub mod mint;
pub mod verify;

pub use keyset::{KeySet, KeySetError};
pub use verify::{AuthError, Claims, Verifier};

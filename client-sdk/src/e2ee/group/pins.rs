//! Identity pins: each peer's identity key, pinned on first use (what the
//! app persists between visits), a changed key blocking that peer's chat
//! and media until the user accepts it, and the safety numbers the user
//! compares to verify a peer.

use super::{Group, Output};
use crate::e2ee::identity::{PublicIdentity, SafetyNumber};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A pinned identity (docs/e2ee.md §14.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// Standard padded base64 of the 32-byte Ed25519 identity key. A pin
    /// that does not decode to a valid key counts as no pin.
    pub ik: String,
    /// Whether the user compared the safety number for this key.
    pub verified: bool,
}

/// Identity pins by participant id (the token's `sub`; not per device or
/// visit): what the app persists between visits (docs/e2ee.md §14.1).
/// Serialises as `{"<id>":{"ik":"<base64>","verified":false}, …}`
/// (`serde_json` round-trips it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pins(pub BTreeMap<String, Pin>);

impl Pins {
    /// The key pinned for `who`, if its pin decodes to a valid key.
    pub(super) fn key_of(&self, who: &str) -> Option<PublicIdentity> {
        let pin = self.0.get(who)?;
        let bytes: [u8; 32] = B64.decode(&pin.ik).ok()?.try_into().ok()?;
        PublicIdentity::from_bytes(&bytes)
    }

    fn set(&mut self, who: &str, ik: &PublicIdentity, verified: bool) {
        self.0.insert(
            who.to_owned(),
            Pin {
                ik: B64.encode(ik.to_bytes()),
                verified,
            },
        );
    }
}

impl Group {
    /// The safety number of this device's identity and `peer`'s pinned one
    /// (docs/e2ee.md §13); `None` without a pin for `peer`. While `peer` is
    /// blocked this is the number with the old, pinned key; the number
    /// with the new key came in [`Output::IdentityChanged`].
    pub fn safety_number(&self, peer: &str) -> Option<SafetyNumber> {
        let theirs = self.pins.key_of(peer)?;
        Some(SafetyNumber::of(&self.identity.public(), &theirs))
    }

    /// Whether `peer`'s media and chat are blocked by an identity change not
    /// accepted yet (docs/e2ee.md §14.2).
    pub fn is_blocked(&self, peer: &str) -> bool {
        self.peers.get(peer).is_some_and(|p| p.blocked.is_some())
    }

    /// The user accepted `peer`'s new identity key (after comparing the
    /// safety number): unblocks the peer, pins the key as verified, forgets
    /// its chains, and begins a new own epoch so it gets a fresh chain key
    /// (docs/e2ee.md §14.2). Returns that epoch's outputs; nothing if `peer`
    /// is not blocked.
    pub fn accept_identity(
        &mut self,
        peer: &str,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Vec<Output> {
        let Some(p) = self.peers.get_mut(peer) else {
            return Vec::new();
        };
        let Some(ik) = p.blocked.take() else {
            return Vec::new();
        };
        p.hello = p.blocked_hello.take();
        p.chains.clear();
        p.newest_epoch = None;
        p.newest_key = None;
        self.pins.set(peer, &ik, true);
        // A new epoch of our own sends the peer our chain key under its new
        // identity (at once if its Hello is known, else when it arrives).
        self.new_epoch(now_ms, rng)
    }

    /// The user compared the safety number with `peer`: marks its pin
    /// verified. Does not unblock (while blocked it marks the old key);
    /// nothing without a pin.
    pub fn mark_verified(&mut self, peer: &str) {
        if let Some(ik) = self.pins.key_of(peer) {
            self.pins.set(peer, &ik, true);
        }
    }

    /// Checks `ik` against the pin for `who` (pinning it on first use).
    /// `false` (and an event, once) if it differs.
    pub(super) fn check_pin(
        &mut self,
        who: &str,
        ik: &PublicIdentity,
        out: &mut Vec<Output>,
    ) -> bool {
        match self.pins.key_of(who) {
            None => {
                self.pins.set(who, ik, false);
                true
            }
            Some(pinned) if pinned == *ik => true,
            Some(_) => {
                let peer = self.peers.entry(who.to_owned()).or_default();
                if peer.blocked != Some(*ik) {
                    peer.blocked = Some(*ik);
                    out.push(Output::IdentityChanged {
                        participant: who.to_owned(),
                        safety_number: SafetyNumber::of(&self.identity.public(), ik),
                    });
                }
                false
            }
        }
    }
}

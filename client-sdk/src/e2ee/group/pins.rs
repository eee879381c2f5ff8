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

/// A pinned identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// base64 Ed25519 public key.
    pub ik: String,
    /// The user compared the safety number.
    pub verified: bool,
}

/// Identity pins per participant id: what the app persists between visits
/// (`serde_json` round-trips it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pins(pub BTreeMap<String, Pin>);

impl Pins {
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
    /// The safety number with `peer`'s pinned identity.
    pub fn safety_number(&self, peer: &str) -> Option<SafetyNumber> {
        let theirs = self.pins.key_of(peer)?;
        Some(SafetyNumber::of(&self.identity.public(), &theirs))
    }

    /// Whether `peer`'s media and chat are blocked by an identity change.
    pub fn is_blocked(&self, peer: &str) -> bool {
        self.peers.get(peer).is_some_and(|p| p.blocked.is_some())
    }

    /// The user accepted `peer`'s new identity key (after comparing the
    /// safety number): unblocks the peer and pins the key as verified.
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

    /// The user compared the safety number with `peer`.
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

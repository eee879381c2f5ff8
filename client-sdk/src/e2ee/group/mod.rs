//! One device's end-to-end state in one visit: a sans-IO state machine.
//!
//! Inputs are the roster the hub shows, peers' `keys` bundles, received `e2e`
//! bodies and chat to send, each with the time (unix ms) and a random source.
//! Outputs are bundles to publish, key messages to send and events. No IO.
//!
//! Epochs are per member: each member numbers its own epochs from its clock,
//! always rising within one `Group`, so a replayed key message for an old
//! epoch is refused (docs/e2ee.md §4.1). A member starts a new epoch — fresh
//! X25519 ephemeral, new signed Hello, new random chain key — when the
//! roster changes, when the user accepts a changed identity key, and when
//! another member shows a newer Hello soon after it came back (its app
//! restarted).
//! When it seals a chat it also starts one if the current epoch has sealed
//! 1000 messages or began 10 minutes ago; these limits are checked only then
//! (docs/e2ee.md §4.2). The new chain key goes to every other member under
//! the pairwise key of this member's current Hello and the other's newest
//! known one; a member whose Hello is not known yet receives it as soon as
//! its bundle arrives (docs/e2ee.md §7.3). Members who join later get no old
//! chain keys, members who left get no new ones.
//!
//! Chat bodies (e2e kind `chat`) are always signed with the sender's identity
//! key (DESIGN.md asks for it from three members on; signing every message
//! also stops a member who holds a sender's chain from forging in its name).
//! Chat body layout: docs/e2ee.md §9. Receiving, step by step: docs/e2ee.md
//! §12.
//!
//! Layout: this file has the public types, the constants, the [`Group`]
//! itself and its queries; the rest is split by job: `epochs` (this
//! device's epochs and the roster: when a new epoch starts, granting its
//! chain key), `keys` (what is known of each peer: bundles and Hellos, key
//! messages, the DTLS fingerprint check), `chat` (sealing and opening chat,
//! chats waiting for their key, duplicates) and `pins` (identity pins,
//! changed keys and the user's decisions about them).

mod chat;
mod epochs;
mod keys;
mod pins;

pub use pins::{Pin, Pins};

use crate::e2ee::chain::ChainError;
use crate::e2ee::hello::{HelloError, SignedHello};
use crate::e2ee::identity::{Identity, PublicIdentity, SafetyNumber};
use crate::e2ee::pairwise::{EphemeralSecret, PairError};
use chat::PendingChat;
use epochs::OwnEpoch;
use keys::Peer;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

/// First byte of a chat body.
pub const CHAT_VERSION: u8 = 0x01;
/// A new epoch after this many messages on one chain.
pub const EPOCH_MAX_MESSAGES: u64 = 1000;
/// A new epoch after this long (ms).
pub const EPOCH_MAX_AGE_MS: u64 = 10 * 60 * 1000;
/// A sender's previous-epoch chain stays usable this long (ms).
pub const OLD_EPOCH_GRACE_MS: u64 = 30_000;
/// After a member comes back, a newer Hello from it within this window
/// means its app restarted and lost its chains (ms).
const RETURN_WINDOW_MS: u64 = 60_000;
/// Chats waiting for their chain key: at most this many …
const PENDING_MAX: usize = 256;
/// … for at most this long (ms).
const PENDING_MS: u64 = 60_000;
/// Own past Hellos kept to open key messages sealed to them.
const OWN_HISTORY: usize = 8;
/// Message ids remembered to drop duplicates.
const SEEN_IDS: usize = 4096;

/// What went wrong with a bundle, key or chat.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum E2eeError {
    /// A body or bundle that does not parse.
    #[error("malformed end-to-end message")]
    Malformed,
    /// A bundle that does not verify.
    #[error(transparent)]
    Hello(#[from] HelloError),
    /// A key message that does not open.
    #[error(transparent)]
    Pair(#[from] PairError),
    /// A chat that does not open (tampered, replayed, too far ahead).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A chat whose signature does not verify under the sender's identity.
    #[error("chat signature does not verify")]
    BadSignature,
    /// The sender's identity key changed and the user has not accepted it.
    #[error("{0}'s identity key changed; verify the safety number before trusting it")]
    IdentityChanged(String),
    /// Content names another sender or visit than the one it came from.
    #[error("message was made by or for someone else")]
    WrongSender,
    /// A key message sealed to an own Hello this device no longer holds.
    #[error("key message for an epoch this device has forgotten")]
    StaleKey,
    /// A chain key for an epoch already received or older than the newest.
    #[error("key message replayed or out of date")]
    KeyReplay,
    /// No chain key arrived for this chat in time.
    #[error("no key arrived for this message")]
    NoKey,
    /// Nothing is known yet about this participant's keys.
    #[error("no verified key bundle from {0}")]
    NoHello(String),
    /// The SDP's DTLS fingerprint is not the one the peer signed.
    #[error("{0}'s DTLS fingerprint does not match its signed key bundle")]
    FingerprintMismatch(String),
    /// Chat needs an admitted participant with a roster.
    #[error("not admitted to the visit")]
    NotAdmitted,
}

/// How far a chat's sender is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Safety {
    /// The user compared the safety number with this person.
    Verified,
    /// Trusted on first use; not yet compared.
    Unverified,
}

/// A decrypted chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedChat {
    /// Sender participant id.
    pub from: String,
    /// The sender's message id (hex), the same on every device.
    pub message_id: String,
    /// The text.
    pub text: String,
    /// Identity trust of the sender.
    pub safety: Safety,
    /// Whether the sender's roster (when its epoch began) equals ours now.
    pub roster_agrees: bool,
}

/// What the shell must do or show.
#[derive(Debug)]
pub enum Output {
    /// Publish this bundle with `{"type":"keys","bundle":…}`.
    PublishBundle(String),
    /// Send `{"type":"e2e","kind":"key","to":[to],"body":base64(body)}`.
    SendKey {
        /// Recipient.
        to: String,
        /// Binary body.
        body: Vec<u8>,
    },
    /// A chat to show.
    Chat(ReceivedChat),
    /// A participant's identity key changed: their chat and media are
    /// blocked until [`Group::accept_identity`].
    IdentityChanged {
        /// Who.
        participant: String,
        /// The safety number with the new key.
        safety_number: SafetyNumber,
    },
    /// A message could not be used; never shown as text.
    Undecryptable {
        /// Sender.
        from: String,
        /// Why.
        error: E2eeError,
    },
}

/// One device's E2E state in one visit.
pub struct Group {
    visit: String,
    me: String,
    identity: Identity,
    pins: Pins,
    dtls: String,
    roster: Option<BTreeSet<String>>,
    own: Option<OwnEpoch>,
    own_history: VecDeque<(EphemeralSecret, SignedHello)>,
    peers: BTreeMap<String, Peer>,
    pending: VecDeque<PendingChat>,
    seen: (HashSet<[u8; 16]>, VecDeque<[u8; 16]>),
    /// Members who came back (`joined` while in the roster), until when a
    /// newer Hello from them means their app restarted.
    returned: BTreeMap<String, u64>,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("visit", &self.visit)
            .field("me", &self.me)
            .field("epoch", &self.epoch())
            .field("roster", &self.roster)
            .finish_non_exhaustive()
    }
}

impl Group {
    /// State for `me` in `visit`. `dtls_fingerprint` is this device's DTLS
    /// certificate fingerprint as it appears in SDP (empty without media).
    pub fn new(
        identity: Identity,
        pins: Pins,
        visit: &str,
        me: &str,
        dtls_fingerprint: &str,
    ) -> Self {
        Self {
            visit: visit.to_owned(),
            me: me.to_owned(),
            identity,
            pins,
            dtls: dtls_fingerprint.to_owned(),
            roster: None,
            own: None,
            own_history: VecDeque::new(),
            peers: BTreeMap::new(),
            pending: VecDeque::new(),
            seen: (HashSet::new(), VecDeque::new()),
            returned: BTreeMap::new(),
        }
    }

    /// This device's public identity.
    pub fn identity(&self) -> PublicIdentity {
        self.identity.public()
    }

    /// The pins, for the app to persist.
    pub fn pins(&self) -> &Pins {
        &self.pins
    }

    /// The current own epoch, once one began.
    pub fn epoch(&self) -> Option<u64> {
        self.own.as_ref().map(|o| o.hello.hello().epoch)
    }

    /// The `keys` bundle of the current epoch.
    pub fn bundle_json(&self) -> Option<String> {
        self.own.as_ref().map(|o| o.hello.to_bundle_json())
    }

    /// Members of the current roster (including this device's participant).
    pub fn roster(&self) -> impl Iterator<Item = &str> {
        self.roster.iter().flatten().map(String::as_str)
    }
}

#[cfg(test)]
mod tests;

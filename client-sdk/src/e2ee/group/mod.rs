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

/// First byte of a chat body and of the chat plaintext (docs/e2ee.md §9).
pub const CHAT_VERSION: u8 = 0x01;
/// [`Group::seal_chat`] begins a new epoch first when the current one has
/// sealed this many messages (docs/e2ee.md §4.2; checked only when sealing).
pub const EPOCH_MAX_MESSAGES: u64 = 1000;
/// … or when the current epoch began this long ago (ms; 10 minutes).
pub const EPOCH_MAX_AGE_MS: u64 = 10 * 60 * 1000;
/// A sender's older receiving chains stay usable this long (ms) after a key
/// for a newer epoch arrives from it, or after it leaves the roster
/// (docs/e2ee.md §12.3 step 8); then they are dropped.
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

/// What went wrong with a bundle, key message, chat or SDP (docs/e2ee.md
/// §12.1). Carries participant ids, never message text or keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum E2eeError {
    /// A chat body or chat plaintext that does not parse (the session also
    /// reports an `e2e` body that is not canonical base64 this way).
    #[error("malformed end-to-end message")]
    Malformed,
    /// A bundle that does not parse or verify, or names another visit or
    /// participant than its sender.
    #[error(transparent)]
    Hello(#[from] HelloError),
    /// A key message that does not parse or open.
    #[error(transparent)]
    Pair(#[from] PairError),
    /// A chat that does not open: tampered ([`ChainError::Decrypt`]), too
    /// far ahead, or at the last counter. Replayed chats are dropped
    /// silently, never reported.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A chat whose signature does not verify under the sender's pinned
    /// identity key (checked before decrypting: docs/e2ee.md §12.4).
    #[error("chat signature does not verify")]
    BadSignature,
    /// The participant's (named) identity key changed and the user has not
    /// accepted it yet ([`Group::accept_identity`]).
    #[error("{0}'s identity key changed; verify the safety number before trusting it")]
    IdentityChanged(String),
    /// A key message whose embedded Hello names another visit or
    /// participant than the one it came from.
    #[error("message was made by or for someone else")]
    WrongSender,
    /// A key message sealed to an own Hello this device no longer holds (it
    /// keeps the current one and the 8 before it; a restarted app keeps
    /// none).
    #[error("key message for an epoch this device has forgotten")]
    StaleKey,
    /// A key message for a sender epoch not newer than the newest installed
    /// for that sender (a replay, or out of date).
    #[error("key message replayed or out of date")]
    KeyReplay,
    /// No chain key arrived for this chat within 60 s, or it was pushed out
    /// of the queue of chats waiting for keys (256 at most).
    #[error("no key arrived for this message")]
    NoKey,
    /// No verified bundle is known yet from the (named) participant, so its
    /// SDP cannot be checked.
    #[error("no verified key bundle from {0}")]
    NoHello(String),
    /// The SDP's DTLS fingerprint is not the one the (named) peer signed, the
    /// SDP has none, or the peer signed none (docs/e2ee.md §12.5).
    #[error("{0}'s DTLS fingerprint does not match its signed key bundle")]
    FingerprintMismatch(String),
    /// Chat needs a roster ([`Group::set_roster`]): this device is not
    /// admitted yet.
    #[error("not admitted to the visit")]
    NotAdmitted,
}

/// How far a chat's sender is trusted (its pin, docs/e2ee.md §14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Safety {
    /// The user compared the safety number with this person
    /// ([`Group::mark_verified`] or [`Group::accept_identity`]).
    Verified,
    /// Trusted on first use; the safety number not yet compared.
    Unverified,
}

/// A decrypted chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedChat {
    /// Sender participant id (the hub's `from`).
    pub from: String,
    /// The sender's message id, 32 lower-case hex characters, the same on
    /// every device (what [`Group::seal_chat`] returned to the sender).
    pub message_id: String,
    /// The text (UTF-8, may be empty).
    pub text: String,
    /// Identity trust of the sender.
    pub safety: Safety,
    /// Whether the roster the sender saw when its epoch began equals this
    /// device's roster now. A mismatch is for the app to flag, not an error
    /// (docs/e2ee.md §15.2).
    pub roster_agrees: bool,
}

/// What the shell must do or show, in the order given.
#[derive(Debug)]
pub enum Output {
    /// Publish this bundle (JSON object text) as
    /// `{"type":"keys","bundle":…}`, embedded as an object, not a string
    /// (docs/e2ee.md §5.4).
    PublishBundle(String),
    /// Send `{"type":"e2e","kind":"key","to":[to],"body":base64(body)}`
    /// (docs/e2ee.md §7.3).
    SendKey {
        /// Recipient participant id.
        to: String,
        /// The key message body, before base64.
        body: Vec<u8>,
    },
    /// A decrypted chat to show.
    Chat(ReceivedChat),
    /// A participant's identity key changed: their chat and media are
    /// blocked until [`Group::accept_identity`].
    IdentityChanged {
        /// The participant id.
        participant: String,
        /// The safety number of this device's key and the new key, for the
        /// user to compare out of band.
        safety_number: SafetyNumber,
    },
    /// A message could not be used; never shown as text.
    Undecryptable {
        /// Sender participant id.
        from: String,
        /// Why.
        error: E2eeError,
    },
}

/// One device's E2E state in one visit (see the module doc): feed it the
/// roster and what peers send, each with the time (unix ms) and a random
/// source, and carry out the [`Output`]s it returns. The
/// [`Session`](crate::session::Session) does this for apps.
///
/// Two members exchanging bundles, keys and a chat (what the hub would
/// relay is passed by hand):
///
/// ```
/// use bedside_sdk::e2ee::{Group, Identity, Output, Pins};
/// use rand::SeedableRng;
/// use rand::rngs::StdRng;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut rng = StdRng::seed_from_u64(7);
/// let now = 1_700_000_000_000; // unix ms
/// let group = |me: &str, seed: u8| {
///     Group::new(Identity::from_secret_bytes(&[seed; 32]), Pins::default(), "v-1", me, "")
/// };
/// let (mut dr, mut pt) = (group("dr", 1), group("pt", 2));
/// // Both admitted: each begins an epoch and has a bundle to publish.
/// let _ = dr.set_roster(["dr", "pt"], now, &mut rng);
/// let _ = pt.set_roster(["dr", "pt"], now, &mut rng);
/// let dr_bundle = dr.bundle_json().ok_or("no epoch")?;
/// let pt_bundle = pt.bundle_json().ok_or("no epoch")?;
/// // A peer's bundle makes each grant it the current chain key.
/// let key = |out: Vec<Output>| {
///     out.into_iter().find_map(|o| match o {
///         Output::SendKey { body, .. } => Some(body),
///         _ => None,
///     })
/// };
/// let to_pt = key(dr.peer_bundle("pt", &pt_bundle, now, &mut rng)?).ok_or("no key")?;
/// let to_dr = key(pt.peer_bundle("dr", &dr_bundle, now, &mut rng)?).ok_or("no key")?;
/// let _ = pt.receive_key("dr", &to_pt, now, &mut rng);
/// let _ = dr.receive_key("pt", &to_dr, now, &mut rng);
/// // One body for everyone in the roster.
/// let (body, message_id, _) = dr.seal_chat("BP 120/80", now + 1, &mut rng)?;
/// let shown = pt.receive_chat("dr", &body, now + 2);
/// assert!(matches!(&shown[..],
///     [Output::Chat(c)] if c.text == "BP 120/80" && c.message_id == message_id));
/// # Ok(()) }
/// ```
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
    /// State for participant `me` in `visit` (both as in `welcome`), with
    /// this device's `identity` and the `pins` kept from earlier visits.
    /// `dtls_fingerprint` is this device's DTLS certificate fingerprint as
    /// it appears in SDP (`sha-256 AB:…`; empty without media: docs/e2ee.md
    /// §5.2). No epoch yet: call [`Group::begin`] or [`Group::set_roster`].
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

    /// The pins, for the app to persist (new pins are added on first use,
    /// and verified ones marked).
    pub fn pins(&self) -> &Pins {
        &self.pins
    }

    /// The number of this device's current epoch, once one began
    /// (docs/e2ee.md §4.1).
    pub fn epoch(&self) -> Option<u64> {
        self.own.as_ref().map(|o| o.hello.hello().epoch)
    }

    /// The `keys` bundle (JSON text) of the current epoch, once one began;
    /// the session publishes it again after every `welcome` (docs/e2ee.md
    /// §5.5).
    pub fn bundle_json(&self) -> Option<String> {
        self.own.as_ref().map(|o| o.hello.to_bundle_json())
    }

    /// Members of the current roster, in byte order, including this
    /// device's participant; empty before [`Group::set_roster`].
    pub fn roster(&self) -> impl Iterator<Item = &str> {
        self.roster.iter().flatten().map(String::as_str)
    }
}

#[cfg(test)]
mod tests;

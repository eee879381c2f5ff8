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

use super::chain::{ChainContext, ChainError, ChainKey, ReceivingChain, SendingChain};
use super::hello::{Hello, HelloError, SignedHello, roster_hash};
use super::identity::{Identity, PublicIdentity, SafetyNumber};
use super::pairwise::{ChainGrant, EphemeralSecret, KeyMessage, PairError, seal_key_message};
use super::wire::{Reader, Writer};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bedside_protocol::sdp::{fingerprint_value, normalize_fingerprint};
use rand_core::CryptoRngCore;
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
    fn key_of(&self, who: &str) -> Option<PublicIdentity> {
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

struct OwnEpoch {
    secret: EphemeralSecret,
    hello: SignedHello,
    chain: SendingChain,
    started_ms: u64,
    /// The epoch's first chain key, kept while some member still lacks it.
    start: Option<ChainKey>,
    granted: BTreeSet<String>,
}

#[derive(Default)]
struct Peer {
    hello: Option<SignedHello>,
    /// A changed identity key waiting for the user's decision …
    blocked: Option<PublicIdentity>,
    /// … and the Hello signed by it that arrived last (in a bundle; epochs
    /// are not compared).
    blocked_hello: Option<SignedHello>,
    chains: BTreeMap<u64, (ReceivingChain, Option<u64>)>,
    newest_epoch: Option<u64>,
    /// SHA-256 of the key message that set `newest_epoch`: the same bytes
    /// again (a sender's outbox re-sent after a reconnect) are dropped
    /// silently; anything else for an epoch not newer is a replay.
    newest_key: Option<[u8; 32]>,
}

struct PendingChat {
    from: String,
    body: Vec<u8>,
    since_ms: u64,
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

    /// The safety number with `peer`'s pinned identity.
    pub fn safety_number(&self, peer: &str) -> Option<SafetyNumber> {
        let theirs = self.pins.key_of(peer)?;
        Some(SafetyNumber::of(&self.identity.public(), &theirs))
    }

    /// Whether `peer`'s media and chat are blocked by an identity change.
    pub fn is_blocked(&self, peer: &str) -> bool {
        self.peers.get(peer).is_some_and(|p| p.blocked.is_some())
    }

    /// Starts the first epoch before admission (the waiting room), so
    /// providers can send this device keys the moment they admit it.
    pub fn begin(&mut self, now_ms: u64, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        if self.own.is_some() {
            return Vec::new();
        }
        self.new_epoch(now_ms, rng)
    }

    /// The roster the hub shows (on `admitted`): every admitted participant.
    /// A change starts a new epoch.
    pub fn set_roster<'a>(
        &mut self,
        members: impl IntoIterator<Item = &'a str>,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Vec<Output> {
        let mut set: BTreeSet<String> = members.into_iter().map(str::to_owned).collect();
        set.insert(self.me.clone());
        if self.roster.as_ref() == Some(&set) && self.own.is_some() {
            return Vec::new();
        }
        for gone in self.roster.iter().flatten().filter(|m| !set.contains(*m)) {
            if let Some(p) = self.peers.get_mut(gone) {
                retire_chains(p, now_ms);
            }
        }
        self.roster = Some(set);
        self.new_epoch(now_ms, rng)
    }

    /// A participant joined (or was admitted). A member already in the
    /// roster came back (a resume, or a restarted app): if it then shows a
    /// newer Hello, it lost its state, and [`Group::peer_bundle`] starts a
    /// new epoch so it gets a chain key it can open.
    pub fn member_joined(
        &mut self,
        who: &str,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Vec<Output> {
        let Some(roster) = &self.roster else {
            return Vec::new();
        };
        if roster.contains(who) {
            if who != self.me {
                self.returned
                    .insert(who.to_owned(), now_ms.saturating_add(RETURN_WINDOW_MS));
            }
            return Vec::new();
        }
        let mut set = roster.clone();
        set.insert(who.to_owned());
        self.set_roster(
            set.iter().map(String::as_str).collect::<Vec<_>>(),
            now_ms,
            rng,
        )
    }

    /// A participant left the visit for good (left, denied, removed,
    /// expired — not a dropped connection, which is still a member).
    pub fn member_left(
        &mut self,
        who: &str,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Vec<Output> {
        let Some(roster) = &self.roster else {
            return Vec::new();
        };
        if !roster.contains(who) || who == self.me {
            return Vec::new();
        }
        let set: Vec<String> = roster.iter().filter(|m| *m != who).cloned().collect();
        self.set_roster(set.iter().map(String::as_str), now_ms, rng)
    }

    /// A peer's `keys` bundle (from `keys`, `admitted` or `joined`).
    pub fn peer_bundle(
        &mut self,
        from: &str,
        bundle_json: &str,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<Output>, E2eeError> {
        if from == self.me {
            return Ok(Vec::new());
        }
        let signed = SignedHello::from_bundle_json(bundle_json)?;
        signed.check_context(&self.visit, from)?;
        let mut out = Vec::new();
        if !self.check_pin(from, &signed.hello().identity, &mut out) {
            if let Some(peer) = self.peers.get_mut(from)
                && peer.blocked == Some(signed.hello().identity)
            {
                peer.blocked_hello = Some(signed);
            }
            return Ok(out);
        }
        let newer = self.learn_hello(from, signed);
        // A newer Hello soon after a return is a restarted app. (The hub's
        // `joined` carries the bundle it stored, the old one; the restarted
        // app's own arrives right after.) A resumed member keeps its Hello.
        let returned = self
            .returned
            .get(from)
            .is_some_and(|until| now_ms <= *until);
        if newer && returned {
            self.returned.remove(from);
            // A member came back with a new Hello: a restarted app with no
            // chain of ours. Our chain keys were granted to its old Hello
            // (and the first one erased since), so a new epoch of ours is
            // the way to give it one. A member that resumed keeps its
            // Hello and triggers nothing; a routine rotation of its epoch
            // does not follow a return.
            out.extend(self.new_epoch(now_ms, rng));
        } else {
            out.extend(self.grant_missing(rng));
        }
        Ok(out)
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

    /// Checks every `a=fingerprint` of a remote SDP from `peer` against the
    /// fingerprint in the peer's signed Hello (docs/e2ee.md §12.5).
    pub fn check_sdp_fingerprint(&self, peer: &str, sdp: &str) -> Result<(), E2eeError> {
        let p = self.peers.get(peer);
        if p.is_some_and(|p| p.blocked.is_some()) {
            return Err(E2eeError::IdentityChanged(peer.to_owned()));
        }
        let hello = p
            .and_then(|p| p.hello.as_ref())
            .ok_or_else(|| E2eeError::NoHello(peer.to_owned()))?;
        let signed = normalize_fingerprint(&hello.hello().dtls_fingerprint);
        let mut seen = 0;
        // Any line a parser might take for a fingerprint counts
        // (docs/e2ee.md §12.5).
        for fp in sdp.lines().filter_map(fingerprint_value) {
            seen += 1;
            if normalize_fingerprint(fp) != signed {
                return Err(E2eeError::FingerprintMismatch(peer.to_owned()));
            }
        }
        if seen == 0 || signed.is_empty() {
            return Err(E2eeError::FingerprintMismatch(peer.to_owned()));
        }
        Ok(())
    }

    /// Seals a chat message for everyone in the roster. Returns the body to
    /// send (`e2e` kind `chat`, `to` omitted), the message id, and anything
    /// a new epoch needs sent first: one begins here when the current epoch
    /// has sealed [`EPOCH_MAX_MESSAGES`] or is [`EPOCH_MAX_AGE_MS`] old.
    pub fn seal_chat(
        &mut self,
        text: &str,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(Vec<u8>, String, Vec<Output>), E2eeError> {
        if self.roster.is_none() {
            return Err(E2eeError::NotAdmitted);
        }
        let mut out = Vec::new();
        let due = self.own.as_ref().is_none_or(|o| {
            o.chain.sealed() >= EPOCH_MAX_MESSAGES
                || now_ms.saturating_sub(o.started_ms) >= EPOCH_MAX_AGE_MS
        });
        if due {
            out = self.new_epoch(now_ms, rng);
        }
        let own = self.own.as_mut().ok_or(E2eeError::NotAdmitted)?;
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(17 + text.len()));
        plain.push(CHAT_VERSION);
        plain.extend_from_slice(&id);
        plain.extend_from_slice(text.as_bytes());
        let (counter, ct) = own.chain.seal(&plain)?;
        let ad = own.chain.context().associated_data(counter);
        let sig = self.identity.sign(&signed_bytes(&ad, &ct));
        let mut w = Writer::default();
        w.u8(CHAT_VERSION)
            .u64(own.hello.hello().epoch)
            .u64(counter)
            .bytes(&sig)
            .bytes(&ct);
        self.remember(id);
        Ok((w.finish(), super::identity::hex(&id), out))
    }

    /// A received `e2e` body of kind `key` from `from`.
    pub fn receive_key(
        &mut self,
        from: &str,
        body: &[u8],
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Vec<Output> {
        let mut out = Vec::new();
        if let Err(error) = self.open_key(from, body, now_ms, rng, &mut out) {
            out.push(Output::Undecryptable {
                from: from.to_owned(),
                error,
            });
        }
        out
    }

    fn open_key(
        &mut self,
        from: &str,
        body: &[u8],
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) -> Result<(), E2eeError> {
        let msg = KeyMessage::parse(body)?;
        let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(body).into();
        if self
            .peers
            .get(from)
            .is_some_and(|p| p.newest_key == Some(digest))
        {
            return Ok(()); // already applied: a re-send, not news
        }
        msg.sender
            .check_context(&self.visit, from)
            .map_err(|_| E2eeError::WrongSender)?;
        if !self.check_pin(from, &msg.sender.hello().identity, out) {
            return Err(E2eeError::IdentityChanged(from.to_owned()));
        }
        let (secret, mine) = self
            .own
            .iter()
            .map(|o| (&o.secret, &o.hello))
            .chain(self.own_history.iter().map(|(s, h)| (s, h)))
            .find(|(_, h)| h.hello().epoch == msg.recipient_epoch)
            .ok_or(E2eeError::StaleKey)?;
        let grant = msg.open(secret, mine)?;
        let sender_epoch = msg.sender.hello().epoch;
        let peer = self.peers.entry(from.to_owned()).or_default();
        if peer.newest_epoch.is_some_and(|n| sender_epoch <= n) {
            return Err(E2eeError::KeyReplay);
        }
        retire_chains(peer, now_ms);
        let ctx = ChainContext {
            visit: self.visit.clone(),
            epoch: sender_epoch,
            sender: from.to_owned(),
            roster_hash: msg.sender.hello().roster_hash,
        };
        peer.chains.insert(
            sender_epoch,
            (
                ReceivingChain::starting_at(grant.start, grant.key, ctx),
                None,
            ),
        );
        peer.newest_epoch = Some(sender_epoch);
        peer.newest_key = Some(digest);
        self.learn_hello(from, msg.sender);
        out.extend(self.grant_missing(rng));
        self.retry_pending(from, now_ms, out);
        Ok(())
    }

    /// A received `e2e` body of kind `chat` from `from`.
    pub fn receive_chat(&mut self, from: &str, body: &[u8], now_ms: u64) -> Vec<Output> {
        let mut out = Vec::new();
        self.expire(now_ms, &mut out);
        match self.open_chat(from, body) {
            Ok(Some(chat)) => out.push(Output::Chat(chat)),
            Ok(None) => {}
            Err(E2eeError::NoKey) => {
                if self.pending.len() >= PENDING_MAX
                    && let Some(old) = self.pending.pop_front()
                {
                    out.push(Output::Undecryptable {
                        from: old.from,
                        error: E2eeError::NoKey,
                    });
                }
                self.pending.push_back(PendingChat {
                    from: from.to_owned(),
                    body: body.to_vec(),
                    since_ms: now_ms,
                });
            }
            Err(error) => out.push(Output::Undecryptable {
                from: from.to_owned(),
                error,
            }),
        }
        out
    }

    /// Drops what expired: pending chats without a key, old-epoch chains.
    pub fn expire(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        while let Some(p) = self.pending.front() {
            if now_ms.saturating_sub(p.since_ms) < PENDING_MS {
                break;
            }
            if let Some(p) = self.pending.pop_front() {
                out.push(Output::Undecryptable {
                    from: p.from,
                    error: E2eeError::NoKey,
                });
            }
        }
        for peer in self.peers.values_mut() {
            peer.chains
                .retain(|_, (_, retire)| retire.is_none_or(|t| now_ms < t));
        }
    }

    /// `Ok(None)`: a duplicate, dropped silently.
    fn open_chat(&mut self, from: &str, body: &[u8]) -> Result<Option<ReceivedChat>, E2eeError> {
        let m = |_| E2eeError::Malformed;
        let mut r = Reader::new(body);
        if r.u8().map_err(m)? != CHAT_VERSION {
            return Err(E2eeError::Malformed);
        }
        let epoch = r.u64().map_err(m)?;
        let counter = r.u64().map_err(m)?;
        let sig: [u8; 64] = r.array().map_err(m)?;
        let ct = r.rest();
        let roster_now = self.roster_hash();
        let peer = self.peers.get_mut(from).ok_or(E2eeError::NoKey)?;
        if peer.blocked.is_some() {
            return Err(E2eeError::IdentityChanged(from.to_owned()));
        }
        let (chain, _) = peer.chains.get_mut(&epoch).ok_or(E2eeError::NoKey)?;
        let ik = self.pins.key_of(from).ok_or(E2eeError::NoKey)?;
        let ad = chain.context().associated_data(counter);
        if !ik.verify(&signed_bytes(&ad, ct), &sig) {
            return Err(E2eeError::BadSignature);
        }
        let plain = match chain.open(counter, ct) {
            Ok(p) => zeroize::Zeroizing::new(p),
            // A message delivered twice (e.g. resent after a lost ack).
            Err(ChainError::Replay(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let roster_agrees = Some(chain.context().roster_hash) == roster_now;
        let mut r = Reader::new(&plain);
        if r.u8().map_err(m)? != CHAT_VERSION {
            return Err(E2eeError::Malformed);
        }
        let id: [u8; 16] = r.array().map_err(m)?;
        let text = std::str::from_utf8(r.rest())
            .map_err(|_| E2eeError::Malformed)?
            .to_owned();
        if !self.remember(id) {
            return Ok(None);
        }
        let verified = self.pins.0.get(from).is_some_and(|p| p.verified);
        Ok(Some(ReceivedChat {
            from: from.to_owned(),
            message_id: super::identity::hex(&id),
            text,
            safety: if verified {
                Safety::Verified
            } else {
                Safety::Unverified
            },
            roster_agrees,
        }))
    }

    fn retry_pending(&mut self, from: &str, now_ms: u64, out: &mut Vec<Output>) {
        let waiting: Vec<PendingChat> = {
            let (mine, rest): (VecDeque<_>, VecDeque<_>) =
                self.pending.drain(..).partition(|p| p.from == from);
            self.pending = rest;
            mine.into()
        };
        for p in waiting {
            match self.open_chat(&p.from, &p.body) {
                Ok(Some(chat)) => out.push(Output::Chat(chat)),
                Ok(None) => {}
                Err(E2eeError::NoKey) if now_ms.saturating_sub(p.since_ms) < PENDING_MS => {
                    self.pending.push_back(p);
                }
                Err(error) => out.push(Output::Undecryptable {
                    from: p.from,
                    error,
                }),
            }
        }
    }

    /// `true` if new (and now remembered).
    fn remember(&mut self, id: [u8; 16]) -> bool {
        let (set, order) = &mut self.seen;
        if !set.insert(id) {
            return false;
        }
        order.push_back(id);
        if order.len() > SEEN_IDS
            && let Some(old) = order.pop_front()
        {
            set.remove(&old);
        }
        true
    }

    fn roster_hash(&self) -> Option<[u8; 32]> {
        self.roster
            .as_ref()
            .map(|r| roster_hash(r.iter().map(String::as_str)))
    }

    /// Checks `ik` against the pin for `who` (pinning it on first use).
    /// `false` (and an event, once) if it differs.
    fn check_pin(&mut self, who: &str, ik: &PublicIdentity, out: &mut Vec<Output>) -> bool {
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

    /// Keeps the newest Hello of a peer (by the peer's epoch); whether it
    /// replaced an older one.
    fn learn_hello(&mut self, from: &str, signed: SignedHello) -> bool {
        let peer = self.peers.entry(from.to_owned()).or_default();
        let had = peer.hello.is_some();
        if peer
            .hello
            .as_ref()
            .is_none_or(|h| h.hello().epoch < signed.hello().epoch)
        {
            peer.hello = Some(signed);
            return had;
        }
        false
    }

    fn new_epoch(&mut self, now_ms: u64, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        let epoch = self
            .epoch()
            .map_or(now_ms, |e| e.saturating_add(1).max(now_ms));
        let secret = EphemeralSecret::generate(rng);
        let roster_hash = self
            .roster_hash()
            .unwrap_or_else(|| roster_hash([self.me.as_str()]));
        let hello = SignedHello::sign(
            &self.identity,
            Hello {
                visit: self.visit.clone(),
                epoch,
                member: self.me.clone(),
                identity: self.identity.public(),
                ephemeral: secret.public(),
                dtls_fingerprint: self.dtls.clone(),
                roster_hash,
            },
        );
        let mut ck = [0u8; 32];
        rng.fill_bytes(&mut ck);
        let ck = ChainKey::from_bytes(ck);
        let chain = SendingChain::new(
            ck.clone(),
            ChainContext {
                visit: self.visit.clone(),
                epoch,
                sender: self.me.clone(),
                roster_hash,
            },
        );
        let bundle = hello.to_bundle_json();
        if let Some(old) = self.own.replace(OwnEpoch {
            secret,
            hello,
            chain,
            started_ms: now_ms,
            start: Some(ck),
            granted: BTreeSet::new(),
        }) {
            self.own_history.push_front((old.secret, old.hello));
            self.own_history.truncate(OWN_HISTORY);
        }
        let mut out = vec![Output::PublishBundle(bundle)];
        out.extend(self.grant_missing(rng));
        out
    }

    /// Sends the current epoch's chain key to every member who lacks it and
    /// whose Hello is known; forgets the key once everyone has it.
    fn grant_missing(&mut self, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        let mut out = Vec::new();
        let (Some(own), Some(roster)) = (self.own.as_mut(), self.roster.as_ref()) else {
            return out;
        };
        let Some(start) = own.start.as_ref() else {
            return out;
        };
        let grant = ChainGrant {
            start: 0,
            key: start.clone(),
        };
        for member in roster.iter().filter(|m| **m != self.me) {
            if own.granted.contains(member) {
                continue;
            }
            let Some(peer) = self.peers.get(member) else {
                continue;
            };
            let (Some(theirs), None) = (&peer.hello, &peer.blocked) else {
                continue;
            };
            if let Ok(body) = seal_key_message(&own.secret, &own.hello, theirs, &grant, rng) {
                own.granted.insert(member.clone());
                out.push(Output::SendKey {
                    to: member.clone(),
                    body,
                });
            }
        }
        if roster
            .iter()
            .all(|m| *m == self.me || own.granted.contains(m))
        {
            own.start = None; // zeroized on drop
        }
        out
    }
}

fn retire_chains(peer: &mut Peer, now_ms: u64) {
    for (_, retire) in peer.chains.values_mut() {
        retire.get_or_insert(now_ms + OLD_EPOCH_GRACE_MS);
    }
}

fn signed_bytes(ad: &[u8], ct: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + ad.len() + ct.len());
    v.extend_from_slice(b"bedside-sig-v1");
    v.extend_from_slice(ad);
    v.extend_from_slice(ct);
    v
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;

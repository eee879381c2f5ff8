//! What is known of each peer: its bundles (signed Hellos, the newest
//! kept), the key messages that bring its chain keys (a replay or an
//! out-of-date epoch refused), its receiving chains and when the old ones
//! retire, and the check of its SDP's DTLS fingerprint against its Hello.

use super::{E2eeError, Group, OLD_EPOCH_GRACE_MS, Output};
use crate::e2ee::chain::{ChainContext, ReceivingChain};
use crate::e2ee::hello::SignedHello;
use crate::e2ee::identity::PublicIdentity;
use crate::e2ee::pairwise::KeyMessage;
use bedside_protocol::sdp::{fingerprints_all_are, normalize_fingerprint};
use rand_core::CryptoRngCore;
use std::collections::BTreeMap;

/// What is known of one peer.
#[derive(Default)]
pub(super) struct Peer {
    /// Its newest accepted Hello (docs/e2ee.md §5.6).
    pub(super) hello: Option<SignedHello>,
    /// A changed identity key waiting for the user's decision …
    pub(super) blocked: Option<PublicIdentity>,
    /// … and the Hello signed by it that arrived last (in a bundle; epochs
    /// are not compared).
    pub(super) blocked_hello: Option<SignedHello>,
    /// Receiving chains by sender epoch, each with its retirement deadline
    /// (unix ms) once retired.
    pub(super) chains: BTreeMap<u64, (ReceivingChain, Option<u64>)>,
    /// The newest sender epoch installed from a key message.
    pub(super) newest_epoch: Option<u64>,
    /// SHA-256 of the key message that set `newest_epoch`: the same bytes
    /// again (a sender's outbox re-sent after a reconnect) are dropped
    /// silently; anything else for an epoch not newer is a replay.
    pub(super) newest_key: Option<[u8; 32]>,
}

impl Group {
    /// A peer's `keys` bundle (JSON text from `keys`,
    /// `admitted.participants[].keys` or `joined.participant.keys`) with
    /// the hub's `from`, processed as in docs/e2ee.md §12.2. Err with
    /// [`E2eeError::Hello`] if it does not parse or verify, or names another
    /// visit or participant. Ok with: [`Output::SendKey`] granting the
    /// current chain key; or [`Output::IdentityChanged`] (once per new key)
    /// when its key differs from the pin, and then nothing is granted; or a
    /// new epoch's outputs when a member that came back shows a newer
    /// Hello (see [`Group::member_joined`]). This device's own bundle is
    /// ignored.
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

    /// Checks every `a=fingerprint` line of a remote SDP from `peer` against
    /// the DTLS fingerprint in the peer's signed Hello, both normalised
    /// (docs/e2ee.md §12.5). Errors: [`E2eeError::IdentityChanged`] (the
    /// peer is blocked), [`E2eeError::NoHello`] (no Hello known yet: the
    /// session holds the SDP up to 10 s for the bundle),
    /// [`E2eeError::FingerprintMismatch`] (a line differs, no line at all,
    /// or the peer signed no fingerprint).
    pub fn check_sdp_fingerprint(&self, peer: &str, sdp: &str) -> Result<(), E2eeError> {
        let p = self.peers.get(peer);
        if p.is_some_and(|p| p.blocked.is_some()) {
            return Err(E2eeError::IdentityChanged(peer.to_owned()));
        }
        let hello = p
            .and_then(|p| p.hello.as_ref())
            .ok_or_else(|| E2eeError::NoHello(peer.to_owned()))?;
        let signed = normalize_fingerprint(&hello.hello().dtls_fingerprint);
        // Any line a parser might take for a fingerprint counts
        // (docs/e2ee.md §12.5).
        if !fingerprints_all_are(sdp, &signed) {
            return Err(E2eeError::FingerprintMismatch(peer.to_owned()));
        }
        Ok(())
    }

    /// A received `e2e` body (decoded from base64) of kind `key` from
    /// `from` (the hub's `from`), processed as in docs/e2ee.md §12.3: installs
    /// the sender's chain. Returns [`Output::SendKey`] if the sender still
    /// lacked this device's chain key, [`Output::Chat`] for its chats that
    /// waited for the key, or [`Output::IdentityChanged`] and
    /// [`Output::Undecryptable`] (`WrongSender`, `IdentityChanged`,
    /// `StaleKey`, `KeyReplay`, `Pair`). A byte-identical copy of the key
    /// in force returns nothing.
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
}

/// Retires every chain held for `peer`: usable until
/// [`OLD_EPOCH_GRACE_MS`] after `now_ms` (a chain already retiring keeps its
/// deadline).
pub(super) fn retire_chains(peer: &mut Peer, now_ms: u64) {
    for (_, retire) in peer.chains.values_mut() {
        retire.get_or_insert(now_ms + OLD_EPOCH_GRACE_MS);
    }
}

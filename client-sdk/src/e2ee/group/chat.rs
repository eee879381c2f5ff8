//! Chat: sealing a message on this device's current chain (signed with its
//! identity key, a new epoch first when the current one is worn out),
//! opening what peers send, holding chats whose chain key has not arrived
//! yet, and dropping duplicates by message id.

use super::{
    CHAT_VERSION, E2eeError, EPOCH_MAX_AGE_MS, EPOCH_MAX_MESSAGES, Group, Output, PENDING_MAX,
    PENDING_MS, ReceivedChat, SEEN_IDS, Safety,
};
use crate::e2ee::chain::ChainError;
use crate::e2ee::wire::{Reader, Writer};
use rand_core::CryptoRngCore;
use std::collections::VecDeque;

/// A chat waiting for its chain key.
pub(super) struct PendingChat {
    from: String,
    body: Vec<u8>,
    since_ms: u64,
}

impl Group {
    /// Seals a chat message for everyone in the roster (signed with the
    /// identity key: docs/e2ee.md §9). Returns the body to send (`e2e` kind
    /// `chat`, `to` omitted, base64 on the wire), the message id (32
    /// lower-case hex characters, as receivers see it in
    /// [`ReceivedChat::message_id`]), and outputs to carry out before
    /// sending the body: a new epoch begins here when the current one has
    /// sealed [`EPOCH_MAX_MESSAGES`] or is [`EPOCH_MAX_AGE_MS`] old. Error:
    /// [`E2eeError::NotAdmitted`] before [`Group::set_roster`].
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
        Ok((w.finish(), crate::e2ee::identity::hex(&id), out))
    }

    /// A received `e2e` body (decoded from base64) of kind `chat` from
    /// `from` (the hub's `from`), processed as in docs/e2ee.md §12.4, after
    /// expiring what is due ([`Group::expire`]). Returns [`Output::Chat`];
    /// nothing for a duplicate or for a chat that waits for its key (at most
    /// 256, for 60 s, retried when a key from `from` arrives); or
    /// [`Output::Undecryptable`] (including the oldest waiting chat, with
    /// `NoKey`, when the queue is full).
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

    /// Drops what expired at `now_ms`, appending to `out`: chats that waited
    /// 60 s for their key (each an [`Output::Undecryptable`] with
    /// [`E2eeError::NoKey`]), and retired chains past their grace. The
    /// session calls it every 5 s.
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
            message_id: crate::e2ee::identity::hex(&id),
            text,
            safety: if verified {
                Safety::Verified
            } else {
                Safety::Unverified
            },
            roster_agrees,
        }))
    }

    /// Retries the chats of `from` that wait for a key (after a key from it
    /// was installed).
    pub(super) fn retry_pending(&mut self, from: &str, now_ms: u64, out: &mut Vec<Output>) {
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
}

fn signed_bytes(ad: &[u8], ct: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + ad.len() + ct.len());
    v.extend_from_slice(b"bedside-sig-v1");
    v.extend_from_slice(ad);
    v.extend_from_slice(ct);
    v
}

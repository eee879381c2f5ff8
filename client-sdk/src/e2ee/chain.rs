//! Per-sender chains (the symmetric ratchet): each member draws a random
//! chain key per epoch; every message is sealed under its own message key,
//! and the chain key moves forward and is erased. Derivations and the
//! associated data: docs/e2ee.md §8.1.
//!
//! Receiving: a counter already used is a replay; a counter ahead caches the
//! skipped keys (at most [`MAX_SKIP`], dropped with the chain); a failed
//! decryption changes nothing, so forged messages cannot burn keys
//! (docs/e2ee.md §8.3).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use std::collections::BTreeMap;
use zeroize::{Zeroize, Zeroizing};

/// How far ahead of a receiving chain's next counter a message may be, and
/// the most message keys the chain holds for skipped messages (the oldest
/// are evicted beyond it: docs/e2ee.md §8.3).
pub const MAX_SKIP: u64 = 1000;

/// Why a message could not be opened (or sealed), with the message's
/// counter where it has one (docs/e2ee.md §8.3, §12.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// This counter was already opened, or its skipped key was evicted. The
    /// group layer drops such chats silently as duplicates.
    #[error("message {0} was already received (replay)")]
    Replay(u64),
    /// More than [`MAX_SKIP`] counters ahead of the chain's next one.
    #[error("message {0} is too far ahead of the chain")]
    TooFarAhead(u64),
    /// Authentication failed: wrong key, tampered ciphertext or context.
    #[error("message does not authenticate")]
    Decrypt,
    /// The counter 2^64−1, which no chain seals or opens (docs/e2ee.md
    /// §8.2).
    #[error("chain exhausted")]
    Exhausted,
}

/// A 32-byte chain key (`CK_i`, docs/e2ee.md §8.1); zeroized on drop,
/// never printed.
#[derive(Clone)]
pub struct ChainKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(<redacted>)")
    }
}

impl ChainKey {
    /// Wraps key material (e.g. 32 random bytes drawn for a new epoch).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key bytes, for sealing them to another member.
    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// `(MK_i, CK_{i+1})` from `CK_i`.
    fn step(&self) -> (Zeroizing<[u8; 32]>, ChainKey) {
        let mut mk = Zeroizing::new([0u8; 32]);
        let mut next = Zeroizing::new([0u8; 32]);
        // A 32-byte PRK is always valid for HKDF-SHA256, and 32 bytes of
        // output are far below its limit: neither call can fail.
        if let Ok(hk) = Hkdf::<Sha256>::from_prk(&self.0[..]) {
            let _ = hk.expand(b"mk", &mut mk[..]);
            let _ = hk.expand(b"ck", &mut next[..]);
        }
        (mk, ChainKey(next))
    }
}

/// What a chain's messages are bound to: the fields of their associated
/// data (docs/e2ee.md §8.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainContext {
    /// The visit id `V`.
    pub visit: String,
    /// The sender's epoch `e`.
    pub epoch: u64,
    /// The sender's participant id `M`.
    pub sender: String,
    /// The roster hash `R` in the sender's Hello of this epoch.
    pub roster_hash: [u8; 32],
}

impl ChainContext {
    /// The associated data `AD_i` of message `counter` (docs/e2ee.md §8.1),
    /// also part of the chat signature input (§9.2). The visit and sender
    /// ids must be at most 65535 bytes (hub identifiers are at most 128).
    pub fn associated_data(&self, counter: u64) -> Vec<u8> {
        let mut ad = Vec::with_capacity(64 + self.visit.len() + self.sender.len());
        ad.extend_from_slice(b"bedside-msg-v1");
        ad.extend_from_slice(&(self.visit.len() as u16).to_be_bytes());
        ad.extend_from_slice(self.visit.as_bytes());
        ad.extend_from_slice(&self.epoch.to_be_bytes());
        ad.extend_from_slice(&(self.sender.len() as u16).to_be_bytes());
        ad.extend_from_slice(self.sender.as_bytes());
        ad.extend_from_slice(&counter.to_be_bytes());
        ad.extend_from_slice(&self.roster_hash);
        ad
    }
}

fn seal(mk: &[u8; 32], ad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, ChainError> {
    let cipher = ChaCha20Poly1305::new_from_slice(mk).map_err(|_| ChainError::Decrypt)?;
    cipher
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: plaintext,
                aad: ad,
            },
        )
        .map_err(|_| ChainError::Decrypt)
}

fn open(mk: &[u8; 32], ad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, ChainError> {
    let cipher = ChaCha20Poly1305::new_from_slice(mk).map_err(|_| ChainError::Decrypt)?;
    cipher
        .decrypt(
            &Nonce::default(),
            Payload {
                msg: ciphertext,
                aad: ad,
            },
        )
        .map_err(|_| ChainError::Decrypt)
}

/// The sender's end of its chain for one epoch (docs/e2ee.md §8.2).
#[derive(Debug)]
pub struct SendingChain {
    key: ChainKey,
    counter: u64,
    ctx: ChainContext,
}

impl SendingChain {
    /// A chain whose first message (counter 0) is sealed under `ck0`
    /// (`CK_0`).
    pub fn new(ck0: ChainKey, ctx: ChainContext) -> Self {
        Self {
            key: ck0,
            counter: 0,
            ctx,
        }
    }

    /// The counter of the next message and the chain key that opens it and
    /// everything after: what a member who joins the chain late receives.
    pub fn position(&self) -> (u64, ChainKey) {
        (self.counter, self.key.clone())
    }

    /// What this chain's messages are bound to.
    pub fn context(&self) -> &ChainContext {
        &self.ctx
    }

    /// Messages sealed so far (also the counter of the next one).
    pub fn sealed(&self) -> u64 {
        self.counter
    }

    /// Seals the next message under its own message key and moves the chain
    /// key forward (the old one is zeroized). Returns the message's counter
    /// and its ciphertext (the plaintext's length plus a 16-byte tag).
    /// Error: [`ChainError::Exhausted`] at counter 2^64−1 (the chain is
    /// unchanged).
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<(u64, Vec<u8>), ChainError> {
        let counter = self.counter;
        let next = counter.checked_add(1).ok_or(ChainError::Exhausted)?;
        let (mk, ck) = self.key.step();
        let ct = seal(&mk, &self.ctx.associated_data(counter), plaintext)?;
        self.key = ck; // the old chain key is dropped (and zeroized)
        self.counter = next;
        Ok((counter, ct))
    }
}

/// A receiver's copy of one sender's chain for one epoch (docs/e2ee.md
/// §8.3).
#[derive(Debug)]
pub struct ReceivingChain {
    key: ChainKey,
    next: u64,
    skipped: BTreeMap<u64, Zeroizing<[u8; 32]>>,
    ctx: ChainContext,
}

impl ReceivingChain {
    /// A chain that opens messages from counter 0, with `ck0` (`CK_0`) as
    /// received from the sender.
    pub fn new(ck0: ChainKey, ctx: ChainContext) -> Self {
        Self::starting_at(0, ck0, ctx)
    }

    /// A chain whose key `ck` opens message `counter` and everything after
    /// (a member who received the chain late cannot open earlier messages).
    pub fn starting_at(counter: u64, ck: ChainKey, ctx: ChainContext) -> Self {
        Self {
            key: ck,
            next: counter,
            skipped: BTreeMap::new(),
            ctx,
        }
    }

    /// What this chain's messages are bound to.
    pub fn context(&self) -> &ChainContext {
        &self.ctx
    }

    /// Message keys held for skipped messages not yet received (at most
    /// [`MAX_SKIP`]).
    pub fn skipped_keys(&self) -> usize {
        self.skipped.len()
    }

    /// Opens message `counter` and returns its plaintext (docs/e2ee.md §8.3):
    /// out of order within [`MAX_SKIP`], each counter once. Errors:
    /// [`ChainError::Replay`], [`ChainError::TooFarAhead`],
    /// [`ChainError::Decrypt`], [`ChainError::Exhausted`]. On any error the
    /// chain is unchanged, so a forged message burns no key.
    pub fn open(&mut self, counter: u64, ciphertext: &[u8]) -> Result<Vec<u8>, ChainError> {
        let ad = self.ctx.associated_data(counter);
        if counter < self.next {
            let mk = self
                .skipped
                .get(&counter)
                .ok_or(ChainError::Replay(counter))?;
            let plain = open(mk, &ad, ciphertext)?;
            self.skipped.remove(&counter);
            return Ok(plain);
        }
        if counter - self.next > MAX_SKIP {
            return Err(ChainError::TooFarAhead(counter));
        }
        // No sender seals the last counter (a peer's key message may start
        // a chain anywhere, so a forged one could reach it).
        let after_counter = counter.checked_add(1).ok_or(ChainError::Exhausted)?;
        // Walk a copy forward; commit only if the message authenticates.
        let mut key = self.key.clone();
        let mut new_skipped = Vec::new();
        for i in self.next..counter {
            let (mk, ck) = key.step();
            new_skipped.push((i, mk));
            key = ck;
        }
        let (mk, after) = key.step();
        let plain = open(&mk, &ad, ciphertext)?;
        self.skipped.extend(new_skipped);
        while self.skipped.len() as u64 > MAX_SKIP {
            // The oldest keys go first; their messages then count as replays.
            if let Some((_, mut old)) = self.skipped.pop_first() {
                old.zeroize();
            }
        }
        self.key = after;
        self.next = after_counter;
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn ctx() -> ChainContext {
        ChainContext {
            visit: "v-1".into(),
            epoch: 3,
            sender: "dr".into(),
            roster_hash: [7; 32],
        }
    }

    fn pair(seed: u8) -> (SendingChain, ReceivingChain) {
        let ck = ChainKey::from_bytes([seed; 32]);
        (
            SendingChain::new(ck.clone(), ctx()),
            ReceivingChain::new(ck, ctx()),
        )
    }

    #[test]
    fn in_order_round_trip_and_keys_differ_per_message() {
        let (mut s, mut r) = pair(1);
        let (c0, a) = s.seal(b"hello").unwrap();
        let (c1, b) = s.seal(b"hello").unwrap();
        assert_eq!((c0, c1), (0, 1));
        assert_ne!(a, b, "same text, different keys");
        assert_eq!(r.open(0, &a).unwrap(), b"hello");
        assert_eq!(r.open(1, &b).unwrap(), b"hello");
    }

    #[test]
    fn the_last_counter_is_refused_on_both_sides() {
        let ck = ChainKey::from_bytes([9; 32]);
        let mut s = SendingChain {
            key: ck.clone(),
            counter: u64::MAX,
            ctx: ctx(),
        };
        assert_eq!(s.seal(b"x"), Err(ChainError::Exhausted));
        // A peer's key message can start a chain anywhere: a chat forged
        // at the last counter is refused, not an overflow.
        let (mk, _) = ck.step();
        let forged = seal(&mk, &ctx().associated_data(u64::MAX), b"x").unwrap();
        let mut r = ReceivingChain::starting_at(u64::MAX, ck, ctx());
        assert_eq!(r.open(u64::MAX, &forged), Err(ChainError::Exhausted));
    }

    /// Property: any order of delivery within the window decrypts, each
    /// message once; replays fail; the state ends with no skipped keys.
    #[test]
    fn any_delivery_order_within_the_window_decrypts() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
        for round in 0..200 {
            let (mut s, mut r) = pair(round as u8);
            let n = rng.gen_range(1..60);
            let mut msgs: Vec<(u64, Vec<u8>, Vec<u8>)> = (0..n)
                .map(|i| {
                    let text = format!("message {i} of round {round}").into_bytes();
                    let (c, ct) = s.seal(&text).unwrap();
                    (c, ct, text)
                })
                .collect();
            msgs.shuffle(&mut rng);
            for (c, ct, text) in &msgs {
                assert_eq!(&r.open(*c, ct).unwrap(), text, "round {round}");
            }
            for (c, ct, _) in &msgs {
                assert_eq!(r.open(*c, ct), Err(ChainError::Replay(*c)));
            }
            assert_eq!(r.skipped_keys(), 0);
        }
    }

    /// Property: any single-bit change to ciphertext or context fails, and
    /// leaves the chain able to open the genuine message.
    #[test]
    fn tampering_fails_without_burning_keys() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let (mut s, mut r) = pair(9);
        let (c, ct) = s.seal(b"vitals are fine").unwrap();
        for _ in 0..100 {
            let mut bad = ct.clone();
            let i = rng.gen_range(0..bad.len());
            bad[i] ^= 1 << rng.gen_range(0..8);
            assert_eq!(r.open(c, &bad), Err(ChainError::Decrypt));
        }
        // Wrong context: another epoch, sender or roster.
        for other in [
            ChainContext { epoch: 4, ..ctx() },
            ChainContext {
                sender: "pt".into(),
                ..ctx()
            },
            ChainContext {
                roster_hash: [8; 32],
                ..ctx()
            },
        ] {
            let mut r2 = ReceivingChain::new(ChainKey::from_bytes([9; 32]), other);
            assert_eq!(r2.open(c, &ct), Err(ChainError::Decrypt));
        }
        // A forged message far ahead does not advance the chain either.
        assert_eq!(r.open(500, &ct), Err(ChainError::Decrypt));
        assert_eq!(r.skipped_keys(), 0);
        assert_eq!(r.open(c, &ct).unwrap(), b"vitals are fine");
    }

    #[test]
    fn the_skipped_window_is_bounded() {
        let (mut s, mut r) = pair(3);
        let all: Vec<(u64, Vec<u8>)> = (0..=MAX_SKIP + 1).map(|_| s.seal(b"x").unwrap()).collect();
        // Opening the last one first would skip 1001 keys: refused.
        assert_eq!(
            r.open(MAX_SKIP + 1, &all[(MAX_SKIP + 1) as usize].1),
            Err(ChainError::TooFarAhead(MAX_SKIP + 1))
        );
        // 1000 ahead is allowed and holds 1000 keys.
        assert!(r.open(MAX_SKIP, &all[MAX_SKIP as usize].1).is_ok());
        assert_eq!(r.skipped_keys() as u64, MAX_SKIP);
        assert!(r.open(0, &all[0].1).is_ok());
        assert_eq!(r.open(0, &all[0].1), Err(ChainError::Replay(0)));
    }

    #[test]
    fn associated_data_is_a_fixed_binary_layout() {
        let ad = ctx().associated_data(5);
        let mut expect = b"bedside-msg-v1".to_vec();
        expect.extend_from_slice(&[0, 3]);
        expect.extend_from_slice(b"v-1");
        expect.extend_from_slice(&3u64.to_be_bytes());
        expect.extend_from_slice(&[0, 2]);
        expect.extend_from_slice(b"dr");
        expect.extend_from_slice(&5u64.to_be_bytes());
        expect.extend_from_slice(&[7; 32]);
        assert_eq!(ad, expect);
        assert!(!format!("{:?}", ChainKey::from_bytes([1; 32])).contains('1'));
    }
}

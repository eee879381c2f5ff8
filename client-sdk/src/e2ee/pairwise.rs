//! Pairwise keys and the chain-key distribution message.
//!
//! Two members derive one pairwise key from one Hello of each, the same key
//! in both directions (docs/e2ee.md §6). A key message from A to B (e2e kind
//! `key`) carries A's chain key sealed under that key. It embeds A's signed
//! Hello, so it can be opened during catch-up long after A published a newer
//! bundle. Layout: docs/e2ee.md §7.1; why its nonce is random: §7.2.

use super::chain::ChainKey;
use super::hello::SignedHello;
use super::wire::{Reader, Writer, sha256};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use rand_core::CryptoRngCore;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

/// The first byte of a key message body (`e2e` kind `key`, docs/e2ee.md
/// §7.1).
pub const KEY_MESSAGE_VERSION: u8 = 0x02;

/// Why a key message could not be made or opened (docs/e2ee.md §12.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairError {
    /// The body is not a key message: a wrong version byte, a field cut
    /// short, an embedded Hello that does not parse or verify, or an opened
    /// plaintext that is not 40 bytes.
    #[error("malformed key message")]
    Malformed,
    /// The Diffie-Hellman result is all zeros (a low-order public key).
    #[error("non-contributory key exchange")]
    NonContributory,
    /// It does not authenticate under the pairwise key: sealed for another
    /// member or epoch, or tampered with.
    #[error("key message does not authenticate")]
    Decrypt,
}

/// An X25519 ephemeral secret for one epoch (docs/e2ee.md §4.3); zeroized
/// on drop, redacted in `Debug`.
pub struct EphemeralSecret(StaticSecret);

impl std::fmt::Debug for EphemeralSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EphemeralSecret(<redacted>)")
    }
}

impl EphemeralSecret {
    /// A fresh secret: 32 bytes from `rng` (clamped at use, RFC 7748).
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut b = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut b[..]);
        Self(StaticSecret::from(*b))
    }

    /// The secret with these 32 bytes (for test vectors; clamped at use).
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(StaticSecret::from(b))
    }

    /// The X25519 public key `E` (32 bytes) published in this epoch's Hello.
    pub fn public(&self) -> [u8; 32] {
        PublicKey::from(&self.0).to_bytes()
    }
}

/// Derives the pairwise key `K_AB` of two signed Hellos (docs/e2ee.md §6):
/// the same 32 bytes on both sides, for both directions. `mine` is this
/// member's Hello, `secret` the ephemeral behind it, `theirs` the peer's
/// Hello; the visit id is taken from `mine`. Error:
/// [`PairError::NonContributory`] when the X25519 output is all zero (a
/// low-order peer key). The key is zeroized when dropped.
pub fn pair_key(
    secret: &EphemeralSecret,
    mine: &SignedHello,
    theirs: &SignedHello,
) -> Result<Zeroizing<[u8; 32]>, PairError> {
    let shared = secret
        .0
        .diffie_hellman(&PublicKey::from(theirs.hello().ephemeral));
    if !shared.was_contributory() {
        return Err(PairError::NonContributory);
    }
    let (lo, hi) = if mine.hello().member <= theirs.hello().member {
        (mine, theirs)
    } else {
        (theirs, mine)
    };
    let mut salt = Writer::default();
    salt.var(mine.hello().visit.as_bytes())
        .u64(lo.hello().epoch)
        .u64(hi.hello().epoch);
    let (ik1, ik2) = {
        let a = mine.hello().identity.to_bytes();
        let b = theirs.hello().identity.to_bytes();
        if a <= b { (a, b) } else { (b, a) }
    };
    let mut info = Writer::with_label(b"bedside-pair-v1");
    info.bytes(&ik1)
        .bytes(&ik2)
        .bytes(&sha256(&[lo.bytes(), hi.bytes()]));
    let hk = Hkdf::<Sha256>::new(Some(&salt.finish()), shared.as_bytes());
    let mut key = Zeroizing::new([0u8; 32]);
    hk.expand(&info.finish(), &mut key[..])
        .map_err(|_| PairError::Decrypt)?;
    Ok(key)
}

fn key_ad(visit: &str, e_from: u64, e_to: u64, from: &str, to: &str) -> Vec<u8> {
    let mut w = Writer::with_label(b"bedside-key-v1");
    w.var(visit.as_bytes())
        .u64(e_from)
        .u64(e_to)
        .var(from.as_bytes())
        .var(to.as_bytes());
    w.finish()
}

/// A chain key on its way from one member to another: the plaintext of a
/// key message (docs/e2ee.md §7.1).
#[derive(Debug)]
pub struct ChainGrant {
    /// The counter of the first message `key` opens (the reference sender
    /// always grants from 0; a receiver honours any start).
    pub start: u64,
    /// The sender's chain key at `start`.
    pub key: ChainKey,
}

/// Seals `grant` as a key message body (docs/e2ee.md §7.1) from the member
/// whose Hello is `mine` (with `secret` its ephemeral) to the member whose
/// Hello is `theirs`, under their pairwise key ([`pair_key`]). The 12-byte
/// nonce is drawn from `rng`: it must be random (§7.2). Error:
/// [`PairError::NonContributory`], as for [`pair_key`].
pub fn seal_key_message(
    secret: &EphemeralSecret,
    mine: &SignedHello,
    theirs: &SignedHello,
    grant: &ChainGrant,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, PairError> {
    let k = pair_key(secret, mine, theirs)?;
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut nonce);
    let mut plain = Zeroizing::new(Vec::with_capacity(40));
    plain.extend_from_slice(&grant.start.to_be_bytes());
    plain.extend_from_slice(grant.key.expose());
    let (m, t) = (mine.hello(), theirs.hello());
    let ad = key_ad(&m.visit, m.epoch, t.epoch, &m.member, &t.member);
    let cipher = ChaCha20Poly1305::new_from_slice(&k[..]).map_err(|_| PairError::Decrypt)?;
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &plain,
                aad: &ad,
            },
        )
        .map_err(|_| PairError::Decrypt)?;
    let mut w = Writer::default();
    w.u8(KEY_MESSAGE_VERSION)
        .var(mine.bytes())
        .bytes(mine.signature())
        .u64(t.epoch)
        .bytes(&nonce)
        .bytes(&ct);
    Ok(w.finish())
}

/// A parsed key message whose ciphertext is not opened yet; it borrows the
/// body.
#[derive(Debug)]
pub struct KeyMessage<'a> {
    /// The sender's Hello, its signature verified against the identity key
    /// inside it (its context and pin not yet checked).
    pub sender: SignedHello,
    /// The epoch of the recipient Hello whose ephemeral the sender used
    /// (`e_B`): the recipient opens it with its own Hello of that epoch.
    pub recipient_epoch: u64,
    nonce: [u8; 12],
    ct: &'a [u8],
}

impl<'a> KeyMessage<'a> {
    /// Parses a body and verifies the embedded Hello's signature. The caller
    /// still has to check the Hello's context and that its identity is the
    /// one it trusts for the sender (docs/e2ee.md §12.3). Error:
    /// [`PairError::Malformed`].
    pub fn parse(body: &'a [u8]) -> Result<Self, PairError> {
        let m = |_| PairError::Malformed;
        let mut r = Reader::new(body);
        if r.u8().map_err(m)? != KEY_MESSAGE_VERSION {
            return Err(PairError::Malformed);
        }
        let hello = r.var().map_err(m)?;
        let sig: [u8; 64] = r.array().map_err(m)?;
        let sender = SignedHello::verify(hello, &sig).map_err(|_| PairError::Malformed)?;
        let recipient_epoch = r.u64().map_err(m)?;
        let nonce = r.array().map_err(m)?;
        Ok(Self {
            sender,
            recipient_epoch,
            nonce,
            ct: r.rest(),
        })
    }

    /// Opens the grant with the recipient's Hello `mine` (the one of epoch
    /// [`KeyMessage::recipient_epoch`]) and its ephemeral `secret`. Errors:
    /// [`PairError::Decrypt`] (another Hello or secret, or tampered),
    /// [`PairError::NonContributory`], [`PairError::Malformed`] (a plaintext
    /// that is not 40 bytes).
    pub fn open(
        &self,
        secret: &EphemeralSecret,
        mine: &SignedHello,
    ) -> Result<ChainGrant, PairError> {
        let k = pair_key(secret, mine, &self.sender)?;
        let (s, m) = (self.sender.hello(), mine.hello());
        let ad = key_ad(&s.visit, s.epoch, m.epoch, &s.member, &m.member);
        let cipher = ChaCha20Poly1305::new_from_slice(&k[..]).map_err(|_| PairError::Decrypt)?;
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    &Nonce::from(self.nonce),
                    Payload {
                        msg: self.ct,
                        aad: &ad,
                    },
                )
                .map_err(|_| PairError::Decrypt)?,
        );
        let mut r = Reader::new(&plain);
        let start = r.u64().map_err(|_| PairError::Malformed)?;
        let key: [u8; 32] = r.array().map_err(|_| PairError::Malformed)?;
        r.end().map_err(|_| PairError::Malformed)?;
        Ok(ChainGrant {
            start,
            key: ChainKey::from_bytes(key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::e2ee::hello::{Hello, roster_hash};
    use crate::e2ee::identity::Identity;
    use rand::SeedableRng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn member(name: &str, seed: u8, epoch: u64) -> (Identity, EphemeralSecret, SignedHello) {
        let id = Identity::from_secret_bytes(&[seed; 32]);
        let eph = EphemeralSecret::from_bytes([seed.wrapping_add(100); 32]);
        let hello = Hello {
            visit: "v-1".into(),
            epoch,
            member: name.into(),
            identity: id.public(),
            ephemeral: eph.public(),
            dtls_fingerprint: String::new(),
            roster_hash: roster_hash(["dr", "pt"]),
        };
        let signed = SignedHello::sign(&id, hello);
        (id, eph, signed)
    }

    #[test]
    fn both_sides_derive_the_same_key_and_others_do_not() {
        let (_, ea, ha) = member("dr", 1, 10);
        let (_, eb, hb) = member("pt", 2, 20);
        let (_, ec, hc) = member("gu", 3, 30);
        let ab = pair_key(&ea, &ha, &hb).unwrap();
        assert_eq!(ab, pair_key(&eb, &hb, &ha).unwrap());
        assert_ne!(ab, pair_key(&ec, &hc, &ha).unwrap());
    }

    #[test]
    fn key_message_round_trip_and_binding() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let (_, ea, ha) = member("dr", 1, 10);
        let (_, eb, hb) = member("pt", 2, 20);
        let (_, ec, hc) = member("gu", 3, 30);
        let grant = ChainGrant {
            start: 7,
            key: ChainKey::from_bytes([42; 32]),
        };
        let body = seal_key_message(&ea, &ha, &hb, &grant, &mut rng).unwrap();
        let msg = KeyMessage::parse(&body).unwrap();
        assert_eq!(msg.sender, ha);
        assert_eq!(msg.recipient_epoch, 20);
        let got = msg.open(&eb, &hb).unwrap();
        assert_eq!(got.start, 7);
        assert_eq!(got.key.expose(), &[42; 32]);
        // Another member cannot open it.
        assert_eq!(msg.open(&ec, &hc).unwrap_err(), PairError::Decrypt);
        // Any bit flipped in the ciphertext or header fails.
        for i in [body.len() - 1, body.len() - 20, 3, 40] {
            let mut bad = body.clone();
            bad[i] ^= 0x10;
            let ok = KeyMessage::parse(&bad).and_then(|m| m.open(&eb, &hb));
            assert!(ok.is_err(), "flip at {i}");
        }
    }
}

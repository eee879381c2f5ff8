//! Device identities: an Ed25519 identity key per device, its fingerprint
//! for display, and the 60-digit safety number two people compare out of
//! band. Fingerprint: docs/e2ee.md §2; safety number: docs/e2ee.md §13;
//! signature verification rules: docs/e2ee.md §1.3.

use super::wire::sha256;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha512};
use std::fmt;
use zeroize::Zeroizing;

/// A device's secret identity key: an Ed25519 signing key (the RFC 8032
/// 32-byte seed, docs/e2ee.md §2). Zeroized on drop; `Debug` prints only
/// the public fingerprint.
///
/// Apps persist it (see [`Identity::to_secret_bytes`]) so that a device keeps
/// its identity, and with it the trust its contacts placed in it: a device
/// that loses it appears to them as an identity change (docs/e2ee.md §14).
///
/// ```
/// use bedside_sdk::e2ee::{Identity, PublicIdentity};
/// use rand::SeedableRng;
/// use rand::rngs::StdRng;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // An app passes the OS generator (`rand_core::OsRng`); a seeded one here.
/// let identity = Identity::generate(&mut StdRng::seed_from_u64(1));
/// // The 32 secret bytes go to the platform keystore, and come back later.
/// let secret = identity.to_secret_bytes();
/// let restored = Identity::from_secret_bytes(&secret);
/// assert_eq!(restored.public(), identity.public());
///
/// // The public key travels as 32 bytes; its fingerprint is for display.
/// let public = PublicIdentity::from_bytes(&identity.public().to_bytes()).ok_or("not a key")?;
/// assert_eq!(public, identity.public());
/// assert_eq!(public.fingerprint_hex().len(), 64);
/// # Ok(()) }
/// ```
pub struct Identity {
    key: SigningKey,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.public().fingerprint_hex())
    }
}

impl Identity {
    /// A fresh random identity key drawn from `rng` (in an app, the OS
    /// generator). Persist it with [`Identity::to_secret_bytes`].
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Self {
            key: SigningKey::generate(rng),
        }
    }

    /// The identity whose 32 secret bytes (the RFC 8032 seed, as returned by
    /// [`Identity::to_secret_bytes`]) are `bytes`. Any 32 bytes are a valid
    /// seed, so this cannot fail.
    pub fn from_secret_bytes(bytes: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(bytes),
        }
    }

    /// The 32 secret bytes (the RFC 8032 seed), for the app's secure
    /// storage; the returned copy is zeroized when dropped.
    pub fn to_secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes())
    }

    /// The public half: the key peers pin and verify this device's
    /// signatures with.
    pub fn public(&self) -> PublicIdentity {
        PublicIdentity(self.key.verifying_key())
    }

    /// The deterministic RFC 8032 Ed25519 signature of `msg` (64 bytes,
    /// `R || S`).
    pub(crate) fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }
}

/// A device's public identity key: 32 bytes of Ed25519 public key
/// (docs/e2ee.md §2), always in canonical encoding. `Debug` prints the
/// fingerprint. Users compare [`SafetyNumber`]s, not these keys.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicIdentity(VerifyingKey);

impl fmt::Debug for PublicIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicIdentity({})", self.fingerprint_hex())
    }
}

impl PublicIdentity {
    /// Parses 32 bytes; `None` unless they are the canonical encoding of
    /// an Ed25519 point (docs/e2ee.md §1.3): a `y` of `p` or more, or a set
    /// sign bit on `x = 0`, would let one key have two byte forms, and the
    /// bytes are what everything hashes and compares.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        VerifyingKey::from_bytes(bytes)
            .ok()
            .filter(|k| k.to_edwards().compress().to_bytes() == *bytes)
            .map(Self)
    }

    /// The 32 public bytes (RFC 8032 encoding), as carried in Hellos,
    /// bundles (base64) and [`Pins`](crate::e2ee::Pins).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The fingerprint, `SHA-256("bedside-fp-v1" || key)`, for display and
    /// logs (docs/e2ee.md §2). No other derivation uses it.
    pub fn fingerprint(&self) -> [u8; 32] {
        sha256(&[b"bedside-fp-v1", self.0.as_bytes()])
    }

    /// The fingerprint as 64 lower-case hex characters.
    pub fn fingerprint_hex(&self) -> String {
        hex(&self.fingerprint())
    }

    /// Checks a signature made with [`Identity`] (strict: no malleable
    /// signatures, no weak keys).
    pub(crate) fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        self.0
            .verify_strict(msg, &Signature::from_bytes(sig))
            .is_ok()
    }
}

/// Lower-case hex, two digits per byte, no separators (docs/e2ee.md §1.4).
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Iterations of the safety-number hash (docs/e2ee.md §13; the same count
/// as Signal's numeric fingerprints, not the same algorithm).
const SAFETY_ITERATIONS: usize = 5200;

/// The 30 digits of one identity (docs/e2ee.md §13).
fn identity_digits(ik: &PublicIdentity) -> String {
    let ik = ik.to_bytes();
    let mut h: [u8; 64] = Sha512::new()
        .chain_update(b"bedside-sn-v1")
        .chain_update(ik)
        .finalize()
        .into();
    for _ in 1..SAFETY_ITERATIONS {
        h = Sha512::new()
            .chain_update(h)
            .chain_update(ik)
            .finalize()
            .into();
    }
    let mut out = String::with_capacity(30);
    for chunk in h[..30].chunks_exact(5) {
        let v = chunk.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        out.push_str(&format!("{:05}", v % 100_000));
    }
    out
}

/// The 60-digit safety number of two identities (docs/e2ee.md §13): it
/// depends only on the two identity keys (no participant or visit id), so
/// both people see the same number, in every visit. Two people compare it
/// out of band to verify each other; `Display` shows it as 12 groups of 5
/// digits separated by single spaces (71 characters).
///
/// ```
/// use bedside_sdk::e2ee::{Identity, SafetyNumber};
///
/// let alice = Identity::from_secret_bytes(&[1; 32]).public();
/// let bob = Identity::from_secret_bytes(&[2; 32]).public();
/// let number = SafetyNumber::of(&alice, &bob);
/// assert_eq!(number, SafetyNumber::of(&bob, &alice));
/// assert_eq!(number.digits().len(), 60);
/// assert_eq!(number.to_string().split(' ').count(), 12);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SafetyNumber(String);

impl SafetyNumber {
    /// The safety number of `a` and `b` (order does not matter: the key
    /// with the smaller bytes gives the first 30 digits).
    pub fn of(a: &PublicIdentity, b: &PublicIdentity) -> Self {
        let (lo, hi) = if a.to_bytes() <= b.to_bytes() {
            (a, b)
        } else {
            (b, a)
        };
        Self(identity_digits(lo) + &identity_digits(hi))
    }

    /// The 60 ASCII digits without spaces.
    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SafetyNumber {
    /// 12 groups of 5 digits, separated by spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, group) in self.0.as_bytes().chunks(5).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(std::str::from_utf8(group).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

impl fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SafetyNumber({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn only_the_canonical_encoding_of_a_key_is_a_key() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(PublicIdentity::from_bytes(&identity).is_some());
        // y = p + 1 reduces to the same point (y = 1).
        let mut y_over_p = [0xffu8; 32];
        y_over_p[0] = 0xee;
        y_over_p[31] = 0x7f;
        assert!(PublicIdentity::from_bytes(&y_over_p).is_none());
        // x = 0 with its sign bit set.
        let mut negative_zero = identity;
        negative_zero[31] = 0x80;
        assert!(PublicIdentity::from_bytes(&negative_zero).is_none());
        let honest = Identity::from_secret_bytes(&[7; 32]).public();
        assert_eq!(PublicIdentity::from_bytes(&honest.to_bytes()), Some(honest));
    }

    #[test]
    fn safety_number_is_symmetric_60_digits_and_key_dependent() {
        let a = Identity::from_secret_bytes(&[1; 32]).public();
        let b = Identity::from_secret_bytes(&[2; 32]).public();
        let c = Identity::from_secret_bytes(&[3; 32]).public();
        let ab = SafetyNumber::of(&a, &b);
        assert_eq!(ab, SafetyNumber::of(&b, &a));
        assert_eq!(ab.digits().len(), 60);
        assert!(ab.digits().bytes().all(|d| d.is_ascii_digit()));
        assert_eq!(ab.to_string().split(' ').count(), 12);
        assert_ne!(ab, SafetyNumber::of(&a, &c));
    }

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        let id = Identity::from_secret_bytes(&[7; 32]);
        let sig = id.sign(b"hello");
        assert!(id.public().verify(b"hello", &sig));
        assert!(!id.public().verify(b"hellO", &sig));
        let other = Identity::from_secret_bytes(&[8; 32]).public();
        assert!(!other.verify(b"hello", &sig));
        assert!(!format!("{id:?}").contains("[7"));
    }
}

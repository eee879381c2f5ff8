//! Signed per-epoch Hellos, the `keys` bundle that carries them, and the
//! roster hash inside them.
//!
//! A Hello binds, under the member's identity key, the visit, the member, its
//! epoch, its X25519 ephemeral, its DTLS fingerprint and its view of the
//! roster. Layout: docs/e2ee.md §5.1; signing and checks: §5.3; the bundle
//! (JSON, whose shape the hub also checks): §5.4; roster hash: §3.

use super::identity::{Identity, PublicIdentity};
use super::wire::{Reader, Writer, sha256};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

const HELLO_LABEL: &[u8] = b"bedside-hello-v1";

/// Why a bundle or Hello was refused (docs/e2ee.md §5.3, §5.4, §12.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// The bundle is not the JSON shape (`v` not `1`, a member missing or
    /// repeated), a field is not canonical base64, the signature is not 64
    /// bytes, the bundle's `ik` is not the Hello's identity key, or the
    /// Hello does not parse (docs/e2ee.md §5.1, including a non-canonical
    /// identity key).
    #[error("malformed key bundle")]
    Malformed,
    /// The signature does not verify, strictly, under the identity key
    /// inside the Hello (docs/e2ee.md §1.3).
    #[error("key bundle signature does not verify")]
    BadSignature,
    /// The Hello names another visit or participant than the one it came
    /// from (see [`SignedHello::check_context`]).
    #[error("key bundle was made for another visit or participant")]
    WrongContext,
}

/// The content of a Hello (docs/e2ee.md §5.1): what a member signs once per
/// epoch with its identity key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Visit id `V`, as in `welcome.visit`.
    pub visit: String,
    /// The member's own epoch number (numbered by its clock, strictly rising
    /// within one `Group`: docs/e2ee.md §4.1).
    pub epoch: u64,
    /// The member's participant id `M` (the hub's `from` on its messages).
    pub member: String,
    /// The member's identity key.
    pub identity: PublicIdentity,
    /// The member's X25519 ephemeral public key for this epoch.
    pub ephemeral: [u8; 32],
    /// The member's DTLS certificate fingerprint as in SDP
    /// (`sha-256 AB:CD:…`), signed as given; empty when the member sends no
    /// media (docs/e2ee.md §5.2).
    pub dtls_fingerprint: String,
    /// [`roster_hash`] of the roster the member saw when the epoch began
    /// (its own id alone before admission: docs/e2ee.md §3).
    pub roster_hash: [u8; 32],
}

impl Hello {
    /// The signed bytes `Hello_bytes` (layout: docs/e2ee.md §5.1). A string
    /// field longer than 65535 bytes is cut at 65535 (hub identifiers are at
    /// most 128 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_label(HELLO_LABEL);
        w.var(self.visit.as_bytes())
            .u64(self.epoch)
            .var(self.member.as_bytes())
            .bytes(&self.identity.to_bytes())
            .bytes(&self.ephemeral)
            .var(self.dtls_fingerprint.as_bytes())
            .bytes(&self.roster_hash);
        w.finish()
    }

    fn decode(b: &[u8]) -> Result<Self, HelloError> {
        let m = |_| HelloError::Malformed;
        let mut r = Reader::new(b);
        r.label(HELLO_LABEL).map_err(m)?;
        let visit = utf8(r.var().map_err(m)?)?;
        let epoch = r.u64().map_err(m)?;
        let member = utf8(r.var().map_err(m)?)?;
        let identity =
            PublicIdentity::from_bytes(&r.array().map_err(m)?).ok_or(HelloError::Malformed)?;
        let ephemeral = r.array().map_err(m)?;
        let dtls_fingerprint = utf8(r.var().map_err(m)?)?;
        let roster_hash = r.array().map_err(m)?;
        r.end().map_err(m)?;
        Ok(Self {
            visit,
            epoch,
            member,
            identity,
            ephemeral,
            dtls_fingerprint,
            roster_hash,
        })
    }
}

fn utf8(b: &[u8]) -> Result<String, HelloError> {
    String::from_utf8(b.to_vec()).map_err(|_| HelloError::Malformed)
}

/// A Hello with its signature, as published in `keys` bundles and as
/// embedded in key messages. One from [`SignedHello::verify`] or
/// [`SignedHello::from_bundle_json`] has a verified signature (its context
/// is checked separately, with [`SignedHello::check_context`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHello {
    hello: Hello,
    bytes: Vec<u8>,
    sig: [u8; 64],
}

impl SignedHello {
    /// Signs the encoding of `hello` with `id` (docs/e2ee.md §5.3).
    /// `hello.identity` must be `id`'s public key; this is not checked, and
    /// a Hello naming another key gives a bundle every receiver refuses
    /// ([`HelloError::BadSignature`]).
    pub fn sign(id: &Identity, hello: Hello) -> Self {
        let bytes = hello.encode();
        let sig = id.sign(&bytes);
        Self { hello, bytes, sig }
    }

    /// Parses `bytes` as a Hello and verifies `sig` over them, strictly,
    /// with the identity key inside them (docs/e2ee.md §5.3). Errors:
    /// [`HelloError::Malformed`] if the bytes do not parse (§5.1),
    /// [`HelloError::BadSignature`] if the signature does not verify. The
    /// context is not checked.
    pub fn verify(bytes: &[u8], sig: &[u8; 64]) -> Result<Self, HelloError> {
        let hello = Hello::decode(bytes)?;
        if !hello.identity.verify(bytes, sig) {
            return Err(HelloError::BadSignature);
        }
        Ok(Self {
            hello,
            bytes: bytes.to_vec(),
            sig: *sig,
        })
    }

    /// The verified content.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The signed bytes (`Hello_bytes`, docs/e2ee.md §5.1).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The 64-byte Ed25519 signature over [`SignedHello::bytes`].
    pub fn signature(&self) -> &[u8; 64] {
        &self.sig
    }

    /// Checks that the Hello names `visit` (this device's visit) and
    /// `member` (the hub's `from` on the message that carried it):
    /// [`HelloError::WrongContext`] otherwise (docs/e2ee.md §5.3).
    pub fn check_context(&self, visit: &str, member: &str) -> Result<(), HelloError> {
        if self.hello.visit == visit && self.hello.member == member {
            Ok(())
        } else {
            Err(HelloError::WrongContext)
        }
    }

    /// `SHA-256` of the signed bytes, signature not included (the Hello
    /// digest of docs/e2ee.md §5.3).
    pub fn digest(&self) -> [u8; 32] {
        sha256(&[&self.bytes])
    }

    /// The `keys` bundle that publishes this Hello: compact JSON text
    /// `{"v":1,"ik":…,"hello":…,"sig":…}`, members in this order, standard
    /// padded base64 (docs/e2ee.md §5.4). It is sent as the `bundle` object
    /// (not a string) of `{"type":"keys","bundle":…}` (PROTOCOL.md §7).
    pub fn to_bundle_json(&self) -> String {
        let b = BundleWire {
            v: 1,
            ik: B64.encode(self.hello.identity.to_bytes()),
            hello: B64.encode(&self.bytes),
            sig: B64.encode(self.sig),
        };
        // A struct of strings and an integer always serializes.
        serde_json::to_string(&b).unwrap_or_default()
    }

    /// Parses and verifies a `keys` bundle (JSON text), with the checks and
    /// in the order of docs/e2ee.md §5.4; unknown members are ignored. The
    /// identity key named in the bundle must be the one inside the signed
    /// Hello. Errors: [`HelloError::Malformed`] or
    /// [`HelloError::BadSignature`]. The context is not checked (see
    /// [`SignedHello::check_context`]).
    pub fn from_bundle_json(json: &str) -> Result<Self, HelloError> {
        let b: BundleWire = serde_json::from_str(json).map_err(|_| HelloError::Malformed)?;
        if b.v != 1 {
            return Err(HelloError::Malformed);
        }
        let ik = B64.decode(&b.ik).map_err(|_| HelloError::Malformed)?;
        let bytes = B64.decode(&b.hello).map_err(|_| HelloError::Malformed)?;
        let sig: [u8; 64] = B64
            .decode(&b.sig)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or(HelloError::Malformed)?;
        let signed = Self::verify(&bytes, &sig)?;
        if signed.hello.identity.to_bytes()[..] != ik[..] {
            return Err(HelloError::Malformed);
        }
        Ok(signed)
    }
}

#[derive(Serialize, Deserialize)]
struct BundleWire {
    v: u32,
    ik: String,
    hello: String,
    sig: String,
}

/// The roster hash of a set of participant ids (docs/e2ee.md §3): SHA-256
/// over the label and each id, sorted by bytes and length-prefixed. Order
/// and duplicates in `members` do not matter. A member's roster includes
/// its own id.
///
/// ```
/// use bedside_sdk::e2ee::roster_hash;
///
/// assert_eq!(roster_hash(["dr-ada", "pt-1"]), roster_hash(["pt-1", "dr-ada", "pt-1"]));
/// assert_ne!(roster_hash(["ab"]), roster_hash(["a", "b"]));
/// ```
pub fn roster_hash<'a>(members: impl IntoIterator<Item = &'a str>) -> [u8; 32] {
    let mut ids: Vec<&str> = members.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut w = Writer::with_label(b"bedside-roster-v1");
    for id in ids {
        w.var(id.as_bytes());
    }
    sha256(&[&w.finish()])
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn hello(id: &Identity) -> Hello {
        Hello {
            visit: "v-1".into(),
            epoch: 4,
            member: "dr".into(),
            identity: id.public(),
            ephemeral: [5; 32],
            dtls_fingerprint: "sha-256 AB:CD".into(),
            roster_hash: roster_hash(["dr", "pt"]),
        }
    }

    #[test]
    fn bundle_round_trip_and_forgeries() {
        let id = Identity::from_secret_bytes(&[1; 32]);
        let signed = SignedHello::sign(&id, hello(&id));
        let json = signed.to_bundle_json();
        let back = SignedHello::from_bundle_json(&json).unwrap();
        assert_eq!(back, signed);
        back.check_context("v-1", "dr").unwrap();
        assert_eq!(
            back.check_context("v-2", "dr"),
            Err(HelloError::WrongContext)
        );

        // Another key signing the same Hello content (the hub swapping the
        // identity) does not verify: the Hello names the original key.
        let mallory = Identity::from_secret_bytes(&[9; 32]);
        let forged = SignedHello {
            sig: mallory.sign(signed.bytes()),
            ..signed.clone()
        };
        assert_eq!(
            SignedHello::from_bundle_json(&forged.to_bundle_json()),
            Err(HelloError::BadSignature)
        );
        // A changed fingerprint breaks the signature.
        let mut bytes = signed.bytes().to_vec();
        let n = bytes.len();
        bytes[n - 40] ^= 1;
        assert!(SignedHello::verify(&bytes, signed.signature()).is_err());
        assert_eq!(
            SignedHello::from_bundle_json("{\"v\":1}"),
            Err(HelloError::Malformed)
        );
    }

    #[test]
    fn roster_hash_ignores_order_and_duplicates() {
        assert_eq!(roster_hash(["a", "b"]), roster_hash(["b", "a", "a"]));
        assert_ne!(roster_hash(["a", "b"]), roster_hash(["a"]));
        // Length prefixes: ["ab"] differs from ["a","b"].
        assert_ne!(roster_hash(["ab"]), roster_hash(["a", "b"]));
    }
}

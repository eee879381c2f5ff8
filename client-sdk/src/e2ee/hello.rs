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

/// Why a bundle or Hello was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// Not the JSON shape, bad base64, or a malformed Hello.
    #[error("malformed key bundle")]
    Malformed,
    /// The signature does not verify under the bundle's identity key.
    #[error("key bundle signature does not verify")]
    BadSignature,
    /// The Hello names another visit or participant than the one it came from.
    #[error("key bundle was made for another visit or participant")]
    WrongContext,
}

/// The content of a Hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Visit id.
    pub visit: String,
    /// The member's epoch.
    pub epoch: u64,
    /// The member's participant id.
    pub member: String,
    /// The member's identity key.
    pub identity: PublicIdentity,
    /// The member's X25519 ephemeral public key for this epoch.
    pub ephemeral: [u8; 32],
    /// The member's DTLS certificate fingerprint as in SDP
    /// (`sha-256 AB:CD:…`), empty when the member sends no media.
    pub dtls_fingerprint: String,
    /// Hash of the roster the member saw when the epoch began.
    pub roster_hash: [u8; 32],
}

impl Hello {
    /// The signed bytes (layout: docs/e2ee.md §5.1).
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

/// A Hello with its signature, as published and as embedded in key messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHello {
    hello: Hello,
    bytes: Vec<u8>,
    sig: [u8; 64],
}

impl SignedHello {
    /// Signs `hello` (whose `identity` must be `id`'s public key).
    pub fn sign(id: &Identity, hello: Hello) -> Self {
        let bytes = hello.encode();
        let sig = id.sign(&bytes);
        Self { hello, bytes, sig }
    }

    /// Parses and verifies signed bytes against the identity key inside them.
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

    /// The signed bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The signature.
    pub fn signature(&self) -> &[u8; 64] {
        &self.sig
    }

    /// Checks that the Hello belongs to `visit` and `member`.
    pub fn check_context(&self, visit: &str, member: &str) -> Result<(), HelloError> {
        if self.hello.visit == visit && self.hello.member == member {
            Ok(())
        } else {
            Err(HelloError::WrongContext)
        }
    }

    /// `SHA-256` of the signed bytes.
    pub fn digest(&self) -> [u8; 32] {
        sha256(&[&self.bytes])
    }

    /// The `keys` bundle (JSON text) that publishes this Hello.
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

    /// Parses and verifies a `keys` bundle. The identity key named in the
    /// bundle must be the one inside the signed Hello.
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

/// The roster hash of a set of participant ids (docs/e2ee.md §3). Order and
/// duplicates in `members` do not matter.
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

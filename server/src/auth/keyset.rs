//! The issuer key set: a JWK set (RFC 7517) where every key is pinned to one
//! algorithm, chosen from the key itself. A token's `alg` must equal its key's
//! algorithm, which is what defeats algorithm confusion (an HS256 token
//! "signed" with an Ed25519 public key).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// A problem with the key set file.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a JWK set.
    #[error("not a JWK set: {0}")]
    Format(String),
    /// A key is unusable.
    #[error("key {kid:?}: {problem}")]
    Key {
        /// The key's id.
        kid: String,
        /// What is wrong.
        problem: String,
    },
}

/// One verification key and the only algorithm it verifies.
#[derive(Clone)]
pub struct VerifyKey {
    /// The algorithm this key is for.
    pub alg: Algorithm,
    /// The key material.
    pub key: DecodingKey,
    /// For EdDSA: the public point, decompressed once here. jsonwebtoken
    /// decompresses it again for every token (a square root in the field,
    /// a fifth of a verification), so EdDSA tokens are verified with this.
    pub ed25519: Option<ed25519_dalek::VerifyingKey>,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifyKey({:?})", self.alg)
    }
}

/// Keys by `kid`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, VerifyKey>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    k: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// How a key of a set that is not used came to be left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its `kid` (empty if it has none).
    pub kid: String,
    /// Why.
    pub why: String,
}

/// What a key of a set is to the hub.
enum Verdict {
    Use(Box<VerifyKey>),
    /// Valid, but not a signature key of a kind the hub verifies (an
    /// encryption key, RS384, …): left out, never an error.
    NotForUs(String),
}

impl KeySet {
    /// Reads a JWK set file ([`KeySet::from_json`]).
    pub fn load(path: &Path) -> Result<(Self, Vec<Skipped>), KeySetError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeySetError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Parses a JWK set (a file the operator keeps): a malformed key is an
    /// error naming it; keys that are valid but not signature keys the hub
    /// verifies (`"use": "enc"`, RS384, …) are left out and listed.
    pub fn from_json(text: &str) -> Result<(Self, Vec<Skipped>), KeySetError> {
        Self::parse(text, true)
    }

    /// Parses a JWK set an identity provider serves: as [`KeySet::from_json`],
    /// but a malformed key is left out too (the provider's other keys still
    /// verify); an error only when no usable key is left.
    pub fn from_json_lenient(text: &str) -> Result<(Self, Vec<Skipped>), KeySetError> {
        Self::parse(text, false)
    }

    fn parse(text: &str, strict: bool) -> Result<(Self, Vec<Skipped>), KeySetError> {
        // A published set is public: a symmetric key in it would let anyone
        // sign tokens. Only a file the operator keeps may hold one.
        let symmetric_ok = strict;
        let raw: RawSet =
            serde_json::from_str(text).map_err(|e| KeySetError::Format(e.to_string()))?;
        let mut set = KeySet::default();
        let mut skipped = Vec::new();
        for k in raw.keys {
            let kid = k.kid.clone().unwrap_or_default();
            let verdict = if kid.is_empty() {
                Err("has no kid (tokens name their key by kid)".to_owned())
            } else if k.kty == "oct" && !symmetric_ok {
                Ok(Verdict::NotForUs(
                    "a symmetric (oct) key in a published set: anyone could sign with it".into(),
                ))
            } else {
                parse_key(&k)
            };
            match verdict {
                Ok(Verdict::Use(key)) => {
                    if set.keys.insert(kid.clone(), *key).is_some() {
                        return Err(KeySetError::Key {
                            kid,
                            problem: "appears twice".into(),
                        });
                    }
                }
                Ok(Verdict::NotForUs(why)) => skipped.push(Skipped { kid, why }),
                Err(problem) if strict => return Err(KeySetError::Key { kid, problem }),
                Err(why) => skipped.push(Skipped { kid, why }),
            }
        }
        if set.keys.is_empty() {
            let why: Vec<String> = skipped
                .iter()
                .map(|s| format!("{:?}: {}", s.kid, s.why))
                .collect();
            return Err(KeySetError::Format(if why.is_empty() {
                "the set has no keys".into()
            } else {
                format!("no key the hub can verify with ({})", why.join("; "))
            }));
        }
        Ok((set, skipped))
    }

    /// The kids of the set.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Adds every key of `other` (dev mode adds its own key to a configured set).
    pub fn merge(&mut self, other: KeySet) {
        self.keys.extend(other.keys);
    }

    /// The key for `kid`.
    pub fn get(&self, kid: &str) -> Option<&VerifyKey> {
        self.keys.get(kid)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn decoded_len(field: &Option<String>, name: &str) -> Result<usize, String> {
    let v = field
        .as_deref()
        .ok_or_else(|| format!("missing \"{name}\""))?;
    URL_SAFE_NO_PAD
        .decode(v)
        .map(|b| b.len())
        .map_err(|_| format!("\"{name}\" is not base64url"))
}

fn parse_key(k: &RawKey) -> Result<Verdict, String> {
    let not_for_us = |why: String| Ok(Verdict::NotForUs(why));
    if let Some(u) = k.use_.as_deref().filter(|u| *u != "sig") {
        return not_for_us(format!("\"use\" is {u:?}, not \"sig\""));
    }
    if let Some(ops) = &k.key_ops
        && !ops.iter().any(|o| o == "verify")
    {
        return not_for_us("\"key_ops\" does not allow \"verify\"".into());
    }
    let inferred = match (k.kty.as_str(), k.crv.as_deref()) {
        ("OKP", Some("Ed25519")) => Algorithm::EdDSA,
        ("EC", Some("P-256")) => Algorithm::ES256,
        ("RSA", _) => Algorithm::RS256,
        ("oct", _) => Algorithm::HS256,
        (kty, crv) => return not_for_us(format!("key type {kty} {crv:?} is not supported")),
    };
    if let Some(alg) = &k.alg {
        let named = match alg.as_str() {
            "EdDSA" => Algorithm::EdDSA,
            "ES256" => Algorithm::ES256,
            "RS256" => Algorithm::RS256,
            "HS256" => Algorithm::HS256,
            other => return not_for_us(format!("alg {other} is not supported")),
        };
        if named != inferred {
            return Err(format!("alg {alg} does not match key type {}", k.kty));
        }
    }
    let mut ed25519 = None;
    let key = match inferred {
        Algorithm::EdDSA => {
            let x = URL_SAFE_NO_PAD
                .decode(k.x.as_deref().ok_or("missing \"x\"")?)
                .map_err(|_| "\"x\" is not base64url")?;
            let x: [u8; 32] = x.try_into().map_err(|_| "Ed25519 \"x\" must be 32 bytes")?;
            let point = ed25519_dalek::VerifyingKey::from_bytes(&x)
                .map_err(|_| "Ed25519 \"x\" is not a point on the curve")?;
            ed25519 = Some(point);
            DecodingKey::from_ed_components(k.x.as_deref().unwrap_or_default())
        }
        Algorithm::RS256 => {
            if decoded_len(&k.n, "n")? < 256 {
                return Err("RSA modulus \"n\" must be at least 2048 bits".into());
            }
            decoded_len(&k.e, "e")?;
            DecodingKey::from_rsa_components(
                k.n.as_deref().unwrap_or_default(),
                k.e.as_deref().unwrap_or_default(),
            )
        }
        Algorithm::ES256 => {
            if decoded_len(&k.x, "x")? != 32 || decoded_len(&k.y, "y")? != 32 {
                return Err("P-256 \"x\" and \"y\" must be 32 bytes".into());
            }
            DecodingKey::from_ec_components(
                k.x.as_deref().unwrap_or_default(),
                k.y.as_deref().unwrap_or_default(),
            )
        }
        _ => {
            if decoded_len(&k.k, "k")? < 32 {
                return Err("HS256 secret \"k\" must be at least 32 bytes".into());
            }
            DecodingKey::from_base64_secret(&base64_std(k.k.as_deref().unwrap_or_default()))
        }
    }
    .map_err(|e| e.to_string())?;
    Ok(Verdict::Use(Box::new(VerifyKey {
        alg: inferred,
        key,
        ed25519,
    })))
}

/// jsonwebtoken wants standard base64 for secrets; JWK uses base64url.
fn base64_std(url: &str) -> String {
    use base64::engine::general_purpose::STANDARD;
    URL_SAFE_NO_PAD
        .decode(url)
        .map(|b| STANDARD.encode(b))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_sets() {
        assert!(KeySet::from_json("{}").is_err());
        assert!(KeySet::from_json(r#"{"keys":[]}"#).is_err());
        let short = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AAAA"}]}"#;
        assert!(matches!(
            KeySet::from_json(short),
            Err(KeySetError::Key { .. })
        ));
        let rsa = r#"{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}"#;
        assert!(
            matches!(KeySet::from_json(rsa), Err(KeySetError::Key { problem, .. }) if problem.contains("2048"))
        );
        let mismatch = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","alg":"HS256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        assert!(KeySet::from_json(mismatch).is_err());
        // A symmetric key: fine in the operator's file, never from a URL.
        let oct = r#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"},{"kty":"OKP","crv":"Ed25519","kid":"e","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        assert_eq!(KeySet::from_json(oct).map(|(s, _)| s.len()).ok(), Some(2));
        let (published, skipped) = KeySet::from_json_lenient(oct).expect("the Ed25519 key");
        assert_eq!(published.kids().collect::<Vec<_>>(), ["e"]);
        assert!(skipped[0].why.contains("symmetric"), "{skipped:?}");
    }
}

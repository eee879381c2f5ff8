//! Ed25519 keys as JWK sets (RFC 7517, RFC 8037) and join-token signing:
//! `bedside keygen`, `bedside token`, dev mode's `POST /dev/token`, the load
//! tester and tests. Production join tokens come from the clinic's backend;
//! the hub mints them only in dev mode. The claims themselves are
//! [`bedside_protocol::JoinClaims`]; this crate only signs them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Serialize};
use std::path::Path;
use zeroize::Zeroizing;

/// A problem with a private key file or with signing.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// File IO.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a private Ed25519 JWK set.
    #[error("{0}")]
    Format(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// An Ed25519 private key with its `kid`. The secret is zeroized on drop.
pub struct PrivateKey {
    /// Key id.
    pub kid: String,
    signing: SigningKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({:?}, <redacted>)", self.kid)
    }
}

#[derive(Serialize)]
struct Jwk {
    kty: String,
    crv: String,
    kid: String,
    alg: String,
    #[serde(rename = "use")]
    use_: String,
    x: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    d: Option<String>,
}

#[derive(Serialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

/// A JWK as read: only `kty` and the key material are required.
#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    crv: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    x: Option<String>,
    d: Option<String>,
}

impl Drop for RawJwk {
    fn drop(&mut self) {
        if let Some(d) = self.d.as_mut() {
            zeroize::Zeroize::zeroize(d);
        }
    }
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<RawJwk>,
}

/// The RFC 7638 thumbprint of an Ed25519 public key: base64url SHA-256 of
/// `{"crv":"Ed25519","kty":"OKP","x":…}` (members in that order, no spaces).
pub fn thumbprint(x: &str) -> String {
    use sha2::Digest as _;
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes()))
}

impl PrivateKey {
    /// A fresh random key.
    pub fn generate(kid: &str) -> Self {
        let signing = SigningKey::generate(&mut rand::rngs::OsRng);
        Self {
            kid: kid.to_owned(),
            signing,
        }
    }

    /// The Ed25519 signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    fn jwk(&self, private: bool) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            kid: self.kid.clone(),
            alg: "EdDSA".into(),
            use_: "sig".into(),
            x: URL_SAFE_NO_PAD.encode(self.signing.verifying_key().as_bytes()),
            d: private.then(|| URL_SAFE_NO_PAD.encode(self.signing.to_bytes())),
        }
    }

    /// The private JWK set (RFC 8037) as pretty JSON.
    pub fn private_jwks(&self) -> Zeroizing<String> {
        Zeroizing::new(
            serde_json::to_string_pretty(&JwkSet {
                keys: vec![self.jwk(true)],
            })
            .unwrap_or_default(),
        )
    }

    /// The public JWK set as pretty JSON.
    pub fn public_jwks(&self) -> String {
        serde_json::to_string_pretty(&JwkSet {
            keys: vec![self.jwk(false)],
        })
        .unwrap_or_default()
    }

    /// Parses a private JWK set and takes its first usable Ed25519 key.
    ///
    /// Any valid Ed25519 private JWK is usable (RFC 7517, RFC 8037): `kid`,
    /// `alg`, `use` and `key_ops` are optional, and when present must allow
    /// signing (`use` "sig", `alg` "EdDSA" or "Ed25519", `key_ops` with
    /// "sign"). A key without `kid` gets its RFC 7638 thumbprint. When no key
    /// is usable, the error says why for each one.
    pub fn from_jwks(text: &str) -> Result<Self, MintError> {
        let set: RawSet = serde_json::from_str(text)
            .map_err(|e| MintError::Format(format!("not a JWK set: {e}")))?;
        let mut why = Vec::new();
        for (i, jwk) in set.keys.into_iter().enumerate() {
            match Self::from_jwk(jwk) {
                Ok(key) => return Ok(key),
                Err(problem) => why.push(format!("key {i}: {problem}")),
            }
        }
        if why.is_empty() {
            why.push("the set has no keys".into());
        }
        Err(MintError::Format(format!(
            "no usable private Ed25519 key ({})",
            why.join("; ")
        )))
    }

    fn from_jwk(mut jwk: RawJwk) -> Result<Self, String> {
        if jwk.kty.as_deref() != Some("OKP") || jwk.crv.as_deref() != Some("Ed25519") {
            return Err(format!(
                "kty {:?} crv {:?} is not an Ed25519 key (OKP, Ed25519)",
                jwk.kty.take().unwrap_or_default(),
                jwk.crv.take().unwrap_or_default()
            ));
        }
        if let Some(u) = jwk.use_.as_deref().filter(|u| *u != "sig") {
            return Err(format!("\"use\" is {u:?}, not \"sig\""));
        }
        if let Some(a) = jwk
            .alg
            .as_deref()
            .filter(|a| !matches!(*a, "EdDSA" | "Ed25519"))
        {
            return Err(format!("\"alg\" is {a:?}, not \"EdDSA\""));
        }
        if jwk
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|o| o == "sign"))
        {
            return Err("\"key_ops\" does not allow \"sign\"".into());
        }
        let d = jwk
            .d
            .as_deref()
            .ok_or("no \"d\": a public key, not a private one")?;
        let d = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(d.as_bytes())
                .map_err(|_| "\"d\" is not base64url")?,
        );
        let seed: [u8; 32] = d
            .as_slice()
            .try_into()
            .map_err(|_| "\"d\" must be 32 bytes")?;
        let signing = SigningKey::from_bytes(&seed);
        let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
        if jwk.x.as_deref() != Some(x.as_str()) {
            return Err("\"x\" is missing or does not match \"d\"".into());
        }
        let kid = match jwk.kid.take() {
            Some(kid) if !kid.is_empty() => kid,
            _ => thumbprint(&x),
        };
        Ok(Self { kid, signing })
    }

    /// Reads a private JWK set file.
    pub fn load(path: &Path) -> Result<Self, MintError> {
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| MintError::Io {
                    path: path.display().to_string(),
                    source,
                })?,
            );
        Self::from_jwks(&text)
    }

    /// Writes the private set (mode 0600) and the public set.
    pub fn save(&self, private: &Path, public: &Path) -> Result<(), MintError> {
        write_private(private, self.private_jwks().as_bytes())?;
        std::fs::write(public, self.public_jwks()).map_err(|source| MintError::Io {
            path: public.display().to_string(),
            source,
        })
    }

    /// Signs `claims` as a compact JWS (RFC 7515) with EdDSA and this key's
    /// `kid`: `{"alg":"EdDSA","typ":"JWT","kid":…}`, the claims as JSON, and
    /// the Ed25519 signature over the first two parts.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, MintError> {
        #[derive(Serialize)]
        struct Header<'a> {
            alg: &'static str,
            typ: &'static str,
            kid: &'a str,
        }
        let header = to_json(&Header {
            alg: "EdDSA",
            typ: "JWT",
            kid: &self.kid,
        })?;
        let payload = to_json(claims)?;
        let mut token = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 90);
        URL_SAFE_NO_PAD.encode_string(header, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = self.signing.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
        Ok(token)
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, MintError> {
    serde_json::to_vec(value).map_err(|e| MintError::Sign(e.to_string()))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), MintError> {
    use std::io::Write;
    let io = |source| MintError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// A random token id (128 bits, base64url).
pub fn random_jti() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod jwk_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_signed_token_is_a_compact_jws_over_the_claims() {
        let key = PrivateKey::generate("k-1");
        let token = key.sign(&serde_json::json!({"sub": "pt-1"})).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let json = |p: &str| -> serde_json::Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
        };
        assert_eq!(
            json(parts[0]),
            serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": "k-1"})
        );
        assert_eq!(json(parts[1]), serde_json::json!({"sub": "pt-1"}));
        let sig: [u8; 64] = URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap()
            .try_into()
            .unwrap();
        let signed = &token[..parts[0].len() + 1 + parts[1].len()];
        let verifying = key.signing_key().verifying_key();
        assert!(
            verifying
                .verify_strict(
                    signed.as_bytes(),
                    &ed25519_dalek::Signature::from_bytes(&sig)
                )
                .is_ok()
        );
    }

    #[test]
    fn jtis_are_128_random_bits() {
        let a = random_jti();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).map(|b| b.len()).ok(), Some(16));
        assert_ne!(a, random_jti());
    }

    /// RFC 8037 appendix A.1 and A.3: the key and its RFC 7638 thumbprint.
    const D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn set(members: &str) -> String {
        format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","d":"{D}","x":"{X}"{members}}}]}}"#)
    }

    #[test]
    fn any_valid_ed25519_jwk_loads_and_a_missing_kid_is_its_thumbprint() {
        let k = PrivateKey::from_jwks(&set("")).expect("no use, alg or kid");
        assert_eq!(k.kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        for members in [
            r#","kid":"a""#,
            r#","use":"sig""#,
            r#","alg":"EdDSA""#,
            r#","alg":"Ed25519""#,
            r#","key_ops":["sign","verify"]"#,
        ] {
            assert!(PrivateKey::from_jwks(&set(members)).is_ok(), "{members}");
        }
        assert_eq!(
            PrivateKey::from_jwks(&set(r#","kid":"a""#))
                .map(|k| k.kid)
                .ok(),
            Some("a".into())
        );
    }

    #[test]
    fn a_refused_key_says_why() {
        let why = |members: &str| match PrivateKey::from_jwks(&set(members)) {
            Err(MintError::Format(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(why(r#","use":"enc""#).contains(r#""use" is "enc""#));
        assert!(why(r#","alg":"ES256""#).contains(r#""alg" is "ES256""#));
        assert!(why(r#","key_ops":["verify"]"#).contains("key_ops"));
        let public = format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{X}"}}]}}"#);
        assert!(
            matches!(PrivateKey::from_jwks(&public), Err(MintError::Format(m)) if m.contains("public key"))
        );
        let ec = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"}]}"#;
        assert!(
            matches!(PrivateKey::from_jwks(ec), Err(MintError::Format(m)) if m.contains("not an Ed25519 key"))
        );
        let wrong_x = set("").replace(X, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        assert!(
            matches!(PrivateKey::from_jwks(&wrong_x), Err(MintError::Format(m)) if m.contains("does not match"))
        );
    }
}

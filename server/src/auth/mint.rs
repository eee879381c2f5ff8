//! Key generation and token signing: `bedside keygen`, `bedside token`, dev
//! mode's `POST /dev/token`, and tests. Production join tokens come from the
//! clinic's backend; the hub only mints them in dev mode.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bedside_protocol::{Permission, Role};
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
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

#[derive(Serialize, Deserialize)]
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

#[derive(Serialize, Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
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

    /// Parses a private JWK set holding one Ed25519 key (the first is used).
    pub fn from_jwks(text: &str) -> Result<Self, MintError> {
        let set: JwkSet = serde_json::from_str(text)
            .map_err(|e| MintError::Format(format!("not a private Ed25519 JWK set: {e}")))?;
        let jwk = set
            .keys
            .into_iter()
            .find(|k| k.kty == "OKP" && k.crv == "Ed25519" && k.d.is_some())
            .ok_or_else(|| MintError::Format("no private Ed25519 key in the set".into()))?;
        let d = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(jwk.d.as_deref().unwrap_or_default())
                .map_err(|_| MintError::Format("\"d\" is not base64url".into()))?,
        );
        let seed: [u8; 32] = d
            .as_slice()
            .try_into()
            .map_err(|_| MintError::Format("\"d\" must be 32 bytes".into()))?;
        let signing = SigningKey::from_bytes(&seed);
        let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
        if x != jwk.x {
            return Err(MintError::Format("\"x\" does not match \"d\"".into()));
        }
        Ok(Self {
            kid: jwk.kid,
            signing,
        })
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

    /// Signs `claims` as a compact JWS with EdDSA and this key's `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, MintError> {
        // PKCS#8 v1 for Ed25519 (RFC 8410): fixed prefix, then the 32-byte seed.
        const PREFIX: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&PREFIX);
        der.extend_from_slice(&self.signing.to_bytes());
        let key = EncodingKey::from_ed_der(&der);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &key).map_err(|e| MintError::Sign(e.to_string()))
    }
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

/// The claims of a join token as `bedside token` and dev mode mint them.
#[derive(Debug, Clone, Serialize)]
pub struct JoinClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Participant id.
    pub sub: String,
    /// Visit id.
    pub visit: String,
    /// Role.
    pub role: Role,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// Unique id.
    pub jti: String,
    /// Authentication methods.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Permissions from the start.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub perms: Vec<Permission>,
}

/// A random token id (128 bits, base64url).
pub fn random_jti() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

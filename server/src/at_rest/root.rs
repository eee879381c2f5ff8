//! Root keys: what wraps the data key. Either a key file kept outside
//! `data_dir` (32 random bytes, base64, readable by its owner only) or an
//! AES-256 key on a PKCS#11 token that never leaves it.
//!
//! A wrapped data key names the root key that wrapped it ([`RootKey::id`]),
//! and that name is authenticated with it, so a data key is never unwrapped
//! by, or mistaken for the work of, another root key.

use super::pkcs11::Token;
use super::{AtRestError, DataKey, Wrapped};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// Associated data of every wrapping, before the root key's id.
const AAD: &[u8] = b"bedside data key v1 wrapped by ";

/// Refuses a secret file that group or others can read.
pub fn private_file(path: &Path) -> Result<(), AtRestError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let bad = |p: String| AtRestError::Root(format!("{}: {p}", path.display()));
        let mode = std::fs::metadata(path)
            .map_err(|e| bad(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(bad(format!(
                "readable by group or others (mode {:o}); chmod 600 it",
                mode & 0o777
            )));
        }
    }
    Ok(())
}

/// A root key the hub can wrap and unwrap data keys with.
pub enum RootKey {
    /// A key file.
    File {
        /// `file:` and the first 16 hex digits of the key's SHA-256.
        id: String,
        /// Where it was read from.
        path: PathBuf,
        /// The key.
        key: Zeroizing<[u8; 32]>,
    },
    /// A key on a PKCS#11 token.
    Pkcs11 {
        /// The logged-in token.
        token: Arc<Token>,
        /// The key's label (`CKA_LABEL`).
        label: String,
    },
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id())
    }
}

impl RootKey {
    /// Reads a root key file: base64 of 32 bytes, not readable by group or
    /// others.
    pub fn from_file(path: &Path) -> Result<Self, AtRestError> {
        let bad = |p: String| AtRestError::Root(format!("{}: {p}", path.display()));
        private_file(path)?;
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?);
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| bad("not base64 of 32 bytes".into()))?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad("not base64 of 32 bytes".into()))?;
        let key = Zeroizing::new(key);
        let digest = Sha256::digest(key.as_slice());
        let id = format!(
            "file:{}",
            digest[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Ok(RootKey::File {
            id,
            path: path.to_owned(),
            key,
        })
    }

    /// Writes a new root key file at `path` (refusing to replace one).
    pub fn create_file(path: &Path) -> Result<(), AtRestError> {
        use std::io::Write as _;
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut_slice());
        let text = Zeroizing::new(format!("{}\n", STANDARD.encode(key.as_slice())));
        let mut options = std::fs::File::options();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let bad = |e: std::io::Error| AtRestError::Root(format!("{}: {e}", path.display()));
        let mut f = options.open(path).map_err(bad)?;
        f.write_all(text.as_bytes()).map_err(bad)?;
        f.sync_all().map_err(bad)
    }

    /// The key labelled `label` on `token`; checks it exists and cannot
    /// leave the token.
    pub fn on_token(token: Arc<Token>, label: &str) -> Result<Self, AtRestError> {
        if !token.kept_inside(label)? {
            return Err(AtRestError::Root(format!(
                "PKCS#11: the key labelled {label:?} is not an AES key that is sensitive and never extractable; a root key must never leave the token"
            )));
        }
        Ok(RootKey::Pkcs11 {
            token,
            label: label.to_owned(),
        })
    }

    /// The name a wrapped data key carries: `file:<hash>` or
    /// `pkcs11:<label>`.
    pub fn id(&self) -> String {
        match self {
            RootKey::File { id, .. } => id.clone(),
            RootKey::Pkcs11 { label, .. } => format!("pkcs11:{label}"),
        }
    }

    /// Where an operator finds it, for messages.
    pub fn describe(&self) -> String {
        match self {
            RootKey::File { path, id, .. } => format!("{id} (the file {})", path.display()),
            RootKey::Pkcs11 { label, .. } => format!("the token key labelled {label:?}"),
        }
    }

    fn aad(&self) -> Vec<u8> {
        [AAD, self.id().as_bytes()].concat()
    }

    /// Encrypts `data_key` under this root key.
    pub fn wrap(&self, data_key: &DataKey) -> Result<Wrapped, AtRestError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = self.aad();
        let ct = match self {
            RootKey::File { key, .. } => ChaCha20Poly1305::new_from_slice(key.as_slice())
                .map_err(|_| AtRestError::Root("bad key length".into()))?
                .encrypt(
                    &Nonce::from(nonce),
                    Payload {
                        msg: data_key.bytes(),
                        aad: &aad,
                    },
                )
                .map_err(|_| AtRestError::Root("cannot wrap the data key".into()))?,
            RootKey::Pkcs11 { token, label } => {
                // A token may choose the IV itself (FIPS mode) and write it
                // back: what is stored is the IV it used.
                token.encrypt(label, &mut nonce, &aad, data_key.bytes())?
            }
        };
        Ok(Wrapped {
            root: self.id(),
            nonce: URL_SAFE_NO_PAD.encode(nonce),
            ciphertext: URL_SAFE_NO_PAD.encode(ct),
        })
    }

    /// Decrypts a data key this root key wrapped.
    pub fn unwrap(&self, w: &Wrapped) -> Result<DataKey, AtRestError> {
        if w.root != self.id() {
            return Err(AtRestError::WrongRoot {
                wrapped_by: w.root.clone(),
                configured: self.describe(),
            });
        }
        let bad = || AtRestError::Unwrap(self.describe());
        let nonce: [u8; 12] = URL_SAFE_NO_PAD
            .decode(&w.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(bad)?;
        let ct = URL_SAFE_NO_PAD.decode(&w.ciphertext).map_err(|_| bad())?;
        let aad = self.aad();
        let plain = match self {
            RootKey::File { key, .. } => Zeroizing::new(
                ChaCha20Poly1305::new_from_slice(key.as_slice())
                    .map_err(|_| bad())?
                    .decrypt(
                        &Nonce::from(nonce),
                        Payload {
                            msg: &ct,
                            aad: &aad,
                        },
                    )
                    .map_err(|_| bad())?,
            ),
            RootKey::Pkcs11 { token, label } => {
                let mut iv = nonce;
                token
                    .decrypt(label, &mut iv, &aad, &ct)
                    .map_err(|_| bad())?
            }
        };
        DataKey::from_slice(&plain).ok_or_else(bad)
    }
}

//! Encryption at rest for the embedded store: what the hub keeps in
//! `data_dir` is one SQLCipher database (pages, write-ahead log included,
//! encrypted with AES-256 and authenticated per page) under a random 32-byte
//! **data key**. The data key is kept in `data_dir/keys.json` only wrapped
//! by a **root key** that never sits in `data_dir`: a key file on another
//! path, or a key on a PKCS#11 token ([`root`], [`pkcs11`]).
//!
//! Rotation, both online:
//! - the root key: the data key is wrapped again by the new root key and
//!   `keys.json` replaced; no data is rewritten;
//! - the data key: a new one is written to `keys.json` as `next_data_key`
//!   first, the store re-encrypts itself under it
//!   ([`Command::Rekey`](crate::store::Command::Rekey)), then `keys.json`
//!   names it as the data key. A crash in between leaves the database under
//!   one of the two keys the file holds, and the next start finds which.

pub mod pkcs11;
pub mod root;

use crate::config::AtRestConfig;
use root::RootKey;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// File in `data_dir` holding the wrapped data key.
pub const KEY_FILE: &str = "keys.json";

/// Encryption at rest failed or is misconfigured.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AtRestError {
    /// The root key cannot be read or used.
    #[error("root key: {0}")]
    Root(String),
    /// The data key was wrapped by another root key than the one configured.
    #[error(
        "the data key in data_dir/keys.json is wrapped by root key {wrapped_by}, not by {configured}; point [at_rest] at the root key the last rotation used"
    )]
    WrongRoot {
        /// The id the wrapped key names.
        wrapped_by: String,
        /// The configured root key.
        configured: String,
    },
    /// The wrapped data key does not open with the root key.
    #[error("the data key in data_dir/keys.json does not open with {0} (damaged or tampered)")]
    Unwrap(String),
    /// `keys.json` cannot be read or written.
    #[error("{0}")]
    File(String),
}

/// The key the database is encrypted with. Zeroized on drop; never logged.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        use rand::RngCore as _;
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(k.as_mut_slice());
        Self(k)
    }

    fn from_slice(b: &[u8]) -> Option<Self> {
        let k: [u8; 32] = b.try_into().ok()?;
        Some(Self(Zeroizing::new(k)))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_slice()
    }

    /// The key as SQLCipher takes a raw key: `x'…'` (64 hex digits), so no
    /// key derivation runs on open.
    pub fn sqlcipher_literal(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(67));
        s.push_str("x'");
        for b in self.0.iter() {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        s.push('\'');
        s
    }
}

/// A data key encrypted by a root key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wrapped {
    /// The root key's id (authenticated with the ciphertext).
    pub root: String,
    /// base64url, 12 bytes.
    pub nonce: String,
    /// base64url: the 32-byte key and a 16-byte tag.
    pub ciphertext: String,
}

/// `data_dir/keys.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    version: u32,
    data_key: Wrapped,
    /// A data key being rotated to (written before the store re-encrypts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_data_key: Option<Wrapped>,
}

/// The data key(s) and the root key that wraps them, for a running hub.
#[derive(Debug)]
pub struct Keys {
    path: PathBuf,
    state: Mutex<State>,
    /// The configured token, reused when rotating to another of its keys.
    token: Option<Arc<pkcs11::Token>>,
    /// One rotation at a time.
    rotation: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct State {
    root: RootKey,
    current: DataKey,
    next: Option<DataKey>,
}

/// Which root key to use, as the configuration or an operator names it.
#[derive(Debug, Clone)]
pub enum RootSpec {
    /// A key file.
    File(PathBuf),
    /// A key on the configured token.
    Label(String),
}

/// The token `cfg` names, logged in.
fn open_token(cfg: &AtRestConfig) -> Result<Option<Arc<pkcs11::Token>>, AtRestError> {
    match (&cfg.pkcs11_module, &cfg.pkcs11_token, &cfg.pkcs11_pin_file) {
        (Some(module), Some(label), Some(pin_file)) => {
            root::private_file(pin_file)?;
            let pin =
                Zeroizing::new(std::fs::read_to_string(pin_file).map_err(|e| io(pin_file, e))?);
            Ok(Some(pkcs11::Token::shared(module, label, pin.trim())?))
        }
        _ => Ok(None),
    }
}

/// The root key `cfg` names.
fn spec_of(cfg: &AtRestConfig) -> Result<RootSpec, AtRestError> {
    match (&cfg.root_key_file, &cfg.pkcs11_key_label) {
        (Some(p), _) => Ok(RootSpec::File(p.clone())),
        (None, Some(l)) => Ok(RootSpec::Label(l.clone())),
        (None, None) => Err(AtRestError::Root("no root key configured".into())),
    }
}

fn io(path: &Path, e: impl std::fmt::Display) -> AtRestError {
    AtRestError::File(format!("{}: {e}", path.display()))
}

impl Keys {
    /// Opens the configured root key and the data key in `data_dir`,
    /// creating and wrapping a data key on first use.
    pub fn open(cfg: &AtRestConfig, data_dir: &Path) -> Result<Self, AtRestError> {
        Self::open_with(cfg, data_dir, true)
    }

    fn open_with(cfg: &AtRestConfig, data_dir: &Path, write: bool) -> Result<Self, AtRestError> {
        let token = open_token(cfg)?;
        let root = Self::root_from(&token, &spec_of(cfg)?)?;
        let path = data_dir.join(KEY_FILE);
        let state = match std::fs::read(&path) {
            Ok(bytes) => {
                let file: KeyFile = serde_json::from_slice(&bytes).map_err(|e| io(&path, e))?;
                if file.version != 1 {
                    return Err(io(&path, format!("unknown version {}", file.version)));
                }
                State {
                    current: root.unwrap(&file.data_key)?,
                    next: file
                        .next_data_key
                        .as_ref()
                        .map(|w| root.unwrap(w))
                        .transpose()?,
                    root,
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State {
                root,
                current: DataKey::generate(),
                next: None,
            },
            Err(e) => return Err(io(&path, e)),
        };
        let keys = Self {
            path,
            state: Mutex::new(state),
            token,
            rotation: tokio::sync::Mutex::new(()),
        };
        if write {
            std::fs::create_dir_all(data_dir).map_err(|e| io(data_dir, e))?;
            keys.save()?;
        }
        Ok(keys)
    }

    /// The keys of an existing encrypted `data_dir`, read only (for
    /// `bedside backup` beside a running hub): nothing is written.
    pub fn existing(cfg: &AtRestConfig, data_dir: &Path) -> Result<Self, AtRestError> {
        let path = data_dir.join(KEY_FILE);
        if !path.exists() {
            return Err(io(&path, "missing (no encrypted store here)"));
        }
        Self::open_with(cfg, data_dir, false)
    }

    /// The root key `cfg` names, alone (to wrap or unwrap a backup's key).
    pub fn root_of(cfg: &AtRestConfig) -> Result<RootKey, AtRestError> {
        Self::root_from(&open_token(cfg)?, &spec_of(cfg)?)
    }

    fn root_from(
        token: &Option<Arc<pkcs11::Token>>,
        spec: &RootSpec,
    ) -> Result<RootKey, AtRestError> {
        match spec {
            RootSpec::File(p) => RootKey::from_file(p),
            RootSpec::Label(l) => match token {
                Some(t) => RootKey::on_token(t.clone(), l),
                None => Err(AtRestError::Root(
                    "a token key needs at_rest.pkcs11_module, pkcs11_token and pkcs11_pin_file"
                        .into(),
                )),
            },
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self) -> Result<(), AtRestError> {
        let s = self.state();
        // Each wrapping is unwrapped once before it replaces the file: a
        // key the root key cannot give back is never the only copy.
        let wrap = |k: &DataKey| -> Result<Wrapped, AtRestError> {
            let w = s.root.wrap(k)?;
            match s.root.unwrap(&w) {
                Ok(back) if back.bytes() == k.bytes() => Ok(w),
                _ => Err(AtRestError::Root(format!(
                    "{} does not give back what it wrapped",
                    s.root.describe()
                ))),
            }
        };
        let file = KeyFile {
            version: 1,
            data_key: wrap(&s.current)?,
            next_data_key: s.next.as_ref().map(wrap).transpose()?,
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| io(&self.path, e))?;
        crate::fsutil::write_durably(&self.path, &bytes, true).map_err(|e| io(&self.path, e))
    }

    /// The keys the database may be under, in the order to try them: the
    /// data key, then a key a rotation was moving to.
    pub fn candidates(&self) -> Vec<DataKey> {
        let s = self.state();
        std::iter::once(s.current.clone())
            .chain(s.next.clone())
            .collect()
    }

    /// The store opened under `candidates()[i]`: that key is now the data
    /// key, and a rotation that did not finish is forgotten.
    pub fn settle(&self, i: usize) -> Result<(), AtRestError> {
        {
            let mut s = self.state();
            if i == 1
                && let Some(next) = s.next.take()
            {
                s.current = next;
            }
            s.next = None;
        }
        self.save()
    }

    /// The id of the root key in use.
    pub fn root_id(&self) -> String {
        self.state().root.id()
    }

    /// Wraps the data key by the root key `spec` names and replaces
    /// `keys.json`; the data is not rewritten. Blocking (a token call).
    pub async fn rotate_root(self: &Arc<Self>, spec: RootSpec) -> Result<String, AtRestError> {
        let _one = self.rotation.lock().await;
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let new = Self::root_from(&me.token, &spec)?;
            let id = new.id();
            let old = std::mem::replace(&mut me.state().root, new);
            if let Err(e) = me.save() {
                me.state().root = old;
                return Err(e);
            }
            Ok(id)
        })
        .await
        .map_err(|e| AtRestError::File(e.to_string()))?
    }

    /// Re-encrypts the store under a fresh data key, online: `rekey` is
    /// handed the new key and answers once the store is under it. If it
    /// fails, `opens` tells which key the database is under now (the new
    /// one, if the failure came after its copy took its place), and
    /// `keys.json` keeps that one; if neither opens, it keeps both.
    pub async fn rotate_data<F, Fut, P>(
        self: &Arc<Self>,
        rekey: F,
        opens: P,
    ) -> Result<(), AtRestError>
    where
        F: FnOnce(DataKey) -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
        P: Fn(&DataKey) -> bool + Send + 'static,
    {
        let _one = self.rotation.lock().await;
        if self.state().next.is_some() {
            return Err(AtRestError::File(
                "a data-key rotation has not settled; restart the hub to settle it".into(),
            ));
        }
        let new = DataKey::generate();
        self.state().next = Some(new.clone());
        self.save_blocking().await?;
        let result = rekey(new.clone()).await;
        let (promote, forget) = match &result {
            Ok(()) => (true, true),
            Err(_) => {
                let (n, old) = (new.clone(), self.state().current.clone());
                let (new_opens, old_opens) =
                    tokio::task::spawn_blocking(move || (opens(&n), opens(&old)))
                        .await
                        .unwrap_or((false, false));
                (new_opens, new_opens || old_opens)
            }
        };
        {
            let mut s = self.state();
            if promote && let Some(n) = s.next.take() {
                s.current = n;
            }
            if forget {
                s.next = None;
            }
        }
        self.save_blocking().await?;
        match result {
            Ok(()) => Ok(()),
            Err(e) if promote => Err(AtRestError::File(format!(
                "the store is under the new data key, but: {e}"
            ))),
            Err(e) => Err(AtRestError::File(format!("re-encrypting the store: {e}"))),
        }
    }

    async fn save_blocking(self: &Arc<Self>) -> Result<(), AtRestError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.save())
            .await
            .map_err(|e| AtRestError::File(e.to_string()))?
    }
}

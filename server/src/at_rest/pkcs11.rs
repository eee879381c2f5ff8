//! The root key on a PKCS#11 token (an HSM, or SoftHSM2 in tests): an
//! AES-256 secret key that never leaves the token. The hub asks the token
//! to encrypt or decrypt the 32-byte data key with it (AES-GCM); it never
//! sees the root key itself.
//!
//! One logged-in session is kept for the life of the process; calls are
//! blocking FFI, so the shell runs them off the async runtime.

use super::AtRestError;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// A logged-in session on the token holding the root keys.
pub struct Token {
    session: Mutex<Session>,
    // Kept alive for the session; finalized on drop.
    _ctx: Pkcs11,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token")
    }
}

fn err(what: &str, e: impl std::fmt::Display) -> AtRestError {
    AtRestError::Root(format!("PKCS#11 {what}: {e}"))
}

impl Token {
    /// Loads `module`, finds the token labelled `label` and logs in as its
    /// user with `pin`.
    fn open(module: &Path, label: &str, pin: &str) -> Result<Self, AtRestError> {
        let ctx =
            Pkcs11::new(module).map_err(|e| err(&format!("module {}", module.display()), e))?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(|e| err("initialize", e))?;
        let slot = ctx
            .get_slots_with_token()
            .map_err(|e| err("slots", e))?
            .into_iter()
            .find(|s| {
                ctx.get_token_info(*s)
                    .is_ok_and(|i| i.label().trim_end() == label)
            })
            .ok_or_else(|| AtRestError::Root(format!("PKCS#11: no token labelled {label:?}")))?;
        let session = ctx.open_rw_session(slot).map_err(|e| err("session", e))?;
        session
            .login(UserType::User, Some(&AuthPin::from(pin.to_owned())))
            .map_err(|e| err("login", e))?;
        Ok(Self {
            session: Mutex::new(session),
            _ctx: ctx,
        })
    }

    fn key(session: &Session, label: &str) -> Result<ObjectHandle, AtRestError> {
        let found = session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .map_err(|e| err("find key", e))?;
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(AtRestError::Root(format!(
                "PKCS#11: the token holds no secret key labelled {label:?}"
            ))),
            _ => Err(AtRestError::Root(format!(
                "PKCS#11: the token holds several secret keys labelled {label:?}"
            ))),
        }
    }

    fn session(&self) -> Result<std::sync::MutexGuard<'_, Session>, AtRestError> {
        self.session
            .lock()
            .map_err(|_| AtRestError::Root("PKCS#11 session poisoned".into()))
    }

    /// AES-GCM encryption of `data` under the key `label`, with a 12-byte
    /// `iv` and `aad`.
    pub fn encrypt(
        &self,
        label: &str,
        iv: &mut [u8; 12],
        aad: &[u8],
        data: &[u8],
    ) -> Result<Vec<u8>, AtRestError> {
        let s = self.session()?;
        let key = Self::key(&s, label)?;
        let params = GcmParams::new(iv, aad, 128.into()).map_err(|e| err("GCM", e))?;
        s.encrypt(&Mechanism::AesGcm(params), key, data)
            .map_err(|e| err("encrypt", e))
    }

    /// AES-GCM decryption; fails if the key or the data is not the one used.
    pub fn decrypt(
        &self,
        label: &str,
        iv: &mut [u8; 12],
        aad: &[u8],
        data: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, AtRestError> {
        let s = self.session()?;
        let key = Self::key(&s, label)?;
        let params = GcmParams::new(iv, aad, 128.into()).map_err(|e| err("GCM", e))?;
        s.decrypt(&Mechanism::AesGcm(params), key, data)
            .map(zeroize::Zeroizing::new)
            .map_err(|e| err("decrypt", e))
    }

    /// Creates an AES-256 key labelled `label` on the token: sensitive and
    /// never extractable, for encryption and decryption only. Refuses a
    /// label already in use.
    pub fn create_key(&self, label: &str) -> Result<(), AtRestError> {
        let s = self.session()?;
        if Self::key(&s, label).is_ok() {
            return Err(AtRestError::Root(format!(
                "PKCS#11: a key labelled {label:?} already exists"
            )));
        }
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32.into()),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Label(label.as_bytes().to_vec()),
            ],
        )
        .map_err(|e| err("generate key", e))?;
        Ok(())
    }

    /// Whether the key `label` is an AES key that can never leave the
    /// token: sensitive, always so, not extractable, never so. An attribute
    /// the token does not report counts against it.
    pub fn kept_inside(&self, label: &str) -> Result<bool, AtRestError> {
        let s = self.session()?;
        let key = Self::key(&s, label)?;
        let attrs = s
            .get_attributes(
                key,
                &[
                    AttributeType::KeyType,
                    AttributeType::Sensitive,
                    AttributeType::AlwaysSensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                ],
            )
            .map_err(|e| err("attributes", e))?;
        let has = |want: &Attribute| attrs.iter().any(|a| a == want);
        Ok(has(&Attribute::KeyType(KeyType::AES))
            && has(&Attribute::Sensitive(true))
            && has(&Attribute::AlwaysSensitive(true))
            && has(&Attribute::Extractable(false))
            && has(&Attribute::NeverExtractable(true)))
    }

    /// The token `label` of `module`, logged in once per process: a module
    /// is initialized once, and its login is shared by its sessions.
    pub fn shared(module: &Path, label: &str, pin: &str) -> Result<Arc<Self>, AtRestError> {
        type Open = Mutex<HashMap<(PathBuf, String), Arc<Token>>>;
        static OPEN: OnceLock<Open> = OnceLock::new();
        let mut open = OPEN
            .get_or_init(|| Mutex::new(HashMap::new()))
            .lock()
            .map_err(|_| AtRestError::Root("PKCS#11 registry poisoned".into()))?;
        let k = (module.to_owned(), label.to_owned());
        if let Some(t) = open.get(&k) {
            return Ok(t.clone());
        }
        let t = Arc::new(Self::open(module, label, pin)?);
        open.insert(k, t.clone());
        Ok(t)
    }
}

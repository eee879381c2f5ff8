//! `bedside backup` and `bedside restore` for a single node: a consistent
//! online snapshot of the embedded store and the audit file, in one file
//! that is encrypted and checksummed.
//!
//! The snapshot is taken beside a running hub: the store is copied inside
//! one read transaction (SQLite's write-ahead log gives it a fixed view
//! while the hub keeps committing), then the audit file up to its last
//! whole line (a prefix of its chain, which the hub continues after a
//! restore as after a crash).
//!
//! Format: a first line `BEDSIDE-BACKUP 1`, a JSON header line (creation
//! time, hub version, the lengths of the parts, and a fresh backup key
//! wrapped by a root key), then the parts' bytes in chunks of
//! [`CHUNK`] sealed with ChaCha20-Poly1305 under the backup key (nonce:
//! the chunk's number and a last-chunk flag; associated data: the SHA-256
//! of both first lines), then the SHA-256 of everything before it. A
//! damaged file fails the checksum; a changed one, even with the checksum
//! recomputed, fails a chunk's tag, a reordered or cut one its nonce or
//! flag. Restore checks every byte before it writes anything.

use crate::at_rest::root::RootKey;
use crate::at_rest::{DataKey, Keys, Wrapped};
use crate::config::Config;
use crate::store::sqlite::{self, DB_FILE};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"BEDSIDE-BACKUP 1\n";
/// Plaintext bytes per sealed chunk.
pub const CHUNK: usize = 1 << 16;
const TAG: usize = 16;

/// A backup could not be made or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The configuration does not allow it.
    #[error("{0}")]
    Config(String),
    /// The backup file is damaged or was changed.
    #[error("the backup is corrupted or was tampered with: {0}")]
    Damaged(String),
    /// Reading or writing failed.
    #[error("{0}")]
    Io(String),
}

fn io(what: &Path, e: impl std::fmt::Display) -> BackupError {
    BackupError::Io(format!("{}: {e}", what.display()))
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    created: i64,
    hub_version: String,
    /// The backup key, wrapped by the root key.
    key: Wrapped,
    /// Byte lengths of the store snapshot and of the audit file.
    store_len: u64,
    audit_len: u64,
}

/// What a backup holds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Bytes of the store snapshot.
    pub store_bytes: u64,
    /// Bytes of the audit file.
    pub audit_bytes: u64,
}

/// The root key a backup is wrapped by: `--root-key-file`, else the
/// configured `[at_rest]` one.
pub fn backup_root(config: &Config, root_key_file: Option<&Path>) -> Result<RootKey, BackupError> {
    let err = |e: crate::at_rest::AtRestError| BackupError::Config(e.to_string());
    match (root_key_file, &config.at_rest) {
        (Some(p), _) => RootKey::from_file(p).map_err(err),
        (None, Some(a)) => Keys::root_of(a).map_err(err),
        (None, None) => Err(BackupError::Config(
            "a backup is encrypted under a root key: configure [at_rest] or pass --root-key-file"
                .into(),
        )),
    }
}

fn single_node(config: &Config) -> Result<(), BackupError> {
    if config.cluster.is_some() {
        return Err(BackupError::Config(
            "a cluster keeps its data in Redis: back up Redis (its AOF or RDB) and each node's audit file"
                .into(),
        ));
    }
    Ok(())
}

/// A private scratch directory beside `near` (same file system, mode 700).
fn scratch(near: &Path) -> Result<tempfile::TempDir, BackupError> {
    let dir = near
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tempfile::Builder::new()
        .prefix(".bedside-backup-")
        .tempdir_in(dir)
        .map_err(|e| io(dir, e))
}

/// Writes a backup of `config`'s store and audit file to `out`.
pub fn create(
    config: &Config,
    root: &RootKey,
    out: &Path,
    now: i64,
) -> Result<Summary, BackupError> {
    single_node(config)?;
    let db = config.data_dir.join(DB_FILE);
    if !db.exists() {
        return Err(io(&db, "no store here"));
    }
    let key = DataKey::generate();
    let work = scratch(out)?;
    let snapshot = work.path().join("store.db");
    // The store, consistent, under the backup key.
    let candidates = match &config.at_rest {
        Some(a) => Keys::existing(a, &config.data_dir)
            .map_err(|e| BackupError::Config(e.to_string()))?
            .candidates(),
        None => Vec::new(),
    };
    let conn = open_any(&db, &candidates)?;
    sqlite::export(&conn, &snapshot, Some(&key)).map_err(|e| io(&db, e))?;
    drop(conn);
    let store = std::fs::read(&snapshot).map_err(|e| io(&snapshot, e))?;
    // The audit file up to its last whole line.
    let audit = match std::fs::read(&config.audit.path) {
        Ok(mut a) => {
            let end = a.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            a.truncate(end);
            a
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io(&config.audit.path, e)),
    };
    let header = Header {
        created: now,
        hub_version: env!("CARGO_PKG_VERSION").to_owned(),
        key: root
            .wrap(&key)
            .map_err(|e| BackupError::Config(e.to_string()))?,
        store_len: store.len() as u64,
        audit_len: audit.len() as u64,
    };
    let mut bytes = MAGIC.to_vec();
    bytes.extend(serde_json::to_vec(&header).map_err(|e| io(out, e))?);
    bytes.push(b'\n');
    let aad = Sha256::digest(&bytes);
    let cipher = ChaCha20Poly1305::new_from_slice(key.bytes()).map_err(|_| io(out, "key"))?;
    let plain = zeroize::Zeroizing::new([store, audit].concat());
    let chunks: Vec<&[u8]> = if plain.is_empty() {
        vec![&[][..]]
    } else {
        plain.chunks(CHUNK).collect()
    };
    let last = chunks.len() - 1;
    for (i, c) in chunks.into_iter().enumerate() {
        let sealed = cipher
            .encrypt(&nonce(i, i == last), Payload { msg: c, aad: &aad })
            .map_err(|_| io(out, "cannot seal"))?;
        bytes.extend(sealed);
    }
    let sum = Sha256::digest(&bytes);
    bytes.extend(sum);
    let tmp = work.path().join("backup");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    f.write_all(&bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, out).map_err(|e| io(out, e))?;
    Ok(Summary {
        store_bytes: header.store_len,
        audit_bytes: header.audit_len,
    })
}

fn nonce(i: usize, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&(i as u64).to_be_bytes());
    n[11] = u8::from(last);
    Nonce::from(n)
}

/// A read connection to the store under whichever key opens it.
fn open_any(db: &Path, keys: &[DataKey]) -> Result<rusqlite::Connection, BackupError> {
    if keys.is_empty() {
        let c = sqlite::connect(db, None).map_err(|e| io(db, e))?;
        if sqlite::readable(&c) {
            return Ok(c);
        }
    }
    for k in keys {
        let c = sqlite::connect(db, Some(k)).map_err(|e| io(db, e))?;
        if sqlite::readable(&c) {
            return Ok(c);
        }
    }
    Err(io(db, "does not open with the configured keys"))
}

/// Checks `from` whole, then restores it into `config`'s empty `data_dir`
/// and audit path (the store encrypted under a new data key if
/// `[at_rest]` is configured).
pub fn restore(config: &Config, root: &RootKey, from: &Path) -> Result<Summary, BackupError> {
    single_node(config)?;
    let damaged = |m: &str| BackupError::Damaged(m.to_owned());
    let mut bytes = Vec::new();
    std::fs::File::open(from)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| io(from, e))?;
    if bytes.len() < MAGIC.len() + 32 || !bytes.starts_with(MAGIC) {
        return Err(damaged("not a Bedside backup"));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body)[..] != *sum {
        return Err(damaged("checksum mismatch"));
    }
    let header_end = body[MAGIC.len()..]
        .iter()
        .position(|b| *b == b'\n')
        .map(|i| MAGIC.len() + i + 1)
        .ok_or_else(|| damaged("no header"))?;
    let header: Header = serde_json::from_slice(&body[MAGIC.len()..header_end - 1])
        .map_err(|_| damaged("bad header"))?;
    let key = root.unwrap(&header.key).map_err(|e| match e {
        crate::at_rest::AtRestError::WrongRoot { .. } => BackupError::Config(e.to_string()),
        _ => damaged("its key does not open with the root key"),
    })?;
    let aad = Sha256::digest(&body[..header_end]);
    let cipher = ChaCha20Poly1305::new_from_slice(key.bytes()).map_err(|_| damaged("key"))?;
    let sealed = &body[header_end..];
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(sealed.len()));
    let chunks: Vec<&[u8]> = sealed.chunks(CHUNK + TAG).collect();
    let last = chunks
        .len()
        .checked_sub(1)
        .ok_or_else(|| damaged("no content"))?;
    for (i, c) in chunks.into_iter().enumerate() {
        let p = cipher
            .decrypt(&nonce(i, i == last), Payload { msg: c, aad: &aad })
            .map_err(|_| damaged(&format!("chunk {i} does not authenticate")))?;
        plain.extend(p);
    }
    let (store_len, audit_len) = (header.store_len as usize, header.audit_len as usize);
    if plain.len() != store_len + audit_len {
        return Err(damaged("its parts do not add up"));
    }
    // Everything checked; now the target, which must be empty.
    let db = config.data_dir.join(DB_FILE);
    for p in [
        &db,
        &config.data_dir.join(crate::at_rest::KEY_FILE),
        &config.audit.path,
    ] {
        if p.exists() {
            return Err(BackupError::Config(format!(
                "{} exists: restore into an empty data_dir and a new audit path",
                p.display()
            )));
        }
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|e| io(&config.data_dir, e))?;
    let work = scratch(&db)?;
    let snapshot = work.path().join("store.db");
    write_synced(&snapshot, &plain[..store_len])?;
    let conn = sqlite::connect(&snapshot, Some(&key)).map_err(|e| io(&snapshot, e))?;
    if !sqlite::readable(&conn) {
        return Err(damaged("the store snapshot does not open"));
    }
    let target_key = match &config.at_rest {
        Some(a) => {
            let keys =
                Keys::open(a, &config.data_dir).map_err(|e| BackupError::Config(e.to_string()))?;
            keys.candidates().into_iter().next()
        }
        None => None,
    };
    let staged = sqlite::aside(&db, "restoring");
    sqlite::export(&conn, &staged, target_key.as_ref()).map_err(|e| io(&db, e))?;
    drop(conn);
    std::fs::rename(&staged, &db).map_err(|e| io(&db, e))?;
    if let Some(dir) = config.audit.path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    write_synced(&config.audit.path, &plain[store_len..])?;
    for dir in [Some(config.data_dir.as_path()), config.audit.path.parent()]
        .into_iter()
        .flatten()
    {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(dir, e))?;
    }
    Ok(Summary {
        store_bytes: store_len as u64,
        audit_bytes: audit_len as u64,
    })
}

fn write_synced(path: &PathBuf, bytes: &[u8]) -> Result<(), BackupError> {
    let mut f = std::fs::File::create(path).map_err(|e| io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io(path, e))
}

//! The embedded store: SQLite in WAL mode, owned by one thread. The thread
//! takes every command waiting in its queue, runs them in one transaction and
//! commits; [`wal_sync`](super::wal_sync) answers them once an `fdatasync` of
//! the write-ahead log has made the batch durable, while this thread already
//! runs the next batch.
//!
//! Tables: `jti` (replay cache), `resume` (one live resume token per
//! participant, by SHA-256), `participants` (JSON record per participant),
//! `ended_visits`, `visit_seq` (next e2e seq per visit), `e2e_messages` (e2e
//! bodies in arrival order with their recipients), `cursors` (per recipient,
//! the seq up to which it is owed nothing: its acks, or everything sent
//! before it left). Which recipients are still owed what is kept in memory by
//! [`e2e_log`](super::e2e_log).
//!
//! Deletion: `secure_delete` zeroes freed pages, and after a batch that
//! deleted message bodies (end of visit, retention sweep) the write-ahead log
//! is checkpointed and truncated, so no body outlives its deletion on disk.
//!
//! Map: `schema` (pragmas, tables, migrations), `batch` (the store thread:
//! one transaction per batch, answers once durable, the log kept short),
//! `operations` (the SQL of each command).

mod batch;
mod operations;
mod schema;

#[cfg(test)]
mod tests;

use super::{Store, StoreError};
use crate::at_rest::{DataKey, Keys};
use batch::{Backend, run};
use rusqlite::Connection;
use std::path::Path;
use tokio::sync::mpsc;

// Named by the tests through `use super::*`.
#[cfg(test)]
use super::{Command, ResumeRecord, StoredMessage, VisitWrite};
#[cfg(test)]
use rusqlite::params;
#[cfg(test)]
use schema::init;

/// The database file in `data_dir`.
pub const DB_FILE: &str = "bedside.db";

/// Opens (creating if needed) `data_dir/bedside.db` and starts its thread.
/// With `keys` the database is encrypted (SQLCipher) under their data key;
/// a database written before encryption was configured is encrypted now.
pub fn open(
    data_dir: &Path,
    keys: Option<&Keys>,
) -> Result<(Store, std::thread::JoinHandle<()>), StoreError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| StoreError::Backend(format!("{}: {e}", data_dir.display())))?;
    let path = data_dir.join(DB_FILE);
    let key = match keys {
        None => {
            if data_dir.join(crate::at_rest::KEY_FILE).exists() {
                return Err(StoreError::Backend(
                    "data_dir holds an encrypted store (keys.json); configure [at_rest] with its root key"
                        .into(),
                ));
            }
            None
        }
        Some(keys) => Some(unlock(&path, keys)?),
    };
    let backend = Backend::open(&path, key)?;
    let (tx, rx) = mpsc::channel(4096);
    let handle = std::thread::Builder::new()
        .name("bedside-store".into())
        .spawn(move || run(backend, rx))
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok((Store::new(tx), handle))
}

/// A connection to `path`, keyed with `key` (`None`: not encrypted). The
/// key is checked by the first read.
pub(crate) fn connect(path: &Path, key: Option<&DataKey>) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(backend)?;
    if let Some(k) = key {
        conn.pragma_update(None, "key", &*k.sqlcipher_literal())
            .map_err(backend)?;
    }
    Ok(conn)
}

/// Whether the connection's key opens the database.
pub(crate) fn readable(conn: &Connection) -> bool {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        .is_ok()
}

/// Finds which of the keys' candidates the database is under (settling a
/// rotation a crash interrupted), or encrypts a plaintext database.
fn unlock(path: &Path, keys: &Keys) -> Result<DataKey, StoreError> {
    let at_rest = |e: crate::at_rest::AtRestError| StoreError::Backend(e.to_string());
    let candidates = keys.candidates();
    let fresh = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
    for (i, k) in candidates.iter().enumerate() {
        if fresh || readable(&connect(path, Some(k))?) {
            keys.settle(i).map_err(at_rest)?;
            return Ok(k.clone());
        }
    }
    let plain = connect(path, None)?;
    if !readable(&plain) {
        return Err(StoreError::Backend(format!(
            "{} does not open with the data key in keys.json",
            path.display()
        )));
    }
    let key = candidates
        .first()
        .cloned()
        .ok_or_else(|| StoreError::Backend("no data key".into()))?;
    // Everything in the plaintext log goes into the database first, so the
    // log removed with it holds nothing the copy lacks.
    let folded = crate::store::checkpointer::checkpoint_truncate(&plain)?;
    if !folded.complete() {
        return Err(StoreError::Backend(
            "the store's write-ahead log is in use by another process; stop it first".into(),
        ));
    }
    let tmp = aside(path, "encrypting");
    export(&plain, &tmp, Some(&key))?;
    drop(plain);
    replace(path, &tmp)?;
    keys.settle(0).map_err(at_rest)?;
    tracing::warn!(
        "encrypted the existing store under the data key; its earlier plaintext pages may remain on the disk and in its snapshots"
    );
    Ok(key)
}

/// `path` with a suffix, for a file written beside it.
pub(crate) fn aside(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(format!(".{suffix}"));
    p.into()
}

/// Writes a consistent copy of everything `conn` reads (its log included)
/// into a new database at `dest`, encrypted under `key` (`None`: plain),
/// and makes it durable.
pub(crate) fn export(
    conn: &Connection,
    dest: &Path,
    key: Option<&DataKey>,
) -> Result<(), StoreError> {
    let _ = std::fs::remove_file(dest);
    let literal = key.map(DataKey::sqlcipher_literal).unwrap_or_default();
    let dest_str = dest
        .to_str()
        .ok_or_else(|| StoreError::Backend("data_dir path is not UTF-8".into()))?;
    conn.execute(
        "ATTACH DATABASE ?1 AS export KEY ?2",
        rusqlite::params![dest_str, &*literal],
    )
    .map_err(backend)?;
    let copied = conn
        .execute_batch("BEGIN; SELECT sqlcipher_export('export'); COMMIT;")
        .map_err(backend);
    if copied.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let detached = conn.execute("DETACH DATABASE export", []).map_err(backend);
    copied.and(detached)?;
    std::fs::File::open(dest)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::Backend(format!("{}: {e}", dest.display())))
}

/// Puts the database written at `new` in place of `path`, whose
/// connections are closed and whose log holds nothing the new one lacks.
pub(crate) fn replace(path: &Path, new: &Path) -> Result<(), StoreError> {
    let io = |e: std::io::Error| StoreError::Backend(format!("{}: {e}", path.display()));
    for side in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(side);
        match std::fs::remove_file(std::path::PathBuf::from(p)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
    }
    std::fs::rename(new, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

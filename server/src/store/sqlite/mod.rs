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
use batch::{Backend, run};
use rusqlite::Connection;
use schema::init;
use std::path::Path;
use tokio::sync::mpsc;

// Named by the tests through `use super::*`.
#[cfg(test)]
use super::{Command, ResumeRecord, StoredMessage, VisitWrite};
#[cfg(test)]
use rusqlite::params;

/// Opens (creating if needed) `data_dir/bedside.db` and starts its thread.
pub fn open(data_dir: &Path) -> Result<(Store, std::thread::JoinHandle<()>), StoreError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| StoreError::Backend(format!("{}: {e}", data_dir.display())))?;
    let path = data_dir.join("bedside.db");
    let conn = Connection::open(&path).map_err(backend)?;
    init(&conn)?;
    let backend = Backend::new(conn, &path)?;
    let (tx, rx) = mpsc::channel(4096);
    let handle = std::thread::Builder::new()
        .name("bedside-store".into())
        .spawn(move || run(backend, rx))
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok((Store::new(tx), handle))
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

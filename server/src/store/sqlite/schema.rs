//! The database's shape: the connection's pragmas (WAL without automatic
//! checkpoints, `secure_delete`), the tables, and the migrations of
//! databases written by older schemas, by `user_version`.

use super::backend;
use crate::store::StoreError;
use rusqlite::Connection;

pub(super) fn init(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA wal_autocheckpoint = 0;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;
         PRAGMA secure_delete = ON;
         CREATE TABLE IF NOT EXISTS jti (
             expires INTEGER NOT NULL,
             key BLOB NOT NULL,
             PRIMARY KEY (expires, key)
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS resume (
             key BLOB PRIMARY KEY,
             visit TEXT NOT NULL,
             participant TEXT NOT NULL,
             expires INTEGER NOT NULL,
             record TEXT NOT NULL
         ) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS resume_by_participant ON resume (visit, participant);
         CREATE TABLE IF NOT EXISTS participants (
             visit TEXT NOT NULL,
             participant TEXT NOT NULL,
             record TEXT NOT NULL,
             PRIMARY KEY (visit, participant)
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS ended_visits (
             visit TEXT PRIMARY KEY,
             ended_at INTEGER NOT NULL
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS visit_seq (
             visit TEXT PRIMARY KEY,
             next INTEGER NOT NULL
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS e2e_messages (
             id INTEGER PRIMARY KEY,
             visit TEXT NOT NULL,
             seq INTEGER NOT NULL,
             ts INTEGER NOT NULL,
             sender TEXT NOT NULL,
             kind TEXT NOT NULL,
             recipients TEXT NOT NULL,
             body TEXT NOT NULL
         );
         CREATE TABLE IF NOT EXISTS revocations (
             user TEXT PRIMARY KEY,
             at INTEGER NOT NULL,
             until INTEGER NOT NULL
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS cursors (
             visit TEXT NOT NULL,
             participant TEXT NOT NULL,
             upto INTEGER NOT NULL,
             PRIMARY KEY (visit, participant)
         ) WITHOUT ROWID;",
    )
    .map_err(backend)?;
    migrate_v1_messages(conn)?;
    migrate_v2_jti(conn)
}

/// The schema version the database was last migrated to.
fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)
}

/// Schema 3 keys the replay cache by `(expires, key)` instead of `key`:
/// tokens minted around the same time expire around the same time, so a
/// batch of hellos appends to the same few pages instead of dirtying one
/// random page each, and the sweep of expired entries is a range delete
/// instead of a scan. A replay presents the same token, hence the same
/// `exp`, so it still collides. Rebuilds the table, in one transaction.
fn migrate_v2_jti(conn: &Connection) -> Result<(), StoreError> {
    if user_version(conn)? >= 3 {
        return Ok(());
    }
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         CREATE TABLE jti_v3 (
             expires INTEGER NOT NULL,
             key BLOB NOT NULL,
             PRIMARY KEY (expires, key)
         ) WITHOUT ROWID;
         INSERT INTO jti_v3 (expires, key) SELECT expires, key FROM jti;
         DROP TABLE jti;
         ALTER TABLE jti_v3 RENAME TO jti;
         PRAGMA user_version = 3;
         COMMIT;",
    )
    .map_err(backend)
}

/// Databases written before schema 2 kept messages in `messages` (a rowid
/// table with two indexes) and one `pending` row per recipient still owed
/// each message. Schema 2 appends messages to `e2e_messages` naming the
/// recipients still owed each (see [`e2e_log`](crate::store::e2e_log)). Moves what
/// is still owed, in one transaction.
fn migrate_v1_messages(conn: &Connection) -> Result<(), StoreError> {
    if user_version(conn)? >= 2 {
        return Ok(());
    }
    let old = conn
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pending'")
        .and_then(|mut s| s.exists([]))
        .map_err(backend)?;
    let moved = if old {
        "INSERT INTO e2e_messages (visit, seq, ts, sender, kind, recipients, body)
         SELECT m.visit, m.seq, m.ts, m.sender, m.kind,
                (SELECT json_group_array(p.recipient) FROM pending p
                  WHERE p.visit = m.visit AND p.seq = m.seq),
                m.body
         FROM messages m
         WHERE EXISTS (SELECT 1 FROM pending p WHERE p.visit = m.visit AND p.seq = m.seq)
         ORDER BY m.visit, m.seq;
         DROP TABLE pending;
         DROP TABLE messages;"
    } else {
        ""
    };
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; {moved} PRAGMA user_version = 2; COMMIT;"
    ))
    .map_err(backend)
}

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

use super::checkpointer::{self, Checkpointer};
use super::e2e_log::MessageLog;
use super::wal_sync::{Committed, WalSync};
use super::{Command, ResumeRecord, Store, StoreError, StoredMessage, VisitSnapshot, VisitWrite};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::Path;
use tokio::sync::mpsc;

/// Most commands executed in one transaction.
const MAX_BATCH: usize = 512;

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

fn init(conn: &Connection) -> Result<(), StoreError> {
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
/// recipients still owed each (see [`e2e_log`](super::e2e_log)). Moves what
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

/// What a command produced, answered once its batch is durable.
enum Outcome {
    Bool(bool),
    Unit,
    Resume(Option<ResumeRecord>),
    Visit(VisitSnapshot),
    Count(u64),
    Messages(Vec<StoredMessage>),
}

/// Answers a command's caller. A dropped receiver means the caller went
/// away; nothing to do.
fn answer(cmd: Command, result: Result<Outcome, StoreError>) {
    fn send<T>(
        tx: tokio::sync::oneshot::Sender<Result<T, StoreError>>,
        r: Result<Outcome, StoreError>,
        pick: impl FnOnce(Outcome) -> Option<T>,
    ) {
        let r = r.and_then(|o| {
            pick(o).ok_or_else(|| StoreError::Backend("mismatched store outcome".into()))
        });
        let _ = tx.send(r);
    }
    match cmd {
        Command::ClaimJti { reply, .. } | Command::Admit { reply, .. } => {
            send(reply, result, |o| match o {
                Outcome::Bool(b) => Some(b),
                _ => None,
            })
        }
        Command::PutResume { reply, .. } | Command::WriteVisit { reply, .. } => {
            send(reply, result, |o| matches!(o, Outcome::Unit).then_some(()))
        }
        Command::TakeResume { reply, .. } | Command::SwapResume { reply, .. } => {
            send(reply, result, |o| match o {
                Outcome::Resume(r) => Some(r),
                _ => None,
            })
        }
        Command::LoadVisit { reply, .. } => send(reply, result, |o| match o {
            Outcome::Visit(v) => Some(v),
            _ => None,
        }),
        Command::Sweep { reply, .. } | Command::AppendMessage { reply, .. } => {
            send(reply, result, |o| match o {
                Outcome::Count(n) => Some(n),
                _ => None,
            })
        }
        Command::Backlog { reply, .. } => send(reply, result, |o| match o {
            Outcome::Messages(m) => Some(m),
            _ => None,
        }),
    }
}

/// The store thread's state: the connection and each visit's next `seq`,
/// cached so an append costs one insert (the counter row is written once
/// per visit per batch).
/// Fields drop in order: the last answers go out, the checkpointer stops,
/// then the connection closes.
struct Backend {
    sync: WalSync,
    checkpointer: Checkpointer,
    next_seq: HashMap<String, i64>,
    log: MessageLog,
    conn: Connection,
}

fn run(mut backend: Backend, mut rx: mpsc::Receiver<Command>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        backend.execute_batch(&mut batch);
        backend.restart_log_if_long();
    }
    // Channel closed: every handle dropped. Dropping the backend waits for
    // the last answers; the WAL is checkpointed on close.
}

impl Backend {
    /// Takes over `conn` (initialized, so in WAL mode) to the database `db`.
    /// A first read opens (creating) its write-ahead log.
    fn new(conn: Connection, db: &Path) -> Result<Self, StoreError> {
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(backend)?;
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        Ok(Self {
            sync: WalSync::start(Path::new(&wal))?,
            checkpointer: Checkpointer::start(db)?,
            next_seq: HashMap::new(),
            log: MessageLog::load(&conn)?,
            conn,
        })
    }

    /// Runs every command of the batch in one transaction and answers them
    /// once it is committed. Commands fail only on database errors; if one
    /// does, the transaction is rolled back and each command runs again in a
    /// transaction of its own, so one bad command does not fail the others.
    fn execute_batch(&mut self, batch: &mut Vec<Command>) {
        let purge = batch.iter().any(deletes_bodies);
        let changes = self.conn.total_changes();
        let answers: Vec<(Command, Result<Outcome, StoreError>)> = match self.transaction(batch) {
            Ok(outcomes) => batch.drain(..).zip(outcomes.into_iter().map(Ok)).collect(),
            Err(_) if batch.len() > 1 => batch
                .drain(..)
                .map(|cmd| {
                    let r = self
                        .transaction(std::slice::from_ref(&cmd))
                        .map(|mut o| o.pop().unwrap_or(Outcome::Unit));
                    (cmd, r)
                })
                .collect(),
            Err(e) => batch.drain(..).map(|cmd| (cmd, Err(e.clone()))).collect(),
        };
        if purge {
            // Deleted bodies may still sit in WAL frames: fold the log into
            // the (securely deleted) database and truncate it.
            self.purge_log();
        }
        self.sync.committed(Committed {
            dirty: self.conn.total_changes() != changes,
            answer: Box::new(move |durable| {
                for (cmd, r) in answers {
                    answer(cmd, durable.clone().and(r));
                }
            }),
        });
    }

    /// Between two batches, when the checkpointer found the log long: folds
    /// in what its last pass left (a few hundred milliseconds of writes, to
    /// a database of a few pages), so the next batch starts the log over
    /// instead of growing it. Busy while the checkpointer's own pass runs:
    /// then it tries again after the next batch.
    fn restart_log_if_long(&self) {
        if !self.checkpointer.restart_wanted() {
            return;
        }
        match checkpointer::checkpoint(&self.conn) {
            Ok(pass) if pass.complete() => self.checkpointer.restarted(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }

    /// Folds the write-ahead log into the database and truncates it. Busy
    /// while the checkpointer's own pass runs: then it tries again.
    fn purge_log(&self) {
        for _ in 0..100 {
            match self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    r.get::<_, i64>(0)
                }) {
                Ok(0) => return,
                Ok(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                Err(e) => {
                    tracing::warn!(error = %e, "WAL checkpoint after deletion failed");
                    return;
                }
            }
        }
        tracing::warn!(
            "WAL checkpoint after deletion stayed busy; deleted bodies may remain in the log until the next one"
        );
    }

    /// One transaction over `cmds`: all their outcomes, or the first error
    /// (nothing written; the cached counters and the message index are
    /// rebuilt from what the database holds).
    fn transaction(&mut self, cmds: &[Command]) -> Result<Vec<Outcome>, StoreError> {
        let result = self.try_transaction(cmds);
        if result.is_err() {
            self.next_seq.clear();
            match MessageLog::load(&self.conn) {
                Ok(log) => self.log = log,
                Err(e) => tracing::error!(error = %e, "cannot reload the message index"),
            }
        }
        result
    }

    fn try_transaction(&mut self, cmds: &[Command]) -> Result<Vec<Outcome>, StoreError> {
        let tx = self.conn.transaction().map_err(backend)?;
        let mut outcomes = Vec::with_capacity(cmds.len());
        let mut appended: HashMap<&str, i64> = HashMap::new();
        for cmd in cmds {
            outcomes.push(apply(
                &tx,
                cmd,
                &mut self.log,
                &mut self.next_seq,
                &mut appended,
            )?);
        }
        let appends = cmds
            .iter()
            .filter(|c| matches!(c, Command::AppendMessage { .. }))
            .count();
        self.log
            .collect(&tx, std::time::Instant::now(), 2 * appends)?;
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO visit_seq (visit, next) VALUES (?1, ?2)
                 ON CONFLICT (visit) DO UPDATE SET next = excluded.next",
            )
            .map_err(backend)?;
        for (visit, next) in &appended {
            stmt.execute(params![visit, next]).map_err(backend)?;
        }
        drop(stmt);
        tx.commit().map_err(backend)?;
        Ok(outcomes)
    }
}

/// True when the command deletes message bodies (the WAL is purged after).
fn deletes_bodies(cmd: &Command) -> bool {
    match cmd {
        Command::WriteVisit { writes, .. } => {
            writes.iter().any(|w| matches!(w, VisitWrite::EndVisit))
        }
        Command::Sweep { .. } => true,
        _ => false,
    }
}

/// Runs one command inside the batch's transaction.
fn apply<'c>(
    tx: &rusqlite::Transaction<'_>,
    cmd: &'c Command,
    log: &mut MessageLog,
    next_seq: &mut HashMap<String, i64>,
    appended: &mut HashMap<&'c str, i64>,
) -> Result<Outcome, StoreError> {
    Ok(match cmd {
        Command::ClaimJti { key, expires, .. } => Outcome::Bool(claim_jti(tx, key, *expires)?),
        Command::Admit {
            jti,
            expires,
            resume,
            record,
            ..
        } => {
            let fresh = claim_jti(tx, jti, *expires)?;
            if fresh {
                put_resume(tx, resume, record)?;
            }
            Outcome::Bool(fresh)
        }
        Command::PutResume { key, record, .. } => {
            put_resume(tx, key, record)?;
            Outcome::Unit
        }
        Command::TakeResume { key, now, .. } => Outcome::Resume(take_resume(tx, key, *now)?),
        Command::SwapResume {
            take, now, put, ip, ..
        } => {
            let old = take_resume(tx, take, *now)?;
            if let Some(old) = &old {
                let next = ResumeRecord {
                    ip: ip.clone(),
                    ..old.clone()
                };
                put_resume(tx, put, &next)?;
            }
            Outcome::Resume(old)
        }
        Command::LoadVisit { visit, .. } => Outcome::Visit(load_visit(tx, visit.as_str())?),
        Command::WriteVisit { visit, writes, .. } => {
            let last = next_seq_of(tx, next_seq, visit.as_str())? - 1;
            write_visit(tx, log, visit.as_str(), writes, last)?;
            if writes.iter().any(|w| matches!(w, VisitWrite::EndVisit)) {
                next_seq.remove(visit.as_str());
                appended.remove(visit.as_str());
            }
            Outcome::Unit
        }
        Command::Sweep {
            now, retention_s, ..
        } => Outcome::Count(sweep(tx, log, *now, *retention_s)?),
        Command::AppendMessage { visit, message, .. } => {
            let seq = next_seq_of(tx, next_seq, visit.as_str())?;
            log.append(tx, visit.as_str(), seq, message)?;
            next_seq.insert(visit.as_str().to_owned(), seq + 1);
            appended.insert(visit.as_str(), seq + 1);
            Outcome::Count(
                u64::try_from(seq).map_err(|_| StoreError::Backend("negative seq".into()))?,
            )
        }
        Command::Backlog {
            visit,
            recipient,
            after,
            ..
        } => {
            // What a recipient acked is already off its "still owed" lists.
            let after = i64::try_from(*after).unwrap_or(i64::MAX);
            Outcome::Messages(log.backlog(tx, visit.as_str(), recipient.as_str(), after)?)
        }
    })
}

/// The visit's next seq: cached, else as stored (1 for a new visit).
fn next_seq_of(
    tx: &rusqlite::Transaction<'_>,
    cache: &HashMap<String, i64>,
    visit: &str,
) -> Result<i64, StoreError> {
    if let Some(&n) = cache.get(visit) {
        return Ok(n);
    }
    tx.prepare_cached("SELECT next FROM visit_seq WHERE visit = ?1")
        .and_then(|mut s| s.query_row(params![visit], |r| r.get(0)).optional())
        .map(|n| n.unwrap_or(1))
        .map_err(backend)
}

fn claim_jti(
    tx: &rusqlite::Transaction<'_>,
    key: &[u8; 32],
    expires: i64,
) -> Result<bool, StoreError> {
    let n = tx
        .prepare_cached("INSERT OR IGNORE INTO jti (expires, key) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![expires, &key[..]]))
        .map_err(backend)?;
    Ok(n == 1)
}

fn put_resume(
    tx: &rusqlite::Transaction<'_>,
    key: &[u8; 32],
    r: &ResumeRecord,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(r).map_err(|e| StoreError::Backend(e.to_string()))?;
    tx.prepare_cached("DELETE FROM resume WHERE visit = ?1 AND participant = ?2")
        .and_then(|mut s| s.execute(params![r.visit.as_str(), r.participant.as_str()]))
        .map_err(backend)?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO resume (key, visit, participant, expires, record) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![&key[..], r.visit.as_str(), r.participant.as_str(), r.exp, json])
    })
    .map_err(backend)?;
    Ok(())
}

fn take_resume(
    tx: &rusqlite::Transaction<'_>,
    key: &[u8; 32],
    now: i64,
) -> Result<Option<ResumeRecord>, StoreError> {
    let row: Option<(i64, String)> = tx
        .prepare_cached("DELETE FROM resume WHERE key = ?1 RETURNING expires, record")
        .and_then(|mut s| {
            s.query_row(params![&key[..]], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(backend)?;
    match row {
        Some((expires, _)) if expires <= now => Ok(None),
        Some((_, json)) => serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| StoreError::Backend(format!("corrupt resume record: {e}"))),
        None => Ok(None),
    }
}

fn load_visit(tx: &rusqlite::Transaction<'_>, visit: &str) -> Result<VisitSnapshot, StoreError> {
    let ended = tx
        .prepare_cached("SELECT 1 FROM ended_visits WHERE visit = ?1")
        .and_then(|mut s| s.exists(params![visit]))
        .map_err(backend)?;
    let mut stmt = tx
        .prepare_cached("SELECT record FROM participants WHERE visit = ?1")
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![visit], |r| r.get::<_, String>(0))
        .map_err(backend)?;
    let mut participants = Vec::new();
    for row in rows {
        let json = row.map_err(backend)?;
        let rec = serde_json::from_str(&json)
            .map_err(|e| StoreError::Backend(format!("corrupt participant record: {e}")))?;
        participants.push(rec);
    }
    Ok(VisitSnapshot {
        ended,
        participants,
    })
}

/// Applies a visit's writes; `last` is the highest seq it has assigned.
fn write_visit(
    tx: &rusqlite::Transaction<'_>,
    log: &mut MessageLog,
    visit: &str,
    writes: &[VisitWrite],
    last: i64,
) -> Result<(), StoreError> {
    for w in writes {
        match w {
            VisitWrite::SaveParticipant(rec) => {
                let json =
                    serde_json::to_string(rec).map_err(|e| StoreError::Backend(e.to_string()))?;
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO participants (visit, participant, record) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut s| s.execute(params![visit, rec.id.as_str(), json]))
                .map_err(backend)?;
            }
            VisitWrite::ForgetParticipant(id) => {
                // Everything sent so far is no longer owed to them, nor to
                // anyone who joins later under the same id.
                log.release(tx, visit, id.as_str(), last)?;
                for sql in [
                    "DELETE FROM participants WHERE visit = ?1 AND participant = ?2",
                    "DELETE FROM resume WHERE visit = ?1 AND participant = ?2",
                ] {
                    tx.prepare_cached(sql)
                        .and_then(|mut s| s.execute(params![visit, id.as_str()]))
                        .map_err(backend)?;
                }
            }
            VisitWrite::EndVisit => {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO ended_visits (visit, ended_at) VALUES (?1, strftime('%s','now'))",
                )
                .and_then(|mut s| s.execute(params![visit]))
                .map_err(backend)?;
                log.end_visit(tx, visit)?;
                for sql in [
                    "DELETE FROM participants WHERE visit = ?1",
                    "DELETE FROM resume WHERE visit = ?1",
                    "DELETE FROM visit_seq WHERE visit = ?1",
                ] {
                    tx.prepare_cached(sql)
                        .and_then(|mut s| s.execute(params![visit]))
                        .map_err(backend)?;
                }
            }
            VisitWrite::Acked { participant, upto } => {
                // Nobody can have processed a seq not yet assigned.
                let upto = i64::try_from(*upto).unwrap_or(i64::MAX).min(last);
                log.release(tx, visit, participant.as_str(), upto)?;
            }
        }
    }
    Ok(())
}

fn sweep(
    tx: &rusqlite::Transaction<'_>,
    log: &mut MessageLog,
    now: i64,
    retention_s: u64,
) -> Result<u64, StoreError> {
    let a = tx
        .execute("DELETE FROM jti WHERE expires < ?1", params![now])
        .map_err(backend)?;
    let b = tx
        .execute("DELETE FROM resume WHERE expires < ?1", params![now])
        .map_err(backend)?;
    let cutoff_ms = now
        .saturating_sub(i64::try_from(retention_s).unwrap_or(i64::MAX))
        .saturating_mul(1000);
    let c = log.sweep(tx, cutoff_ms)?;
    Ok(a as u64 + b as u64 + c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::e2e_log::MessageLog;
    use crate::store::{ParticipantRecord, key_of};
    use bedside_protocol::{E2eKind, ParticipantId, Role, VisitId};

    fn rec(visit: &str, p: &str, exp: i64) -> ResumeRecord {
        ResumeRecord {
            visit: VisitId::new(visit).unwrap(),
            participant: ParticipantId::new(p).unwrap(),
            role: Role::Patient,
            name: None,
            patient_id: None,
            perms: vec![],
            device: None,
            exp,
            ip: None,
        }
    }

    #[tokio::test]
    async fn replay_cache_and_resume_tokens_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (store, _h) = open(dir.path()).unwrap();
            assert!(store.claim_jti("j1", 100).await.unwrap());
            assert!(!store.claim_jti("j1", 100).await.unwrap());
            store.put_resume("r1", rec("v", "p", 100)).await.unwrap();
            store.put_resume("r2", rec("v", "p", 100)).await.unwrap();
        }
        let (store, _h) = open(dir.path()).unwrap();
        assert!(!store.claim_jti("j1", 100).await.unwrap());
        // Only the newest resume token of a participant is live.
        assert_eq!(store.take_resume("r1", 50).await.unwrap(), None);
        assert_eq!(
            store.take_resume("r2", 50).await.unwrap(),
            Some(rec("v", "p", 100))
        );
        // Single use.
        assert_eq!(store.take_resume("r2", 50).await.unwrap(), None);
        // Expired tokens do not resume.
        store.put_resume("r3", rec("v", "q", 10)).await.unwrap();
        assert_eq!(store.take_resume("r3", 50).await.unwrap(), None);
    }

    #[tokio::test]
    async fn admit_stores_the_resume_token_only_for_a_fresh_jti() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _h) = open(dir.path()).unwrap();
        assert!(
            store
                .admit("j1", 100, "r1", rec("v", "p", 100))
                .await
                .unwrap()
        );
        // A replay stores nothing, and the earlier token stays live.
        assert!(
            !store
                .admit("j1", 100, "r2", rec("v", "p", 100))
                .await
                .unwrap()
        );
        assert_eq!(store.take_resume("r2", 50).await.unwrap(), None);
        assert_eq!(
            store.take_resume("r1", 50).await.unwrap(),
            Some(rec("v", "p", 100))
        );
        // The jti is claimed for `claim_jti` (refresh) too.
        assert!(!store.claim_jti("j1", 100).await.unwrap());
    }

    #[tokio::test]
    async fn swap_resume_consumes_the_token_and_stores_its_successor() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _h) = open(dir.path()).unwrap();
        store.put_resume("r1", rec("v", "p", 100)).await.unwrap();
        let ip = Some("10.0.0.9".to_owned());
        let old = store.swap_resume("r1", 50, "r2", ip.clone()).await.unwrap();
        assert_eq!(old, Some(rec("v", "p", 100)));
        // Single use; the successor restores the same record from the new address.
        assert_eq!(store.swap_resume("r1", 50, "r3", None).await.unwrap(), None);
        assert_eq!(
            store.take_resume("r2", 50).await.unwrap(),
            Some(ResumeRecord {
                ip,
                ..rec("v", "p", 100)
            })
        );
        // An unknown or expired token stores nothing.
        assert_eq!(store.take_resume("r3", 50).await.unwrap(), None);
        store.put_resume("r4", rec("v", "q", 10)).await.unwrap();
        assert_eq!(store.swap_resume("r4", 50, "r5", None).await.unwrap(), None);
        assert_eq!(store.take_resume("r5", 1).await.unwrap(), None);
    }

    #[tokio::test]
    async fn visit_records_and_end() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _h) = open(dir.path()).unwrap();
        let v = VisitId::new("v-1").unwrap();
        let p = ParticipantRecord {
            id: ParticipantId::new("pt-1").unwrap(),
            name: "Pat".into(),
            role: Role::Patient,
            admitted: true,
            perms: vec![],
            tracks: vec![],
            keys: None,
            revoked_screens: vec![],
        };
        store
            .write_visit(&v, vec![VisitWrite::SaveParticipant(p.clone())])
            .await
            .unwrap();
        let snap = store.load_visit(&v).await.unwrap();
        assert_eq!(snap.participants, vec![p]);
        assert!(!snap.ended);
        store
            .put_resume("r", rec("v-1", "pt-1", 100))
            .await
            .unwrap();
        store
            .write_visit(&v, vec![VisitWrite::EndVisit])
            .await
            .unwrap();
        let snap = store.load_visit(&v).await.unwrap();
        assert!(snap.ended);
        assert!(snap.participants.is_empty());
        assert_eq!(store.take_resume("r", 50).await.unwrap(), None);
    }

    fn message(to: &str) -> StoredMessage {
        StoredMessage {
            seq: 0,
            ts: 1,
            from: ParticipantId::new("dr").unwrap(),
            to: vec![ParticipantId::new(to).unwrap()],
            kind: E2eKind::Chat,
            body: "AAAA".into(),
        }
    }

    #[test]
    fn a_failing_command_fails_alone_and_seqs_stay_contiguous() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("t.db")).unwrap();
        init(&conn).unwrap();
        // A participant record that cannot be read back.
        conn.execute(
            "INSERT INTO participants (visit, participant, record) VALUES ('bad', 'p', 'not json')",
            [],
        )
        .unwrap();
        let db = dir.path().join("t.db");
        let mut backend = Backend::new(conn, &db).unwrap();
        let (jti_tx, mut jti_rx) = tokio::sync::oneshot::channel();
        let (load_tx, mut load_rx) = tokio::sync::oneshot::channel();
        let mut seq_rx = Vec::new();
        let mut batch = vec![Command::ClaimJti {
            key: key_of("j"),
            expires: 10,
            reply: jti_tx,
        }];
        for _ in 0..2 {
            let (tx, rx) = tokio::sync::oneshot::channel();
            seq_rx.push(rx);
            batch.push(Command::AppendMessage {
                visit: VisitId::new("v").unwrap(),
                message: message("pt"),
                reply: tx,
            });
        }
        batch.push(Command::LoadVisit {
            visit: VisitId::new("bad").unwrap(),
            reply: load_tx,
        });
        backend.execute_batch(&mut batch);
        drop(backend); // waits for the answers
        assert!(jti_rx.try_recv().unwrap().unwrap());
        assert!(load_rx.try_recv().unwrap().is_err());
        let seqs: Vec<u64> = seq_rx
            .iter_mut()
            .map(|r| r.try_recv().unwrap().unwrap())
            .collect();
        assert_eq!(seqs, [1, 2]);
        // The counter was persisted: a fresh backend on the same file goes on.
        let mut backend = Backend::new(Connection::open(&db).unwrap(), &db).unwrap();
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        backend.execute_batch(&mut vec![Command::AppendMessage {
            visit: VisitId::new("v").unwrap(),
            message: message("pt"),
            reply: tx,
        }]);
        drop(backend);
        assert_eq!(rx.try_recv().unwrap().unwrap(), 3);
    }

    fn to(from: &str, to: &[&str]) -> StoredMessage {
        StoredMessage {
            from: ParticipantId::new(from).unwrap(),
            to: to.iter().map(|p| ParticipantId::new(*p).unwrap()).collect(),
            ..message("x")
        }
    }

    async fn append(store: &Store, v: &VisitId, m: StoredMessage) -> u64 {
        store.enqueue_append(v, m).await.unwrap().await.unwrap()
    }

    async fn owed(store: &Store, v: &VisitId, who: &str, after: u64) -> Vec<u64> {
        let who = ParticipantId::new(who).unwrap();
        let r = store.enqueue_backlog(v, &who, after).await.unwrap().await;
        r.unwrap().iter().map(|m| m.seq).collect()
    }

    fn acked(who: &str, upto: u64) -> VisitWrite {
        VisitWrite::Acked {
            participant: ParticipantId::new(who).unwrap(),
            upto,
        }
    }

    /// Rows left once garbage is collected (a sweep collects it at once).
    async fn rows(store: &Store, dir: &std::path::Path) -> i64 {
        store.sweep(0, 0).await.unwrap();
        Connection::open(dir.join("bedside.db"))
            .unwrap()
            .query_row("SELECT count(*) FROM e2e_messages", [], |r| r.get(0))
            .unwrap()
    }

    #[tokio::test]
    async fn a_message_is_kept_until_every_recipient_acked_or_left() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _h) = open(dir.path()).unwrap();
        let v = VisitId::new("v").unwrap();
        assert_eq!(append(&store, &v, to("dr", &["a", "b"])).await, 1);
        assert_eq!(append(&store, &v, to("dr", &["a"])).await, 2);
        assert_eq!(append(&store, &v, to("dr", &["b"])).await, 3);
        assert_eq!(append(&store, &v, to("dr", &["ab"])).await, 4);
        assert_eq!(owed(&store, &v, "a", 0).await, [1, 2]);
        assert_eq!(owed(&store, &v, "b", 1).await, [3]);
        store.write_visit(&v, vec![acked("a", 2)]).await.unwrap();
        assert_eq!(owed(&store, &v, "a", 0).await, Vec::<u64>::new());
        assert_eq!(owed(&store, &v, "b", 0).await, [1, 3]);
        assert_eq!(rows(&store, dir.path()).await, 3); // 2 went: only a was owed it
        store.write_visit(&v, vec![acked("b", 3)]).await.unwrap();
        assert_eq!(rows(&store, dir.path()).await, 1);
        // Leaving releases what was owed; whoever joins later under the same
        // id gets only what is sent after.
        let ab = ParticipantId::new("ab").unwrap();
        store
            .write_visit(&v, vec![VisitWrite::ForgetParticipant(ab)])
            .await
            .unwrap();
        assert_eq!(rows(&store, dir.path()).await, 0);
        assert_eq!(append(&store, &v, to("dr", &["ab"])).await, 5);
        assert_eq!(owed(&store, &v, "ab", 0).await, [5]);
        // An ack past the last seq does not release messages sent after it.
        store
            .write_visit(&v, vec![acked("a", 1_000)])
            .await
            .unwrap();
        assert_eq!(append(&store, &v, to("dr", &["a"])).await, 6);
        assert_eq!(owed(&store, &v, "a", 0).await, [6]);
        // What is owed survives a restart (the index is rebuilt).
        drop(store);
        let (store, _h) = open(dir.path()).unwrap();
        assert_eq!(owed(&store, &v, "a", 0).await, [6]);
        assert_eq!(owed(&store, &v, "ab", 0).await, [5]);
        assert_eq!(owed(&store, &v, "b", 0).await, Vec::<u64>::new());
        assert_eq!(append(&store, &v, to("dr", &["a"])).await, 7);
        store
            .write_visit(&v, vec![acked("a", 7), acked("ab", 5)])
            .await
            .unwrap();
        assert_eq!(rows(&store, dir.path()).await, 0);
    }

    #[test]
    fn garbage_goes_a_bounded_share_per_batch_and_all_once_a_second_passed() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        init(&conn).unwrap();
        let mut log = MessageLog::load(&conn).unwrap();
        let count = |tx: &rusqlite::Transaction<'_>| -> i64 {
            tx.query_row("SELECT count(*) FROM e2e_messages", [], |r| r.get(0))
                .unwrap()
        };
        let tx = conn.transaction().unwrap();
        for seq in 1..=1500 {
            log.append(&tx, "v", seq, &to("dr", &["a"])).unwrap();
        }
        let t0 = std::time::Instant::now();
        log.collect(&tx, t0, 10).unwrap();
        assert_eq!(count(&tx), 1500, "nothing is garbage yet");
        log.release(&tx, "v", "a", 1100).unwrap();
        log.collect(&tx, t0, 10).unwrap();
        assert_eq!(
            count(&tx),
            1500 - 256,
            "at least the minimum share, oldest first"
        );
        log.collect(&tx, t0, 10).unwrap();
        assert_eq!(count(&tx), 1500 - 256, "below the pile-up threshold: wait");
        let first: i64 = tx
            .query_row("SELECT min(seq) FROM e2e_messages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(first, 257);
        log.collect(&tx, t0 + std::time::Duration::from_secs(2), 10)
            .unwrap();
        assert_eq!(count(&tx), 400, "a second later: all of it");
        tx.commit().unwrap();
    }

    #[tokio::test]
    async fn retention_deletes_what_is_still_owed() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _h) = open(dir.path()).unwrap();
        let v = VisitId::new("v").unwrap();
        let old = StoredMessage {
            ts: 1_000,
            ..to("dr", &["a"])
        };
        append(&store, &v, old).await;
        let new = StoredMessage {
            ts: 100_000,
            ..to("dr", &["a"])
        };
        append(&store, &v, new).await;
        // now = 150 s, retention 100 s: the first (1 s) goes, the second stays.
        assert_eq!(store.sweep(150, 100).await.unwrap(), 1);
        assert_eq!(owed(&store, &v, "a", 0).await, [2]);
    }

    #[tokio::test]
    async fn claimed_jtis_survive_the_schema_3_migration() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join("bedside.db")).unwrap();
            conn.execute_batch(
                "CREATE TABLE jti (key BLOB PRIMARY KEY, expires INTEGER NOT NULL) WITHOUT ROWID;
                 PRAGMA user_version = 2;",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO jti (key, expires) VALUES (?1, 100)",
                params![&key_of("old")[..]],
            )
            .unwrap();
        }
        let (store, _h) = open(dir.path()).unwrap();
        assert!(
            !store.claim_jti("old", 100).await.unwrap(),
            "replay after migration"
        );
        assert!(store.claim_jti("new", 100).await.unwrap());
        // Expired entries are swept by their key's prefix.
        store.sweep(1_000, 3_600).await.unwrap();
        assert!(store.claim_jti("old", 100).await.unwrap());
    }

    #[tokio::test]
    async fn messages_still_owed_survive_the_schema_2_migration() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join("bedside.db")).unwrap();
            conn.execute_batch(
                "CREATE TABLE messages (visit TEXT NOT NULL, seq INTEGER NOT NULL,
                   ts INTEGER NOT NULL, sender TEXT NOT NULL, kind TEXT NOT NULL,
                   recipients TEXT NOT NULL, remaining INTEGER NOT NULL,
                   body TEXT NOT NULL, PRIMARY KEY (visit, seq));
                 CREATE TABLE pending (visit TEXT NOT NULL, recipient TEXT NOT NULL,
                   seq INTEGER NOT NULL, PRIMARY KEY (visit, recipient, seq)) WITHOUT ROWID;
                 CREATE TABLE visit_seq (visit TEXT PRIMARY KEY, next INTEGER NOT NULL) WITHOUT ROWID;
                 INSERT INTO visit_seq VALUES ('v', 4);
                 INSERT INTO messages VALUES ('v', 1, 5, 'dr', 'chat', '[\"a\",\"b\"]', 1, 'AAAA');
                 INSERT INTO messages VALUES ('v', 2, 6, 'dr', 'key', '[\"a\"]', 0, 'BBBB');
                 INSERT INTO messages VALUES ('v', 3, 7, 'a', 'chat', '[\"b\"]', 1, 'CCCC');
                 INSERT INTO pending VALUES ('v', 'b', 1);
                 INSERT INTO pending VALUES ('v', 'b', 3);",
            )
            .unwrap();
        }
        let (store, _h) = open(dir.path()).unwrap();
        let v = VisitId::new("v").unwrap();
        let b = store
            .enqueue_backlog(&v, &ParticipantId::new("b").unwrap(), 0)
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(b.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(b[1].body, "CCCC");
        assert_eq!(b[1].to, [ParticipantId::new("b").unwrap()]);
        assert_eq!(owed(&store, &v, "a", 0).await, Vec::<u64>::new());
        assert_eq!(append(&store, &v, to("dr", &["a"])).await, 4);
        assert_eq!(rows(&store, dir.path()).await, 3);
    }

    /// Under writes that never pause, the log still starts over: its file
    /// stays far smaller than what went through it (it grew by every byte
    /// written before, as a PASSIVE checkpoint never finds the log entirely
    /// folded in while the store thread commits batch after batch).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_starts_over_under_writes_that_never_pause() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _h) = open(dir.path()).unwrap();
        let body = "A".repeat(40 * 1024);
        let written = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let start = std::time::Instant::now();
        let min_bytes = 64 << 20;
        let mut writers = Vec::new();
        for w in 0..8 {
            let (store, body, written) = (store.clone(), body.clone(), written.clone());
            writers.push(tokio::spawn(async move {
                let v = VisitId::new(format!("v{w}")).unwrap();
                let m = StoredMessage {
                    body,
                    ..to("dr", &["pt"])
                };
                while written.load(std::sync::atomic::Ordering::Relaxed) < min_bytes
                    || start.elapsed() < std::time::Duration::from_millis(1200)
                {
                    append(&store, &v, m.clone()).await;
                    written.fetch_add(40 * 1024, std::sync::atomic::Ordering::Relaxed);
                }
            }));
        }
        for w in writers {
            w.await.unwrap();
        }
        let written = written.load(std::sync::atomic::Ordering::Relaxed);
        let wal = std::fs::metadata(dir.path().join("bedside.db-wal"))
            .unwrap()
            .len();
        assert!(
            wal < written / 2,
            "log file {wal} bytes after {written} bytes written"
        );
    }

    #[tokio::test]
    async fn concurrent_callers_share_batches() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _h) = open(dir.path()).unwrap();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                s.claim_jti(&format!("j{i}"), 10).await
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap().unwrap());
        }
        assert_eq!(store.sweep(11, 86_400).await.unwrap(), 200);
    }
}

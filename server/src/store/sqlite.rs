//! The embedded store: SQLite in WAL mode with `synchronous = FULL`, owned by
//! one thread. The thread takes every command waiting in its queue, runs them
//! in one transaction, commits (one fsync for the batch), then replies.
//!
//! Tables: `jti` (replay cache), `resume` (one live resume token per
//! participant, by SHA-256), `participants` (JSON record per participant),
//! `ended_visits`, `visit_seq` (next e2e seq per visit), `messages` (e2e
//! bodies with a count of recipients still owed them), `pending` (one row per
//! recipient and message until that recipient acks).
//!
//! Deletion: `secure_delete` zeroes freed pages, and after a batch that
//! deleted message bodies (end of visit, retention sweep) the write-ahead log
//! is checkpointed and truncated, so no body outlives its deletion on disk.

use super::{Command, ResumeRecord, Store, StoreError, StoredMessage, VisitSnapshot, VisitWrite};
use bedside_protocol::{E2eKind, ParticipantId};
use rusqlite::{Connection, OptionalExtension, params};
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
    let (tx, rx) = mpsc::channel(4096);
    let handle = std::thread::Builder::new()
        .name("bedside-store".into())
        .spawn(move || run(conn, rx))
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok((Store::new(tx), handle))
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn init(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;
         PRAGMA secure_delete = ON;
         CREATE TABLE IF NOT EXISTS jti (
             key BLOB PRIMARY KEY,
             expires INTEGER NOT NULL
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
         CREATE TABLE IF NOT EXISTS messages (
             visit TEXT NOT NULL,
             seq INTEGER NOT NULL,
             ts INTEGER NOT NULL,
             sender TEXT NOT NULL,
             kind TEXT NOT NULL,
             recipients TEXT NOT NULL,
             remaining INTEGER NOT NULL,
             body TEXT NOT NULL,
             PRIMARY KEY (visit, seq)
         );
         CREATE INDEX IF NOT EXISTS messages_by_ts ON messages (ts);
         CREATE TABLE IF NOT EXISTS pending (
             visit TEXT NOT NULL,
             recipient TEXT NOT NULL,
             seq INTEGER NOT NULL,
             PRIMARY KEY (visit, recipient, seq)
         ) WITHOUT ROWID;",
    )
    .map_err(backend)
}

/// A reply to send once the batch is durable.
enum Pending {
    Bool(tokio::sync::oneshot::Sender<Result<bool, StoreError>>, bool),
    Unit(tokio::sync::oneshot::Sender<Result<(), StoreError>>),
    Resume(
        tokio::sync::oneshot::Sender<Result<Option<ResumeRecord>, StoreError>>,
        Option<ResumeRecord>,
    ),
    Visit(
        tokio::sync::oneshot::Sender<Result<VisitSnapshot, StoreError>>,
        VisitSnapshot,
    ),
    Count(tokio::sync::oneshot::Sender<Result<u64, StoreError>>, u64),
    Messages(
        tokio::sync::oneshot::Sender<Result<Vec<StoredMessage>, StoreError>>,
        Vec<StoredMessage>,
    ),
}

impl Pending {
    fn ok(self) {
        // A dropped receiver means the caller went away; nothing to do.
        let _ = match self {
            Pending::Bool(tx, v) => tx.send(Ok(v)).map_err(drop),
            Pending::Unit(tx) => tx.send(Ok(())).map_err(drop),
            Pending::Resume(tx, v) => tx.send(Ok(v)).map_err(drop),
            Pending::Visit(tx, v) => tx.send(Ok(v)).map_err(drop),
            Pending::Count(tx, v) => tx.send(Ok(v)).map_err(drop),
            Pending::Messages(tx, v) => tx.send(Ok(v)).map_err(drop),
        };
    }

    fn fail(self, e: StoreError) {
        let _ = match self {
            Pending::Bool(tx, _) => tx.send(Err(e)).map_err(drop),
            Pending::Unit(tx) => tx.send(Err(e)).map_err(drop),
            Pending::Resume(tx, _) => tx.send(Err(e)).map_err(drop),
            Pending::Visit(tx, _) => tx.send(Err(e)).map_err(drop),
            Pending::Count(tx, _) => tx.send(Err(e)).map_err(drop),
            Pending::Messages(tx, _) => tx.send(Err(e)).map_err(drop),
        };
    }
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Command>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        execute_batch(&mut conn, &mut batch);
    }
    // Channel closed: every handle dropped. WAL is checkpointed on close.
    drop(conn);
}

fn execute_batch(conn: &mut Connection, batch: &mut Vec<Command>) {
    let mut pending = Vec::with_capacity(batch.len());
    let purge = batch.iter().any(deletes_bodies);
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            let err = backend(e);
            for cmd in batch.drain(..) {
                fail_command(cmd, err.clone());
            }
            return;
        }
    };
    for cmd in batch.drain(..) {
        // Each command runs in a savepoint so one failure does not undo the others.
        pending.push(apply(&tx, cmd).map_err(|b| *b));
    }
    match tx.commit() {
        Ok(()) => {
            if purge {
                // Deleted bodies may still sit in WAL frames: fold the log into
                // the (securely deleted) database and truncate it.
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
                    tracing::warn!(error = %e, "WAL checkpoint after deletion failed");
                }
            }
            for p in pending {
                match p {
                    Ok(p) => p.ok(),
                    Err((p, e)) => p.fail(e),
                }
            }
        }
        Err(e) => {
            let err = backend(e);
            for p in pending {
                match p {
                    Ok(p) | Err((p, _)) => p.fail(err.clone()),
                }
            }
        }
    }
}

/// Runs a parameterless statement, prepared once per connection.
fn exec_cached(tx: &rusqlite::Transaction<'_>, sql: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(sql)?.execute([]).map(drop)
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

/// The reply slot of a command that will not run, with a placeholder value.
fn unanswered(cmd: Command) -> Pending {
    match cmd {
        Command::ClaimJti { reply, .. } => Pending::Bool(reply, false),
        Command::PutResume { reply, .. } | Command::WriteVisit { reply, .. } => {
            Pending::Unit(reply)
        }
        Command::TakeResume { reply, .. } => Pending::Resume(reply, None),
        Command::LoadVisit { reply, .. } => Pending::Visit(reply, VisitSnapshot::default()),
        Command::Sweep { reply, .. } => Pending::Count(reply, 0),
        Command::AppendMessage { reply, .. } => Pending::Count(reply, 0),
        Command::Backlog { reply, .. } => Pending::Messages(reply, Vec::new()),
    }
}

fn fail_command(cmd: Command, e: StoreError) {
    unanswered(cmd).fail(e);
}

type Applied = Result<Pending, Box<(Pending, StoreError)>>;

/// Runs one command inside a savepoint, so a failing command leaves the rest
/// of the batch intact.
fn apply(tx: &rusqlite::Transaction<'_>, cmd: Command) -> Applied {
    if let Err(e) = exec_cached(tx, "SAVEPOINT cmd") {
        return Err(Box::new((unanswered(cmd), backend(e))));
    }
    let (pending, result) = match cmd {
        Command::ClaimJti {
            key,
            expires,
            reply,
        } => match claim_jti(tx, &key, expires) {
            Ok(fresh) => (Pending::Bool(reply, fresh), Ok(())),
            Err(e) => (Pending::Bool(reply, false), Err(e)),
        },
        Command::PutResume { key, record, reply } => {
            (Pending::Unit(reply), put_resume(tx, &key, &record))
        }
        Command::TakeResume { key, now, reply } => match take_resume(tx, &key, now) {
            Ok(r) => (Pending::Resume(reply, r), Ok(())),
            Err(e) => (Pending::Resume(reply, None), Err(e)),
        },
        Command::LoadVisit { visit, reply } => match load_visit(tx, visit.as_str()) {
            Ok(s) => (Pending::Visit(reply, s), Ok(())),
            Err(e) => (Pending::Visit(reply, VisitSnapshot::default()), Err(e)),
        },
        Command::WriteVisit {
            visit,
            writes,
            reply,
        } => (
            Pending::Unit(reply),
            write_visit(tx, visit.as_str(), &writes),
        ),
        Command::Sweep {
            now,
            retention_s,
            reply,
        } => match sweep(tx, now, retention_s) {
            Ok(n) => (Pending::Count(reply, n), Ok(())),
            Err(e) => (Pending::Count(reply, 0), Err(e)),
        },
        Command::AppendMessage {
            visit,
            message,
            reply,
        } => match append(tx, visit.as_str(), &message) {
            Ok(seq) => (Pending::Count(reply, seq), Ok(())),
            Err(e) => (Pending::Count(reply, 0), Err(e)),
        },
        Command::Backlog {
            visit,
            recipient,
            after,
            reply,
        } => match backlog(tx, visit.as_str(), recipient.as_str(), after) {
            Ok(m) => (Pending::Messages(reply, m), Ok(())),
            Err(e) => (Pending::Messages(reply, Vec::new()), Err(e)),
        },
    };
    match result {
        Ok(()) => match exec_cached(tx, "RELEASE cmd") {
            Ok(()) => Ok(pending),
            Err(e) => Err(Box::new((pending, backend(e)))),
        },
        Err(e) => {
            // Undo this command's partial effects; the batch goes on.
            let _ = exec_cached(tx, "ROLLBACK TO cmd");
            let _ = exec_cached(tx, "RELEASE cmd");
            Err(Box::new((pending, e)))
        }
    }
}

fn claim_jti(
    tx: &rusqlite::Transaction<'_>,
    key: &[u8; 32],
    expires: i64,
) -> Result<bool, StoreError> {
    let n = tx
        .prepare_cached("INSERT OR IGNORE INTO jti (key, expires) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![&key[..], expires]))
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

fn write_visit(
    tx: &rusqlite::Transaction<'_>,
    visit: &str,
    writes: &[VisitWrite],
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
                release_pending(tx, visit, id.as_str(), i64::MAX)?;
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
                for sql in [
                    "DELETE FROM participants WHERE visit = ?1",
                    "DELETE FROM resume WHERE visit = ?1",
                    "DELETE FROM pending WHERE visit = ?1",
                    "DELETE FROM messages WHERE visit = ?1",
                    "DELETE FROM visit_seq WHERE visit = ?1",
                ] {
                    tx.prepare_cached(sql)
                        .and_then(|mut s| s.execute(params![visit]))
                        .map_err(backend)?;
                }
            }
            VisitWrite::Acked { participant, upto } => {
                let upto = i64::try_from(*upto).unwrap_or(i64::MAX);
                release_pending(tx, visit, participant.as_str(), upto)?;
            }
        }
    }
    Ok(())
}

/// Drops `recipient`'s claims on messages up to `upto`, and every message
/// nobody is owed any more. Set-based: three statements however many
/// messages the ack covers.
fn release_pending(
    tx: &rusqlite::Transaction<'_>,
    visit: &str,
    recipient: &str,
    upto: i64,
) -> Result<(), StoreError> {
    let run = |sql: &str, p: &[&dyn rusqlite::ToSql]| {
        tx.prepare_cached(sql)
            .and_then(|mut s| s.execute(p))
            .map_err(backend)
    };
    run(
        "UPDATE messages SET remaining = remaining - 1
         WHERE visit = ?1 AND seq IN
           (SELECT seq FROM pending WHERE visit = ?1 AND recipient = ?2 AND seq <= ?3)",
        &[&visit, &recipient, &upto],
    )?;
    run(
        "DELETE FROM pending WHERE visit = ?1 AND recipient = ?2 AND seq <= ?3",
        &[&visit, &recipient, &upto],
    )?;
    run(
        "DELETE FROM messages WHERE visit = ?1 AND seq <= ?2 AND remaining <= 0",
        &[&visit, &upto],
    )?;
    Ok(())
}

fn kind_str(k: E2eKind) -> &'static str {
    match k {
        E2eKind::Chat => "chat",
        E2eKind::Key => "key",
        E2eKind::Receipt => "receipt",
    }
}

fn parse_kind(s: &str) -> E2eKind {
    match s {
        "key" => E2eKind::Key,
        "receipt" => E2eKind::Receipt,
        _ => E2eKind::Chat,
    }
}

/// Stores a message under the visit's next seq and returns that seq.
fn append(
    tx: &rusqlite::Transaction<'_>,
    visit: &str,
    m: &StoredMessage,
) -> Result<u64, StoreError> {
    let seq: i64 = tx
        .prepare_cached(
            "INSERT INTO visit_seq (visit, next) VALUES (?1, 2)
             ON CONFLICT (visit) DO UPDATE SET next = next + 1
             RETURNING next - 1",
        )
        .and_then(|mut s| s.query_row(params![visit], |r| r.get(0)))
        .map_err(backend)?;
    let recipients: Vec<&str> = m.to.iter().map(|p| p.as_str()).collect();
    let recipients_json =
        serde_json::to_string(&recipients).map_err(|e| StoreError::Backend(e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO messages (visit, seq, ts, sender, kind, recipients, remaining, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            visit,
            seq,
            m.ts,
            m.from.as_str(),
            kind_str(m.kind),
            recipients_json,
            recipients.len() as i64,
            m.body
        ])
    })
    .map_err(backend)?;
    let mut stmt = tx
        .prepare_cached("INSERT OR IGNORE INTO pending (visit, recipient, seq) VALUES (?1, ?2, ?3)")
        .map_err(backend)?;
    for r in &recipients {
        stmt.execute(params![visit, r, seq]).map_err(backend)?;
    }
    u64::try_from(seq).map_err(|_| StoreError::Backend("negative seq".into()))
}

fn backlog(
    tx: &rusqlite::Transaction<'_>,
    visit: &str,
    recipient: &str,
    after: u64,
) -> Result<Vec<StoredMessage>, StoreError> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let mut stmt = tx
        .prepare_cached(
            "SELECT m.seq, m.ts, m.sender, m.kind, m.recipients, m.body
             FROM pending p JOIN messages m ON m.visit = p.visit AND m.seq = p.seq
             WHERE p.visit = ?1 AND p.recipient = ?2 AND p.seq > ?3
             ORDER BY p.seq",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![visit, recipient, after], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })
        .map_err(backend)?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, ts, from, kind, to, body) = row.map_err(backend)?;
        let corrupt = |what: &str| StoreError::Backend(format!("corrupt message {seq}: {what}"));
        let to: Vec<ParticipantId> =
            serde_json::from_str(&to).map_err(|_| corrupt("recipients"))?;
        out.push(StoredMessage {
            seq: u64::try_from(seq).map_err(|_| corrupt("seq"))?,
            ts,
            from: ParticipantId::new(from).map_err(|_| corrupt("sender"))?,
            to,
            kind: parse_kind(&kind),
            body,
        });
    }
    Ok(out)
}

fn sweep(tx: &rusqlite::Transaction<'_>, now: i64, retention_s: u64) -> Result<u64, StoreError> {
    let a = tx
        .execute("DELETE FROM jti WHERE expires < ?1", params![now])
        .map_err(backend)?;
    let b = tx
        .execute("DELETE FROM resume WHERE expires < ?1", params![now])
        .map_err(backend)?;
    let cutoff_ms = now
        .saturating_sub(i64::try_from(retention_s).unwrap_or(i64::MAX))
        .saturating_mul(1000);
    let c = tx
        .execute("DELETE FROM messages WHERE ts < ?1", params![cutoff_ms])
        .map_err(backend)?;
    tx.execute(
        "DELETE FROM pending WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.visit = pending.visit AND m.seq = pending.seq)",
        [],
    )
    .map_err(backend)?;
    Ok((a + b + c) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ParticipantRecord;
    use bedside_protocol::{ParticipantId, Role, VisitId};

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

//! The store thread: it takes every command waiting in its queue (at most
//! [`MAX_BATCH`]), runs them in one transaction and hands the commit to
//! [`WalSync`], which answers them once the batch is durable. A batch that
//! fails runs again one command per transaction; after a batch that deleted
//! message bodies the write-ahead log is checkpointed and truncated; between
//! batches the log starts over when the checkpointer found it long.

use super::operations::apply;
use super::schema::init;
use super::{aside, backend, connect, export, replace};
use crate::at_rest::DataKey;
use crate::store::checkpointer::{self, Checkpointer};
use crate::store::e2e_log::MessageLog;
use crate::store::outcome::{Outcome, answer};
use crate::store::wal_sync::{Committed, WalSync};
use crate::store::{Command, StoreError, VisitWrite};
use rusqlite::{Connection, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Most commands executed in one transaction.
const MAX_BATCH: usize = 512;

/// The store thread's state: the connection and each visit's next `seq`,
/// cached so an append costs one insert (the counter row is written once
/// per visit per batch).
/// Fields drop in order: the last answers go out, the checkpointer stops,
/// then the connection closes.
pub(super) struct Backend {
    sync: WalSync,
    checkpointer: Checkpointer,
    next_seq: HashMap<String, i64>,
    log: MessageLog,
    conn: Connection,
    db: PathBuf,
    key: Option<DataKey>,
}

pub(super) fn run(mut backend: Backend, mut rx: mpsc::Receiver<Command>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        // A re-encryption is not part of a transaction: the batch before it
        // runs first, the commands after it wait for it.
        let mut rekey = None;
        match first {
            Command::Rekey { key, reply } => rekey = Some((key, reply)),
            c => batch.push(c),
        }
        while rekey.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Command::Rekey { key, reply }) => rekey = Some((key, reply)),
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            backend.execute_batch(&mut batch);
            backend.restart_log_if_long();
        }
        if let Some((key, reply)) = rekey {
            let (next, result) = backend.rekey(key);
            let _ = reply.send(result);
            match next {
                Some(b) => backend = b,
                None => return,
            }
        }
    }
    // Channel closed: every handle dropped. Dropping the backend waits for
    // the last answers; the WAL is checkpointed on close.
}

impl Backend {
    /// Opens the database `db` under `key` (`None`: not encrypted),
    /// migrating its schema.
    pub(super) fn open(db: &Path, key: Option<DataKey>) -> Result<Self, StoreError> {
        let conn = connect(db, key.as_ref())?;
        init(&conn)?;
        Self::new(conn, db, key)
    }

    /// Takes over `conn` (initialized, so in WAL mode) to the database `db`.
    /// A first read opens (creating) its write-ahead log.
    pub(super) fn new(
        conn: Connection,
        db: &Path,
        key: Option<DataKey>,
    ) -> Result<Self, StoreError> {
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(backend)?;
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        Ok(Self {
            sync: WalSync::start(Path::new(&wal))?,
            checkpointer: Checkpointer::start(db, key.as_ref())?,
            next_seq: HashMap::new(),
            log: MessageLog::load(&conn)?,
            conn,
            db: db.to_owned(),
            key,
        })
    }

    /// Re-encrypts the database under `key`, between two batches: the log
    /// is folded in and truncated, a copy is written under the new key
    /// beside the database, the connections close, and the copy takes the
    /// database's place (one rename: a crash leaves the old file or the new
    /// one, both whole). The store then runs on under the new key, or under
    /// the old one if the copy failed. `None`: the database cannot be
    /// opened again; the store stops.
    pub(super) fn rekey(mut self, key: DataKey) -> (Option<Self>, Result<(), StoreError>) {
        let db = self.db.clone();
        let tmp = aside(&db, "rekey");
        self.checkpointer.stop();
        let copied = self
            .fold_log()
            .and_then(|()| export(&self.conn, &tmp, Some(&key)));
        let old = self.key.clone();
        drop(self);
        let (key, result) = match copied.and_then(|()| replace(&db, &tmp)) {
            Ok(()) => (Some(key), Ok(())),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                (old, Err(e))
            }
        };
        match Self::open(&db, key) {
            Ok(b) => (Some(b), result),
            Err(e) => {
                tracing::error!(error = %e, "the store cannot be opened after re-encryption; it is stopped");
                (None, result.and(Err(e)))
            }
        }
    }

    /// Folds the whole log into the database and truncates it, or fails.
    fn fold_log(&self) -> Result<(), StoreError> {
        for _ in 0..500 {
            let pass = checkpointer::checkpoint_truncate(&self.conn)?;
            if pass.complete() {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Err(StoreError::Backend(
            "the write-ahead log could not be folded in (a reader kept it busy)".into(),
        ))
    }

    /// Runs every command of the batch in one transaction and answers them
    /// once it is committed. Commands fail only on database errors; if one
    /// does, the transaction is rolled back and each command runs again in a
    /// transaction of its own, so one bad command does not fail the others.
    pub(super) fn execute_batch(&mut self, batch: &mut Vec<Command>) {
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
            match checkpointer::checkpoint_truncate(&self.conn) {
                Ok(p) if p.complete() => return,
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

//! Checkpoints of the embedded store's write-ahead log, off the store
//! thread. SQLite's automatic checkpoint runs inside the commit that crosses
//! its threshold, which would stall every command queued behind it for two
//! fsyncs and a copy; instead this thread, with a connection of its own,
//! runs a PASSIVE checkpoint every [`EVERY`] (it never blocks the writer).
//! The store thread still runs a TRUNCATE checkpoint itself right after it
//! deletes message bodies, so they leave the log at once.
//!
//! A PASSIVE checkpoint never lets the log start over under steady load:
//! SQLite rewinds the log only when a write transaction begins on a log
//! that is entirely folded in, and the store thread commits batch after
//! batch while each pass runs, so the log grew by every byte written
//! (0.5 GB in 18 s of chat at 12,000 msg/s), each write landing on freshly
//! allocated file blocks. When a pass finds the log longer than
//! [`RESTART_FRAMES`], it asks the store thread to fold in the little that
//! is left between two batches ([`Checkpointer::restart_wanted`]); the next
//! batch then starts the log over, reusing its blocks.

use super::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// How often the log is folded into the database.
const EVERY: Duration = Duration::from_millis(200);

/// Log length (frames of one page each, ~4 KiB) past which the log should
/// start over: about 8 MiB.
const RESTART_FRAMES: i64 = 2048;

/// Stops the thread (after one last checkpoint) when dropped.
pub(super) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    restart: Arc<AtomicBool>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`.
    pub fn start(path: &Path, key: Option<&crate::at_rest::DataKey>) -> Result<Self, StoreError> {
        let conn = super::sqlite::connect(path, key)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let (stop, rx) = mpsc::channel::<()>();
        let restart = Arc::new(AtomicBool::new(false));
        let wanted = restart.clone();
        let thread = std::thread::Builder::new()
            .name("bedside-store-ckpt".into())
            .spawn(move || {
                loop {
                    let last =
                        !matches!(rx.recv_timeout(EVERY), Err(mpsc::RecvTimeoutError::Timeout));
                    match checkpoint(&conn) {
                        Ok(pass) if pass.log > RESTART_FRAMES => {
                            wanted.store(true, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                    }
                    if last {
                        return;
                    }
                }
            })
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
            restart,
        })
    }

    /// The log has grown long: the store thread should call [`checkpoint`]
    /// between two batches (and [`Self::restarted`] once a pass is complete).
    pub fn restart_wanted(&self) -> bool {
        self.restart.load(Ordering::Relaxed)
    }

    /// The log was folded in entirely; the next write starts it over.
    pub fn restarted(&self) {
        self.restart.store(false, Ordering::Relaxed);
    }
}

/// What a checkpoint found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pass {
    /// Another checkpoint was running: nothing was done.
    pub busy: bool,
    /// Frames in the log.
    pub log: i64,
    /// Frames of the log now in the database.
    pub folded: i64,
}

impl Pass {
    /// The log is folded in entirely: the next write transaction starts it over.
    pub fn complete(&self) -> bool {
        !self.busy && self.log == self.folded
    }
}

/// A PASSIVE checkpoint on `conn` (it never waits for the writer).
pub(super) fn checkpoint(conn: &Connection) -> rusqlite::Result<Pass> {
    pass(conn, "PRAGMA wal_checkpoint(PASSIVE)")
}

/// A TRUNCATE checkpoint: the log folded in and emptied, if not busy. It
/// never waits on a reader (a backup's long read): busy, it says so at once
/// and the caller tries again between batches.
pub(crate) fn checkpoint_truncate(conn: &Connection) -> Result<Pass, StoreError> {
    let e = |e: rusqlite::Error| StoreError::Backend(e.to_string());
    conn.busy_timeout(Duration::ZERO).map_err(e)?;
    let r = pass(conn, "PRAGMA wal_checkpoint(TRUNCATE)").map_err(e);
    conn.busy_timeout(Duration::from_secs(5)).map_err(e)?;
    r
}

fn pass(conn: &Connection, sql: &str) -> rusqlite::Result<Pass> {
    conn.query_row(sql, [], |r| {
        Ok(Pass {
            busy: r.get::<_, i64>(0)? != 0,
            log: r.get(1)?,
            folded: r.get(2)?,
        })
    })
}

impl Checkpointer {
    /// Stops the thread (its connection closes); idempotent.
    pub fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

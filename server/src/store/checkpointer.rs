//! Checkpoints of the embedded store's write-ahead log, off the store
//! thread. SQLite's automatic checkpoint runs inside the commit that crosses
//! its threshold, which would stall every command queued behind it for two
//! fsyncs and a copy; instead this thread, with a connection of its own,
//! runs a PASSIVE checkpoint every [`EVERY`] (it never blocks the writer).
//! The store thread still runs a TRUNCATE checkpoint itself right after it
//! deletes message bodies, so they leave the log at once.

use super::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// How often the log is folded into the database.
const EVERY: Duration = Duration::from_millis(200);

/// Stops the thread (after one last checkpoint) when dropped.
pub(super) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`.
    pub fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(|e| StoreError::Backend(e.to_string()))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let (stop, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bedside-store-ckpt".into())
            .spawn(move || {
                loop {
                    let last =
                        !matches!(rx.recv_timeout(EVERY), Err(mpsc::RecvTimeoutError::Timeout));
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
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
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

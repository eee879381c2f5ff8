//! Durability for the embedded store, pipelined: SQLite commits each batch
//! with `synchronous = NORMAL` (frames written to the write-ahead log, no
//! fsync), and this thread makes them durable with `fdatasync` on the log
//! before any command of the batch is answered. While it waits on the disk,
//! the store thread already runs the next batch; one `fdatasync` covers every
//! batch committed before it started (group commit across batches).
//!
//! Answers go out in commit order, each only after a sync that began after
//! its batch committed, so a reply still means "on disk", as with
//! `synchronous = FULL`. If a sync fails, what the kernel holds of the log can
//! no longer be trusted: that batch and every later one are answered with an
//! error and the store stays failed until restart (recovery then reads the
//! log as it is on disk).

use super::StoreError;
use std::fs::File;
use std::path::Path;
use std::sync::mpsc;

/// A batch's answers, sent once the log is durable (`Ok`) or not (`Err`).
pub(super) type Answer = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A committed batch waiting for durability.
pub(super) struct Committed {
    /// Whether the batch wrote anything (read-only batches need no sync of
    /// their own, but still wait for the syncs before them: order is kept).
    pub dirty: bool,
    /// Answers its commands.
    pub answer: Answer,
}

/// The store thread's end: hands committed batches over.
pub(super) struct WalSync {
    tx: Option<mpsc::Sender<Committed>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WalSync {
    /// Starts the sync thread for the write-ahead log at `wal` (the
    /// database file's path with `-wal`), which must exist.
    pub fn start(wal: &Path) -> Result<Self, StoreError> {
        let file = File::options()
            .read(true)
            .write(true)
            .open(wal)
            .map_err(|e| StoreError::Backend(format!("{}: {e}", wal.display())))?;
        // The log's directory entry must be durable too.
        if let Some(dir) = wal.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| StoreError::Backend(format!("{}: {e}", dir.display())))?;
        }
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("bedside-store-sync".into())
            .spawn(move || run(&file, &rx, |f| f.sync_data()))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues a committed batch; its answers run once it is durable.
    pub fn committed(&self, batch: Committed) {
        if let Some(tx) = &self.tx
            && let Err(mpsc::SendError(batch)) = tx.send(batch)
        {
            (batch.answer)(Err(StoreError::Unavailable));
        }
    }
}

impl Drop for WalSync {
    /// Waits until every queued batch has been answered.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Takes every batch waiting, syncs once if any wrote, answers them in order.
fn run(file: &File, rx: &mpsc::Receiver<Committed>, sync: impl Fn(&File) -> std::io::Result<()>) {
    let mut failed: Option<StoreError> = None;
    while let Ok(first) = rx.recv() {
        let mut ready = vec![first];
        ready.extend(rx.try_iter());
        if failed.is_none()
            && ready.iter().any(|b| b.dirty)
            && let Err(e) = sync(file)
        {
            tracing::error!(error = %e, "fdatasync of the store's log failed; store unavailable until restart");
            failed = Some(StoreError::Backend(format!("log sync failed: {e}")));
        }
        for b in ready {
            (b.answer)(match &failed {
                None => Ok(()),
                Some(e) => Err(e.clone()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn batch(log: &Arc<Mutex<Vec<(u32, bool)>>>, n: u32, dirty: bool) -> Committed {
        let log = log.clone();
        Committed {
            dirty,
            answer: Box::new(move |r| log.lock().unwrap().push((n, r.is_ok()))),
        }
    }

    #[test]
    fn answers_in_order_after_a_sync_and_fails_for_good_after_a_failed_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("wal")).unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let syncs = Arc::new(Mutex::new(0u32));
        let (tx, rx) = mpsc::channel();
        for (n, dirty) in [(1, true), (2, false), (3, true)] {
            tx.send(batch(&log, n, dirty)).unwrap();
        }
        drop(tx);
        let s = syncs.clone();
        run(&file, &rx, |_| {
            *s.lock().unwrap() += 1;
            Ok(())
        });
        assert_eq!(*log.lock().unwrap(), [(1, true), (2, true), (3, true)]);
        assert_eq!(*syncs.lock().unwrap(), 1, "one sync covers all three");

        // Read-only batches alone need no sync.
        let (tx, rx) = mpsc::channel();
        tx.send(batch(&log, 4, false)).unwrap();
        drop(tx);
        run(&file, &rx, |_| panic!("no sync needed"));

        // A failed sync fails its batches and all later ones.
        log.lock().unwrap().clear();
        let (tx, rx) = mpsc::channel();
        tx.send(batch(&log, 5, true)).unwrap();
        let t = std::thread::spawn(move || {
            run(&file, &rx, |_| Err(std::io::Error::other("disk gone")))
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        tx.send(batch(&log, 6, false)).unwrap();
        drop(tx);
        t.join().unwrap();
        assert_eq!(*log.lock().unwrap(), [(5, false), (6, false)]);
    }
}

//! The embedded store's write-ahead log under writes that never pause: it
//! still starts over, so its file stays far smaller than what went through
//! it (it grew by every byte written before, as a PASSIVE checkpoint never
//! finds the log entirely folded in while the store thread commits batch
//! after batch). A test binary of its own: on two cores, the library's
//! other tests running beside it starved the checkpointer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bedside_protocol::{E2eKind, ParticipantId, VisitId};
use bedside_server::store::StoredMessage;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_starts_over_under_writes_that_never_pause() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _h) = bedside_server::store::sqlite::open(dir.path(), None).unwrap();
    let body = "A".repeat(40 * 1024);
    let written = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let min_bytes = 64 << 20;
    let mut writers = Vec::new();
    for w in 0..8 {
        let (store, body, written) = (store.clone(), body.clone(), written.clone());
        writers.push(tokio::spawn(async move {
            let v = VisitId::new(format!("v{w}")).unwrap();
            let m = StoredMessage {
                seq: 0,
                ts: 1,
                from: ParticipantId::new("dr").unwrap(),
                to: vec![ParticipantId::new("pt").unwrap()],
                kind: E2eKind::Chat,
                body,
            };
            while written.load(Ordering::Relaxed) < min_bytes
                || start.elapsed() < Duration::from_millis(1200)
            {
                store
                    .enqueue_append(&v, None, m.clone())
                    .await
                    .unwrap()
                    .await
                    .unwrap();
                written.fetch_add(40 * 1024, Ordering::Relaxed);
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let written = written.load(Ordering::Relaxed);
    let wal = std::fs::metadata(dir.path().join("bedside.db-wal"))
        .unwrap()
        .len();
    assert!(
        wal < written / 2,
        "log file {wal} bytes after {written} bytes written"
    );
}

//! The audit writer: a task that seals and writes in batches, a thread that
//! runs `fdatasync` (so no write waits behind a sync), checkpoints, and
//! recovery of an existing file at start-up.

use super::peers::{Peers, Published};
use super::record::{Action, Durability, Event, GENESIS, Outcome, seal, timestamp};
use super::verify::{self, CheckpointKeys};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bedside_token::PrivateKey;
use ed25519_dalek::Signer as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// Longest a written record waits for its fsync.
const SYNC_WINDOW: Duration = Duration::from_millis(10);
/// Most records sealed in one batch.
const MAX_BATCH: usize = 1024;

/// Why the audit file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The existing file's chain is broken.
    #[error("audit file is damaged: {0}; move it aside or start a new file with --audit-new-file")]
    Broken(verify::BadLine),
    /// File system trouble.
    #[error("audit: {0}")]
    Io(String),
}

/// What start-up found in an existing file.
#[derive(Debug, Clone, Default)]
pub struct Recovery {
    /// Records already in the file.
    pub existing_records: u64,
    /// A torn last line was set aside: (its length, the side file).
    pub torn_tail: Option<(usize, PathBuf)>,
    /// The damaged file was moved here (`--audit-new-file`).
    pub moved_broken: Option<PathBuf>,
}

enum Req {
    /// A record; its ticket is its position in this channel.
    Record(Box<Event>, Durability),
    /// Sign checkpoints with this key from now on (after one last
    /// checkpoint with the old key).
    Rekey(Box<PrivateKey>),
    Close(oneshot::Sender<()>),
}

/// Handle to the audit writer; cheap to clone.
#[derive(Debug, Clone)]
pub struct Audit {
    inner: Option<Arc<Inner>>,
}

/// Tickets: every record gets the next number, in the order the writer
/// receives them; the writer publishes how far it has written and synced.
#[derive(Debug)]
struct Inner {
    /// (next ticket, sender): taken together so tickets follow channel order.
    tx: std::sync::Mutex<(u64, mpsc::UnboundedSender<Req>)>,
    written: watch::Receiver<u64>,
    synced: watch::Receiver<u64>,
}

/// A record's place in the trail: await [`Logged::durable`] before its effect.
#[derive(Debug, Clone)]
pub struct Logged {
    wait: Option<(watch::Receiver<u64>, u64)>,
}

/// The audit trail could not record an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("audit trail unavailable")]
pub struct AuditUnavailable;

impl Logged {
    /// Resolves once the record reached the asked durability.
    pub async fn durable(self) -> Result<(), AuditUnavailable> {
        let Some((mut rx, ticket)) = self.wait else {
            return Ok(());
        };
        rx.wait_for(|done| *done >= ticket)
            .await
            .map(|_| ())
            .map_err(|_| AuditUnavailable)
    }

    /// Of two records, the one reached last (tickets only grow, so waiting
    /// for it covers both when they ask for the same durability).
    pub fn later(self, other: Logged) -> Logged {
        match (&self.wait, &other.wait) {
            (Some((_, a)), Some((_, b))) if b > a => other,
            (None, Some(_)) => other,
            _ => self,
        }
    }
}

impl Audit {
    /// A trail that records nothing (benchmarks only; never in production).
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    /// Records `event`; [`Logged::durable`] resolves once it is
    /// `durability`-durable.
    pub fn log(&self, event: Event, durability: Durability) -> Logged {
        let Some(inner) = &self.inner else {
            return Logged { wait: None };
        };
        let ticket = {
            let Ok(mut guard) = inner.tx.lock() else {
                return Logged { wait: None };
            };
            guard.0 += 1;
            // A closed channel leaves the watermark short: the wait fails.
            let _ = guard.1.send(Req::Record(Box::new(event), durability));
            guard.0
        };
        let rx = match durability {
            Durability::Written => inner.written.clone(),
            Durability::Synced => inner.synced.clone(),
        };
        Logged {
            wait: Some((rx, ticket)),
        }
    }

    /// Records `event` without waiting.
    pub fn log_detached(&self, event: Event) {
        drop(self.log(event, Durability::Written));
    }

    /// Signs checkpoints with `key` from now on. What was written so far is
    /// first sealed by a CHECKPOINT signed with the old key, naming the new
    /// one (`detail.next_kid`), so every record stays under a signature a
    /// verifier holding both public keys can check. A key with the old
    /// key's `kid` but other material is refused (a kid names one key).
    pub fn rekey(&self, key: PrivateKey) {
        if let Some(inner) = &self.inner
            && let Ok(g) = inner.tx.lock()
        {
            let _ = g.1.send(Req::Rekey(Box::new(key)));
        }
    }

    /// Writes the final CHECKPOINT, syncs, and stops the writer.
    pub async fn close(&self) {
        if let Some(inner) = &self.inner {
            let (tx, rx) = oneshot::channel();
            let sent = inner
                .tx
                .lock()
                .map(|g| g.1.send(Req::Close(tx)).is_ok())
                .unwrap_or(false);
            if sent {
                let _ = rx.await;
            }
        }
    }
}

/// Opens (or creates) the audit file, verifies what it holds (checkpoints
/// signed by `key` or by one of the `retired` public keys), sets a torn
/// last line aside, and starts the writer thread. In a cluster, `peers`
/// names this node (every record carries it) and carries checkpoints to and
/// from the other nodes ([`super::peers`]).
pub fn open(
    path: &Path,
    key: PrivateKey,
    retired: &CheckpointKeys,
    checkpoint_every: u64,
    new_file: bool,
    clock: Arc<dyn crate::clock::Clock>,
    peers: Option<Arc<Peers>>,
) -> Result<(Audit, Recovery), AuditError> {
    let io = |e: std::io::Error| AuditError::Io(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut recovery = Recovery::default();
    let mut keys = retired.clone();
    keys.insert(key.kid.clone(), key.signing_key().verifying_key());
    let (mut last_seq, mut head, mut chain) = (0, GENESIS.to_owned(), String::new());
    if path.exists() {
        let bytes = std::fs::read(path).map_err(io)?;
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if complete < bytes.len() {
            let stamp = clock.now().0;
            let side = side_path(path, &format!("torn-{stamp}"));
            std::fs::write(&side, &bytes[complete..]).map_err(io)?;
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io)?;
            f.set_len(complete as u64).map_err(io)?;
            f.sync_all().map_err(io)?;
            recovery.torn_tail = Some((bytes.len() - complete, side));
        }
        let text = String::from_utf8_lossy(&bytes[..complete]);
        match verify::verify_text(&path.display().to_string(), &text, Some(&keys), true) {
            Ok(v) => {
                last_seq = v.last_seq;
                head = v.head;
                chain = v.first.unwrap_or_default();
                recovery.existing_records = v.records;
            }
            Err(bad) if new_file => {
                let aside = side_path(path, &format!("broken-{}", clock.now().0));
                std::fs::rename(path, &aside).map_err(io)?;
                tracing::warn!(error = %bad, moved_to = %aside.display(), "audit file damaged; starting a new one");
                recovery.moved_broken = Some(aside);
            }
            Err(bad) => return Err(AuditError::Broken(bad)),
        }
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let (written_tx, written) = watch::channel(0u64);
    let (synced_tx, synced) = watch::channel(0u64);
    let sync_file = file.try_clone().map_err(io)?;
    let (sync_tx, sync_rx) = std::sync::mpsc::channel::<SyncAsk>();
    let sync_peers = peers.clone();
    let sync_thread = std::thread::Builder::new()
        .name("bedside-audit-sync".into())
        .spawn(move || syncer(sync_file, sync_rx, synced_tx, sync_peers))
        .map_err(|e| AuditError::Io(e.to_string()))?;
    let w = Writer {
        file,
        clock,
        key,
        checkpoint_every,
        last_seq,
        head,
        chain,
        used_kids: keys.keys().cloned().collect(),
        since_checkpoint: 0,
        peers,
        unsynced_checkpoints: Vec::new(),
        sync_tx: Some(sync_tx),
        sync_thread: Some(sync_thread),
        received: 0,
        written: written_tx,
    };
    tokio::spawn(w.run(rx));
    Ok((
        Audit {
            inner: Some(Arc::new(Inner {
                tx: std::sync::Mutex::new((0, tx)),
                written,
                synced,
            })),
        },
        recovery,
    ))
}

/// A request to the sync thread: everything written so far, up to ticket
/// `upto`, with the checkpoints among it.
struct SyncAsk {
    upto: u64,
    checkpoints: Vec<Published>,
}

/// The sync thread: each request is one `fdatasync` covering every record
/// up to the ticket it names (all written before it was asked for). Only
/// then do the checkpoints it covers go to the other nodes: a peer never
/// names a head this node could still lose in a crash.
fn syncer(
    file: std::fs::File,
    rx: std::sync::mpsc::Receiver<SyncAsk>,
    synced: watch::Sender<u64>,
    peers: Option<Arc<Peers>>,
) {
    while let Ok(mut ask) = rx.recv() {
        // Requests that queued up meanwhile are covered by the same sync.
        while let Ok(more) = rx.try_recv() {
            ask.upto = ask.upto.max(more.upto);
            ask.checkpoints.extend(more.checkpoints);
        }
        if file.sync_data().is_err() {
            tracing::error!(
                "audit trail fdatasync failed; the hub stops rather than act unaudited"
            );
            return; // dropping `synced` fails every wait
        }
        // Queued for the stream before any waiter learns of the sync, so a
        // shutdown that waited for it flushes them too.
        if let Some(peers) = &peers {
            for c in ask.checkpoints {
                peers.publish(c);
            }
        }
        synced.send_replace(ask.upto);
    }
}

fn side_path(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    path.with_file_name(name)
}

struct Writer {
    file: std::fs::File,
    clock: Arc<dyn crate::clock::Clock>,
    key: PrivateKey,
    checkpoint_every: u64,
    last_seq: u64,
    head: String,
    /// The hash of the file's first record (empty before it): which chain.
    chain: String,
    /// Every kid that signed or may have signed this trail (current,
    /// retired, rotated from): a new key must have a fresh one.
    used_kids: std::collections::HashSet<String>,
    since_checkpoint: u64,
    peers: Option<Arc<Peers>>,
    /// Checkpoints written but not yet synced (published once they are).
    unsynced_checkpoints: Vec<Published>,
    /// To the sync thread; `None` once `finish` let it go.
    sync_tx: Option<std::sync::mpsc::Sender<SyncAsk>>,
    sync_thread: Option<std::thread::JoinHandle<()>>,
    /// Records received so far (= the last ticket handed out and taken).
    received: u64,
    /// Published after each write: records written up to this ticket.
    written: watch::Sender<u64>,
}

impl Writer {
    fn seal_into(&mut self, buf: &mut String, event: &Event) {
        self.last_seq += 1;
        let node = self.peers.as_ref().map(|p| p.node());
        let (line, hash) = seal(
            self.last_seq,
            &timestamp(self.clock.now().0),
            node,
            event,
            &self.head,
        );
        buf.push_str(&line);
        buf.push('\n');
        if self.chain.is_empty() {
            self.chain = hash.clone();
        }
        self.head = hash;
    }

    fn checkpoint(&mut self, buf: &mut String, last: bool) {
        self.checkpoint_naming(buf, last, None);
    }

    /// Seals what was written with the current key, then signs with `key`.
    fn rekey(&mut self, buf: &mut String, key: PrivateKey) {
        let same_material =
            key.signing_key().verifying_key() == self.key.signing_key().verifying_key();
        if key.kid == self.key.kid && same_material {
            return; // the same key, read again
        }
        if self.used_kids.contains(&key.kid) {
            tracing::error!(kid = %key.kid, "new audit signing key refused: its kid already named a key of this trail; give it a new kid");
            return;
        }
        self.used_kids.insert(key.kid.clone());
        self.checkpoint_naming(buf, false, Some(key.kid.clone()));
        tracing::info!(from = %self.key.kid, to = %key.kid, "audit signing key rotated");
        self.key = key;
    }

    fn checkpoint_naming(&mut self, buf: &mut String, last: bool, next_kid: Option<String>) {
        let sig =
            URL_SAFE_NO_PAD.encode(self.key.signing_key().sign(self.head.as_bytes()).to_bytes());
        let mut e = Event::new(Action::Checkpoint, Outcome::Success)
            .detail("head", self.head.clone())
            .detail("count", self.last_seq)
            .detail("kid", self.key.kid.clone())
            .detail("sig", sig.clone());
        if last {
            e = e.detail("final", true);
        }
        if let Some(next) = next_kid {
            e = e.detail("next_kid", next);
        }
        if let Some(peers) = &self.peers {
            let seen = peers.seen();
            if !seen.is_empty() {
                e = e.detail("peers", serde_json::to_value(seen).unwrap_or_default());
            }
            self.unsynced_checkpoints.push(Published {
                node: peers.node().to_owned(),
                chain: self.chain.clone(),
                count: self.last_seq,
                head: self.head.clone(),
                kid: self.key.kid.clone(),
                sig,
            });
        }
        self.seal_into(buf, &e);
        self.since_checkpoint = 0;
    }

    /// The writer task: seal everything waiting, write it with one `write`,
    /// tell the `Written` waiters, and hand a sync to the sync thread when a
    /// record asks for it or the oldest unsynced write is 10 ms old.
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Req>) {
        let mut buf = String::with_capacity(64 * 1024);
        let mut unsynced_since: Option<Instant> = None;
        let mut batch = Vec::with_capacity(256);
        loop {
            let got = match unsynced_since {
                Some(t) => {
                    let left = SYNC_WINDOW.saturating_sub(t.elapsed());
                    match tokio::time::timeout(left, rx.recv_many(&mut batch, MAX_BATCH)).await {
                        Ok(n) => n,
                        Err(_) => {
                            // Window over: sync what was written.
                            if !self.ask_sync() {
                                return;
                            }
                            unsynced_since = None;
                            continue;
                        }
                    }
                }
                None => rx.recv_many(&mut batch, MAX_BATCH).await,
            };
            if got == 0 {
                return self.finish(&mut buf, None);
            }
            // Let the tasks that are ready run first: what they log joins
            // this batch, so one write(2) serves many records under load.
            tokio::task::yield_now().await;
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let mut sync_asked = false;
            let mut closing = None;
            for req in batch.drain(..) {
                match req {
                    Req::Record(event, durability) => {
                        self.received += 1;
                        self.seal_into(&mut buf, &event);
                        self.since_checkpoint += 1;
                        if self.since_checkpoint >= self.checkpoint_every {
                            self.checkpoint(&mut buf, false);
                        }
                        sync_asked |= durability == Durability::Synced;
                    }
                    Req::Rekey(key) => self.rekey(&mut buf, *key),
                    Req::Close(tx) => closing = Some(tx),
                }
            }
            if closing.is_some() {
                return self.finish(&mut buf, closing);
            }
            if !buf.is_empty() {
                if !self.write(&mut buf) {
                    return; // waiters dropped: their effects do not happen
                }
                unsynced_since.get_or_insert_with(Instant::now);
            }
            self.written.send_replace(self.received);
            let window_over = unsynced_since.is_some_and(|t| t.elapsed() >= SYNC_WINDOW);
            if sync_asked || window_over {
                if !self.ask_sync() {
                    return;
                }
                unsynced_since = None;
            }
        }
    }

    /// Hands everything written so far to the sync thread (false: it is gone).
    fn ask_sync(&mut self) -> bool {
        let ask = SyncAsk {
            upto: self.received,
            checkpoints: std::mem::take(&mut self.unsynced_checkpoints),
        };
        self.sync_tx.as_ref().is_some_and(|tx| tx.send(ask).is_ok())
    }

    fn write(&mut self, buf: &mut String) -> bool {
        let ok = self.file.write_all(buf.as_bytes()).is_ok();
        buf.clear();
        if !ok {
            self.fail("write failed");
        }
        ok
    }

    fn fail(&self, what: &str) {
        // Returning drops the watermarks: every pending wait fails, its
        // effect is dropped and the hub shuts down.
        tracing::error!("audit trail {what}; the hub stops rather than act unaudited");
    }

    /// Final CHECKPOINT, sync, stop. The sync thread finishes what was
    /// asked of it first, so every earlier checkpoint reaches the stream
    /// before the final one.
    fn finish(&mut self, buf: &mut String, done: Option<oneshot::Sender<()>>) {
        self.sync_tx = None;
        if let Some(t) = self.sync_thread.take() {
            // At most one fdatasync in flight; the process is stopping.
            let _ = t.join();
        }
        self.checkpoint(buf, true);
        if self.write(buf) {
            if self.file.sync_data().is_err() {
                self.fail("fdatasync failed");
            } else if let Some(peers) = &self.peers {
                for c in std::mem::take(&mut self.unsynced_checkpoints) {
                    peers.publish(c);
                }
            }
        }
        if let Some(tx) = done {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail(dir: &Path, checkpoint_every: u64) -> (Audit, PathBuf, CheckpointKeys) {
        let key = PrivateKey::generate("audit-test");
        let mut keys = CheckpointKeys::new();
        keys.insert(key.kid.clone(), key.signing_key().verifying_key());
        let path = dir.join("audit.jsonl");
        let clock = Arc::new(crate::clock::SystemClock);
        let (audit, _) = open(
            &path,
            key,
            &CheckpointKeys::new(),
            checkpoint_every,
            false,
            clock,
            None,
        )
        .expect("open");
        (audit, path, keys)
    }

    fn event(n: u64) -> Event {
        Event::new(Action::SignalOffer, Outcome::Success).detail("bytes", n)
    }

    #[tokio::test]
    async fn unsynced_writes_are_synced_within_the_window_without_more_activity() {
        let dir = tempfile::tempdir().expect("dir");
        let (audit, _, _) = trail(dir.path(), 1000);
        audit
            .log(event(1), Durability::Written)
            .durable()
            .await
            .expect("written");
        let inner = audit.inner.as_ref().expect("enabled");
        let mut synced = inner.synced.clone();
        tokio::time::timeout(Duration::from_secs(5), synced.wait_for(|n| *n >= 1))
            .await
            .expect("synced within the window")
            .expect("sync thread alive");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_loggers_keep_one_chain_and_every_record() {
        let dir = tempfile::tempdir().expect("dir");
        let (audit, path, keys) = trail(dir.path(), 50);
        let mut tasks = Vec::new();
        for t in 0..8u64 {
            let audit = audit.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..250u64 {
                    let d = if i % 10 == 0 {
                        Durability::Synced
                    } else {
                        Durability::Written
                    };
                    audit
                        .log(event(t * 1000 + i), d)
                        .durable()
                        .await
                        .expect("durable");
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        audit.close().await;
        assert!(
            audit
                .log(event(0), Durability::Written)
                .durable()
                .await
                .is_err(),
            "closed: later records fail"
        );
        let text = std::fs::read_to_string(&path).expect("read");
        let v = verify::verify_text("audit.jsonl", &text, Some(&keys), false).expect("chain");
        // 2,000 records, a checkpoint after every 50, and the final one.
        assert_eq!(v.records - v.checkpoints, 2000);
        assert_eq!(v.checkpoints, 41);
        assert_eq!(v.signatures_checked, 41);
    }
}

//! Durable hub state behind one small interface: the replay cache, resume
//! tokens, participant records (admission, permissions, tracks, key bundles),
//! ended visits, and end-to-end messages with their per-visit `seq`. The
//! embedded default is SQLite ([`sqlite`]).
//!
//! Messages: the backend assigns each visit's `seq` inside the transaction
//! that stores the message, so a failed write consumes no number and the
//! sequence has no gaps. Commands are executed in the order they were
//! enqueued, so replies for one visit's appends arrive in `seq` order.
//!
//! The interface is a command channel: [`Store`] sends [`Command`]s to a
//! backend that owns the database and answers each on a oneshot. A backend
//! executes every command waiting in its queue in one transaction and replies
//! only after that transaction is durable (group commit), so a reply always
//! means "on disk". Nothing here knows SQL; a Redis backend can serve the same
//! commands ([`redis`], for several nodes).
//!
//! Writes a visit's owner makes carry its [`Fence`]: a backend shared by
//! several nodes refuses them once another node holds the visit.

mod checkpointer;
mod e2e_log;
mod outcome;
pub mod redis;
pub mod sqlite;
mod wal_sync;

use bedside_protocol::time::UnixSecs;
use bedside_protocol::{ParticipantId, VisitId};
use tokio::sync::{mpsc, oneshot};

/// The store failed; the operation may not have happened.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend is gone (shut down or crashed).
    #[error("store unavailable")]
    Unavailable,
    /// The database reported an error.
    #[error("store: {0}")]
    Backend(String),
    /// The write came from a node that no longer owns the visit (its lease
    /// lapsed or another node took the visit over); nothing was written.
    #[error("store: refused, this node no longer owns the visit")]
    Fenced,
}

/// A visit owner's proof of ownership: `NODE/EPOCH` of the lease it holds.
/// A single node's embedded store has no other owner and ignores it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fence(pub String);

impl Fence {
    /// The epoch (the number after the last `/`), 0 if there is none.
    pub fn epoch(&self) -> u64 {
        self.0
            .rsplit_once('/')
            .and_then(|(_, e)| e.parse().ok())
            .unwrap_or(0)
    }
}

/// A fresh resume token for a session of `visit`: its visit's tag, a dot,
/// and 256 random bits (the tag lets any node find the token's keys).
pub fn new_resume_token(visit: &VisitId) -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let random = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    format!("{}.{random}", redis::keys::VisitTag::of(visit).as_str())
}

pub use bedside_visit::store::{
    ParticipantRecord, ResumeRecord, StoredMessage, VisitSnapshot, VisitWrite,
};

/// An operator's revocation as stored: `(user, at, until)`, unix seconds,
/// `until` 0 for none.
pub type RevocationRow = (String, i64, i64);

/// A request to the backend. Each carries its reply channel.
#[derive(Debug)]
pub enum Command {
    /// Record a token id; replies `true` if it was not seen before.
    ClaimJti {
        /// The visit the token is for.
        visit: VisitId,
        /// SHA-256 of the jti.
        key: [u8; 32],
        /// When the entry may be forgotten (token exp + skew).
        expires: i64,
        /// Reply.
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    /// A hello: record a token id and, if it was not seen before, store a
    /// resume token; replies `true` if the token was fresh. One durable
    /// write instead of `ClaimJti` then `PutResume`.
    Admit {
        /// SHA-256 of the jti.
        jti: [u8; 32],
        /// When the jti entry may be forgotten (token exp + skew).
        expires: i64,
        /// SHA-256 of the new resume token.
        resume: [u8; 32],
        /// What it restores.
        record: ResumeRecord,
        /// Reply.
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    /// Store a resume token (by hash).
    PutResume {
        /// SHA-256 of the resume token.
        key: [u8; 32],
        /// What it restores.
        record: ResumeRecord,
        /// Reply.
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Remove and return a resume token if it exists and has not expired.
    TakeResume {
        /// The tag the token names (`None`: not a token this hub made).
        tag: Option<redis::keys::VisitTag>,
        /// SHA-256 of the resume token.
        key: [u8; 32],
        /// Current unix time.
        now: i64,
        /// Reply.
        reply: oneshot::Sender<Result<Option<ResumeRecord>, StoreError>>,
    },
    /// A resume: consume a resume token (as `TakeResume`) and, if it was
    /// live, store its successor for the same record with `ip`; replies the
    /// consumed record. One durable write instead of two.
    SwapResume {
        /// The tag the token names (`None`: not a token this hub made).
        tag: Option<redis::keys::VisitTag>,
        /// SHA-256 of the token presented.
        take: [u8; 32],
        /// Current unix time.
        now: i64,
        /// SHA-256 of the new token.
        put: [u8; 32],
        /// The address the session now comes from.
        ip: Option<String>,
        /// Reply.
        reply: oneshot::Sender<Result<Option<ResumeRecord>, StoreError>>,
    },
    /// Load a visit's persisted state.
    LoadVisit {
        /// The visit.
        visit: VisitId,
        /// Reply.
        reply: oneshot::Sender<Result<VisitSnapshot, StoreError>>,
    },
    /// Apply writes for a visit.
    WriteVisit {
        /// The visit.
        visit: VisitId,
        /// The owner's lease.
        fence: Option<Fence>,
        /// The writes, in order.
        writes: Vec<VisitWrite>,
        /// Reply.
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Store a message, assigning the visit's next seq; replies the seq.
    AppendMessage {
        /// The visit.
        visit: VisitId,
        /// The owner's lease.
        fence: Option<Fence>,
        /// The message (its `seq` is ignored).
        message: StoredMessage,
        /// Reply.
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// Messages for `recipient` with seq above `after` it has not acked, in order.
    Backlog {
        /// The visit.
        visit: VisitId,
        /// The recipient.
        recipient: ParticipantId,
        /// Exclusive lower bound.
        after: u64,
        /// Reply.
        reply: oneshot::Sender<Result<Vec<StoredMessage>, StoreError>>,
    },
    /// Delete expired replay-cache entries, resume tokens and messages older
    /// than the retention.
    Sweep {
        /// Current unix time.
        now: i64,
        /// Messages older than this many seconds are deleted.
        retention_s: u64,
        /// Reply: rows deleted.
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// Every operator revocation on record: `(user, at, until)`, `until` 0
    /// for none.
    LoadRevocations {
        /// Reply.
        reply: oneshot::Sender<Result<Vec<RevocationRow>, StoreError>>,
    },
    /// Records a revocation of `user`, merged with what is there (the later
    /// of each time); replies the merged `(at, until)`.
    Revoke {
        /// The user (`sub`).
        user: String,
        /// Sessions begun at or before it end.
        at: i64,
        /// Hellos refused until then (0: none).
        until: i64,
        /// Reply.
        reply: oneshot::Sender<Result<(i64, i64), StoreError>>,
    },
    /// Re-encrypt the whole store under a new data key (encryption at rest),
    /// between two batches; replies once the store runs under it.
    Rekey {
        /// The new key.
        key: crate::at_rest::DataKey,
        /// Reply.
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// A cloneable handle to the store backend.
#[derive(Debug, Clone)]
pub struct Store {
    tx: mpsc::Sender<Command>,
}

/// SHA-256 of a secret, as the store's key for it (the store never holds
/// resume tokens or jtis in the clear).
pub fn key_of(secret: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(secret.as_bytes()).into()
}

impl Store {
    /// A handle sending to `tx`.
    pub fn new(tx: mpsc::Sender<Command>) -> Self {
        Self { tx }
    }

    /// Queues a command and returns the pending reply without waiting for it.
    /// Commands run in the order they were queued.
    pub async fn enqueue<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> Result<Reply<T>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| StoreError::Unavailable)?;
        Ok(Reply(rx))
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> Result<T, StoreError> {
        self.enqueue(make).await?.await
    }

    /// Every revocation on record: `(user, at, until)`.
    pub async fn load_revocations(&self) -> Result<Vec<RevocationRow>, StoreError> {
        self.call(|reply| Command::LoadRevocations { reply }).await
    }

    /// Records a revocation (merged); the merged `(at, until)`.
    pub async fn revoke(&self, user: &str, at: i64, until: i64) -> Result<(i64, i64), StoreError> {
        let user = user.to_owned();
        self.call(|reply| Command::Revoke {
            user,
            at,
            until,
            reply,
        })
        .await
    }

    /// Re-encrypts the store under `key`; answers once it runs under it.
    pub async fn rekey(&self, key: crate::at_rest::DataKey) -> Result<(), StoreError> {
        self.call(|reply| Command::Rekey { key, reply }).await
    }

    /// Queues a message append; the reply (its seq) comes once it is durable.
    pub async fn enqueue_append(
        &self,
        visit: &VisitId,
        fence: Option<&Fence>,
        message: StoredMessage,
    ) -> Result<Reply<u64>, StoreError> {
        let (visit, fence) = (visit.clone(), fence.cloned());
        self.enqueue(|reply| Command::AppendMessage {
            visit,
            fence,
            message,
            reply,
        })
        .await
    }

    /// Queues a backlog query.
    pub async fn enqueue_backlog(
        &self,
        visit: &VisitId,
        recipient: &ParticipantId,
        after: u64,
    ) -> Result<Reply<Vec<StoredMessage>>, StoreError> {
        let (visit, recipient) = (visit.clone(), recipient.clone());
        self.enqueue(|reply| Command::Backlog {
            visit,
            recipient,
            after,
            reply,
        })
        .await
    }

    /// Records `jti`; `Ok(false)` means it was used before (a replay).
    pub async fn claim_jti(
        &self,
        visit: &VisitId,
        jti: &str,
        expires: UnixSecs,
    ) -> Result<bool, StoreError> {
        let (visit, key) = (visit.clone(), key_of(jti));
        self.call(|reply| Command::ClaimJti {
            visit,
            key,
            expires: expires.0,
            reply,
        })
        .await
    }

    /// Records `jti` and, when it was not used before, stores `resume_token`
    /// for `record`; `Ok(false)` means a replay (nothing stored).
    pub async fn admit(
        &self,
        jti: &str,
        expires: UnixSecs,
        resume_token: &str,
        record: ResumeRecord,
    ) -> Result<bool, StoreError> {
        let (jti, resume) = (key_of(jti), key_of(resume_token));
        self.call(|reply| Command::Admit {
            jti,
            expires: expires.0,
            resume,
            record,
            reply,
        })
        .await
    }

    /// Stores a resume token.
    pub async fn put_resume(&self, token: &str, record: ResumeRecord) -> Result<(), StoreError> {
        let key = key_of(token);
        self.call(|reply| Command::PutResume { key, record, reply })
            .await
    }

    /// Consumes a resume token.
    pub async fn take_resume(
        &self,
        token: &str,
        now: UnixSecs,
    ) -> Result<Option<ResumeRecord>, StoreError> {
        let (tag, key) = (redis::keys::VisitTag::of_resume_token(token), key_of(token));
        let now = now.0;
        self.call(|reply| Command::TakeResume {
            tag,
            key,
            now,
            reply,
        })
        .await
    }

    /// Consumes `token` and, if it was live, stores `new_token` for the same
    /// record coming from `ip`; returns the consumed record (`None`: unknown,
    /// used or expired, nothing stored).
    pub async fn swap_resume(
        &self,
        token: &str,
        now: UnixSecs,
        new_token: &str,
        ip: Option<String>,
    ) -> Result<Option<ResumeRecord>, StoreError> {
        let (take, put) = (key_of(token), key_of(new_token));
        let tag = redis::keys::VisitTag::of_resume_token(token);
        self.call(|reply| Command::SwapResume {
            tag,
            take,
            now: now.0,
            put,
            ip,
            reply,
        })
        .await
    }

    /// Loads a visit.
    pub async fn load_visit(&self, visit: &VisitId) -> Result<VisitSnapshot, StoreError> {
        let visit = visit.clone();
        self.call(|reply| Command::LoadVisit { visit, reply }).await
    }

    /// Applies visit writes durably.
    pub async fn write_visit(
        &self,
        visit: &VisitId,
        fence: Option<&Fence>,
        writes: Vec<VisitWrite>,
    ) -> Result<(), StoreError> {
        let (visit, fence) = (visit.clone(), fence.cloned());
        self.call(|reply| Command::WriteVisit {
            visit,
            fence,
            writes,
            reply,
        })
        .await
    }

    /// Deletes expired entries and messages past `retention_s`.
    pub async fn sweep(&self, now: UnixSecs, retention_s: u64) -> Result<u64, StoreError> {
        self.call(|reply| Command::Sweep {
            now: now.0,
            retention_s,
            reply,
        })
        .await
    }
}

/// A reply the backend will send; await it for the result.
#[derive(Debug)]
pub struct Reply<T>(oneshot::Receiver<Result<T, StoreError>>);

impl<T> std::future::Future for Reply<T> {
    type Output = Result<T, StoreError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(StoreError::Unavailable)))
    }
}

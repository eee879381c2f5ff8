//! Several nodes on one Redis (`[cluster]`): what a node needs of the
//! others, with no consensus of its own. Redis holds the truth: the store
//! ([`crate::store::redis`]), each visit's lease and fencing epoch
//! ([`lease`]), which nodes are alive ([`Cluster::is_alive`]), and the
//! channels frames are forwarded on ([`bus`]).
//!
//! - Start: the settings check, then the cluster's identity. The first node
//!   ever to start on a Redis writes a random cluster id into it, and every
//!   node keeps the id it saw in `data_dir`; a Redis without the id a node
//!   has seen before lost its data, and the node refuses to start
//!   ([`StartError::DataLost`]) instead of serving an empty Redis as if
//!   nothing had happened.
//! - Presence: `bs:node:ID` holds a random instance id with a TTL of one
//!   lease, renewed five times per lease by the heartbeat. A second process
//!   with the same node id is refused at start.
//! - Health: the heartbeat also reads the cluster id back. Redis
//!   unreachable: [`Cluster::is_up`] turns false (`/readyz` 503, hellos and
//!   resumes refused) until it answers again. Cluster id gone: the data was
//!   lost while this node ran; [`Cluster::data_lost`] stays true (an
//!   ALERT, `/readyz` 503, no hello or resume accepted) until an operator
//!   restarts the node.

pub mod audit;
pub mod bus;
pub mod lease;

use crate::config::ClusterConfig;
use crate::store::redis::{self as backend, keys, settings};
use redis::aio::ConnectionManager;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// File in `data_dir` with the cluster id this node has seen.
pub const CLUSTER_ID_FILE: &str = "cluster-id";

/// Why a node cannot join its cluster.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `redis_url` does not parse.
    #[error("cluster.redis_url: {0}")]
    Url(String),
    /// Redis cannot be reached or answered with an error.
    #[error("cluster.redis_url: cannot reach Redis: {0}")]
    Unreachable(String),
    /// Redis's settings would lose acknowledged messages.
    #[error("cluster.redis_url: {0}")]
    Settings(#[from] settings::SettingsError),
    /// Redis no longer holds the cluster this node belonged to.
    #[error(
        "cluster.redis_url: Redis has lost its data: this node was part of cluster {seen}, and Redis holds {found}; if Redis was replaced on purpose, delete {file} to join the new one"
    )]
    DataLost {
        /// The id in `data_dir`.
        seen: String,
        /// What Redis holds.
        found: String,
        /// The file to delete.
        file: String,
    },
    /// Another running process has this node id.
    #[error("cluster.node_id: {0} is in use by another running node")]
    NodeIdInUse(String),
    /// `data_dir` cannot be written.
    #[error("data_dir: {0}")]
    DataDir(String),
}

/// This node's view of its cluster.
#[derive(Debug)]
pub struct Cluster {
    /// This node's id.
    pub node: String,
    /// Lease length.
    pub lease: Duration,
    /// Leases, presence, publishing: one multiplexed connection, so what
    /// one node publishes arrives in the order it was sent.
    pub(crate) conn: ConnectionManager,
    /// The store's dedicated connection's client, for subscribers.
    pub(crate) client: redis::Client,
    instance: String,
    cluster_id: String,
    up: AtomicBool,
    lost: AtomicBool,
    /// The store's connection answered its last batch or ping.
    pub(crate) store_up: Arc<AtomicBool>,
    /// Serializes taking leases on this node (see [`lease`]).
    pub(crate) acquiring: tokio::sync::Mutex<()>,
}

fn unreachable(e: impl std::fmt::Display) -> StartError {
    StartError::Unreachable(e.to_string())
}

/// Connects to the cluster's Redis: checks its settings and identity and
/// registers this node. Returns the cluster and a dedicated connection for
/// the store.
pub async fn join(
    config: &ClusterConfig,
    data_dir: &Path,
) -> Result<(Arc<Cluster>, ConnectionManager, settings::ServerFacts), StartError> {
    let client = backend::client(&config.redis_url).map_err(|e| StartError::Url(e.to_string()))?;
    let mut conn = backend::connect(&client, Default::default())
        .await
        .map_err(unreachable)?;
    let facts = settings::check(&mut conn).await?;
    let cluster_id = identity(&mut conn, data_dir).await?;
    let lease = Duration::from_millis(config.lease_ms);
    let instance = crate::store::redis::keys::hex(&rand::random::<[u8; 16]>());
    register(&mut conn, &config.node_id, &instance, lease).await?;
    let store_conn = backend::connect(&client, Default::default())
        .await
        .map_err(unreachable)?;
    let cluster = Arc::new(Cluster {
        node: config.node_id.clone(),
        lease,
        conn,
        client,
        instance,
        cluster_id,
        up: AtomicBool::new(true),
        lost: AtomicBool::new(false),
        store_up: Arc::new(AtomicBool::new(true)),
        acquiring: tokio::sync::Mutex::new(()),
    });
    Ok((cluster, store_conn, facts))
}

/// The cluster id in Redis, checked against the one this node saw before.
async fn identity(conn: &mut ConnectionManager, data_dir: &Path) -> Result<String, StartError> {
    let file = data_dir.join(CLUSTER_ID_FILE);
    let seen = std::fs::read_to_string(&file)
        .ok()
        .map(|s| s.trim().to_owned());
    let fresh = keys::hex(&rand::random::<[u8; 16]>());
    // SET NX GET: set if absent, and answer what was there (Redis 7.0).
    let existing: Option<String> = redis::cmd("SET")
        .arg(keys::CLUSTER_ID)
        .arg(&fresh)
        .arg("NX")
        .arg("GET")
        .query_async(conn)
        .await
        .map_err(unreachable)?;
    let found = existing.clone().unwrap_or_else(|| fresh.clone());
    match seen {
        Some(seen) if seen != found => {
            if existing.is_none() {
                // Undo: this node must not be the one that "starts over".
                let _: Result<i64, _> = redis::cmd("DEL")
                    .arg(keys::CLUSTER_ID)
                    .query_async(conn)
                    .await;
            }
            Err(StartError::DataLost {
                seen,
                found: if existing.is_some() {
                    format!("cluster {found}")
                } else {
                    "no cluster at all".into()
                },
                file: file.display().to_string(),
            })
        }
        Some(_) => Ok(found),
        None => {
            std::fs::create_dir_all(data_dir).map_err(|e| StartError::DataDir(e.to_string()))?;
            std::fs::write(&file, format!("{found}\n"))
                .map_err(|e| StartError::DataDir(format!("{}: {e}", file.display())))?;
            Ok(found)
        }
    }
}

/// Claims `bs:node:ID`, waiting out a previous process's claim (one lease:
/// a node restarted after SIGKILL under the same id).
async fn register(
    conn: &mut ConnectionManager,
    node: &str,
    instance: &str,
    lease: Duration,
) -> Result<(), StartError> {
    let deadline = tokio::time::Instant::now() + lease + Duration::from_millis(500);
    loop {
        let set: Option<String> = redis::cmd("SET")
            .arg(keys::node(node))
            .arg(instance)
            .arg("NX")
            .arg("PX")
            .arg(lease.as_millis() as u64)
            .query_async(conn)
            .await
            .map_err(unreachable)?;
        if set.is_some() {
            let _: i64 = redis::cmd("SADD")
                .arg(keys::NODES)
                .arg(node)
                .query_async(conn)
                .await
                .map_err(unreachable)?;
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StartError::NodeIdInUse(node.to_owned()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What one heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// Redis answered and holds our cluster.
    Ok,
    /// Redis did not answer.
    Unreachable,
    /// Redis answered without our cluster id: it lost its data.
    DataLost,
}

impl Cluster {
    /// Redis answered the last heartbeat, and the store's last command.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed) && self.store_up.load(Ordering::Relaxed)
    }

    /// The flag the store's backend keeps (see [`backend::open`]).
    pub fn store_health(&self) -> Arc<AtomicBool> {
        self.store_up.clone()
    }

    /// Redis lost its data while this node ran.
    pub fn data_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    /// Ready for sessions: Redis up and holding our cluster.
    pub fn is_ready(&self) -> bool {
        self.is_up() && !self.data_lost()
    }

    /// The interval between heartbeats.
    pub fn beat_every(&self) -> Duration {
        self.lease / 5
    }

    /// Renews this node's presence and checks the cluster id. A presence
    /// claimed by another instance (this one was paused past its lease and
    /// a new process took the id) counts as data lost: this process must
    /// not act for the id any more.
    pub async fn beat(&self) -> Beat {
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(keys::node(&self.node))
            .arg(&self.instance)
            .arg("PX")
            .arg(self.lease.as_millis() as u64)
            .arg("GET")
            .cmd("GET")
            .arg(keys::CLUSTER_ID)
            .cmd("SADD")
            .arg(keys::NODES)
            .arg(&self.node)
            .ignore();
        let r: Result<(Option<String>, Option<String>), _> = pipe.query_async(&mut conn).await;
        let beat = match r {
            Err(e) => {
                tracing::warn!(error = %e, "redis heartbeat failed");
                Beat::Unreachable
            }
            Ok((_, id)) if id.as_deref() != Some(self.cluster_id.as_str()) => Beat::DataLost,
            Ok((prev, _)) if prev.as_deref().is_some_and(|p| p != self.instance) => {
                tracing::error!(node = %self.node, "another process took this node id");
                Beat::DataLost
            }
            Ok(_) => Beat::Ok,
        };
        self.up.store(beat != Beat::Unreachable, Ordering::Relaxed);
        if beat == Beat::DataLost {
            self.lost.store(true, Ordering::Relaxed);
        }
        beat
    }

    /// Whether `node` is registered (its heartbeat is fresh). An error
    /// counts as alive: an unreachable Redis proves nothing.
    pub async fn is_alive(&self, node: &str) -> bool {
        let mut conn = self.conn.clone();
        let r: Result<bool, _> = redis::cmd("EXISTS")
            .arg(keys::node(node))
            .query_async(&mut conn)
            .await;
        r.unwrap_or(true)
    }

    /// The nodes whose presence is fresh, this one included, sorted. The
    /// ones whose presence lapsed are dropped from the set (a node that
    /// comes back adds itself again at its next beat).
    pub async fn nodes(&self) -> Result<Vec<String>, crate::store::StoreError> {
        let mut conn = self.conn.clone();
        let mut members: Vec<String> = redis::cmd("SMEMBERS")
            .arg(keys::NODES)
            .query_async(&mut conn)
            .await?;
        members.sort();
        if members.is_empty() {
            return Ok(members);
        }
        let mut pipe = redis::pipe();
        for m in &members {
            pipe.cmd("EXISTS").arg(keys::node(m));
        }
        let alive: Vec<bool> = pipe.query_async(&mut conn).await?;
        let (live, gone): (Vec<_>, Vec<_>) = members
            .into_iter()
            .zip(alive)
            .partition(|(_, alive)| *alive);
        if !gone.is_empty() {
            let mut srem = redis::cmd("SREM");
            srem.arg(keys::NODES);
            for (g, _) in &gone {
                srem.arg(g);
            }
            let _: Result<i64, _> = srem.query_async(&mut conn).await;
        }
        Ok(live.into_iter().map(|(n, _)| n).collect())
    }

    /// Removes this node's presence at the end of a drain.
    pub async fn leave(&self) {
        let mut conn = self.conn.clone();
        let _: Result<i64, _> = redis::cmd("EVAL")
            .arg("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")
            .arg(1)
            .arg(keys::node(&self.node))
            .arg(&self.instance)
            .query_async(&mut conn)
            .await;
    }
}

//! Starting and stopping the hub: open the store, build the verifier, bind,
//! accept (TLS or plain), and shut down gracefully.

use crate::audit::{Action, Audit, Durability, Event, Outcome};
use crate::auth::keyring::KeyRing;
use crate::auth::{KeySet, Verifier};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::hub::{DEV_ISSUER, DevIssuer, Hub};
use crate::net::visits::Visits;
use crate::net::{http, tls};
use bedside_protocol::CloseCode;
use bedside_token::PrivateKey;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration value is unusable (file missing, bad key...): exit 2.
    #[error("{key}: {problem}")]
    Config {
        /// The key.
        key: String,
        /// The problem.
        problem: String,
    },
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The audit file is damaged or cannot be written.
    #[error("{0}")]
    Audit(#[from] crate::audit::AuditError),
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Every cluster start failure is one line about a `[cluster]` key or
/// `data_dir`, and exit code 2.
fn cluster_err(e: crate::cluster::StartError) -> StartError {
    let line = e.to_string();
    match line.split_once(": ") {
        Some((key, problem)) => config_err(key, problem),
        None => config_err("cluster", line),
    }
}

fn config_err(key: &str, problem: impl ToString) -> StartError {
    StartError::Config {
        key: key.to_owned(),
        problem: problem.to_string(),
    }
}

/// File name of dev mode's issuer key inside `data_dir`.
pub const DEV_KEY_FILE: &str = "dev-issuer.jwks.json";
/// File name of dev mode's audit checkpoint key inside `data_dir`.
pub const DEV_AUDIT_KEY_FILE: &str = "dev-audit.jwks.json";

/// Loads a private key file, or in dev mode creates `data_dir/name` once.
fn load_or_create(
    config: &Config,
    configured: Option<&std::path::Path>,
    key: &str,
    name: &str,
    kid: &str,
) -> Result<PrivateKey, StartError> {
    if let Some(path) = configured {
        return PrivateKey::load(path).map_err(|e| config_err(key, e));
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|e| config_err("data_dir", e))?;
    let path = config.data_dir.join(name);
    if path.exists() {
        return PrivateKey::load(&path).map_err(|e| config_err("data_dir", e));
    }
    let k = PrivateKey::generate(kid);
    let public = config
        .data_dir
        .join(name.replace(".jwks.json", ".public.jwks.json"));
    k.save(&path, &public)
        .map_err(|e| config_err("data_dir", e))?;
    Ok(k)
}

/// Loads dev mode's signing key from `data_dir`, creating it on first run.
pub fn dev_issuer(config: &Config) -> Result<DevIssuer, StartError> {
    let key = load_or_create(config, None, "data_dir", DEV_KEY_FILE, "bedside-dev-1")?;
    Ok(DevIssuer {
        key,
        issuer: DEV_ISSUER.to_owned(),
    })
}

/// The issuer keys' source, what it held at start, and the channel through
/// which unknown kids ask a URL source for a fetch.
type KeySource = (
    crate::keys::Source,
    crate::keys::Initial,
    Option<tokio::sync::mpsc::Receiver<crate::auth::keyring::FetchRequest>>,
);

async fn verifier(
    config: &Config,
    dev: Option<&DevIssuer>,
) -> Result<(Verifier, Option<KeySource>), StartError> {
    let mut issuers = config.auth.issuers.clone();
    let mut pinned = KeySet::default();
    if let Some(dev) = dev {
        let (public, _) =
            KeySet::from_json(&dev.key.public_jwks()).map_err(|e| config_err("data_dir", e))?;
        pinned = public;
        issuers.push(dev.issuer.clone());
    }
    let source = crate::keys::Source::from_config(config).map_err(|(k, e)| config_err(k, e))?;
    let (ring, source) = match source {
        None => (KeyRing::new(KeySet::default(), pinned, None), None),
        Some(source) => {
            let initial = source
                .initial()
                .await
                .map_err(|e| config_err("auth.jwks", e))?;
            let (tx, rx) = if source.is_url() {
                let (tx, rx) = tokio::sync::mpsc::channel(64);
                (Some(tx), Some(rx))
            } else {
                (None, None)
            };
            (
                KeyRing::new(initial.keys.clone(), pinned, tx),
                Some((source, initial, rx)),
            )
        }
    };
    Ok((
        Verifier::with_ring(
            ring,
            issuers,
            config.auth.audience.clone(),
            config.auth.require_mfa.clone(),
        ),
        source,
    ))
}

/// A running hub.
#[derive(Debug)]
pub struct Running {
    /// The bound address (the real port with `:0`).
    pub addr: SocketAddr,
    /// `https` or `http`.
    pub scheme: &'static str,
    /// Shared state (tests read metrics and the store through it).
    pub hub: Arc<Hub>,
    /// The running visits (tests reach a visit's task through it).
    pub visits: Arc<Visits>,
    accept: tokio::task::JoinHandle<()>,
    /// In a cluster: checkpoints to and from the other nodes.
    peers: Option<Arc<crate::audit::peers::Peers>>,
    /// In a cluster: the router, the heartbeat and the checkpoint stream,
    /// stopped at the end of a drain so nothing of this node answers for
    /// it afterwards (a node restarted in the same process included).
    cluster_tasks: Vec<tokio::task::JoinHandle<()>>,
    store_thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts the hub on `config.listen`.
pub async fn start(config: Config) -> Result<Running, StartError> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

/// [`start`] with another clock (tests: [`crate::clock::ManualClock`]).
pub async fn start_with_clock(
    config: Config,
    clock: Arc<dyn Clock>,
) -> Result<Running, StartError> {
    let dev = if config.dev {
        Some(dev_issuer(&config)?)
    } else {
        None
    };
    let (verifier, key_source) = verifier(&config, dev.as_ref()).await?;
    let acceptor = match &config.tls {
        Some(t) => Some(tls::acceptor(t).map_err(|e| config_err("tls", e))?),
        None => None,
    };
    let abuse =
        crate::limits::Abuse::new(&config).map_err(|e| config_err("network.geoip_db", e))?;
    let peers = config
        .cluster
        .as_ref()
        .filter(|_| config.audit.enabled)
        .map(|c| Arc::new(crate::audit::peers::Peers::new(c.node_id.clone())));
    let (audit, recovery) = open_audit(&config, clock.clone(), peers.clone())?;
    if config.at_rest.is_none()
        && config.cluster.is_none()
        && config.data_dir.join(crate::at_rest::KEY_FILE).exists()
    {
        return Err(config_err(
            "at_rest",
            "data_dir holds an encrypted store (keys.json); configure [at_rest] with its root key",
        ));
    }
    let at_rest = match &config.at_rest {
        Some(a) => Some(Arc::new(
            crate::at_rest::Keys::open(a, &config.data_dir)
                .map_err(|e| config_err("at_rest", e))?,
        )),
        None => None,
    };
    let mut store_thread = None;
    let (store, cluster, redis_version) = match &config.cluster {
        None => {
            let (store, thread) = crate::store::sqlite::open(&config.data_dir, at_rest.as_deref())?;
            store_thread = Some(thread);
            (store, None, None)
        }
        Some(c) => {
            let (cluster, conn, facts) = crate::cluster::join(c, &config.data_dir)
                .await
                .map_err(cluster_err)?;
            let store =
                crate::store::redis::open(conn, config.session.retention_s, cluster.store_health());
            (store, Some(cluster), Some(facts.version))
        }
    };
    let addr = config.listen_addr();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let mut start = Event::new(Action::ServerStart, Outcome::Success)
        .detail("version", env!("CARGO_PKG_VERSION"))
        .detail("listen", addr.to_string())
        .detail("existing_records", recovery.existing_records);
    if let Some((bytes, side)) = &recovery.torn_tail {
        tracing::warn!(bytes, side_file = %side.display(), "audit file ended in a torn line; set aside");
        start = start
            .detail("torn_tail_bytes", *bytes as u64)
            .detail("torn_tail_file", side.display().to_string());
    }
    if let Some(moved) = &recovery.moved_broken {
        start = start.detail("damaged_file_moved_to", moved.display().to_string());
    }
    if let (Some(c), Some(v)) = (&cluster, redis_version) {
        start = start
            .detail("node", c.node.clone())
            .detail("redis_version", v);
    }
    if audit
        .log(start, Durability::Synced)
        .durable()
        .await
        .is_err()
    {
        return Err(StartError::Audit(crate::audit::AuditError::Io(
            "cannot write SERVER_START".into(),
        )));
    }
    let revocations = match &cluster {
        Some(c) => crate::revocations::Store::Redis(c.conn.clone()),
        None => crate::revocations::Store::local(store.clone(), &config.data_dir)
            .await
            .map_err(|e| config_err("data_dir", format!("revocations: {e}")))?,
    };
    let known = revocations
        .load()
        .await
        .map_err(|e| config_err("data_dir", format!("revocations: {e}")))?;
    let hub = Hub::new(crate::hub::Parts {
        config,
        verifier,
        store,
        audit,
        abuse,
        dev,
        clock,
        cluster: cluster.clone(),
        revocations,
        at_rest,
    });
    for (user, r) in known {
        hub.revoked.insert(user, r);
    }
    tokio::spawn(sweep(hub.clone()));
    let mut cluster_tasks = Vec::new();
    let visits = match cluster {
        None => Visits::new(),
        Some(cluster) => {
            let visits = Visits::clustered(&hub, cluster.clone());
            let inbox = cluster
                .subscribe()
                .await
                .map_err(|e| cluster_err(crate::cluster::StartError::Unreachable(e.to_string())))?;
            if let Some(router) = visits.router() {
                cluster_tasks.push(tokio::spawn(router.clone().run(inbox)));
            }
            if let Some(peers) = &peers {
                cluster_tasks.push(tokio::spawn(crate::cluster::audit::run(
                    cluster.clone(),
                    peers.clone(),
                )));
            }
            cluster_tasks.push(tokio::spawn(heartbeat(hub.clone(), cluster)));
            visits
        }
    };
    if let Some((source, initial, requests)) = key_source {
        let end = hub.config.auth.end_sessions_of_removed_keys;
        let v = visits.clone();
        let on_removed: crate::keys::OnRemoved = Box::new(move |removed| {
            if !end {
                return;
            }
            let n = v.sessions.close_where(CloseCode::Unauthorized, |e| {
                e.kid.as_ref().is_some_and(|k| removed.contains(k))
            });
            if n > 0 {
                tracing::warn!(
                    sessions = n,
                    "ended the sessions signed by removed issuer keys"
                );
            }
        });
        let ring = hub.verifier.keys().clone();
        source.spawn(&initial, hub.clone(), ring, requests, on_removed);
    }
    if let (Some(path), true) = (&hub.config.audit.signing_key, hub.config.audit.enabled) {
        tokio::spawn(crate::keys::watch_audit_key(path.clone(), hub.clone()));
    }
    if hub.cluster.is_some() {
        cluster_tasks.push(tokio::spawn(follow_revocations(
            hub.clone(),
            visits.clone(),
        )));
    }
    let accept = tokio::spawn(accept_loop(hub.clone(), visits.clone(), listener, acceptor));
    Ok(Running {
        addr,
        scheme,
        hub,
        visits,
        accept,
        peers,
        cluster_tasks,
        store_thread,
    })
}

impl Running {
    /// The embedded store's thread, for the process to wait on before it
    /// exits: it ends once every handle to the store is gone (the runtime
    /// shut down), after its last commit and the connection's close. A
    /// process that exits first would tear down the crypto library under a
    /// thread still using it.
    pub fn take_store_thread(&mut self) -> Option<std::thread::JoinHandle<()>> {
        self.store_thread.take()
    }

    /// Stops accepting, closes every session with 1001, waits (at most
    /// `grace`) for connections to finish, then seals the audit file with
    /// SERVER_STOP and the final CHECKPOINT.
    pub async fn shutdown(self, grace: Duration) {
        self.hub.begin_shutdown();
        self.accept.abort();
        let deadline = tokio::time::Instant::now() + grace;
        while self.hub.metrics.connections.get() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Sessions are gone: stop answering for this node (the stream task
        // too, so the final checkpoint's read and flush below are the only
        // ones), then give up its presence.
        for t in &self.cluster_tasks {
            t.abort();
        }
        if let Some(c) = &self.hub.cluster {
            c.leave().await;
        }
        let _ = self
            .hub
            .audit
            .log(
                Event::new(Action::ServerStop, Outcome::Success),
                Durability::Synced,
            )
            .durable()
            .await;
        // The final CHECKPOINT names the others' latest, and goes to the
        // shared stream too.
        if let (Some(c), Some(peers)) = (&self.hub.cluster, &self.peers) {
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                crate::cluster::audit::read(c, peers),
            )
            .await;
        }
        self.hub.audit.close().await;
        if let (Some(c), Some(peers)) = (&self.hub.cluster, &self.peers) {
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                crate::cluster::audit::flush(c, peers),
            )
            .await;
        }
    }
}

fn open_audit(
    config: &Config,
    clock: Arc<dyn Clock>,
    peers: Option<Arc<crate::audit::peers::Peers>>,
) -> Result<(Audit, crate::audit::Recovery), StartError> {
    if !config.audit.enabled {
        tracing::warn!(
            "audit trail DISABLED (audit.enabled = false): for measurements only, never in production"
        );
        return Ok((Audit::disabled(), crate::audit::Recovery::default()));
    }
    let key = load_or_create(
        config,
        config.audit.signing_key.as_deref(),
        "audit.signing_key",
        DEV_AUDIT_KEY_FILE,
        "bedside-dev-audit-1",
    )?;
    let retired = match &config.audit.retired_public_keys {
        Some(p) => crate::audit::verify::load_keys(p)
            .map_err(|e| config_err("audit.retired_public_keys", e))?,
        None => Default::default(),
    };
    Ok(crate::audit::open(
        &config.audit.path,
        key,
        &retired,
        config.audit.checkpoint_every,
        config.audit_new_file,
        clock,
        peers,
    )?)
}

/// In a cluster: learns of revocations made on other nodes and ends this
/// node's sessions they cover.
async fn follow_revocations(hub: Arc<Hub>, visits: Arc<Visits>) {
    let mut tick = tokio::time::interval(crate::revocations::POLL);
    let mut shutdown = hub.shutdown_signal();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let Ok(all) = hub.revocations.load().await else {
            continue; // the heartbeat reports Redis trouble
        };
        for (user, r) in all {
            if hub.revoked.get(&user).is_some_and(|known| *known == r) {
                continue;
            }
            hub.revoked.insert(user.clone(), r);
            let n = visits.sessions.close_where(CloseCode::Unauthorized, |s| {
                s.user.as_str() == user && r.ends(s.since)
            });
            if n > 0 {
                tracing::warn!(sessions = n, "ended sessions revoked on another node");
            }
        }
    }
}

async fn accept_loop(
    hub: Arc<Hub>,
    visits: Arc<Visits>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut shutdown = hub.shutdown_signal();
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let hub = hub.clone();
        let visits = visits.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
                    {
                        Ok(Ok(stream)) => serve_http(hub, visits, stream, peer).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
                None => serve_http(hub, visits, tcp, peer).await,
            }
        });
    }
}

async fn serve_http<IO>(hub: Arc<Hub>, visits: Arc<Visits>, io: IO, peer: SocketAddr)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let (hub, visits) = (hub.clone(), visits.clone());
        async move { Ok::<_, Infallible>(http::route(hub, visits, req, peer).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}

/// In a cluster: renews this node's presence and watches Redis. A Redis
/// that lost the cluster's data raises an ALERT once; the node then stays
/// not ready (no hello or resume is accepted) until restarted.
async fn heartbeat(hub: Arc<Hub>, cluster: Arc<crate::cluster::Cluster>) {
    use crate::cluster::Beat;
    let mut tick = tokio::time::interval(cluster.beat_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = hub.shutdown_signal();
    let mut last = Beat::Ok;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let beat = cluster.beat().await;
        if beat != last {
            match beat {
                Beat::Ok => tracing::info!("redis reachable again"),
                Beat::Unreachable => {
                    tracing::error!("redis unreachable: not ready; hellos and resumes refused")
                }
                Beat::DataLost => {
                    tracing::error!(
                        "redis has lost the cluster's data: this node stays not ready until restarted"
                    );
                    let e = Event::new(Action::Alert, Outcome::Failure)
                        .detail("node", cluster.node.clone());
                    hub.alert(crate::alerts::AlertKind::RedisDataLost, e);
                }
            }
            hub.metrics.redis_up.set(i64::from(beat == Beat::Ok));
        }
        if beat == Beat::DataLost {
            return;
        }
        last = beat;
    }
}

/// Deletes expired replay-cache entries, resume tokens and messages past
/// their retention. Runs often enough that a body outlives `retention_s` by
/// at most half of it (and at most 10 minutes).
async fn sweep(hub: Arc<Hub>) {
    let every = (hub.config.session.retention_s / 2).clamp(1, 600);
    let mut tick = tokio::time::interval(Duration::from_secs(every));
    let mut shutdown = hub.shutdown_signal();
    let mut jumps = hub.clock.jumps();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            // A test moved the clock: sweep at the new time now.
            () = jumps.next() => {}
            _ = shutdown.changed() => return,
        }
        let retention = hub.config.session.retention_s;
        if let Err(e) = hub.store.sweep(hub.clock.now_s(), retention).await {
            tracing::warn!(error = %e, "sweep failed");
        }
    }
}

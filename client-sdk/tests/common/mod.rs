//! Harness for SDK tests: the real hub in-process on 127.0.0.1:0 (restartable
//! on the same port), a clinic key that mints join tokens, SDK clients with
//! loopback-only WebRTC, and a WebSocket stand-in for a compromised hub.
//!
//! With `BEDSIDE_TEST_CLUSTER=1` the "hub" is a cluster instead: a real
//! `redis-server` (unix socket, temporary directory), two hub nodes in this
//! process, and a TCP round-robin in front of them, so consecutive
//! connections (a provider and a patient, a resume) land on different nodes.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::field_reassign_with_default
)]

use bedside_protocol::claims::{JoinClaims, Lifetime};
use bedside_protocol::time::UnixMs;
use bedside_protocol::{ParticipantId, VisitId};
use bedside_sdk::native::media::MediaConfig;
use bedside_sdk::native::{Client, ClientConfig, Events, TokenSource};
use bedside_sdk::session::Event;
use bedside_server::config::Config;
use bedside_server::server::{self, Running};
use bedside_token::PrivateKey;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

pub const WAIT: Duration = Duration::from_secs(20);

/// Everything the hub logged in this test binary (to search for plaintext).
pub fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let w = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_writer(move || LogWriter(w.clone()))
            .try_init();
        buf
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[path = "../../../server/tests/common/redis.rs"]
mod redis;

pub struct Hub {
    pub dir: tempfile::TempDir,
    pub key: Arc<PrivateKey>,
    pub addr: SocketAddr,
    running: Option<Running>,
    cluster: Option<Cluster>,
    /// Serving `wss://` with this certificate chain and key (PEM files).
    tls: bool,
}

/// Two nodes on one Redis behind a round-robin.
struct Cluster {
    redis: redis::Redis,
    /// The nodes' addresses (kept across restarts), read by the balancer.
    backends: Arc<Mutex<Vec<SocketAddr>>>,
    nodes: Vec<Running>,
}

/// Whether this run tests against a cluster.
pub fn clustered() -> bool {
    std::env::var("BEDSIDE_TEST_CLUSTER").is_ok_and(|v| v == "1")
}

/// A trivial TCP round-robin: each new connection goes to the next backend.
async fn round_robin(backends: Arc<Mutex<Vec<SocketAddr>>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut next = 0usize;
        while let Ok((mut down, _)) = listener.accept().await {
            let to = {
                let b = backends.lock().unwrap();
                next += 1;
                b[next % b.len()]
            };
            tokio::spawn(async move {
                if let Ok(mut up) = tokio::net::TcpStream::connect(to).await {
                    let _ = up.set_nodelay(true);
                    let _ = down.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                }
            });
        }
    });
    addr
}

impl Hub {
    pub async fn start() -> Self {
        Self::start_inner(None).await
    }

    /// A hub serving `wss://` with `cert_pem` (the chain) and `key_pem`.
    pub async fn start_tls(cert_pem: &str, key_pem: &str) -> Self {
        Self::start_inner(Some((cert_pem, key_pem))).await
    }

    async fn start_inner(tls: Option<(&str, &str)>) -> Self {
        logs();
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate("clinic-1");
        key.save(
            &dir.path().join("issuer.private.jwks.json"),
            &dir.path().join("issuer.public.jwks.json"),
        )
        .unwrap();
        PrivateKey::generate("audit-1")
            .save(
                &dir.path().join("audit.private.jwks.json"),
                &dir.path().join("audit.public.jwks.json"),
            )
            .unwrap();
        let mut hub = Self {
            dir,
            key: Arc::new(key),
            addr: "127.0.0.1:0".parse().unwrap(),
            running: None,
            cluster: None,
            tls: tls.is_some(),
        };
        if let Some((cert, key)) = tls {
            std::fs::write(hub.dir.path().join("tls.crt"), cert).unwrap();
            std::fs::write(hub.dir.path().join("tls.key"), key).unwrap();
        }
        if clustered() {
            let backends = Arc::new(Mutex::new(vec!["127.0.0.1:0".parse().unwrap(); 2]));
            hub.addr = round_robin(backends.clone()).await;
            hub.cluster = Some(Cluster {
                redis: redis::Redis::start(),
                backends,
                nodes: Vec::new(),
            });
        }
        hub.boot().await;
        hub
    }

    fn config(&self) -> Config {
        let mut c = Config::default();
        c.listen = Some(self.addr);
        c.insecure_http = true;
        c.data_dir = self.dir.path().join("data");
        c.audit.path = self.dir.path().join("audit/audit.jsonl");
        c.audit.signing_key = Some(self.dir.path().join("audit.private.jwks.json"));
        c.auth.jwks = Some(self.dir.path().join("issuer.public.jwks.json"));
        c.auth.issuers = vec!["clinic".into()];
        if self.tls {
            c.insecure_http = false;
            c.tls = Some(bedside_server::config::TlsConfig {
                cert: self.dir.path().join("tls.crt"),
                key: self.dir.path().join("tls.key"),
            });
        }
        c
    }

    async fn boot(&mut self) {
        let Some(cluster) = self.cluster.as_ref() else {
            let r = server::start(self.config()).await.unwrap();
            self.addr = r.addr;
            self.running = Some(r);
            return;
        };
        let url = cluster.redis.url();
        let mut nodes = Vec::new();
        for (i, name) in ["node-a", "node-b"].into_iter().enumerate() {
            let mut c = self.config();
            c.listen = Some(cluster.backends.lock().unwrap()[i]);
            c.data_dir = self.dir.path().join(name).join("data");
            c.audit.path = self.dir.path().join(name).join("audit.jsonl");
            c.cluster = Some(bedside_server::config::ClusterConfig {
                redis_url: url.clone(),
                node_id: name.into(),
                lease_ms: 1500,
            });
            let r = server::start(c).await.unwrap();
            cluster.backends.lock().unwrap()[i] = r.addr;
            nodes.push(r);
        }
        if let Some(c) = self.cluster.as_mut() {
            c.nodes = nodes;
        }
    }

    /// Graceful stop, then a new hub process state on the same port and files.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.boot().await;
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown(Duration::from_secs(5)).await;
        }
        let nodes = self
            .cluster
            .as_mut()
            .map(|c| std::mem::take(&mut c.nodes))
            .unwrap_or_default();
        // Both at once: clients find no node to resume on until the restart.
        futures_util::future::join_all(
            nodes
                .into_iter()
                .map(|r| r.shutdown(Duration::from_secs(5))),
        )
        .await;
    }

    /// In a cluster: how many nodes hold at least one connection.
    pub fn nodes_in_use(&self) -> usize {
        self.cluster.as_ref().map_or(0, |c| {
            c.nodes
                .iter()
                .filter(|n| n.hub.metrics.connections.get() > 0)
                .count()
        })
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/v1/signal", self.addr)
    }

    pub fn token(&self, visit: &str, role: &str, sub: &str) -> String {
        mint(&self.key, visit, role, sub)
    }

    pub fn token_source(&self, visit: &str, role: &str, sub: &str) -> TokenSource {
        let key = self.key.clone();
        let (visit, role, sub) = (visit.to_owned(), role.to_owned(), sub.to_owned());
        Arc::new(move |_| {
            let t = mint(&key, &visit, &role, &sub);
            Box::pin(async move { Ok(t) })
        })
    }

    /// Every byte the hub keeps on disk (store, WAL, audit; in a cluster
    /// also Redis's append-only file).
    pub fn disk_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        if let Some(c) = &self.cluster {
            stack.push(c.redis.dir.path().to_path_buf());
        }
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).unwrap().flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(b) = std::fs::read(&path) {
                    all.extend(b);
                }
            }
        }
        all
    }
}

/// A valid join token, named `sub`, with the default `amr` for the role.
pub fn mint(key: &PrivateKey, visit: &str, role: &str, sub: &str) -> String {
    let now = UnixMs::from_system_time(std::time::SystemTime::now()).to_secs();
    let claims = JoinClaims::new(
        "clinic",
        "bedside",
        VisitId::new(visit).unwrap(),
        ParticipantId::new(sub).unwrap(),
        serde_json::from_value(json!(role)).unwrap(),
        Lifetime::starting(now, 3600),
        bedside_token::random_jti(),
    )
    .with_name(sub);
    key.sign(&claims).unwrap()
}

/// An SDK client with loopback-only WebRTC.
pub async fn client(
    url: &str,
    hub: &Hub,
    visit: &str,
    role: &str,
    sub: &str,
) -> (Client, Recorder) {
    let mut cfg = ClientConfig::new(url, format!("dev-{sub}"));
    cfg.media = Some(
        MediaConfig {
            udp_addrs: vec!["127.0.0.1:0".into()],
            ice_servers: Vec::new(),
        }
        .webrtc_rs(),
    );
    let (c, events) = Client::connect(
        cfg,
        hub.token(visit, role, sub),
        Some(hub.token_source(visit, role, sub)),
    )
    .await
    .unwrap();
    (c, Recorder::new(events))
}

/// Reads events, remembering all of them.
pub struct Recorder {
    events: Events,
    pub seen: Vec<Event>,
}

impl Recorder {
    pub fn new(events: Events) -> Self {
        Self {
            events,
            seen: Vec::new(),
        }
    }

    /// Waits for an event matching `f` (checking those already seen first).
    pub async fn until<T>(&mut self, what: &str, mut f: impl FnMut(&Event) -> Option<T>) -> T {
        if let Some(t) = self.seen.iter().find_map(&mut f) {
            return t;
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let ev = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}; saw {:#?}", self.seen))
                .unwrap_or_else(|| {
                    panic!(
                        "event stream ended waiting for {what}; saw {:#?}",
                        self.seen
                    )
                });
            let hit = f(&ev);
            self.seen.push(ev);
            if let Some(t) = hit {
                return t;
            }
        }
    }

    /// Drains what arrives within `d`.
    pub async fn settle(&mut self, d: Duration) {
        while let Ok(Some(ev)) = tokio::time::timeout(d, self.events.recv()).await {
            self.seen.push(ev);
        }
    }

    pub fn chats(&self) -> Vec<String> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                Event::Chat(c) => Some(format!("{}: {}", c.from, c.text)),
                _ => None,
            })
            .collect()
    }
}

type Rewrite = Arc<dyn Fn(String) -> String + Send + Sync>;

/// A stand-in for a compromised hub: forwards WebSocket frames between
/// clients and the real hub, rewriting what the hub sends with `rewrite`.
pub async fn stand_in(upstream: String, rewrite: Rewrite) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (upstream, rewrite) = (upstream.clone(), rewrite.clone());
            tokio::spawn(async move {
                let Ok(down) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let Ok((up, _)) = tokio_tungstenite::connect_async(upstream).await else {
                    return;
                };
                let (mut down_tx, mut down_rx) = down.split();
                let (mut up_tx, mut up_rx) = up.split();
                let to_hub = async {
                    while let Some(Ok(m)) = down_rx.next().await {
                        if up_tx.send(m).await.is_err() {
                            break;
                        }
                    }
                };
                let to_client = async {
                    while let Some(Ok(m)) = up_rx.next().await {
                        let m = match m {
                            Message::Text(t) => Message::text(rewrite(t.to_string())),
                            other => other,
                        };
                        if down_tx.send(m).await.is_err() {
                            break;
                        }
                    }
                };
                tokio::select! { () = to_hub => {}, () = to_client => {} }
            });
        }
    });
    format!("ws://{addr}/v1/signal")
}

/// Frames the hub sent one client, as text, in order.
pub type Recorded = Arc<Mutex<Vec<String>>>;

/// A stand-in that changes nothing and records what the hub sends.
pub async fn recorder(upstream: String) -> (String, Recorded) {
    let frames = Recorded::default();
    let keep = frames.clone();
    let url = stand_in(
        upstream,
        Arc::new(move |t: String| {
            keep.lock().unwrap().push(t.clone());
            t
        }),
    )
    .await;
    (url, frames)
}

/// The longest session expiry (unix seconds) the hub confirmed in an
/// `ack` to a `refresh`: the proof that it took the new token.
pub fn extended_until(frames: &Recorded) -> Option<i64> {
    frames
        .lock()
        .unwrap()
        .iter()
        .filter_map(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .filter(|v| v["type"] == "ack")
        .filter_map(|v| v["expires_at"].as_i64())
        .max()
}

/// Unix seconds now.
pub fn now_s() -> i64 {
    UnixMs::from_system_time(std::time::SystemTime::now())
        .to_secs()
        .0
}

/// A participant id that tests know is valid.
pub fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s).unwrap()
}

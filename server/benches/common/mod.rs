//! Shared pieces of the hub benchmarks: an in-process hub and clients.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bedside_protocol::claims::{JoinClaims, Lifetime};
use bedside_protocol::time::UnixSecs;
use bedside_protocol::{ParticipantId, VisitId};
use bedside_token::{PrivateKey, random_jti};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[path = "../../tests/common/redis.rs"]
pub mod redis;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub fn now() -> UnixSecs {
    bedside_server::clock::Clock::now_s(&bedside_server::clock::SystemClock)
}

pub fn token(key: &PrivateKey, visit: &str, role: bedside_protocol::Role, sub: &str) -> String {
    let claims = JoinClaims::new(
        "bench",
        "bedside",
        VisitId::new(visit).unwrap(),
        ParticipantId::new(sub).unwrap(),
        role,
        Lifetime::starting(now(), 3600),
        random_jti(),
    );
    key.sign(&claims).unwrap()
}

pub async fn recv(ws: &mut Ws) -> Value {
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(f) => panic!("closed {f:?}"),
            _ => {}
        }
    }
}

pub async fn recv_type(ws: &mut Ws, ty: &str) -> Value {
    loop {
        let m = recv(ws).await;
        if m["type"] == ty {
            return m;
        }
    }
}

pub async fn hello(url: &str, t: &str) -> Ws {
    // Clients with small read buffers, so their cost does not hide the hub's.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .unwrap();
    ws.send(Message::Text(
        json!({"type":"hello","token":t}).to_string().into(),
    ))
    .await
    .unwrap();
    recv_type(&mut ws, "welcome").await;
    ws
}

/// One pair: a provider who sends and a patient who acks what it receives.
pub async fn pair(url: &str, key: &PrivateKey, i: usize) -> (Ws, Ws) {
    use bedside_protocol::Role;
    let visit = format!("bench-{i}");
    let mut dr = hello(url, &token(key, &visit, Role::Provider, "dr")).await;
    let pt = hello(url, &token(key, &visit, Role::Patient, "pt")).await;
    dr.send(Message::Text(
        json!({"type":"admit","participant":"pt"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    recv_type(&mut dr, "joined").await;
    (dr, pt)
}

/// `AUDIT=0` in the environment turns the audit trail off.
pub fn audit_enabled() -> bool {
    std::env::var("AUDIT").map(|v| v != "0").unwrap_or(true)
}

/// Percentile of sorted durations, in milliseconds.
pub fn pct(v: &[Duration], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 * p).ceil() as usize)
        .saturating_sub(1)
        .min(v.len() - 1);
    v[i].as_secs_f64() * 1000.0
}

/// Sends a JSON value.
pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// What a hub process keeps on disk, and its Redis with `STORE=redis`.
pub struct Files {
    _dir: tempfile::TempDir,
    /// Dropped after the directory's owner: stops the server.
    pub redis: Option<redis::Redis>,
}

/// Which store the hub runs on: `STORE=redis` for a one-node cluster on a
/// real, durable redis-server (appendfsync always) in a temporary directory;
/// otherwise the default SQLite.
pub fn on_redis() -> bool {
    std::env::var("STORE").is_ok_and(|v| v == "redis")
}

/// The release `bedside` binary as a separate process, so its CPU time can be
/// read on its own. Returns the child, its WebSocket URL, the issuer key and
/// its files (and Redis, see [`on_redis`]).
/// `AT_REST=1`: the store encrypted at rest (SQLCipher, a root key file).
pub fn at_rest() -> bool {
    std::env::var("AT_REST").is_ok_and(|v| v == "1")
}

pub fn start_hub_process() -> (std::process::Child, String, PrivateKey, Files) {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let redis = on_redis().then(redis::Redis::start);
    let key = PrivateKey::generate("bench-1");
    let jwks = dir.path().join("jwks.json");
    key.save(&dir.path().join("priv.json"), &jwks).unwrap();
    let audit_key = dir.path().join("audit.json");
    PrivateKey::generate("audit-1")
        .save(&audit_key, &dir.path().join("audit.pub.json"))
        .unwrap();
    let cfg = dir.path().join("bedside.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:0\"\ninsecure_http = true\ndata_dir = {:?}\n[auth]\njwks = {:?}\nissuers = [\"bench\"]\n[audit]\npath = {:?}\nsigning_key = {:?}\nenabled = {}\n[limits]\nmessages_per_s = 1000000\nmax_connections_per_ip = 100000\n",
            dir.path().join("data"),
            jwks,
            dir.path().join("audit/audit.jsonl"),
            audit_key,
            audit_enabled()
        ) + &redis.as_ref().map_or(String::new(), |r| {
            format!("[cluster]\nredis_url = {:?}\nnode_id = \"bench\"\n", r.url())
        }) + &if at_rest() {
            let root = dir.path().join("root.key");
            bedside_server::at_rest::root::RootKey::create_file(&root).unwrap();
            format!("[at_rest]\nroot_key_file = {root:?}\n")
        } else {
            String::new()
        },
    )
    .unwrap();
    // `HUB_BIN` runs another build of the hub (A/B comparisons). Not a
    // `BEDSIDE_*` name: the hub reads those as configuration.
    let bin = std::env::var_os("HUB_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_bedside").into());
    let mut child = std::process::Command::new(bin)
        .args(["serve", "--config"])
        .arg(&cfg)
        .env("BEDSIDE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();
    (
        child,
        format!("ws://{addr}/v1/signal"),
        key,
        Files { _dir: dir, redis },
    )
}

/// CPU time (user + system) a process has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces): state is field 3.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// `cargo test --all-targets` runs bench binaries without `--bench`: then
/// they run a one-second smoke version, so CI keeps them working.
pub fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// Seconds to measure: `SECS`, or 1 in smoke mode.
pub fn secs(default: u64) -> u64 {
    if smoke() {
        return 1;
    }
    std::env::var("SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

//! Shared pieces of the hub benchmarks: an in-process hub and clients.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bedside_server::auth::mint::{JoinClaims, PrivateKey, random_jti};
use bedside_server::config::Config;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn token(key: &PrivateKey, visit: &str, role: bedside_protocol::Role, sub: &str) -> String {
    key.sign(&JoinClaims {
        iss: "bench".into(),
        aud: "bedside".into(),
        sub: sub.into(),
        visit: visit.into(),
        role,
        name: None,
        iat: now(),
        exp: now() + 3600,
        jti: random_jti(),
        amr: vec!["mfa".into()],
        perms: vec![],
    })
    .unwrap()
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

/// An in-process hub on a free port (SQLite and audit in a temp dir).
pub async fn start_hub() -> (
    bedside_server::server::Running,
    PrivateKey,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate("bench-1");
    let jwks = dir.path().join("jwks.json");
    key.save(&dir.path().join("priv.json"), &jwks).unwrap();
    let audit_key = dir.path().join("audit.json");
    PrivateKey::generate("audit-1")
        .save(&audit_key, &dir.path().join("audit.pub.json"))
        .unwrap();
    let mut c = Config {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        insecure_http: true,
        data_dir: dir.path().join("data"),
        ..Default::default()
    };
    c.auth.jwks = Some(jwks);
    c.auth.issuers = vec!["bench".into()];
    c.audit.path = dir.path().join("audit/audit.jsonl");
    c.audit.signing_key = Some(audit_key);
    c.audit.enabled = audit_enabled();
    let hub = bedside_server::server::start(c).await.unwrap();
    (hub, key, dir)
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

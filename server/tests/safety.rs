#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Visit safety (issue 3): rate limits that only hit the abuser, ALERTs to a
//! webhook, network rules and connection caps before the upgrade.

mod common;
use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A local webhook receiver: answers the first `fail_first` POSTs with 500,
/// then 204; forwards every JSON body it accepted.
async fn webhook(fail_first: usize) -> (String, mpsc::UnboundedReceiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/bedside", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let n = s.read(&mut chunk).await.unwrap();
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        assert!(head.starts_with("POST /hooks/bedside "), "{head}");
                        break Some(body[..len].to_owned());
                    }
                }
            };
            seen += 1;
            if seen <= fail_first {
                let _ = s
                    .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n")
                    .await;
                continue;
            }
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
            if let Some(b) = body {
                let _ = tx.send(serde_json::from_str(&b).unwrap());
            }
        }
    });
    (url, rx)
}

async fn next_alert(rx: &mut mpsc::UnboundedReceiver<Value>, kind: &str) -> Value {
    loop {
        let a = tokio::time::timeout(Duration::from_secs(15), rx.recv())
            .await
            .expect("no alert")
            .unwrap();
        if a["alert"] == kind {
            return a;
        }
    }
}

#[tokio::test]
async fn an_auth_failure_burst_raises_an_alert_and_cools_the_ip_down() {
    let env = Env::new();
    let (url, mut alerts) = webhook(1).await; // the first delivery fails: retried
    let hub = env
        .start_with(|c| {
            c.limits.auth_failures_per_min = 3;
            c.alerts.webhook = Some(url.clone());
        })
        .await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        let mut c = hub.connect().await;
        c.send(json!({"type":"hello","token":"not.a.token"})).await;
        codes.push(c.closed().await);
    }
    assert_eq!(codes, [4001, 4001, 4001, 4029, 4029]);
    let a = next_alert(&mut alerts, "auth_failures").await;
    assert_eq!(a["ip_address"], "127.0.0.1");
    assert!(a["ts"].as_str().unwrap().ends_with('Z'));
    // During the cool-down even a good token is refused.
    let mut c = hub.connect().await;
    c.send(json!({"type":"hello","token":env.token("v-1","patient","pt")}))
        .await;
    assert_eq!(c.closed().await, 4029);
    let metrics = hub.hub().metrics.render();
    assert!(
        metrics.contains("bedside_alerts_total{reason=\"auth_failures\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn replay_permission_abuse_and_ip_change_raise_alerts() {
    let env = Env::new();
    let (url, mut alerts) = webhook(0).await;
    let hub = env
        .start_with(|c| {
            c.limits.permission_violations_per_min = 3;
            c.alerts.webhook = Some(url.clone());
        })
        .await;
    // Token replay.
    let token = env.token("v-1", "provider", "dr");
    let (mut dr, _) = hub.join(&token).await;
    let mut again = hub.connect().await;
    again.send(json!({"type":"hello","token":token})).await;
    assert_eq!(again.closed().await, 4001);
    let a = next_alert(&mut alerts, "token_replay").await;
    assert_eq!(
        (a["user_id"].as_str(), a["visit_id"].as_str()),
        (Some("dr"), Some("v-1"))
    );

    // A waiting patient trying provider actions again and again.
    let (mut pt, w) = hub.join(&env.token("v-1", "patient", "pt")).await;
    for _ in 0..3 {
        pt.send(json!({"type":"admit","participant":"pt"})).await;
        assert_eq!(pt.recv_type("error").await["code"], "forbidden");
    }
    let a = next_alert(&mut alerts, "permission_violations").await;
    assert_eq!(a["user_id"], "pt");

    // The same session resumed from another address (127.0.0.2).
    drop(pt);
    dr.recv_type("lobby").await;
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let tcp = sock.connect(hub.addr()).await.unwrap();
    let (ws, _) =
        tokio_tungstenite::client_async(hub.url(), tokio_tungstenite::MaybeTlsStream::Plain(tcp))
            .await
            .unwrap();
    let mut moved = Client { ws };
    moved
        .send(json!({"type":"resume","resume_token":w["resume_token"]}))
        .await;
    assert_eq!(
        moved.recv_type("welcome").await["state"],
        "waiting",
        "the resume still works"
    );
    let a = next_alert(&mut alerts, "ip_change").await;
    assert_eq!(
        (
            a["ip_address"].as_str(),
            a["detail"]["previous_ip"].as_str()
        ),
        (Some("127.0.0.2"), Some("127.0.0.1"))
    );
}

#[tokio::test]
async fn a_flooding_client_is_limited_then_closed_and_the_visit_beside_it_is_not() {
    let env = Env::new();
    let hub = env.start_with(|c| c.limits.messages_per_s = 20).await;
    let (mut a_dr, _a_pt) = admitted_pair(&env, &hub, "visit-a").await;
    let (mut b_dr, mut b_pt) = admitted_pair(&env, &hub, "visit-b").await;

    // Visit B's baseline: 30 relayed ICE round trips at a polite pace.
    async fn round_trips(dr: &mut Client, pt: &mut Client, n: usize, tag: &str) -> Vec<Duration> {
        let mut lat = Vec::new();
        for i in 0..n {
            let t = Instant::now();
            dr.send(json!({"type":"ice","to":"pt","candidate":format!("candidate:{tag}-{i}")}))
                .await;
            let m = pt.recv_type("ice").await;
            assert_eq!(
                m["candidate"],
                format!("candidate:{tag}-{i}"),
                "in order, none lost"
            );
            lat.push(t.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        lat.sort();
        lat
    }
    let quiet = round_trips(&mut b_dr, &mut b_pt, 30, "quiet").await;

    // Visit A's provider floods; visit B carries on meanwhile.
    let flood = tokio::spawn(async move {
        let mut limited = 0;
        let mut sent = 0;
        loop {
            if a_dr
                .ws
                .send(tokio_tungstenite::tungstenite::Message::Text(
                    json!({"type":"ping"}).to_string().into(),
                ))
                .await
                .is_err()
            {
                break;
            }
            sent += 1;
            while let Ok(Some(Ok(m))) = tokio::time::timeout(
                Duration::from_millis(0),
                futures_util::StreamExt::next(&mut a_dr.ws),
            )
            .await
            {
                match m {
                    tokio_tungstenite::tungstenite::Message::Text(t) => {
                        let v: Value = serde_json::from_str(&t).unwrap();
                        if v["code"] == "rate_limited" {
                            limited += 1;
                        }
                    }
                    tokio_tungstenite::tungstenite::Message::Close(Some(f)) => {
                        return (sent, limited, u16::from(f.code));
                    }
                    _ => {}
                }
            }
            if sent > 5000 {
                break;
            }
        }
        (sent, limited, a_dr.closed().await)
    });
    let loaded = round_trips(&mut b_dr, &mut b_pt, 30, "loaded").await;
    let (sent, limited, code) = flood.await.unwrap();
    assert!(limited > 0, "rate_limited before the close");
    assert_eq!(code, 4029, "then closed with 4029 (after {sent} messages)");
    eprintln!(
        "visit B ICE round trip p99: quiet {:?}, beside a flood {:?}",
        quiet[quiet.len() * 99 / 100 - 1],
        loaded[loaded.len() * 99 / 100 - 1]
    );
    use futures_util::SinkExt;
}

async fn upgrade_status(addr: std::net::SocketAddr) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /v1/signal HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).await.unwrap();
    std::str::from_utf8(&buf[9..12]).unwrap().parse().unwrap()
}

#[tokio::test]
async fn denied_networks_get_403_and_full_hubs_503_before_the_upgrade() {
    let env = Env::new();
    let hub = env
        .start_with(|c| c.network.deny_cidrs = vec!["127.0.0.0/8".parse().unwrap()])
        .await;
    assert_eq!(upgrade_status(hub.addr()).await, 403);
    let hub = env
        .start_with(|c| c.network.allow_cidrs = vec!["10.0.0.0/8".parse().unwrap()])
        .await;
    assert_eq!(upgrade_status(hub.addr()).await, 403);
    let hub = env
        .start_with(|c| c.network.allow_cidrs = vec!["127.0.0.1/32".parse().unwrap()])
        .await;
    assert_eq!(upgrade_status(hub.addr()).await, 101);

    let hub = env
        .start_with(|c| c.limits.max_connections_per_ip = 2)
        .await;
    let a = hub.connect().await;
    let _b = hub.connect().await;
    assert_eq!(upgrade_status(hub.addr()).await, 503);
    drop(a);
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if upgrade_status(hub.addr()).await == 101 {
            ok = true;
            break;
        }
    }
    assert!(ok, "a closed connection frees its slot");
}

/// A minimal MaxMind DB writer (format 2.0, IPv4 tree, 24-bit records) for
/// country records, so the GeoIP rule is tested against a database this test
/// builds itself.
mod mmdb {
    fn ctrl(out: &mut Vec<u8>, ty: u8, size: usize) {
        assert!(size < 29);
        if ty <= 7 {
            out.push((ty << 5) | size as u8);
        } else {
            out.push(size as u8);
            out.push(ty - 7);
        }
    }
    fn string(out: &mut Vec<u8>, s: &str) {
        ctrl(out, 2, s.len());
        out.extend_from_slice(s.as_bytes());
    }
    fn uint(out: &mut Vec<u8>, ty: u8, v: u64) {
        let bytes: Vec<u8> = v
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        ctrl(out, ty, bytes.len());
        out.extend_from_slice(&bytes);
    }

    /// `networks`: (IPv4 address, prefix length, ISO country code).
    pub fn country_db(networks: &[([u8; 4], u8, &str)]) -> Vec<u8> {
        // Data section: one country record per network.
        let mut data = Vec::new();
        let mut offsets = Vec::new();
        for (_, _, cc) in networks {
            offsets.push(data.len() as u32);
            ctrl(&mut data, 7, 1);
            string(&mut data, "country");
            ctrl(&mut data, 7, 1);
            string(&mut data, "iso_code");
            string(&mut data, cc);
        }
        // Search tree: nodes of [left, right]; None = no data.
        #[derive(Clone, Copy)]
        enum Rec {
            Empty,
            Node(u32),
            Data(u32),
        }
        let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty, Rec::Empty]];
        for ((ip, len, _), off) in networks.iter().zip(&offsets) {
            let bits = u32::from_be_bytes(*ip);
            let mut node = 0usize;
            for depth in 0..*len {
                let bit = ((bits >> (31 - depth)) & 1) as usize;
                if depth + 1 == *len {
                    nodes[node][bit] = Rec::Data(*off);
                } else {
                    node = match nodes[node][bit] {
                        Rec::Node(n) => n as usize,
                        _ => {
                            nodes.push([Rec::Empty, Rec::Empty]);
                            let n = nodes.len() - 1;
                            nodes[node][bit] = Rec::Node(n as u32);
                            n
                        }
                    };
                }
            }
        }
        let count = nodes.len() as u32;
        let mut out = Vec::new();
        for n in &nodes {
            for r in n {
                let v = match r {
                    Rec::Empty => count,
                    Rec::Node(i) => *i,
                    Rec::Data(off) => count + 16 + off,
                };
                out.extend_from_slice(&v.to_be_bytes()[1..]);
            }
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        let meta = &mut out;
        ctrl(meta, 7, 9);
        string(meta, "binary_format_major_version");
        uint(meta, 5, 2);
        string(meta, "binary_format_minor_version");
        uint(meta, 5, 0);
        string(meta, "build_epoch");
        uint(meta, 9, 1_795_996_741);
        string(meta, "database_type");
        string(meta, "Bedside-Test-Country");
        string(meta, "description");
        ctrl(meta, 7, 0);
        string(meta, "ip_version");
        uint(meta, 5, 4);
        string(meta, "languages");
        ctrl(meta, 11, 0);
        string(meta, "node_count");
        uint(meta, 6, u64::from(count));
        string(meta, "record_size");
        uint(meta, 5, 24);
        out
    }
}

async fn upgrade_status_from(src: &str, addr: std::net::SocketAddr) -> u16 {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{src}:0").parse().unwrap()).unwrap();
    let mut s = sock.connect(addr).await.unwrap();
    s.write_all(b"GET /v1/signal HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).await.unwrap();
    std::str::from_utf8(&buf[9..12]).unwrap().parse().unwrap()
}

#[tokio::test]
async fn only_allowed_countries_reach_the_upgrade() {
    let env = Env::new();
    let db = env.dir.path().join("test-country.mmdb");
    std::fs::write(
        &db,
        mmdb::country_db(&[([127, 0, 0, 1], 32, "US"), ([127, 0, 0, 2], 32, "FR")]),
    )
    .unwrap();
    let hub = env
        .start_with(|c| {
            c.network.geoip_db = Some(db.clone());
            c.network.allow_countries = vec!["US".into()];
        })
        .await;
    assert_eq!(
        upgrade_status_from("127.0.0.1", hub.addr()).await,
        101,
        "US"
    );
    assert_eq!(
        upgrade_status_from("127.0.0.2", hub.addr()).await,
        403,
        "FR"
    );
    assert_eq!(
        upgrade_status_from("127.0.0.3", hub.addr()).await,
        403,
        "unknown: fails closed"
    );
    // An unreadable database stops start-up with the key named.
    let mut c = env.config();
    c.network.geoip_db = Some(env.dir.path().join("missing.mmdb"));
    c.network.allow_countries = vec!["US".into()];
    let err = bedside_server::server::start(c).await.unwrap_err();
    assert!(err.to_string().starts_with("network.geoip_db"), "{err}");
}

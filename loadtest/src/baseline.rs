//! The baselines: minimal tokio-tungstenite forwarders speaking the same
//! framing. No authentication, no validation, no storage, no audit.
//!
//! - [`Mode::Naive`] is written the naive way: every message parsed into a
//!   generic `serde_json::Value`, edited, serialized again per recipient,
//!   default WebSocket buffers, one lock for routing. Running a scenario
//!   against it in the same run gives the hub's cost as a ratio.
//! - [`Mode::Raw`] is the floor: relayed frames (offer, answer, ice, track)
//!   are not parsed at all; the `to` field is found by a substring
//!   search and the received frame's bytes are written unchanged (no
//!   `from`) straight into the recipient's socket from the sender's task,
//!   with no queue or task hop between them. What it costs per message is what WebSocket framing,
//!   tokio and loopback TCP cost on the machine, with no work done.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

type Sink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    Message,
>;

/// A connection as the others reach it: a queue its writer task drains, and
/// its socket's sending half, which the raw forwarder writes to directly
/// from the sender's task (one task hop fewer).
#[derive(Clone)]
struct Peer {
    tx: mpsc::UnboundedSender<Message>,
    sink: Arc<tokio::sync::Mutex<Sink>>,
}

type Peers = Arc<Mutex<HashMap<(String, String), Peer>>>;
type Seqs = Arc<Mutex<HashMap<String, u64>>>;

/// Which forwarder to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Parses every message into a generic JSON value.
    Naive,
    /// Passes relayed frames on without parsing them (the floor).
    Raw,
}

/// Serves on `listener` until the process ends.
pub async fn serve(listener: TcpListener, mode: Mode) {
    let peers: Peers = Arc::default();
    let seqs: Seqs = Arc::default();
    while let Ok((tcp, _)) = listener.accept().await {
        let (peers, seqs) = (peers.clone(), seqs.clone());
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                connection(ws, peers, seqs, mode).await;
            }
        });
    }
}

/// Binds `addr` and serves; returns the bound address.
pub async fn start(addr: SocketAddr, mode: Mode) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(serve(listener, mode));
    Ok(bound)
}

fn claims(token: &str) -> Option<Value> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn send_to(peers: &Peers, visit: &str, who: &str, v: &Value) {
    let g = peers.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(peer) = g.get(&(visit.to_owned(), who.to_owned())) {
        let _ = peer.tx.send(Message::text(v.to_string()));
    }
}

fn others(peers: &Peers, visit: &str, me: &str) -> Vec<Peer> {
    let g = peers.lock().unwrap_or_else(|p| p.into_inner());
    g.iter()
        .filter(|((v, p), _)| v == visit && p != me)
        .map(|(_, peer)| peer.clone())
        .collect()
}

/// The value of a top-level string field, found by substring search
/// (the raw forwarder's whole "parser"; good enough for the load tester's
/// own messages, whose SDPs and candidates never contain `"key":"`).
fn raw_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let rest = text.get(start..)?;
    Some(&rest[..rest.find('"')?])
}

/// What the raw forwarder passes on unparsed (e2e needs a `seq` and an ack,
/// so it takes the naive path).
const RELAYED: [&str; 4] = ["offer", "answer", "ice", "track"];

async fn connection(
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    peers: Peers,
    seqs: Seqs,
    mode: Mode,
) {
    let (sink, mut stream) = ws.split();
    let sink = Arc::new(tokio::sync::Mutex::new(sink));
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let me_peer = Peer {
        tx: tx.clone(),
        sink: sink.clone(),
    };
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if sink.lock().await.send(m).await.is_err() {
                break;
            }
        }
    });
    let mut me: Option<(String, String)> = None;
    while let Some(Ok(msg)) = stream.next().await {
        let Message::Text(text) = msg else { continue };
        if let (Mode::Raw, Some((visit, sub))) = (mode, me.as_ref())
            && raw_field(text.as_str(), "\"type\":\"").is_some_and(|t| RELAYED.contains(&t))
        {
            let to = match raw_field(text.as_str(), "\"to\":\"") {
                Some(to) => {
                    let g = peers.lock().unwrap_or_else(|p| p.into_inner());
                    g.get(&(visit.clone(), to.to_owned()))
                        .cloned()
                        .into_iter()
                        .collect()
                }
                None => others(&peers, visit, sub),
            };
            for peer in to {
                let _ = peer
                    .sink
                    .lock()
                    .await
                    .send(Message::Text(text.clone()))
                    .await;
            }
            continue;
        }
        let Ok(mut v) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        let ty = v["type"].as_str().unwrap_or_default().to_owned();
        if ty == "hello" {
            let c = claims(v["token"].as_str().unwrap_or_default()).unwrap_or(Value::Null);
            let visit = c["visit"].as_str().unwrap_or("v").to_owned();
            let sub = c["sub"].as_str().unwrap_or("anon").to_owned();
            let _ = tx.send(Message::text(
                json!({"type":"welcome","session":"s","visit":visit,
                    "participant":{"id":sub,"name":sub,"role":c["role"],"perms":[]},
                    "state":"admitted","resume_token":"-","expires_at":0,"ice_servers":[],
                    "limits":{"max_message_bytes":65536,"idle_timeout_s":900}})
                .to_string(),
            ));
            peers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((visit.clone(), sub.clone()), me_peer.clone());
            me = Some((visit, sub));
            continue;
        }
        let Some((visit, sub)) = me.as_ref() else {
            continue;
        };
        match ty.as_str() {
            "admit" => {
                let who = v["participant"].as_str().unwrap_or_default().to_owned();
                let p = json!({"id":who,"name":who,"role":"patient","perms":[],"tracks":[],"keys":null});
                let _ = tx.send(Message::text(
                    json!({"type":"joined","participant":p}).to_string(),
                ));
                send_to(
                    &peers,
                    visit,
                    &who,
                    &json!({"type":"admitted","participants":[p]}),
                );
            }
            "offer" | "answer" | "ice" | "track" => {
                v["from"] = Value::from(sub.as_str());
                match v["to"].as_str().map(str::to_owned) {
                    Some(to) => send_to(&peers, visit, &to, &v),
                    None => {
                        for t in others(&peers, visit, sub) {
                            let _ = t.tx.send(Message::text(v.to_string()));
                        }
                    }
                }
            }
            "e2e" => {
                let seq = {
                    let mut g = seqs.lock().unwrap_or_else(|p| p.into_inner());
                    let s = g.entry(visit.clone()).or_insert(0);
                    *s += 1;
                    *s
                };
                let _ = tx.send(Message::text(
                    json!({"type":"ack","re":v["id"],"seq":seq}).to_string(),
                ));
                v["from"] = Value::from(sub.as_str());
                v["seq"] = Value::from(seq);
                for t in others(&peers, visit, sub) {
                    let _ = t.tx.send(Message::text(v.to_string()));
                }
            }
            "grant" | "revoke" => {
                let perms: Vec<&str> = if ty == "grant" {
                    vec!["screen_share"]
                } else {
                    vec![]
                };
                let m = json!({"type":"permissions","participant":v["participant"],"perms":perms});
                let _ = tx.send(Message::text(m.to_string()));
                for t in others(&peers, visit, sub) {
                    let _ = t.tx.send(Message::text(m.to_string()));
                }
            }
            "ping" => {
                let _ = tx.send(Message::text(json!({"type":"pong"}).to_string()));
            }
            _ => {}
        }
    }
    if let Some(k) = me {
        peers.lock().unwrap_or_else(|p| p.into_inner()).remove(&k);
    }
}

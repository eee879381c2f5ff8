//! The baseline: a minimal tokio-tungstenite forwarder speaking the same
//! framing, written the naive way — every message parsed into a generic
//! `serde_json::Value`, edited, serialized again per recipient, default
//! WebSocket buffers, one lock for routing. No authentication, no
//! validation, no storage, no audit. Running a scenario against it in the
//! same run gives the hub's cost as a ratio.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

type Peers = Arc<Mutex<HashMap<(String, String), mpsc::UnboundedSender<String>>>>;
type Seqs = Arc<Mutex<HashMap<String, u64>>>;

/// Serves on `listener` until the process ends.
pub async fn serve(listener: TcpListener) {
    let peers: Peers = Arc::default();
    let seqs: Seqs = Arc::default();
    while let Ok((tcp, _)) = listener.accept().await {
        let (peers, seqs) = (peers.clone(), seqs.clone());
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                connection(ws, peers, seqs).await;
            }
        });
    }
}

/// Binds `addr` and serves; returns the bound address.
pub async fn start(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(serve(listener));
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
    if let Some(tx) = g.get(&(visit.to_owned(), who.to_owned())) {
        let _ = tx.send(v.to_string());
    }
}

fn others(peers: &Peers, visit: &str, me: &str) -> Vec<mpsc::UnboundedSender<String>> {
    let g = peers.lock().unwrap_or_else(|p| p.into_inner());
    g.iter()
        .filter(|((v, p), _)| v == visit && p != me)
        .map(|(_, tx)| tx.clone())
        .collect()
}

async fn connection(
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    peers: Peers,
    seqs: Seqs,
) {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Some(t) = rx.recv().await {
            if sink.send(Message::text(t)).await.is_err() {
                break;
            }
        }
    });
    let mut me: Option<(String, String)> = None;
    while let Some(Ok(msg)) = stream.next().await {
        let Message::Text(text) = msg else { continue };
        let Ok(mut v) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        let ty = v["type"].as_str().unwrap_or_default().to_owned();
        if ty == "hello" {
            let c = claims(v["token"].as_str().unwrap_or_default()).unwrap_or(Value::Null);
            let visit = c["visit"].as_str().unwrap_or("v").to_owned();
            let sub = c["sub"].as_str().unwrap_or("anon").to_owned();
            let _ = tx.send(
                json!({"type":"welcome","session":"s","visit":visit,
                    "participant":{"id":sub,"name":sub,"role":c["role"],"perms":[]},
                    "state":"admitted","resume_token":"-","expires_at":0,"ice_servers":[],
                    "limits":{"max_message_bytes":65536,"idle_timeout_s":900}})
                .to_string(),
            );
            peers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((visit.clone(), sub.clone()), tx.clone());
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
                let _ = tx.send(json!({"type":"joined","participant":p}).to_string());
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
                            let _ = t.send(v.to_string());
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
                let _ = tx.send(json!({"type":"ack","re":v["id"],"seq":seq}).to_string());
                v["from"] = Value::from(sub.as_str());
                v["seq"] = Value::from(seq);
                for t in others(&peers, visit, sub) {
                    let _ = t.send(v.to_string());
                }
            }
            "grant" | "revoke" => {
                let perms: Vec<&str> = if ty == "grant" {
                    vec!["screen_share"]
                } else {
                    vec![]
                };
                let m = json!({"type":"permissions","participant":v["participant"],"perms":perms});
                let _ = tx.send(m.to_string());
                for t in others(&peers, visit, sub) {
                    let _ = t.send(m.to_string());
                }
            }
            "ping" => {
                let _ = tx.send(json!({"type":"pong"}).to_string());
            }
            _ => {}
        }
    }
    if let Some(k) = me {
        peers.lock().unwrap_or_else(|p| p.into_inner()).remove(&k);
    }
}

//! Negotiation relay throughput: pairs of admitted participants bounce an
//! offer/answer (a real 3 KB Chromium-shaped SDP) back and forth as fast as
//! the hub relays them; every relayed SDP is validated, and with the audit
//! trail on, every relay is an audit record written before delivery.
//!
//! The hub runs as its own process (the release `bedside` binary); besides
//! throughput it reports the hub's CPU time (user + system, from /proc) per
//! relayed SDP, which stays steady when the machine is noisy.
//!
//! Run: `cargo bench -p bedside-server --bench relay`, and with `AUDIT=0` for
//! the comparison. `SECS` (default 10), `PAIRS` (default 50).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

const SDP: &str = include_str!("../tests/data/offer.sdp");

async fn run(pairs: usize, secs: u64) -> (f64, Vec<Duration>, Duration) {
    let (mut child, url, key, _files) = start_hub_process();
    let mut tasks = Vec::new();
    let start = Instant::now() + Duration::from_millis(200);
    let deadline = start + Duration::from_secs(secs);
    for i in 0..pairs {
        let (mut dr, mut pt) = pair(&url, &key, i).await;
        recv_type(&mut pt, "admitted").await;
        // The patient answers every offer, until the hub goes away.
        tokio::spawn(async move {
            use futures_util::{SinkExt, StreamExt};
            use tokio_tungstenite::tungstenite::Message;
            while let Some(Ok(m)) = pt.next().await {
                let Message::Text(t) = m else { continue };
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "offer" {
                    let answer = json!({"type":"answer","to":"dr","sdp":SDP}).to_string();
                    if pt.send(Message::Text(answer.into())).await.is_err() {
                        return;
                    }
                }
            }
        });
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start.into()).await;
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                send(&mut dr, json!({"type":"offer","to":"pt","sdp":SDP})).await;
                recv_type(&mut dr, "answer").await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    tokio::time::sleep_until(start.into()).await;
    let cpu0 = cpu_time(child.id());
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let cpu = cpu_time(child.id()) - cpu0;
    let elapsed = secs as f64;
    all.sort();
    let _ = child.kill();
    let _ = child.wait();
    // Each round trip relays two SDPs.
    let relays = 2 * all.len() as u32;
    (f64::from(relays) / elapsed, all, cpu / relays.max(1))
}

fn main() {
    let secs = secs(10);
    let pairs: usize = if smoke() {
        2
    } else {
        std::env::var("PAIRS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(50)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (rate, lat, cpu) = rt.block_on(run(pairs, secs));
    println!(
        "audit {}: {pairs} pairs, {rate:.0} SDP relays/s, hub CPU {:.1} us/relay, round trip p50 {:.2} ms, p99 {:.2} ms",
        if audit_enabled() { "on " } else { "off" },
        cpu.as_secs_f64() * 1e6,
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );
}

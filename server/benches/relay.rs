//! Negotiation relay throughput: pairs of admitted participants bounce an
//! offer/answer (a real 3 KB Chromium-shaped SDP) back and forth as fast as
//! the hub relays them; every relayed SDP is validated, and with the audit
//! trail on, every relay is an audit record written before delivery.
//!
//! Run: `cargo bench -p bedside-server --bench relay`, and with `AUDIT=0` for
//! the comparison. `SECS` (default 10), `PAIRS` (default 50).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

const SDP: &str = include_str!("../tests/data/offer.sdp");

async fn run(pairs: usize, secs: u64) -> (f64, Vec<Duration>) {
    let (hub, key, _dir) = start_hub().await;
    let url = format!("ws://{}/v1/signal", hub.addr);
    let mut tasks = Vec::new();
    let start = Instant::now() + Duration::from_millis(200);
    let deadline = start + Duration::from_secs(secs);
    for i in 0..pairs {
        let (mut dr, mut pt) = pair(&url, &key, i).await;
        recv_type(&mut pt, "admitted").await;
        // The patient answers every offer.
        tokio::spawn(async move {
            loop {
                let m = recv(&mut pt).await;
                if m["type"] == "offer" {
                    send(&mut pt, json!({"type":"answer","to":"dr","sdp":SDP})).await;
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
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = secs as f64;
    all.sort();
    hub.shutdown(Duration::from_secs(2)).await;
    // Each round trip relays two SDPs.
    (2.0 * all.len() as f64 / elapsed, all)
}

fn main() {
    let secs: u64 = std::env::var("SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let pairs: usize = std::env::var("PAIRS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (rate, lat) = rt.block_on(run(pairs, secs));
    println!(
        "audit {}: {pairs} pairs, {rate:.0} SDP relays/s, round trip p50 {:.2} ms, p99 {:.2} ms",
        if audit_enabled() { "on " } else { "off" },
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );
}

//! Durable e2e acks: throughput and ack latency with 1, 10 and 100 concurrent
//! senders against a hub on its default store (SQLite; every ack follows an
//! `fdatasync` of the write-ahead log that holds the message).
//!
//! Each sender is paired with a partner in its own visit; it keeps one message
//! in flight (closed loop), so ack latency is the time from send to the
//! durable ack. The hub is the release `bedside` binary in its own process;
//! its CPU time per message (user + system, from /proc) is reported too.
//!
//! Run: `cargo bench -p bedside-server --bench e2e_acks` (release build).
//! Options through the environment: `SECS` (default 10), `SENDERS` (a list,
//! default "1,10,100"), `AUDIT=0` to measure without the audit trail,
//! `RECIPIENT_ACKS=each` for recipients that ack every message at once
//! (by default they ack as the SDK does: cumulatively, within 200 ms),
//! `STORE=redis` for the store on a real redis-server (a one-node cluster,
//! `appendfsync always`; its CPU is reported too), `AT_REST=1` for the
//! SQLite store encrypted at rest (SQLCipher under a root key file).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

mod common;
use common::*;

/// Acks per second, ack latencies, and CPU per message of the hub, of this
/// process's clients and of Redis (zero without).
async fn run(senders: usize, secs: u64) -> (f64, Vec<Duration>, [Duration; 3]) {
    let (mut child, url, key, files) = start_hub_process();
    let redis_cpu = || {
        files
            .redis
            .as_ref()
            .and_then(|r| r.pid())
            .map_or(Duration::ZERO, cpu_time)
    };
    let mut pairs = Vec::new();
    for i in 0..senders {
        pairs.push(pair(&url, &key, i).await);
    }
    let body = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0x5au8; 200]);
    let start = Instant::now();
    let cpu0 = cpu_time(child.id());
    let own0 = cpu_time(std::process::id());
    let redis0 = redis_cpu();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    let each = ack_each();
    for (mut dr, mut pt) in pairs {
        let body = body.clone();
        // The recipient reads what it gets and acknowledges it as the SDK
        // does: cumulatively, at most ACK_DELAY after the first unacked
        // message (`RECIPIENT_ACKS=each` acks every message at once).
        // Clients are lean (no generic JSON parsing; the hub's frames are
        // scanned for `"seq":`) so their CPU does not crowd out the hub's on
        // a 2-core machine.
        tokio::spawn(async move {
            let mut last = 0u64;
            let mut due: Option<tokio::time::Instant> = None;
            loop {
                let frame = match due {
                    Some(at) => tokio::select! {
                        f = pt.next() => f,
                        () = tokio::time::sleep_until(at) => {
                            due = None;
                            if send_ack(&mut pt, last).await.is_err() {
                                return;
                            }
                            continue;
                        }
                    },
                    None => pt.next().await,
                };
                let t = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(_)) => continue,
                    _ => return,
                };
                if t.starts_with(r#"{"type":"e2e""#) {
                    last = seq_of(&t).unwrap();
                    if each {
                        if send_ack(&mut pt, last).await.is_err() {
                            return;
                        }
                    } else {
                        due.get_or_insert_with(|| tokio::time::Instant::now() + ACK_DELAY);
                    }
                }
            }
        });
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = 0u64;
            let tail = format!(r#"","to":["pt"],"kind":"chat","body":"{body}"}}"#);
            while Instant::now() < deadline {
                let sent = Instant::now();
                let m = format!(r#"{{"type":"e2e","id":"m{n}{tail}"#);
                dr.send(Message::Text(m.into())).await.unwrap();
                loop {
                    match dr.next().await {
                        Some(Ok(Message::Text(t))) if t.starts_with(r#"{"type":"ack""#) => {
                            assert!(seq_of(&t).is_some(), "{t}");
                            break;
                        }
                        Some(Ok(Message::Text(t))) if t.starts_with(r#"{"type":"error""#) => {
                            panic!("{t}")
                        }
                        Some(Ok(_)) => {}
                        other => panic!("{other:?}"),
                    }
                }
                lat.push(sent.elapsed());
                n += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_time(child.id()) - cpu0;
    let own = cpu_time(std::process::id()) - own0;
    let redis = redis_cpu() - redis0;
    all.sort();
    let _ = child.kill();
    let _ = child.wait();
    let n = all.len() as u32;
    let per = |d: Duration| d / n.max(1);
    (
        f64::from(n) / elapsed,
        all,
        [per(cpu), per(own), per(redis)],
    )
}

/// How long the SDK lets a recipient's ack wait (`ACK_DELAY_MS` in
/// `client-sdk/src/session`), so acks of a burst travel as one.
const ACK_DELAY: Duration = Duration::from_millis(200);

/// Whether recipients ack every message at once (`RECIPIENT_ACKS=each`)
/// instead of as the SDK does.
fn ack_each() -> bool {
    std::env::var("RECIPIENT_ACKS").is_ok_and(|v| v == "each")
}

/// A recipient's cumulative ack up to `seq`.
async fn send_ack(ws: &mut Ws, seq: u64) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    ws.send(Message::Text(
        format!(r#"{{"type":"ack","seq":{seq}}}"#).into(),
    ))
    .await
}

/// The number after `"seq":` in a hub frame.
fn seq_of(frame: &str) -> Option<u64> {
    let at = frame.find(r#""seq":"#)? + 6;
    let digits: &str = &frame[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

fn pct(v: &[Duration], p: f64) -> f64 {
    let i = ((v.len() as f64 * p).ceil() as usize)
        .saturating_sub(1)
        .min(v.len() - 1);
    v[i].as_secs_f64() * 1000.0
}

fn main() {
    let secs = secs(10);
    let list = if smoke() {
        "2".to_owned()
    } else {
        std::env::var("SENDERS").unwrap_or_else(|_| "1,10,100".into())
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "store: {}; audit trail: {}; recipients ack {}",
        if on_redis() {
            "redis-server (appendfsync always)"
        } else if at_rest() {
            "SQLite encrypted at rest (SQLCipher)"
        } else {
            "SQLite"
        },
        if audit_enabled() { "on" } else { "off" },
        if ack_each() {
            "every message at once"
        } else {
            "as the SDK does (cumulative, within 200 ms)"
        }
    );
    println!(
        "| senders | durable acks/s | ack p50 ms | ack p99 ms | max ms | hub CPU µs/message | clients' CPU µs/message | Redis CPU µs/message |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in list.split(',').map(|s| s.trim().parse::<usize>().unwrap()) {
        let (rate, lat, [cpu, own, redis]) = rt.block_on(run(n, secs));
        println!(
            "| {n} | {rate:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} |",
            pct(&lat, 0.50),
            pct(&lat, 0.99),
            lat.last().unwrap().as_secs_f64() * 1000.0,
            cpu.as_secs_f64() * 1e6,
            own.as_secs_f64() * 1e6,
            redis.as_secs_f64() * 1e6
        );
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Section 7: durable end-to-end message relay. Seq without gaps, ack only
//! after a durable write, delivery in order, redelivery on resume (also after
//! SIGKILL), recipients, retention and deletion from disk.

mod common;
use base64::Engine as _;
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Three admitted participants: dr (provider), pt, gu.
async fn trio(env: &Env, hub: &Hub, visit: &str) -> (Client, Client, Client) {
    let (mut dr, mut pt) = admitted_pair(env, hub, visit).await;
    let (mut gu, _) = hub.join(&env.token(visit, "guest", "gu")).await;
    dr.recv_type("lobby").await;
    dr.send(json!({"type":"admit","participant":"gu"})).await;
    gu.recv_type("admitted").await;
    dr.recv_type("joined").await;
    pt.recv_type("joined").await;
    dr.recv_type("lobby").await;
    (dr, pt, gu)
}

/// Reads until `n` e2e messages arrived (ignoring other types).
async fn e2e_messages(c: &mut Client, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        out.push(c.recv_type("e2e").await);
    }
    out
}

#[tokio::test]
async fn ack_carries_seq_and_recipients_get_it() {
    let env = Env::new();
    // Frames large enough for a body just over 48 KiB (64 KiB of base64).
    let hub = env
        .start_with(|c| c.session.max_message_bytes = 128 * 1024)
        .await;
    let (mut dr, mut pt) = admitted_pair(&env, &hub, "v-1").await;
    dr.send(json!({"type":"e2e","id":"c-9","to":["pt"],"kind":"chat","body":b64("ciphertext")}))
        .await;
    let ack = dr.recv_type("ack").await;
    assert_eq!(ack, json!({"type":"ack","re":"c-9","seq":1}));
    let m = pt.recv_type("e2e").await;
    assert_eq!(m["from"], "dr");
    assert_eq!(m["seq"], 1);
    assert_eq!(m["kind"], "chat");
    assert_eq!(m["to"], json!(["pt"]));
    assert_eq!(m["body"], b64("ciphertext"));
    assert!(m["ts"].as_i64().unwrap() > 1_700_000_000_000);
    // Bad bodies: nothing stored, no seq consumed.
    dr.send(json!({"type":"e2e","id":"bad","kind":"chat","body":"not base64!"}))
        .await;
    let e = dr.recv_type("error").await;
    assert_eq!(
        (e["code"].as_str(), e["re"].as_str()),
        (Some("bad_request"), Some("bad"))
    );
    let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 48 * 1024 + 1]);
    dr.send(json!({"type":"e2e","id":"big","kind":"chat","body":big}))
        .await;
    assert_eq!(dr.recv_type("error").await["code"], "too_large");
    dr.send(json!({"type":"e2e","id":"c-10","kind":"receipt","body":b64("r")}))
        .await;
    assert_eq!(
        dr.recv_type("ack").await["seq"],
        2,
        "no gap after refused messages"
    );
    assert_eq!(pt.recv_type("e2e").await["seq"], 2);
}

#[tokio::test]
async fn seq_is_contiguous_across_concurrent_senders_and_delivery_is_ordered() {
    let env = Env::new();
    // Bursts far above the default per-connection rate: this is about the store.
    let hub = env.start_with(|c| c.limits.messages_per_s = 100_000).await;
    let (mut dr, mut pt, mut gu) = trio(&env, &hub, "v-1").await;
    const N: usize = 150;
    // Everyone sends N messages to everyone else, without waiting.
    for i in 0..N {
        for (c, who) in [(&mut dr, "dr"), (&mut pt, "pt"), (&mut gu, "gu")] {
            c.send(json!({"type":"e2e","id":format!("{who}-{i}"),"kind":"chat","body":b64(&format!("{who} {i}"))})).await;
        }
    }
    let mut all_acked = BTreeSet::new();
    for c in [&mut dr, &mut pt, &mut gu] {
        let mut got_acks = 0;
        let mut got = Vec::new();
        while got_acks < N || got.len() < 2 * N {
            let m = c.recv().await;
            match m["type"].as_str() {
                Some("ack") => {
                    assert!(
                        all_acked.insert(m["seq"].as_u64().unwrap()),
                        "seq used twice"
                    );
                    got_acks += 1;
                }
                Some("e2e") => got.push(m["seq"].as_u64().unwrap()),
                other => panic!("unexpected {other:?}: {m}"),
            }
        }
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "delivered in seq order"
        );
    }
    let expect: BTreeSet<u64> = (1..=3 * N as u64).collect();
    assert_eq!(all_acked, expect, "seq 1..=3N without gaps");
}

#[tokio::test]
async fn only_named_admitted_recipients_receive() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, mut pt, mut gu) = trio(&env, &hub, "v-1").await;
    let (mut waiting, _) = hub.join(&env.token("v-1", "patient", "wt")).await;
    dr.recv_type("lobby").await;
    dr.send(json!({"type":"e2e","id":"a","to":["pt"],"kind":"chat","body":b64("for pt")}))
        .await;
    dr.recv_type("ack").await;
    assert_eq!(pt.recv_type("e2e").await["body"], b64("for pt"));
    dr.send(json!({"type":"e2e","id":"b","kind":"chat","body":b64("for all")}))
        .await;
    assert_eq!(dr.recv_type("ack").await["seq"], 2);
    let m = gu.recv_type("e2e").await;
    assert_eq!(
        (m["seq"].as_u64(), m["to"].clone()),
        (Some(2), json!(["gu", "pt"])),
        "gu never saw seq 1"
    );
    dr.send(json!({"type":"e2e","id":"c","to":["wt"],"kind":"chat","body":b64("x")}))
        .await;
    assert_eq!(
        dr.recv_type("error").await["code"],
        "not_found",
        "a waiting participant is no recipient"
    );
    waiting
        .send(json!({"type":"e2e","to":["dr"],"kind":"chat","body":b64("x")}))
        .await;
    assert_eq!(waiting.recv_type("error").await["code"], "forbidden");
    let seen = waiting.drain(Duration::from_millis(300)).await;
    assert!(seen.iter().all(|m| m["type"] != "e2e"), "{seen:?}");
}

#[tokio::test]
async fn offline_recipients_get_missed_messages_on_resume_in_order_then_new_ones() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, _pt0) = admitted_pair(&env, &hub, "v-1").await;
    drop(_pt0);
    // pt's welcome token: get it from a fresh resume cycle.
    let mut pt = hub.connect().await;
    pt.send(json!({"type":"hello","token":env.token("v-1","patient","pt")}))
        .await;
    let w = pt.recv_type("welcome").await;
    pt.recv_type("admitted").await;
    drop(pt);
    dr.recv_type("left").await;
    for i in 1..=3 {
        dr.send(
            json!({"type":"e2e","id":format!("m{i}"),"kind":"chat","body":b64(&format!("m{i}"))}),
        )
        .await;
        assert_eq!(dr.recv_type("ack").await["seq"], i);
    }
    let (mut pt, w2) = resume(&hub.url(), w["resume_token"].as_str().unwrap())
        .await
        .unwrap();
    let got = e2e_messages(&mut pt, 3).await;
    assert_eq!(
        got.iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    dr.send(json!({"type":"e2e","kind":"chat","body":b64("m4")}))
        .await;
    assert_eq!(pt.recv_type("e2e").await["seq"], 4);
    // Resume with last_seq 2: only what comes after (3 and 4).
    drop(pt);
    let (mut pt, w3) = resume_after(&hub.url(), w2["resume_token"].as_str().unwrap(), 2).await;
    let got = e2e_messages(&mut pt, 2).await;
    assert_eq!(
        got.iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [3, 4]
    );
    // The client's ack lets the hub forget: nothing comes back after it.
    pt.send(json!({"type":"ack","seq":4})).await;
    pt.send(json!({"type":"ping","id":"sync"})).await;
    pt.recv_type("pong").await;
    drop(pt);
    let (mut pt, _) = resume_after(&hub.url(), w3["resume_token"].as_str().unwrap(), 0).await;
    let rest = pt.drain(Duration::from_millis(400)).await;
    assert!(
        rest.iter().all(|m| m["type"] != "e2e"),
        "acked messages came back: {rest:?}"
    );
}

async fn resume_after(url: &str, token: &str, last_seq: u64) -> (Client, Value) {
    let mut c = Client::connect(url).await;
    c.send(json!({"type":"resume","resume_token":token,"last_seq":last_seq}))
        .await;
    let w = c.recv_type("welcome").await;
    (c, w)
}

#[tokio::test]
async fn messages_to_someone_who_left_never_reach_a_later_joiner() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, mut pt) = admitted_pair(&env, &hub, "v-1").await;
    dr.send(json!({"type":"e2e","to":["pt"],"kind":"chat","body":b64("secret for pt")}))
        .await;
    dr.recv_type("ack").await;
    pt.send(json!({"type":"leave"})).await;
    assert_eq!(pt.closed().await, 1000);
    for who in ["pt", "pt2"] {
        let (mut c, w) = hub.join(&env.token("v-1", "patient", who)).await;
        assert_eq!(w["state"], "waiting");
        dr.recv_type("lobby").await;
        dr.send(json!({"type":"admit","participant":who})).await;
        c.recv_type("admitted").await;
        let seen = c.drain(Duration::from_millis(400)).await;
        assert!(seen.iter().all(|m| m["type"] != "e2e"), "{who}: {seen:?}");
        dr.recv_type("joined").await;
        dr.recv_type("lobby").await;
    }
}

fn files_contain(dir: &std::path::Path, needle: &str) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

#[tokio::test]
async fn end_visit_deletes_bodies_from_disk() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, mut pt) = admitted_pair(&env, &hub, "v-1").await;
    let marker = b64("MARKER-7f3a9c-opaque-ciphertext");
    dr.send(json!({"type":"e2e","kind":"chat","body":marker}))
        .await;
    dr.recv_type("ack").await;
    pt.recv_type("e2e").await;
    assert!(
        files_contain(&env.data_dir(), &marker),
        "the body is stored until the visit ends"
    );
    dr.send(json!({"type":"end_visit"})).await;
    pt.recv_type("ended").await;
    assert!(
        !files_contain(&env.data_dir(), &marker),
        "the body is gone from the database and its WAL"
    );
}

#[tokio::test]
async fn bodies_expire_after_retention() {
    let env = Env::new();
    // Idle sessions stay up across the clock's jumps (past the default
    // idle timeout, which closed dr whenever the jump's wake-up ran before
    // its ping): this test is about retention.
    let (hub, clock) = env
        .start_on_clock(|c| {
            c.session.retention_s = 3600;
            c.session.idle_timeout_s = 7200;
        })
        .await;
    let (mut dr, pt) = admitted_pair(&env, &hub, "v-1").await;
    drop(pt);
    let marker = b64("RETENTION-MARKER-19d2");
    dr.send(json!({"type":"e2e","kind":"chat","body":marker}))
        .await;
    dr.recv_type("ack").await;
    clock.advance(Duration::from_secs(1800));
    dr.send(json!({"type":"ping"})).await;
    dr.recv_type("pong").await;
    assert!(
        files_contain(&env.data_dir(), &marker),
        "kept for retention_s"
    );
    clock.advance(Duration::from_secs(1801));
    // The sweep runs at once when the clock moves; its delete is real IO.
    let mut gone = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if !files_contain(&env.data_dir(), &marker) {
            gone = true;
            break;
        }
    }
    assert!(gone, "body deleted after retention_s");
}

#[tokio::test]
async fn every_acked_message_survives_sigkill_exactly_once_in_order() {
    let env = Env::new();
    let unlimited = "[limits]\nmessages_per_s = 100000\n";
    let p = Process::start(&env, unlimited);
    let mut tokens = Vec::new();
    let mut clients = Vec::new();
    for (who, role) in [("dr", "provider"), ("pt", "patient"), ("gu", "guest")] {
        let mut c = Client::connect(&p.url).await;
        let w = c.hello(&env.token("v-1", role, who)).await;
        tokens.push(w["resume_token"].as_str().unwrap().to_owned());
        clients.push(c);
    }
    for who in ["pt", "gu"] {
        clients[0]
            .send(json!({"type":"admit","participant":who}))
            .await;
    }
    clients[1].recv_type("admitted").await;
    clients[2].recv_type("admitted").await;
    clients[0].send(json!({"type":"ping","id":"sync"})).await;
    clients[0].recv_type("pong").await;
    // A burst from dr and pt to everyone; nobody acks what it receives.
    const N: usize = 300;
    for i in 0..N {
        clients[0].send(json!({"type":"e2e","id":format!("d{i}"),"kind":"chat","body":b64(&format!("d{i}"))})).await;
        clients[1].send(json!({"type":"e2e","id":format!("p{i}"),"kind":"chat","body":b64(&format!("p{i}"))})).await;
    }
    // Every message is answered: an ack (durable) or `rate_limited` (the
    // store is behind; nothing stored).
    let mut acked: Vec<(String, u64)> = Vec::new();
    let mut limited = 0;
    for (idx, who) in [(0, "dr"), (1, "pt")] {
        let mut n = 0;
        while n < N {
            let m = clients[idx].recv().await;
            match m["type"].as_str() {
                Some("ack") => acked.push((who.to_owned(), m["seq"].as_u64().unwrap())),
                Some("error") => {
                    assert_eq!(m["code"], "rate_limited", "{m}");
                    limited += 1;
                }
                _ => continue,
            }
            n += 1;
        }
    }
    assert!(
        acked.len() > N,
        "most of the burst was stored ({limited} rate-limited)"
    );
    p.kill9(); // right after the last ack
    drop(clients);
    let p = Process::start(&env, unlimited);
    for (i, who) in ["dr", "pt", "gu"].iter().enumerate() {
        let (mut c, _) = resume(&p.url, &tokens[i]).await.unwrap();
        let expect: Vec<u64> = {
            let mut v: Vec<u64> = acked
                .iter()
                .filter(|(from, _)| from != who)
                .map(|(_, s)| *s)
                .collect();
            v.sort();
            v
        };
        let got = e2e_messages(&mut c, expect.len()).await;
        let seqs: Vec<u64> = got.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, expect, "{who}: every acked message once, in order");
        for m in &got {
            assert_ne!(m["from"], *who);
        }
        let extra = c.drain(Duration::from_millis(300)).await;
        assert!(
            extra.iter().all(|m| m["type"] != "e2e"),
            "{who}: duplicates {extra:?}"
        );
    }
}

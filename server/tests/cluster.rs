#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Several `bedside` processes on one real redis-server: participants on
//! any node, takeover after SIGKILL and SIGSTOP, drain, a Redis restart,
//! and the settings a node refuses to start on.

mod common;
use base64::Engine as _;
use common::redis::Redis;
use common::*;
use serde_json::{Value, json};

/// Short leases, so a dead node's visits move within seconds.
const NODE: &str = "lease_ms = 1500\n";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// dr on `a`, pt on `b`: pt waits, dr admits.
async fn admitted_across(
    env: &Env,
    a: &str,
    b: &str,
    visit: &str,
) -> (Client, Client, Value, Value) {
    let mut dr = Client::connect(a).await;
    let wd = dr.hello(&env.token(visit, "provider", "dr")).await;
    let mut pt = Client::connect(b).await;
    let wp = pt.hello(&env.token(visit, "patient", "pt")).await;
    assert_eq!(wp["state"], "waiting");
    loop {
        let lobby = dr.recv_type("lobby").await;
        if lobby["waiting"][0]["id"] == "pt" {
            break;
        }
    }
    dr.send(json!({"type":"admit","participant":"pt"})).await;
    pt.recv_type("admitted").await;
    dr.recv_type("joined").await;
    (dr, pt, wd, wp)
}

#[tokio::test]
async fn a_visit_spans_two_nodes() {
    let redis = Redis::start();
    let env = Env::new();
    let a = Process::start_node(&env, "node-a", &redis.url(), NODE);
    let b = Process::start_node(&env, "node-b", &redis.url(), NODE);
    let (mut dr, mut pt, _, wp) = admitted_across(&env, &a.url, &b.url, "v-1").await;
    // The resume token crossed no node: the welcome pt got from node-a
    // (through node-b) carries the token node-b made.
    let token = wp["resume_token"].as_str().unwrap();
    assert!(!token.contains("placeholder"), "{token}");
    assert_eq!(token.split_once('.').unwrap().0.len(), 32);
    let owner = redis.cli(&["--scan", "--pattern", "bs:{*}:lease"]);
    assert_eq!(redis.cli(&["GET", &owner]), "node-a/1");

    // Negotiation relay, both ways.
    dr.send(json!({"type":"offer","to":"pt","sdp":OFFER})).await;
    let o = pt.recv_type("offer").await;
    assert_eq!(
        (o["from"].as_str(), o["sdp"].as_str()),
        (Some("dr"), Some(OFFER))
    );
    pt.send(json!({"type":"answer","to":"dr","sdp":OFFER}))
        .await;
    assert_eq!(dr.recv_type("answer").await["from"], "pt");
    let cand = "candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host";
    pt.send(json!({"type":"ice","to":"dr","candidate":cand,"sdp_mid":"0","sdp_mline_index":0}))
        .await;
    assert_eq!(dr.recv_type("ice").await["candidate"], cand);

    // Screen share: refused, granted, announced, revoked.
    let share =
        json!({"type":"track","id":"t1","action":"publish","source":"screen","track_id":"scr-1"});
    pt.send(share.clone()).await;
    assert_eq!(pt.recv_type("error").await["code"], "forbidden");
    dr.send(json!({"type":"grant","participant":"pt","permission":"screen_share"}))
        .await;
    assert_eq!(
        pt.recv_type("permissions").await["perms"],
        json!(["screen_share"])
    );
    pt.send(share).await;
    assert_eq!(
        dr.recv_type("track").await,
        json!({"type":"track","action":"publish","from":"pt","source":"screen","track_id":"scr-1"})
    );
    dr.send(json!({"type":"revoke","participant":"pt","permission":"screen_share"}))
        .await;
    let unpublish = json!({"type":"track","action":"unpublish","from":"pt","track_id":"scr-1"});
    assert_eq!(pt.recv_type("track").await, unpublish);
    assert_eq!(dr.recv_type("track").await, unpublish);

    // End-to-end chat both ways, acknowledged with contiguous seqs.
    dr.send(json!({"type":"e2e","id":"c1","kind":"chat","body":b64("hello")}))
        .await;
    let ack = dr.recv_type("ack").await;
    assert_eq!(
        (ack["re"].as_str(), ack["seq"].as_u64()),
        (Some("c1"), Some(1))
    );
    let m = pt.recv_type("e2e").await;
    assert_eq!(
        (m["from"].as_str(), m["seq"].as_u64()),
        (Some("dr"), Some(1))
    );
    assert_eq!(m["body"], b64("hello"));
    pt.send(json!({"type":"e2e","id":"c2","kind":"chat","body":b64("hi")}))
        .await;
    assert_eq!(pt.recv_type("ack").await["seq"], 2);
    assert_eq!(dr.recv_type("e2e").await["from"], "pt");
    // Acks from a remote participant reach the owner's store.
    pt.send(json!({"type":"ack","seq":1})).await;
    pt.send(json!({"type":"ping","id":"sync"})).await;
    pt.recv_type("pong").await;
    let log = owner.replace(":lease", ":log");
    let mut left = String::new();
    for _ in 0..50 {
        left = redis.cli(&["XLEN", &log]);
        if left == "1" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(left, "1", "only pt's message to dr is still owed");
}

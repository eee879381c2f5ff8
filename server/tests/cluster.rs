#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Several `bedside` processes on one real redis-server: participants on
//! any node, takeover after SIGKILL and SIGSTOP, drain, a Redis restart,
//! and the settings a node refuses to start on.

mod common;
use base64::Engine as _;
use common::redis::Redis;
use common::*;
use serde_json::{Value, json};

/// Short leases, so a dead node's visits move within seconds; no message
/// rate limit (the tests send bursts).
const NODE: &str = "lease_ms = 1500\n[limits]\nmessages_per_s = 100000\n";

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

/// Visit `v-1` admitted across `a` (dr) and `b` (pt), and dr's first
/// chat ("one") acknowledged as seq 1 and delivered.
async fn chatting_across(env: &Env, a: &str, b: &str) -> (Client, Client, Value, Value) {
    let (mut dr, mut pt, wd, wp) = admitted_across(env, a, b, "v-1").await;
    dr.send(json!({"type":"e2e","id":"c1","kind":"chat","body":b64("one")}))
        .await;
    assert_eq!(dr.recv_type("ack").await["seq"], 1);
    assert_eq!(pt.recv_type("e2e").await["seq"], 1);
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

async fn resume_at(url: &str, token: &str, last_seq: u64) -> (Client, Value) {
    let mut c = Client::connect(url).await;
    c.send(json!({"type":"resume","resume_token":token,"last_seq":last_seq}))
        .await;
    let w = c.recv_type("welcome").await;
    (c, w)
}

fn seqs(ms: &[Value]) -> Vec<u64> {
    ms.iter()
        .filter(|m| m["type"] == "e2e")
        .map(|m| m["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_owner_killed_mid_chat_loses_nothing_acknowledged() {
    let redis = Redis::start();
    let env = Env::new();
    let a = Process::start_node(&env, "node-a", &redis.url(), NODE);
    let b = Process::start_node(&env, "node-b", &redis.url(), NODE);
    let c = Process::start_node(&env, "node-c", &redis.url(), NODE);
    let (mut dr, mut pt, wd, wp) = admitted_across(&env, &a.url, &b.url, "v-1").await;
    dr.send(json!({"type":"grant","participant":"pt","permission":"screen_share"}))
        .await;
    pt.recv_type("permissions").await;

    // dr (on the owner) sends 20 and reads their acks, then a burst of
    // 200: node-a dies once 20 of those are acknowledged.
    const N: usize = 220;
    let send = |i: usize| json!({"type":"e2e","id":format!("d{i}"),"kind":"chat","body":b64(&format!("d{i}"))});
    let mut acked = Vec::new();
    for i in 0..20 {
        dr.send(send(i)).await;
    }
    while acked.len() < 20 {
        let m = dr.recv_type("ack").await;
        acked.push((
            m["re"].as_str().unwrap().to_owned(),
            m["seq"].as_u64().unwrap(),
        ));
    }
    for i in 20..N {
        dr.send(send(i)).await;
    }
    while acked.len() < 40 {
        let m = dr.recv_type("ack").await;
        acked.push((
            m["re"].as_str().unwrap().to_owned(),
            m["seq"].as_u64().unwrap(),
        ));
    }
    a.kill9();
    let (mut more, _) = dr.until_closed().await;
    for m in more.drain(..).filter(|m| m["type"] == "ack") {
        acked.push((
            m["re"].as_str().unwrap().to_owned(),
            m["seq"].as_u64().unwrap(),
        ));
    }
    // pt's node notices the owner is gone and sends it away to resume.
    let (before, code) = pt.until_closed().await;
    assert_eq!(code, Some(1001));
    let before = seqs(&before);
    let last = before.last().copied().unwrap_or(0);

    // Both resume on the survivors; pt first, on node-c.
    let (mut pt, w) = resume_at(&c.url, wp["resume_token"].as_str().unwrap(), last).await;
    assert_eq!(w["state"], "admitted", "admission survived");
    assert_eq!(
        w["participant"]["perms"],
        json!(["screen_share"]),
        "permission survived"
    );
    let (mut dr, _) = resume_at(&b.url, wd["resume_token"].as_str().unwrap(), 0).await;
    // dr's client re-sends what it holds no ack for (its outbox).
    let acked_ids: Vec<&str> = acked.iter().map(|(id, _)| id.as_str()).collect();
    let resend: Vec<usize> = (0..N)
        .filter(|i| !acked_ids.contains(&format!("d{i}").as_str()))
        .collect();
    for i in &resend {
        dr.send(send(*i)).await;
    }
    let mut reacked = Vec::new();
    while reacked.len() < resend.len() {
        reacked.push(dr.recv_type("ack").await["seq"].as_u64().unwrap());
    }
    let top = reacked
        .iter()
        .chain(acked.iter().map(|(_, s)| s))
        .copied()
        .max()
        .unwrap();
    eprintln!(
        "{} acked before the kill, {} re-sent",
        acked.len(),
        resend.len()
    );
    let mut after = Vec::new();
    while after.last().copied().unwrap_or(last) < top {
        after.push(pt.recv_type("e2e").await["seq"].as_u64().unwrap());
    }
    // Everything pt saw, before and after: in seq order, no gap, no repeat,
    // and every acknowledged seq among it.
    let all: Vec<u64> = before.iter().chain(&after).copied().collect();
    assert_eq!(
        all,
        (1..=top).collect::<Vec<_>>(),
        "before {before:?} after {after:?}"
    );
    for (id, seq) in &acked {
        assert!(all.contains(seq), "{id} (seq {seq}) was acknowledged");
    }
    // The visit moved once, and the new owner says so in its audit file.
    let owner = redis.cli(&["GET", &redis.cli(&["--scan", "--pattern", "bs:{*}:lease"])]);
    assert!(owner.ends_with("/2"), "{owner}");
    let node = owner.split('/').next().unwrap();
    let audit =
        std::fs::read_to_string(Process::node_dir(&env, node).join("audit/audit.jsonl")).unwrap();
    let takeover = audit
        .lines()
        .find(|l| l.contains("\"VISIT_TAKEOVER\""))
        .expect("VISIT_TAKEOVER record");
    assert!(takeover.contains("\"epoch\":2"), "{takeover}");
    drop((b, c));
}

#[tokio::test]
async fn an_owner_paused_past_its_lease_acts_no_more() {
    let redis = Redis::start();
    let env = Env::new();
    let a = Process::start_node(&env, "node-a", &redis.url(), NODE);
    let b = Process::start_node(&env, "node-b", &redis.url(), NODE);
    let (mut dr, mut pt, wd, wp) = chatting_across(&env, &a.url, &b.url).await;

    a.signal("STOP");
    // While node-a is stopped, dr's next message waits in its socket.
    dr.send(json!({"type":"e2e","id":"late","kind":"chat","body":b64("late")}))
        .await;
    // node-b sees node-a's presence lapse and sends pt to resume; pt's
    // resume makes node-b take the visit over under a new epoch.
    let (_, code) = pt.until_closed().await;
    assert_eq!(code, Some(1001));
    let (mut pt, w) = resume_at(&b.url, wp["resume_token"].as_str().unwrap(), 1).await;
    assert_eq!(w["state"], "admitted");
    let lease = redis.cli(&["--scan", "--pattern", "bs:{*}:lease"]);
    assert_eq!(redis.cli(&["GET", &lease]), "node-b/2");
    pt.send(json!({"type":"e2e","id":"p1","kind":"chat","body":b64("two")}))
        .await;
    assert_eq!(pt.recv_type("ack").await["seq"], 2);

    // node-a continues: past its own deadline it acts for the visit no
    // more. dr is sent away with 1001 and holds no ack for "late".
    let stale_before = metric(
        &http_get(&b.http(), "/metrics").1,
        "bedside_rejects_total{reason=\"stale_forwarded_frame\"}",
    );
    a.signal("CONT");
    let (seen, code) = dr.until_closed().await;
    assert_eq!(code, Some(1001), "{seen:?}");
    assert!(
        !seen.iter().any(|m| m["type"] == "ack" && m["re"] == "late"),
        "a paused owner acknowledged after losing its lease: {seen:?}"
    );
    // What node-a still sent node-b (the close of pt's old link) was dropped.
    let mut stale = stale_before;
    for _ in 0..100 {
        stale = metric(
            &http_get(&b.http(), "/metrics").1,
            "bedside_rejects_total{reason=\"stale_forwarded_frame\"}",
        );
        if stale > stale_before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(stale > stale_before, "node-b dropped node-a's stale frames");
    // The log holds exactly what was acknowledged: seqs 1 and 2.
    assert_eq!(redis.cli(&["GET", &lease.replace(":lease", ":seq")]), "2");

    // dr resumes (on node-a again, now forwarding to node-b), gets pt's
    // message, and re-sends "late", acknowledged by the new owner.
    let (mut dr, _) = resume_at(&a.url, wd["resume_token"].as_str().unwrap(), 1).await;
    let m = dr.recv_type("e2e").await;
    assert_eq!(
        (m["seq"].as_u64(), m["from"].as_str()),
        (Some(2), Some("pt"))
    );
    dr.send(json!({"type":"e2e","id":"late","kind":"chat","body":b64("late")}))
        .await;
    assert_eq!(dr.recv_type("ack").await["seq"], 3);
    assert_eq!(pt.recv_type("e2e").await["seq"], 3);
}

/// Polls `GET /readyz` until it answers `status`.
async fn ready_is(p: &Process, status: u16) {
    for _ in 0..250 {
        if http_get(&p.http(), "/readyz").0 == status {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("/readyz never answered {status}");
}

#[tokio::test]
async fn redis_killed_and_restarted_loses_nothing_and_the_cluster_recovers() {
    let mut redis = Redis::start();
    let env = Env::new();
    let a = Process::start_node(&env, "node-a", &redis.url(), NODE);
    let b = Process::start_node(&env, "node-b", &redis.url(), NODE);
    let (mut dr, mut pt, wd, wp) = chatting_across(&env, &a.url, &b.url).await;

    redis.kill9();
    ready_is(&a, 503).await;
    ready_is(&b, 503).await;
    assert_eq!(
        http_get(&a.http(), "/healthz").0,
        200,
        "liveness is not readiness"
    );
    // Nothing is acknowledged while Redis is down.
    dr.send(json!({"type":"e2e","id":"c2","kind":"chat","body":b64("two")}))
        .await;
    let (seen, code) = dr.until_closed().await;
    assert!(!seen.iter().any(|m| m["type"] == "ack"), "{seen:?}");
    assert!(
        seen.iter()
            .any(|m| m["code"] == "internal" && m["re"] == "c2"),
        "{seen:?}"
    );
    assert_eq!(code, Some(1001), "the owner's lease ran out: resume later");
    let (_, code) = pt.until_closed().await;
    assert_eq!(code, Some(1001));
    // A hello cannot prove its token's single use: refused, retryable.
    let mut gu = Client::connect(&b.url).await;
    gu.send(json!({"type":"hello","token":env.token("v-1","guest","gu")}))
        .await;
    let (seen, code) = gu.until_closed().await;
    assert_eq!(code, Some(1011), "{seen:?}");
    assert_eq!(seen[0]["code"], "internal");

    redis.restart();
    ready_is(&a, 200).await;
    ready_is(&b, 200).await;
    // Both resume (swapped places); dr re-sends what had no ack.
    let (mut pt, w) = resume_at(&a.url, wp["resume_token"].as_str().unwrap(), 1).await;
    assert_eq!(w["state"], "admitted");
    let (mut dr, _) = resume_at(&b.url, wd["resume_token"].as_str().unwrap(), 0).await;
    dr.send(json!({"type":"e2e","id":"c2","kind":"chat","body":b64("two")}))
        .await;
    assert_eq!(dr.recv_type("ack").await["seq"], 2);
    let m = pt.recv_type("e2e").await;
    assert_eq!(
        (m["seq"].as_u64(), m["body"].as_str()),
        (Some(2), Some(b64("two").as_str()))
    );
}

#[tokio::test]
async fn sigterm_drains_a_live_visit_to_another_node() {
    let redis = Redis::start();
    let env = Env::new();
    let drain = format!("{NODE}[session]\ndrain_timeout_s = 5\n");
    let a = Process::start_node(&env, "node-a", &redis.url(), &drain);
    let b = Process::start_node(&env, "node-b", &redis.url(), &drain);
    let (mut dr, mut pt, wd, wp) = admitted_across(&env, &a.url, &b.url, "v-1").await;
    dr.send(json!({"type":"e2e","id":"c1","kind":"chat","body":b64("one")}))
        .await;
    assert_eq!(dr.recv_type("ack").await["seq"], 1);
    pt.send(json!({"type":"e2e","id":"p1","kind":"chat","body":b64("two")}))
        .await;
    assert_eq!(pt.recv_type("ack").await["seq"], 2);

    let started = std::time::Instant::now();
    a.signal("TERM");
    let (seen, code) = dr.until_closed().await;
    assert_eq!(code, Some(1001), "{seen:?}");
    let (seen, code) = pt.until_closed().await;
    assert_eq!(code, Some(1001), "{seen:?}");
    // Both resume on node-b, which takes the visit at once (the lease was
    // given up, not left to lapse).
    let (mut pt, w) = resume_at(&b.url, wp["resume_token"].as_str().unwrap(), 1).await;
    assert_eq!(w["state"], "admitted");
    let (mut dr, _) = resume_at(&b.url, wd["resume_token"].as_str().unwrap(), 1).await;
    let moved = started.elapsed();
    eprintln!("visit moved in {moved:?}");
    assert!(moved < std::time::Duration::from_secs(10), "{moved:?}");
    let lease = redis.cli(&["--scan", "--pattern", "bs:{*}:lease"]);
    assert_eq!(redis.cli(&["GET", &lease]), "node-b/2");
    // Nothing lost: dr gets pt's message (seq 2) it had not processed.
    assert_eq!(dr.recv_type("e2e").await["seq"], 2);
    dr.send(json!({"type":"e2e","id":"c3","kind":"chat","body":b64("three")}))
        .await;
    assert_eq!(dr.recv_type("ack").await["seq"], 3);
    assert_eq!(pt.recv_type("e2e").await["seq"], 3);
    // node-a exits cleanly, its audit file sealed, its presence removed.
    assert!(a.wait().success());
    assert_eq!(redis.cli(&["EXISTS", "bs:node:node-a"]), "0");
    let audit =
        std::fs::read_to_string(Process::node_dir(&env, "node-a").join("audit/audit.jsonl"))
            .unwrap();
    assert!(audit.lines().last().unwrap().contains("\"CHECKPOINT\""));
}

#[tokio::test]
async fn a_node_refuses_a_redis_that_could_lose_what_it_acknowledges() {
    let env = Env::new();
    for (key, value, needle) in [
        (
            "appendfsync",
            "everysec",
            "appendfsync everysec; Bedside needs appendfsync always",
        ),
        (
            "maxmemory-policy",
            "allkeys-lru",
            "maxmemory-policy allkeys-lru; Bedside needs maxmemory-policy noeviction",
        ),
    ] {
        let redis = Redis::start_with(&[(key, value)]);
        let err = Process::try_start_node(&env, "node-a", &redis.url(), NODE)
            .err()
            .expect("refused");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {err}");
        assert!(
            lines[0].contains("cluster.redis_url") && lines[0].contains(needle),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_redis_that_lost_its_data_is_detected_not_served() {
    let redis = Redis::start();
    let env = Env::new();
    let a = Process::start_node(&env, "node-a", &redis.url(), NODE);
    ready_is(&a, 200).await;
    assert_eq!(redis.cli(&["FLUSHALL"]), "OK");
    ready_is(&a, 503).await;
    assert!(http_get(&a.http(), "/readyz").1.contains("lost"));
    let mut c = Client::connect(&a.url).await;
    c.send(json!({"type":"hello","token":env.token("v-1","provider","dr")}))
        .await;
    assert_eq!(c.until_closed().await.1, Some(1011));
    drop(a);
    let audit =
        std::fs::read_to_string(Process::node_dir(&env, "node-a").join("audit/audit.jsonl"))
            .unwrap();
    assert!(audit.contains("redis_data_lost"), "an ALERT record");
    // Started again on the empty Redis, the node refuses, naming the fix.
    let err = Process::try_start_node(&env, "node-a", &redis.url(), NODE)
        .err()
        .expect("refused");
    assert!(
        err.contains("Redis has lost its data") && err.contains("cluster-id"),
        "{err}"
    );
}

/// `bedside audit verify ARGS…`: (exit code, stdout + stderr).
fn verify(args: &[&std::path::Path], flags: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bedside"))
        .args(["audit", "verify"])
        .args(flags)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn each_node_keeps_its_chain_and_verify_notices_a_missing_or_truncated_one() {
    let redis = Redis::start();
    let env = Env::new();
    let a = Process::start_node(&env, "node-a", &redis.url(), NODE);
    let b = Process::start_node(&env, "node-b", &redis.url(), NODE);
    let (_dr, _pt, _, _) = chatting_across(&env, &a.url, &b.url).await;
    // node-b stops first; node-a's final checkpoint then names node-b's.
    b.signal("TERM");
    assert!(b.wait().success());
    a.signal("TERM");
    assert!(a.wait().success());
    let file = |n: &str| Process::node_dir(&env, n).join("audit/audit.jsonl");
    let (fa, fb) = (file("node-a"), file("node-b"));

    // Every record names its node; the owner's visit records their epoch.
    let records = |f: &std::path::Path| -> Vec<Value> {
        std::fs::read_to_string(f)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (ra, rb) = (records(&fa), records(&fb));
    assert!(ra.iter().all(|r| r["node"] == "node-a"));
    assert!(rb.iter().all(|r| r["node"] == "node-b"));
    let relay = ra.iter().find(|r| r["action"] == "E2E_RELAY").unwrap();
    assert_eq!(relay["epoch"], 1, "{relay}");
    let last = ra.last().unwrap();
    let seen = &last["detail"]["peers"]["node-b"];
    let b_final = rb.last().unwrap();
    assert_eq!(seen["head"], b_final["detail"]["head"], "{last}");
    assert_eq!(seen["count"], b_final["detail"]["count"]);
    // The shared stream holds both nodes' signed checkpoints.
    let len: u64 = redis
        .cli(&["XLEN", "bs:audit:checkpoints"])
        .parse()
        .unwrap();
    assert!(len >= 2, "{len}");

    let public = env.audit_public.to_str().unwrap().to_owned();
    let (code, out) = verify(&[&fa, &fb], &["--public", &public]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("1 checkpoint(s) of other nodes cross-checked"),
        "{out}"
    );
    // node-b's file left out: named, with the way to check one file alone.
    let (code, out) = verify(&[&fa], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("no audit file of that node was given"),
        "{out}"
    );
    assert!(out.contains("\"node-b\""), "{out}");
    assert_eq!(verify(&[&fa], &["--skip-peers"]).0, 0);
    // node-b's file cut short (and so unsealed, passed as live): the cut
    // is named by what node-a saw.
    let text = std::fs::read_to_string(&fb).unwrap();
    let kept: Vec<&str> = text.lines().collect();
    let short = env.dir.path().join("node-b-short.jsonl");
    assert!(kept.len() >= 3, "{text}");
    std::fs::write(&short, kept[..kept.len() - 2].join("\n") + "\n").unwrap();
    let (code, out) = verify(&[&fa, &short], &["--live"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("truncated"), "{out}");
}

#[tokio::test]
async fn a_revocation_on_one_node_ends_the_users_sessions_on_the_others() {
    let redis = Redis::start();
    let env = Env::new();
    let a = Process::start_node(&env, "node-a", &redis.url(), NODE);
    let b = Process::start_node(&env, "node-b", &redis.url(), NODE);
    // pt's socket is on node-b; the operator calls node-a.
    let (_dr, mut pt, _, _) = admitted_across(&env, &a.url, &b.url, "v-1").await;
    let now = common::now();
    let admin = env.sign(
        &json!({"iss": ISSUER, "aud": "bedside-admin", "sub": "ops-ann",
        "role": "admin", "amr": ["mfa"], "iat": now, "exp": now + 600}),
    );
    let out = admin_cli(&a, &admin, &["revoke", "pt", "--until-s", "600"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // node-b reads the revocation from Redis and ends pt's session there.
    assert_eq!(pt.closed().await, 4001);
    let again = hello_or_close(&b.url, &env.token("v-1", "patient", "pt")).await;
    assert_eq!(
        again.err(),
        Some(4001),
        "hellos refused on the other node too"
    );
}

/// `bedside admin --url NODE --token-file - ARGS` with `token` on stdin.
fn admin_cli(node: &Process, token: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_bedside"))
        .args(["admin", "--url", &node.http(), "--token-file", "-"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            c.stdin.take().unwrap().write_all(token.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_call_on_any_node_reaches_the_visits_owner() {
    let redis = Redis::start();
    let env = Env::new();
    let a = Process::start_node(&env, "node-a", &redis.url(), NODE);
    let b = Process::start_node(&env, "node-b", &redis.url(), NODE);
    // node-a owns v-1 (dr joined there first); the operator calls node-b.
    let (mut dr, mut pt, _, _) = admitted_across(&env, &a.url, &b.url, "v-1").await;
    let now = common::now();
    let admin = env.sign(
        &json!({"iss": ISSUER, "aud": "bedside-admin", "sub": "ops-ann",
        "role": "admin", "amr": ["mfa"], "iat": now, "exp": now + 600}),
    );
    let call = |args: &'static [&'static str]| {
        let out = admin_cli(&b, &admin, args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, body) = call(&["remove", "v-1", "pt"]);
    assert!(ok, "{body}");
    assert!(body.contains("node-a"), "forwarded to the owner: {body}");
    assert_eq!(pt.closed().await, 4003);
    let (ok, body) = call(&["end-visit", "v-1"]);
    assert!(ok, "{body}");
    assert_eq!(dr.closed().await, 4012);
    // A visit live nowhere: not found, and nothing started for it.
    let (ok, _) = call(&["end-visit", "v-none"]);
    assert!(!ok);
    // The owner wrote the acts, under the operator.
    let audit =
        std::fs::read_to_string(Process::node_dir(&env, "node-a").join("audit/audit.jsonl"))
            .unwrap();
    let acts: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["user_id"] == "ops-ann")
        .collect();
    assert!(acts.iter().any(|r| r["action"] == "VISIT_END"), "{acts:?}");
    assert!(acts.iter().any(|r| r["target"] == "pt"), "{acts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_api_lists_and_exports_for_the_whole_cluster() {
    let redis = Redis::start();
    let env = Env::new();
    let a = Process::start_node(&env, "node-a", &redis.url(), NODE);
    let b = Process::start_node(&env, "node-b", &redis.url(), NODE);
    // node-a owns v-1 (dr joined there) and pt is connected to node-b;
    // node-b owns v-2, whose patient is on node-a.
    let (_dr, _pt, _, _) = admitted_across(&env, &a.url, &b.url, "v-1").await;
    let (_dr2, _pt2, _, _) = admitted_across(&env, &b.url, &a.url, "v-2").await;
    let now = common::now();
    let admin = env.sign(
        &json!({"iss": ISSUER, "aud": "bedside-admin", "sub": "ops-ann",
        "role": "admin", "amr": ["mfa"], "iat": now, "exp": now + 600}),
    );
    let call = |node: &Process, args: &[&str]| {
        let out = admin_cli(node, &admin, args);
        let body: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code(),
            body,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // Either node lists the visit once: its owner, and where each
    // participant is connected.
    for node in [&a, &b] {
        let (code, body, err) = call(node, &["visits"]);
        assert_eq!(code, Some(0), "{body} {err}");
        assert_eq!(body["nodes"], json!(["node-a", "node-b"]), "{body}");
        assert_eq!(body["unanswered"], json!([]));
        assert_eq!(
            body["visits"],
            json!([{"visit": "v-1", "owner": "node-a", "participants": [
                {"id": "dr", "role": "provider", "node": "node-a"},
                {"id": "pt", "role": "patient", "node": "node-b"},
            ]}, {"visit": "v-2", "owner": "node-b", "participants": [
                {"id": "dr", "role": "provider", "node": "node-b"},
                {"id": "pt", "role": "patient", "node": "node-a"},
            ]}]),
            "{body}"
        );
    }

    // An export of a time range holds both nodes' records, in time
    // order; a visit's export asked of any node holds its owner's records,
    // each exactly as the owner wrote it.
    let range = [
        "audit".to_owned(),
        "--from".to_owned(),
        (now - 60).to_string(),
        "--to".to_owned(),
        (now + 60).to_string(),
    ];
    let range: Vec<&str> = range.iter().map(String::as_str).collect();
    let (code, body, err) = call(&b, &range);
    assert_eq!(code, Some(0), "{err}");
    let records = body["records"].as_array().unwrap();
    let of = |n: &str, v: &str| {
        records
            .iter()
            .filter(|r| r["node"] == n && r["visit_id"] == v)
            .count()
    };
    assert!(of("node-a", "v-1") > 0 && of("node-b", "v-2") > 0, "{body}");
    let ts: Vec<&str> = records.iter().map(|r| r["ts"].as_str().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{ts:?}");
    let (code, body, _) = call(&a, &["audit", "--visit", "v-2"]);
    assert_eq!(code, Some(0));
    let records = body["records"].as_array().unwrap();
    assert!(!records.is_empty());
    assert!(
        records
            .iter()
            .all(|r| r["visit_id"] == "v-2" && r["node"] == "node-b")
    );
    let file = std::fs::read_to_string(Process::node_dir(&env, "node-b").join("audit/audit.jsonl"))
        .unwrap();
    let admit = file
        .lines()
        .find(|l| l.contains("\"ADMIT\"") && l.contains("\"v-2\""))
        .expect("node-b recorded the admission");
    let out = admin_cli(&a, &admin, &["audit", "--visit", "v-2"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(admit),
        "the record's bytes as written"
    );

    // A node that is registered but does not listen (it hangs, or died
    // inside its lease) is named: the answer is partial, and says so.
    redis.cli(&["SET", "bs:node:node-c", "x", "EX", "600"]);
    redis.cli(&["SADD", "bs:nodes", "node-c"]);
    let (code, body, err) = call(&b, &["visits"]);
    assert_eq!(code, Some(3), "{body}");
    assert_eq!(body["unanswered"][0]["node"], "node-c", "{body}");
    assert!(err.contains("partial") && err.contains("node-c"), "{err}");
    assert_eq!(body["visits"].as_array().unwrap().len(), 2, "{body}");
    let (code, body, _) = call(&a, &["audit", "--visit", "v-1"]);
    assert_eq!(code, Some(3));
    assert_eq!(body["nodes"], json!(["node-a", "node-b"]));
    // Its presence lapses: it is no longer asked.
    redis.cli(&["DEL", "bs:node:node-c"]);
    let (code, body, _) = call(&b, &["visits"]);
    assert_eq!(code, Some(0), "{body}");
    assert_eq!(redis.cli(&["SISMEMBER", "bs:nodes", "node-c"]).trim(), "0");
}

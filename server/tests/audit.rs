#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The audit trail (OPERATIONS.md): every action recorded with its facts and
//! without PHI; tampering caught by `bedside audit verify` with the line
//! number; a SIGKILL under load leaves a chain that verifies.

mod common;
use base64::Engine as _;
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn verify(env: &Env, path: &Path, extra: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bedside"))
        .args(["audit", "verify", "--public"])
        .arg(&env.audit_public)
        .args(extra)
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    )
}

fn find<'a>(recs: &'a [Value], action: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["action"] == action)
        .unwrap_or_else(|| panic!("no {action} record"))
}

#[tokio::test]
async fn a_visit_through_every_action_is_recorded_without_phi() {
    let env = Env::new();
    let mut hub = env.start().await;
    let sdp_marker = "a=x-phi-marker:sdp-3c1e9";
    let offer = OFFER.replace(
        "a=setup:actpass\r\na=mid:0",
        &format!("a=setup:actpass\r\n{sdp_marker}\r\na=mid:0"),
    );
    let chat = base64::engine::general_purpose::STANDARD.encode("PHI: chat body 88f2");

    // Auth failure and replay.
    let mut bad = hub.connect().await;
    bad.send(json!({"type":"hello","token":"x.y.z"})).await;
    assert_eq!(bad.closed().await, 4001);
    let mut dr_claims = env.claims("v-a", "provider", "dr");
    dr_claims["patient_id"] = json!("98765");
    let dr_token = env.sign(&dr_claims);
    let mut dr = hub.connect().await;
    dr.send(json!({"type":"hello","token":dr_token,"device":"d-7f3a"}))
        .await;
    let dr_welcome = dr.recv_type("welcome").await;
    let mut replay = hub.connect().await;
    replay.send(json!({"type":"hello","token":dr_token})).await;
    assert_eq!(replay.closed().await, 4001);

    // Waiting room: admit, deny; a patient overstepping.
    let mut pt_claims = env.claims("v-a", "patient", "pt");
    pt_claims["patient_id"] = json!("98765");
    let (mut pt, pt_welcome) = hub.join(&env.sign(&pt_claims)).await;
    let (mut gu, _) = hub.join(&env.token("v-a", "guest", "gu")).await;
    pt.send(json!({"type":"admit","participant":"gu"})).await; // PERMISSION_DENIED (waiting)
    pt.recv_type("error").await;
    dr.send(json!({"type":"admit","id":"a","participant":"pt"}))
        .await;
    dr.recv_type("ack").await;
    dr.send(json!({"type":"deny","id":"d","participant":"gu"}))
        .await;
    assert_eq!(gu.closed().await, 4003);

    // Negotiation, an invalid SDP, tracks, permissions, e2e.
    dr.send(json!({"type":"offer","id":"o","to":"pt","sdp":offer}))
        .await;
    pt.recv_type("offer").await;
    pt.send(json!({"type":"answer","to":"dr","sdp":offer}))
        .await;
    dr.recv_type("answer").await;
    dr.send(json!({"type":"offer","to":"pt","sdp":offer.replace("UDP/TLS/RTP/SAVPF 111", "RTP/AVP 111")})).await;
    dr.recv_type("error").await;
    pt.send(json!({"type":"request","permission":"screen_share"}))
        .await;
    dr.recv_type("permission_requested").await;
    dr.send(json!({"type":"grant","participant":"pt","permission":"screen_share"}))
        .await;
    pt.recv_type("permissions").await;
    pt.send(
        json!({"type":"track","id":"t","action":"publish","source":"screen","track_id":"scr-1"}),
    )
    .await;
    pt.recv_type("ack").await;
    pt.send(json!({"type":"track","id":"u","action":"unpublish","track_id":"scr-1"}))
        .await;
    pt.recv_type("ack").await;
    dr.send(json!({"type":"revoke","participant":"pt","permission":"screen_share"}))
        .await;
    pt.recv_type("permissions").await;
    dr.send(json!({"type":"e2e","id":"c","kind":"chat","body":chat}))
        .await;
    dr.recv_type("ack").await;
    pt.recv_type("e2e").await;

    // A burst over the per-connection rate (50/s, burst 100): refused, recorded once.
    for _ in 0..150 {
        pt.send(json!({"type":"ping"})).await;
    }
    let mut limited = false;
    for _ in 0..150 {
        let m = pt.recv().await;
        if m["code"] == "rate_limited" {
            limited = true;
            break;
        }
    }
    assert!(limited, "the burst was rate limited");

    // Resume, remove, end.
    drop(pt);
    dr.recv_type("left").await;
    let (mut pt, _) = resume(&hub.url(), pt_welcome["resume_token"].as_str().unwrap())
        .await
        .unwrap();
    pt.recv_type("admitted").await;
    dr.send(json!({"type":"remove","participant":"pt"})).await;
    assert_eq!(pt.closed().await, 4003);
    dr.send(json!({"type":"end_visit"})).await;
    assert_eq!(dr.closed().await, 4012);
    hub.stop().await;

    // A second run on the same file: idle timeout and session expiry.
    let (mut hub, clock) = env.start_on_clock(|_| {}).await;
    let (mut idle, _) = hub.join(&env.token("v-b", "provider", "dr2")).await;
    let mut short = env.claims("v-c", "provider", "dr3");
    short["exp"] = json!(now() + 1200);
    let (mut exp, _) = hub.join(&env.sign(&short)).await;
    clock.advance(Duration::from_secs(450));
    exp.send(json!({"type":"ping"})).await;
    exp.recv_type("pong").await;
    clock.advance(Duration::from_secs(451));
    assert_eq!(idle.closed().await, 4008);
    // Keep the other one active until its token runs out.
    for _ in 0..3 {
        exp.send(json!({"type":"ping"})).await;
        exp.recv_type("pong").await;
        clock.advance(Duration::from_secs(120));
    }
    assert_eq!(exp.closed().await, 4010);
    hub.stop().await;

    let recs = records(&env.audit_path());
    let actions: BTreeSet<&str> = recs.iter().map(|r| r["action"].as_str().unwrap()).collect();
    for a in [
        "SERVER_START",
        "SERVER_STOP",
        "SESSION_START",
        "SESSION_END",
        "RESUME",
        "AUTH_FAILURE",
        "TOKEN_REPLAY",
        "LOBBY_WAIT",
        "ADMIT",
        "DENY",
        "REMOVE",
        "SIGNAL_OFFER",
        "SIGNAL_ANSWER",
        "SDP_REJECTED",
        "TRACK_PUBLISH",
        "TRACK_UNPUBLISH",
        "PERMISSION_REQUEST",
        "PERMISSION_GRANT",
        "PERMISSION_REVOKE",
        "PERMISSION_DENIED",
        "E2E_RELAY",
        "VISIT_END",
        "IDLE_TIMEOUT",
        "SESSION_EXPIRED",
        "CHECKPOINT",
    ] {
        assert!(actions.contains(a), "{a} missing; have {actions:?}");
    }

    // The facts of an admit: who, role, visit, patient record, session, IP, device, target.
    let admit = find(&recs, "ADMIT");
    assert_eq!(admit["user_id"], "dr");
    assert_eq!(admit["role"], "provider");
    assert_eq!(admit["visit_id"], "v-a");
    assert_eq!(admit["patient_id"], "98765");
    assert_eq!(admit["session"], dr_welcome["session"]);
    assert_eq!(admit["ip_address"], "127.0.0.1");
    assert_eq!(admit["device_fingerprint"], "d-7f3a");
    assert_eq!(admit["target"], "pt");
    assert_eq!(admit["outcome"], "success");
    let relay = find(&recs, "E2E_RELAY");
    assert_eq!(
        (
            relay["detail"]["seq"].as_u64(),
            relay["detail"]["recipients"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert!(relay["detail"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(find(&recs, "SDP_REJECTED")["detail"]["rule"], "rtp_profile");
    assert_eq!(find(&recs, "TOKEN_REPLAY")["user_id"], "dr");
    let alert = find(&recs, "ALERT");
    assert_eq!(
        (alert["detail"]["alert"].as_str(), alert["user_id"].as_str()),
        (Some("token_replay"), Some("dr"))
    );
    assert_eq!(
        find(&recs, "RATE_LIMITED")["detail"]["reason"],
        "messages_per_s"
    );
    assert_eq!(find(&recs, "AUTH_FAILURE")["detail"]["reason"], "malformed");
    assert_eq!(
        find(&recs, "PERMISSION_DENIED")["detail"]["request"],
        "admit"
    );
    // Absent facts are omitted, not null.
    assert!(
        recs.iter()
            .all(|r| r.as_object().unwrap().values().all(|v| !v.is_null()))
    );

    // No SDP, chat body or token anywhere in the file.
    let text = std::fs::read_to_string(env.audit_path()).unwrap();
    assert!(!text.contains("x-phi-marker"), "SDP in audit");
    assert!(!text.contains("a=fingerprint"), "SDP in audit");
    assert!(!text.contains(&chat), "chat body in audit");
    assert!(
        !text.contains(dr_token.split('.').nth(2).unwrap()),
        "token in audit"
    );

    let (code, out) = verify(&env, &env.audit_path(), &[]);
    assert_eq!(
        (code, out.as_str()),
        (0, format!("ok: {} records", recs.len()).as_str())
    );
}

/// A closed audit file with a few hundred records and several checkpoints.
async fn closed_file(env: &Env) -> Vec<String> {
    let mut hub = env.start_with(|c| c.audit.checkpoint_every = 7).await;
    let (mut dr, mut pt) = admitted_pair(env, &hub, "v-1").await;
    for i in 0..20 {
        dr.send(json!({"type":"offer","id":format!("o{i}"),"to":"pt","sdp":OFFER}))
            .await;
        dr.recv_type("ack").await;
        pt.recv_type("offer").await;
    }
    drop((dr, pt));
    hub.stop().await;
    std::fs::read_to_string(env.audit_path())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(
        path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

#[tokio::test]
async fn every_kind_of_tampering_is_caught_with_its_line() {
    let env = Env::new();
    let lines = closed_file(&env).await;
    assert!(lines.len() > 20);
    let file = env.dir.path().join("tampered.jsonl");
    write_lines(&file, &lines);
    assert_eq!(verify(&env, &file, &[]).0, 0, "untouched file verifies");

    let expect_bad = |lines: &[String], line: usize, what: &str| {
        write_lines(&file, lines);
        let (code, out) = verify(&env, &file, &[]);
        assert_eq!(code, 1, "{what}: {out}");
        assert!(
            out.contains(&format!("line {line}:")),
            "{what}: expected line {line} in {out}"
        );
    };

    // Change one field of an ADMIT record (line index i → line i+1).
    let i = lines.iter().position(|l| l.contains("\"ADMIT\"")).unwrap();
    let mut t = lines.clone();
    t[i] = t[i].replace("\"target\":\"pt\"", "\"target\":\"someone-else\"");
    assert_ne!(t[i], lines[i]);
    expect_bad(&t, i + 1, "changed field");

    // Delete a line.
    let mut t = lines.clone();
    t.remove(5);
    expect_bad(&t, 6, "deleted line");

    // Swap two lines.
    let mut t = lines.clone();
    t.swap(8, 9);
    expect_bad(&t, 9, "swapped lines");

    // Truncate the tail (the final checkpoint and more).
    let t = lines[..lines.len() - 3].to_vec();
    let first_unsealed = t
        .iter()
        .rposition(|l| l.contains("\"CHECKPOINT\""))
        .unwrap()
        + 2;
    expect_bad(&t, first_unsealed, "truncated tail");

    // Cut mid-line.
    write_lines(&file, &lines);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 40]).unwrap();
    let (code, out) = verify(&env, &file, &[]);
    assert_eq!(code, 1);
    assert!(out.contains(&format!("line {}:", lines.len())), "{out}");

    // Append a forged record with a correct hash and prev.
    let last: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    let mut forged = serde_json::Map::new();
    forged.insert("seq".into(), json!(last["seq"].as_u64().unwrap() + 1));
    forged.insert("ts".into(), json!("2026-11-24T23:59:01.123Z"));
    forged.insert("action".into(), json!("ADMIT"));
    forged.insert("outcome".into(), json!("success"));
    forged.insert("user_id".into(), json!("mallory"));
    forged.insert("detail".into(), json!({}));
    forged.insert("prev".into(), last["hash"].clone());
    let hash = bedside_server::audit::record::hash_of(&forged);
    forged.insert("hash".into(), json!(hash));
    let mut t = lines.clone();
    t.push(Value::Object(forged).to_string());
    expect_bad(&t, lines.len() + 1, "appended forged record");

    // Replace a checkpoint signature with one made by another key.
    let i = lines
        .iter()
        .position(|l| l.contains("\"CHECKPOINT\""))
        .unwrap();
    let mut rec: serde_json::Map<String, Value> = serde_json::from_str(&lines[i]).unwrap();
    let other = bedside_token::PrivateKey::generate("audit-1");
    use ed25519_dalek::Signer as _;
    let sig = other
        .signing_key()
        .sign(rec["detail"]["head"].as_str().unwrap().as_bytes());
    rec.get_mut("detail").unwrap()["sig"] =
        json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.to_bytes()));
    let h = bedside_server::audit::record::hash_of(&rec);
    rec.insert("hash".into(), json!(h));
    let mut t = lines.clone();
    t[i] = Value::Object(rec).to_string();
    // Re-chain the rest so only the signature is wrong.
    for j in i + 1..t.len() {
        let prev: Value = serde_json::from_str(&t[j - 1]).unwrap();
        let mut r: serde_json::Map<String, Value> = serde_json::from_str(&t[j]).unwrap();
        r.insert("prev".into(), prev["hash"].clone());
        if r["action"] == "CHECKPOINT" {
            r.get_mut("detail").unwrap()["head"] = prev["hash"].clone();
        }
        let h = bedside_server::audit::record::hash_of(&r);
        r.insert("hash".into(), json!(h));
        t[j] = Value::Object(r).to_string();
    }
    expect_bad(&t, i + 1, "replaced checkpoint signature");
}

#[tokio::test]
async fn sigkill_under_load_leaves_a_chain_that_verifies() {
    let env = Env::new();
    let p = Process::start(&env, "[limits]\nmessages_per_s = 100000\n");
    let mut dr = Client::connect(&p.url).await;
    dr.hello(&env.token("v-1", "provider", "dr")).await;
    let mut pt = Client::connect(&p.url).await;
    pt.hello(&env.token("v-1", "patient", "pt")).await;
    dr.send(json!({"type":"admit","participant":"pt"})).await;
    pt.recv_type("admitted").await;
    // Load: offers and chat as fast as the socket takes them.
    let load = tokio::spawn(async move {
        let body = base64::engine::general_purpose::STANDARD.encode([1u8; 100]);
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        for i in 0.. {
            let offer = json!({"type":"offer","id":format!("o{i}"),"to":"pt","sdp":OFFER});
            let chat = json!({"type":"e2e","kind":"chat","body":body});
            if dr
                .ws
                .send(Message::Text(offer.to_string().into()))
                .await
                .is_err()
                || dr
                    .ws
                    .send(Message::Text(chat.to_string().into()))
                    .await
                    .is_err()
            {
                break;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = std::fs::read_to_string(env.audit_path())
        .unwrap()
        .lines()
        .count();
    assert!(before > 50, "the hub was writing ({before} records)");
    p.kill9();
    load.abort();
    drop(pt);

    // SIGKILL cannot split one write(2); the torn tail a power cut leaves is
    // simulated by appending half a record.
    let mut bytes = std::fs::read(env.audit_path()).unwrap();
    bytes.extend_from_slice(
        br#"{"seq":999999,"ts":"2026-11-24T23:59:01.123Z","action":"SIGNAL_OFF"#,
    );
    std::fs::write(env.audit_path(), &bytes).unwrap();

    let p = Process::start(&env, "");
    let mut c = Client::connect(&p.url).await;
    c.hello(&env.token("v-2", "provider", "dr")).await;
    drop(c);
    p.terminate();

    let recs = records(&env.audit_path());
    let restart = recs
        .iter()
        .filter(|r| r["action"] == "SERVER_START")
        .nth(1)
        .unwrap();
    assert!(
        restart["detail"]["torn_tail_bytes"].as_u64().unwrap() > 0,
        "torn tail reported: {restart}"
    );
    let side = restart["detail"]["torn_tail_file"].as_str().unwrap();
    assert!(
        std::fs::read_to_string(side)
            .unwrap()
            .contains("SIGNAL_OFF")
    );
    let (code, out) = verify(&env, &env.audit_path(), &[]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn a_damaged_file_stops_startup_unless_a_new_file_is_asked_for() {
    let env = Env::new();
    let lines = closed_file(&env).await;
    let mut t = lines.clone();
    t.swap(3, 4);
    write_lines(&env.audit_path(), &t);
    let cfg = Process::write_config(&env, "");
    let out = Command::new(env!("CARGO_BIN_EXE_bedside"))
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 4") && err.contains("--audit-new-file"),
        "{err}"
    );
    let mut p = Process::start_with_args(&env, "", &["--audit-new-file"]);
    p.terminate_ref();
    let recs = records(&env.audit_path());
    assert_eq!(recs[0]["seq"], 1);
    assert!(
        recs[0]["detail"]["damaged_file_moved_to"]
            .as_str()
            .unwrap()
            .contains("broken")
    );
}

#[tokio::test]
async fn the_audit_key_rotates_mid_run_and_verify_needs_both_public_keys() {
    let env = Env::new();
    let p = Process::start(&env, "");
    let (mut pt, _) = hello_or_close(&p.url, &env.token("v-1", "patient", "pt"))
        .await
        .unwrap();

    // A new key with a new kid replaces the file (renamed over it); SIGHUP.
    let dir = env.dir.path();
    let new_public = dir.join("audit-2.public.jwks.json");
    let aside = dir.join("audit-2.private.jwks.json");
    bedside_token::PrivateKey::generate("audit-2")
        .save(&aside, &new_public)
        .unwrap();
    std::fs::rename(&aside, &env.audit_key).unwrap();
    p.signal("HUP");
    let mut rotation_line = 0;
    for _ in 0..100 {
        if let Some(i) = records(&env.audit_path())
            .iter()
            .position(|r| r["detail"]["next_kid"] == "audit-2")
        {
            rotation_line = i + 1;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        rotation_line > 0,
        "no checkpoint sealed the old key's records"
    );
    let rotation = &records(&env.audit_path())[rotation_line - 1];
    assert_eq!(rotation["detail"]["kid"], "audit-1");
    // The session lives on; what follows is signed with the new key.
    pt.send(json!({"type":"leave"})).await;
    assert_eq!(pt.closed().await, 1000);
    p.terminate();
    let recs = records(&env.audit_path());
    let last = recs.last().unwrap();
    assert_eq!(
        (last["action"].as_str(), last["detail"]["kid"].as_str()),
        (Some("CHECKPOINT"), Some("audit-2"))
    );

    // Old and new public keys in one set: the whole file verifies.
    let both = dir.join("audit-both.public.jwks.json");
    let keys = |p: &Path| -> Vec<Value> {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        v["keys"].as_array().unwrap().clone()
    };
    let mut all = keys(&env.audit_public);
    all.extend(keys(&new_public));
    std::fs::write(&both, json!({ "keys": all }).to_string()).unwrap();
    let run = |public: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_bedside"))
            .args(["audit", "verify", "--public"])
            .arg(public)
            .arg(env.audit_path())
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, out) = run(&both);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("ok: {} records", recs.len())),
        "{out}"
    );
    // Only the new key: the first checkpoint it cannot verify is named.
    let (code, out) = run(&new_public);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("line {rotation_line}")) && out.contains("audit-1"),
        "{out}"
    );

    // A restart on the new key checks the old checkpoints against the
    // retired public keys it is given, and refuses to start without them.
    let cfg = Process::write_config(&env, "");
    let out = Command::new(env!("CARGO_BIN_EXE_bedside"))
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("audit-1"), "{err}");
    let retired = format!("retired_public_keys = {:?}\n", env.audit_public);
    let p = Process::start(&env, &retired);
    p.terminate();
    let (code, out) = run(&both);
    assert_eq!(code, 0, "{out}");
}

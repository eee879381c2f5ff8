//! `bedside backup` and `bedside restore` (docs/operations.md, "Backup and
//! restore"): a backup taken during a live chat, restored into an empty
//! data directory, brings back every acknowledged message and the visit
//! state, and its audit chain verifies; a backup with one flipped byte is
//! refused, with or without its checksum recomputed, and nothing is
//! written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use serde_json::json;
use sha2::{Digest as _, Sha256};

fn body(i: usize) -> String {
    STANDARD.encode(format!("chat-{i:04}"))
}

async fn bedside(args: Vec<String>) -> std::process::Output {
    bedside_cli(&args, &[]).await
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_backup_taken_during_a_live_chat_restores_every_acked_message_and_a_flipped_byte_is_refused()
 {
    let env = Env::new();
    let root = env.dir.path().join("keys/root.key");
    std::fs::create_dir_all(root.parent().unwrap()).unwrap();
    let out = bedside(args(&[
        "root-key",
        "create",
        "--file",
        root.to_str().unwrap(),
    ]))
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let toml = format!(
        "[limits]\nmessages_per_s = 100000\n[at_rest]\nroot_key_file = {:?}\n",
        root
    );
    let cfg = Process::write_config(&env, &toml);
    let cfg_text = std::fs::read_to_string(&cfg).unwrap();
    let p = Process::start_from(&cfg, &[], &[]);
    let mut dr = Client::connect(&p.url).await;
    let w_dr = dr.hello(&env.token("v-1", "provider", "dr")).await;
    let mut pt = Client::connect(&p.url).await;
    let w_pt = pt.hello(&env.token("v-1", "patient", "pt")).await;
    dr.send(json!({"type":"admit","participant":"pt"})).await;
    pt.recv_type("admitted").await;
    let mut acked = 0;
    for i in 0..30 {
        dr.send(json!({"type":"e2e","id":format!("m{i}"),"kind":"chat","body":body(i)}))
            .await;
        dr.recv_type("ack").await;
        acked += 1;
    }
    // The backup runs while the chat goes on.
    let file = env.dir.path().join("visit.backup");
    let backup = tokio::spawn(bedside(args(&[
        "backup",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
    ])));
    for i in 30..60 {
        dr.send(json!({"type":"e2e","id":format!("m{i}"),"kind":"chat","body":body(i)}))
            .await;
        dr.recv_type("ack").await;
    }
    let out = backup.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The whole host is lost.
    p.kill9();
    drop((dr, pt));

    let target = env.dir.path().join("restored");
    let cfg2 = target.join("bedside.toml");
    std::fs::create_dir_all(&target).unwrap();
    let text2 = cfg_text
        .replace(
            &format!("{:?}", env.data_dir()),
            &format!("{:?}", target.join("data")),
        )
        .replace(
            &format!("{:?}", env.audit_path()),
            &format!("{:?}", target.join("audit/audit.jsonl")),
        );
    assert_ne!(text2, cfg_text);
    std::fs::write(&cfg2, text2).unwrap();
    let restore = |from: &std::path::Path| {
        args(&[
            "restore",
            "--config",
            cfg2.to_str().unwrap(),
            "--from",
            from.to_str().unwrap(),
        ])
    };

    // One flipped byte: refused, and nothing is written.
    let good = std::fs::read(&file).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x01;
    let flipped = env.dir.path().join("flipped.backup");
    std::fs::write(&flipped, &bad).unwrap();
    let out = bedside(restore(&flipped)).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("corrupted or was tampered with: checksum mismatch"),
        "{err}"
    );
    // The same with the checksum recomputed: a chunk fails its tag.
    let n = bad.len() - 32;
    let sum = Sha256::digest(&bad[..n]);
    bad[n..].copy_from_slice(&sum);
    std::fs::write(&flipped, &bad).unwrap();
    let out = bedside(restore(&flipped)).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not authenticate"), "{err}");
    assert!(
        !target.join("data/bedside.db").exists(),
        "nothing restored from a bad backup"
    );
    assert!(!target.join("audit/audit.jsonl").exists());

    // The good one.
    let out = bedside(restore(&file)).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Into a directory that is no longer empty: refused.
    let out = bedside(restore(&file)).await;
    assert_eq!(out.status.code(), Some(2));

    let p2 = Process::start_from(&cfg2, &[], &[]);
    let (_dr, w) = resume(&p2.url, w_dr["resume_token"].as_str().unwrap())
        .await
        .expect("the provider resumes on the restored hub");
    assert_eq!(w["state"], "admitted");
    let (mut pt, w) = resume(&p2.url, w_pt["resume_token"].as_str().unwrap())
        .await
        .expect("the patient resumes, still admitted");
    assert_eq!(w["state"], "admitted");
    // Every message acked before the backup began, in order, and only a
    // prefix of those acked while it ran.
    let mut got = Vec::new();
    loop {
        let more = pt.drain(std::time::Duration::from_millis(500)).await;
        let n = got.len();
        got.extend(
            more.into_iter()
                .filter(|m| m["type"] == "e2e")
                .map(|m| m["body"].as_str().unwrap().to_owned()),
        );
        if got.len() == n {
            break;
        }
    }
    eprintln!(
        "restored {} of 60 messages ({acked} acked before the backup began)",
        got.len()
    );
    assert!(
        got.len() >= acked && got.len() <= 60,
        "{} messages",
        got.len()
    );
    assert_eq!(got, (0..got.len()).map(body).collect::<Vec<_>>());
    p2.signal("TERM");
    let status = p2.wait();
    let log = std::fs::read_to_string(cfg2.with_extension("stderr.log")).unwrap_or_default();
    assert!(status.success(), "{status}: {log}");
    // The restored audit chain verifies (the hub went on from it).
    let out = bedside(args(&[
        "audit",
        "verify",
        "--public",
        env.audit_public.to_str().unwrap(),
        target.join("audit/audit.jsonl").to_str().unwrap(),
    ]))
    .await;
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

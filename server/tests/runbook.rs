//! The quarterly key rotation runbook (docs/operations.md), end to end on
//! one running hub: issuer keys, the audit signing key, the at-rest root key
//! and the at-rest data key, one after the other, without a restart and
//! without dropping the live visit; then a restart on the new keys resumes
//! it, and the audit file verifies with the old and new public keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

fn body(i: usize) -> String {
    STANDARD.encode(format!("runbook-{i:03}"))
}

fn keys_of(p: &Path) -> Vec<Value> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v["keys"].as_array().unwrap().clone()
}

fn write_set(p: &Path, sets: &[&Path]) {
    let all: Vec<Value> = sets.iter().flat_map(|s| keys_of(s)).collect();
    let tmp = p.with_extension("tmp");
    std::fs::write(&tmp, json!({ "keys": all }).to_string()).unwrap();
    std::fs::rename(&tmp, p).unwrap();
}

async fn bedside(args: Vec<String>) -> std::process::Output {
    bedside_cli(&args, &[]).await
}

/// Waits until a hello with `token` gets the answer `accepted` wants.
async fn until_hello(url: &str, token: &str, accepted: bool) {
    for _ in 0..100 {
        if hello_or_close(url, token).await.is_ok() == accepted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the hello was never {}",
        if accepted { "accepted" } else { "refused" }
    );
}

async fn chat(dr: &mut Client, range: std::ops::Range<usize>) {
    for i in range.clone() {
        dr.send(json!({"type":"e2e","id":format!("m{i}"),"kind":"chat","body":body(i)}))
            .await;
    }
    for _ in range {
        dr.recv_type("ack").await;
    }
}

#[tokio::test]
async fn every_key_rotates_in_turn_on_a_live_visit_and_everything_reads_back() {
    let env = Env::new();
    let dir = env.dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let root_1 = dir.join("root-1.key");
    let root_2 = dir.join("root-2.key");
    for r in [&root_1, &root_2] {
        let out = bedside(vec![
            "root-key".into(),
            "create".into(),
            "--file".into(),
            s(r),
        ])
        .await;
        assert!(out.status.success());
    }
    // The issuer's JWKS is a file the runbook edits.
    let issuer_1 = dir.join("issuer-1.public.jwks.json");
    std::fs::copy(&env.jwks, &issuer_1).unwrap();
    let p = Process::start(&env, &format!("[at_rest]\nroot_key_file = {root_1:?}\n"));
    let mut dr = Client::connect(&p.url).await;
    dr.hello(&env.token("v-1", "provider", "dr")).await;
    let mut pt = Client::connect(&p.url).await;
    let w_pt = pt.hello(&env.token("v-1", "patient", "pt")).await;
    dr.send(json!({"type":"admit","participant":"pt"})).await;
    pt.recv_type("admitted").await;
    chat(&mut dr, 0..5).await;

    // 1. Issuer: publish the new key beside the old, move to it, drop the old.
    let issuer_2_key = bedside_token::PrivateKey::generate("clinic-2");
    let issuer_2 = dir.join("issuer-2.public.jwks.json");
    issuer_2_key
        .save(&dir.join("issuer-2.private.jwks.json"), &issuer_2)
        .unwrap();
    write_set(&env.jwks, &[&issuer_1, &issuer_2]);
    p.signal("HUP");
    let new_token = issuer_2_key
        .sign(&env.claims("v-2", "provider", "dr2"))
        .unwrap();
    until_hello(&p.url, &new_token, true).await;
    write_set(&env.jwks, &[&issuer_2]);
    p.signal("HUP");
    until_hello(&p.url, &env.token("v-3", "provider", "dr3"), false).await;

    // 2. Audit signing key: a new kid replaces the file.
    let audit_2 = dir.join("audit-2.public.jwks.json");
    let aside = dir.join("audit-2.private.jwks.json");
    bedside_token::PrivateKey::generate("audit-2")
        .save(&aside, &audit_2)
        .unwrap();
    std::fs::rename(&aside, &env.audit_key).unwrap();
    p.signal("HUP");

    // 3 and 4. At-rest root key, then data key, through the operator API.
    let admin = issuer_2_key
        .sign(
            &json!({"iss": ISSUER, "aud": "bedside-admin", "sub": "ops-ann", "role": "admin",
            "amr": ["mfa"], "iat": now(), "exp": now() + 600}),
        )
        .unwrap();
    let token_file = dir.join("admin.token");
    std::fs::write(&token_file, &admin).unwrap();
    let base = p.http();
    for call in [
        vec![
            "rotate-root-key".to_owned(),
            "--root-key-file".into(),
            s(&root_2),
        ],
        vec!["rotate-data-key".to_owned()],
    ] {
        let mut args = vec![
            "admin".into(),
            "--url".into(),
            base.clone(),
            "--token-file".into(),
            s(&token_file),
        ];
        args.extend(call);
        let out = bedside(args).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The visit went on through all of it.
    chat(&mut dr, 5..10).await;
    p.terminate();
    drop((dr, pt));

    // The next start names the new keys: root-2, and the audit key's
    // predecessor as retired.
    let p = Process::start(
        &env,
        &format!(
            "retired_public_keys = {:?}\n[at_rest]\nroot_key_file = {root_2:?}\n",
            env.audit_public
        ),
    );
    let (mut pt, w) = resume(&p.url, w_pt["resume_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(w["state"], "admitted");
    let mut got = Vec::new();
    while got.len() < 10 {
        got.push(
            pt.recv_type("e2e").await["body"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(got, (0..10).map(body).collect::<Vec<_>>());
    p.terminate();
    let both = dir.join("audit-both.public.jwks.json");
    write_set(&both, &[&env.audit_public, &audit_2]);
    let out = bedside(vec![
        "audit".into(),
        "verify".into(),
        "--public".into(),
        s(&both),
        s(&env.audit_path()),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let audit = std::fs::read_to_string(env.audit_path()).unwrap();
    assert_eq!(audit.matches("\"KEY_ROTATION\"").count(), 2);
    assert!(audit.contains("\"next_kid\":\"audit-2\""));
}

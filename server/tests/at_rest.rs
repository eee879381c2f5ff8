//! Encryption at rest (docs/operations.md, "Encryption at rest"): with the
//! root key on a SoftHSM2 token, `data_dir` holds no participant id, visit
//! id, key bundle or message body in clear (every file, the write-ahead log
//! included); the hub restarts and resumes sessions; a root-key rotation
//! and a data-key rotation, both on a running hub, keep everything readable.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::softhsm::{SoftHsm, walk};
use common::*;
use serde_json::{Value, json};
use std::ffi::{OsStr, OsString};
use std::path::Path;

const VISIT: &str = "visit-5d1e93c2a7";
const DR: &str = "provider-8f2b61d4";
const PT: &str = "patient-3c7a90e5";
const IK: &[u8; 32] = b"IK-MARKER-0123456789abcdefghijkl";

fn body(i: usize) -> String {
    STANDARD.encode(format!("BODY-MARKER-{i:04}-opaque-ciphertext"))
}

/// Which of `needles` some file under `dir` holds, and where.
fn found_in(dir: &Path, needles: &[String]) -> Vec<String> {
    let mut hits = Vec::new();
    for f in walk(dir) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        for n in needles {
            if bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                hits.push(format!("{n:?} in {}", f.display()));
            }
        }
    }
    hits
}

/// The database file's SQLCipher salt (its first 16 bytes): a new file
/// under a new key has a new one; checkpoints leave it.
fn salt(data: &Path) -> Vec<u8> {
    std::fs::read(data.join("bedside.db")).unwrap()[..16].to_vec()
}

/// What must never be in `data_dir` in clear.
fn needles(messages: usize) -> Vec<String> {
    let mut n = vec![
        VISIT.to_owned(),
        DR.to_owned(),
        PT.to_owned(),
        STANDARD.encode(IK),
    ];
    n.extend((0..messages).map(body));
    n
}

/// `bedside ARGS` with `vars`, off the runtime's thread.
async fn bedside(args: Vec<String>, vars: Vec<(String, OsString)>) -> std::process::Output {
    let vars: Vec<(&str, &OsStr)> = vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_os_str()))
        .collect();
    bedside_cli(&args, &vars).await
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// An operator token in a file, for `bedside admin`.
async fn admin_token_file(env: &Env) -> String {
    let key = env.dir.path().join("issuer.private.jwks.json");
    let out = bedside(
        strings(&[
            "admin",
            "token",
            "--key",
            key.to_str().unwrap(),
            "--iss",
            ISSUER,
            "--sub",
            "ops-ann",
        ]),
        vec![],
    )
    .await;
    assert!(out.status.success());
    let f = env.dir.path().join("admin.token");
    std::fs::write(&f, &out.stdout).unwrap();
    f.to_str().unwrap().to_owned()
}

/// Sends `range` chat bodies from `from`; waits for every ack.
async fn chat(from: &mut Client, range: std::ops::Range<usize>) {
    for i in range.clone() {
        from.send(json!({"type":"e2e","id":format!("m{i}"),"kind":"chat","body":body(i)}))
            .await;
    }
    for _ in range {
        from.recv_type("ack").await;
    }
}

/// Resumes with `token`, having seen messages up to `last_seq`, and reads
/// the `n` e2e messages owed: their bodies.
async fn resumed_bodies(
    url: &str,
    token: &str,
    last_seq: u64,
    n: usize,
) -> (Client, Value, Vec<String>) {
    let mut c = Client::connect(url).await;
    c.send(json!({"type":"resume","resume_token":token,"last_seq":last_seq}))
        .await;
    let w = c.recv_type("welcome").await;
    let mut got = Vec::new();
    while got.len() < n {
        let m = c.recv_type("e2e").await;
        got.push(m["body"].as_str().unwrap().to_owned());
    }
    (c, w, got)
}

#[tokio::test]
async fn with_the_root_key_in_softhsm_nothing_is_in_clear_and_both_rotations_keep_everything() {
    let env = Env::new();
    let hsm = SoftHsm::start();
    let vars = vec![(
        "SOFTHSM2_CONF".to_owned(),
        hsm.conf.clone().into_os_string(),
    )];
    let var_refs: Vec<(&str, &OsStr)> = vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_os_str()))
        .collect();
    let toml_1 = hsm.at_rest_toml("root-1");
    // The root key is made on the token by the operator's tool.
    let cfg = Process::write_config(&env, &toml_1);
    for label in ["root-1", "root-2"] {
        let out = bedside(
            strings(&[
                "root-key",
                "create",
                "--config",
                cfg.to_str().unwrap(),
                "--label",
                label,
            ]),
            vars.clone(),
        )
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let p = Process::start_with_env(&env, &toml_1, &[], &var_refs);
    let mut dr = Client::connect(&p.url).await;
    let w_dr = dr.hello(&env.token(VISIT, "provider", DR)).await;
    let mut pt = Client::connect(&p.url).await;
    let w_pt = pt.hello(&env.token(VISIT, "patient", PT)).await;
    pt.send(json!({"type":"keys","id":"k","bundle":{"v":1,"ik":STANDARD.encode(IK),"hello":STANDARD.encode([2u8; 120]),"sig":STANDARD.encode([3u8; 64])}}))
        .await;
    pt.recv_type("ack").await;
    dr.send(json!({"type":"admit","participant":PT})).await;
    pt.recv_type("admitted").await;
    chat(&mut dr, 0..20).await;
    let data = env.data_dir();
    assert!(
        walk(&data)
            .iter()
            .any(|f| f.to_string_lossy().ends_with("bedside.db-wal")),
        "the write-ahead log is in use, and searched"
    );
    assert_eq!(
        found_in(&data, &needles(20)),
        Vec::<String>::new(),
        "nothing in clear"
    );
    // The search can fail: the audit trail (kept apart) names them.
    let audit = std::fs::read_to_string(env.audit_path()).unwrap();
    assert!(audit.contains(VISIT) && audit.contains(PT));
    assert!(found_in(hsm.dir.path(), &needles(20)).is_empty());

    // kill -9 and a restart: the data key unwraps on the token, sessions resume.
    p.kill9();
    drop((dr, pt));
    let p = Process::start_with_env(&env, &toml_1, &[], &var_refs);
    let (mut dr, w_dr) = resume(&p.url, w_dr["resume_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(w_dr["state"], "admitted");
    let (pt, w_pt, got) =
        resumed_bodies(&p.url, w_pt["resume_token"].as_str().unwrap(), 0, 20).await;
    assert_eq!(got, (0..20).map(body).collect::<Vec<_>>());

    // Root-key rotation, live: the data key is wrapped again; no data moves.
    let token = admin_token_file(&env).await;
    let base = p.http();
    let keys_before = std::fs::read_to_string(data.join("keys.json")).unwrap();
    let salt_before = salt(&data);
    let out = bedside(
        strings(&[
            "admin",
            "--url",
            &base,
            "--token-file",
            &token,
            "rotate-root-key",
            "--pkcs11-key-label",
            "root-2",
        ]),
        vec![],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys_after = std::fs::read_to_string(data.join("keys.json")).unwrap();
    assert!(keys_before.contains("pkcs11:root-1") && keys_after.contains("pkcs11:root-2"));
    // Same file (its salt): checkpoints may fold pages in meanwhile, but
    // nothing was re-encrypted.
    assert_eq!(salt(&data), salt_before, "not rewritten");
    chat(&mut dr, 20..30).await;

    // Data-key rotation, live: the store is re-encrypted under a new key
    // while both participants stay connected.
    let salt_before = salt(&data);
    let out = bedside(
        strings(&[
            "admin",
            "--url",
            &base,
            "--token-file",
            &token,
            "rotate-data-key",
        ]),
        vec![],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated = std::fs::read_to_string(data.join("keys.json")).unwrap();
    let ct = |s: &str| serde_json::from_str::<Value>(s).unwrap()["data_key"]["ciphertext"].clone();
    assert_ne!(ct(&rotated), ct(&keys_after), "a new data key");
    assert_ne!(
        salt(&data),
        salt_before,
        "the database is a new file (a new salt), every page written under the new key"
    );
    assert!(!rotated.contains("next_data_key"), "the rotation finished");
    chat(&mut dr, 30..40).await;
    dr.send(json!({"type":"ping","id":"still-here"})).await;
    dr.recv_type("pong").await;
    assert_eq!(
        found_in(&data, &needles(40)),
        Vec::<String>::new(),
        "nothing in clear after rotations"
    );
    let records: Vec<Value> = std::fs::read_to_string(env.audit_path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &Value| r["action"] == "KEY_ROTATION")
        .collect();
    assert_eq!(records.len(), 2, "both rotations are audited");
    assert!(
        records
            .iter()
            .all(|r| r["outcome"] == "success" && r["user_id"] == "ops-ann")
    );

    // A restart on the old root key is refused, naming the one to use.
    p.terminate();
    drop((dr, pt));
    let cfg = Process::write_config(&env, &toml_1);
    let out = bedside(
        strings(&["serve", "--config", cfg.to_str().unwrap()]),
        vars.clone(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pkcs11:root-2"), "{err}");
    // On the new root key: everything is readable, the sessions resume.
    let p = Process::start_with_env(&env, &hsm.at_rest_toml("root-2"), &[], &var_refs);
    let (_pt, _, got) =
        resumed_bodies(&p.url, w_pt["resume_token"].as_str().unwrap(), 20, 20).await;
    assert_eq!(
        got,
        (20..40).map(body).collect::<Vec<_>>(),
        "the rest, in order"
    );
    resume(&p.url, w_dr["resume_token"].as_str().unwrap())
        .await
        .expect("provider resumes");
}

#[tokio::test]
async fn a_plain_store_is_encrypted_at_start_and_a_misplaced_or_open_root_key_is_refused() {
    let env = Env::new();
    let p = Process::start(&env, "");
    let mut dr = Client::connect(&p.url).await;
    dr.hello(&env.token(VISIT, "provider", DR)).await;
    let mut pt = Client::connect(&p.url).await;
    let w_pt = pt.hello(&env.token(VISIT, "patient", PT)).await;
    dr.send(json!({"type":"admit","participant":PT})).await;
    pt.recv_type("admitted").await;
    chat(&mut dr, 0..5).await;
    p.terminate();
    drop((dr, pt));
    let data = env.data_dir();
    assert!(
        !found_in(&data, &needles(5)).is_empty(),
        "without [at_rest] the store is in clear (the search finds it)"
    );

    let serve = |toml: String| {
        let cfg = Process::write_config(&env, &toml);
        bedside(
            strings(&["serve", "--config", cfg.to_str().unwrap()]),
            vec![],
        )
    };
    let at = |p: &Path| format!("[at_rest]\nroot_key_file = {p:?}\n");
    // A root key inside data_dir would travel with every copy of it.
    let inside = data.join("root.key");
    let out = serve(at(&inside)).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must not be inside data_dir"));
    // A root key others can read is refused.
    let root = env.dir.path().join("root.key");
    let made = bedside(
        strings(&["root-key", "create", "--file", root.to_str().unwrap()]),
        vec![],
    )
    .await;
    assert!(made.status.success());
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = serve(at(&root)).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o600)).unwrap();

    // With the key file: the existing store is encrypted at start, and reads back.
    let p = Process::start(&env, &at(&root));
    assert_eq!(
        found_in(&data, &needles(5)),
        Vec::<String>::new(),
        "encrypted in place"
    );
    let (_pt, w, got) = resumed_bodies(&p.url, w_pt["resume_token"].as_str().unwrap(), 0, 5).await;
    assert_eq!(w["state"], "admitted");
    assert_eq!(got, (0..5).map(body).collect::<Vec<_>>());
    p.terminate();
    // Without [at_rest] an encrypted store is refused, not started over.
    let out = serve(String::new()).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("configure [at_rest]"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

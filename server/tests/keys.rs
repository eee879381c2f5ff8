//! Issuer keys rotate without a restart: a JWK set served over HTTPS by the
//! test itself (its own CA, given to the hub as `auth.jwks_ca`), and a JWK
//! set file reloaded on SIGHUP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bedside_token::PrivateKey;
use common::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A JWK set of the public halves of `keys`.
fn set_of(keys: &[&PrivateKey]) -> String {
    let all: Vec<Value> = keys
        .iter()
        .flat_map(|k| {
            let v: Value = serde_json::from_str(&k.public_jwks()).unwrap();
            v["keys"].as_array().unwrap().clone()
        })
        .collect();
    json!({ "keys": all }).to_string()
}

/// An HTTPS server of one JWK set (`Cache-Control: max-age=1`), whose
/// document the test replaces, and which can be taken down.
struct Idp {
    url: String,
    ca_pem: std::path::PathBuf,
    doc: Arc<Mutex<String>>,
    down: Arc<std::sync::atomic::AtomicBool>,
    fetches: Arc<std::sync::atomic::AtomicUsize>,
    /// The `Cache-Control: max-age` it serves.
    max_age: Arc<std::sync::atomic::AtomicU64>,
}

async fn idp(dir: &std::path::Path, doc: String) -> Idp {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Test clinic CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let ca_pem = dir.join("idp-ca.pem");
    std::fs::write(&ca_pem, ca.pem()).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let doc = Arc::new(Mutex::new(doc));
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let max_age = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let (d, dn, f, ma) = (doc.clone(), down.clone(), fetches.clone(), max_age.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            if dn.load(std::sync::atomic::Ordering::SeqCst) {
                drop(tcp); // the provider is down: connection reset
                continue;
            }
            let (acceptor, d, f, ma) = (acceptor.clone(), d.clone(), f.clone(), ma.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                f.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = d.lock().unwrap().clone();
                let max_age = ma.load(std::sync::atomic::Ordering::SeqCst);
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: public, max-age={max_age}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Idp {
        url: format!("https://{addr}/.well-known/jwks.json"),
        ca_pem,
        doc,
        down,
        fetches,
        max_age,
    }
}

fn signed(env: &Env, key: &PrivateKey, visit: &str, role: &str, sub: &str) -> String {
    key.sign(&env.claims(visit, role, sub)).unwrap()
}

/// `hello` with `token`: the welcome, or the close code.
async fn try_hello(url: &str, token: &str) -> Result<(Client, Value), u16> {
    hello_or_close(url, token).await
}

/// Polls `f` (every 100 ms, at most 10 s) until it is true.
async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within 10 s: {what}");
}

fn alerts(hub: &Hub) -> u64 {
    metric(
        &hub.hub().metrics.render(),
        "bedside_alerts_total{reason=\"jwks_refresh_failed\"}",
    )
}

#[tokio::test]
async fn keys_from_an_identity_provider_rotate_without_a_restart() {
    let env = Env::new();
    let k1 = PrivateKey::generate("idp-1");
    let k2 = PrivateKey::generate("idp-2");
    let idp = idp(env.dir.path(), set_of(&[&k1])).await;
    let hub = env
        .start_with(|c| {
            c.auth.jwks = Some(idp.url.clone().into());
            c.auth.jwks_ca = Some(idp.ca_pem.clone());
            c.auth.jwks_refresh_s = 2;
            c.auth.jwks_min_refresh_s = 1;
            c.auth.end_sessions_of_removed_keys = true;
        })
        .await;
    let url = hub.url();
    // A patient waiting on key 1.
    let (mut pt, w) = try_hello(&url, &signed(&env, &k1, "v-1", "patient", "pt"))
        .await
        .unwrap();
    assert_eq!(w["state"], "waiting");

    // The provider adds key 2: a token signed with it is accepted at once
    // (its unknown kid makes the hub fetch, no restart, no waiting for the
    // schedule beyond the one-second floor).
    *idp.doc.lock().unwrap() = set_of(&[&k1, &k2]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (mut dr, _) = try_hello(&url, &signed(&env, &k2, "v-1", "provider", "dr"))
        .await
        .expect("a new key is accepted without a restart");
    let lobby = dr.recv_type("lobby").await;
    assert_eq!(lobby["waiting"][0]["id"], "pt");

    // Key 1 leaves the set: new hellos with it are refused, and (with
    // end_sessions_of_removed_keys) the patient's session on it ends; the
    // provider's session, on the key that stays, goes on.
    *idp.doc.lock().unwrap() = set_of(&[&k2]);
    assert_eq!(pt.closed().await, 4001);
    let resumed = resume(&url, w["resume_token"].as_str().unwrap()).await;
    assert_eq!(resumed.err(), Some(4001), "an ended session stays ended");
    let refused = try_hello(&url, &signed(&env, &k1, "v-1", "patient", "pt2")).await;
    assert_eq!(refused.err(), Some(4001), "a removed key is refused");
    let lobby = dr.recv_type("lobby").await;
    assert_eq!(
        lobby["waiting"],
        json!([]),
        "the provider's session lives on"
    );

    // The provider goes down: the last good keys stay in use and an ALERT
    // is raised.
    idp.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let h = &hub;
    eventually("an ALERT for the unreachable provider", || async move {
        alerts(h) >= 1
    })
    .await;
    let (_pt3, _) = try_hello(&url, &signed(&env, &k2, "v-1", "patient", "pt3"))
        .await
        .expect("the last good keys stay in use");
    assert_eq!(dr.recv_type("lobby").await["waiting"][0]["id"], "pt3");
    // Still one ALERT for the whole outage, however many fetches failed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(alerts(&hub), 1);

    // Back up: fetched again (and cached in data_dir for a restart).
    idp.down.store(false, std::sync::atomic::Ordering::SeqCst);
    let before = idp.fetches.load(std::sync::atomic::Ordering::SeqCst);
    let fetches = &idp.fetches;
    eventually("a fetch once the provider is back", || async move {
        fetches.load(std::sync::atomic::Ordering::SeqCst) > before
    })
    .await;
    let cached = std::fs::read_to_string(env.data_dir().join("issuer-jwks.cache.json")).unwrap();
    assert!(
        cached.contains("idp-2") && !cached.contains("idp-1"),
        "{cached}"
    );
}

#[tokio::test]
async fn an_unknown_kid_fetches_at_once_and_forged_kids_do_not_hammer_the_provider() {
    let env = Env::new();
    let k1 = PrivateKey::generate("idp-1");
    let k2 = PrivateKey::generate("idp-2");
    let idp = idp(env.dir.path(), set_of(&[&k1])).await;
    // Fresh for an hour: no scheduled fetch happens during the test.
    idp.max_age.store(3600, std::sync::atomic::Ordering::SeqCst);
    let hub = env
        .start_with(|c| {
            c.auth.jwks = Some(idp.url.clone().into());
            c.auth.jwks_ca = Some(idp.ca_pem.clone());
            c.auth.jwks_min_refresh_s = 1;
        })
        .await;
    let fetched = || idp.fetches.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(fetched(), 1, "fetched at start");
    *idp.doc.lock().unwrap() = set_of(&[&k1, &k2]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    try_hello(&hub.url(), &signed(&env, &k2, "v-1", "provider", "dr"))
        .await
        .expect("the new kid made the hub fetch, and the token passed");
    assert_eq!(fetched(), 2);
    // A burst of tokens naming kids nobody published: refused, and at most
    // one fetch per jwks_min_refresh_s.
    for i in 0..20 {
        let forged = PrivateKey::generate(&format!("forged-{i}"));
        let r = try_hello(&hub.url(), &signed(&env, &forged, "v-1", "patient", "pt")).await;
        // 4001, then 4029 once the address's failures trip its cooldown.
        let code = r.err();
        assert!(matches!(code, Some(4001 | 4029)), "{code:?}");
    }
    assert!(fetched() <= 3, "{} fetches for 20 forged kids", fetched());
}

#[tokio::test]
async fn a_restart_while_the_provider_is_down_starts_on_the_cached_keys() {
    let env = Env::new();
    let k1 = PrivateKey::generate("idp-1");
    let idp = idp(env.dir.path(), set_of(&[&k1])).await;
    let configure = |c: &mut bedside_server::config::Config| {
        c.auth.jwks = Some(idp.url.clone().into());
        c.auth.jwks_ca = Some(idp.ca_pem.clone());
        c.auth.jwks_min_refresh_s = 1;
    };
    let mut hub = env.start_with(configure).await;
    hub.stop().await;
    idp.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let hub = env.start_with(configure).await;
    assert_eq!(alerts(&hub), 1, "starting on cached keys is an ALERT");
    try_hello(&hub.url(), &signed(&env, &k1, "v-1", "patient", "pt"))
        .await
        .expect("the cached keys verify");

    // Without a cache, an unreachable provider stops the start.
    let other = Env::new();
    let err = bedside_server::server::start({
        let mut c = other.config();
        configure(&mut c);
        c
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("auth.jwks:") && err.contains("no cached copy"),
        "{err}"
    );
}

#[tokio::test]
async fn a_key_file_reloads_on_sighup() {
    let env = Env::new();
    let k2 = PrivateKey::generate("file-2");
    let hub = env.start().await;
    let url = hub.url();
    let (mut pt, _) = try_hello(&url, &env.token("v-1", "patient", "pt"))
        .await
        .unwrap();
    // Key 2 added, the file's time kept (written aside, dated, renamed
    // over): only SIGHUP reloads it.
    let mtime = std::fs::metadata(&env.jwks).unwrap().modified().unwrap();
    let aside = env.dir.path().join("next.jwks.json");
    std::fs::write(&aside, set_of(&[&env.key, &k2])).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&aside)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::rename(&aside, &env.jwks).unwrap();
    assert_eq!(
        try_hello(&url, &signed(&env, &k2, "v-1", "provider", "dr"))
            .await
            .err(),
        Some(4001),
        "not reloaded yet"
    );
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let mut dr = None;
    for _ in 0..100 {
        if let Ok((c, _)) = try_hello(&url, &signed(&env, &k2, "v-1", "provider", "dr")).await {
            dr = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut dr = dr.expect("key 2 accepted after SIGHUP");

    // Key 1 removed (a plain write: the change is noticed by itself). New
    // hellos with it are refused; the patient's session on it lives on
    // (auth.end_sessions_of_removed_keys is off by default).
    std::fs::write(&env.jwks, set_of(&[&k2])).unwrap();
    let (u, e) = (&url, &env);
    eventually("key 1 refused after its removal", || async move {
        try_hello(u, &e.token("v-1", "patient", "pt9"))
            .await
            .is_err()
    })
    .await;
    dr.send(json!({"type":"admit","participant":"pt"})).await;
    pt.recv_type("admitted").await;

    // A broken file keeps the last good keys and raises one ALERT.
    std::fs::write(&env.jwks, "{not json").unwrap();
    let h = &hub;
    eventually(
        "an ALERT for the broken file",
        || async move { alerts(h) == 1 },
    )
    .await;
    try_hello(&url, &signed(&env, &k2, "v-2", "provider", "dr2"))
        .await
        .expect("the last good keys stay in use");
}

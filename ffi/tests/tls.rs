//! `wss://` through the FFI: the certificate is checked by the platform's
//! verifier (rustls-platform-verifier; on Linux the native roots, which
//! `SSL_CERT_FILE` names here). A hub whose certificate chains to a
//! trusted CA is joined; one with a certificate nobody vouches for is
//! refused, and the app hears why. In a test binary of its own: the
//! verifier reads `SSL_CERT_FILE` once per process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../client-sdk/tests/common/mod.rs"]
mod common;

use bedside_ffi::{BedsideClient, BedsideError, ClientConfig, ClientEvent, EventListener};
use std::sync::Arc;
use tokio::sync::mpsc;

struct Listener(mpsc::UnboundedSender<ClientEvent>);

impl EventListener for Listener {
    fn on_event(&self, event: ClientEvent) {
        let _ = self.0.send(event);
    }
}

/// A CA, and a certificate for 127.0.0.1 it signed (chain PEM, key PEM).
fn ca_and_leaf() -> (String, String, String) {
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
    (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
}

async fn join(hub: &common::Hub) -> mpsc::UnboundedReceiver<ClientEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    let config = ClientConfig {
        url: hub.url(),
        device: "dev-dr".into(),
        identity_secret: None,
        pins_json: None,
    };
    let client = BedsideClient::connect(
        config,
        hub.token("v-1", "provider", "dr"),
        None,
        Arc::new(Listener(tx)),
        None,
    )
    .await
    .unwrap();
    std::mem::forget(client); // kept for the test's length
    rx
}

async fn first<T>(
    rx: &mut mpsc::UnboundedReceiver<ClientEvent>,
    mut f: impl FnMut(&ClientEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(common::WAIT, async {
        loop {
            if let Some(t) = f(&rx.recv().await.unwrap()) {
                return t;
            }
        }
    })
    .await
    .unwrap()
}

/// The verifier reads `SSL_CERT_FILE` from the environment, which a test
/// cannot set for itself without `unsafe`: the test runs this binary again
/// with it (and the directory holding the certificates).
#[test]
fn wss_certificates_are_checked_by_the_platform_verifier() {
    const CHILD: &str = "BEDSIDE_TLS_TEST_DIR";
    if let Some(dir) = std::env::var_os(CHILD) {
        return tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(check(std::path::PathBuf::from(dir)));
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, chain, key) = ca_and_leaf();
    std::fs::write(dir.path().join("trusted.pem"), ca).unwrap();
    std::fs::write(dir.path().join("chain.pem"), chain).unwrap();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "wss_certificates_are_checked_by_the_platform_verifier",
            "--nocapture",
        ])
        .env(CHILD, dir.path())
        .env("SSL_CERT_FILE", dir.path().join("trusted.pem"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The child ran the checks (not a filter that matched nothing).
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}

async fn check(dir: std::path::PathBuf) {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let hub = common::Hub::start_tls(&read("chain.pem"), &read("key.pem")).await;
    assert!(hub.url().starts_with("wss://"));
    let mut events = join(&hub).await;
    let admitted = first(&mut events, |e| match e {
        ClientEvent::Welcome { admitted, .. } => Some(*admitted),
        ClientEvent::Error { error } => panic!("{error:?}"),
        _ => None,
    })
    .await;
    assert!(admitted, "a provider is admitted at once");

    // A certificate no trusted CA signed: refused, and the app hears why.
    let (_, other_chain, other_key) = ca_and_leaf();
    let rogue = common::Hub::start_tls(&other_chain, &other_key).await;
    let mut events = join(&rogue).await;
    let why = first(&mut events, |e| match e {
        ClientEvent::Welcome { .. } => panic!("joined a hub with an untrusted certificate"),
        ClientEvent::Error {
            error: BedsideError::Transport { reason },
        } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(why.contains("certificate"), "{why}");
}

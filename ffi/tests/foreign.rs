//! The generated bindings, run by the languages apps use: a Python and a
//! Kotlin (desktop JVM) patient join the real hub on loopback and meet a
//! Rust provider. `cargo xtask test` generates the bindings (`cargo xtask
//! bindings`), installs what is missing (kotlinc from npm, Debian's JNA)
//! and runs these tests (marked ignored for a plain `cargo test`, which
//! has none of that); the paths come in:
//! `BEDSIDE_BINDINGS` (Kotlin, Swift and Python bindings, beside the
//! cdylib), `BEDSIDE_KOTLIN_HOME`, `BEDSIDE_JNA_JAR`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../client-sdk/tests/common/mod.rs"]
mod common;

use bedside_ffi::{BedsideClient, ClientConfig, ClientEvent, EventListener, MediaFactory};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use tokio::sync::mpsc;

struct Listener(mpsc::UnboundedSender<ClientEvent>);

impl EventListener for Listener {
    fn on_event(&self, event: ClientEvent) {
        let _ = self.0.send(event);
    }
}

fn env_path(name: &str) -> PathBuf {
    PathBuf::from(
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run these tests with `cargo xtask test`")
        }),
    )
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A Rust participant through the FFI's types.
struct Rust {
    client: Arc<BedsideClient>,
    events: mpsc::UnboundedReceiver<ClientEvent>,
}

impl Rust {
    async fn join(
        url: String,
        token: String,
        sub: &str,
        media: Option<Arc<dyn MediaFactory>>,
    ) -> Self {
        let (tx, events) = mpsc::unbounded_channel();
        let config = ClientConfig {
            url,
            device: format!("dev-{sub}"),
            identity_secret: None,
            pins_json: None,
        };
        let client = BedsideClient::connect(config, token, None, Arc::new(Listener(tx)), media)
            .await
            .unwrap();
        Self { client, events }
    }

    async fn until<T>(&mut self, what: &str, mut f: impl FnMut(&ClientEvent) -> Option<T>) -> T {
        let wait = async {
            while let Some(e) = self.events.recv().await {
                if let Some(t) = f(&e) {
                    return t;
                }
            }
            panic!("events ended before {what}");
        };
        tokio::time::timeout(common::WAIT * 2, wait)
            .await
            .unwrap_or_else(|_| panic!("no {what} in time"))
    }
}

/// A patient token that is due for refresh at once (the SDK refreshes 120 s
/// before expiry), and the one its token source hands out.
fn patient_tokens(hub: &common::Hub, visit: &str) -> (String, String) {
    use bedside_protocol::claims::{JoinClaims, Lifetime};
    use bedside_protocol::time::UnixMs;
    use bedside_protocol::{ParticipantId, VisitId};
    let now = UnixMs::from_system_time(std::time::SystemTime::now()).to_secs();
    let short = JoinClaims::new(
        "clinic",
        "bedside",
        VisitId::new(visit).unwrap(),
        ParticipantId::new("pt").unwrap(),
        bedside_protocol::Role::Patient,
        Lifetime::starting(now, 122),
        bedside_token::random_jti(),
    )
    .with_name("pt");
    (
        hub.key.sign(&short).unwrap(),
        hub.token(visit, "patient", "pt"),
    )
}

/// Runs the foreign patient `cmd` against `url`, while `dr` admits it,
/// answers its chat, and reads its last chat; returns what it printed.
async fn visit_with(
    mut cmd: tokio::process::Command,
    hub: &common::Hub,
    url: String,
    dr: &mut Rust,
    visit: &str,
) -> String {
    let (token, refresh) = patient_tokens(hub, visit);
    let child = cmd
        .env("BEDSIDE_URL", url)
        .env("BEDSIDE_TOKEN", token)
        .env("BEDSIDE_REFRESH_TOKEN", refresh)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = tokio::spawn(child.wait_with_output());
    let lobby = dr.until("the patient in the lobby", |e| match e {
        ClientEvent::Lobby { waiting } if waiting.iter().any(|w| w.id == "pt") => Some(()),
        _ => None,
    });
    tokio::select! {
        () = lobby => {}
        done = &mut out => {
            let o = done.unwrap().unwrap();
            panic!(
                "the foreign client ended before it joined ({}):\n{}\n{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    dr.client.admit("pt".into()).await.unwrap();
    let first = dr
        .until("the patient's chat", |e| match e {
            ClientEvent::Chat { message } if message.sender == "pt" => Some(message.text.clone()),
            _ => None,
        })
        .await;
    dr.client.send_chat("hello from rust".into()).await.unwrap();
    let second = dr
        .until("the patient's chat after its refresh", |e| match e {
            ClientEvent::Chat { message } if message.sender == "pt" => Some(message.text.clone()),
            _ => None,
        })
        .await;
    let out = tokio::time::timeout(common::WAIT * 3, out)
        .await
        .expect("the foreign client finished")
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(second, "after the refresh");
    format!("first chat: {first}\n{stdout}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the generated bindings: `cargo xtask test` runs it"]
async fn a_python_patient_chats_with_a_rust_provider() {
    let hub = common::Hub::start().await;
    let mut dr = Rust::join(hub.url(), hub.token("v-py", "provider", "dr"), "dr", None).await;
    let mut cmd = tokio::process::Command::new("python3");
    cmd.arg(repo().join("ffi/tests/python/visit.py")).env(
        "BEDSIDE_BINDINGS",
        env_path("BEDSIDE_BINDINGS").join("python"),
    );
    let out = visit_with(cmd, &hub, hub.url(), &mut dr, "v-py").await;
    for line in [
        "first chat: hello from python",
        "waiting",
        "admitted with dr,pt",
        "chat from dr: hello from rust",
        "typed error InvalidArgument",
        "ended left",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} in:\n{out}");
    }
    let refreshes = out
        .lines()
        .find_map(|l| l.strip_prefix("refreshes "))
        .and_then(|n| n.parse::<u32>().ok());
    assert!(refreshes.is_some_and(|n| n >= 1), "{out}");
}

//! The generated bindings, run by the languages apps use: a Python and a
//! Kotlin (desktop JVM) patient join the real hub on loopback and meet a
//! Rust provider. `cargo xtask test` generates the bindings (`cargo xtask
//! bindings`), installs what is missing (kotlinc from npm, Debian's JNA)
//! and runs these tests (marked ignored for a plain `cargo test`, which
//! has none of that). `BEDSIDE_BINDINGS` names the generated bindings'
//! directory; kotlinc is `ffi/tests/kotlin/node_modules/kotlin-compiler`
//! (npm), JNA Debian's `/usr/share/java/jna.jar`.
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

/// Runs the foreign patient `cmd` against `url`, while `dr` admits it
/// (and `openers` then open a data channel to it), answers its chat, and
/// reads its last chat; returns what it printed.
async fn visit_with(
    mut cmd: tokio::process::Command,
    hub: &common::Hub,
    url: String,
    dr: &mut Rust,
    openers: &[Arc<BedsideClient>],
    visit: &str,
) -> String {
    let (token, refresh) = patient_tokens(hub, visit);
    // What the hub sends the patient, to see it take the refreshed token.
    let (url, to_pt) = common::recorder(url).await;
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
    for o in openers {
        o.open_data_channel("pt".into(), "notes".into())
            .await
            .unwrap();
    }
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
    // The hub extended the session to the refreshed token's expiry (an
    // hour, not the first token's 122 s); the patient leaves only once
    // told, so its leave cannot overtake its refresh.
    let deadline = tokio::time::Instant::now() + common::WAIT;
    let extended = |until: Option<i64>| until.is_some_and(|u| u > common::now_s() + 3000);
    while !extended(common::extended_until(&to_pt)) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let until = common::extended_until(&to_pt);
    dr.client
        .send_chat("the hub took your new token".into())
        .await
        .unwrap();
    let out = tokio::time::timeout(common::WAIT * 3, out)
        .await
        .expect("the foreign client finished")
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(second, "after the refresh");
    assert!(extended(until), "{until:?}");
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
    let out = visit_with(cmd, &hub, hub.url(), &mut dr, &[], "v-py").await;
    for line in [
        "first chat: hello from python",
        "waiting",
        "admitted with dr,pt",
        "chat from dr: hello from rust",
        "chat from dr: the hub took your new token",
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

/// Runs `cmd` and fails the test with its output if it fails.
async fn must(cmd: &mut tokio::process::Command) {
    let out = cmd.output().await.unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The fingerprint the stand-in hub writes into dr-b's offers.
const TAMPERED: &str = "66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66:66";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the generated bindings and kotlinc: `cargo xtask test` runs it"]
async fn a_kotlin_patient_chats_and_its_media_factory_sees_only_checked_sdps() {
    let bindings = env_path("BEDSIDE_BINDINGS");
    let kotlin = repo().join("ffi/tests/kotlin/node_modules/kotlin-compiler");
    let jna = PathBuf::from("/usr/share/java/jna.jar");
    let coroutines = kotlin.join("lib/kotlinx-coroutines-core-jvm.jar");
    let stdlib = kotlin.join("lib/kotlin-stdlib.jar");
    let build = tempfile::tempdir().unwrap();
    let jar = build.path().join("visit.jar");
    // The generated bindings and the test, warnings as errors.
    must(
        tokio::process::Command::new(kotlin.join("bin/kotlinc"))
            .arg("-Werror")
            .arg("-cp")
            .arg(format!("{}:{}", jna.display(), coroutines.display()))
            .arg(bindings.join("kotlin/health/bedside/bedside.kt"))
            .arg(repo().join("ffi/tests/kotlin/Visit.kt"))
            .arg("-d")
            .arg(&jar),
    )
    .await;

    let hub = common::Hub::start().await;
    // The patient's hub rewrites the fingerprint in dr-b's offers.
    let rewrite: Arc<dyn Fn(String) -> String + Send + Sync> = Arc::new(|t: String| {
        let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
        if v["type"] == "offer" && v["from"] == "dr-b" {
            let sdp = v["sdp"].as_str().unwrap().to_owned();
            let out: Vec<String> = sdp
                .split("\r\n")
                .map(|l| {
                    if l.starts_with("a=fingerprint:") {
                        format!("a=fingerprint:sha-256 {TAMPERED}")
                    } else {
                        l.to_owned()
                    }
                })
                .collect();
            v["sdp"] = out.join("\r\n").into();
        }
        v.to_string()
    });
    let mitm = common::stand_in(hub.url(), rewrite).await;
    let media = || {
        Some(bedside_ffi::webrtc_rs_media_factory(vec![
            "127.0.0.1:0".into(),
        ]))
    };
    let visit = "v-kt";
    let mut dr = Rust::join(
        hub.url(),
        hub.token(visit, "provider", "dr-a"),
        "dr-a",
        media(),
    )
    .await;
    let mut dr_b = Rust::join(
        hub.url(),
        hub.token(visit, "provider", "dr-b"),
        "dr-b",
        media(),
    )
    .await;
    for p in [&mut dr, &mut dr_b] {
        p.until("admitted", |e| {
            matches!(e, ClientEvent::Admitted { .. }).then_some(())
        })
        .await;
    }
    let mut cmd = tokio::process::Command::new("java");
    cmd.arg("-cp")
        .arg(format!(
            "{}:{}:{}:{}",
            jar.display(),
            jna.display(),
            coroutines.display(),
            stdlib.display()
        ))
        .arg(format!(
            "-Djna.library.path={}",
            bindings.join("python").display()
        ))
        .arg("VisitKt")
        .env("BEDSIDE_TAMPERED", TAMPERED);
    let openers = [dr.client.clone(), dr_b.client.clone()];
    let out = visit_with(cmd, &hub, mitm, &mut dr, &openers, visit).await;
    for line in [
        "first chat: hello from kotlin",
        "waiting",
        "admitted with dr-a,dr-b,pt",
        "chat from dr-a: hello from rust",
        "refused an sdp of dr-b",
        "sdps from dr-b: 0",
        "tampered sdps: 0",
        "peers built: dr-a",
        "certificate checks: true,true,true,true",
        "tracks at mid 0: none",
        "chat from dr-a: the hub took your new token",
        "typed error InvalidArgument",
        "ended left",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} in:\n{out}");
    }
    let count = |prefix: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|n| n.parse::<u32>().ok())
    };
    assert!(count("sdps from dr-a: ").is_some_and(|n| n >= 1), "{out}");
    assert!(count("refreshes ").is_some_and(|n| n >= 1), "{out}");
}

/// What iOS builds from: the Swift sources, header and module map. The
/// header compiles with clang, a C program links against the static
/// library, and the generated Swift API equals the committed copy in
/// `ffi/bindings/swift` (so every change to it is deliberate: `cargo xtask
/// bindings --accept-swift` updates the copy). Swift itself is not on this
/// machine: the sources are not compiled here.
#[tokio::test]
#[ignore = "needs the generated bindings and clang: `cargo xtask test` runs it"]
async fn the_swift_bindings_are_the_committed_ones_and_their_header_links() {
    let swift = env_path("BEDSIDE_BINDINGS").join("swift");
    for file in ["Bedside.swift", "BedsideFFI.h", "BedsideFFI.modulemap"] {
        let made = std::fs::read_to_string(swift.join(file)).unwrap();
        let kept = std::fs::read_to_string(repo().join("ffi/bindings/swift").join(file))
            .unwrap_or_default();
        assert!(
            made == kept,
            "{file} differs from ffi/bindings/swift/{file}: if the change to the FFI is meant, run `cargo xtask bindings --accept-swift` and commit it"
        );
    }
    must(
        tokio::process::Command::new("clang")
            .args(["-fsyntax-only", "-Werror", "-Wall", "-x", "c-header"])
            .arg(swift.join("BedsideFFI.h")),
    )
    .await;
    let build = tempfile::tempdir().unwrap();
    let exe = build.path().join("link");
    let lib = swift.join("libbedside_ffi.a");
    must(
        tokio::process::Command::new("clang")
            .args(["-Wall", "-Werror", "-I"])
            .arg(&swift)
            .arg(repo().join("ffi/tests/swift/link.c"))
            .arg(&lib)
            .args(["-lpthread", "-ldl", "-lm", "-o"])
            .arg(&exe),
    )
    .await;
    let out = tokio::process::Command::new(&exe).output().await.unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with("contract ")), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
}

//! Test harness: an in-process hub on 127.0.0.1:0 with its own issuer key,
//! token minting, and a small WebSocket client speaking PROTOCOL.md.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::field_reassign_with_default
)]

pub mod redis;
pub mod softhsm;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bedside_protocol::claims::{JoinClaims, Lifetime};
use bedside_protocol::time::UnixSecs;
use bedside_protocol::{ParticipantId, Role, VisitId};
use bedside_server::clock::ManualClock;
use bedside_server::config::Config;
use bedside_server::server::{self, Running};
use bedside_token::PrivateKey;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const ISSUER: &str = "clinic";
pub const KID: &str = "clinic-1";
pub const WAIT: Duration = Duration::from_secs(10);

/// The clinic's signing key and the directory holding the hub's files.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub key: PrivateKey,
    pub jwks: PathBuf,
    /// The audit checkpoint key (private) and its public set.
    pub audit_key: PathBuf,
    pub audit_public: PathBuf,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate(KID);
        let jwks = dir.path().join("issuer.public.jwks.json");
        key.save(&dir.path().join("issuer.private.jwks.json"), &jwks)
            .unwrap();
        let audit_key = dir.path().join("audit.private.jwks.json");
        let audit_public = dir.path().join("audit.public.jwks.json");
        PrivateKey::generate("audit-1")
            .save(&audit_key, &audit_public)
            .unwrap();
        Self {
            dir,
            key,
            jwks,
            audit_key,
            audit_public,
        }
    }

    pub fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit/audit.jsonl")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A production-shaped config (not dev mode), plain HTTP on a free port.
    pub fn config(&self) -> Config {
        let mut c = Config::default();
        c.listen = Some("127.0.0.1:0".parse().unwrap());
        c.insecure_http = true;
        c.data_dir = self.data_dir();
        c.audit.path = self.audit_path();
        c.audit.signing_key = Some(self.audit_key.clone());
        c.auth.jwks = Some(self.jwks.clone());
        c.auth.issuers = vec![ISSUER.into()];
        c
    }

    pub async fn start(&self) -> Hub {
        self.start_with(|_| {}).await
    }

    pub async fn start_with(&self, f: impl FnOnce(&mut Config)) -> Hub {
        let mut c = self.config();
        f(&mut c);
        Hub {
            running: Some(server::start(c).await.unwrap()),
        }
    }

    /// A hub on a [`ManualClock`] standing at the system time: its visit
    /// timers and sweep fire when the test advances the clock, not before.
    pub async fn start_on_clock(&self, f: impl FnOnce(&mut Config)) -> (Hub, Arc<ManualClock>) {
        let mut c = self.config();
        f(&mut c);
        let clock = Arc::new(ManualClock::at_system_time());
        let running = server::start_with_clock(c, clock.clone()).await.unwrap();
        let hub = Hub {
            running: Some(running),
        };
        (hub, clock)
    }

    /// Claims of a valid token, as JSON: tests edit them to make bad ones.
    pub fn claims(&self, visit: &str, role: &str, sub: &str) -> Value {
        serde_json::to_value(valid_claims(ISSUER, visit, role, sub)).unwrap()
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.key.sign(claims).unwrap()
    }

    pub fn token(&self, visit: &str, role: &str, sub: &str) -> String {
        self.sign(&self.claims(visit, role, sub))
    }
}

pub fn now() -> i64 {
    bedside_server::clock::Clock::now(&bedside_server::clock::SystemClock)
        .to_secs()
        .0
}

/// A token with an arbitrary header and payload, signed by `sign`.
pub fn raw_token(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{h}.{p}");
    let sig = URL_SAFE_NO_PAD.encode(sign(input.as_bytes()));
    format!("{input}.{sig}")
}

pub struct Hub {
    pub running: Option<Running>,
}

impl Hub {
    pub fn addr(&self) -> SocketAddr {
        self.running.as_ref().unwrap().addr
    }

    pub fn url(&self) -> String {
        format!("ws://{}/v1/signal", self.addr())
    }

    pub fn hub(&self) -> &std::sync::Arc<bedside_server::hub::Hub> {
        &self.running.as_ref().unwrap().hub
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown(Duration::from_secs(5)).await;
        }
    }

    pub async fn connect(&self) -> Client {
        Client::connect(&self.url()).await
    }

    /// Connects and says hello; returns the client and its welcome.
    pub async fn join(&self, token: &str) -> (Client, Value) {
        let mut c = self.connect().await;
        let w = c.hello(token).await;
        (c, w)
    }
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(url: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url.into_client_request().unwrap())
            .await
            .unwrap();
        Self { ws }
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, s: &str) {
        self.ws
            .send(Message::Text(s.to_owned().into()))
            .await
            .unwrap();
    }

    /// Next JSON message; panics on close or timeout.
    pub async fn recv(&mut self) -> Value {
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("timed out waiting for a message")
                .expect("connection ended")
                .expect("websocket error");
            match m {
                Message::Text(t) => return serde_json::from_str(&t).unwrap(),
                Message::Close(f) => panic!("closed: {f:?}"),
                _ => continue,
            }
        }
    }

    /// Next message of type `ty`, skipping others (returned in order).
    pub async fn recv_type(&mut self, ty: &str) -> Value {
        loop {
            let m = self.recv().await;
            if m["type"] == ty {
                return m;
            }
        }
    }

    /// Waits for the close frame; returns its code. Messages before it are ignored.
    pub async fn closed(&mut self) -> u16 {
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("timed out waiting for close");
            match m {
                Some(Ok(Message::Close(Some(f)))) => return u16::from(f.code),
                Some(Ok(Message::Close(None))) => return 1005,
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("error before close frame: {e}"),
                None => panic!("ended without a close frame"),
            }
        }
    }

    /// Every message until the connection ends, and its close code (`None`:
    /// it broke without a close frame, as when the hub was killed).
    pub async fn until_closed(&mut self) -> (Vec<Value>, Option<u16>) {
        let mut v = Vec::new();
        loop {
            let m = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("timed out waiting for the connection to end");
            match m {
                Some(Ok(Message::Text(t))) => v.push(serde_json::from_str(&t).unwrap()),
                Some(Ok(Message::Close(f))) => {
                    return (v, Some(f.map_or(1005, |f| u16::from(f.code))));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return (v, None),
            }
        }
    }

    /// Collects messages until none arrives for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut v = Vec::new();
        while let Ok(Some(Ok(m))) = tokio::time::timeout(quiet, self.ws.next()).await {
            if let Message::Text(t) = m {
                v.push(serde_json::from_str(&t).unwrap());
            }
        }
        v
    }

    pub async fn hello(&mut self, token: &str) -> Value {
        self.send(json!({"type":"hello","token":token,"device":"d-test"}))
            .await;
        self.recv_type("welcome").await
    }
}

/// A provider and an admitted patient in `visit`.
pub async fn admitted_pair(env: &Env, hub: &Hub, visit: &str) -> (Client, Client) {
    let (mut dr, _) = hub.join(&env.token(visit, "provider", "dr")).await;
    let (mut pt, w) = hub.join(&env.token(visit, "patient", "pt")).await;
    assert_eq!(w["state"], "waiting");
    dr.recv_type("lobby").await; // empty lobby at join
    let lobby = dr.recv_type("lobby").await;
    assert_eq!(lobby["waiting"][0]["id"], "pt");
    dr.send(json!({"type":"admit","participant":"pt"})).await;
    pt.recv_type("admitted").await;
    dr.recv_type("joined").await;
    assert_eq!(dr.recv().await, json!({"type":"lobby","waiting":[]}));
    (dr, pt)
}

/// A Chromium-shaped offer (audio, video, data), valid under section 5.
pub const OFFER: &str = include_str!("../data/offer.sdp");

pub async fn resume(hub_url: &str, token: &str) -> Result<(Client, Value), u16> {
    first_answer(
        hub_url,
        json!({"type":"resume","resume_token":token,"last_seq":0}),
    )
    .await
}

/// `hello` with `token`: the connection and its welcome, or the close code.
pub async fn hello_or_close(hub_url: &str, token: &str) -> Result<(Client, Value), u16> {
    first_answer(
        hub_url,
        json!({"type":"hello","token":token,"device":"d-test"}),
    )
    .await
}

/// Sends `first` on a new connection: the welcome, or the close code.
async fn first_answer(hub_url: &str, first: Value) -> Result<(Client, Value), u16> {
    let mut c = Client::connect(hub_url).await;
    c.send(first).await;
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(WAIT, c.ws.next())
            .await
            .expect("timeout")
        {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "welcome" {
                    return Ok((c, v));
                }
            }
            Some(Ok(Message::Close(Some(f)))) => return Err(u16::from(f.code)),
            Some(Ok(_)) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// `bedside ARGS`, with `vars` added to its environment, run off the
/// runtime's thread (an in-process hub answers it meanwhile); its output.
pub fn bedside_cli(
    args: &[impl AsRef<std::ffi::OsStr>],
    vars: &[(&str, &std::ffi::OsStr)],
) -> impl std::future::Future<Output = std::process::Output> + 'static {
    let args: Vec<std::ffi::OsString> = args.iter().map(|a| a.as_ref().to_owned()).collect();
    let vars: Vec<(String, std::ffi::OsString)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_os_string()))
        .collect();
    async move {
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_bedside"))
                .args(args)
                .envs(vars)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }
}

/// The real `bedside` binary on a free port, with a config file.
pub struct Process {
    child: Child,
    pub url: String,
}

impl Process {
    /// Writes `bedside.toml` for `env` (plus `extra_toml`) and returns its path.
    pub fn write_config(env: &Env, extra_toml: &str) -> PathBuf {
        let cfg = env.dir.path().join("bedside.toml");
        std::fs::write(
            &cfg,
            format!(
                "listen = \"127.0.0.1:0\"\ninsecure_http = true\ndata_dir = {:?}\n[auth]\njwks = {:?}\nissuers = [\"{ISSUER}\"]\n[audit]\npath = {:?}\nsigning_key = {:?}\n{extra_toml}",
                env.data_dir(),
                env.jwks,
                env.audit_path(),
                env.audit_key,
            ),
        )
        .unwrap();
        cfg
    }

    pub fn start(env: &Env, extra_toml: &str) -> Self {
        Self::start_with_args(env, extra_toml, &[])
    }

    /// One node of a cluster on `redis_url`: its own config, data and
    /// audit file under `env.dir/NAME`, its stderr in `NAME/stderr.log`.
    pub fn start_node(env: &Env, name: &str, redis_url: &str, extra_toml: &str) -> Self {
        Self::try_start_node(env, name, redis_url, extra_toml)
            .unwrap_or_else(|e| panic!("node {name} did not start: {e}"))
    }

    /// As [`Process::start_node`]; `Err` holds what it printed on stderr.
    pub fn try_start_node(
        env: &Env,
        name: &str,
        redis_url: &str,
        extra_toml: &str,
    ) -> Result<Self, String> {
        let dir = Self::node_dir(env, name);
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("bedside.toml");
        std::fs::write(
            &cfg,
            format!(
                "listen = \"127.0.0.1:0\"\ninsecure_http = true\ndata_dir = {:?}\n[auth]\njwks = {:?}\nissuers = [\"{ISSUER}\"]\n[audit]\npath = {:?}\nsigning_key = {:?}\n[cluster]\nredis_url = {redis_url:?}\nnode_id = {name:?}\n{extra_toml}",
                dir.join("data"),
                env.jwks,
                dir.join("audit/audit.jsonl"),
                env.audit_key,
            ),
        )
        .unwrap();
        let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_bedside"))
            .args(["serve", "--config"])
            .arg(&cfg)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        match line.trim().strip_prefix("listening on http://") {
            Some(addr) => Ok(Self {
                url: format!("ws://{addr}/v1/signal"),
                child,
            }),
            None => {
                let _ = child.wait();
                Err(std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default())
            }
        }
    }

    /// Where node `name` keeps its files.
    pub fn node_dir(env: &Env, name: &str) -> PathBuf {
        env.dir.path().join(name)
    }

    /// `http://ADDR` of this process.
    pub fn http(&self) -> String {
        self.url
            .replace("ws://", "http://")
            .trim_end_matches("/v1/signal")
            .to_owned()
    }

    /// Sends a signal (`STOP`, `CONT`, `TERM`, …).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for the process to exit; its exit status.
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }

    pub fn start_with_args(env: &Env, extra_toml: &str, args: &[&str]) -> Self {
        Self::start_with_env(env, extra_toml, args, &[])
    }

    /// As [`Process::start_with_args`], with environment variables added.
    pub fn start_with_env(
        env: &Env,
        extra_toml: &str,
        args: &[&str],
        vars: &[(&str, &std::ffi::OsStr)],
    ) -> Self {
        let cfg = Self::write_config(env, extra_toml);
        Self::start_from(&cfg, args, vars)
    }

    /// `bedside serve --config CFG ARGS` with `vars` added; its stderr
    /// goes to `CFG` with the extension `stderr.log`.
    pub fn start_from(
        cfg: &std::path::Path,
        args: &[&str],
        vars: &[(&str, &std::ffi::OsStr)],
    ) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bedside"))
            .args(["serve", "--config"])
            .arg(cfg)
            .args(args)
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::options()
                    .create(true)
                    .append(true)
                    .open(cfg.with_extension("stderr.log"))
                    .map_or_else(|_| Stdio::null(), Stdio::from),
            )
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("hub did not start: {line:?}"))
            .to_owned();
        Self {
            child,
            url: format!("ws://{addr}/v1/signal"),
        }
    }

    /// SIGKILL: no shutdown, no final checkpoint.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(mut self) {
        self.terminate_ref();
    }

    pub fn terminate_ref(&mut self) {
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` on `base` (`http://ADDR`): status and body.
pub fn http_get(base: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A counter's value in a `/metrics` text (0 if absent).
pub fn metric(text: &str, name_and_labels: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// A key bundle of the documented shape (docs/protocol.md): the hub checks
/// the shape, not the signature.
#[allow(dead_code)]
pub fn key_bundle() -> Value {
    use base64::engine::general_purpose::STANDARD;
    json!({"v":1,"ik":STANDARD.encode([1u8; 32]),"hello":STANDARD.encode([2u8; 120]),"sig":STANDARD.encode([3u8; 64])})
}

/// The claims every harness mints: a name equal to `sub`, an hour to live
/// and the default `amr` for the role ([`JoinClaims::new`]).
pub fn valid_claims(iss: &str, visit: &str, role: &str, sub: &str) -> JoinClaims {
    let role: Role = serde_json::from_value(json!(role)).unwrap();
    JoinClaims::new(
        iss,
        "bedside",
        VisitId::new(visit).unwrap(),
        ParticipantId::new(sub).unwrap(),
        role,
        Lifetime::starting(UnixSecs(now()), 3600),
        bedside_token::random_jti(),
    )
    .with_name(sub)
}

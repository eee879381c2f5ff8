//! Join a visit from the terminal as a provider or a patient: admit, chat
//! end to end, print safety numbers.
//!
//! Against `cargo xtask demo` (dev mode mints tokens itself):
//!
//! ```sh
//! cargo run -p bedside-sdk --example visit -- --hub http://127.0.0.1:8080 --visit v-1 --role provider --sub dr-ada
//! cargo run -p bedside-sdk --example visit -- --hub http://127.0.0.1:8080 --visit v-1 --role patient --sub pt-1
//! ```
//!
//! With `--media-udp 0.0.0.0:0` it also receives audio and video over webrtc-rs
//! (printing packet counts per remote track), e.g. from a browser on the JS SDK.
//!
//! Against a production-shaped hub, pass a token minted by the clinic
//! (`bedside token …`): `--token-file dr.jwt` (re-read for refresh and re-join).
//!
//! Type a line to chat. Commands: `/admit ID`, `/deny ID`, `/remove ID`,
//! `/grant ID`, `/revoke ID`, `/sn ID` (safety number), `/verify ID`,
//! `/accept ID` (accept a changed identity), `/who`, `/leave`, `/end`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use bedside_protocol::{ParticipantId, Permission};
use bedside_sdk::native::media::MediaConfig;
use bedside_sdk::native::{Client, ClientConfig, TokenSource};
use bedside_sdk::session::{Event, MediaEvent, SdkError};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

struct Args {
    hub: String,
    visit: String,
    role: String,
    sub: String,
    name: Option<String>,
    token_file: Option<String>,
    /// Receive audio and video (counting packets), on these UDP addresses.
    media: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: visit --hub http://HOST:PORT --visit V --role provider|patient|guest --sub ID [--name NAME] [--token-file FILE] [--media-udp 0.0.0.0:0]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut a = Args {
        hub: "http://127.0.0.1:8080".into(),
        visit: String::new(),
        role: String::new(),
        sub: String::new(),
        name: None,
        token_file: None,
        media: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| usage());
        match k.as_str() {
            "--hub" => a.hub = v,
            "--visit" => a.visit = v,
            "--role" => a.role = v,
            "--sub" => a.sub = v,
            "--name" => a.name = Some(v),
            "--token-file" => a.token_file = Some(v),
            "--media-udp" => a.media = Some(v),
            _ => usage(),
        }
    }
    if a.visit.is_empty() || a.role.is_empty() || a.sub.is_empty() {
        usage();
    }
    a
}

/// `POST /dev/token` on a dev-mode hub (plain HTTP/1.1, no client library).
async fn dev_token(
    hub: &str,
    visit: &str,
    role: &str,
    sub: &str,
    name: &str,
) -> Result<String, String> {
    let host = hub
        .strip_prefix("http://")
        .ok_or("dev tokens need an http:// hub URL")?
        .trim_end_matches('/');
    let body =
        serde_json::json!({"visit": visit, "role": role, "sub": sub, "name": name}).to_string();
    let mut tcp = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| format!("cannot reach {host}: {e}"))?;
    let req = format!(
        "POST /dev/token HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut resp = String::new();
    tcp.read_to_string(&mut resp)
        .await
        .map_err(|e| e.to_string())?;
    let json = resp.split("\r\n\r\n").nth(1).ok_or("empty response")?;
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|_| format!("not a dev-mode hub? {resp}"))?;
    v["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no token in the answer".into())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = args();
    let name = a.name.clone().unwrap_or_else(|| a.sub.clone());
    let source: TokenSource = {
        let (hub, visit, role, sub, file) = (
            a.hub.clone(),
            a.visit.clone(),
            a.role.clone(),
            a.sub.clone(),
            a.token_file.clone(),
        );
        Arc::new(move |_| {
            let (hub, visit, role, sub, name, file) = (
                hub.clone(),
                visit.clone(),
                role.clone(),
                sub.clone(),
                name.clone(),
                file.clone(),
            );
            Box::pin(async move {
                match file {
                    Some(f) => std::fs::read_to_string(&f)
                        .map(|t| t.trim().to_owned())
                        .map_err(|e| format!("{f}: {e}")),
                    None => dev_token(&hub, &visit, &role, &sub, &name).await,
                }
            })
        })
    };
    let token = match source(bedside_sdk::session::TokenPurpose::Join).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot get a join token: {e}");
            std::process::exit(1);
        }
    };
    let ws = format!(
        "{}/v1/signal",
        a.hub.replacen("http", "ws", 1).trim_end_matches('/')
    );
    let mut cfg = ClientConfig::new(ws, format!("terminal-{}", a.sub));
    // Chat only in the terminal, unless asked to receive media (it counts
    // the packets of each remote track instead of showing them).
    cfg.media = a.media.as_ref().map(|udp| {
        MediaConfig {
            udp_addrs: vec![udp.clone()],
            ..MediaConfig::default()
        }
        .webrtc_rs()
    });
    let (client, mut events) = match Client::connect(cfg, token, Some(source)).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot connect: {e}");
            std::process::exit(1);
        }
    };
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(ev) => {
                    show(&ev);
                    if let Event::Media(MediaEvent::RemoteTrack { peer, track_id, .. }) = &ev {
                        count_packets(&client, peer.as_str(), track_id).await;
                    }
                }
                None => break,
            },
            line = lines.next_line() => match line {
                Ok(Some(line)) => command(&client, line.trim()).await,
                _ => { let _ = client.leave().await; }
            },
        }
    }
}

/// Prints a remote track's packet count now and then.
async fn count_packets(c: &Client, peer: &str, track_id: &str) {
    let Ok(Some(mut track)) = c.take_remote_track(peer, track_id).await else {
        return;
    };
    tokio::spawn(async move {
        let mut n: u64 = 0;
        while track.next_payload().await.is_some() {
            n += 1;
            if n == 1 || n.is_multiple_of(100) {
                println!("* {:?} from {}: {n} packets", track.source, track.peer);
            }
        }
        println!(
            "* {:?} from {} ended after {n} packets",
            track.source, track.peer
        );
    });
}

async fn command(c: &Client, line: &str) {
    if let Err(e) = run(c, line).await {
        println!("! {e}");
    }
}

async fn run(c: &Client, line: &str) -> Result<(), SdkError> {
    let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
    // The participant id, typed once: a command given a bad one is refused.
    let id = || ParticipantId::new(arg.trim()).map_err(|e| SdkError::InvalidId(e.to_string()));
    match cmd {
        "" => Ok(()),
        "/admit" => c.admit(&id()?).await,
        "/deny" => c.deny(&id()?, None).await,
        "/remove" => c.remove(&id()?, None).await,
        "/grant" => c.grant(&id()?, Permission::ScreenShare).await,
        "/revoke" => c.revoke(&id()?, Permission::ScreenShare).await,
        "/verify" => c.mark_verified(&id()?).await,
        "/accept" => c.accept_identity(&id()?).await,
        "/leave" => c.leave().await,
        "/end" => c.end_visit().await,
        "/sn" => c.safety_number(&id()?).await.map(|sn| match sn {
            Some(sn) => println!("safety number with {arg}: {sn}"),
            None => println!("no key known for {arg} yet"),
        }),
        "/who" => c.participants().await.map(|ps| {
            for p in ps {
                println!("  {} ({:?}) {:?}", p.id, p.role, p.perms);
            }
        }),
        _ if cmd.starts_with('/') => {
            println!("unknown command {cmd}");
            Ok(())
        }
        _ => c.send_chat(line).await.map(|_| ()),
    }
}

fn show(ev: &Event) {
    match ev {
        Event::Welcome { participant, state } => println!(
            "* joined as {} ({:?}), {:?}",
            participant.id, participant.role, state
        ),
        Event::Waiting => println!("* in the waiting room until a provider admits you"),
        Event::Admitted { participants } => {
            let ids: Vec<&str> = participants.iter().map(|p| p.id.as_str()).collect();
            println!("* admitted; present: {}", ids.join(", "));
        }
        Event::Lobby { waiting } => {
            let ids: Vec<&str> = waiting.iter().map(|w| w.id.as_str()).collect();
            println!(
                "* waiting room: [{}]{}",
                ids.join(", "),
                if ids.is_empty() { "" } else { "  (/admit ID)" }
            );
        }
        Event::Joined { participant } => println!("* {} joined", participant.id),
        Event::Left {
            participant,
            reason,
        } => println!("* {participant} left ({reason:?})"),
        Event::Chat(c) => {
            let flag = match (c.safety, c.roster_agrees) {
                (bedside_sdk::e2ee::Safety::Verified, true) => "verified",
                (_, false) => "roster differs!",
                _ => "unverified: compare /sn",
            };
            println!("{}: {}   [{flag}]", c.from, c.text);
        }
        Event::IdentityChanged {
            participant,
            safety_number,
        } => println!(
            "! {participant}'s identity key CHANGED. Their chat is blocked. New safety number: {safety_number}. Compare it, then /accept {participant}"
        ),
        Event::PermissionRequested { participant, .. } => {
            println!("* {participant} asks to share their screen (/grant {participant})")
        }
        Event::Permissions { participant, perms } => println!("* {participant} may now: {perms:?}"),
        Event::Connection(s) => println!("* connection: {s:?}"),
        Event::Error(e) => println!("! {e}"),
        Event::Ended(r) => println!("* session ended: {r:?}"),
        Event::Media(MediaEvent::PeerState { peer, state }) => {
            println!("* media with {peer}: {state}")
        }
        _ => {}
    }
}

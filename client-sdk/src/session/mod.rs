//! The sans-IO client session (DESIGN.md "session core"): shared by the
//! native and wasm shells. No sockets, no clock, no tasks: the shell feeds it
//! what happened (connected, a frame, closed, a token, the time) and carries
//! out what it asks for ([`Output`]), waking it at [`Session::poll_timeout`].
//!
//! What it does:
//! - `hello` with a join token, `resume` with the single-use resume token and
//!   the last processed `seq`; a refused resume falls back to a fresh `hello`
//!   with a new token from the app;
//! - reconnects after anything but a final close, with exponential back-off
//!   and jitter ([`backoff`]);
//! - asks the app for a fresh token before the session expires and sends
//!   `refresh`;
//! - pings while in a visit so that idle logoff only hits idle people;
//! - runs the end-to-end encryption ([`crate::e2ee::Group`]): publishes the
//!   `keys` bundle, distributes chain keys, decrypts chat, drops duplicates,
//!   keeps unacknowledged `e2e` messages and sends them again after a
//!   reconnect, acknowledges what it processed;
//! - checks every relayed SDP's DTLS fingerprint against the sender's signed
//!   Hello before the app (or the WebRTC layer) sees it;
//! - tracks remote track announcements, so a track the hub withdrew is known.
//!
//! The session's state is split by sub-state, one module each: `link`
//! (the hub connection: handshake, tokens, back-off, keep-alive, refresh,
//! sending), `inbound` (frames from the hub and the visit they describe),
//! `commands` (what the app asks), `e2e` (the end-to-end encryption glue
//! and the `e2e` message stream) and `signals` (the WebRTC signal relay).
//! This file has the public types, the [`Session`] itself, its queries and
//! its timers.

pub mod backoff;
mod commands;
mod e2e;
pub mod event;
mod inbound;
mod link;
pub mod negotiator;
pub mod quality;
pub mod sections;
mod signals;

pub use backoff::Backoff;
pub use event::{ConnectionState, EndReason, Event, MediaEvent, SdkError, Signal};

use crate::e2ee::{self, Group, Identity, Pins};
use bedside_protocol::{
    ClientMessage, CloseCode, IceServer, Participant, ParticipantId, ParticipantState, Permission,
    TrackSource,
};
use e2e::E2eState;
use inbound::Visit;
use link::{Link, LinkState};
use rand_core::{CryptoRngCore, RngCore};
use signals::Signals;
use std::collections::VecDeque;

/// Settings of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// This device's id (for the audit log), `[A-Za-z0-9._:@-]{1,128}`.
    pub device: String,
    /// SDK identification sent in `hello`.
    pub sdk: String,
    /// Reconnect delays.
    pub backoff: Backoff,
    /// Ask for a fresh token this long before the session expires (s).
    pub refresh_before_s: u64,
    /// This device's DTLS certificate fingerprint as in SDP (`sha-256 AB:…`),
    /// signed into the Hello; empty when the app sends no media.
    pub dtls_fingerprint: String,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            device: "device".into(),
            sdk: concat!("bedside-sdk/", env!("CARGO_PKG_VERSION")).into(),
            backoff: Backoff::default(),
            refresh_before_s: 120,
            dtls_fingerprint: String::new(),
        }
    }
}

/// What a token is wanted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// A fresh `hello` (first join, or the resume was refused).
    Join,
    /// `refresh` before the session expires.
    Refresh,
}

/// What the shell must do.
#[derive(Debug)]
pub enum Output {
    /// Open the WebSocket.
    Connect,
    /// Send one text frame.
    Send(String),
    /// Close the WebSocket with this code (the session is over).
    Close(CloseCode),
    /// Obtain a token from the app and pass it to [`Session::on_token`].
    NeedToken(TokenPurpose),
    /// Tell the app.
    Event(Event),
}

/// Housekeeping (expired held messages) interval (ms).
const HOUSEKEEPING_MS: u64 = 5_000;

/// The session's random source (the shell passes the OS generator; tests a
/// seeded one).
struct Rng(Box<dyn CryptoRngCore + Send + Sync>);

impl RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl rand_core::CryptoRng for Rng {}

/// One participant's session with the hub, with no IO: the shell feeds it
/// what happened ([`Session::on_connected`], [`Session::on_frame`],
/// [`Session::on_closed`], [`Session::on_timeout`], the app's commands) with
/// the time, and carries out its [`Output`]s. `tests/sim/` drives whole
/// visits this way, in memory.
///
/// ```
/// use bedside_sdk::e2ee::{Identity, Pins};
/// use bedside_sdk::session::{Output, Session, SessionConfig};
/// use rand::SeedableRng;
///
/// let now = 1_800_000_000_000;
/// let rng = rand::rngs::StdRng::seed_from_u64(7);
/// let identity = Identity::from_secret_bytes(&[7; 32]);
/// let mut s = Session::new(SessionConfig::default(), identity, Pins::default(), Box::new(rng));
/// s.start(now, "<join token>".into());
/// assert!(matches!(s.poll_output(), Some(Output::Connect)));
/// s.on_connected(now); // the WebSocket opened
/// let hello = std::iter::from_fn(|| s.poll_output()).find_map(|o| match o {
///     Output::Send(text) => Some(text),
///     _ => None, // events for the app, e.g. the connection state
/// });
/// assert!(hello.is_some_and(|h| h.contains(r#""type":"hello""#)));
/// // The hub's `welcome` would go to `s.on_frame(now, text)`.
/// ```
pub struct Session {
    cfg: SessionConfig,
    rng: Rng,
    out: VecDeque<Output>,
    /// The hub connection (`link`).
    link: Link,
    /// The visit as the hub shows it (`inbound`).
    visit: Visit,
    /// End-to-end encryption and the `e2e` message stream (`e2e`).
    e2e: E2eState,
    /// Signals waiting for their sender's Hello or their recipient
    /// (`signals`).
    signals: Signals,
    housekeeping_at: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("link", &self.link.state)
            .field("me", &self.visit.me)
            .field("state", &self.visit.state)
            .field("last_seq", &self.e2e.last_seq)
            .field("outbox", &self.e2e.outbox.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for a device with `identity` (its Ed25519 key) and the
    /// identity pins the app kept from earlier visits.
    pub fn new(
        cfg: SessionConfig,
        identity: Identity,
        pins: Pins,
        rng: Box<dyn CryptoRngCore + Send + Sync>,
    ) -> Self {
        Self {
            cfg,
            rng: Rng(rng),
            out: VecDeque::new(),
            link: Link::default(),
            visit: Visit::default(),
            e2e: E2eState::new(identity, pins),
            signals: Signals::default(),
            housekeeping_at: 0,
        }
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When to call [`Session::on_timeout`] next (unix ms).
    pub fn poll_timeout(&self) -> Option<u64> {
        let mut t: Option<u64> = None;
        let mut at = |x: Option<u64>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        match self.link.state {
            LinkState::Down => at(self.link.retry_at),
            LinkState::Open => {
                at(self.e2e.ack_due);
                at(self.ping_due());
                at(self.refresh_due());
                at(Some(self.housekeeping_at));
            }
            _ => {}
        }
        t
    }

    /// Whether the session is over.
    pub fn is_ended(&self) -> bool {
        self.link.state == LinkState::Done
    }

    /// Whether the hub link is up (welcomed): announcements can go out
    /// now. Shells hold them while it is not, and send them after the
    /// resume, in order. (Signals need no holding: see [`Session::signal`].)
    pub fn is_connected(&self) -> bool {
        self.link.state == LinkState::Open
    }

    /// Whether `id` is a member of this visit: present, or admitted and
    /// away (their connection dropped, or the hub restarted and they have
    /// not resumed yet). Their peer connection may still carry media.
    pub fn is_member(&self, id: &ParticipantId) -> bool {
        self.visit.participants.contains_key(id)
            || self
                .e2e
                .group
                .as_ref()
                .is_some_and(|g| g.roster().any(|m| m == id.as_str()))
    }

    /// This participant's id, once welcomed.
    pub fn me(&self) -> Option<&ParticipantId> {
        self.visit.me.as_ref()
    }

    /// Whether this participant holds `permission` now (as the hub last
    /// said).
    pub fn has_permission(&self, permission: Permission) -> bool {
        let me = self.me();
        self.participants()
            .find(|p| Some(&p.id) == me)
            .is_some_and(|p| p.perms.contains(&permission))
    }

    /// Waiting or admitted, once welcomed.
    pub fn state(&self) -> Option<ParticipantState> {
        self.visit.state
    }

    /// Participants present, as last reported by the hub.
    pub fn participants(&self) -> impl Iterator<Item = &Participant> {
        self.visit.participants.values()
    }

    /// STUN/TURN servers from the last `welcome`.
    pub fn ice_servers(&self) -> &[IceServer] {
        &self.visit.ice_servers
    }

    /// What `from` currently announces `track_id` as, if it does (a track
    /// whose announcement was withdrawn, or never made, must not be rendered).
    pub fn announced_source(&self, from: &ParticipantId, track_id: &str) -> Option<TrackSource> {
        self.visit.participants.get(from).and_then(|p| {
            p.tracks
                .iter()
                .find(|t| {
                    sections::normalize_track_id(t.track_id.as_str())
                        == sections::normalize_track_id(track_id)
                })
                .map(|t| t.source)
        })
    }

    /// The safety number with `peer`.
    pub fn safety_number(&self, peer: &ParticipantId) -> Option<e2ee::SafetyNumber> {
        self.e2e.group.as_ref()?.safety_number(peer.as_str())
    }

    /// The identity pins, for the app to persist.
    pub fn pins(&self) -> &Pins {
        self.e2e.group.as_ref().map_or(&self.e2e.pins, Group::pins)
    }

    /// The visit's E2E state (read-only).
    pub fn group(&self) -> Option<&Group> {
        self.e2e.group.as_ref()
    }

    /// Time passed.
    pub fn on_timeout(&mut self, now_ms: u64) {
        match self.link.state {
            LinkState::Down if self.link.retry_at.is_some_and(|t| now_ms >= t) => {
                self.link.retry_at = None;
                self.connect(now_ms);
            }
            LinkState::Open => {
                if self.e2e.ack_due.is_some_and(|t| now_ms >= t) {
                    self.flush_ack(now_ms);
                }
                if self.refresh_due().is_some_and(|t| now_ms >= t)
                    && self.link.token_wanted.is_none()
                {
                    self.want_token(TokenPurpose::Refresh);
                }
                if self.ping_due().is_some_and(|t| now_ms >= t) {
                    self.send_now(now_ms, &ClientMessage::Ping, None);
                }
                if now_ms >= self.housekeeping_at {
                    self.housekeeping(now_ms);
                }
            }
            _ => {}
        }
    }

    fn housekeeping(&mut self, now_ms: u64) {
        self.housekeeping_at = now_ms + HOUSEKEEPING_MS;
        let mut outs = Vec::new();
        if let Some(g) = self.e2e.group.as_mut() {
            g.expire(now_ms, &mut outs);
        }
        self.group_outputs(now_ms, outs);
        self.expire_held(now_ms);
    }

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }
}

#[cfg(test)]
mod tests;

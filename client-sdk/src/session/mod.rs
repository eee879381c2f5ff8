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

pub mod backoff;
pub mod event;
pub mod negotiator;
pub mod quality;
pub mod sections;

pub use backoff::Backoff;
pub use event::{ConnectionState, EndReason, Event, MediaEvent, SdkError, Signal};

use crate::e2ee::{self, E2eeError, Group, Identity, Pins};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bedside_protocol::{
    ClientMessage, CloseCode, DeviceId, E2eKind, ErrorCode, Features, IceServer, LeftReason,
    MessageId, Participant, ParticipantId, ParticipantState, Permission, ServerMessage,
    TrackAction, TrackId, TrackSource,
};
use rand_core::{CryptoRngCore, RngCore};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, VecDeque};

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
    Close(u16),
    /// Obtain a token from the app and pass it to [`Session::on_token`].
    NeedToken(TokenPurpose),
    /// Tell the app.
    Event(Event),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Not started, or waiting for the reconnect time.
    Down,
    /// The shell is opening the socket.
    Connecting,
    /// Socket open, waiting for a token to send `hello`.
    AwaitingToken,
    /// `hello`/`resume` sent.
    Handshake { resuming: bool },
    /// `welcome` received.
    Open,
    /// Over.
    Done,
}

/// A signal held until the sender's Hello is known.
struct HeldSignal {
    from: ParticipantId,
    signal: Signal,
    since_ms: u64,
}

/// How long a signal may wait for its sender's key bundle (ms).
const HOLD_SIGNAL_MS: u64 = 10_000;
/// At most this many outgoing signals wait for their recipients; past it
/// the oldest go (stale candidates: the negotiator re-offers anyway).
const MAX_OUTGOING_SIGNALS: usize = 512;
/// Acknowledge processed `e2e` messages after at most this delay (ms).
const ACK_DELAY_MS: u64 = 200;
/// Housekeeping (expired held messages) interval (ms).
const HOUSEKEEPING_MS: u64 = 5_000;

/// The session's random source (the shell passes the OS generator; tests a
/// seeded one).
struct Rng(Box<dyn CryptoRngCore + Send + Sync>);

impl rand_core::RngCore for Rng {
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

/// An `e2e` message sent and not yet acknowledged.
struct Pending {
    id: MessageId,
    json: String,
    /// The recipient of a key message.
    key_for: Option<String>,
    /// The chat message id the app was given, for a chat message.
    chat_id: Option<String>,
}

/// One participant's session with the hub.
pub struct Session {
    cfg: SessionConfig,
    rng: Rng,
    link: Link,
    out: VecDeque<Output>,
    token: Option<String>,
    token_wanted: Option<TokenPurpose>,
    resume_token: Option<String>,
    auth_failures: u32,
    attempt: u32,
    retry_at: Option<u64>,
    me: Option<ParticipantId>,
    state: Option<ParticipantState>,
    expires_at_ms: Option<u64>,
    idle_timeout_ms: u64,
    last_sent_ms: u64,
    last_seq: u64,
    acked_seq: u64,
    ack_due: Option<u64>,
    next_id: u64,
    /// `e2e` messages sent but not acknowledged, by id, in order.
    /// (Key messages carry their one recipient, to notice one who is gone.)
    outbox: VecDeque<Pending>,
    identity: Option<Identity>,
    pins: Pins,
    group: Option<Group>,
    participants: BTreeMap<ParticipantId, Participant>,
    ice_servers: Vec<IceServer>,
    held: Vec<HeldSignal>,
    /// Signals for members who cannot be reached yet, in order: the hub
    /// link is down, the roster is not known since the last `welcome`, or
    /// the member dropped their connection and has not come back.
    outgoing: VecDeque<(ParticipantId, Signal)>,
    /// An `admitted` arrived since the last `welcome`: `participants` is
    /// who is present now.
    roster_known: bool,
    housekeeping_at: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("link", &self.link)
            .field("me", &self.me)
            .field("state", &self.state)
            .field("last_seq", &self.last_seq)
            .field("outbox", &self.outbox.len())
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
            link: Link::Down,
            out: VecDeque::new(),
            token: None,
            token_wanted: None,
            resume_token: None,
            auth_failures: 0,
            attempt: 0,
            retry_at: None,
            me: None,
            state: None,
            expires_at_ms: None,
            idle_timeout_ms: 900_000,
            last_sent_ms: 0,
            last_seq: 0,
            acked_seq: 0,
            ack_due: None,
            next_id: 0,
            outbox: VecDeque::new(),
            identity: Some(identity),
            pins,
            group: None,
            participants: BTreeMap::new(),
            ice_servers: Vec::new(),
            held: Vec::new(),
            outgoing: VecDeque::new(),
            roster_known: false,
            housekeeping_at: 0,
        }
    }

    /// Starts: connect and join with `token`.
    pub fn start(&mut self, now_ms: u64, token: String) {
        if self.link != Link::Down || self.me.is_some() {
            return;
        }
        self.token = Some(token);
        self.connect(now_ms);
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
        match self.link {
            Link::Down => at(self.retry_at),
            Link::Open => {
                at(self.ack_due);
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
        self.link == Link::Done
    }

    /// Whether the hub link is up (welcomed): announcements can go out
    /// now. Shells hold them while it is not, and send them after the
    /// resume, in order. (Signals need no holding: see [`Session::signal`].)
    pub fn is_connected(&self) -> bool {
        self.link == Link::Open
    }

    /// Whether `id` is a member of this visit: present, or admitted and
    /// away (their connection dropped, or the hub restarted and they have
    /// not resumed yet). Their peer connection may still carry media.
    pub fn is_member(&self, id: &ParticipantId) -> bool {
        self.participants.contains_key(id)
            || self
                .group
                .as_ref()
                .is_some_and(|g| g.roster().any(|m| m == id.as_str()))
    }

    /// This participant's id, once welcomed.
    pub fn me(&self) -> Option<&ParticipantId> {
        self.me.as_ref()
    }

    /// Waiting or admitted, once welcomed.
    pub fn state(&self) -> Option<ParticipantState> {
        self.state
    }

    /// Participants present, as last reported by the hub.
    pub fn participants(&self) -> impl Iterator<Item = &Participant> {
        self.participants.values()
    }

    /// STUN/TURN servers from the last `welcome`.
    pub fn ice_servers(&self) -> &[IceServer] {
        &self.ice_servers
    }

    /// What `from` currently announces `track_id` as, if it does (a track
    /// whose announcement was withdrawn, or never made, must not be rendered).
    pub fn announced_source(&self, from: &ParticipantId, track_id: &str) -> Option<TrackSource> {
        self.participants.get(from).and_then(|p| {
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
    pub fn safety_number(&self, peer: &str) -> Option<e2ee::SafetyNumber> {
        self.group.as_ref()?.safety_number(peer)
    }

    /// The identity pins, for the app to persist.
    pub fn pins(&self) -> &Pins {
        self.group.as_ref().map_or(&self.pins, Group::pins)
    }

    /// The visit's E2E state (read-only).
    pub fn group(&self) -> Option<&Group> {
        self.group.as_ref()
    }

    // ---- inputs from the shell ----

    /// The WebSocket is open.
    pub fn on_connected(&mut self, now_ms: u64) {
        if self.link != Link::Connecting {
            return;
        }
        if let Some(resume_token) = self.resume_token.take() {
            self.link = Link::Handshake { resuming: true };
            self.send_now(
                now_ms,
                &ClientMessage::Resume {
                    resume_token,
                    last_seq: Some(self.last_seq),
                    features: Features::ALL,
                },
                None,
            );
        } else if let Some(token) = self.token.take() {
            self.send_hello(now_ms, token);
        } else {
            self.link = Link::AwaitingToken;
            self.want_token(TokenPurpose::Join);
        }
    }

    /// A token the app obtained after [`Output::NeedToken`].
    pub fn on_token(&mut self, now_ms: u64, token: String) {
        match self.token_wanted.take() {
            Some(TokenPurpose::Refresh) if self.link == Link::Open => {
                self.send_now(now_ms, &ClientMessage::Refresh { token }, Some("refresh"));
            }
            Some(TokenPurpose::Join) if self.link == Link::AwaitingToken => {
                self.send_hello(now_ms, token);
            }
            Some(TokenPurpose::Join) => self.token = Some(token),
            _ => {}
        }
    }

    /// The app could not obtain a token.
    pub fn on_token_failed(&mut self, now_ms: u64, why: String) {
        let wanted = self.token_wanted.take();
        self.event(Event::Error(SdkError::Token(why)));
        if wanted == Some(TokenPurpose::Join) && self.link == Link::AwaitingToken {
            self.out.push_back(Output::Close(1000));
            self.link = Link::Down;
            self.schedule_retry(now_ms);
        }
    }

    /// The socket closed (or could not be opened: `code` None).
    pub fn on_closed(&mut self, now_ms: u64, code: Option<u16>) {
        if matches!(self.link, Link::Done | Link::Down) {
            return;
        }
        let was = self.link;
        self.link = Link::Down;
        self.ack_due = None;
        let close = code.and_then(CloseCode::from_code);
        let end = match close {
            Some(CloseCode::Left) => Some(EndReason::Left),
            Some(CloseCode::Denied) => Some(EndReason::Denied { reason: None }),
            Some(CloseCode::VisitEnded) => Some(EndReason::VisitEnded),
            Some(CloseCode::Replaced) => Some(EndReason::Replaced),
            Some(CloseCode::IdleTimeout) => Some(EndReason::Idle),
            _ => None,
        };
        if let Some(reason) = end {
            self.finish(reason);
            return;
        }
        if matches!(
            close,
            Some(CloseCode::Unauthorized | CloseCode::SessionExpired)
        ) {
            // A refused resume, or a hello whose token failed: a fresh hello
            // with a new token. Twice in a row means the app's tokens fail.
            self.resume_token = None;
            self.auth_failures += 1;
            if self.auth_failures > 2
                || (was == (Link::Handshake { resuming: false }) && self.auth_failures > 1)
            {
                self.finish(EndReason::Unauthorized);
                return;
            }
            self.connect(now_ms);
            return;
        }
        self.schedule_retry(now_ms);
    }

    /// Time passed.
    pub fn on_timeout(&mut self, now_ms: u64) {
        match self.link {
            Link::Down if self.retry_at.is_some_and(|t| now_ms >= t) => {
                self.retry_at = None;
                self.connect(now_ms);
            }
            Link::Open => {
                if self.ack_due.is_some_and(|t| now_ms >= t) {
                    self.flush_ack(now_ms);
                }
                if self.refresh_due().is_some_and(|t| now_ms >= t) && self.token_wanted.is_none() {
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

    /// A text frame from the hub.
    pub fn on_frame(&mut self, now_ms: u64, text: &str) {
        let msg = match ServerMessage::from_json(text) {
            Ok(m) => m,
            Err(_) => {
                self.event(Event::Error(SdkError::Protocol));
                return;
            }
        };
        if matches!(self.link, Link::Handshake { .. } | Link::Open) {
            self.handle(now_ms, msg);
        }
    }

    // ---- commands from the app ----

    /// Admits a waiting participant (provider).
    pub fn admit(&mut self, now_ms: u64, who: &str) -> Result<(), SdkError> {
        let participant = pid(who)?;
        self.command(now_ms, ClientMessage::Admit { participant })
    }

    /// Denies a waiting participant (provider).
    pub fn deny(&mut self, now_ms: u64, who: &str, reason: Option<String>) -> Result<(), SdkError> {
        let participant = pid(who)?;
        self.command(
            now_ms,
            ClientMessage::Deny {
                participant,
                reason,
            },
        )
    }

    /// Removes an admitted participant (provider).
    pub fn remove(
        &mut self,
        now_ms: u64,
        who: &str,
        reason: Option<String>,
    ) -> Result<(), SdkError> {
        let participant = pid(who)?;
        self.command(
            now_ms,
            ClientMessage::Remove {
                participant,
                reason,
            },
        )
    }

    /// Grants a permission (provider).
    pub fn grant(
        &mut self,
        now_ms: u64,
        who: &str,
        permission: Permission,
    ) -> Result<(), SdkError> {
        let participant = pid(who)?;
        self.command(
            now_ms,
            ClientMessage::Grant {
                participant,
                permission,
            },
        )
    }

    /// Revokes a permission (provider).
    pub fn revoke(
        &mut self,
        now_ms: u64,
        who: &str,
        permission: Permission,
    ) -> Result<(), SdkError> {
        let participant = pid(who)?;
        self.command(
            now_ms,
            ClientMessage::Revoke {
                participant,
                permission,
            },
        )
    }

    /// Asks the providers for screen sharing.
    pub fn request_screen_share(&mut self, now_ms: u64) -> Result<(), SdkError> {
        self.command(
            now_ms,
            ClientMessage::Request {
                permission: Permission::ScreenShare,
            },
        )
    }

    /// Announces a track before sending it.
    pub fn publish_track(
        &mut self,
        now_ms: u64,
        source: TrackSource,
        track_id: &str,
    ) -> Result<(), SdkError> {
        let track_id = TrackId::new(track_id).map_err(|e| SdkError::InvalidId(e.to_string()))?;
        self.command(
            now_ms,
            ClientMessage::Track {
                action: TrackAction::Publish,
                source: Some(source),
                track_id,
            },
        )
    }

    /// Withdraws a track announcement.
    pub fn unpublish_track(&mut self, now_ms: u64, track_id: &str) -> Result<(), SdkError> {
        let track_id = TrackId::new(track_id).map_err(|e| SdkError::InvalidId(e.to_string()))?;
        self.command(
            now_ms,
            ClientMessage::Track {
                action: TrackAction::Unpublish,
                source: None,
                track_id,
            },
        )
    }

    /// Relays WebRTC signaling to `to`.
    ///
    /// A signal for a member who cannot be reached now (the hub link is
    /// down, the roster is not known yet after a resume, or they are away)
    /// waits, in order, and goes when they are present again; one for a
    /// member who left is dropped. The hub refuses signals to anyone not
    /// present, so sending them early would only lose them.
    pub fn signal(
        &mut self,
        now_ms: u64,
        to: &ParticipantId,
        signal: Signal,
    ) -> Result<(), SdkError> {
        if self.link == Link::Done {
            return Err(SdkError::Ended);
        }
        let reachable = self.link == Link::Open
            && self.roster_known
            && (self.participants.contains_key(to) || !self.is_member(to));
        if !reachable {
            if self.outgoing.len() >= MAX_OUTGOING_SIGNALS {
                self.outgoing.pop_front();
            }
            self.outgoing.push_back((to.clone(), signal));
            return Ok(());
        }
        self.send_signal(now_ms, to.clone(), signal)
    }

    /// Sends the waiting signals whose recipients are present; keeps those
    /// for members still away; drops those for anyone who left.
    fn flush_signals(&mut self, now_ms: u64) {
        if self.link != Link::Open || !self.roster_known {
            return;
        }
        for (to, signal) in std::mem::take(&mut self.outgoing) {
            if self.participants.contains_key(&to) {
                // Cannot fail: the link is open.
                let _ = self.send_signal(now_ms, to, signal);
            } else if self.is_member(&to) {
                self.outgoing.push_back((to, signal));
            }
        }
    }

    fn send_signal(
        &mut self,
        now_ms: u64,
        to: ParticipantId,
        signal: Signal,
    ) -> Result<(), SdkError> {
        let msg = match signal {
            Signal::Offer(sdp) => ClientMessage::Offer { to, sdp },
            Signal::Answer(sdp) => ClientMessage::Answer { to, sdp },
            Signal::Ice {
                candidate,
                sdp_mid,
                sdp_mline_index,
            } => ClientMessage::Ice {
                to,
                candidate,
                sdp_mid,
                sdp_mline_index,
            },
        };
        self.command(now_ms, msg)
    }

    /// Sends an end-to-end encrypted chat message to everyone admitted.
    /// Returns its message id. Held and re-sent until the hub stores it.
    pub fn send_chat(&mut self, now_ms: u64, text: &str) -> Result<String, SdkError> {
        if self.link == Link::Done {
            return Err(SdkError::Ended);
        }
        let group = self.group.as_mut().ok_or(SdkError::NotAdmitted)?;
        let (body, id, outs) = group
            .seal_chat(text, now_ms, &mut self.rng)
            .map_err(|error| SdkError::E2ee {
                from: String::new(),
                error,
            })?;
        self.group_outputs(now_ms, outs);
        self.send_e2e(now_ms, None, E2eKind::Chat, &body, Some(&id));
        Ok(id)
    }

    /// Accepts `peer`'s changed identity key (after the user compared the
    /// safety number).
    pub fn accept_identity(&mut self, now_ms: u64, peer: &str) {
        if let Some(g) = self.group.as_mut() {
            let outs = g.accept_identity(peer, now_ms, &mut self.rng);
            self.group_outputs(now_ms, outs);
        }
    }

    /// Marks `peer` as verified (the user compared the safety number).
    pub fn mark_verified(&mut self, peer: &str) {
        if let Some(g) = self.group.as_mut() {
            g.mark_verified(peer);
        }
    }

    /// Leaves the visit.
    pub fn leave(&mut self, now_ms: u64) {
        if self.link == Link::Open {
            self.flush_ack(now_ms);
            self.send_now(now_ms, &ClientMessage::Leave, None);
        }
        self.finish(EndReason::Left);
    }

    /// Ends the visit for everyone (provider).
    pub fn end_visit(&mut self, now_ms: u64) -> Result<(), SdkError> {
        self.command(now_ms, ClientMessage::EndVisit)
    }

    // ---- internals ----

    fn command(&mut self, now_ms: u64, msg: ClientMessage) -> Result<(), SdkError> {
        match self.link {
            Link::Open => {
                let id = self.next_message_id("c");
                self.send_now(now_ms, &msg, Some(id.as_str()));
                Ok(())
            }
            Link::Done => Err(SdkError::Ended),
            _ => Err(SdkError::NotConnected),
        }
    }

    fn next_message_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
    }

    fn send_now(&mut self, now_ms: u64, msg: &ClientMessage, id: Option<&str>) {
        let id = id.and_then(|i| MessageId::new(i).ok());
        self.out.push_back(Output::Send(msg.to_json(id.as_ref())));
        self.last_sent_ms = now_ms;
    }

    fn send_hello(&mut self, now_ms: u64, token: String) {
        self.link = Link::Handshake { resuming: false };
        let device = DeviceId::new(self.cfg.device.clone()).ok();
        let sdk = Some(self.cfg.sdk.clone());
        let hello = ClientMessage::Hello {
            token,
            device,
            sdk,
            features: Features::ALL,
        };
        self.send_now(now_ms, &hello, None);
    }

    fn want_token(&mut self, purpose: TokenPurpose) {
        self.token_wanted = Some(purpose);
        self.out.push_back(Output::NeedToken(purpose));
    }

    fn connect(&mut self, _now_ms: u64) {
        self.link = Link::Connecting;
        self.out.push_back(Output::Connect);
        self.event(Event::Connection(ConnectionState::Connecting));
    }

    fn schedule_retry(&mut self, now_ms: u64) {
        self.attempt = self.attempt.saturating_add(1);
        let delay = self.cfg.backoff.delay_ms(self.attempt, self.rng.next_u64());
        self.retry_at = Some(now_ms + delay);
        self.event(Event::Connection(ConnectionState::Reconnecting {
            attempt: self.attempt,
            retry_in_ms: delay,
        }));
    }

    fn finish(&mut self, reason: EndReason) {
        if self.link == Link::Done {
            return;
        }
        if self.link != Link::Down {
            self.out.push_back(Output::Close(1000));
        }
        self.link = Link::Done;
        self.retry_at = None;
        self.outgoing.clear();
        self.event(Event::Connection(ConnectionState::Closed));
        self.event(Event::Ended(reason));
    }

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn ping_due(&self) -> Option<u64> {
        // In a visit (waiting or admitted): keep the session alive.
        self.state?;
        let interval = (self.idle_timeout_ms / 3).clamp(5_000, 300_000);
        Some(self.last_sent_ms + interval)
    }

    fn refresh_due(&self) -> Option<u64> {
        if self.token_wanted.is_some() {
            return None;
        }
        self.expires_at_ms
            .map(|e| e.saturating_sub(self.cfg.refresh_before_s * 1000))
    }

    fn flush_ack(&mut self, now_ms: u64) {
        self.ack_due = None;
        if self.last_seq > self.acked_seq && self.link == Link::Open {
            self.acked_seq = self.last_seq;
            self.send_now(now_ms, &ClientMessage::Ack { seq: self.last_seq }, None);
        }
    }

    fn housekeeping(&mut self, now_ms: u64) {
        self.housekeeping_at = now_ms + HOUSEKEEPING_MS;
        let mut outs = Vec::new();
        if let Some(g) = self.group.as_mut() {
            g.expire(now_ms, &mut outs);
        }
        self.group_outputs(now_ms, outs);
        let (expired, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| now_ms.saturating_sub(h.since_ms) >= HOLD_SIGNAL_MS);
        self.held = kept;
        for h in expired {
            self.event(Event::Error(SdkError::E2ee {
                from: h.from.to_string(),
                error: E2eeError::NoHello(h.from.to_string()),
            }));
        }
    }

    fn send_e2e(
        &mut self,
        now_ms: u64,
        to: Option<&str>,
        kind: E2eKind,
        body: &[u8],
        chat_id: Option<&str>,
    ) {
        let key_to = to.map(str::to_owned);
        let to = match to.map(ParticipantId::new).transpose() {
            Ok(to) => to.map(|p| vec![p]),
            Err(_) => return,
        };
        let id = self.next_message_id("e");
        let Ok(mid) = MessageId::new(id) else {
            return;
        };
        let json = ClientMessage::E2e {
            to,
            kind,
            body: B64.encode(body),
        }
        .to_json(Some(&mid));
        if self.link == Link::Open {
            self.out.push_back(Output::Send(json.clone()));
            self.last_sent_ms = now_ms;
        }
        self.outbox.push_back(Pending {
            id: mid,
            json,
            key_for: if kind == E2eKind::Key { key_to } else { None },
            chat_id: chat_id.map(str::to_owned),
        });
    }

    fn group_outputs(&mut self, now_ms: u64, outs: Vec<e2ee::Output>) {
        for o in outs {
            match o {
                e2ee::Output::PublishBundle(b) => self.publish_bundle(now_ms, b),
                e2ee::Output::SendKey { to, body } => {
                    self.send_e2e(now_ms, Some(&to), E2eKind::Key, &body, None);
                }
                e2ee::Output::Chat(c) => self.event(Event::Chat(c)),
                e2ee::Output::IdentityChanged {
                    participant,
                    safety_number,
                } => self.event(Event::IdentityChanged {
                    participant,
                    safety_number,
                }),
                e2ee::Output::Undecryptable { from, error } => {
                    self.event(Event::Error(SdkError::E2ee { from, error }));
                }
            }
        }
    }

    fn publish_bundle(&mut self, now_ms: u64, bundle: String) {
        if self.link != Link::Open {
            return; // published again on the next welcome
        }
        if let Ok(bundle) = RawValue::from_string(bundle) {
            self.send_now(now_ms, &ClientMessage::Keys { bundle }, None);
        }
    }

    fn current_bundle(&self) -> Option<String> {
        self.group.as_ref()?.bundle_json()
    }

    fn handle(&mut self, now_ms: u64, msg: ServerMessage) {
        match msg {
            ServerMessage::Welcome {
                visit,
                participant,
                state,
                resume_token,
                expires_at,
                limits,
                ice_servers,
                ..
            } => {
                self.ice_servers = ice_servers;
                self.link = Link::Open;
                self.roster_known = false;
                self.attempt = 0;
                self.auth_failures = 0;
                self.resume_token = Some(resume_token);
                self.expires_at_ms = u64::try_from(expires_at).ok().map(|s| s * 1000);
                self.idle_timeout_ms = limits.idle_timeout_s.saturating_mul(1000);
                self.state = Some(state);
                self.housekeeping_at = now_ms + HOUSEKEEPING_MS;
                if self.group.is_none()
                    && let Some(identity) = self.identity.take()
                {
                    let mut g = Group::new(
                        identity,
                        std::mem::take(&mut self.pins),
                        visit.as_str(),
                        participant.id.as_str(),
                        &self.cfg.dtls_fingerprint,
                    );
                    let outs = g.begin(now_ms, &mut self.rng);
                    self.group = Some(g);
                    self.group_outputs(now_ms, outs);
                }
                self.me = Some(participant.id.clone());
                if let Some(b) = self.current_bundle() {
                    self.publish_bundle(now_ms, b);
                }
                // Messages the hub may not have stored: send again. Duplicates
                // are dropped by the recipients (replay check, message id).
                let resend: Vec<String> = self.outbox.iter().map(|p| p.json.clone()).collect();
                for j in resend {
                    self.out.push_back(Output::Send(j));
                }
                self.event(Event::Connection(ConnectionState::Connected));
                self.event(Event::Welcome { participant, state });
                if state == ParticipantState::Waiting {
                    self.event(Event::Waiting);
                }
            }
            ServerMessage::Lobby { waiting } => self.event(Event::Lobby { waiting }),
            ServerMessage::Presence { providers } => self.event(Event::Presence { providers }),
            ServerMessage::Admitted { participants } => {
                self.state = Some(ParticipantState::Admitted);
                let ids: Vec<String> = participants.iter().map(|p| p.id.to_string()).collect();
                let bundles: Vec<(String, String)> = participants
                    .iter()
                    .filter_map(|p| Some((p.id.to_string(), p.keys.as_ref()?.get().to_owned())))
                    .collect();
                // A member that dropped its connection is still a member:
                // keep those we knew of who are not back yet.
                let mut roster: Vec<String> = self
                    .group
                    .as_ref()
                    .map(|g| g.roster().map(str::to_owned).collect())
                    .unwrap_or_default();
                roster.extend(ids);
                self.participants = participants
                    .iter()
                    .map(|p| (p.id.clone(), p.clone()))
                    .collect();
                if let Some(g) = self.group.as_mut() {
                    let outs =
                        g.set_roster(roster.iter().map(String::as_str), now_ms, &mut self.rng);
                    self.group_outputs(now_ms, outs);
                }
                for (from, b) in bundles {
                    self.peer_bundle(now_ms, &from, &b);
                }
                self.roster_known = true;
                self.event(Event::Admitted { participants });
                self.flush_signals(now_ms);
            }
            ServerMessage::Denied { reason } => {
                self.finish(EndReason::Denied { reason });
            }
            ServerMessage::Joined { participant } => {
                let id = participant.id.to_string();
                if let Some(g) = self.group.as_mut() {
                    let outs = g.member_joined(&id, now_ms, &mut self.rng);
                    self.group_outputs(now_ms, outs);
                }
                if let Some(b) = participant.keys.as_ref().map(|k| k.get().to_owned()) {
                    self.peer_bundle(now_ms, &id, &b);
                }
                self.participants
                    .insert(participant.id.clone(), participant.clone());
                self.event(Event::Joined { participant });
                self.flush_signals(now_ms);
            }
            ServerMessage::Left {
                participant,
                reason,
            } => {
                self.participants.remove(&participant);
                if reason != LeftReason::Closed
                    && let Some(g) = self.group.as_mut()
                {
                    let outs = g.member_left(participant.as_str(), now_ms, &mut self.rng);
                    self.group_outputs(now_ms, outs);
                }
                if reason != LeftReason::Closed {
                    self.outgoing.retain(|(to, _)| *to != participant);
                }
                self.event(Event::Left {
                    participant,
                    reason,
                });
            }
            ServerMessage::Offer { from, sdp } => {
                self.incoming_signal(now_ms, from, Signal::Offer(sdp))
            }
            ServerMessage::Answer { from, sdp } => {
                self.incoming_signal(now_ms, from, Signal::Answer(sdp))
            }
            ServerMessage::Ice {
                from,
                candidate,
                sdp_mid,
                sdp_mline_index,
            } => self.incoming_signal(
                now_ms,
                from,
                Signal::Ice {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                },
            ),
            ServerMessage::Track {
                action,
                from,
                source,
                track_id,
            } => self.track(from, action, source, track_id),
            ServerMessage::PermissionRequested {
                participant,
                permission,
            } => self.event(Event::PermissionRequested {
                participant,
                permission,
            }),
            ServerMessage::Permissions { participant, perms } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.perms = perms.clone();
                }
                self.event(Event::Permissions { participant, perms });
            }
            ServerMessage::Keys { from, bundle } => {
                if let Some(p) = self.participants.get_mut(&from) {
                    p.keys = Some(bundle.clone());
                }
                self.peer_bundle(now_ms, from.as_str(), bundle.get());
            }
            ServerMessage::E2e {
                from,
                seq,
                kind,
                body,
                ..
            } => self.incoming_e2e(now_ms, from, seq, kind, &body),
            ServerMessage::Ack { re, expires_at, .. } => {
                if let Some(i) = re.and_then(|re| self.outbox.iter().position(|p| p.id == re))
                    && let Some(message_id) = self.outbox.remove(i).and_then(|p| p.chat_id)
                {
                    // Stored by the hub: delivered to everyone, now or on return.
                    self.event(Event::ChatAcked { message_id });
                }
                if let Some(e) = expires_at.and_then(|e| u64::try_from(e).ok()) {
                    self.expires_at_ms = Some(e * 1000);
                }
            }
            ServerMessage::Pong { .. } => {}
            ServerMessage::SessionExpiring { .. } => {
                if self.token_wanted.is_none() {
                    self.want_token(TokenPurpose::Refresh);
                }
            }
            ServerMessage::Ended => self.finish(EndReason::VisitEnded),
            ServerMessage::Error(body) => {
                if let Some(re) = &body.re {
                    // The hub refused an e2e message: it will not be stored,
                    // so do not send it again (except after `internal`).
                    if body.code != ErrorCode::Internal && body.code != ErrorCode::RateLimited {
                        let gone = self
                            .outbox
                            .iter()
                            .find(|p| p.id == *re)
                            .and_then(|p| p.key_for.clone())
                            .filter(|_| body.code == ErrorCode::NotFound);
                        self.outbox.retain(|p| p.id != *re);
                        // A key for someone the hub no longer has: they left
                        // while this device was offline. Drop them from the
                        // roster (a new epoch without them).
                        if let (Some(who), Some(g)) = (gone, self.group.as_mut()) {
                            let outs = g.member_left(&who, now_ms, &mut self.rng);
                            self.group_outputs(now_ms, outs);
                        }
                    }
                }
                self.event(Event::Error(SdkError::Hub {
                    code: body.code,
                    message: body.message,
                    re: body.re.map(|r| r.to_string()),
                    rule: body.rule,
                }));
            }
        }
    }

    fn peer_bundle(&mut self, now_ms: u64, from: &str, bundle: &str) {
        let Some(g) = self.group.as_mut() else {
            return;
        };
        match g.peer_bundle(from, bundle, now_ms, &mut self.rng) {
            Ok(outs) => self.group_outputs(now_ms, outs),
            Err(error) => self.event(Event::Error(SdkError::E2ee {
                from: from.to_owned(),
                error,
            })),
        }
        // Signals that waited for this sender's Hello.
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.from.as_str() == from);
        self.held = rest;
        for h in mine {
            self.incoming_signal(h.since_ms, h.from, h.signal);
        }
    }

    fn incoming_signal(&mut self, now_ms: u64, from: ParticipantId, signal: Signal) {
        let sdp = match &signal {
            Signal::Offer(s) | Signal::Answer(s) => Some(s),
            Signal::Ice { .. } => None,
        };
        let check = match (sdp, self.group.as_ref()) {
            (Some(sdp), Some(g)) => g.check_sdp_fingerprint(from.as_str(), sdp),
            (Some(_), None) => Err(E2eeError::NoHello(from.to_string())),
            (None, _) => Ok(()),
        };
        let held_before = self.held.iter().any(|h| h.from == from);
        match check {
            // Candidates queue behind a held description.
            Ok(()) if held_before => self.held.push(HeldSignal {
                from,
                signal,
                since_ms: now_ms,
            }),
            Ok(()) => self.event(Event::Signal { from, signal }),
            Err(E2eeError::NoHello(_)) => self.held.push(HeldSignal {
                from,
                signal,
                since_ms: now_ms,
            }),
            Err(error) => self.event(Event::Error(SdkError::E2ee {
                from: from.to_string(),
                error,
            })),
        }
    }

    fn track(
        &mut self,
        from: ParticipantId,
        action: TrackAction,
        source: Option<TrackSource>,
        track_id: TrackId,
    ) {
        let p = self.participants.get_mut(&from);
        match (action, source) {
            (TrackAction::Publish, Some(source)) => {
                if let Some(p) = p {
                    p.tracks.retain(|t| t.track_id != track_id);
                    p.tracks.push(bedside_protocol::Track {
                        track_id: track_id.clone(),
                        source,
                    });
                }
                self.event(Event::TrackPublished {
                    from,
                    track_id,
                    source,
                });
            }
            (TrackAction::Unpublish, _) => {
                if let Some(p) = p {
                    p.tracks.retain(|t| t.track_id != track_id);
                }
                self.event(Event::TrackUnpublished { from, track_id });
            }
            (TrackAction::Publish, None) => self.event(Event::Error(SdkError::Protocol)),
        }
    }

    fn incoming_e2e(
        &mut self,
        now_ms: u64,
        from: ParticipantId,
        seq: u64,
        kind: E2eKind,
        body: &str,
    ) {
        if seq <= self.last_seq {
            return; // already processed (a catch-up overlap)
        }
        self.last_seq = seq;
        if self.ack_due.is_none() {
            self.ack_due = Some(now_ms + ACK_DELAY_MS);
        }
        let Ok(bytes) = B64.decode(body) else {
            self.event(Event::Error(SdkError::E2ee {
                from: from.to_string(),
                error: E2eeError::Malformed,
            }));
            return;
        };
        let Some(g) = self.group.as_mut() else {
            return;
        };
        let outs = match kind {
            E2eKind::Key => g.receive_key(from.as_str(), &bytes, now_ms, &mut self.rng),
            E2eKind::Chat => g.receive_chat(from.as_str(), &bytes, now_ms),
            E2eKind::Receipt => Vec::new(),
        };
        self.group_outputs(now_ms, outs);
    }
}

fn pid(s: &str) -> Result<ParticipantId, SdkError> {
    ParticipantId::new(s).map_err(|e| SdkError::InvalidId(e.to_string()))
}

#[cfg(test)]
mod tests;

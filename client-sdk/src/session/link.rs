//! The hub link: the connection state, `hello` and `resume` and the tokens
//! they need, reconnecting with back-off ([`super::backoff`]) after
//! anything but a final close, the keep-alive ping and the `refresh`
//! schedule, and the frames sent over the link.

use super::{ConnectionState, EndReason, Event, Output, SdkError, Session, TokenPurpose};
use bedside_protocol::{ClientMessage, CloseCode, DeviceId, Features, MessageId};
use rand_core::RngCore;

/// Where the connection to the hub is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LinkState {
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

/// The hub link's part of the [`Session`].
pub(super) struct Link {
    pub(super) state: LinkState,
    /// The join token for the next `hello`.
    token: Option<String>,
    pub(super) token_wanted: Option<TokenPurpose>,
    pub(super) resume_token: Option<String>,
    pub(super) auth_failures: u32,
    pub(super) attempt: u32,
    pub(super) retry_at: Option<u64>,
    pub(super) expires_at_ms: Option<u64>,
    pub(super) idle_timeout_ms: u64,
    pub(super) last_sent_ms: u64,
    /// The number of the last message id handed out.
    next_id: u64,
}

impl Default for Link {
    fn default() -> Self {
        Self {
            state: LinkState::Down,
            token: None,
            token_wanted: None,
            resume_token: None,
            auth_failures: 0,
            attempt: 0,
            retry_at: None,
            expires_at_ms: None,
            idle_timeout_ms: 900_000,
            last_sent_ms: 0,
            next_id: 0,
        }
    }
}

impl Session {
    /// Starts: connect and join with `token`.
    pub fn start(&mut self, now_ms: u64, token: String) {
        if self.link.state != LinkState::Down || self.visit.me.is_some() {
            return;
        }
        self.link.token = Some(token);
        self.connect(now_ms);
    }

    // ---- inputs from the shell ----

    /// The WebSocket is open.
    pub fn on_connected(&mut self, now_ms: u64) {
        if self.link.state != LinkState::Connecting {
            return;
        }
        if let Some(resume_token) = self.link.resume_token.take() {
            self.link.state = LinkState::Handshake { resuming: true };
            self.send_now(
                now_ms,
                &ClientMessage::Resume {
                    resume_token,
                    last_seq: Some(self.e2e.last_seq),
                    features: Features::ALL,
                },
                None,
            );
        } else if let Some(token) = self.link.token.take() {
            self.send_hello(now_ms, token);
        } else {
            self.link.state = LinkState::AwaitingToken;
            self.want_token(TokenPurpose::Join);
        }
    }

    /// A token the app obtained after [`Output::NeedToken`].
    pub fn on_token(&mut self, now_ms: u64, token: String) {
        match self.link.token_wanted.take() {
            Some(TokenPurpose::Refresh) if self.link.state == LinkState::Open => {
                self.send_now(now_ms, &ClientMessage::Refresh { token }, Some("refresh"));
            }
            Some(TokenPurpose::Join) if self.link.state == LinkState::AwaitingToken => {
                self.send_hello(now_ms, token);
            }
            Some(TokenPurpose::Join) => self.link.token = Some(token),
            _ => {}
        }
    }

    /// The app could not obtain a token.
    pub fn on_token_failed(&mut self, now_ms: u64, why: String) {
        let wanted = self.link.token_wanted.take();
        self.event(Event::Error(SdkError::Token(why)));
        if wanted == Some(TokenPurpose::Join) && self.link.state == LinkState::AwaitingToken {
            self.out.push_back(Output::Close(CloseCode::Left));
            self.link.state = LinkState::Down;
            self.schedule_retry(now_ms);
        }
    }

    /// The socket closed (or could not be opened: `code` None). `code` is
    /// the raw number the transport reported, which may be none of the
    /// protocol's [`CloseCode`]s (1006, 1013, …): those count as a lost link.
    pub fn on_closed(&mut self, now_ms: u64, code: Option<u16>) {
        if matches!(self.link.state, LinkState::Done | LinkState::Down) {
            return;
        }
        let was = self.link.state;
        self.link.state = LinkState::Down;
        self.e2e.ack_due = None;
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
            self.link.resume_token = None;
            self.link.auth_failures += 1;
            if self.link.auth_failures > 2
                || (was == (LinkState::Handshake { resuming: false })
                    && self.link.auth_failures > 1)
            {
                self.finish(EndReason::Unauthorized);
                return;
            }
            self.connect(now_ms);
            return;
        }
        self.schedule_retry(now_ms);
    }

    // ---- internals ----

    pub(super) fn command(&mut self, now_ms: u64, msg: ClientMessage) -> Result<(), SdkError> {
        match self.link.state {
            LinkState::Open => {
                let id = self.next_message_id("c");
                self.send_now(now_ms, &msg, Some(id.as_str()));
                Ok(())
            }
            LinkState::Done => Err(SdkError::Ended),
            _ => Err(SdkError::NotConnected),
        }
    }

    pub(super) fn next_message_id(&mut self, prefix: &str) -> String {
        self.link.next_id += 1;
        format!("{prefix}-{}", self.link.next_id)
    }

    pub(super) fn send_now(&mut self, now_ms: u64, msg: &ClientMessage, id: Option<&str>) {
        let id = id.and_then(|i| MessageId::new(i).ok());
        self.out.push_back(Output::Send(msg.to_json(id.as_ref())));
        self.link.last_sent_ms = now_ms;
    }

    fn send_hello(&mut self, now_ms: u64, token: String) {
        self.link.state = LinkState::Handshake { resuming: false };
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

    pub(super) fn want_token(&mut self, purpose: TokenPurpose) {
        self.link.token_wanted = Some(purpose);
        self.out.push_back(Output::NeedToken(purpose));
    }

    pub(super) fn connect(&mut self, _now_ms: u64) {
        self.link.state = LinkState::Connecting;
        self.out.push_back(Output::Connect);
        self.event(Event::Connection(ConnectionState::Connecting));
    }

    fn schedule_retry(&mut self, now_ms: u64) {
        self.link.attempt = self.link.attempt.saturating_add(1);
        let delay = self
            .cfg
            .backoff
            .delay_ms(self.link.attempt, self.rng.next_u64());
        self.link.retry_at = Some(now_ms + delay);
        self.event(Event::Connection(ConnectionState::Reconnecting {
            attempt: self.link.attempt,
            retry_in_ms: delay,
        }));
    }

    pub(super) fn finish(&mut self, reason: EndReason) {
        if self.link.state == LinkState::Done {
            return;
        }
        if self.link.state != LinkState::Down {
            self.out.push_back(Output::Close(CloseCode::Left));
        }
        self.link.state = LinkState::Done;
        self.link.retry_at = None;
        self.signals.outgoing.clear();
        self.event(Event::Connection(ConnectionState::Closed));
        self.event(Event::Ended(reason));
    }

    pub(super) fn ping_due(&self) -> Option<u64> {
        // In a visit (waiting or admitted): keep the session alive.
        self.visit.state?;
        let interval = (self.link.idle_timeout_ms / 3).clamp(5_000, 300_000);
        Some(self.link.last_sent_ms + interval)
    }

    pub(super) fn refresh_due(&self) -> Option<u64> {
        if self.link.token_wanted.is_some() {
            return None;
        }
        self.link
            .expires_at_ms
            .map(|e| e.saturating_sub(self.cfg.refresh_before_s * 1000))
    }
}

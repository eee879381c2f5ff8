//! The browser client: a cheap `Rc` handle over one driver that owns the
//! session, the WebSocket, the timer and the peer connections.
//!
//! Every input (a socket event, a finished token promise, the timer, a
//! peer-connection callback or promise) is posted to a mailbox and handled
//! in order by [`Shared::pump`]; after each input the driver carries out
//! what the session and the media module asked for, re-arms the timer, and
//! the events collected meanwhile go to the app's callback with no borrow
//! held. Commands from the app run the same way.

use super::media::{self, Media, MediaInput, MediaOut, Post};
use super::now_ms;
use super::timer::Timer;
use super::ws::{Socket, SocketEvent};
use crate::e2ee::{Identity, Pins, SafetyNumber};
use crate::session::quality::Figures;
use crate::session::{Event, Output, SdkError, Session, SessionConfig, TokenPurpose};
use bedside_protocol::{
    IceServer, Participant, ParticipantId, ParticipantState, Permission, TrackSource,
};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use web_sys::MediaStreamTrack;

/// Where fresh tokens come from (a refresh before expiry, or a new `hello`
/// after a refused resume). Errors reach the app as [`SdkError::Token`].
pub type TokenSource =
    Rc<dyn Fn(TokenPurpose) -> Pin<Box<dyn Future<Output = Result<String, String>>>>>;

/// How to connect.
#[derive(Debug)]
pub struct ClientConfig {
    /// `ws://` or `wss://` URL of the hub's `/v1/signal`.
    pub url: String,
    /// Session settings (device id, back-off, refresh margin). The DTLS
    /// fingerprint is filled in from the device's certificate.
    pub session: SessionConfig,
    /// This device's identity key; a fresh one when `None`.
    pub identity: Option<Identity>,
    /// Identity pins from earlier visits.
    pub pins: Pins,
    /// Peer connections for audio and video (off: chat only).
    pub media: bool,
    /// STUN/TURN servers besides the hub's `welcome.ice_servers`.
    pub ice_servers: Vec<IceServer>,
}

impl ClientConfig {
    /// Defaults, media on.
    pub fn new(url: impl Into<String>, device: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            session: SessionConfig {
                device: device.into(),
                ..SessionConfig::default()
            },
            identity: None,
            pins: Pins::default(),
            media: true,
            ice_servers: Vec::new(),
        }
    }
}

/// What the app hears.
#[derive(Debug, Clone)]
pub enum WebEvent {
    /// Everything the session reports (lobby, joins, chat, permissions,
    /// peer-connection states, withdrawn tracks …).
    Event(Event),
    /// A remote participant's announced track started: render it.
    RemoteTrack {
        /// Whose.
        peer: ParticipantId,
        /// Its announced id.
        track_id: String,
        /// What it carries.
        source: TrackSource,
        /// The browser's track.
        track: MediaStreamTrack,
    },
    /// The hub withdrew a track this device sent (a revoke): it was
    /// stopped and is no longer sent.
    LocalTrackStopped {
        /// The track (ended).
        track: MediaStreamTrack,
        /// What it carried.
        source: TrackSource,
    },
    /// The connection to a peer changed quality.
    Quality {
        /// Which peer.
        peer: ParticipantId,
        /// The level and its figures.
        figures: Figures,
    },
}

enum Input {
    Socket { generation: u64, event: SocketEvent },
    Token(Result<String, String>),
    Timer,
    Media(MediaInput),
}

struct Driver {
    session: Session,
    url: String,
    socket: Option<Socket>,
    socket_generation: u64,
    timer: Option<Timer>,
    token_source: Option<TokenSource>,
    media: Option<Media>,
    /// Track announcements made while the hub link was down, sent in
    /// order once it is up again.
    held: VecDeque<MediaOut>,
    events: VecDeque<WebEvent>,
    shared: Weak<Shared>,
}

struct Shared {
    driver: RefCell<Driver>,
    mailbox: RefCell<VecDeque<Input>>,
    pumping: Cell<bool>,
    on_event: Box<dyn Fn(WebEvent)>,
}

fn post(shared: &Weak<Shared>, input: Input) {
    if let Some(s) = shared.upgrade() {
        s.mailbox.borrow_mut().push_back(input);
        s.pump();
    }
}

impl Shared {
    /// Handles queued inputs and hands out events until both are empty.
    /// Re-entrant calls (a callback fired inside a step, or a command from
    /// an event handler) only queue: the outer loop picks them up.
    fn pump(&self) {
        if self.pumping.replace(true) {
            return;
        }
        loop {
            let next = self.mailbox.borrow_mut().pop_front();
            // (The driver is never borrowed here: commands hold `pumping`.)
            if let Some(input) = next
                && let Ok(mut d) = self.driver.try_borrow_mut()
            {
                d.handle(input);
            }
            let events = match self.driver.try_borrow_mut() {
                Ok(mut d) => std::mem::take(&mut d.events),
                Err(_) => VecDeque::new(),
            };
            let idle = events.is_empty() && self.mailbox.borrow().is_empty();
            for e in events {
                (self.on_event)(e);
            }
            if idle {
                break;
            }
        }
        self.pumping.set(false);
    }

    /// Runs an app command on the driver, then carries out its effects.
    fn run<T>(&self, f: impl FnOnce(&mut Driver) -> T) -> Result<T, SdkError> {
        let was = self.pumping.replace(true);
        let r = match self.driver.try_borrow_mut() {
            Ok(mut d) => {
                let r = f(&mut d);
                d.settle();
                Ok(r)
            }
            Err(_) => Err(SdkError::Transport("the client is busy".into())),
        };
        self.pumping.set(was);
        if !was {
            self.pump();
        }
        r
    }
}

impl Driver {
    fn handle(&mut self, input: Input) {
        let now = now_ms();
        match input {
            Input::Socket { generation, event } if generation == self.socket_generation => {
                match event {
                    SocketEvent::Open => self.session.on_connected(now),
                    SocketEvent::Text(t) => self.session.on_frame(now, &t),
                    SocketEvent::Closed(code) => {
                        self.socket = None;
                        self.session.on_closed(now, code);
                    }
                }
            }
            Input::Socket { .. } => {} // a replaced socket
            Input::Token(Ok(t)) => self.session.on_token(now, t),
            Input::Token(Err(e)) => self.session.on_token_failed(now, e),
            Input::Timer => {
                if let Some(t) = self.timer.as_mut() {
                    t.fired();
                }
                self.session.on_timeout(now);
                if let Some(m) = self.media.as_mut() {
                    m.tick();
                }
            }
            Input::Media(i) => {
                if let Some(m) = self.media.as_mut() {
                    m.input(i, &self.session);
                }
            }
        }
        self.settle();
    }

    /// Carries out everything the session and the media module asked for,
    /// until neither asks for more; then re-arms the timer.
    fn settle(&mut self) {
        loop {
            let mut busy = false;
            while let Some(out) = self.session.poll_output() {
                busy = true;
                self.carry_out(out);
            }
            let outs = self.media.as_mut().map(Media::take_out).unwrap_or_default();
            for o in outs {
                busy = true;
                self.media_out(o);
            }
            if self.session.is_connected() && !self.held.is_empty() {
                busy = true;
                for o in std::mem::take(&mut self.held) {
                    self.media_out(o);
                }
            }
            if !busy {
                break;
            }
        }
        if self.session.is_ended() {
            if let Some(m) = self.media.as_mut() {
                m.close_all();
            }
            self.timer = None;
            return;
        }
        let deadline = match (
            self.session.poll_timeout(),
            self.media.as_ref().and_then(Media::next_deadline),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(t) = self.timer.as_mut() {
            t.arm(now_ms(), deadline);
        }
    }

    fn carry_out(&mut self, out: Output) {
        let now = now_ms();
        match out {
            Output::Connect => {
                self.socket = None;
                self.socket_generation += 1;
                let generation = self.socket_generation;
                let shared = self.shared.clone();
                match Socket::open(&self.url, move |event| {
                    post(&shared, Input::Socket { generation, event })
                }) {
                    Ok(s) => self.socket = Some(s),
                    Err(e) => {
                        self.events.push_back(WebEvent::Event(Event::Error(e)));
                        self.session.on_closed(now, None);
                    }
                }
            }
            Output::Send(text) => {
                let failed = self.socket.as_ref().is_some_and(|s| s.send(&text).is_err());
                if failed {
                    self.socket = None;
                    self.session.on_closed(now, None);
                }
            }
            Output::Close(code) => {
                if let Some(s) = self.socket.take() {
                    s.close(code.code());
                }
            }
            Output::NeedToken(purpose) => match self.token_source.clone() {
                Some(src) => {
                    let shared = self.shared.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        let r = src(purpose).await;
                        post(&shared, Input::Token(r));
                    });
                }
                None => self
                    .session
                    .on_token_failed(now, "no token source configured".into()),
            },
            Output::Event(e) => {
                if let Some(m) = self.media.as_mut() {
                    m.on_session_event(&e, &self.session);
                }
                self.events.push_back(WebEvent::Event(e));
            }
        }
    }

    fn media_out(&mut self, o: MediaOut) {
        let now = now_ms();
        // Announcements wait here for the hub link; signals wait in the
        // session for their recipient (see `Session::signal`).
        if matches!(o, MediaOut::Publish { .. } | MediaOut::Unpublish(_))
            && !self.session.is_connected()
        {
            if !self.session.is_ended() {
                self.held.push_back(o);
            }
            return;
        }
        let r = match o {
            MediaOut::Signal { to, signal } => self.session.signal(now, &to, signal),
            MediaOut::Publish { source, track_id } => {
                self.session.publish_track(now, source, &track_id)
            }
            MediaOut::Unpublish(id) => self.session.unpublish_track(now, &id),
            MediaOut::Event(e) => {
                self.events.push_back(e);
                Ok(())
            }
        };
        if let Err(e) = r {
            self.events.push_back(WebEvent::Event(Event::Error(e)));
        }
    }

    fn media(&mut self) -> Result<&mut Media, SdkError> {
        self.media
            .as_mut()
            .ok_or_else(|| SdkError::Transport("media is off for this client".into()))
    }
}

/// The command handle; clones share one session. Dropping every clone does
/// not end the session: call [`Client::leave`].
#[derive(Clone)]
pub struct Client {
    shared: Rc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// Makes the device's DTLS certificate (when media is on), connects to
    /// the hub and joins with `token`; `on_event` hears everything.
    pub async fn connect(
        cfg: ClientConfig,
        token: String,
        token_source: Option<TokenSource>,
        on_event: impl Fn(WebEvent) + 'static,
    ) -> Result<Client, SdkError> {
        let media = if cfg.media {
            Some(media::certificate().await?)
        } else {
            None
        };
        let identity = cfg
            .identity
            .unwrap_or_else(|| Identity::generate(&mut rand_core::OsRng));
        let mut session_cfg = cfg.session;
        if let Some((_, fp)) = &media {
            session_cfg.dtls_fingerprint = fp.clone();
        }
        let session = Session::new(session_cfg, identity, cfg.pins, Box::new(rand_core::OsRng));
        let url = cfg.url;
        let ice_servers = cfg.ice_servers;
        let shared = Rc::new_cyclic(|weak: &Weak<Shared>| {
            let timer_weak = weak.clone();
            let media_weak = weak.clone();
            let post_media: Post = Rc::new(move |i| post(&media_weak, Input::Media(i)));
            Shared {
                driver: RefCell::new(Driver {
                    session,
                    url,
                    socket: None,
                    socket_generation: 0,
                    timer: Some(Timer::new(move || post(&timer_weak, Input::Timer))),
                    token_source,
                    media: media.map(|(cert, fp)| Media::new(cert, fp, ice_servers, post_media)),
                    held: VecDeque::new(),
                    events: VecDeque::new(),
                    shared: weak.clone(),
                }),
                mailbox: RefCell::new(VecDeque::new()),
                pumping: Cell::new(false),
                on_event: Box::new(on_event),
            }
        });
        let client = Client { shared };
        client.run(|d| d.session.start(now_ms(), token))?;
        Ok(client)
    }

    fn run<T>(&self, f: impl FnOnce(&mut Driver) -> T) -> Result<T, SdkError> {
        self.shared.run(f)
    }

    /// Admits a waiting participant (provider).
    pub fn admit(&self, who: &ParticipantId) -> Result<(), SdkError> {
        self.run(|d| d.session.admit(now_ms(), who))?
    }

    /// Denies a waiting participant (provider).
    pub fn deny(&self, who: &ParticipantId, reason: Option<String>) -> Result<(), SdkError> {
        self.run(|d| d.session.deny(now_ms(), who, reason))?
    }

    /// Removes an admitted participant (provider).
    pub fn remove(&self, who: &ParticipantId, reason: Option<String>) -> Result<(), SdkError> {
        self.run(|d| d.session.remove(now_ms(), who, reason))?
    }

    /// Grants a permission (provider).
    pub fn grant(&self, who: &ParticipantId, permission: Permission) -> Result<(), SdkError> {
        self.run(|d| d.session.grant(now_ms(), who, permission))?
    }

    /// Revokes a permission (provider); a revoked screen share stops at once.
    pub fn revoke(&self, who: &ParticipantId, permission: Permission) -> Result<(), SdkError> {
        self.run(|d| d.session.revoke(now_ms(), who, permission))?
    }

    /// Asks the providers for screen sharing.
    pub fn request_screen_share(&self) -> Result<(), SdkError> {
        self.run(|d| d.session.request_screen_share(now_ms()))?
    }

    /// Sends `track` (from `getUserMedia` or `getDisplayMedia`) as `source`
    /// to everyone admitted and to those admitted later. A screen needs
    /// the `screen_share` permission.
    pub fn publish(&self, track: MediaStreamTrack, source: TrackSource) -> Result<(), SdkError> {
        self.run(|d| {
            if source == TrackSource::Screen && !d.session.has_permission(Permission::ScreenShare) {
                return Err(SdkError::NotPermitted(Permission::ScreenShare));
            }
            d.media()?.publish(track, source)
        })?
    }

    /// Stops sending `track` and withdraws its announcement; `false` if it
    /// was not published.
    pub fn unpublish(&self, track: &MediaStreamTrack) -> Result<bool, SdkError> {
        self.run(|d| Ok(d.media()?.unpublish(track)))?
    }

    /// Switches device: sends `new` instead of `old` without renegotiating.
    pub fn replace_track(
        &self,
        old: &MediaStreamTrack,
        new: MediaStreamTrack,
    ) -> Result<(), SdkError> {
        self.run(|d| d.media()?.replace(old, new))?
    }

    /// The network changed: restart ICE on every connection.
    pub fn network_changed(&self) -> Result<(), SdkError> {
        self.run(|d| {
            if let Some(m) = d.media.as_mut() {
                m.restart_ice();
            }
        })
    }

    /// `getStats()` of the connection to `peer` (a promise of an
    /// `RTCStatsReport`), if there is one.
    pub fn stats(&self, peer: &str) -> Result<Option<js_sys::Promise>, SdkError> {
        let peer = ParticipantId::new(peer).map_err(|e| SdkError::InvalidId(e.to_string()))?;
        self.run(|d| d.media.as_ref().and_then(|m| m.stats(&peer)))
    }

    /// Sends an end-to-end encrypted chat message; returns its id (the
    /// acknowledgement arrives as an event).
    pub fn send_chat(&self, text: &str) -> Result<String, SdkError> {
        self.run(|d| d.session.send_chat(now_ms(), text))?
    }

    /// The safety number with `peer`.
    pub fn safety_number(&self, peer: &ParticipantId) -> Result<Option<SafetyNumber>, SdkError> {
        self.run(|d| d.session.safety_number(peer))
    }

    /// Accepts `peer`'s changed identity after the user re-verified it.
    pub fn accept_identity(&self, peer: &ParticipantId) -> Result<(), SdkError> {
        self.run(|d| d.session.accept_identity(now_ms(), peer))
    }

    /// Marks `peer` verified (the user compared the safety number).
    pub fn mark_verified(&self, peer: &ParticipantId) -> Result<(), SdkError> {
        self.run(|d| d.session.mark_verified(peer))
    }

    /// The identity pins, for the app to persist.
    pub fn pins(&self) -> Result<Pins, SdkError> {
        self.run(|d| d.session.pins().clone())
    }

    /// Participants present.
    pub fn participants(&self) -> Result<Vec<Participant>, SdkError> {
        self.run(|d| d.session.participants().cloned().collect())
    }

    /// This participant's id, once welcomed.
    pub fn me(&self) -> Result<Option<ParticipantId>, SdkError> {
        self.run(|d| d.session.me().cloned())
    }

    /// Waiting or admitted, once welcomed.
    pub fn state(&self) -> Result<Option<ParticipantState>, SdkError> {
        self.run(|d| d.session.state())
    }

    /// This device's DTLS fingerprint (signed into its Hello).
    pub fn dtls_fingerprint(&self) -> Result<Option<String>, SdkError> {
        self.run(|d| d.media.as_ref().map(|m| m.fingerprint().to_owned()))
    }

    /// Leaves the visit and ends the session.
    pub fn leave(&self) -> Result<(), SdkError> {
        self.run(|d| d.session.leave(now_ms()))
    }

    /// Ends the visit for everyone (provider).
    pub fn end_visit(&self) -> Result<(), SdkError> {
        self.run(|d| d.session.end_visit(now_ms()))?
    }
}

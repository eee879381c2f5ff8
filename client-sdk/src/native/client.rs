//! The async client: a handle for commands and a stream of events, with one
//! tokio task in between that owns the session, the socket and the peers.

use super::media::{LocalTrack, Media, MediaBackend, MediaInput, RemoteTrack};
use super::now_ms;
use crate::e2ee::{Identity, Pins, SafetyNumber};
#[cfg(doc)]
use crate::session::MediaEvent;
use crate::session::{Event, Output, SdkError, Session, SessionConfig, TokenPurpose};
use bedside_protocol::{Participant, ParticipantId, Permission, TrackSource};
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Where fresh tokens come from: called with what the token is for (a new
/// `hello` after a refused resume, or a `refresh` before expiry). Errors
/// are shown to the app as [`SdkError::Token`].
pub type TokenSource = Arc<dyn Fn(TokenPurpose) -> BoxFuture<Result<String, String>> + Send + Sync>;

/// How to connect.
#[derive(Debug)]
pub struct ClientConfig {
    /// `ws://` or `wss://` URL of the hub's `/v1/signal`.
    pub url: String,
    /// Session settings (device id, back-off, refresh margin).
    pub session: SessionConfig,
    /// This device's identity key; a fresh one when `None` (then nobody
    /// can recognise the device in a later visit: persist it).
    pub identity: Option<Identity>,
    /// Identity pins from earlier visits.
    pub pins: Pins,
    /// The WebRTC stack (webrtc-rs: `MediaConfig::webrtc_rs`, or the
    /// app's own); `None` for a chat-only client.
    pub media: Option<Arc<dyn MediaBackend>>,
}

impl ClientConfig {
    /// A config with defaults: media on webrtc-rs with feature `webrtc`,
    /// off without.
    pub fn new(url: impl Into<String>, device: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            session: SessionConfig {
                device: device.into(),
                ..SessionConfig::default()
            },
            identity: None,
            pins: Pins::default(),
            #[cfg(feature = "webrtc")]
            media: Some(super::media::MediaConfig::default().webrtc_rs()),
            #[cfg(not(feature = "webrtc"))]
            media: None,
        }
    }
}

type Command = Box<dyn FnOnce(&mut Driver) + Send>;

/// The command handle. Cheap to clone; the session ends when every clone
/// and the event stream are dropped, or on [`Client::leave`].
#[derive(Debug, Clone)]
pub struct Client {
    cmd: mpsc::UnboundedSender<Command>,
}

/// The event stream.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<Event>,
}

impl Events {
    /// The next event; `None` once the session ended and every event was read.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

impl Client {
    /// Connects to the hub and joins with `token`. `token_source` supplies
    /// fresh tokens for refresh and for re-joining when a resume is refused.
    pub async fn connect(
        cfg: ClientConfig,
        token: String,
        token_source: Option<TokenSource>,
    ) -> Result<(Client, Events), SdkError> {
        let identity = cfg
            .identity
            .unwrap_or_else(|| Identity::generate(&mut rand_core::OsRng));
        let mut session_cfg = cfg.session;
        let media = match cfg.media {
            Some(m) => {
                let media = Media::new(m, None)?;
                session_cfg.dtls_fingerprint = media.dtls_fingerprint().to_owned();
                Some(media)
            }
            None => None,
        };
        let session = Session::new(session_cfg, identity, cfg.pins, Box::new(rand_core::OsRng));
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let mut media = media;
        let media_rx = media.as_mut().and_then(Media::take_receiver);
        let mut driver = Driver {
            session,
            url: cfg.url,
            ws: None,
            connecting: None,
            token_source,
            token: None,
            events: ev_tx,
            media,
        };
        driver.session.start(now_ms(), token);
        tokio::spawn(driver.run(cmd_rx, media_rx));
        Ok((Client { cmd: cmd_tx }, Events { rx: ev_rx }))
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Driver) -> T + Send + 'static,
    ) -> Result<T, SdkError> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Box::new(move |d: &mut Driver| {
                let _ = tx.send(f(d));
            }))
            .map_err(|_| SdkError::Ended)?;
        rx.await.map_err(|_| SdkError::Ended)
    }

    /// Admits a waiting participant (provider).
    pub async fn admit(&self, who: &ParticipantId) -> Result<(), SdkError> {
        let who = who.clone();
        self.call(move |d| d.session.admit(now_ms(), &who)).await?
    }

    /// Denies a waiting participant (provider).
    pub async fn deny(&self, who: &ParticipantId, reason: Option<String>) -> Result<(), SdkError> {
        let who = who.clone();
        self.call(move |d| d.session.deny(now_ms(), &who, reason))
            .await?
    }

    /// Removes an admitted participant (provider).
    pub async fn remove(
        &self,
        who: &ParticipantId,
        reason: Option<String>,
    ) -> Result<(), SdkError> {
        let who = who.clone();
        self.call(move |d| d.session.remove(now_ms(), &who, reason))
            .await?
    }

    /// Grants a permission (provider).
    pub async fn grant(&self, who: &ParticipantId, permission: Permission) -> Result<(), SdkError> {
        let who = who.clone();
        self.call(move |d| d.session.grant(now_ms(), &who, permission))
            .await?
    }

    /// Revokes a permission (provider).
    pub async fn revoke(
        &self,
        who: &ParticipantId,
        permission: Permission,
    ) -> Result<(), SdkError> {
        let who = who.clone();
        self.call(move |d| d.session.revoke(now_ms(), &who, permission))
            .await?
    }

    /// Asks the providers for screen sharing.
    pub async fn request_screen_share(&self) -> Result<(), SdkError> {
        self.call(|d| d.session.request_screen_share(now_ms()))
            .await?
    }

    /// Announces a track this device is about to send.
    pub async fn publish_track(&self, source: TrackSource, track_id: &str) -> Result<(), SdkError> {
        let id = track_id.to_owned();
        self.call(move |d| d.session.publish_track(now_ms(), source, &id))
            .await?
    }

    /// Withdraws a track announcement (and stops sending it, if the SDK
    /// sends it).
    pub async fn unpublish_track(&self, track_id: &str) -> Result<(), SdkError> {
        let id = track_id.to_owned();
        self.call(move |d| {
            d.session.unpublish_track(now_ms(), &id)?;
            if d.media.is_some() {
                d.media_input(MediaInput::RemoveTrack(id))?;
            }
            Ok(())
        })
        .await?
    }

    /// Starts sending a track to every peer: announces it to the hub first
    /// (so `a=msid` names a published id), then adds it to each peer
    /// connection. Write encoded frames to the returned handle.
    pub async fn add_track(&self, source: TrackSource) -> Result<LocalTrack, SdkError> {
        let mut id = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
        let track_id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        self.call(move |d| {
            let media = d
                .media
                .as_ref()
                .ok_or_else(|| SdkError::Transport("media is off for this client".into()))?;
            let track = media.new_local_track(source, &track_id)?;
            d.session.publish_track(now_ms(), source, &track_id)?;
            d.media_input(MediaInput::AddTrack(track.clone()))?;
            Ok(track)
        })
        .await?
    }

    /// Takes a remote track announced in [`MediaEvent::RemoteTrack`] to read
    /// its packets (once).
    pub async fn take_remote_track(
        &self,
        peer: &str,
        track_id: &str,
    ) -> Result<Option<RemoteTrack>, SdkError> {
        let peer = ParticipantId::new(peer).map_err(|e| SdkError::InvalidId(e.to_string()))?;
        let id = track_id.to_owned();
        self.call(move |d| {
            d.media
                .as_mut()
                .and_then(|m| m.take_remote_track(&peer, &id))
        })
        .await
    }

    /// Sends an end-to-end encrypted chat message to everyone admitted;
    /// returns its message id.
    pub async fn send_chat(&self, text: &str) -> Result<String, SdkError> {
        let text = text.to_owned();
        self.call(move |d| d.session.send_chat(now_ms(), &text))
            .await?
    }

    /// The safety number with `peer` (60 digits in 12 groups).
    pub async fn safety_number(
        &self,
        peer: &ParticipantId,
    ) -> Result<Option<SafetyNumber>, SdkError> {
        let peer = peer.clone();
        self.call(move |d| d.session.safety_number(&peer)).await
    }

    /// Accepts `peer`'s changed identity key after the user re-verified it.
    pub async fn accept_identity(&self, peer: &ParticipantId) -> Result<(), SdkError> {
        let peer = peer.clone();
        self.call(move |d| d.session.accept_identity(now_ms(), &peer))
            .await
    }

    /// Marks `peer` verified (the user compared the safety number).
    pub async fn mark_verified(&self, peer: &ParticipantId) -> Result<(), SdkError> {
        let peer = peer.clone();
        self.call(move |d| d.session.mark_verified(&peer)).await
    }

    /// The identity pins, for the app to persist.
    pub async fn pins(&self) -> Result<Pins, SdkError> {
        self.call(|d| d.session.pins().clone()).await
    }

    /// Participants present.
    pub async fn participants(&self) -> Result<Vec<Participant>, SdkError> {
        self.call(|d| d.session.participants().cloned().collect())
            .await
    }

    /// Opens a data channel to `peer` (creating the peer connection and
    /// negotiating if needed).
    pub async fn open_data_channel(
        &self,
        peer: &ParticipantId,
        label: &str,
    ) -> Result<(), SdkError> {
        let peer = peer.clone();
        let label = label.to_owned();
        self.call(move |d| d.media_input(MediaInput::OpenDataChannel { peer, label }))
            .await?
    }

    /// Sends bytes on an open data channel to `peer`.
    pub async fn send_data(
        &self,
        peer: &ParticipantId,
        label: &str,
        data: Vec<u8>,
    ) -> Result<(), SdkError> {
        let peer = peer.clone();
        let label = label.to_owned();
        self.call(move |d| d.media_input(MediaInput::SendData { peer, label, data }))
            .await?
    }

    /// The network changed (new interface, address): restart ICE on every
    /// peer connection.
    pub async fn network_changed(&self) -> Result<(), SdkError> {
        self.call(|d| d.media_input(MediaInput::RestartIce)).await?
    }

    /// Leaves the visit and ends the session.
    pub async fn leave(&self) -> Result<(), SdkError> {
        self.call(|d| d.session.leave(now_ms())).await
    }

    /// Ends the visit for everyone (provider).
    pub async fn end_visit(&self) -> Result<(), SdkError> {
        self.call(|d| d.session.end_visit(now_ms())).await?
    }
}

struct Driver {
    session: Session,
    url: String,
    ws: Option<Ws>,
    connecting: Option<BoxFuture<Result<Ws, String>>>,
    token_source: Option<TokenSource>,
    token: Option<BoxFuture<(TokenPurpose, Result<String, String>)>>,
    events: mpsc::UnboundedSender<Event>,
    media: Option<Media>,
}

impl Driver {
    fn media_input(&mut self, input: MediaInput) -> Result<(), SdkError> {
        let media = self
            .media
            .as_ref()
            .ok_or_else(|| SdkError::Transport("media is off for this client".into()))?;
        media.sender().send(input).map_err(|_| SdkError::Ended)
    }

    async fn run(
        mut self,
        mut cmds: mpsc::UnboundedReceiver<Command>,
        mut media_rx: Option<mpsc::UnboundedReceiver<MediaInput>>,
    ) {
        let mut cmds_open = true;
        loop {
            self.carry_out().await;
            if self.session.is_ended() {
                if let Some(m) = self.media.as_mut() {
                    m.close_all().await;
                }
                break;
            }
            let deadline = match (
                self.session.poll_timeout(),
                self.media.as_ref().and_then(Media::next_deadline),
            ) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let sleep = async move {
                match deadline {
                    Some(t) => {
                        let wait = t.saturating_sub(now_ms());
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                cmd = cmds.recv(), if cmds_open => match cmd {
                    Some(cmd) => cmd(&mut self),
                    None => {
                        // Every handle is gone: leave.
                        cmds_open = false;
                        self.session.leave(now_ms());
                    }
                },
                res = poll_opt(&mut self.connecting) => {
                    self.connecting = None;
                    match res {
                        Ok(ws) => {
                            self.ws = Some(ws);
                            self.session.on_connected(now_ms());
                        }
                        Err(e) => {
                            // Why, for the app (an untrusted certificate,
                            // a refused connection); the session retries.
                            let _ = self.events.send(Event::Error(SdkError::Transport(
                                format!("cannot connect to the hub: {e}"),
                            )));
                            self.session.on_closed(now_ms(), None);
                        }
                    }
                }
                msg = next_frame(&mut self.ws) => self.frame(msg),
                tok = poll_opt(&mut self.token) => {
                    self.token = None;
                    match tok {
                        (_, Ok(t)) => self.session.on_token(now_ms(), t),
                        (_, Err(e)) => self.session.on_token_failed(now_ms(), e),
                    }
                }
                input = recv_opt(&mut media_rx) => {
                    if let (Some(input), Some(media)) = (input, self.media.as_mut()) {
                        let outs = media.handle(input, &self.session).await;
                        self.media_outputs(outs);
                    }
                }
                () = sleep => {
                    self.session.on_timeout(now_ms());
                    if let Some(media) = self.media.as_mut() {
                        let outs = media.tick().await;
                        self.media_outputs(outs);
                    }
                }
            }
        }
        self.carry_out().await;
    }

    fn frame(&mut self, msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) {
        match msg {
            Some(Ok(Message::Text(t))) => self.session.on_frame(now_ms(), t.as_str()),
            Some(Ok(Message::Close(frame))) => {
                self.ws = None;
                let code = frame.map(|f| u16::from(f.code));
                self.session.on_closed(now_ms(), code);
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => {
                self.ws = None;
                self.session.on_closed(now_ms(), None);
            }
        }
    }

    fn media_outputs(&mut self, outs: Vec<super::media::MediaOutput>) {
        for o in outs {
            match o {
                super::media::MediaOutput::Signal { to, signal } => {
                    if let Err(e) = self.session.signal(now_ms(), &to, signal) {
                        let _ = self.events.send(Event::Error(e));
                    }
                }
                super::media::MediaOutput::Event(e) => {
                    let _ = self.events.send(e);
                }
            }
        }
    }

    /// Carries out everything the session asked for.
    async fn carry_out(&mut self) {
        while let Some(out) = self.session.poll_output() {
            match out {
                Output::Connect => {
                    let url = self.url.clone();
                    self.ws = None;
                    self.connecting = Some(Box::pin(async move {
                        let connector = super::tls::connector()?;
                        tokio_tungstenite::connect_async_tls_with_config(
                            url, None, false, connector,
                        )
                        .await
                        .map(|(ws, _)| ws)
                        .map_err(|e| e.to_string())
                    }));
                }
                Output::Send(text) => {
                    let failed = match self.ws.as_mut() {
                        Some(ws) => ws.send(Message::text(text)).await.is_err(),
                        None => false,
                    };
                    if failed {
                        self.ws = None;
                        self.session.on_closed(now_ms(), None);
                    }
                }
                Output::Close(code) => {
                    if let Some(mut ws) = self.ws.take() {
                        let frame = CloseFrame {
                            code: WsCloseCode::from(code.code()),
                            reason: "".into(),
                        };
                        let _ = ws.close(Some(frame)).await;
                    }
                }
                Output::NeedToken(purpose) => match self.token_source.clone() {
                    Some(src) => {
                        self.token = Some(Box::pin(async move { (purpose, src(purpose).await) }));
                    }
                    None => self
                        .session
                        .on_token_failed(now_ms(), "no token source configured".into()),
                },
                Output::Event(e) => {
                    if let Some(media) = self.media.as_mut() {
                        let outs = media.on_session_event(&e, &self.session).await;
                        self.media_outputs(outs);
                    }
                    let _ = self.events.send(e);
                }
            }
        }
    }
}

async fn recv_opt<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx.as_mut() {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn poll_opt<T>(f: &mut Option<BoxFuture<T>>) -> T {
    match f.as_mut() {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn next_frame(
    ws: &mut Option<Ws>,
) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match ws.as_mut() {
        Some(ws) => ws.next().await,
        None => std::future::pending().await,
    }
}

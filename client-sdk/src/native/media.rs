//! WebRTC on native (webrtc-rs 0.21): one peer connection per remote
//! participant, the perfect-negotiation pattern, trickle ICE both ways, ICE
//! restart on failure or network change, and data channels.
//!
//! Perfect negotiation is decided by the platform-free
//! [`Negotiator`](crate::session::negotiator::Negotiator), one per peer;
//! this shell performs the operations it asks for on webrtc-rs, one at a
//! time, and feeds each result back. Every step runs on the client's one
//! task, so no operation can race with incoming signals.
//!
//! All peer connections of a device share one DTLS certificate, whose
//! fingerprint is signed into the device's Hello: peers check it against
//! every SDP (in the session core) before anything reaches this module.

use super::now_ms;
use crate::session::negotiator::{self, Negotiator, Op, OpResult, PeerState, SdpKind};
use crate::session::{Event, MediaEvent, SdkError, Session, Signal};
use bedside_protocol::sdp::normalize_fingerprint;
use bedside_protocol::{LeftReason, ParticipantId, TrackSource};
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::crypto::{SignatureScheme, default_provider};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCCertificate,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceServer, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription, Registry, register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

/// WebRTC settings.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Local UDP addresses to gather host candidates on. `0.0.0.0:0` skips
    /// loopback in webrtc-rs; tests use `127.0.0.1:0`.
    pub udp_addrs: Vec<String>,
    /// STUN/TURN servers (the hub's `welcome.ice_servers` are added).
    pub ice_servers: Vec<RTCIceServer>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            udp_addrs: vec!["0.0.0.0:0".into()],
            ice_servers: Vec::new(),
        }
    }
}

/// A track this device sends: write encoded frames (VP8 for camera and
/// screen, Opus for the microphone) and the SDK packetizes them to every peer.
#[derive(Clone)]
pub struct LocalTrack {
    track_id: String,
    source: TrackSource,
    track: Arc<TrackLocalStaticSample>,
    ssrc: u32,
    payload_type: u8,
}

impl std::fmt::Debug for LocalTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTrack")
            .field("track_id", &self.track_id)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl LocalTrack {
    /// The id announced to the hub and carried in `a=msid`.
    pub fn track_id(&self) -> &str {
        &self.track_id
    }

    /// What it carries.
    pub fn source(&self) -> TrackSource {
        self.source
    }

    /// Sends one encoded frame lasting `duration`.
    pub async fn write_sample(&self, data: Vec<u8>, duration: Duration) -> Result<(), SdkError> {
        let sample = Sample {
            data: data.into(),
            duration,
            ..Sample::new(Instant::now())
        };
        self.track
            .sample_writer(self.ssrc, self.payload_type)
            .write_sample(&sample)
            .await
            .map_err(transport)
    }
}

/// A remote participant's track, readable while its announcement stands.
/// `next_payload` returns `None` once the track stopped (withdrawn by the
/// hub or its owner, or the peer went away).
#[derive(Debug)]
pub struct RemoteTrack {
    /// The sender.
    pub peer: ParticipantId,
    /// The announced track id.
    pub track_id: String,
    /// What it carries, per the announcement.
    pub source: TrackSource,
    rx: mpsc::Receiver<Vec<u8>>,
}

impl RemoteTrack {
    /// The payload of the next RTP packet.
    pub async fn next_payload(&mut self) -> Option<Vec<u8>> {
        self.rx.recv().await
    }
}

struct Receiving {
    task: tokio::task::JoinHandle<()>,
}

/// Inputs of the media module: app commands and webrtc-rs callbacks.
pub(crate) enum MediaInput {
    OpenDataChannel {
        peer: ParticipantId,
        label: String,
    },
    SendData {
        peer: ParticipantId,
        label: String,
        data: Vec<u8>,
    },
    RestartIce,
    AddTrack(LocalTrack),
    RemoveTrack(String),
    Negotiate(ParticipantId),
    RemoteTrack(ParticipantId, Arc<dyn TrackRemote>),
    LocalIce(ParticipantId, Option<RTCIceCandidateInit>),
    State(ParticipantId, RTCPeerConnectionState),
    RemoteChannel(ParticipantId, Arc<dyn DataChannel>),
    ChannelOpen(ParticipantId, String),
    ChannelData(ParticipantId, String, Vec<u8>),
}

/// What the client task must do.
pub(crate) enum MediaOutput {
    Signal { to: ParticipantId, signal: Signal },
    Event(Event),
}

struct Peer {
    pc: Arc<dyn PeerConnection>,
    /// Decides every negotiation step.
    neg: Negotiator,
    channels: HashMap<String, Arc<dyn DataChannel>>,
    senders: HashMap<String, Arc<dyn RtpSender>>,
}

/// The device's peer connections.
pub(crate) struct Media {
    cfg: MediaConfig,
    cert: RTCCertificate,
    fingerprint: String,
    peers: HashMap<ParticipantId, Peer>,
    local: HashMap<String, LocalTrack>,
    receiving: HashMap<(ParticipantId, String), Receiving>,
    /// Remote tracks waiting for the app to take them.
    unclaimed: HashMap<(ParticipantId, String), RemoteTrack>,
    tx: mpsc::UnboundedSender<MediaInput>,
    rx: Option<mpsc::UnboundedReceiver<MediaInput>>,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media")
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

fn transport(e: impl std::fmt::Display) -> SdkError {
    SdkError::Transport(e.to_string())
}

impl Media {
    pub(crate) fn new(cfg: MediaConfig) -> Result<Self, SdkError> {
        let provider = default_provider().map_err(transport)?;
        let params =
            rcgen::CertificateParams::new(vec!["bedside".to_owned()]).map_err(transport)?;
        let cert =
            RTCCertificate::generate(provider.crypto(), SignatureScheme::EcdsaP256Sha256, params)
                .map_err(transport)?;
        let fp = cert
            .get_fingerprints(provider.crypto())
            .map_err(transport)?
            .into_iter()
            .next()
            .ok_or_else(|| transport("certificate has no fingerprint"))?;
        let fingerprint = normalize_fingerprint(&format!("{} {}", fp.algorithm, fp.value));
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(Self {
            cfg,
            cert,
            fingerprint,
            peers: HashMap::new(),
            local: HashMap::new(),
            receiving: HashMap::new(),
            unclaimed: HashMap::new(),
            tx,
            rx: Some(rx),
        })
    }

    /// `sha-256 AB:CD:…` of this device's DTLS certificate.
    pub(crate) fn dtls_fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub(crate) fn sender(&self) -> mpsc::UnboundedSender<MediaInput> {
        self.tx.clone()
    }

    pub(crate) fn take_receiver(&mut self) -> Option<mpsc::UnboundedReceiver<MediaInput>> {
        self.rx.take()
    }

    pub(crate) async fn close_all(&mut self) {
        for (_, p) in self.peers.drain() {
            let _ = p.pc.close().await;
        }
    }

    /// Reacts to what the session reported (signals, departures).
    pub(crate) async fn on_session_event(
        &mut self,
        e: &Event,
        session: &Session,
    ) -> Vec<MediaOutput> {
        let mut out = Vec::new();
        match e {
            Event::Signal { from, signal } => {
                if let Err(err) = self.signal(from, signal.clone(), session, &mut out).await {
                    out.push(MediaOutput::Event(Event::Error(err)));
                }
            }
            Event::Left {
                participant,
                reason,
            } if *reason != LeftReason::Closed => {
                if let Some(p) = self.peers.remove(participant) {
                    let _ = p.pc.close().await;
                }
                let theirs: Vec<String> = self
                    .receiving
                    .keys()
                    .filter(|(p, _)| p == participant)
                    .map(|(_, t)| t.clone())
                    .collect();
                for t in theirs {
                    self.stop_remote(participant, &t, &mut out);
                }
            }
            Event::TrackUnpublished { from, track_id } => {
                if session.me() == Some(from) {
                    // The hub withdrew our own track (a revoke): stop sending.
                    if self.remove_local(track_id.as_str()).await {
                        out.push(MediaOutput::Event(Event::Media(
                            MediaEvent::LocalTrackStopped {
                                track_id: track_id.to_string(),
                            },
                        )));
                    }
                } else {
                    self.stop_remote(from, track_id.as_str(), &mut out);
                }
            }
            _ => {}
        }
        out
    }

    /// Hands a remote track to the app (once).
    pub(crate) fn take_remote_track(
        &mut self,
        peer: &ParticipantId,
        track_id: &str,
    ) -> Option<RemoteTrack> {
        self.unclaimed.remove(&(peer.clone(), track_id.to_owned()))
    }

    /// Creates a local track; the caller has announced it.
    pub(crate) fn new_local_track(
        &self,
        source: TrackSource,
        track_id: &str,
    ) -> Result<LocalTrack, SdkError> {
        let (kind, codec, payload_type) = match source {
            TrackSource::Microphone => (
                RtpCodecKind::Audio,
                RTCRtpCodec {
                    mime_type: MIME_TYPE_OPUS.to_owned(),
                    clock_rate: 48000,
                    channels: 2,
                    sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                    rtcp_feedback: vec![],
                },
                111,
            ),
            TrackSource::Camera | TrackSource::Screen => (
                RtpCodecKind::Video,
                RTCRtpCodec {
                    mime_type: MIME_TYPE_VP8.to_owned(),
                    clock_rate: 90000,
                    channels: 0,
                    sdp_fmtp_line: String::new(),
                    rtcp_feedback: vec![],
                },
                96,
            ),
        };
        let ssrc = rand_core::RngCore::next_u32(&mut rand_core::OsRng);
        let track = TrackLocalStaticSample::new(
            Instant::now(),
            MediaStreamTrack::new(
                "bedside".to_owned(),
                track_id.to_owned(),
                format!("{source:?}"),
                kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(ssrc),
                        ..Default::default()
                    },
                    codec,
                    ..Default::default()
                }],
            ),
        )
        .map_err(transport)?;
        Ok(LocalTrack {
            track_id: track_id.to_owned(),
            source,
            track: Arc::new(track),
            ssrc,
            payload_type,
        })
    }

    async fn send_track_to(
        &mut self,
        peer: &ParticipantId,
        t: &LocalTrack,
    ) -> Result<(), SdkError> {
        let p = self.peer(peer)?;
        if p.senders.contains_key(&t.track_id) {
            return Ok(());
        }
        let sender =
            p.pc.add_track(Arc::clone(&t.track) as Arc<dyn TrackLocal>)
                .await
                .map_err(transport)?;
        p.senders.insert(t.track_id.clone(), sender);
        Ok(())
    }

    /// Stops sending a local track to everyone; `false` if unknown.
    async fn remove_local(&mut self, track_id: &str) -> bool {
        if self.local.remove(track_id).is_none() {
            return false;
        }
        for p in self.peers.values_mut() {
            if let Some(sender) = p.senders.remove(track_id) {
                let _ = p.pc.remove_track(&sender).await;
            }
        }
        true
    }

    fn stop_remote(&mut self, peer: &ParticipantId, track_id: &str, out: &mut Vec<MediaOutput>) {
        let key = (peer.clone(), track_id.to_owned());
        self.unclaimed.remove(&key);
        if let Some(r) = self.receiving.remove(&key) {
            r.task.abort();
            out.push(MediaOutput::Event(Event::Media(
                MediaEvent::RemoteTrackStopped {
                    peer: peer.clone(),
                    track_id: track_id.to_owned(),
                },
            )));
        }
    }

    async fn remote_track(
        &mut self,
        peer: ParticipantId,
        track: Arc<dyn TrackRemote>,
        session: &Session,
        out: &mut Vec<MediaOutput>,
    ) {
        let track_id = track.track_id().await.to_string();
        let announced = session.announced_source(&peer, &track_id);
        let Some(source) = announced else {
            // Not announced (or already withdrawn): never rendered.
            out.push(MediaOutput::Event(Event::Media(
                MediaEvent::RemoteTrackRefused { peer, track_id },
            )));
            return;
        };
        let (tx, rx) = mpsc::channel(256);
        let task = tokio::spawn(async move {
            while let Some(ev) = track.poll().await {
                match ev {
                    TrackRemoteEvent::OnRtpPacket(pkt) => {
                        // A slow reader loses packets rather than memory.
                        let _ = tx.try_send(pkt.payload.to_vec());
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
        let key = (peer.clone(), track_id.clone());
        if let Some(old) = self.receiving.insert(key.clone(), Receiving { task }) {
            old.task.abort();
        }
        self.unclaimed.insert(
            key,
            RemoteTrack {
                peer: peer.clone(),
                track_id: track_id.clone(),
                source,
                rx,
            },
        );
        out.push(MediaOutput::Event(Event::Media(MediaEvent::RemoteTrack {
            peer,
            track_id,
            source,
        })));
    }

    /// Handles an app command or a webrtc-rs callback.
    pub(crate) async fn handle(
        &mut self,
        input: MediaInput,
        session: &Session,
    ) -> Vec<MediaOutput> {
        let mut out = Vec::new();
        if let Err(e) = self.handle_inner(input, session, &mut out).await {
            out.push(MediaOutput::Event(Event::Error(e)));
        }
        out
    }

    async fn handle_inner(
        &mut self,
        input: MediaInput,
        session: &Session,
        out: &mut Vec<MediaOutput>,
    ) -> Result<(), SdkError> {
        match input {
            MediaInput::OpenDataChannel { peer, label } => {
                self.ensure_peer(&peer, session).await?;
                let p = self.peer(&peer)?;
                let dc =
                    p.pc.create_data_channel(&label, None)
                        .await
                        .map_err(transport)?;
                let dc: Arc<dyn DataChannel> = dc;
                self.watch_channel(&peer, label.clone(), dc.clone());
                self.peer(&peer)?.channels.insert(label, dc);
            }
            MediaInput::SendData { peer, label, data } => {
                let dc = self
                    .peer(&peer)?
                    .channels
                    .get(&label)
                    .cloned()
                    .ok_or_else(|| transport("no such data channel"))?;
                dc.send(bytes::BytesMut::from(&data[..]))
                    .await
                    .map_err(transport)?;
            }
            MediaInput::RestartIce => {
                let ids: Vec<ParticipantId> = self.peers.keys().cloned().collect();
                for id in ids {
                    self.restart_ice(&id, out).await?;
                }
            }
            MediaInput::AddTrack(t) => {
                self.local.insert(t.track_id.clone(), t.clone());
                let ids: Vec<ParticipantId> = self.peers.keys().cloned().collect();
                for id in ids {
                    self.send_track_to(&id, &t).await?;
                }
            }
            MediaInput::RemoveTrack(id) => {
                self.remove_local(&id).await;
            }
            MediaInput::RemoteTrack(peer, track) => {
                self.remote_track(peer, track, session, out).await
            }
            MediaInput::Negotiate(peer) => self.negotiate(&peer, out).await?,
            MediaInput::LocalIce(peer, cand) => {
                let signal = match cand {
                    Some(c) => Signal::Ice {
                        candidate: c.candidate,
                        sdp_mid: c.sdp_mid,
                        sdp_mline_index: c.sdp_mline_index.map(u32::from),
                    },
                    None => Signal::Ice {
                        candidate: String::new(),
                        sdp_mid: None,
                        sdp_mline_index: None,
                    },
                };
                out.push(MediaOutput::Signal { to: peer, signal });
            }
            MediaInput::State(peer, state) => {
                out.push(MediaOutput::Event(Event::Media(MediaEvent::PeerState {
                    peer: peer.clone(),
                    state: state.to_string(),
                })));
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.neg.connection_state(now_ms(), peer_state(state));
                    self.drive(&peer, out).await?;
                }
            }
            MediaInput::RemoteChannel(peer, dc) => {
                let label = dc.label().await.map_err(transport)?;
                self.watch_channel(&peer, label.clone(), dc.clone());
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.channels.insert(label, dc);
                }
            }
            MediaInput::ChannelOpen(peer, label) => {
                out.push(MediaOutput::Event(Event::Media(
                    MediaEvent::DataChannelOpen { peer, label },
                )));
            }
            MediaInput::ChannelData(peer, label, data) => {
                out.push(MediaOutput::Event(Event::Media(MediaEvent::Data {
                    peer,
                    label,
                    data,
                })));
            }
        }
        Ok(())
    }

    fn peer(&mut self, id: &ParticipantId) -> Result<&mut Peer, SdkError> {
        self.peers
            .get_mut(id)
            .ok_or_else(|| transport("no peer connection to that participant"))
    }

    fn watch_channel(&self, peer: &ParticipantId, label: String, dc: Arc<dyn DataChannel>) {
        let tx = self.tx.clone();
        let peer = peer.clone();
        tokio::spawn(async move {
            while let Some(ev) = dc.poll().await {
                let sent = match ev {
                    DataChannelEvent::OnOpen => {
                        tx.send(MediaInput::ChannelOpen(peer.clone(), label.clone()))
                    }
                    DataChannelEvent::OnMessage(msg) => tx.send(MediaInput::ChannelData(
                        peer.clone(),
                        label.clone(),
                        msg.data.to_vec(),
                    )),
                    DataChannelEvent::OnClose => break,
                    _ => Ok(()),
                };
                if sent.is_err() {
                    break;
                }
            }
        });
    }

    async fn ensure_peer(
        &mut self,
        peer: &ParticipantId,
        session: &Session,
    ) -> Result<(), SdkError> {
        if self.peers.contains_key(peer) {
            return Ok(());
        }
        let me = session.me().ok_or(SdkError::NotConnected)?;
        let mut media = MediaEngine::default();
        media.register_default_codecs().map_err(transport)?;
        let registry =
            register_default_interceptors(Registry::new(), &mut media).map_err(transport)?;
        let mut ice_servers = self.cfg.ice_servers.clone();
        ice_servers.extend(session.ice_servers().iter().map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone().unwrap_or_default(),
            credential: s.credential.clone().unwrap_or_default(),
        }));
        let pc = PeerConnectionBuilder::new()
            .with_configuration(
                RTCConfigurationBuilder::new()
                    .with_ice_servers(ice_servers)
                    .with_certificates(vec![self.cert.clone()])
                    .build(),
            )
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(Handler {
                peer: peer.clone(),
                tx: self.tx.clone(),
            }))
            .with_udp_addrs(self.cfg.udp_addrs.clone())
            .build()
            .await
            .map_err(transport)?;
        self.peers.insert(
            peer.clone(),
            Peer {
                pc: Arc::new(pc),
                // The smaller participant id is impolite.
                neg: Negotiator::new(me.as_str() > peer.as_str()),
                channels: HashMap::new(),
                senders: HashMap::new(),
            },
        );
        let tracks: Vec<LocalTrack> = self.local.values().cloned().collect();
        for t in tracks {
            self.send_track_to(peer, &t).await?;
        }
        Ok(())
    }

    async fn negotiate(
        &mut self,
        peer: &ParticipantId,
        out: &mut Vec<MediaOutput>,
    ) -> Result<(), SdkError> {
        self.peer(peer)?.neg.negotiation_needed(now_ms());
        self.drive(peer, out).await
    }

    async fn restart_ice(
        &mut self,
        peer: &ParticipantId,
        out: &mut Vec<MediaOutput>,
    ) -> Result<(), SdkError> {
        self.peer(peer)?.neg.restart_ice(now_ms());
        self.drive(peer, out).await
    }

    async fn signal(
        &mut self,
        from: &ParticipantId,
        signal: Signal,
        session: &Session,
        out: &mut Vec<MediaOutput>,
    ) -> Result<(), SdkError> {
        if matches!(signal, Signal::Offer(_)) {
            self.ensure_peer(from, session).await?;
        }
        let Some(p) = self.peers.get_mut(from) else {
            return Ok(()); // an answer or candidate for a peer we closed
        };
        p.neg.remote(now_ms(), signal);
        self.drive(from, out).await
    }

    /// When a negotiator next needs a tick.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.peers
            .values()
            .filter_map(|p| p.neg.next_deadline())
            .min()
    }

    /// Time passed: ticks every negotiator.
    pub(crate) async fn tick(&mut self) -> Vec<MediaOutput> {
        let mut out = Vec::new();
        let now = now_ms();
        let ids: Vec<ParticipantId> = self.peers.keys().cloned().collect();
        for id in ids {
            if let Some(p) = self.peers.get_mut(&id) {
                p.neg.tick(now);
            }
            if let Err(e) = self.drive(&id, &mut out).await {
                out.push(MediaOutput::Event(Event::Error(e)));
            }
        }
        out
    }

    /// Performs what the peer's negotiator asks, one operation at a time,
    /// until it asks for nothing more.
    async fn drive(
        &mut self,
        peer: &ParticipantId,
        out: &mut Vec<MediaOutput>,
    ) -> Result<(), SdkError> {
        let p = self.peer(peer)?;
        loop {
            while let Some(o) = p.neg.poll_output() {
                match o {
                    negotiator::Output::Signal(signal) => out.push(MediaOutput::Signal {
                        to: peer.clone(),
                        signal,
                    }),
                    negotiator::Output::Error(e) => {
                        out.push(MediaOutput::Event(Event::Error(transport(e))));
                    }
                    negotiator::Output::IgnoredOffer => {
                        tracing::debug!(%peer, "ignored a colliding offer (impolite)");
                    }
                    negotiator::Output::IceRestart { attempt } => {
                        tracing::debug!(%peer, attempt, "ICE restart");
                    }
                }
            }
            let Some(op) = p.neg.poll_op() else {
                return Ok(());
            };
            let result = perform(p.pc.as_ref(), op)
                .await
                .unwrap_or_else(|e| OpResult::Failed(e.to_string()));
            p.neg.op_done(now_ms(), result);
        }
    }
}

/// One negotiation operation on webrtc-rs.
async fn perform(pc: &dyn PeerConnection, op: Op) -> Result<OpResult, SdkError> {
    let description = |kind: SdpKind, sdp: String| match kind {
        SdpKind::Offer => RTCSessionDescription::offer(sdp).map_err(transport),
        SdpKind::Answer => RTCSessionDescription::answer(sdp).map_err(transport),
    };
    Ok(match op {
        Op::CreateOffer { ice_restart } => {
            if ice_restart {
                pc.restart_ice().await.map_err(transport)?;
            }
            OpResult::Sdp(pc.create_offer(None).await.map_err(transport)?.sdp)
        }
        Op::CreateAnswer => OpResult::Sdp(pc.create_answer(None).await.map_err(transport)?.sdp),
        Op::SetLocal { kind, sdp } => {
            pc.set_local_description(description(kind, sdp)?)
                .await
                .map_err(transport)?;
            let local = pc
                .local_description()
                .await
                .ok_or_else(|| transport("no local description"))?;
            OpResult::Sdp(local.sdp)
        }
        Op::Rollback => {
            let rollback = RTCSessionDescription::rollback(None).map_err(transport)?;
            pc.set_local_description(rollback)
                .await
                .map_err(transport)?;
            OpResult::Done
        }
        Op::SetRemote { kind, sdp } => {
            pc.set_remote_description(description(kind, sdp)?)
                .await
                .map_err(transport)?;
            OpResult::Done
        }
        Op::AddCandidate {
            candidate,
            sdp_mid,
            sdp_mline_index,
        } => {
            if !candidate.is_empty() {
                let init = RTCIceCandidateInit {
                    candidate,
                    sdp_mid,
                    sdp_mline_index: sdp_mline_index.and_then(|i| u16::try_from(i).ok()),
                    ..Default::default()
                };
                pc.add_ice_candidate(init).await.map_err(transport)?;
            }
            OpResult::Done
        }
    })
}

fn peer_state(state: RTCPeerConnectionState) -> PeerState {
    match state {
        RTCPeerConnectionState::Connected => PeerState::Connected,
        RTCPeerConnectionState::Disconnected => PeerState::Disconnected,
        RTCPeerConnectionState::Failed => PeerState::Failed,
        RTCPeerConnectionState::Closed => PeerState::Closed,
        _ => PeerState::Connecting,
    }
}

struct Handler {
    peer: ParticipantId,
    tx: mpsc::UnboundedSender<MediaInput>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_negotiation_needed(&self) {
        let _ = self.tx.send(MediaInput::Negotiate(self.peer.clone()));
    }

    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            let _ = self
                .tx
                .send(MediaInput::LocalIce(self.peer.clone(), Some(init)));
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.tx.send(MediaInput::State(self.peer.clone(), state));
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        let _ = self
            .tx
            .send(MediaInput::RemoteChannel(self.peer.clone(), dc));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self
            .tx
            .send(MediaInput::RemoteTrack(self.peer.clone(), track));
    }
}

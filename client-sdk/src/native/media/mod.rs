//! WebRTC on native (webrtc-rs 0.21): one peer connection per remote
//! participant, the perfect-negotiation pattern, trickle ICE both ways, ICE
//! restart on failure or network change, and data channels.
//!
//! Perfect negotiation is decided by the platform-free
//! [`crate::session::negotiator::Negotiator`], one per peer;
//! this shell performs the operations it asks for on webrtc-rs, one at a
//! time, and feeds each result back. Every step runs on the client's one
//! task, so no operation can race with incoming signals.
//!
//! All peer connections of a device share one DTLS certificate, whose
//! fingerprint is signed into the device's Hello: peers check it against
//! every SDP (in the session core) before anything reaches this module.
//!
//! The work is split by job, one module each: `peer` (building a peer
//! connection and forwarding its webrtc-rs callbacks), `negotiation`
//! (performing what each peer's negotiator asks, and its timers), `local`
//! (the tracks this device sends), `remote` (the tracks it receives) and
//! `data_channel` (the events of each data channel). This file has the
//! settings, the inputs and outputs, the device's state with its DTLS
//! certificate, and the dispatch of session events and inputs.

mod data_channel;
mod local;
mod negotiation;
mod peer;
mod remote;

pub use local::LocalTrack;
pub use remote::RemoteTrack;

use super::now_ms;
use crate::session::negotiator::Negotiator;
use crate::session::{Event, MediaEvent, SdkError, Session, Signal};
use bedside_protocol::sdp::normalize_fingerprint;
use bedside_protocol::{LeftReason, ParticipantId};
use negotiation::peer_state;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::crypto::{SignatureScheme, default_provider};
use webrtc::peer_connection::{
    PeerConnection, RTCCertificate, RTCIceCandidateInit, RTCIceServer, RTCPeerConnectionState,
};
use webrtc::rtp_transceiver::RtpSender;

/// WebRTC settings of the native client (`native::ClientConfig::media`).
/// The default gathers on `0.0.0.0:0` with no servers of the app's own.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Local UDP addresses (`ip:port`, port 0 for any) to gather host
    /// candidates on. `0.0.0.0:0` skips loopback in webrtc-rs; tests use
    /// `127.0.0.1:0`.
    pub udp_addrs: Vec<String>,
    /// The app's STUN/TURN servers; the hub's `welcome.ice_servers` are
    /// added after them for each new peer connection.
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

struct Receiving {
    task: tokio::task::JoinHandle<()>,
}

/// Inputs of the media module: app commands and webrtc-rs callbacks.
pub(crate) enum MediaInput {
    OpenDataChannel {
        peer: ParticipantId,
        label: String,
    },
    /// The app sends `data` on the channel `label` to `peer`.
    SendData {
        peer: ParticipantId,
        label: String,
        data: Vec<u8>,
    },
    /// The app reported a network change: restart ICE with every peer.
    RestartIce,
    /// Send this (announced) track to every peer.
    AddTrack(LocalTrack),
    /// Stop sending the local track with this id.
    RemoveTrack(String),
    /// A connection fired `negotiationneeded`.
    Negotiate(ParticipantId),
    /// A connection received a remote track.
    RemoteTrack(ParticipantId, Arc<dyn TrackRemote>),
    /// A local ICE candidate (`None`: gathering finished).
    LocalIce(ParticipantId, Option<RTCIceCandidateInit>),
    /// A connection's state changed.
    State(ParticipantId, RTCPeerConnectionState),
    /// The peer opened a data channel.
    RemoteChannel(ParticipantId, Arc<dyn DataChannel>),
    /// A data channel (by label) is open.
    ChannelOpen(ParticipantId, String),
    /// A message on a data channel (by label).
    ChannelData(ParticipantId, String, Vec<u8>),
}

/// What the client task must do.
pub(crate) enum MediaOutput {
    /// Relay to a peer through the hub.
    Signal { to: ParticipantId, signal: Signal },
    /// Tell the app.
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
    /// The device's media state with a fresh ECDSA P-256 DTLS certificate.
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

    /// Where callbacks and commands post their inputs.
    pub(crate) fn sender(&self) -> mpsc::UnboundedSender<MediaInput> {
        self.tx.clone()
    }

    /// The inputs' receiving end, for the client task (once).
    pub(crate) fn take_receiver(&mut self) -> Option<mpsc::UnboundedReceiver<MediaInput>> {
        self.rx.take()
    }

    /// Closes every peer connection.
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
}

//! WebRTC on native: one peer connection per remote participant, the
//! perfect-negotiation pattern, trickle ICE both ways, ICE restart on
//! failure or network change, and data channels, over any WebRTC stack
//! that implements [`backend`]'s traits: webrtc-rs (feature `webrtc`,
//! [`MediaConfig::webrtc_rs`]) or the app's platform WebRTC (`bedside-ffi`).
//!
//! Perfect negotiation is decided by the platform-free
//! [`crate::session::negotiator::Negotiator`], one per peer; this driver
//! performs the operations it asks for on the backend, one at a time, and
//! feeds each result back. Every step runs on the client's one task, so no
//! operation can race with incoming signals.
//!
//! All peer connections of a device share one DTLS certificate
//! ([`Certificate`], made here), whose fingerprint is signed into the
//! device's Hello: peers check it against every remote SDP (in the session
//! core) before anything reaches this module, and this module checks every
//! SDP the backend makes against it before it is set or sent, so a backend
//! that does not use the certificate cannot negotiate.
//!
//! The work is split by job, one module each: `backend` (the traits),
//! `peer` (opening a connection with the local tracks on it),
//! `negotiation` (performing what each peer's negotiator asks, and its
//! timers), `local` (the tracks this device sends), `remote` (the tracks it
//! receives) and `webrtc_rs` (the webrtc-rs backend). This file has the
//! inputs and outputs, the device's state, and the dispatch of session
//! events and inputs.

pub mod backend;
mod local;
mod negotiation;
mod peer;
mod remote;
#[cfg(test)]
mod tests;
#[cfg(feature = "webrtc")]
mod webrtc_rs;

pub use backend::{
    BackendError, Certificate, ConnectionState, IceCandidate, MediaBackend, PeerBackend,
    PeerEvents, PeerSetup, RtpPayloads, TrackInfo,
};
pub use local::{LocalMedia, LocalTrack};
pub use remote::RemoteTrack;
#[cfg(feature = "webrtc")]
pub use webrtc_rs::MediaConfig;

use super::now_ms;
use crate::session::negotiator::Negotiator;
use crate::session::{Event, MediaEvent, SdkError, Session, Signal};
use bedside_protocol::{LeftReason, ParticipantId, Permission, TrackSource};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Inputs of the media module: app commands and backend events.
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
    /// From the peer connection of generation `generation` to `peer` (a
    /// closed connection's late callbacks carry a stale one, and are
    /// dropped).
    Peer {
        peer: ParticipantId,
        generation: u64,
        event: PeerEvent,
    },
}

/// What a peer connection reported (through [`PeerEvents`]).
pub(crate) enum PeerEvent {
    /// It fired `negotiationneeded`.
    NegotiationNeeded,
    /// It received a remote track (its `a=msid` track id).
    RemoteTrack(String, Option<RtpPayloads>),
    /// A local ICE candidate (`None`: gathering finished).
    LocalIce(Option<IceCandidate>),
    /// Its state changed.
    State(ConnectionState),
    /// A data channel (by label) is open.
    ChannelOpen(String),
    /// A message on a data channel (by label).
    ChannelData(String, Vec<u8>),
}

/// What the client task must do.
pub(crate) enum MediaOutput {
    /// Relay to a peer through the hub.
    Signal { to: ParticipantId, signal: Signal },
    /// Tell the app.
    Event(Event),
}

struct Peer {
    pc: Arc<dyn PeerBackend>,
    /// Decides every negotiation step.
    neg: Negotiator,
    /// The local tracks sent on it.
    sending: HashSet<String>,
    /// Which connection to this participant it is (see [`MediaInput::Peer`]).
    generation: u64,
    /// The remote description set on it (see [`PeerEvents::track_id_at`]).
    remote: backend::RemoteDescription,
}

/// The device's peer connections.
pub(crate) struct Media {
    backend: Arc<dyn MediaBackend>,
    cert: Arc<Certificate>,
    peers: HashMap<ParticipantId, Peer>,
    local: HashMap<String, LocalTrack>,
    /// Remote tracks being received: their readers, to stop them.
    receiving: HashMap<(ParticipantId, String), Option<tokio::task::AbortHandle>>,
    /// Remote tracks waiting for the app to take them.
    unclaimed: HashMap<(ParticipantId, String), RemoteTrack>,
    /// The generation of the next peer connection.
    next_generation: u64,
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
    /// The device's media state on `backend`, with a fresh ECDSA P-256
    /// DTLS certificate (or the one given).
    pub(crate) fn new(
        backend: Arc<dyn MediaBackend>,
        cert: Option<Arc<Certificate>>,
    ) -> Result<Self, SdkError> {
        let cert = match cert {
            Some(c) => c,
            None => Arc::new(Certificate::generate().map_err(transport)?),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(Self {
            backend,
            cert,
            peers: HashMap::new(),
            local: HashMap::new(),
            receiving: HashMap::new(),
            unclaimed: HashMap::new(),
            next_generation: 0,
            tx,
            rx: Some(rx),
        })
    }

    /// `sha-256 AB:CD:…` of this device's DTLS certificate.
    pub(crate) fn dtls_fingerprint(&self) -> &str {
        self.cert.fingerprint()
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
            p.pc.close().await;
        }
        for (_, r) in self.receiving.drain() {
            if let Some(r) = r {
                r.abort();
            }
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
                self.close_peer(participant, &mut out).await;
            }
            Event::Permissions { participant, perms }
                if session.me() == Some(participant)
                    && !perms.contains(&Permission::ScreenShare) =>
            {
                // Revoked, maybe while a share was on its way (published
                // before this update reached us, so refused by the hub or
                // never announced to withdraw): stop every screen track.
                let screens: Vec<String> = self
                    .local
                    .values()
                    .filter(|t| t.source() == TrackSource::Screen)
                    .map(|t| t.track_id().to_owned())
                    .collect();
                for track_id in screens {
                    if self.remove_local(&track_id).await {
                        out.push(MediaOutput::Event(Event::Media(
                            MediaEvent::LocalTrackStopped { track_id },
                        )));
                    }
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
                    self.stop_remote(from, track_id.as_str(), &mut out).await;
                }
            }
            _ => {}
        }
        out
    }

    /// Handles an app command or a backend's event.
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
                let pc = self.peer(&peer)?.pc.clone();
                pc.open_data_channel(&label).await.map_err(transport)?;
            }
            MediaInput::SendData { peer, label, data } => {
                let pc = self.peer(&peer)?.pc.clone();
                pc.send_data(&label, data).await.map_err(transport)?;
            }
            MediaInput::RestartIce => {
                let ids: Vec<ParticipantId> = self.peers.keys().cloned().collect();
                for id in ids {
                    self.restart_ice(&id, out).await?;
                }
            }
            MediaInput::AddTrack(t) => {
                self.local.insert(t.track_id().to_owned(), t.clone());
                let ids: Vec<ParticipantId> = self.peers.keys().cloned().collect();
                for id in ids {
                    self.send_track_to(&id, &t).await?;
                }
            }
            MediaInput::RemoveTrack(id) => {
                self.remove_local(&id).await;
            }
            MediaInput::Peer {
                peer,
                generation,
                event,
            } => {
                if self.peers.get(&peer).map(|p| p.generation) != Some(generation) {
                    // A closed connection's late callback.
                    if let PeerEvent::RemoteTrack(_, Some(p)) = event {
                        p.reader.abort();
                    }
                    return Ok(());
                }
                self.peer_event(peer, event, session, out).await?;
            }
        }
        Ok(())
    }

    /// What the current connection to `peer` reported.
    async fn peer_event(
        &mut self,
        peer: ParticipantId,
        event: PeerEvent,
        session: &Session,
        out: &mut Vec<MediaOutput>,
    ) -> Result<(), SdkError> {
        match event {
            PeerEvent::RemoteTrack(track_id, payloads) => {
                self.remote_track(peer, track_id, payloads, session, out)
                    .await
            }
            PeerEvent::NegotiationNeeded => self.negotiate(&peer, out).await?,
            PeerEvent::LocalIce(cand) => {
                let (candidate, sdp_mid, sdp_mline_index) = match cand {
                    Some(c) => (c.candidate, c.sdp_mid, c.sdp_mline_index),
                    None => (String::new(), None, None),
                };
                let signal = Signal::Ice {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                };
                out.push(MediaOutput::Signal { to: peer, signal });
            }
            PeerEvent::State(state) => {
                out.push(MediaOutput::Event(Event::Media(MediaEvent::PeerState {
                    peer: peer.clone(),
                    state: state.as_str().to_owned(),
                })));
                self.peer(&peer)?
                    .neg
                    .connection_state(now_ms(), state.for_negotiation());
                self.drive(&peer, out).await?;
            }
            PeerEvent::ChannelOpen(label) => {
                out.push(MediaOutput::Event(Event::Media(
                    MediaEvent::DataChannelOpen { peer, label },
                )));
            }
            PeerEvent::ChannelData(label, data) => {
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

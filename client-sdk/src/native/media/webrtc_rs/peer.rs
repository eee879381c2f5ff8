//! A webrtc-rs peer connection behind [`PeerBackend`]: building it, the
//! operations the SDK asks for, its data channels and senders, and its
//! callbacks forwarded as [`PeerEvents`].

use super::{MediaConfig, certificate};
use crate::native::media::LocalTrack;
use crate::native::media::backend::{
    BackendError, ConnectionState, IceCandidate, PeerBackend, PeerEvents, PeerSetup, SdpKind,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceServer, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription, Registry, register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

/// One webrtc-rs connection.
pub(super) struct WebrtcRsPeer {
    pc: Arc<dyn PeerConnection>,
    channels: Arc<Mutex<HashMap<String, Arc<dyn DataChannel>>>>,
    senders: Mutex<HashMap<String, Arc<dyn RtpSender>>>,
    events: PeerEvents,
}

fn failed(e: impl std::fmt::Display) -> BackendError {
    BackendError::new(e)
}

/// A poisoned lock only means a panic elsewhere; the map is still whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl WebrtcRsPeer {
    /// Builds the connection for `setup`.
    pub(super) async fn open(
        cfg: &MediaConfig,
        setup: PeerSetup,
        events: PeerEvents,
    ) -> Result<Self, BackendError> {
        let mut media = MediaEngine::default();
        media.register_default_codecs().map_err(failed)?;
        let registry =
            register_default_interceptors(Registry::new(), &mut media).map_err(failed)?;
        let mut ice_servers = cfg.ice_servers.clone();
        ice_servers.extend(setup.ice_servers.iter().map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone().unwrap_or_default(),
            credential: s.credential.clone().unwrap_or_default(),
        }));
        let channels = Arc::new(Mutex::new(HashMap::new()));
        let pc = PeerConnectionBuilder::new()
            .with_configuration(
                RTCConfigurationBuilder::new()
                    .with_ice_servers(ice_servers)
                    .with_certificates(vec![certificate(&setup.certificate)?])
                    .build(),
            )
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(Handler {
                events: events.clone(),
                channels: channels.clone(),
            }))
            .with_udp_addrs(cfg.udp_addrs.clone())
            .build()
            .await
            .map_err(failed)?;
        Ok(Self {
            pc: Arc::new(pc),
            channels,
            senders: Mutex::new(HashMap::new()),
            events,
        })
    }
}

fn description(kind: SdpKind, sdp: String) -> Result<RTCSessionDescription, BackendError> {
    match kind {
        SdpKind::Offer => RTCSessionDescription::offer(sdp).map_err(failed),
        SdpKind::Answer => RTCSessionDescription::answer(sdp).map_err(failed),
    }
}

#[async_trait::async_trait]
impl PeerBackend for WebrtcRsPeer {
    async fn create_offer(&self, ice_restart: bool) -> Result<String, BackendError> {
        if ice_restart {
            self.pc.restart_ice().await.map_err(failed)?;
        }
        Ok(self.pc.create_offer(None).await.map_err(failed)?.sdp)
    }

    async fn create_answer(&self) -> Result<String, BackendError> {
        Ok(self.pc.create_answer(None).await.map_err(failed)?.sdp)
    }

    async fn set_local(&self, kind: SdpKind, sdp: String) -> Result<String, BackendError> {
        self.pc
            .set_local_description(description(kind, sdp)?)
            .await
            .map_err(failed)?;
        let local = self
            .pc
            .local_description()
            .await
            .ok_or_else(|| failed("no local description"))?;
        Ok(local.sdp)
    }

    async fn rollback(&self) -> Result<(), BackendError> {
        let rollback = RTCSessionDescription::rollback(None).map_err(failed)?;
        self.pc
            .set_local_description(rollback)
            .await
            .map_err(failed)
    }

    async fn set_remote(&self, kind: SdpKind, sdp: String) -> Result<(), BackendError> {
        self.pc
            .set_remote_description(description(kind, sdp)?)
            .await
            .map_err(failed)
    }

    async fn add_candidate(&self, c: IceCandidate) -> Result<(), BackendError> {
        let init = RTCIceCandidateInit {
            candidate: c.candidate,
            sdp_mid: c.sdp_mid,
            sdp_mline_index: c.sdp_mline_index.and_then(|i| u16::try_from(i).ok()),
            ..Default::default()
        };
        self.pc.add_ice_candidate(init).await.map_err(failed)
    }

    async fn add_track(&self, track: &LocalTrack) -> Result<(), BackendError> {
        let sample = track
            .media()
            .and_then(|m| m.as_any().downcast_ref::<super::track::SampleTrack>())
            .ok_or_else(|| failed("not a webrtc-rs track"))?;
        let sender = self
            .pc
            .add_track(Arc::clone(&sample.track) as Arc<dyn TrackLocal>)
            .await
            .map_err(failed)?;
        lock(&self.senders).insert(track.track_id().to_owned(), sender);
        Ok(())
    }

    async fn remove_track(&self, track_id: &str) -> Result<(), BackendError> {
        let sender = lock(&self.senders).remove(track_id);
        match sender {
            Some(s) => self.pc.remove_track(&s).await.map_err(failed),
            None => Ok(()),
        }
    }

    async fn open_data_channel(&self, label: &str) -> Result<(), BackendError> {
        let dc: Arc<dyn DataChannel> = self
            .pc
            .create_data_channel(label, None)
            .await
            .map_err(failed)?;
        super::data_channel::watch(&self.events, label.to_owned(), dc.clone());
        lock(&self.channels).insert(label.to_owned(), dc);
        Ok(())
    }

    async fn send_data(&self, label: &str, data: Vec<u8>) -> Result<(), BackendError> {
        let dc = lock(&self.channels)
            .get(label)
            .cloned()
            .ok_or_else(|| failed("no such data channel"))?;
        dc.send(bytes::BytesMut::from(&data[..]))
            .await
            .map_err(failed)
    }

    async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

struct Handler {
    events: PeerEvents,
    channels: Arc<Mutex<HashMap<String, Arc<dyn DataChannel>>>>,
}

fn state(s: RTCPeerConnectionState) -> ConnectionState {
    match s {
        RTCPeerConnectionState::Connecting => ConnectionState::Connecting,
        RTCPeerConnectionState::Connected => ConnectionState::Connected,
        RTCPeerConnectionState::Disconnected => ConnectionState::Disconnected,
        RTCPeerConnectionState::Failed => ConnectionState::Failed,
        RTCPeerConnectionState::Closed => ConnectionState::Closed,
        _ => ConnectionState::New,
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_negotiation_needed(&self) {
        self.events.negotiation_needed();
    }

    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            self.events.local_candidate(Some(IceCandidate {
                candidate: init.candidate,
                sdp_mid: init.sdp_mid,
                sdp_mline_index: init.sdp_mline_index.map(u32::from),
            }));
        }
    }

    async fn on_connection_state_change(&self, s: RTCPeerConnectionState) {
        self.events.state(state(s));
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        let Ok(label) = dc.label().await else {
            return;
        };
        super::data_channel::watch(&self.events, label.clone(), dc.clone());
        lock(&self.channels).insert(label, dc);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let track_id = track.track_id().await.to_string();
        let payloads = super::track::read_payloads(track);
        self.events.remote_track(track_id, Some(payloads));
    }
}

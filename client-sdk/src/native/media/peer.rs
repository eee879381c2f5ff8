//! One peer connection per remote participant: building it (default codecs
//! and interceptors, the app's and the hub's ICE servers, the device's
//! certificate, the polite or impolite role), sending it the local tracks,
//! and its webrtc-rs callbacks, forwarded to the client task as inputs.

use super::{LocalTrack, Media, MediaInput, Peer, transport};
use crate::session::negotiator::Negotiator;
use crate::session::{SdkError, Session};
use bedside_protocol::ParticipantId;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceServer, RTCPeerConnectionIceEvent, RTCPeerConnectionState, Registry,
    register_default_interceptors,
};

impl Media {
    /// The connection to `id`, or a transport error if there is none.
    pub(super) fn peer(&mut self, id: &ParticipantId) -> Result<&mut Peer, SdkError> {
        self.peers
            .get_mut(id)
            .ok_or_else(|| transport("no peer connection to that participant"))
    }

    /// Opens the connection to `peer` if there is none, with the local
    /// tracks on it.
    pub(super) async fn ensure_peer(
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

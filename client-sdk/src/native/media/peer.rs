//! One peer connection per remote participant: opened on the backend with
//! the hub's ICE servers, the device's certificate and the polite or
//! impolite role, with the local tracks on it.

use super::backend::{PeerEvents, PeerSetup, RemoteDescription};
use super::{LocalTrack, Media, MediaOutput, Peer, transport};
use crate::session::negotiator::Negotiator;
use crate::session::{SdkError, Session};
use bedside_protocol::ParticipantId;
use std::collections::HashSet;

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
        // The smaller participant id is impolite.
        let polite = me.as_str() > peer.as_str();
        let setup = PeerSetup {
            peer: peer.clone(),
            polite,
            ice_servers: session.ice_servers().to_vec(),
            certificate: self.cert.clone(),
        };
        let generation = self.next_generation;
        self.next_generation += 1;
        let remote = RemoteDescription::default();
        let events = PeerEvents {
            peer: peer.clone(),
            generation,
            tx: self.tx.clone(),
            remote: remote.clone(),
        };
        let pc = self
            .backend
            .create_peer(setup, events)
            .await
            .map_err(transport)?;
        self.peers.insert(
            peer.clone(),
            Peer {
                pc,
                neg: Negotiator::new(polite),
                sending: HashSet::new(),
                generation,
                remote,
            },
        );
        let tracks: Vec<LocalTrack> = self.local.values().cloned().collect();
        for t in tracks {
            self.send_track_to(peer, &t).await?;
        }
        Ok(())
    }

    /// Closes the connection to `peer` (if any) and stops what it
    /// received; its late callbacks are dropped.
    pub(super) async fn close_peer(&mut self, peer: &ParticipantId, out: &mut Vec<MediaOutput>) {
        let theirs: Vec<String> = self
            .receiving
            .keys()
            .filter(|(p, _)| p == peer)
            .map(|(_, t)| t.clone())
            .collect();
        for t in theirs {
            self.stop_remote(peer, &t, out).await;
        }
        if let Some(p) = self.peers.remove(peer) {
            p.pc.close().await;
        }
    }
}

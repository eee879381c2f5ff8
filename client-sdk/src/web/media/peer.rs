//! One `RTCPeerConnection` per admitted remote participant: opening it (the
//! device's certificate, the app's and the hub's ICE servers, the local
//! tracks, the polite or impolite role), its callbacks, posted to the
//! mailbox with the connection's generation, and closing it (withdrawing
//! the ids only its descriptions carried, stopping its remote tracks).

use super::local::send_on;
use super::{Handlers, Media, MediaInput, MediaOut, Peer, PeerEvent, handle};
use crate::session::negotiator::{Negotiator, PeerState};
use crate::session::quality::QualityMeter;
use crate::session::{SdkError, Session, Signal};
use crate::web::transport;
use bedside_protocol::ParticipantId;
use js_sys::Array;
use std::collections::BTreeSet;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    Event as DomEvent, RtcConfiguration, RtcIceServer, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcPeerConnectionState,
};

fn peer_state(s: RtcPeerConnectionState) -> (PeerState, &'static str) {
    match s {
        RtcPeerConnectionState::New => (PeerState::Connecting, "new"),
        RtcPeerConnectionState::Connecting => (PeerState::Connecting, "connecting"),
        RtcPeerConnectionState::Connected => (PeerState::Connected, "connected"),
        RtcPeerConnectionState::Disconnected => (PeerState::Disconnected, "disconnected"),
        RtcPeerConnectionState::Failed => (PeerState::Failed, "failed"),
        RtcPeerConnectionState::Closed => (PeerState::Closed, "closed"),
        _ => (PeerState::Connecting, "new"),
    }
}

impl Media {
    /// Opens the connection to `id` if there is none (reporting a failure
    /// as an error event).
    pub(super) fn ensure_peer(&mut self, id: &ParticipantId, s: &Session) {
        if self.peers.contains_key(id) {
            return;
        }
        if let Err(e) = self.open_peer(id, s) {
            self.error(e);
        }
    }

    fn open_peer(&mut self, id: &ParticipantId, s: &Session) -> Result<(), SdkError> {
        let me = s.me().ok_or(SdkError::NotConnected)?;
        let config = RtcConfiguration::new();
        config.set_certificates(&Array::of1(&self.cert));
        let servers = Array::new();
        for server in self.ice_servers.iter().chain(s.ice_servers()) {
            let ice = RtcIceServer::new();
            let urls: Array = server.urls.iter().map(|u| JsValue::from_str(u)).collect();
            ice.set_urls(&urls);
            if let Some(u) = &server.username {
                ice.set_username(u);
            }
            if let Some(c) = &server.credential {
                ice.set_credential(c);
            }
            servers.push(&ice);
        }
        config.set_ice_servers(&servers);
        let pc = RtcPeerConnection::new_with_configuration(&config)
            .map_err(transport("RTCPeerConnection"))?;
        self.next_generation += 1;
        let generation = self.next_generation;
        let post_for = |make: fn(&DomEvent) -> Option<PeerEvent>| {
            let post = Rc::clone(&self.post);
            let peer = id.clone();
            Closure::<dyn FnMut(DomEvent)>::new(move |e: DomEvent| {
                if let Some(event) = make(&e) {
                    post(MediaInput::Peer {
                        peer: peer.clone(),
                        generation,
                        event,
                    });
                }
            })
        };
        let negotiation = post_for(|_| Some(PeerEvent::NegotiationNeeded));
        let state = post_for(|e| {
            let pc = e.target()?.dyn_into::<RtcPeerConnection>().ok()?;
            let (state, name) = peer_state(pc.connection_state());
            Some(PeerEvent::State(state, name))
        });
        let track = post_for(|_| Some(PeerEvent::Track));
        let ice = {
            let post = Rc::clone(&self.post);
            let peer = id.clone();
            Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(
                move |e: RtcPeerConnectionIceEvent| {
                    // End-of-candidates is not signalled: browsers don't need it.
                    let Some(c) = e.candidate().filter(|c| !c.candidate().is_empty()) else {
                        return;
                    };
                    post(MediaInput::Peer {
                        peer: peer.clone(),
                        generation,
                        event: PeerEvent::LocalIce(Signal::Ice {
                            candidate: c.candidate(),
                            sdp_mid: c.sdp_mid(),
                            sdp_mline_index: c.sdp_m_line_index().map(u32::from),
                        }),
                    });
                },
            )
        };
        pc.set_onnegotiationneeded(Some(negotiation.as_ref().unchecked_ref()));
        pc.set_onicecandidate(Some(ice.as_ref().unchecked_ref()));
        pc.set_onconnectionstatechange(Some(state.as_ref().unchecked_ref()));
        pc.set_ontrack(Some(track.as_ref().unchecked_ref()));
        let mut senders = Vec::new();
        for l in &self.locals {
            senders.push((handle(&l.track), send_on(&pc, &l.track, &l.stream)));
        }
        self.peers.insert(
            id.clone(),
            Peer {
                pc,
                generation,
                // The smaller participant id is impolite (as on native).
                neg: Negotiator::new(me.as_str() > id.as_str()),
                busy: None,
                state: PeerState::Connecting,
                senders,
                quality: QualityMeter::new(),
                stats_due: None,
                stats_busy: false,
                refused: BTreeSet::new(),
                _handlers: Handlers {
                    _negotiation: negotiation,
                    _ice: ice,
                    _state: state,
                    _track: track,
                },
            },
        );
        Ok(())
    }

    /// Closes the connection to `id`, withdraws the ids only its
    /// descriptions carried and stops its remote tracks.
    pub(super) fn close_peer(&mut self, id: &ParticipantId) {
        if let Some(p) = self.peers.remove(id) {
            p.detach();
            p.pc.close();
        }
        // Ids only this peer's descriptions carried are withdrawn, so the
        // announcements do not pile up over a long visit.
        self.retired.retain(|track_id, (_, peers)| {
            peers.remove(id);
            let keep = !peers.is_empty();
            if !keep {
                self.out.push(MediaOut::Unpublish(track_id.clone()));
            }
            keep
        });
        for local in &mut self.locals {
            local.announced.retain(|track_id, peers| {
                peers.remove(id);
                let keep = !peers.is_empty();
                if !keep {
                    self.out.push(MediaOut::Unpublish(track_id.clone()));
                }
                keep
            });
        }
        let theirs: Vec<String> = self
            .receiving
            .keys()
            .filter(|(p, _)| p == id)
            .map(|(_, t)| t.clone())
            .collect();
        for t in theirs {
            self.stop_remote(id, &t);
        }
    }

    /// Closes every connection (the session ended).
    pub(crate) fn close_all(&mut self) {
        let ids: Vec<ParticipantId> = self.peers.keys().cloned().collect();
        for id in ids {
            self.close_peer(&id);
        }
    }
}

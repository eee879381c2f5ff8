//! Perfect negotiation on webrtc-rs: what each peer's negotiator asks
//! (offers, answers, descriptions, rollback, candidates, ICE restart)
//! performed one operation at a time and fed back, the signals it releases,
//! incoming signals, and the negotiators' timers.

use super::{Media, MediaOutput, transport};
use crate::native::now_ms;
use crate::session::negotiator::{self, Op, OpResult, PeerState, SdpKind};
use crate::session::{Event, SdkError, Session, Signal};
use bedside_protocol::ParticipantId;
use webrtc::peer_connection::{
    PeerConnection, RTCIceCandidateInit, RTCPeerConnectionState, RTCSessionDescription,
};

impl Media {
    /// The connection to `peer` fired `negotiationneeded`.
    pub(super) async fn negotiate(
        &mut self,
        peer: &ParticipantId,
        out: &mut Vec<MediaOutput>,
    ) -> Result<(), SdkError> {
        self.peer(peer)?.neg.negotiation_needed(now_ms());
        self.drive(peer, out).await
    }

    /// Restarts ICE with `peer` (a network change).
    pub(super) async fn restart_ice(
        &mut self,
        peer: &ParticipantId,
        out: &mut Vec<MediaOutput>,
    ) -> Result<(), SdkError> {
        self.peer(peer)?.neg.restart_ice(now_ms());
        self.drive(peer, out).await
    }

    /// A signal from `peer` (already checked by the session); an offer
    /// opens the connection if there is none.
    pub(super) async fn signal(
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
    pub(super) async fn drive(
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

/// The negotiator's view of a webrtc-rs connection state.
pub(super) fn peer_state(state: RTCPeerConnectionState) -> PeerState {
    match state {
        RTCPeerConnectionState::Connected => PeerState::Connected,
        RTCPeerConnectionState::Disconnected => PeerState::Disconnected,
        RTCPeerConnectionState::Failed => PeerState::Failed,
        RTCPeerConnectionState::Closed => PeerState::Closed,
        _ => PeerState::Connecting,
    }
}

//! Perfect negotiation on `RTCPeerConnection`: what each peer's negotiator
//! asks (offers, answers, descriptions, rollback, candidates, ICE restart)
//! performed one promise at a time per peer, each result posted back, and
//! the signals it releases.

use super::{Busy, Media, MediaInput, MediaOut, PeerEvent, get};
use crate::session::negotiator::{self, Op, OpResult, SdpKind};
use crate::session::{Event, SdkError};
use crate::web::{WebEvent, js_error, now_ms};
use bedside_protocol::ParticipantId;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    RtcIceCandidateInit, RtcOfferOptions, RtcPeerConnection, RtcSdpType, RtcSessionDescriptionInit,
};

impl Media {
    /// The network changed: restart ICE everywhere.
    pub(crate) fn restart_ice(&mut self) {
        let ids: Vec<ParticipantId> = self.peers.keys().cloned().collect();
        for id in ids {
            if let Some(p) = self.peers.get_mut(&id) {
                p.neg.restart_ice(now_ms());
            }
            self.drive(&id);
        }
    }

    /// Performs what the peer's negotiator asks, one operation at a time:
    /// signals go out at once; the next operation starts when the previous
    /// one's promise settled (it comes back as [`PeerEvent::OpDone`]).
    pub(super) fn drive(&mut self, id: &ParticipantId) {
        let Some(p) = self.peers.get_mut(id) else {
            return;
        };
        while let Some(o) = p.neg.poll_output() {
            match o {
                negotiator::Output::Signal(signal) => self.out.push(MediaOut::Signal {
                    to: id.clone(),
                    signal,
                }),
                negotiator::Output::Error(e) => self.out.push(MediaOut::Event(WebEvent::Event(
                    Event::Error(SdkError::Transport(e)),
                ))),
                negotiator::Output::IgnoredOffer | negotiator::Output::IceRestart { .. } => {}
            }
        }
        if p.busy.is_some() {
            return;
        }
        let Some(op) = p.neg.poll_op() else {
            return;
        };
        p.busy = Some(match op {
            Op::SetLocal { .. } => Busy::SetLocal,
            Op::SetRemote { .. } => Busy::SetRemote,
            _ => Busy::Other,
        });
        let pc = p.pc.clone();
        let post = Rc::clone(&self.post);
        let generation = p.generation;
        let peer = id.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let what = match &op {
                Op::CreateOffer { .. } => "createOffer",
                Op::CreateAnswer => "createAnswer",
                Op::SetLocal { .. } | Op::Rollback => "setLocalDescription",
                Op::SetRemote { .. } => "setRemoteDescription",
                Op::AddCandidate { .. } => "addIceCandidate",
            };
            let result = match perform(&pc, op).await {
                Ok(r) => r,
                Err(e) => OpResult::Failed(js_error(what, &e)),
            };
            post(MediaInput::Peer {
                peer,
                generation,
                event: PeerEvent::OpDone(result),
            });
        });
    }
}

fn description(kind: SdpKind, sdp: &str) -> RtcSessionDescriptionInit {
    let d = RtcSessionDescriptionInit::new(match kind {
        SdpKind::Offer => RtcSdpType::Offer,
        SdpKind::Answer => RtcSdpType::Answer,
    });
    d.set_sdp(sdp);
    d
}

fn sdp_of(description: &JsValue) -> Result<String, JsValue> {
    get(description, "sdp")
        .and_then(|s| s.as_string())
        .ok_or_else(|| JsValue::from_str("the browser returned no SDP"))
}

/// One negotiation operation on an `RTCPeerConnection`.
async fn perform(pc: &RtcPeerConnection, op: Op) -> Result<OpResult, JsValue> {
    Ok(match op {
        Op::CreateOffer { ice_restart } => {
            let options = RtcOfferOptions::new();
            options.set_ice_restart(ice_restart);
            let offer = JsFuture::from(pc.create_offer_with_rtc_offer_options(&options)).await?;
            OpResult::Sdp(sdp_of(&offer)?)
        }
        Op::CreateAnswer => OpResult::Sdp(sdp_of(&JsFuture::from(pc.create_answer()).await?)?),
        Op::SetLocal { kind, sdp } => {
            JsFuture::from(pc.set_local_description(&description(kind, &sdp))).await?;
            let local = pc
                .local_description()
                .ok_or_else(|| JsValue::from_str("no local description"))?;
            OpResult::Sdp(local.sdp())
        }
        Op::Rollback => {
            let rollback = RtcSessionDescriptionInit::new(RtcSdpType::Rollback);
            JsFuture::from(pc.set_local_description(&rollback)).await?;
            OpResult::Done
        }
        Op::SetRemote { kind, sdp } => {
            JsFuture::from(pc.set_remote_description(&description(kind, &sdp))).await?;
            OpResult::Done
        }
        Op::AddCandidate {
            candidate,
            sdp_mid,
            sdp_mline_index,
        } => {
            if !candidate.is_empty() {
                let init = RtcIceCandidateInit::new(&candidate);
                init.set_sdp_mid(sdp_mid.as_deref());
                init.set_sdp_m_line_index(sdp_mline_index.and_then(|i| u16::try_from(i).ok()));
                JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init)))
                    .await?;
            }
            OpResult::Done
        }
    })
}

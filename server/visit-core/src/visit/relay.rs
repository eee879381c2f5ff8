//! Negotiation relay (section 5): offer, answer and ice between present
//! members of this visit only, `from` stamped by the hub.

use super::{ConnId, Visit};
use crate::audit::{Action, Outcome};
use crate::sdp::SdpSummary;
use bedside_protocol::{ErrorCode, MessageId, ParticipantId, ServerMessage};

impl Visit {
    fn relay_target(
        &mut self,
        conn: ConnId,
        from: &ParticipantId,
        to: &ParticipantId,
        id: &Option<MessageId>,
    ) -> Option<ConnId> {
        if to == from {
            self.error(
                conn,
                ErrorCode::BadRequest,
                "cannot send to yourself",
                id.clone(),
            );
            return None;
        }
        let target = self.present_conn(to);
        if target.is_none() {
            self.error(
                conn,
                ErrorCode::NotFound,
                "no such admitted participant in this visit",
                id.clone(),
            );
        }
        target
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn relay_sdp(
        &mut self,
        conn: ConnId,
        from: &ParticipantId,
        to: ParticipantId,
        sdp: String,
        summary: Option<SdpSummary>,
        offer: bool,
        id: Option<MessageId>,
    ) {
        let Some(target) = self.relay_target(conn, from, &to, &id) else {
            return;
        };
        let Some(summary) = summary else {
            // The connection validates every SDP before the visit sees it.
            self.error(conn, ErrorCode::Internal, "SDP was not validated", id);
            return;
        };
        if let Err(v) = self.check_sdp_tracks(from, &summary) {
            let e = self
                .event(from, Action::SdpRejected, Outcome::Denied)
                .target(&to)
                .detail("rule", v.rule);
            self.audit_written(e);
            let mut msg = ServerMessage::error(ErrorCode::InvalidSdp, v.detail, id);
            if let ServerMessage::Error(body) = &mut msg {
                body.rule = Some(v.rule.to_owned());
            }
            self.send_one(conn, msg);
            return;
        }
        let action = if offer {
            Action::SignalOffer
        } else {
            Action::SignalAnswer
        };
        let e = self
            .event(from, action, Outcome::Success)
            .target(&to)
            .detail("bytes", sdp.len() as u64);
        self.audit_written(e);
        let from = from.clone();
        let msg = if offer {
            ServerMessage::Offer { from, sdp }
        } else {
            ServerMessage::Answer { from, sdp }
        };
        self.send_one(target, msg);
        self.ack(conn, id);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn relay_ice(
        &mut self,
        conn: ConnId,
        from: &ParticipantId,
        to: ParticipantId,
        candidate: String,
        sdp_mid: Option<String>,
        sdp_mline_index: Option<u32>,
        id: Option<MessageId>,
    ) {
        let Some(target) = self.relay_target(conn, from, &to, &id) else {
            return;
        };
        self.send_one(
            target,
            ServerMessage::Ice {
                from: from.clone(),
                candidate,
                sdp_mid,
                sdp_mline_index,
            },
        );
        self.ack(conn, id);
    }
}

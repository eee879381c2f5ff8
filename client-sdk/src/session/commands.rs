//! Commands from the app: admitting, denying and removing participants,
//! granting and revoking permissions, asking for screen sharing, track
//! announcements, chat, identity decisions, leaving and ending the visit.
//! (Signals are relayed by `signals`.)

use super::link::LinkState;
use super::{EndReason, SdkError, Session};
use bedside_protocol::{
    ClientMessage, E2eKind, ParticipantId, Permission, TrackAction, TrackId, TrackSource,
};

impl Session {
    // ---- commands from the app ----

    /// Admits a waiting participant (provider).
    pub fn admit(&mut self, now_ms: u64, who: &ParticipantId) -> Result<(), SdkError> {
        let participant = who.clone();
        self.command(now_ms, ClientMessage::Admit { participant })
    }

    /// Denies a waiting participant (provider).
    pub fn deny(
        &mut self,
        now_ms: u64,
        who: &ParticipantId,
        reason: Option<String>,
    ) -> Result<(), SdkError> {
        let participant = who.clone();
        self.command(
            now_ms,
            ClientMessage::Deny {
                participant,
                reason,
            },
        )
    }

    /// Removes an admitted participant (provider).
    pub fn remove(
        &mut self,
        now_ms: u64,
        who: &ParticipantId,
        reason: Option<String>,
    ) -> Result<(), SdkError> {
        let participant = who.clone();
        self.command(
            now_ms,
            ClientMessage::Remove {
                participant,
                reason,
            },
        )
    }

    /// Grants a permission (provider).
    pub fn grant(
        &mut self,
        now_ms: u64,
        who: &ParticipantId,
        permission: Permission,
    ) -> Result<(), SdkError> {
        let participant = who.clone();
        self.command(
            now_ms,
            ClientMessage::Grant {
                participant,
                permission,
            },
        )
    }

    /// Revokes a permission (provider).
    pub fn revoke(
        &mut self,
        now_ms: u64,
        who: &ParticipantId,
        permission: Permission,
    ) -> Result<(), SdkError> {
        let participant = who.clone();
        self.command(
            now_ms,
            ClientMessage::Revoke {
                participant,
                permission,
            },
        )
    }

    /// Asks the providers for screen sharing.
    pub fn request_screen_share(&mut self, now_ms: u64) -> Result<(), SdkError> {
        self.command(
            now_ms,
            ClientMessage::Request {
                permission: Permission::ScreenShare,
            },
        )
    }

    /// Announces a track before sending it.
    pub fn publish_track(
        &mut self,
        now_ms: u64,
        source: TrackSource,
        track_id: &str,
    ) -> Result<(), SdkError> {
        let track_id = TrackId::new(track_id).map_err(|e| SdkError::InvalidId(e.to_string()))?;
        if source == TrackSource::Screen && !self.has_permission(Permission::ScreenShare) {
            // The hub would refuse it; the app learns why at once.
            return Err(SdkError::NotPermitted(Permission::ScreenShare));
        }
        self.command(
            now_ms,
            ClientMessage::Track {
                action: TrackAction::Publish,
                source: Some(source),
                track_id,
            },
        )
    }

    /// Withdraws a track announcement.
    pub fn unpublish_track(&mut self, now_ms: u64, track_id: &str) -> Result<(), SdkError> {
        let track_id = TrackId::new(track_id).map_err(|e| SdkError::InvalidId(e.to_string()))?;
        self.command(
            now_ms,
            ClientMessage::Track {
                action: TrackAction::Unpublish,
                source: None,
                track_id,
            },
        )
    }

    /// Sends an end-to-end encrypted chat message to everyone admitted.
    /// Returns its message id. Held and re-sent until the hub stores it.
    pub fn send_chat(&mut self, now_ms: u64, text: &str) -> Result<String, SdkError> {
        if self.link.state == LinkState::Done {
            return Err(SdkError::Ended);
        }
        let group = self.e2e.group.as_mut().ok_or(SdkError::NotAdmitted)?;
        let (body, id, outs) = group
            .seal_chat(text, now_ms, &mut self.rng)
            .map_err(|error| SdkError::E2ee {
                from: String::new(),
                error,
            })?;
        self.group_outputs(now_ms, outs);
        self.send_e2e(now_ms, None, E2eKind::Chat, &body, Some(&id));
        Ok(id)
    }

    /// Accepts `peer`'s changed identity key (after the user compared the
    /// safety number).
    pub fn accept_identity(&mut self, now_ms: u64, peer: &ParticipantId) {
        if let Some(g) = self.e2e.group.as_mut() {
            let outs = g.accept_identity(peer.as_str(), now_ms, &mut self.rng);
            self.group_outputs(now_ms, outs);
        }
    }

    /// Marks `peer` as verified (the user compared the safety number).
    pub fn mark_verified(&mut self, peer: &ParticipantId) {
        if let Some(g) = self.e2e.group.as_mut() {
            g.mark_verified(peer.as_str());
        }
    }

    /// Leaves the visit.
    pub fn leave(&mut self, now_ms: u64) {
        if self.link.state == LinkState::Open {
            self.flush_ack(now_ms);
            self.send_now(now_ms, &ClientMessage::Leave, None);
        }
        self.finish(EndReason::Left);
    }

    /// Ends the visit for everyone (provider).
    pub fn end_visit(&mut self, now_ms: u64) -> Result<(), SdkError> {
        self.command(now_ms, ClientMessage::EndVisit)
    }
}

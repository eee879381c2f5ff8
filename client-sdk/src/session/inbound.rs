//! Frames from the hub: what each server message changes, and the visit as
//! the hub shows it (this participant and its state, the participants
//! present with their permissions, keys and announced tracks, the ICE
//! servers).

use super::link::LinkState;
use super::{
    ConnectionState, EndReason, Event, HOUSEKEEPING_MS, Output, SdkError, Session, Signal,
    TokenPurpose,
};
use crate::e2ee::Group;
use bedside_protocol::{
    ErrorCode, IceServer, LeftReason, Participant, ParticipantId, ParticipantState, ServerMessage,
    TrackAction, TrackId, TrackSource,
};
use std::collections::BTreeMap;

/// The visit's part of the [`Session`]: what the hub last showed.
#[derive(Default)]
pub(super) struct Visit {
    pub(super) me: Option<ParticipantId>,
    pub(super) state: Option<ParticipantState>,
    pub(super) participants: BTreeMap<ParticipantId, Participant>,
    pub(super) ice_servers: Vec<IceServer>,
    /// An `admitted` arrived since the last `welcome`: `participants` is
    /// who is present now.
    pub(super) roster_known: bool,
}

impl Session {
    /// A text frame from the hub.
    pub fn on_frame(&mut self, now_ms: u64, text: &str) {
        let msg = match ServerMessage::from_json(text) {
            Ok(m) => m,
            Err(_) => {
                self.event(Event::Error(SdkError::Protocol));
                return;
            }
        };
        if matches!(
            self.link.state,
            LinkState::Handshake { .. } | LinkState::Open
        ) {
            self.handle(now_ms, msg);
        }
    }

    fn handle(&mut self, now_ms: u64, msg: ServerMessage) {
        match msg {
            ServerMessage::Welcome {
                visit,
                participant,
                state,
                resume_token,
                expires_at,
                limits,
                ice_servers,
                ..
            } => {
                self.visit.ice_servers = ice_servers;
                self.link.state = LinkState::Open;
                self.visit.roster_known = false;
                self.link.attempt = 0;
                self.link.auth_failures = 0;
                self.link.resume_token = Some(resume_token);
                self.link.expires_at_ms = u64::try_from(expires_at.to_ms().0).ok();
                self.link.idle_timeout_ms = limits.idle_timeout_s.saturating_mul(1000);
                self.visit.state = Some(state);
                self.housekeeping_at = now_ms + HOUSEKEEPING_MS;
                if self.e2e.group.is_none()
                    && let Some(identity) = self.e2e.identity.take()
                {
                    let mut g = Group::new(
                        identity,
                        std::mem::take(&mut self.e2e.pins),
                        visit.as_str(),
                        participant.id.as_str(),
                        &self.cfg.dtls_fingerprint,
                    );
                    let outs = g.begin(now_ms, &mut self.rng);
                    self.e2e.group = Some(g);
                    self.group_outputs(now_ms, outs);
                }
                self.visit.me = Some(participant.id.clone());
                if let Some(b) = self.current_bundle() {
                    self.publish_bundle(now_ms, b);
                }
                // Messages the hub may not have stored: send again. Duplicates
                // are dropped by the recipients (replay check, message id).
                let resend: Vec<String> = self.e2e.outbox.iter().map(|p| p.json.clone()).collect();
                for j in resend {
                    self.out.push_back(Output::Send(j));
                }
                self.event(Event::Connection(ConnectionState::Connected));
                self.event(Event::Welcome { participant, state });
                if state == ParticipantState::Waiting {
                    self.event(Event::Waiting);
                }
            }
            ServerMessage::Lobby { waiting } => self.event(Event::Lobby { waiting }),
            ServerMessage::Presence { providers } => self.event(Event::Presence { providers }),
            ServerMessage::Admitted { participants } => {
                self.visit.state = Some(ParticipantState::Admitted);
                let ids: Vec<String> = participants.iter().map(|p| p.id.to_string()).collect();
                let bundles: Vec<(String, String)> = participants
                    .iter()
                    .filter_map(|p| Some((p.id.to_string(), p.keys.as_ref()?.get().to_owned())))
                    .collect();
                // A member that dropped its connection is still a member:
                // keep those we knew of who are not back yet.
                let mut roster: Vec<String> = self
                    .e2e
                    .group
                    .as_ref()
                    .map(|g| g.roster().map(str::to_owned).collect())
                    .unwrap_or_default();
                roster.extend(ids);
                self.visit.participants = participants
                    .iter()
                    .map(|p| (p.id.clone(), p.clone()))
                    .collect();
                if let Some(g) = self.e2e.group.as_mut() {
                    let outs =
                        g.set_roster(roster.iter().map(String::as_str), now_ms, &mut self.rng);
                    self.group_outputs(now_ms, outs);
                }
                for (from, b) in bundles {
                    self.peer_bundle(now_ms, &from, &b);
                }
                self.visit.roster_known = true;
                self.event(Event::Admitted { participants });
                self.flush_signals(now_ms);
            }
            ServerMessage::Denied { reason } => {
                self.finish(EndReason::Denied { reason });
            }
            ServerMessage::Joined { participant } => {
                let id = participant.id.to_string();
                if let Some(g) = self.e2e.group.as_mut() {
                    let outs = g.member_joined(&id, now_ms, &mut self.rng);
                    self.group_outputs(now_ms, outs);
                }
                if let Some(b) = participant.keys.as_ref().map(|k| k.get().to_owned()) {
                    self.peer_bundle(now_ms, &id, &b);
                }
                self.visit
                    .participants
                    .insert(participant.id.clone(), participant.clone());
                self.event(Event::Joined { participant });
                self.flush_signals(now_ms);
            }
            ServerMessage::Left {
                participant,
                reason,
            } => {
                self.visit.participants.remove(&participant);
                if reason != LeftReason::Closed
                    && let Some(g) = self.e2e.group.as_mut()
                {
                    let outs = g.member_left(participant.as_str(), now_ms, &mut self.rng);
                    self.group_outputs(now_ms, outs);
                }
                if reason != LeftReason::Closed {
                    self.signals.outgoing.retain(|(to, _)| *to != participant);
                }
                self.event(Event::Left {
                    participant,
                    reason,
                });
            }
            ServerMessage::Offer { from, sdp } => {
                self.incoming_signal(now_ms, from, Signal::Offer(sdp))
            }
            ServerMessage::Answer { from, sdp } => {
                self.incoming_signal(now_ms, from, Signal::Answer(sdp))
            }
            ServerMessage::Ice {
                from,
                candidate,
                sdp_mid,
                sdp_mline_index,
            } => self.incoming_signal(
                now_ms,
                from,
                Signal::Ice {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                },
            ),
            ServerMessage::Track {
                action,
                from,
                source,
                track_id,
            } => self.track(from, action, source, track_id),
            ServerMessage::PermissionRequested {
                participant,
                permission,
            } => self.event(Event::PermissionRequested {
                participant,
                permission,
            }),
            ServerMessage::Permissions { participant, perms } => {
                if let Some(p) = self.visit.participants.get_mut(&participant) {
                    p.perms = perms.clone();
                }
                self.event(Event::Permissions { participant, perms });
            }
            ServerMessage::Keys { from, bundle } => {
                if let Some(p) = self.visit.participants.get_mut(&from) {
                    p.keys = Some(bundle.clone());
                }
                self.peer_bundle(now_ms, from.as_str(), bundle.get());
            }
            ServerMessage::E2e {
                from,
                seq,
                kind,
                body,
                ..
            } => self.incoming_e2e(now_ms, from, seq, kind, &body),
            ServerMessage::Ack { re, expires_at, .. } => {
                if let Some(i) = re.and_then(|re| self.e2e.outbox.iter().position(|p| p.id == re))
                    && let Some(message_id) = self.e2e.outbox.remove(i).and_then(|p| p.chat_id)
                {
                    // Stored by the hub: delivered to everyone, now or on return.
                    self.event(Event::ChatAcked { message_id });
                }
                if let Some(e) = expires_at.and_then(|e| u64::try_from(e.to_ms().0).ok()) {
                    self.link.expires_at_ms = Some(e);
                }
            }
            ServerMessage::Pong { .. } => {}
            ServerMessage::SessionExpiring { .. } => {
                if self.link.token_wanted.is_none() {
                    self.want_token(TokenPurpose::Refresh);
                }
            }
            ServerMessage::Ended => self.finish(EndReason::VisitEnded),
            ServerMessage::Error(body) => {
                if let Some(re) = &body.re {
                    // The hub refused an e2e message: it will not be stored,
                    // so do not send it again (except after `internal`).
                    if body.code != ErrorCode::Internal && body.code != ErrorCode::RateLimited {
                        let gone = self
                            .e2e
                            .outbox
                            .iter()
                            .find(|p| p.id == *re)
                            .and_then(|p| p.key_for.clone())
                            .filter(|_| body.code == ErrorCode::NotFound);
                        self.e2e.outbox.retain(|p| p.id != *re);
                        // A key for someone the hub no longer has: they left
                        // while this device was offline. Drop them from the
                        // roster (a new epoch without them).
                        if let (Some(who), Some(g)) = (gone, self.e2e.group.as_mut()) {
                            let outs = g.member_left(&who, now_ms, &mut self.rng);
                            self.group_outputs(now_ms, outs);
                        }
                    }
                }
                self.event(Event::Error(SdkError::Hub {
                    code: body.code,
                    message: body.message,
                    re: body.re.map(|r| r.to_string()),
                    rule: body.rule,
                }));
            }
        }
    }

    fn track(
        &mut self,
        from: ParticipantId,
        action: TrackAction,
        source: Option<TrackSource>,
        track_id: TrackId,
    ) {
        let p = self.visit.participants.get_mut(&from);
        match (action, source) {
            (TrackAction::Publish, Some(source)) => {
                if let Some(p) = p {
                    p.tracks.retain(|t| t.track_id != track_id);
                    p.tracks.push(bedside_protocol::Track {
                        track_id: track_id.clone(),
                        source,
                    });
                }
                self.event(Event::TrackPublished {
                    from,
                    track_id,
                    source,
                });
            }
            (TrackAction::Unpublish, _) => {
                if let Some(p) = p {
                    p.tracks.retain(|t| t.track_id != track_id);
                }
                self.event(Event::TrackUnpublished { from, track_id });
            }
            (TrackAction::Publish, None) => self.event(Event::Error(SdkError::Protocol)),
        }
    }
}

//! Tracks and permissions (section 6): announcements, the screen-share
//! permission, and the SDP rules that depend on them.

use super::{ConnId, Visit};
use crate::audit::{Action, Outcome};
use crate::sdp::{MediaKind, SdpSummary, SdpViolation};
use bedside_protocol::{
    ErrorCode, MessageId, ParticipantId, Permission, Role, ServerMessage, Track, TrackAction,
    TrackId, TrackSource,
};

/// Most tracks one participant may have published at once.
pub const MAX_TRACKS_PER_PARTICIPANT: usize = 16;

impl Visit {
    pub(super) fn track(
        &mut self,
        conn: ConnId,
        pid: &ParticipantId,
        action: TrackAction,
        source: Option<TrackSource>,
        track_id: TrackId,
        id: Option<MessageId>,
    ) {
        let Some(member) = self.members.get_mut(pid) else {
            return;
        };
        match action {
            TrackAction::Publish => {
                let Some(source) = source else {
                    self.error(conn, ErrorCode::BadRequest, "publish needs a source", id);
                    return;
                };
                if source == TrackSource::Screen && !member.has(Permission::ScreenShare) {
                    self.audit_denied(pid, "screen_share");
                    self.error(
                        conn,
                        ErrorCode::Forbidden,
                        "screen sharing needs the screen_share permission",
                        id,
                    );
                    return;
                }
                // A screen the provider stopped stays stopped under any
                // other name: republished as camera, it would carry on
                // with no renegotiation and receivers would show it again.
                let revoked = member.record.revoked_screens.contains(&track_id);
                if revoked && source != TrackSource::Screen {
                    self.audit_denied(pid, "screen_share");
                    self.error(
                        conn,
                        ErrorCode::Forbidden,
                        "this track was a screen share the provider stopped; publish a new track",
                        id,
                    );
                    return;
                }
                let tracks = &mut member.record.tracks;
                if let Some(t) = tracks.iter().find(|t| t.track_id == track_id)
                    && t.source != source
                {
                    // Relabelling a published screen as camera would
                    // survive the next revoke.
                    self.error(
                        conn,
                        ErrorCode::Conflict,
                        "the track is published with another source; unpublish it first",
                        id,
                    );
                    return;
                }
                member.record.revoked_screens.retain(|t| *t != track_id);
                let tracks = &mut member.record.tracks;
                if tracks.iter().any(|t| t.track_id == track_id) {
                    // Announced again, same source: nothing changes.
                } else if tracks.len() >= MAX_TRACKS_PER_PARTICIPANT {
                    self.error(conn, ErrorCode::TooLarge, "too many published tracks", id);
                    return;
                } else {
                    tracks.push(Track {
                        track_id: track_id.clone(),
                        source,
                    });
                }
                self.persist(pid);
                let source_name = serde_json::to_value(source).unwrap_or_default();
                let e = self
                    .event(pid, Action::TrackPublish, Outcome::Success)
                    .detail("track_id", track_id.to_string())
                    .detail("source", source_name);
                self.audit_written(e);
                let others = self.present_conns_except(pid);
                self.send(
                    others,
                    ServerMessage::Track {
                        action,
                        from: pid.clone(),
                        source: Some(source),
                        track_id,
                    },
                );
            }
            TrackAction::Unpublish => {
                let before = member.record.tracks.len();
                member.record.tracks.retain(|t| t.track_id != track_id);
                if member.record.tracks.len() == before {
                    self.error(conn, ErrorCode::NotFound, "no such published track", id);
                    return;
                }
                self.persist(pid);
                let e = self
                    .event(pid, Action::TrackUnpublish, Outcome::Success)
                    .detail("track_id", track_id.to_string());
                self.audit_written(e);
                let others = self.present_conns_except(pid);
                self.send(
                    others,
                    ServerMessage::Track {
                        action,
                        from: pid.clone(),
                        source: None,
                        track_id,
                    },
                );
            }
        }
        self.ack(conn, id);
    }

    pub(super) fn request(
        &mut self,
        conn: ConnId,
        pid: &ParticipantId,
        permission: Permission,
        id: Option<MessageId>,
    ) {
        let Some(member) = self.members.get(pid) else {
            return;
        };
        if member.record.role == Role::Provider {
            self.error(
                conn,
                ErrorCode::BadRequest,
                "providers do not request permissions",
                id,
            );
            return;
        }
        if permission == Permission::Admit {
            self.audit_denied(pid, "request");
            self.error(conn, ErrorCode::Forbidden, "admit is not grantable", id);
            return;
        }
        if member.has(permission) {
            self.error(conn, ErrorCode::Conflict, "permission already held", id);
            return;
        }
        let e = self
            .event(pid, Action::PermissionRequest, Outcome::Success)
            .detail("permission", permission.as_str());
        self.audit_written(e);
        let providers = self.provider_conns();
        self.send(
            providers,
            ServerMessage::PermissionRequested {
                participant: pid.clone(),
                permission,
            },
        );
        self.ack(conn, id);
    }

    pub(super) fn set_permission(
        &mut self,
        conn: ConnId,
        pid: &ParticipantId,
        target: &ParticipantId,
        permission: Permission,
        grant: bool,
        id: Option<MessageId>,
    ) {
        if !self.members.get(pid).is_some_and(|m| m.is_provider()) {
            let what = if grant { "grant" } else { "revoke" };
            self.audit_denied(pid, what);
            self.error(
                conn,
                ErrorCode::Forbidden,
                &format!("only a provider may {what} permissions"),
                id,
            );
            return;
        }
        if permission == Permission::Admit {
            self.audit_denied(pid, if grant { "grant" } else { "revoke" });
            self.error(conn, ErrorCode::Forbidden, "admit is not grantable", id);
            return;
        }
        let Some(member) = self.members.get_mut(target).filter(|m| m.record.admitted) else {
            self.error(
                conn,
                ErrorCode::NotFound,
                "no such admitted participant",
                id,
            );
            return;
        };
        let perms = &mut member.record.perms;
        let had = perms.contains(&permission);
        if grant && !had {
            perms.push(permission);
            perms.sort();
        } else if !grant && had {
            perms.retain(|p| *p != permission);
        }
        let perms = perms.clone();
        // Revoking screen_share withdraws every screen track, the sharer's view included.
        let withdrawn: Vec<TrackId> = if !grant && permission == Permission::ScreenShare {
            let tracks = &mut member.record.tracks;
            let gone: Vec<TrackId> = tracks
                .iter()
                .filter(|t| t.source == TrackSource::Screen)
                .map(|t| t.track_id.clone())
                .collect();
            tracks.retain(|t| t.source != TrackSource::Screen);
            member.record.revoked_screens.extend(gone.iter().cloned());
            let n = member.record.revoked_screens.len();
            if n > MAX_TRACKS_PER_PARTICIPANT {
                member
                    .record
                    .revoked_screens
                    .drain(..n - MAX_TRACKS_PER_PARTICIPANT);
            }
            gone
        } else {
            Vec::new()
        };
        self.persist(target);
        let action = if grant {
            Action::PermissionGrant
        } else {
            Action::PermissionRevoke
        };
        let mut e = self
            .event(pid, action, Outcome::Success)
            .target(target)
            .detail("permission", permission.as_str());
        if !withdrawn.is_empty() {
            let ids: Vec<String> = withdrawn.iter().map(ToString::to_string).collect();
            e = e.detail("unpublished", ids);
        }
        self.audit_synced(e);
        let everyone: Vec<ConnId> = self.present_participants_conns();
        for track_id in withdrawn {
            self.send(
                everyone.clone(),
                ServerMessage::Track {
                    action: TrackAction::Unpublish,
                    from: target.clone(),
                    source: None,
                    track_id,
                },
            );
        }
        self.send(
            everyone,
            ServerMessage::Permissions {
                participant: target.clone(),
                perms,
            },
        );
        self.ack(conn, id);
    }

    fn present_participants_conns(&self) -> Vec<ConnId> {
        self.members
            .values()
            .filter(|m| m.is_present())
            .filter_map(|m| m.conn())
            .collect()
    }

    /// Section 6 rules on an offer or answer: every sending m-section with
    /// `a=msid` names a track the sender published, and video naming a
    /// `screen` track needs the permission.
    pub(super) fn check_sdp_tracks(
        &self,
        from: &ParticipantId,
        sdp: &SdpSummary,
    ) -> Result<(), SdpViolation> {
        let Some(member) = self.members.get(from) else {
            return Ok(());
        };
        for (i, section) in sdp.sections.iter().enumerate() {
            if !section.sending || section.kind == MediaKind::Data {
                continue;
            }
            for track_id in &section.track_ids {
                let revoked_screen = member
                    .record
                    .revoked_screens
                    .iter()
                    .any(|t| t.as_str() == track_id);
                if section.kind == MediaKind::Video && revoked_screen {
                    return Err(SdpViolation {
                        rule: "screen_share_not_permitted",
                        detail: format!(
                            "m-section {} still sends a screen track whose permission was revoked",
                            i + 1
                        ),
                    });
                }
                let Some(track) = member.track(track_id) else {
                    return Err(SdpViolation {
                        rule: "unannounced_track",
                        detail: format!("m-section {} sends a track that was not published", i + 1),
                    });
                };
                if section.kind == MediaKind::Video
                    && track.source == TrackSource::Screen
                    && !member.has(Permission::ScreenShare)
                {
                    return Err(SdpViolation {
                        rule: "screen_share_not_permitted",
                        detail: format!(
                            "m-section {} shares a screen without the screen_share permission",
                            i + 1
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

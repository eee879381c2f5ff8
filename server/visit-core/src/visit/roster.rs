//! Members of a visit and the views of them that clients see.

use super::{ConnId, Join, Millis, Visit};
use crate::store::ParticipantRecord;
use bedside_protocol::{
    DeviceId, Participant, ParticipantId, Permission, PresentProvider, Role, ServerMessage, Track,
    WaitingEntry,
};

/// A live connection of a member.
#[derive(Debug, Clone)]
pub struct Live {
    /// The connection.
    pub conn: ConnId,
    /// Session id.
    pub session: String,
    /// Device from `hello`.
    pub device: Option<DeviceId>,
    /// Session expiry.
    pub expires_at: bedside_protocol::time::UnixSecs,
    /// Last client message.
    pub last_activity: Millis,
    /// `session_expiring` was sent for the current expiry.
    pub expiring_sent: bool,
    /// E2E delivery state of this connection.
    pub delivery: super::Delivery,
    /// Patient record id from the token (audit).
    pub patient_id: Option<String>,
    /// This session's facts for audit records.
    pub actor: std::sync::Arc<crate::audit::Actor>,
    /// Asked for `presence`: the change counter last sent (0: none yet).
    pub presence: Option<u64>,
}

/// A participant known to the visit: the persisted record and, when
/// connected, the live connection.
#[derive(Debug, Clone)]
pub struct Member {
    /// What survives a restart.
    pub record: ParticipantRecord,
    /// The live connection, if any.
    pub live: Option<Live>,
}

/// Permissions a participant holds when first seen.
fn initial_perms(role: Role, claimed: &[Permission]) -> Vec<Permission> {
    let mut perms: Vec<Permission> = claimed
        .iter()
        .copied()
        .filter(|p| *p != Permission::Admit)
        .collect();
    if role == Role::Provider {
        perms.push(Permission::ScreenShare);
        perms.push(Permission::Admit);
    }
    perms.sort();
    perms.dedup();
    perms
}

impl Member {
    /// A member restored from the store, not connected.
    pub fn offline(record: ParticipantRecord) -> Self {
        Self { record, live: None }
    }

    /// A member first seen in `join`.
    pub fn new(j: &Join) -> Self {
        Self {
            record: ParticipantRecord {
                id: j.participant.clone(),
                name: String::new(),
                role: j.role,
                admitted: j.role == Role::Provider,
                perms: initial_perms(j.role, &j.perms),
                tracks: Vec::new(),
                keys: None,
                revoked_screens: Vec::new(),
            },
            live: None,
        }
    }

    /// Name and role come from the newest token. True if that changed the
    /// record (it then needs writing).
    pub fn refresh_identity(&mut self, j: &Join) -> bool {
        let name = j.name.clone().unwrap_or_else(|| j.participant.to_string());
        let mut changed = self.record.name != name;
        self.record.name = name;
        if self.record.role != j.role {
            // A role change (rare: the clinic re-issued the token) resets what the role implies.
            self.record.role = j.role;
            self.record.perms = initial_perms(j.role, &j.perms);
            self.record.admitted = j.role == Role::Provider;
            changed = true;
        } else {
            for p in initial_perms(j.role, &j.perms) {
                if !self.record.perms.contains(&p) {
                    self.record.perms.push(p);
                    changed = true;
                }
            }
            self.record.perms.sort();
        }
        if j.role == Role::Provider && !self.record.admitted {
            self.record.admitted = true;
            changed = true;
        }
        changed
    }

    /// Binds the member to a live connection.
    pub fn attach(&mut self, now: Millis, j: &Join, visit: &bedside_protocol::VisitId) {
        let actor = crate::audit::Actor {
            user_id: Some(j.participant.to_string()),
            role: Some(self.record.role.as_str().to_owned()),
            visit_id: Some(visit.to_string()),
            patient_id: j.patient_id.clone(),
            session: Some(j.session.clone()),
            ip_address: j.ip.clone(),
            device_fingerprint: j.device.as_ref().map(ToString::to_string),
        };
        self.live = Some(Live {
            conn: j.conn,
            session: j.session.clone(),
            device: j.device.clone(),
            expires_at: j.expires_at,
            last_activity: now,
            expiring_sent: false,
            delivery: super::Delivery::default(),
            patient_id: j.patient_id.clone(),
            actor: std::sync::Arc::new(actor),
            presence: j.features.presence.then_some(0),
        });
    }

    /// The live connection.
    pub fn conn(&self) -> Option<ConnId> {
        self.live.as_ref().map(|l| l.conn)
    }

    /// Holds the `admit` permission (providers).
    pub fn is_provider(&self) -> bool {
        self.record.role == Role::Provider && self.record.perms.contains(&Permission::Admit)
    }

    /// Admitted and connected.
    pub fn is_present(&self) -> bool {
        self.record.admitted && self.live.is_some()
    }

    /// Waiting and connected: shown in the lobby.
    pub fn is_waiting(&self) -> bool {
        !self.record.admitted && self.live.is_some()
    }

    /// How others see this member.
    pub fn view(&self) -> Participant {
        Participant {
            id: self.record.id.clone(),
            name: self.record.name.clone(),
            role: self.record.role,
            perms: self.record.perms.clone(),
            tracks: self.record.tracks.clone(),
            // Checked again: a bundle stored before the hub checked bundles
            // could have any shape; one that fails is not shown to anyone.
            keys: self
                .record
                .keys
                .as_deref()
                .and_then(|k| bedside_protocol::canonical_bundle(k).ok()),
        }
    }

    /// Holds `perm`.
    pub fn has(&self, perm: Permission) -> bool {
        self.record.perms.contains(&perm)
    }

    /// The published track with this id.
    pub fn track(&self, id: &str) -> Option<&Track> {
        self.record
            .tracks
            .iter()
            .find(|t| t.track_id.as_str() == id)
    }
}

impl Visit {
    /// Everyone admitted and connected, as participant views.
    pub(super) fn present_participants(&self) -> Vec<Participant> {
        self.members
            .values()
            .filter(|m| m.is_present())
            .map(|m| m.view())
            .collect()
    }

    /// Connections of admitted, connected members other than `except`.
    pub(super) fn present_conns_except(&self, except: &ParticipantId) -> Vec<ConnId> {
        self.members
            .values()
            .filter(|m| m.is_present() && m.record.id != *except)
            .filter_map(|m| m.conn())
            .collect()
    }

    /// Connections of admitted, connected providers.
    pub(super) fn provider_conns(&self) -> Vec<ConnId> {
        self.members
            .values()
            .filter(|m| m.is_present() && m.is_provider())
            .filter_map(|m| m.conn())
            .collect()
    }

    /// The current `lobby` message.
    pub(super) fn lobby_message(&self) -> ServerMessage {
        ServerMessage::Lobby {
            waiting: self
                .members
                .values()
                .filter(|m| m.is_waiting())
                .map(|m| WaitingEntry {
                    id: m.record.id.clone(),
                    name: m.record.name.clone(),
                    role: m.record.role,
                })
                .collect(),
        }
    }

    /// Tells every present provider the new waiting list.
    pub(super) fn lobby_changed(&mut self) {
        let providers = self.provider_conns();
        if !providers.is_empty() {
            let msg = self.lobby_message();
            self.send(providers, msg);
        }
    }

    /// Tells waiting participants who asked for `presence` which providers
    /// are present, when that changed or they have not heard it yet. Runs
    /// after every input that can change membership (not on the relay
    /// path); allocates only when there is something to send.
    pub(super) fn presence_changed(&mut self) {
        let present = self
            .members
            .values()
            .filter(|m| m.is_present() && m.is_provider());
        let same = present
            .clone()
            .map(|m| (&m.record.id, &m.record.name))
            .eq(self.presence.1.iter().map(|p| (&p.id, &p.name)));
        if !same {
            self.presence.0 += 1;
            self.presence.1 = present
                .map(|m| PresentProvider {
                    id: m.record.id.clone(),
                    name: m.record.name.clone(),
                })
                .collect();
        }
        let generation = self.presence.0;
        let mut to = Vec::new();
        for m in self.members.values_mut() {
            if !m.is_waiting() {
                continue;
            }
            if let Some(live) = m.live.as_mut()
                && live.presence.is_some_and(|g| g != generation)
            {
                live.presence = Some(generation);
                to.push(live.conn);
            }
        }
        if !to.is_empty() {
            let msg = ServerMessage::Presence {
                providers: self.presence.1.clone(),
            };
            self.send(to, msg);
        }
    }

    /// The connection of a present (admitted, connected) member.
    pub(super) fn present_conn(&self, id: &ParticipantId) -> Option<ConnId> {
        self.members
            .get(id)
            .filter(|m| m.is_present())
            .and_then(|m| m.conn())
    }
}

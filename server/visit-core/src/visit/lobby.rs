//! The waiting room (section 4): admit, deny, remove.

use super::{ConnId, Output, Visit};
use crate::audit::{Action, Event, Outcome};
use crate::store::VisitWrite;
use bedside_protocol::{CloseCode, ErrorCode, LeftReason, MessageId, ParticipantId, ServerMessage};

/// Longest reason passed on to the denied participant.
const MAX_REASON_CHARS: usize = 200;

impl Visit {
    /// Only providers may act on the waiting room.
    fn require_provider(
        &mut self,
        conn: ConnId,
        pid: &ParticipantId,
        what: &'static str,
        id: &Option<MessageId>,
    ) -> bool {
        if self.members.get(pid).is_some_and(|m| m.is_provider()) {
            return true;
        }
        self.audit_denied(pid, what);
        self.error(
            conn,
            ErrorCode::Forbidden,
            &format!("only a provider may {what}"),
            id.clone(),
        );
        false
    }

    pub(super) fn admit(
        &mut self,
        conn: ConnId,
        pid: &ParticipantId,
        target: &ParticipantId,
        id: Option<MessageId>,
    ) {
        if !self.require_provider(conn, pid, "admit", &id) {
            return;
        }
        match self.members.get_mut(target) {
            Some(m) if m.is_waiting() => m.record.admitted = true,
            Some(m) if m.record.admitted => {
                self.error(
                    conn,
                    ErrorCode::Conflict,
                    "participant is already admitted",
                    id,
                );
                return;
            }
            _ => {
                self.error(
                    conn,
                    ErrorCode::NotFound,
                    "no such participant in the waiting room",
                    id,
                );
                return;
            }
        }
        self.persist(target);
        self.audit_decision(pid, Action::Admit, target);
        self.enter(target);
        self.lobby_changed();
        self.ack(conn, id);
    }

    pub(super) fn deny(
        &mut self,
        conn: ConnId,
        pid: &ParticipantId,
        target: &ParticipantId,
        reason: Option<String>,
        id: Option<MessageId>,
    ) {
        if !self.require_provider(conn, pid, "deny", &id) {
            return;
        }
        let Some(target_conn) = self
            .members
            .get(target)
            .filter(|m| m.is_waiting())
            .and_then(|m| m.conn())
        else {
            self.error(
                conn,
                ErrorCode::NotFound,
                "no such participant in the waiting room",
                id,
            );
            return;
        };
        self.audit_decision(pid, Action::Deny, target);
        self.expel(target, target_conn, reason, LeftReason::Denied);
        self.ack(conn, id);
    }

    pub(super) fn remove(
        &mut self,
        conn: ConnId,
        pid: &ParticipantId,
        target: &ParticipantId,
        reason: Option<String>,
        id: Option<MessageId>,
    ) {
        if !self.require_provider(conn, pid, "remove", &id) {
            return;
        }
        if target == pid {
            self.error(
                conn,
                ErrorCode::BadRequest,
                "use leave to leave the visit",
                id,
            );
            return;
        }
        if !self.members.get(target).is_some_and(|m| m.record.admitted) {
            self.error(
                conn,
                ErrorCode::NotFound,
                "no such admitted participant",
                id,
            );
            return;
        }
        self.audit_decision(pid, Action::Remove, target);
        let member = self.members.get(target).filter(|m| m.record.admitted);
        match member.and_then(|m| m.conn()) {
            Some(target_conn) => self.expel(target, target_conn, reason, LeftReason::Removed),
            None => {
                // Offline but resumable: forget them so a resume cannot bring them back.
                self.members.remove(target);
                self.out.push(Output::Persist(VisitWrite::ForgetParticipant(
                    target.clone(),
                )));
            }
        }
        self.ack(conn, id);
    }

    /// A provider's access decision on `target`: synced before its effect,
    /// naming the patient record of the participant acted on.
    fn audit_decision(&mut self, pid: &ParticipantId, action: Action, target: &ParticipantId) {
        let e = self.event(pid, action, Outcome::Success).target(target);
        let e = self.with_target_patient(e, target);
        self.audit_synced(e);
    }

    fn with_target_patient(&self, mut e: Event, target: &ParticipantId) -> Event {
        let patient = self
            .members
            .get(target)
            .and_then(|m| m.live.as_ref())
            .and_then(|l| l.patient_id.clone());
        if patient.is_some() {
            let mut facts = (*e.actor).clone();
            facts.patient_id = patient;
            e.actor = std::sync::Arc::new(facts);
        }
        e
    }

    /// Denies or removes: forgets the participant (and their resume tokens),
    /// tells them why, closes them with 4003, and tells the others.
    pub(super) fn expel(
        &mut self,
        target: &ParticipantId,
        target_conn: ConnId,
        reason: Option<String>,
        why: LeftReason,
    ) {
        self.out.push(Output::Persist(VisitWrite::ForgetParticipant(
            target.clone(),
        )));
        let reason = reason.map(|r| r.chars().take(MAX_REASON_CHARS).collect());
        self.send_one(target_conn, ServerMessage::Denied { reason });
        self.out.push(Output::Close {
            conn: target_conn,
            code: CloseCode::Denied,
        });
        self.detach(target, why);
        self.members.remove(target);
    }
}

//! Audit events the visit emits (OPERATIONS.md action list). Each is an
//! [`Output::Audit`]; the shell holds back the outputs that follow it until
//! the record reached its durability.

use super::{Output, Visit};
use crate::audit::{Action, Durability, Event, Outcome};
use bedside_protocol::ParticipantId;

impl Visit {
    /// An event with every fact the visit knows about `actor`.
    pub(super) fn event(&self, actor: &ParticipantId, action: Action, outcome: Outcome) -> Event {
        let mut e = Event::new(action, outcome);
        e.user_id = Some(actor.to_string());
        e.visit_id = Some(self.id.to_string());
        if let Some(m) = self.members.get(actor) {
            e.role = Some(m.record.role.as_str().to_owned());
            if let Some(live) = &m.live {
                e.session = Some(live.session.clone());
                e.ip_address = live.ip.clone();
                e.patient_id = live.patient_id.clone();
                e.device_fingerprint = live.device.as_ref().map(ToString::to_string);
            }
        }
        e
    }

    /// Records an access decision: on stable storage before its effect.
    pub(super) fn audit_synced(&mut self, e: Event) {
        self.out
            .push(Output::Audit(Box::new(e), Durability::Synced));
    }

    /// Records a relay fact: written before its effect, synced soon after.
    pub(super) fn audit_written(&mut self, e: Event) {
        self.out
            .push(Output::Audit(Box::new(e), Durability::Written));
    }

    /// `actor` tried something its role, state or permissions forbid.
    pub(super) fn audit_denied(&mut self, actor: &ParticipantId, request: &'static str) {
        let e = self
            .event(actor, Action::PermissionDenied, Outcome::Denied)
            .detail("request", request);
        self.audit_written(e);
    }
}

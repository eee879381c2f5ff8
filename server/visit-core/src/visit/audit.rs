//! Audit events the visit emits (OPERATIONS.md action list). Each is an
//! [`Output::Audit`]; the shell holds back the outputs that follow it until
//! the record reached its durability.

use super::{Output, Visit};
use crate::audit::{Action, Actor, Durability, Event, Outcome};
use bedside_protocol::ParticipantId;
use std::sync::Arc;

impl Visit {
    /// An event with every fact the visit knows about `actor`: the live
    /// session's shared facts, or (offline) who and where.
    pub(super) fn event(&self, actor: &ParticipantId, action: Action, outcome: Outcome) -> Event {
        let member = self.members.get(actor);
        if let Some(live) = member.and_then(|m| m.live.as_ref()) {
            return Event::by(live.actor.clone(), action, outcome);
        }
        let facts = Actor {
            user_id: Some(actor.to_string()),
            role: member.map(|m| m.record.role.as_str().to_owned()),
            visit_id: Some(self.id.to_string()),
            ..Actor::default()
        };
        Event::by(Arc::new(facts), action, outcome)
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

    /// `actor` tried something its role, state or permissions forbid. Too
    /// many within a minute raise an ALERT (once per window).
    pub(super) fn audit_denied(&mut self, actor: &ParticipantId, request: &'static str) {
        let e = self
            .event(actor, Action::PermissionDenied, Outcome::Denied)
            .detail("request", request);
        self.audit_written(e);
        let now = self.now;
        let limit = self.settings.permission_violations_per_min;
        let (start, count) = self.violations.entry(actor.clone()).or_insert((now, 0));
        if now - *start > 60_000 {
            *start = now;
            *count = 0;
        }
        *count += 1;
        if *count == limit {
            let alert = self
                .event(actor, Action::PermissionDenied, Outcome::Denied)
                .detail("violations", u64::from(limit))
                .detail("window_s", 60u64)
                .detail("last_request", request);
            self.out.push(Output::Alert(
                crate::audit::AlertKind::PermissionViolations,
                Box::new(alert),
            ));
        }
    }
}

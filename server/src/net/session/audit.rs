//! The audit records and alerts a connection writes itself: a refused
//! token (with the per-IP failure limit), a rate-limited session, and the
//! actor those records name.

use super::{Conn, Identity};
use crate::alerts::AlertKind;
use crate::audit::{Action, Actor, Durability, Event, Outcome};
use crate::auth::AuthError;
use crate::limits::AuthVerdict;
use bedside_protocol::CloseCode;
use std::sync::Arc;
use std::time::Instant;

impl Conn {
    /// Logs, counts and audits a refused token; the caller then closes
    /// (4001) or answers `unauthorized`. Never logs the token itself.
    pub(super) async fn auth_failed(
        &self,
        e: &AuthError,
        claims: Option<&bedside_protocol::JoinClaims>,
    ) -> CloseCode {
        // The reason code only: a claim-parsing message can quote claim values
        // (a patient id, a name), which must never reach the log.
        tracing::warn!(peer = %self.peer, reason = e.reason_code(), "authentication failed");
        let replay = *e == AuthError::Replayed;
        self.hub.metrics.reject(if replay {
            "auth_replayed"
        } else {
            "auth_failed"
        });
        let mut actor = Actor {
            ip_address: Some(self.peer.ip().to_string()),
            ..Actor::default()
        };
        if let Some(c) = claims {
            actor.user_id = Some(c.sub.to_string());
            actor.role = Some(c.role.as_str().to_owned());
            actor.visit_id = Some(c.visit.to_string());
            actor.patient_id = c.patient_id.clone();
        }
        let (action, outcome) = if replay {
            (Action::TokenReplay, Outcome::Denied)
        } else {
            (Action::AuthFailure, Outcome::Failure)
        };
        let ev = Event::by(Arc::new(actor), action, outcome).detail("reason", e.reason_code());
        let verdict = self.hub.abuse.auth_failed(self.peer.ip(), Instant::now());
        if replay {
            self.hub.alert(AlertKind::TokenReplay, ev.clone());
        }
        if verdict == AuthVerdict::Tripped {
            let burst = Event::by(ev.actor.clone(), Action::AuthFailure, Outcome::Failure)
                .detail("per_min", self.hub.config.limits.auth_failures_per_min)
                .detail("cooldown_s", self.hub.config.limits.auth_cooldown_s);
            self.hub.alert(AlertKind::AuthFailures, burst);
        }
        // Written before the close it explains.
        let _ = self.hub.audit.log(ev, Durability::Written).durable().await;
        if verdict == AuthVerdict::Tripped {
            CloseCode::RateLimited
        } else {
            CloseCode::Unauthorized
        }
    }

    /// This session's facts for audit records written by the connection.
    pub(super) fn actor(&self, me: &Identity) -> Arc<Actor> {
        Arc::new(Actor {
            user_id: Some(me.participant.to_string()),
            role: Some(me.role.as_str().to_owned()),
            visit_id: Some(me.visit.to_string()),
            patient_id: me.resume.patient_id.clone(),
            session: Some(me.session.clone()),
            ip_address: Some(self.peer.ip().to_string()),
            device_fingerprint: me.resume.device.clone(),
        })
    }

    /// A RATE_LIMITED record (one per window and one at the close, never one
    /// per refused message).
    pub(super) fn rate_limited_record(&self, me: &Identity, reason: &'static str) {
        let e = Event::by(self.actor(me), Action::RateLimited, Outcome::Denied)
            .detail("reason", reason);
        self.hub.audit.log_detached(e);
    }
}

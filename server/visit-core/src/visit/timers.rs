//! Time-driven rules: idle timeout (4008), `session_expiring`, expiry (4010).

use super::roster::Live;
use super::{ConnId, Millis, Output, Visit};
use crate::audit::{Action, Outcome};
use bedside_protocol::time::UnixSecs;
use bedside_protocol::{CloseCode, LeftReason, ParticipantId, ServerMessage};

/// A token's expiry as a deadline in milliseconds. The verifier bounds
/// `exp`; the conversion saturates anyway, so no number from a token can
/// overflow the visit's arithmetic.
fn expiry_ms(expires_at: UnixSecs) -> Millis {
    expires_at.to_ms().0
}

/// Brings the deadline `at` forward to `due` if that is earlier (a member
/// attached or refreshed).
pub(super) fn lower(at: &mut Option<Millis>, due: Millis) {
    *at = Some(at.map_or(due, |d| d.min(due)));
}

impl super::VisitSettings {
    /// When `live` next needs a tick: its idle timeout, its expiry notice or
    /// its expiry. Activity, a sent notice and a refresh only move it later.
    pub(super) fn deadline_of(&self, live: &Live) -> Millis {
        let idle = live.last_activity.saturating_add(self.idle_timeout_ms);
        let expiry = expiry_ms(live.expires_at);
        let notice = if live.expiring_sent {
            expiry
        } else {
            expiry.saturating_sub(self.expiry_notice_ms)
        };
        idle.min(notice).min(expiry)
    }
}

impl Visit {
    /// The next instant at which `Tick` may have something to do: never
    /// later than the real one, and at most one needless tick after the
    /// earliest member's deadline moved or that member left (each tick looks
    /// at every member and sets it exactly), so a large waiting room costs
    /// nothing per message.
    pub fn next_deadline(&self) -> Option<Millis> {
        match (self.members_due, self.acks_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The earliest live member's deadline, exactly.
    fn members_due_now(&self) -> Option<Millis> {
        self.members
            .values()
            .filter_map(|m| m.live.as_ref())
            .map(|l| self.settings.deadline_of(l))
            .min()
    }

    pub(super) fn tick(&mut self, now: Millis) {
        if self.acks_due.is_some_and(|due| now >= due) {
            self.flush_acks();
        }
        let mut closes: Vec<(ParticipantId, ConnId, CloseCode)> = Vec::new();
        let mut notices: Vec<(ConnId, UnixSecs)> = Vec::new();
        let idle_ms = self.settings.idle_timeout_ms;
        let notice_ms = self.settings.expiry_notice_ms;
        for m in self.members.values_mut() {
            let Some(live) = m.live.as_mut() else {
                continue;
            };
            let expiry = expiry_ms(live.expires_at);
            if now >= expiry {
                closes.push((m.record.id.clone(), live.conn, CloseCode::SessionExpired));
            } else if now >= live.last_activity.saturating_add(idle_ms) {
                closes.push((m.record.id.clone(), live.conn, CloseCode::IdleTimeout));
            } else if !live.expiring_sent && now >= expiry.saturating_sub(notice_ms) {
                live.expiring_sent = true;
                notices.push((live.conn, live.expires_at));
            }
        }
        for (conn, expires_at) in notices {
            self.send_one(conn, ServerMessage::SessionExpiring { expires_at });
        }
        for (pid, conn, code) in closes {
            let action = if code == CloseCode::SessionExpired {
                Action::SessionExpired
            } else {
                Action::IdleTimeout
            };
            let e = self.event(&pid, action, Outcome::Success);
            self.audit_synced(e);
            self.out.push(Output::Close { conn, code });
            self.detach(&pid, LeftReason::Expired);
        }
        self.members_due = self.members_due_now();
    }
}

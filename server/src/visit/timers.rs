//! Time-driven rules: idle timeout (4008), `session_expiring`, expiry (4010).

use super::{ConnId, Millis, Output, Visit};
use crate::audit::{Action, Outcome};
use bedside_protocol::{CloseCode, LeftReason, ParticipantId, ServerMessage};

impl Visit {
    /// The next instant at which `Tick` has something to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.members
            .values()
            .filter_map(|m| m.live.as_ref())
            .map(|l| {
                let idle = l.last_activity + self.settings.idle_timeout_ms;
                let expiry = l.expires_at * 1000;
                let notice = if l.expiring_sent {
                    expiry
                } else {
                    expiry - self.settings.expiry_notice_ms
                };
                idle.min(notice).min(expiry)
            })
            .chain(self.acks_due)
            .min()
    }

    pub(super) fn tick(&mut self, now: Millis) {
        if self.acks_due.is_some_and(|due| now >= due) {
            self.flush_acks();
        }
        let mut closes: Vec<(ParticipantId, ConnId, CloseCode)> = Vec::new();
        let mut notices: Vec<(ConnId, i64)> = Vec::new();
        let idle_ms = self.settings.idle_timeout_ms;
        let notice_ms = self.settings.expiry_notice_ms;
        for m in self.members.values_mut() {
            let Some(live) = m.live.as_mut() else {
                continue;
            };
            let expiry = live.expires_at * 1000;
            if now >= expiry {
                closes.push((m.record.id.clone(), live.conn, CloseCode::SessionExpired));
            } else if now >= live.last_activity + idle_ms {
                closes.push((m.record.id.clone(), live.conn, CloseCode::IdleTimeout));
            } else if !live.expiring_sent && now >= expiry - notice_ms {
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
    }
}

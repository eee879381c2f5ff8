//! Members arriving and going: a join (its welcome, a newer connection
//! replacing the older one, entering once admitted), a connection closing
//! (the member stays, resumable) and a leave (the member is forgotten, here
//! and in the store).

use super::{ConnId, Join, Member, Millis, Output, Visit, timers};
use crate::audit::{Action, Outcome};
use crate::store::VisitWrite;
use bedside_protocol::{
    CloseCode, ParticipantId, ParticipantState, ServerMessage, WelcomeParticipant,
};

impl Visit {
    pub(super) fn join(&mut self, now: Millis, j: Join) {
        if self.ended {
            self.send_one(j.conn, ServerMessage::Ended);
            self.out.push(Output::Close {
                conn: j.conn,
                code: CloseCode::VisitEnded,
            });
            return;
        }
        // One live connection per participant: the newer one wins.
        if self
            .members
            .get(&j.participant)
            .is_some_and(|m| m.live.is_some())
        {
            let e = self
                .event(&j.participant, Action::SessionEnd, Outcome::Success)
                .detail("reason", "replaced");
            self.audit_written(e);
        }
        if let Some(old) = self
            .members
            .get_mut(&j.participant)
            .and_then(|m| m.live.take())
        {
            self.conns.remove(&old.conn);
            self.out.push(Output::Close {
                conn: old.conn,
                code: CloseCode::Replaced,
            });
        }
        // Every change to a known member's record is written when it is
        // made, so a resume or reconnect with the same identity has nothing
        // to write before its welcome; a new member does.
        let new = !self.members.contains_key(&j.participant);
        let member = self
            .members
            .entry(j.participant.clone())
            .or_insert_with(|| Box::new(Member::new(&j)));
        let changed = member.refresh_identity(&j) || new;
        member.attach(now, &j, &self.id);
        if let Some(live) = &member.live {
            timers::lower(&mut self.members_due, self.settings.deadline_of(live));
        }
        self.conns.insert(j.conn, j.participant.clone());
        let admitted = member.record.admitted;
        let welcome = ServerMessage::Welcome {
            session: j.session.clone(),
            visit: self.id.clone(),
            participant: WelcomeParticipant {
                id: member.record.id.clone(),
                name: member.record.name.clone(),
                role: member.record.role,
                perms: member.record.perms.clone(),
            },
            state: if admitted {
                ParticipantState::Admitted
            } else {
                ParticipantState::Waiting
            },
            resume_token: j.resume_token.clone(),
            expires_at: j.expires_at,
            ice_servers: j.ice_servers.clone(),
            limits: self.settings.limits,
        };
        if changed {
            self.persist(&j.participant);
        }
        let action = if j.resumed {
            Action::Resume
        } else {
            Action::SessionStart
        };
        let start = self
            .event(&j.participant, action, Outcome::Success)
            .detail("state", if admitted { "admitted" } else { "waiting" });
        self.audit_synced(start);
        if !admitted {
            let wait = self.event(&j.participant, Action::LobbyWait, Outcome::Success);
            self.audit_written(wait);
        }
        self.send_one(j.conn, welcome);
        if let Some(upto) = j.last_seq.filter(|s| *s > 0) {
            // Resuming with last_seq acknowledges everything up to it.
            self.client_ack(now, &j.participant, upto);
        }
        if admitted {
            self.enter(&j.participant);
            if self
                .members
                .get(&j.participant)
                .is_some_and(|m| m.is_provider())
            {
                let lobby = self.lobby_message();
                self.send_one(j.conn, lobby);
            }
            self.start_catch_up(&j.participant, j.last_seq.unwrap_or(0));
        } else {
            self.lobby_changed();
        }
    }

    /// An admitted member's connection goes live: `admitted` to them, `joined` to the others.
    pub(super) fn enter(&mut self, id: &ParticipantId) {
        let Some(conn) = self.members.get(id).and_then(|m| m.conn()) else {
            return;
        };
        let participants = self.present_participants();
        self.send_one(conn, ServerMessage::Admitted { participants });
        if let Some(view) = self.members.get(id).map(|m| m.view()) {
            let others = self.present_conns_except(id);
            self.send(others, ServerMessage::Joined { participant: view });
        }
    }

    /// Closes a connection with `code`; the member stays (resumable).
    pub(super) fn detach_conn(&mut self, conn: ConnId, code: CloseCode) {
        if let Some(pid) = self.conns.get(&conn).cloned() {
            self.out.push(Output::Close { conn, code });
            self.detach(&pid, bedside_protocol::LeftReason::Closed);
        }
    }

    /// The transport closed: the member stays (resumable) but is no longer present.
    pub(super) fn closed(&mut self, conn: ConnId) {
        if let Some(pid) = self.conns.remove(&conn) {
            self.detach(&pid, bedside_protocol::LeftReason::Closed);
        }
    }

    /// Takes the member's connection away and tells the others.
    pub(super) fn detach(&mut self, pid: &ParticipantId, reason: bedside_protocol::LeftReason) {
        if self.members.get(pid).is_some_and(|m| m.live.is_some()) {
            let reason = serde_json::to_value(reason).unwrap_or_default();
            let e = self
                .event(pid, Action::SessionEnd, Outcome::Success)
                .detail("reason", reason);
            self.audit_written(e);
        }
        let Some(member) = self.members.get_mut(pid) else {
            return;
        };
        if let Some(live) = member.live.take() {
            self.conns.remove(&live.conn);
        }
        if member.record.admitted {
            let others = self.present_conns_except(pid);
            self.send(
                others,
                ServerMessage::Left {
                    participant: pid.clone(),
                    reason,
                },
            );
        } else {
            self.lobby_changed();
        }
    }

    pub(super) fn leave(&mut self, conn: ConnId, pid: &ParticipantId) {
        self.detach(pid, bedside_protocol::LeftReason::Leave);
        self.members.remove(pid);
        self.out
            .push(Output::Persist(VisitWrite::ForgetParticipant(pid.clone())));
        self.out.push(Output::Close {
            conn,
            code: CloseCode::Left,
        });
    }
}

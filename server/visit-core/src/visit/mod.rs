//! One visit's state machine, sans IO: `handle(now, input)` mutates the
//! visit and appends [`Output`]s; the tokio shell (bedside-server's `net::visit_task`) carries
//! them out. No clock, no sockets, no storage: time arrives as `now` (unix
//! milliseconds), persistence leaves as [`Output::Persist`].
//!
//! Invariants:
//! - a connection is attached to at most one member, and a member has at most
//!   one live connection (a newer join closes the older with 4011);
//! - relay and delivery only ever reach admitted members with a live connection;
//! - every state change a client relies on after a restart is emitted as a
//!   `Persist` before the messages that reveal it (the shell writes persists
//!   first, then sends).
//!
//! Here: the visit's state; [`Visit::handle`], which takes each input and
//! client message to its rule; and the rules too small for a module of their
//! own: a session's refresh and activity, key bundles, ending the visit,
//! shutdown. Elsewhere: `io` (inputs and outputs), `membership` (join, close,
//! leave), `lobby`, `relay`, `tracks`, `e2e`, `timers`, `roster` (members and
//! the views of them), `audit`.

mod audit;
mod e2e;
mod io;
mod lobby;
mod membership;
mod relay;
mod roster;
mod timers;
mod tracks;

#[cfg(test)]
mod tests;

use crate::audit::{Action, Event, Outcome};
use crate::sdp::SdpSummary;
use crate::store::{ParticipantRecord, VisitSnapshot, VisitWrite};
use bedside_protocol::time::UnixSecs;
use bedside_protocol::{
    ClientMessage, CloseCode, ErrorCode, Limits, MessageId, ParticipantId, PresentProvider,
    ServerMessage, VisitId,
};
pub use e2e::{BodyError, Delivery, MAX_INFLIGHT_PER_CONN, MAX_INFLIGHT_PER_VISIT, validate_body};
pub use io::{Input, Join, OperatorOp, Output, VisitFailure};
pub use roster::Member;
use std::collections::{BTreeMap, HashMap};

// Named by the tests through `use super::*`.
#[cfg(test)]
use bedside_protocol::{Permission, Role};

/// Unix time in milliseconds: the state machine's only notion of time.
pub type Millis = i64;

/// A connection handle, unique for the hub's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Settings the visit needs from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct VisitSettings {
    /// Close 4008 after this long without a client message.
    pub idle_timeout_ms: Millis,
    /// Send `session_expiring` this long before expiry.
    pub expiry_notice_ms: Millis,
    /// For `welcome.limits`.
    pub limits: Limits,
    /// Forbidden requests by one participant per minute that raise an ALERT.
    pub permission_violations_per_min: u32,
}

/// One visit.
#[derive(Debug)]
pub struct Visit {
    id: VisitId,
    settings: VisitSettings,
    ended: bool,
    /// Every known participant by id (admitted or waiting, live or not).
    /// Boxed: a B-tree node holds room for 11 entries, and a member is large.
    members: BTreeMap<ParticipantId, Box<Member>>,
    /// Live connection → member.
    conns: HashMap<ConnId, ParticipantId>,
    /// Appends waiting for the store.
    inflight: u32,
    /// Recipients' acks not yet written, coalesced.
    acks: BTreeMap<ParticipantId, u64>,
    /// When `acks` must be written.
    acks_due: Option<Millis>,
    /// No later than the earliest live member's deadline (see
    /// [`Visit::next_deadline`]); `None` while nobody is live.
    members_due: Option<Millis>,
    /// Forbidden requests per participant: (window start, count).
    violations: HashMap<ParticipantId, (Millis, u32)>,
    /// The `now` of the input being handled.
    now: Millis,
    /// The present providers last announced to waiting participants that
    /// asked for `presence`, and a counter bumped on each change.
    presence: (u64, Vec<PresentProvider>),
    out: Vec<Output>,
}

impl Visit {
    /// A visit restored from its persisted snapshot.
    pub fn new(id: VisitId, settings: VisitSettings, snapshot: VisitSnapshot) -> Self {
        let members = snapshot
            .participants
            .into_iter()
            .map(|r| (r.id.clone(), Box::new(Member::offline(r))))
            .collect();
        Self {
            id,
            settings,
            ended: snapshot.ended,
            members,
            conns: HashMap::new(),
            inflight: 0,
            acks: BTreeMap::new(),
            acks_due: None,
            members_due: None,
            violations: HashMap::new(),
            now: 0,
            // Change 1 is the start: no provider present.
            presence: (1, Vec::new()),
            out: Vec::new(),
        }
    }

    /// The visit id.
    pub fn id(&self) -> &VisitId {
        &self.id
    }

    /// True once `end_visit` ran; the shell may stop the task when no one is left.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Number of live connections.
    pub fn live_connections(&self) -> usize {
        self.conns.len()
    }

    /// Handles one input at `now` and returns what to do, in order.
    pub fn handle(&mut self, now: Millis, input: Input) -> Vec<Output> {
        self.now = now;
        // Only these can change who waits or which providers are present;
        // the relay path (signals, e2e, acks) skips the presence check.
        let roster_input = match &input {
            Input::Join(_)
            | Input::Closed { .. }
            | Input::Shutdown
            | Input::Tick
            | Input::Operator { .. } => true,
            Input::Message { msg, .. } => matches!(
                **msg,
                ClientMessage::Admit { .. }
                    | ClientMessage::Deny { .. }
                    | ClientMessage::Remove { .. }
                    | ClientMessage::Leave
                    | ClientMessage::EndVisit
            ),
            _ => false,
        };
        match input {
            Input::Join(join) => self.join(now, *join),
            Input::Message { conn, id, msg, sdp } => self.message(now, conn, id, *msg, sdp),
            Input::Refreshed { conn, expires_at } => self.refreshed(now, conn, expires_at),
            Input::Activity { conn } => self.touch(now, conn),
            Input::Closed { conn } => self.closed(conn),
            Input::Committed { conn, id, result } => self.committed(conn, id, result.map(|m| *m)),
            Input::Backlog { conn, result } => self.backlog(conn, result),
            Input::Operator { op, by } => self.operator(op, by),
            Input::Shutdown => self.shutdown(),
            Input::Tick => self.tick(now),
            #[cfg(any(test, feature = "test-hooks"))]
            Input::InjectedPanic => {
                #[allow(clippy::panic)]
                {
                    panic!("injected by a test")
                }
            }
        }
        if roster_input {
            self.presence_changed();
        }
        std::mem::take(&mut self.out)
    }

    fn send(&mut self, to: Vec<ConnId>, msg: ServerMessage) {
        if !to.is_empty() {
            self.out.push(Output::Send { to, msg });
        }
    }

    fn send_one(&mut self, conn: ConnId, msg: ServerMessage) {
        self.out.push(Output::Send {
            to: vec![conn],
            msg,
        });
    }

    fn error(&mut self, conn: ConnId, code: ErrorCode, message: &str, re: Option<MessageId>) {
        self.send_one(conn, ServerMessage::error(code, message, re));
    }

    fn ack(&mut self, conn: ConnId, re: Option<MessageId>) {
        if re.is_some() {
            self.send_one(
                conn,
                ServerMessage::Ack {
                    re,
                    seq: None,
                    expires_at: None,
                },
            );
        }
    }

    fn persist(&mut self, id: &ParticipantId) {
        if let Some(m) = self.members.get(id) {
            self.out.push(Output::Persist(VisitWrite::SaveParticipant(
                m.record.clone(),
            )));
        }
    }

    fn message(
        &mut self,
        now: Millis,
        conn: ConnId,
        id: Option<MessageId>,
        msg: ClientMessage,
        sdp: Option<SdpSummary>,
    ) {
        let Some(pid) = self.conns.get(&conn).cloned() else {
            return; // A connection already detached (replaced, closed): drop.
        };
        self.touch(now, conn);
        let admitted = self.members.get(&pid).is_some_and(|m| m.record.admitted);
        let allowed_while_waiting = matches!(
            msg,
            ClientMessage::Ping
                | ClientMessage::Leave
                | ClientMessage::Keys { .. }
                | ClientMessage::Refresh { .. }
        );
        if !admitted && !allowed_while_waiting {
            self.audit_denied(&pid, msg.type_name());
            self.error(
                conn,
                ErrorCode::Forbidden,
                "not admitted yet: only ping, leave, keys and refresh are allowed in the waiting room",
                id,
            );
            return;
        }
        match msg {
            ClientMessage::Ping => self.send_one(conn, ServerMessage::Pong { re: id }),
            ClientMessage::Leave => self.leave(conn, &pid),
            ClientMessage::EndVisit => self.end_visit(conn, &pid, id),
            ClientMessage::Admit { participant } => self.admit(conn, &pid, &participant, id),
            ClientMessage::Deny {
                participant,
                reason,
            } => self.deny(conn, &pid, &participant, reason, id),
            ClientMessage::Remove {
                participant,
                reason,
            } => self.remove(conn, &pid, &participant, reason, id),
            ClientMessage::Offer { to, sdp: text } => {
                self.relay_sdp(conn, &pid, to, text, sdp, true, id)
            }
            ClientMessage::Answer { to, sdp: text } => {
                self.relay_sdp(conn, &pid, to, text, sdp, false, id)
            }
            ClientMessage::Ice {
                to,
                candidate,
                sdp_mid,
                sdp_mline_index,
            } => self.relay_ice(conn, &pid, to, candidate, sdp_mid, sdp_mline_index, id),
            ClientMessage::Track {
                action,
                source,
                track_id,
            } => self.track(conn, &pid, action, source, track_id, id),
            ClientMessage::Request { permission } => self.request(conn, &pid, permission, id),
            ClientMessage::Grant {
                participant,
                permission,
            } => self.set_permission(conn, &pid, &participant, permission, true, id),
            ClientMessage::Revoke {
                participant,
                permission,
            } => self.set_permission(conn, &pid, &participant, permission, false, id),
            ClientMessage::Keys { bundle } => self.keys(conn, &pid, bundle, id),
            ClientMessage::E2e { to, kind, body } => self.e2e(now, conn, &pid, to, kind, body, id),
            ClientMessage::Ack { seq } => self.client_ack(now, &pid, seq),
            // Handled by the connection before the visit sees anything.
            ClientMessage::Hello { .. }
            | ClientMessage::Resume { .. }
            | ClientMessage::Refresh { .. } => {
                self.error(conn, ErrorCode::BadRequest, "session already started", id)
            }
        }
    }

    fn refreshed(&mut self, now: Millis, conn: ConnId, expires_at: UnixSecs) {
        self.touch(now, conn);
        if let Some(live) = self
            .conns
            .get(&conn)
            .and_then(|pid| self.members.get_mut(pid))
            .and_then(|m| m.live.as_mut())
        {
            live.expires_at = expires_at;
            live.expiring_sent = false;
            timers::lower(&mut self.members_due, self.settings.deadline_of(live));
        }
    }

    fn touch(&mut self, now: Millis, conn: ConnId) {
        if let Some(live) = self.live_mut(conn) {
            live.last_activity = now;
        }
    }

    fn live_mut(&mut self, conn: ConnId) -> Option<&mut roster::Live> {
        let pid = self.conns.get(&conn)?;
        self.members.get_mut(pid)?.live.as_mut()
    }

    fn end_visit(&mut self, conn: ConnId, pid: &ParticipantId, id: Option<MessageId>) {
        if !self.members.get(pid).is_some_and(|m| m.is_provider()) {
            self.error(
                conn,
                ErrorCode::Forbidden,
                "only a provider may end the visit",
                id,
            );
            self.audit_denied(pid, "end_visit");
            return;
        }
        let e = self.event(pid, Action::VisitEnd, Outcome::Success);
        self.audit_synced(e);
        self.close_visit();
    }

    /// An operator's action, audited under their identity.
    fn operator(&mut self, op: OperatorOp, by: std::sync::Arc<crate::audit::Actor>) {
        let mut actor = (*by).clone();
        actor.visit_id = Some(self.id.to_string());
        let by = std::sync::Arc::new(actor);
        match op {
            OperatorOp::EndVisit => {
                let e = Event::by(by, Action::VisitEnd, Outcome::Success).detail("by", "operator");
                self.audit_synced(e);
                self.close_visit();
            }
            OperatorOp::Remove(target) => {
                let Some((admitted, conn)) = self
                    .members
                    .get(&target)
                    .map(|m| (m.record.admitted, m.conn()))
                else {
                    return;
                };
                let action = if admitted {
                    Action::Remove
                } else {
                    Action::Deny
                };
                let mut e = Event::by(by, action, Outcome::Success).detail("by", "operator");
                e.target = Some(target.to_string());
                self.audit_synced(e);
                match conn {
                    Some(c) => self.expel(
                        &target,
                        c,
                        Some("removed by the clinic".to_owned()),
                        bedside_protocol::LeftReason::Removed,
                    ),
                    None => {
                        self.members.remove(&target);
                        self.out
                            .push(Output::Persist(VisitWrite::ForgetParticipant(target)));
                    }
                }
            }
        }
    }

    /// Ends the visit for everyone (4012) and refuses later joins.
    fn close_visit(&mut self) {
        self.ended = true;
        self.out.push(Output::Persist(VisitWrite::EndVisit));
        let everyone: Vec<ConnId> = self.conns.keys().copied().collect();
        self.send(everyone.clone(), ServerMessage::Ended);
        for c in everyone {
            self.out.push(Output::Close {
                conn: c,
                code: CloseCode::VisitEnded,
            });
        }
        self.conns.clear();
        self.members.clear();
    }

    fn shutdown(&mut self) {
        self.flush_acks();
        let mut conns: Vec<ConnId> = self.conns.keys().copied().collect();
        conns.sort();
        for c in conns {
            self.out.push(Output::Close {
                conn: c,
                code: CloseCode::GoingAway,
            });
        }
        self.conns.clear();
        for m in self.members.values_mut() {
            m.live = None;
        }
    }

    fn keys(
        &mut self,
        conn: ConnId,
        pid: &ParticipantId,
        bundle: Box<serde_json::value::RawValue>,
        id: Option<MessageId>,
    ) {
        if bundle.get().len() > bedside_protocol::MAX_KEY_BUNDLE_BYTES {
            self.error(
                conn,
                ErrorCode::TooLarge,
                "key bundle is larger than 8 KiB",
                id,
            );
            return;
        }
        let Some(member) = self.members.get_mut(pid) else {
            return;
        };
        if member.record.keys.as_deref() == Some(bundle.get()) {
            // The same bundle again (a reconnect republishes it): others
            // have it, and a write would hold up the visit for nothing.
            self.ack(conn, id);
            return;
        }
        member.record.keys = Some(bundle.get().to_owned());
        let admitted = member.record.admitted;
        self.persist(pid);
        if admitted {
            let others = self.present_conns_except(pid);
            self.send(
                others,
                ServerMessage::Keys {
                    from: pid.clone(),
                    bundle,
                },
            );
        }
        self.ack(conn, id);
    }

    /// Persisted record of a participant (tests, diagnostics).
    pub fn record(&self, id: &ParticipantId) -> Option<&ParticipantRecord> {
        self.members.get(id).map(|m| &m.record)
    }
}

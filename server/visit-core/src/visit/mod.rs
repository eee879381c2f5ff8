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

mod audit;
mod e2e;
mod lobby;
mod relay;
mod roster;
mod timers;
mod tracks;

#[cfg(test)]
mod tests;

use crate::audit::{Action, Outcome};
use crate::sdp::SdpSummary;
use crate::store::{ParticipantRecord, StoredMessage, VisitSnapshot, VisitWrite};
use bedside_protocol::{
    ClientMessage, CloseCode, DeviceId, ErrorCode, IceServer, Limits, MessageId, ParticipantId,
    ParticipantState, Permission, PresentProvider, Role, ServerMessage, VisitId,
    WelcomeParticipant,
};
pub use e2e::{BodyError, Delivery, MAX_INFLIGHT_PER_CONN, MAX_INFLIGHT_PER_VISIT, validate_body};
pub use roster::Member;
use std::collections::{BTreeMap, HashMap};

/// Unix time in milliseconds: the state machine's only notion of time.
pub type Millis = i64;

/// A connection handle, unique for the hub's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// An authenticated connection asking to enter the visit.
#[derive(Debug, Clone)]
pub struct Join {
    /// The connection.
    pub conn: ConnId,
    /// Session id for `welcome`.
    pub session: String,
    /// The participant (token `sub`).
    pub participant: ParticipantId,
    /// Display name from the token.
    pub name: Option<String>,
    /// Role from the token.
    pub role: Role,
    /// Permissions claimed by the token.
    pub perms: Vec<Permission>,
    /// Device from `hello`.
    pub device: Option<DeviceId>,
    /// Session expiry, unix seconds.
    pub expires_at: i64,
    /// The fresh resume token for `welcome` (already stored by the shell).
    pub resume_token: String,
    /// ICE servers for `welcome`.
    pub ice_servers: Vec<IceServer>,
    /// From `resume`: the highest e2e seq the client has processed.
    pub last_seq: Option<u64>,
    /// The session continues an earlier one (`resume`).
    pub resumed: bool,
    /// Extensions the client asked for.
    pub features: bedside_protocol::Features,
    /// The client's IP address, for the audit log.
    pub ip: Option<String>,
    /// Patient record id from the token, for the audit log.
    pub patient_id: Option<String>,
}

/// Something that happens to the visit.
#[derive(Debug)]
pub enum Input {
    /// A connection authenticated for this visit.
    Join(Box<Join>),
    /// A parsed client message. `sdp` is the summary of a validated offer/answer.
    Message {
        /// From which connection.
        conn: ConnId,
        /// The client's message id.
        id: Option<MessageId>,
        /// The message (boxed, as is `Committed`'s result: the visit inbox's
        /// slots are as large as the largest `Input`).
        msg: Box<ClientMessage>,
        /// For offer/answer: the validated SDP's summary.
        sdp: Option<SdpSummary>,
    },
    /// The connection refreshed its token; the session now expires at `expires_at`.
    Refreshed {
        /// Which connection.
        conn: ConnId,
        /// New expiry, unix seconds.
        expires_at: i64,
    },
    /// A message arrived (activity) that the connection handled itself.
    Activity {
        /// Which connection.
        conn: ConnId,
    },
    /// The transport closed (or the hub dropped a slow consumer).
    Closed {
        /// Which connection.
        conn: ConnId,
    },
    /// The store answered an append: the message with its seq, or a failure.
    Committed {
        /// The sender's connection.
        conn: ConnId,
        /// The sender's message id.
        id: Option<MessageId>,
        /// The stored message.
        result: Result<Box<StoredMessage>, VisitFailure>,
    },
    /// The store answered a backlog query.
    Backlog {
        /// The connection catching up.
        conn: ConnId,
        /// Missed messages in seq order.
        result: Result<Vec<StoredMessage>, VisitFailure>,
    },
    /// The hub is shutting down: close everyone with 1001.
    Shutdown,
    /// Time passed; check timers.
    Tick,
    /// Tests only: a bug in the state machine, to test what the shell does.
    #[cfg(any(test, feature = "test-hooks"))]
    InjectedPanic,
}

/// A request of the visit (an append, a backlog query) that the shell
/// could not carry out. The shell logs the cause; the visit only needs to
/// know that it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitFailure {
    /// The store failed or is gone; the write may not have happened.
    Store,
}

/// Something the shell must do.
#[derive(Debug)]
pub enum Output {
    /// Serialize `msg` once and queue it on each connection.
    Send {
        /// Recipients.
        to: Vec<ConnId>,
        /// The message.
        msg: ServerMessage,
    },
    /// Close a connection (after what was queued before).
    Close {
        /// Which.
        conn: ConnId,
        /// With what code.
        code: CloseCode,
    },
    /// Write durably before performing any following Send.
    Persist(VisitWrite),
    /// Write without holding anything back (e.g. a recipient's ack).
    Background(VisitWrite),
    /// Record in the audit trail; what follows waits for the durability.
    Audit(Box<crate::audit::Event>, crate::audit::Durability),
    /// Raise an ALERT (audit record, log, metric, webhook).
    Alert(crate::audit::AlertKind, Box<crate::audit::Event>),
    /// Store an e2e message; answer with [`Input::Committed`], in order.
    Append {
        /// The sender's connection.
        conn: ConnId,
        /// The sender's message id.
        id: Option<MessageId>,
        /// The message (seq 0: the store assigns it).
        message: StoredMessage,
    },
    /// Load what `participant` missed; answer with [`Input::Backlog`].
    LoadBacklog {
        /// The connection catching up.
        conn: ConnId,
        /// Whose messages.
        participant: ParticipantId,
        /// Exclusive lower bound.
        after: u64,
    },
}

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
            Input::Join(_) | Input::Closed { .. } | Input::Shutdown | Input::Tick => true,
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

    fn join(&mut self, now: Millis, j: Join) {
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
    fn enter(&mut self, id: &ParticipantId) {
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

    fn refreshed(&mut self, now: Millis, conn: ConnId, expires_at: i64) {
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

    /// Closes a connection with `code`; the member stays (resumable).
    fn detach_conn(&mut self, conn: ConnId, code: CloseCode) {
        if let Some(pid) = self.conns.get(&conn).cloned() {
            self.out.push(Output::Close { conn, code });
            self.detach(&pid, bedside_protocol::LeftReason::Closed);
        }
    }

    /// The transport closed: the member stays (resumable) but is no longer present.
    fn closed(&mut self, conn: ConnId) {
        if let Some(pid) = self.conns.remove(&conn) {
            self.detach(&pid, bedside_protocol::LeftReason::Closed);
        }
    }

    /// Takes the member's connection away and tells the others.
    fn detach(&mut self, pid: &ParticipantId, reason: bedside_protocol::LeftReason) {
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

    fn leave(&mut self, conn: ConnId, pid: &ParticipantId) {
        self.detach(pid, bedside_protocol::LeftReason::Leave);
        self.members.remove(pid);
        self.out
            .push(Output::Persist(VisitWrite::ForgetParticipant(pid.clone())));
        self.out.push(Output::Close {
            conn,
            code: CloseCode::Left,
        });
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

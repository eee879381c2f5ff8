//! A whole visit in memory: one hub [`Visit`] and any number of SDK
//! [`Session`]s, wired by this harness the way `bedside-server`'s shell and
//! the native client wire them over WebSockets, with virtual time and the
//! visit's store answered from memory. No sockets, threads or sleeping:
//! every run of a scenario delivers the same frames in the same order.
//!
//! What the harness stands in for, and where the real part is tested:
//! - the hub's session shell (`server/src/net/session/`): hello, resume
//!   and refresh become the visit's `Join` and `Refreshed` inputs; the
//!   token's claims are read, not verified (signatures, `jti` replay across
//!   restarts and resume-token storage are `server/tests/auth.rs` and
//!   `server/tests/resume.rs`);
//! - the store (`server/src/store/`): appends get the next seq, backlogs
//!   are read back, writes are applied to a snapshot in memory;
//! - the transport: each frame is delivered whole and in order, or lost
//!   with its connection when the harness cuts a link.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bedside_protocol::claims::{JoinClaims, Lifetime};
use bedside_protocol::time::UnixMs;
use bedside_protocol::{
    ClientMessage, ErrorCode, Features, Limits, ParticipantId, Role, ServerMessage, VisitId,
    parse_client_message,
};
use bedside_sdk::e2ee::{Identity, Pins};
use bedside_sdk::session::{Event, Output, Session, SessionConfig};
use bedside_token::PrivateKey;
use bedside_visit::audit::Event as AuditEvent;
use bedside_visit::store::{StoredMessage, VisitSnapshot, VisitWrite};
use bedside_visit::visit::{ConnId, Input, Join, Output as HubOutput, Visit, VisitSettings};
use rand::SeedableRng;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

/// Virtual time at the start of every simulation (2027-01-15).
pub const T0: u64 = 1_800_000_000_000;

/// Lifetime of the tokens the harness mints.
pub const TOKEN_TTL_S: i64 = 600;

/// A frame in flight to a client, on the connection it was sent on.
#[derive(Debug, Clone)]
enum Frame {
    Text(String),
    Close(u16),
}

/// A message as the store keeps it, with who still needs it.
#[derive(Debug, Clone)]
struct Kept {
    message: StoredMessage,
    pending: BTreeSet<ParticipantId>,
}

/// The store's state for the one visit, in memory.
#[derive(Debug, Default)]
pub struct MemStore {
    snapshot: VisitSnapshot,
    messages: Vec<Kept>,
    next_seq: u64,
    /// Resume token → (claims it restores, still valid).
    resume: HashMap<String, JoinClaims>,
    jtis: HashSet<String>,
    /// Every write, in order.
    pub writes: Vec<String>,
}

impl MemStore {
    fn apply(&mut self, w: VisitWrite) {
        self.writes.push(format!("{w:?}"));
        match w {
            VisitWrite::SaveParticipant(p) => {
                self.snapshot.participants.retain(|q| q.id != p.id);
                self.snapshot.participants.push(p);
            }
            VisitWrite::ForgetParticipant(id) => {
                self.snapshot.participants.retain(|q| q.id != id);
                self.resume.retain(|_, c| c.sub != id);
                for k in &mut self.messages {
                    k.pending.remove(&id);
                }
                self.messages.retain(|k| !k.pending.is_empty());
            }
            VisitWrite::EndVisit => {
                self.snapshot.ended = true;
                self.snapshot.participants.clear();
                self.resume.clear();
                self.messages.clear();
            }
            VisitWrite::Acked { participant, upto } => {
                for k in self.messages.iter_mut().filter(|k| k.message.seq <= upto) {
                    k.pending.remove(&participant);
                }
                self.messages.retain(|k| !k.pending.is_empty());
            }
        }
    }

    fn append(&mut self, mut message: StoredMessage) -> StoredMessage {
        self.next_seq += 1;
        message.seq = self.next_seq;
        self.messages.push(Kept {
            message: message.clone(),
            pending: message.to.iter().cloned().collect(),
        });
        message
    }

    fn backlog(&self, who: &ParticipantId, after: u64) -> Vec<StoredMessage> {
        self.messages
            .iter()
            .filter(|k| k.message.seq > after && k.pending.contains(who))
            .map(|k| k.message.clone())
            .collect()
    }

    /// Bodies of the messages the store still holds.
    pub fn bodies(&self) -> Vec<String> {
        self.messages
            .iter()
            .map(|k| k.message.body.clone())
            .collect()
    }

    /// Whether the visit was ended in the store.
    pub fn ended(&self) -> bool {
        self.snapshot.ended
    }
}

/// One simulated app: an SDK session and what it has heard.
#[derive(Debug)]
pub struct Peer {
    /// The participant.
    pub id: ParticipantId,
    role: Role,
    /// The SDK's session core.
    pub session: Session,
    /// Its current connection, once it asked for one.
    conn: Option<ConnId>,
    to_client: VecDeque<(ConnId, Frame)>,
    /// Every event the app heard, in order.
    pub events: Vec<Event>,
    /// Every frame the client sent, in order.
    pub sent: Vec<String>,
    /// Tokens minted for it: joins and refreshes.
    pub tokens: u32,
}

/// A hub connection's state in the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnState {
    /// Open; the first message (hello or resume) not yet read.
    Handshake,
    /// Attached to the visit.
    Attached,
}

/// Which peer, as returned by [`Sim::join`].
pub type PeerId = usize;

/// The simulation.
pub struct Sim {
    /// Virtual now (unix ms).
    pub now: u64,
    visit_id: VisitId,
    visit: Visit,
    /// The store, in memory.
    pub store: MemStore,
    /// Audit records the visit asked for, in order.
    pub audit: Vec<AuditEvent>,
    peers: Vec<Peer>,
    conns: HashMap<ConnId, (PeerId, ConnState)>,
    next_conn: u64,
    next_token: u64,
    key: PrivateKey,
    answers: VecDeque<Input>,
    /// Every frame the hub sent, in order: (peer, text).
    pub transcript: Vec<(PeerId, String)>,
    /// How many hellos and resumes the shell accepted.
    pub hellos: u32,
    /// How many resumes the shell accepted.
    pub resumes: u32,
    /// How many refreshes the shell accepted.
    pub refreshes: u32,
}

fn settings() -> VisitSettings {
    VisitSettings {
        idle_timeout_ms: 900_000,
        expiry_notice_ms: 60_000,
        limits: Limits {
            max_message_bytes: bedside_protocol::DEFAULT_MAX_MESSAGE_BYTES,
            idle_timeout_s: 900,
        },
        permission_violations_per_min: 5,
    }
}

/// The claims of a token, read without checking its signature (the shell's
/// verifier is tested against real tokens elsewhere).
fn claims_of(token: &str) -> Option<JoinClaims> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

impl Sim {
    /// An empty visit `v-sim` at [`T0`].
    pub fn new() -> Self {
        let visit_id = VisitId::new("v-sim").unwrap();
        Self {
            now: T0,
            visit: Visit::new(visit_id.clone(), settings(), VisitSnapshot::default()),
            visit_id,
            store: MemStore::default(),
            audit: Vec::new(),
            peers: Vec::new(),
            conns: HashMap::new(),
            next_conn: 1,
            next_token: 1,
            key: PrivateKey::from_jwks(&PrivateKey::generate("sim").private_jwks()).unwrap(),
            answers: VecDeque::new(),
            transcript: Vec::new(),
            hellos: 0,
            resumes: 0,
            refreshes: 0,
        }
    }

    fn mint(&mut self, id: &ParticipantId, role: Role) -> String {
        self.next_token += 1;
        let now = UnixMs(self.now as i64).to_secs();
        let claims = JoinClaims::new(
            "sim",
            "bedside",
            self.visit_id.clone(),
            id.clone(),
            role,
            Lifetime::starting(now, TOKEN_TTL_S),
            format!("jti-{}", self.next_token),
        )
        .with_name(id.as_str());
        self.key.sign(&claims).unwrap()
    }

    /// A new app for `who`, with a fresh identity key from `seed`, that
    /// starts joining at once.
    pub fn join(&mut self, who: &str, role: Role, seed: u8) -> PeerId {
        let id = ParticipantId::new(who).unwrap();
        let session = Session::new(
            SessionConfig {
                device: format!("dev-{who}"),
                ..SessionConfig::default()
            },
            Identity::from_secret_bytes(&[seed; 32]),
            Pins::default(),
            Box::new(rand::rngs::StdRng::seed_from_u64(u64::from(seed))),
        );
        self.peers.push(Peer {
            id: id.clone(),
            role,
            session,
            conn: None,
            to_client: VecDeque::new(),
            events: Vec::new(),
            sent: Vec::new(),
            tokens: 0,
        });
        let p = self.peers.len() - 1;
        let token = self.mint(&id, role);
        self.peers[p].tokens += 1;
        let now = self.now;
        self.peers[p].session.start(now, token);
        p
    }

    /// The peer.
    pub fn peer(&mut self, p: PeerId) -> &mut Peer {
        &mut self.peers[p]
    }

    /// Runs `f` on a peer's session at the current time, then delivers
    /// everything that follows until nothing moves.
    pub fn act<T>(&mut self, p: PeerId, f: impl FnOnce(&mut Session, u64) -> T) -> T {
        let now = self.now;
        let r = f(&mut self.peers[p].session, now);
        self.run();
        r
    }

    /// The hub's view of the visit.
    pub fn visit(&self) -> &Visit {
        &self.visit
    }

    /// The transport of `p` dies (both ends see it; frames in flight are
    /// lost), as when a phone changes networks.
    pub fn cut(&mut self, p: PeerId) {
        let Some(conn) = self.peers[p].conn.take() else {
            return;
        };
        self.peers[p].to_client.clear();
        if let Some((_, state)) = self.conns.remove(&conn)
            && state == ConnState::Attached
        {
            self.hub(Input::Closed { conn });
        }
        let now = self.now;
        self.peers[p].session.on_closed(now, None);
        self.run();
    }

    /// Delivers everything in flight until nothing moves, without letting
    /// time pass.
    pub fn run(&mut self) {
        for _ in 0..100_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the simulation never settles");
    }

    /// One round: every client's outputs, every frame to clients, every
    /// store answer. Whether anything happened.
    fn step(&mut self) -> bool {
        let mut moved = false;
        for p in 0..self.peers.len() {
            while let Some(out) = self.peers[p].session.poll_output() {
                moved = true;
                self.client_output(p, out);
            }
            while let Some((conn, frame)) = self.peers[p].to_client.pop_front() {
                moved = true;
                if self.peers[p].conn != Some(conn) {
                    continue;
                }
                let now = self.now;
                match frame {
                    Frame::Text(t) => self.peers[p].session.on_frame(now, &t),
                    Frame::Close(code) => {
                        self.peers[p].conn = None;
                        self.peers[p].session.on_closed(now, Some(code));
                    }
                }
            }
        }
        while let Some(input) = self.answers.pop_front() {
            moved = true;
            self.hub(input);
        }
        moved
    }

    /// Lets `ms` of virtual time pass, firing every timer of the hub and of
    /// each session at its due time, in order.
    pub fn advance(&mut self, ms: u64) {
        let until = self.now + ms;
        self.run();
        loop {
            let hub = self.visit.next_deadline().map(|t| t.max(0) as u64);
            let sessions = self.peers.iter().filter_map(|p| p.session.poll_timeout());
            let Some(next) = sessions.chain(hub).min().filter(|t| *t <= until) else {
                break;
            };
            self.now = self.now.max(next);
            let now = self.now;
            if hub.is_some_and(|t| t <= now) {
                self.hub(Input::Tick);
            }
            for p in 0..self.peers.len() {
                if self.peers[p]
                    .session
                    .poll_timeout()
                    .is_some_and(|t| t <= now)
                {
                    self.peers[p].session.on_timeout(now);
                }
            }
            self.run();
        }
        self.now = until;
        self.run();
    }

    fn client_output(&mut self, p: PeerId, out: Output) {
        let now = self.now;
        match out {
            Output::Connect => {
                let conn = ConnId(self.next_conn);
                self.next_conn += 1;
                self.conns.insert(conn, (p, ConnState::Handshake));
                self.peers[p].conn = Some(conn);
                self.peers[p].session.on_connected(now);
            }
            Output::Send(text) => {
                self.peers[p].sent.push(text.clone());
                if let Some(conn) = self.peers[p].conn {
                    self.hub_reads(conn, &text);
                }
            }
            Output::Close(_) => {
                if let Some(conn) = self.peers[p].conn.take()
                    && let Some((_, ConnState::Attached)) = self.conns.remove(&conn)
                {
                    self.hub(Input::Closed { conn });
                }
            }
            Output::NeedToken(_) => {
                let (id, role) = (self.peers[p].id.clone(), self.peers[p].role);
                let token = self.mint(&id, role);
                self.peers[p].tokens += 1;
                self.peers[p].session.on_token(now, token);
            }
            Output::Event(e) => self.peers[p].events.push(e),
        }
    }

    /// The hub's shell reads one frame from `conn`.
    fn hub_reads(&mut self, conn: ConnId, text: &str) {
        let Some(&(p, state)) = self.conns.get(&conn) else {
            return; // the hub closed it; the frame is lost
        };
        let parsed = parse_client_message(text);
        if state == ConnState::Handshake {
            match parsed {
                Ok((
                    _,
                    ClientMessage::Hello {
                        token,
                        device,
                        features,
                        ..
                    },
                )) => match claims_of(&token).filter(|c| self.store.jtis.insert(c.jti.clone())) {
                    Some(c) => {
                        self.hellos += 1;
                        self.attach(conn, p, c, device, features, None);
                    }
                    None => self.close(conn, 4001),
                },
                Ok((
                    _,
                    ClientMessage::Resume {
                        resume_token,
                        last_seq,
                        features,
                    },
                )) => {
                    let now_s = UnixMs(self.now as i64).to_secs();
                    match self
                        .store
                        .resume
                        .remove(&resume_token)
                        .filter(|c| c.exp > now_s)
                    {
                        Some(c) => {
                            self.resumes += 1;
                            self.attach(conn, p, c, None, features, Some(last_seq));
                        }
                        None => self.close(conn, 4001),
                    }
                }
                _ => self.close(conn, 4000),
            }
            return;
        }
        let (id, msg) = match parsed {
            Ok(x) => x,
            Err((re, e)) => {
                let m = ServerMessage::error(ErrorCode::BadRequest, e.to_string(), re);
                self.send(conn, m.to_json());
                return;
            }
        };
        let sdp = match &msg {
            ClientMessage::Refresh { token } => {
                self.refresh(conn, p, token, id);
                return;
            }
            ClientMessage::Offer { sdp, .. } | ClientMessage::Answer { sdp, .. } => {
                match bedside_visit::sdp::inspect(sdp) {
                    Ok(summary) => Some(summary),
                    Err(v) => {
                        let m = ServerMessage::error(ErrorCode::InvalidSdp, v.detail, id);
                        self.send(conn, m.to_json());
                        return;
                    }
                }
            }
            _ => None,
        };
        self.hub(Input::Message {
            conn,
            id,
            msg: Box::new(msg),
            sdp,
        });
    }

    fn attach(
        &mut self,
        conn: ConnId,
        p: PeerId,
        claims: JoinClaims,
        device: Option<bedside_protocol::DeviceId>,
        features: Features,
        resumed: Option<Option<u64>>,
    ) {
        assert_eq!(claims.sub, self.peers[p].id, "a peer joins as itself");
        let resume_token = format!("rt-{}", conn.0);
        self.store
            .resume
            .insert(resume_token.clone(), claims.clone());
        self.conns.insert(conn, (p, ConnState::Attached));
        self.hub(Input::Join(Box::new(Join {
            conn,
            session: format!("s-{}", conn.0),
            participant: claims.sub,
            name: claims.name,
            role: claims.role,
            perms: claims.perms,
            device,
            expires_at: claims.exp,
            resume_token,
            ice_servers: Vec::new(),
            last_seq: resumed.flatten(),
            resumed: resumed.is_some(),
            features,
            ip: Some("192.0.2.1".into()),
            patient_id: None,
        })));
    }

    fn refresh(
        &mut self,
        conn: ConnId,
        p: PeerId,
        token: &str,
        id: Option<bedside_protocol::MessageId>,
    ) {
        let Some(c) = claims_of(token).filter(|c| c.sub == self.peers[p].id) else {
            let m = ServerMessage::error(ErrorCode::Unauthorized, "refresh refused", id);
            self.send(conn, m.to_json());
            return;
        };
        self.refreshes += 1;
        let exp = c.exp;
        for r in self.store.resume.values_mut().filter(|r| r.sub == c.sub) {
            r.exp = exp;
        }
        self.hub(Input::Refreshed {
            conn,
            expires_at: exp,
        });
        let ack = ServerMessage::Ack {
            re: id,
            seq: None,
            expires_at: Some(exp),
        };
        self.send(conn, ack.to_json());
    }

    fn send(&mut self, conn: ConnId, text: String) {
        if let Some(&(p, _)) = self.conns.get(&conn) {
            self.transcript.push((p, text.clone()));
            self.peers[p].to_client.push_back((conn, Frame::Text(text)));
        }
    }

    fn close(&mut self, conn: ConnId, code: u16) {
        if let Some((p, _)) = self.conns.remove(&conn) {
            self.transcript.push((p, format!("close {code}")));
            self.peers[p]
                .to_client
                .push_back((conn, Frame::Close(code)));
        }
    }

    /// One input to the visit, and its outputs carried out in order.
    fn hub(&mut self, input: Input) {
        let now = self.now as i64;
        for out in self.visit.handle(now, input) {
            match out {
                HubOutput::Send { to, msg } => {
                    let text = msg.to_json();
                    for conn in to {
                        self.send(conn, text.clone());
                    }
                }
                HubOutput::Close { conn, code } => self.close(conn, code.code()),
                HubOutput::Persist(w) | HubOutput::Background(w) => self.store.apply(w),
                HubOutput::Audit(e, _) => self.audit.push(*e),
                HubOutput::Alert(_, e) => self.audit.push(*e),
                HubOutput::Append { conn, id, message } => {
                    let message = self.store.append(message);
                    self.answers.push_back(Input::Committed {
                        conn,
                        id,
                        result: Ok(Box::new(message)),
                    });
                }
                HubOutput::LoadBacklog {
                    conn,
                    participant,
                    after,
                } => {
                    let result = Ok(self.store.backlog(&participant, after));
                    self.answers.push_back(Input::Backlog { conn, result });
                }
            }
        }
    }

    /// The chats `p` has read, as (from, text), in order.
    pub fn chats(&self, p: PeerId) -> Vec<(String, String)> {
        self.peers[p]
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Chat(c) => Some((c.from.clone(), c.text.clone())),
                _ => None,
            })
            .collect()
    }

    /// The ids of `p`'s chats the hub acknowledged, in order.
    pub fn acked(&self, p: PeerId) -> Vec<String> {
        self.peers[p]
            .events
            .iter()
            .filter_map(|e| match e {
                Event::ChatAcked { message_id } => Some(message_id.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether `p` heard an event matching `f`.
    pub fn heard(&self, p: PeerId, f: impl Fn(&Event) -> bool) -> bool {
        self.peers[p].events.iter().any(f)
    }
}

impl Default for Sim {
    fn default() -> Self {
        Self::new()
    }
}

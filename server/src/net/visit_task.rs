//! The task that owns one visit: feeds its state machine with inputs and the
//! clock, and carries out what it returns (persist first, then send, then
//! close). Exits when nobody has been connected for a while, or at shutdown.

use super::inbox::{InboxReceiver, InboxSender, inbox};
use super::outbound::{ConnHandle, Overflow};
use super::visits::Visits;
use crate::audit::{Durability, Logged};
use crate::cluster::lease::Lease;
use crate::hub::Hub;
use crate::metrics::Relayed;
use crate::store::{Reply, StoreError, StoredMessage, VisitWrite};
use crate::visit::{ConnId, Input, Join, Output, Visit, VisitFailure, VisitSettings};
use bedside_protocol::{Limits, VisitId};
use futures_util::StreamExt;
use futures_util::stream::{FuturesOrdered, FuturesUnordered};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// How long a visit task lingers with no connection before it exits.
const LINGER: Duration = Duration::from_secs(30);
/// Longest the task sleeps before looking at its deadlines again.
const MAX_WAIT_MS: i64 = 86_400_000;
/// Inbox size; senders wait when it is full (back-pressure on their reads).
const INBOX: usize = 1024;

/// A request to a visit task.
#[derive(Debug)]
pub enum VisitCommand {
    /// Attach an authenticated connection. `attached` is answered once the
    /// visit took it; if it is dropped unanswered, the task was exiting and
    /// the caller must look the visit up again.
    Join {
        /// The join.
        join: Box<Join>,
        /// The connection's queue.
        conn: ConnHandle,
        /// Answered when attached.
        attached: oneshot::Sender<()>,
    },
    /// Any other input, with its arrival time for the relay-latency metric.
    Input(Input, Instant),
}

/// A cloneable sender to a visit: its task on this node, or (in a
/// cluster) its owner on another node.
#[derive(Debug, Clone)]
pub struct VisitHandle(Handle);

#[derive(Debug, Clone)]
enum Handle {
    Local(InboxSender<VisitCommand>),
    Remote(Arc<super::remote::RemoteVisit>),
}

impl VisitHandle {
    /// A handle forwarding to another node.
    pub(crate) fn remote(r: Arc<super::remote::RemoteVisit>) -> Self {
        Self(Handle::Remote(r))
    }

    /// Sends a command; `Err` means the task is gone.
    pub async fn send(&self, cmd: VisitCommand) -> Result<(), VisitCommand> {
        match &self.0 {
            Handle::Local(tx) => tx.send(cmd).await,
            Handle::Remote(r) => Box::pin(r.send(cmd)).await,
        }
    }

    /// The task has exited (never for a remote owner: its links end instead).
    pub fn is_closed(&self) -> bool {
        match &self.0 {
            Handle::Local(tx) => tx.is_closed(),
            Handle::Remote(_) => false,
        }
    }

    /// Both handles reach the same task on this node.
    pub fn same(&self, other: &VisitHandle) -> bool {
        match (&self.0, &other.0) {
            (Handle::Local(a), Handle::Local(b)) => a.same(b),
            _ => false,
        }
    }
}

/// Starts the task for `visit` (in a cluster, under `lease`).
pub fn spawn(
    hub: Arc<Hub>,
    visits: Arc<Visits>,
    visit: VisitId,
    lease: Option<Lease>,
) -> VisitHandle {
    let (tx, rx) = inbox(INBOX);
    let handle = VisitHandle(Handle::Local(tx));
    let me = handle.clone();
    tokio::spawn(async move {
        hub.metrics.visits.inc();
        let mut task = VisitTask {
            hub: hub.clone(),
            conns: HashMap::new(),
            commits: FuturesOrdered::new(),
            loads: FuturesUnordered::new(),
            gates: FuturesOrdered::new(),
            failed: false,
            fence: lease.as_ref().map(|l| l.fence.clone()),
            lease,
        };
        task.run(visit.clone(), rx).await;
        visits.exited(&visit, &me);
        if let Some(lease) = task.lease.take() {
            lease.release().await;
        }
        hub.metrics.visits.dec();
    });
    handle
}

/// A store answer on its way to the visit, with the store's error (if
/// any) for the shell to log: the visit itself only learns that it failed.
type Pending = Pin<Box<dyn Future<Output = (Input, Option<StoreError>)> + Send>>;

/// A store result as the visit sees it, and the error as the log sees it.
fn split<T>(r: Result<T, StoreError>) -> (Result<T, VisitFailure>, Option<StoreError>) {
    match r {
        Ok(v) => (Ok(v), None),
        Err(e) => (Err(VisitFailure::Store), Some(e)),
    }
}
/// Sends and closes waiting for their audit records: (all logged, actions, arrival).
type Gate = Pin<Box<dyn Future<Output = (bool, Vec<Output>, Option<Instant>)> + Send>>;

struct VisitTask {
    hub: Arc<Hub>,
    conns: HashMap<ConnId, ConnHandle>,
    /// Appends in the order they were queued at the store (= seq order).
    commits: FuturesOrdered<Pending>,
    /// Backlog queries.
    loads: FuturesUnordered<Pending>,
    /// Gated sends, in order.
    gates: FuturesOrdered<Gate>,
    /// The state machine panicked: its state is not to be trusted, so it
    /// takes no more input and the task ends (see [`VisitTask::step`]).
    failed: bool,
    /// In a cluster: the lease this node holds on the visit (released at
    /// exit), and its fence, which every write carries.
    lease: Option<Lease>,
    fence: Option<crate::store::Fence>,
}

fn committed(
    conn: ConnId,
    id: Option<bedside_protocol::MessageId>,
    message: StoredMessage,
    reply: Reply<u64>,
) -> Pending {
    Box::pin(async move {
        let (result, error) = split(
            reply
                .await
                .map(|seq| Box::new(StoredMessage { seq, ..message })),
        );
        (Input::Committed { conn, id, result }, error)
    })
}

impl VisitTask {
    async fn run(&mut self, id: VisitId, mut rx: InboxReceiver<VisitCommand>) {
        // Handlers are boxed: their futures are large and live only while a
        // message is handled, so an idle visit's task stays small.
        let snapshot = match Box::pin(self.hub.store.load_visit(&id)).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(visit = %id, error = %e, "cannot load visit; refusing joins");
                return; // Dropping `rx` answers every pending join with a retry.
            }
        };
        if let Some(lease) = &self.lease
            && !took_over(&self.hub, &id, lease).await
        {
            // Unaudited, the takeover does not happen (the lease is given
            // back as the task exits; joins are answered with a retry).
            tracing::error!(visit = %id, "audit trail failed; not taking the visit over");
            return;
        }
        let cfg = &self.hub.config.session;
        let settings = VisitSettings {
            idle_timeout_ms: cfg.idle_timeout_s as i64 * 1000,
            expiry_notice_ms: 60_000,
            limits: Limits {
                max_message_bytes: cfg.max_message_bytes,
                idle_timeout_s: cfg.idle_timeout_s,
            },
            permission_violations_per_min: self.hub.config.limits.permission_violations_per_min,
        };
        let mut visit = Visit::new(id, settings, snapshot);
        let mut shutdown = self.hub.shutdown_signal();
        if *shutdown.borrow() {
            return;
        }
        let mut empty_since = Some(tokio::time::Instant::now());
        let mut jumps = self.hub.clock.jumps();
        loop {
            let timer = visit.next_deadline().map(|at| {
                // At most a day ahead: a far deadline just means one
                // needless tick, never an overflowing instant.
                let wait = at
                    .saturating_sub(self.hub.clock.now().0)
                    .clamp(0, MAX_WAIT_MS) as u64;
                tokio::time::Instant::now() + Duration::from_millis(wait)
            });
            let linger_until = empty_since.map(|t| t + LINGER);
            // One timer for both (each costs every visit's task ~120 bytes).
            let wake = match (timer, linger_until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => Box::pin(self.command(&mut visit, cmd)).await,
                    None => break,
                },
                Some((input, error)) = self.commits.next(), if !self.commits.is_empty() => {
                    if let Some(error) = error {
                        tracing::error!(visit = %visit.id(), %error, "e2e message not stored");
                    }
                    self.handle(&mut visit, input).await;
                }
                Some((input, error)) = self.loads.next(), if !self.loads.is_empty() => {
                    if let Some(error) = error {
                        tracing::error!(visit = %visit.id(), %error, "cannot load missed messages");
                    }
                    self.handle(&mut visit, input).await;
                }
                Some((ok, actions, arrived)) = self.gates.next(), if !self.gates.is_empty() => {
                    Box::pin(self.gate_opened(&mut visit, ok, actions, arrived)).await;
                }
                _ = sleep_until(wake) => {
                    if linger_until.is_some_and(|t| tokio::time::Instant::now() >= t) {
                        break; // empty for the whole linger
                    }
                    self.handle(&mut visit, Input::Tick).await;
                }
                _ = shutdown.changed() => {
                    Box::pin(self.hand_over(&mut visit)).await;
                    break;
                }
                () = lease_expired(&mut self.lease) => {
                    // Another node may hold the visit by now: act no more.
                    tracing::warn!(visit = %visit.id(), "lease not renewed in time; closing this node's sessions of the visit with 1001");
                    self.hub.metrics.reject("lease_lost");
                    self.handle(&mut visit, Input::Shutdown).await;
                    self.lease = None;
                    break;
                }
                // A test moved the clock: compute the deadline again.
                () = jumps.next() => {}
            }
            if self.failed {
                break;
            }
            let idle = self.commits.is_empty() && self.loads.is_empty() && self.gates.is_empty();
            if visit.live_connections() == 0 && idle {
                if visit.is_ended() {
                    break;
                }
                empty_since.get_or_insert_with(tokio::time::Instant::now);
            } else {
                empty_since = None;
            }
        }
        self.drain_gates(&mut visit).await;
        // Refuse what is still queued: joins are answered by dropping their
        // reply (the caller looks the visit up again and starts a new task).
        rx.close();
        while rx.try_recv().is_some() {}
    }

    /// Feeds one input to the state machine. A panic there is a bug (no
    /// client byte or token claim should reach one), but it must not leave
    /// this visit's connections attached to a task that is gone (before,
    /// tokio ended the task: idle members hung until their next message,
    /// which then closed their socket without a close code). Instead every
    /// connection of the visit is closed with 1011 and the task ends; the
    /// clients resume, and the next join starts a fresh task from the
    /// store, where everything acknowledged is. Other visits never shared
    /// this task, so they see nothing.
    fn step(&mut self, visit: &mut Visit, input: Input) -> Vec<Output> {
        if self.failed {
            return Vec::new();
        }
        // Past the lease's deadline the visit takes no input: another node
        // may own it (the loop notices and ends the task).
        if self.lease.as_ref().is_some_and(|l| !l.is_valid()) && !matches!(input, Input::Shutdown) {
            return Vec::new();
        }
        let now = self.hub.clock.now().0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| visit.handle(now, input))) {
            Ok(out) => out,
            Err(_) => {
                self.failed = true;
                tracing::error!(visit = %visit.id(), "visit state machine panicked; closing its connections with 1011");
                self.hub.metrics.reject("visit_panic");
                self.conns
                    .keys()
                    .map(|&conn| Output::Close {
                        conn,
                        code: bedside_protocol::CloseCode::InternalError,
                    })
                    .collect()
            }
        }
    }

    /// Feeds `input` to the visit and carries out what it says.
    async fn handle(&mut self, visit: &mut Visit, input: Input) {
        let out = self.step(visit, input);
        Box::pin(self.carry_out(visit, out, None)).await;
    }

    async fn command(&mut self, visit: &mut Visit, cmd: VisitCommand) {
        match cmd {
            VisitCommand::Join {
                join,
                conn,
                attached,
            } => {
                self.conns.insert(conn.id, conn);
                let conn_id = join.conn;
                let out = self.step(visit, Input::Join(join));
                self.carry_out(visit, out, None).await;
                if attached.send(()).is_err() {
                    // The connection went away while joining.
                    let out = self.step(visit, Input::Closed { conn: conn_id });
                    self.carry_out(visit, out, None).await;
                }
            }
            VisitCommand::Input(input, at) => {
                if let Input::Closed { conn } = &input {
                    self.conns.remove(conn);
                }
                let out = self.step(visit, input);
                self.carry_out(visit, out, Some(at)).await;
            }
        }
    }

    /// Carries out a visit's outputs, in order:
    /// 1. `Persist` writes are awaited (rare: admissions, permissions, tracks);
    /// 2. store requests (appends, backlog loads, acks) are queued, not awaited;
    /// 3. audit records are handed to the writer;
    /// 4. sends and closes wait for those audit records (see [`crate::audit`])
    ///    and for every earlier gated batch, so clients see effects in order
    ///    and never before their record.
    ///
    /// A client whose queue overflows is treated as closed and the visit told.
    async fn carry_out(&mut self, visit: &mut Visit, out: Vec<Output>, arrived: Option<Instant>) {
        let mut work = VecDeque::from([out]);
        while let Some(out) = work.pop_front() {
            let writes: Vec<VisitWrite> = out
                .iter()
                .filter_map(|o| match o {
                    Output::Persist(w) => Some(w.clone()),
                    _ => None,
                })
                .collect();
            if !writes.is_empty()
                && let Err(e) = self
                    .hub
                    .store
                    .write_visit(visit.id(), self.fence.as_ref(), writes)
                    .await
            {
                tracing::error!(visit = %visit.id(), error = %e, "store write failed");
                self.hub.metrics.reject("store_error");
            }
            // The last record of each durability covers the earlier ones.
            let (mut written, mut synced): (Option<Logged>, Option<Logged>) = (None, None);
            let mut actions = Vec::new();
            for o in out {
                match o {
                    Output::Persist(_) => {}
                    Output::Audit(event, durability) => {
                        let epoch = self.fence.as_ref().map(|f| f.epoch());
                        let l = self.hub.audit.log((*event).epoch(epoch), durability);
                        let slot = match durability {
                            Durability::Written => &mut written,
                            Durability::Synced => &mut synced,
                        };
                        *slot = Some(match slot.take() {
                            Some(prev) => prev.later(l),
                            None => l,
                        });
                    }
                    Output::Alert(kind, event) => self.hub.alert(kind, *event),
                    Output::Background(w) => self.background(visit, w).await,
                    Output::Append { conn, id, message } => {
                        self.append(visit, conn, id, message).await
                    }
                    Output::LoadBacklog {
                        conn,
                        participant,
                        after,
                    } => self.load_backlog(visit, conn, participant, after).await,
                    action @ (Output::Send { .. } | Output::Close { .. }) => actions.push(action),
                }
            }
            let logged = written.is_some() || synced.is_some();
            if !logged && self.gates.is_empty() {
                for c in self.perform(actions, arrived) {
                    work.push_back(self.step(visit, Input::Closed { conn: c }));
                }
            } else if logged || !actions.is_empty() {
                self.gates.push_back(Box::pin(async move {
                    let mut ok = true;
                    for l in [written, synced].into_iter().flatten() {
                        ok &= l.durable().await.is_ok();
                    }
                    (ok, actions, arrived)
                }));
            }
        }
    }

    /// A gated batch is ready: its audit records are durable.
    async fn gate_opened(
        &mut self,
        visit: &mut Visit,
        ok: bool,
        actions: Vec<Output>,
        arrived: Option<Instant>,
    ) {
        if !ok {
            // Not logged, so it must not happen; and nothing more can be logged.
            tracing::error!(visit = %visit.id(), "audit trail failed; shutting down");
            self.hub.metrics.reject("audit_failure");
            self.hub.begin_shutdown();
            return;
        }
        for c in self.perform(actions, arrived) {
            let out = self.step(visit, Input::Closed { conn: c });
            Box::pin(self.carry_out(visit, out, None)).await;
        }
    }

    /// Sends and closes; returns connections dropped for not reading.
    fn perform(&mut self, actions: Vec<Output>, arrived: Option<Instant>) -> Vec<ConnId> {
        let mut dropped = Vec::new();
        // Past the lease's deadline another node may own the visit and
        // deliver the same messages from the store: send nothing more
        // (closes still go out, so clients resume there).
        let lapsed = self.lease.as_ref().is_some_and(|l| !l.is_valid());
        for o in actions {
            match o {
                Output::Send { .. } if lapsed => {}
                Output::Send { to, msg } => {
                    let frame = Utf8Bytes::from(msg.to_json());
                    let relayed = match msg {
                        bedside_protocol::ServerMessage::Offer { .. } => Some(Relayed::Offer),
                        bedside_protocol::ServerMessage::Answer { .. } => Some(Relayed::Answer),
                        bedside_protocol::ServerMessage::Ice { .. } => Some(Relayed::Ice),
                        _ => None,
                    };
                    for c in to {
                        if let Some(h) = self.conns.get(&c)
                            && h.send(frame.clone()) == Err(Overflow)
                        {
                            dropped.push(c);
                        }
                    }
                    if let (Some(kind), Some(at)) = (relayed, arrived) {
                        self.hub
                            .metrics
                            .relay_latency(kind)
                            .observe(at.elapsed().as_secs_f64());
                    }
                }
                Output::Close { conn, code } => {
                    if let Some(h) = self.conns.remove(&conn) {
                        let _ = h.close(code);
                        self.hub.metrics.close(close_reason(code));
                    }
                }
                _ => {}
            }
        }
        dropped.retain(|c| {
            let gone = self.conns.remove(c).is_some();
            if gone {
                self.hub.metrics.close("slow_consumer");
            }
            gone
        });
        dropped
    }

    /// Queues a write nobody waits for.
    async fn background(&mut self, visit: &Visit, w: VisitWrite) {
        let queued = self
            .hub
            .store
            .enqueue(|reply| crate::store::Command::WriteVisit {
                visit: visit.id().clone(),
                fence: self.fence.clone(),
                writes: vec![w],
                reply,
            })
            .await;
        if let Err(e) = queued {
            tracing::error!(visit = %visit.id(), error = %e, "store write failed");
        }
    }

    async fn append(
        &mut self,
        visit: &Visit,
        conn: ConnId,
        id: Option<bedside_protocol::MessageId>,
        message: StoredMessage,
    ) {
        match self
            .hub
            .store
            .enqueue_append(visit.id(), self.fence.as_ref(), message.clone())
            .await
        {
            Ok(reply) => self.commits.push_back(committed(conn, id, message, reply)),
            Err(e) => {
                let input = Input::Committed {
                    conn,
                    id,
                    result: Err(VisitFailure::Store),
                };
                self.commits
                    .push_back(Box::pin(async move { (input, Some(e)) }));
            }
        }
    }

    async fn load_backlog(
        &mut self,
        visit: &Visit,
        conn: ConnId,
        participant: bedside_protocol::ParticipantId,
        after: u64,
    ) {
        let reply = self
            .hub
            .store
            .enqueue_backlog(visit.id(), &participant, after)
            .await;
        self.loads.push(Box::pin(async move {
            let (result, error) = split(match reply {
                Ok(r) => r.await,
                Err(e) => Err(e),
            });
            (Input::Backlog { conn, result }, error)
        }));
    }

    /// Shutdown (SIGTERM): finish the writes in flight, close every session
    /// with 1001 (after their acks are written), then give the lease up so
    /// another node takes the visit over at once.
    async fn hand_over(&mut self, visit: &mut Visit) {
        while let Some((input, _)) = self.commits.next().await {
            self.handle(visit, input).await;
        }
        while let Some((input, _)) = self.loads.next().await {
            self.handle(visit, input).await;
        }
        self.handle(visit, Input::Shutdown).await;
        if let Some(lease) = self.lease.take() {
            // The store runs commands in order: once this read is answered,
            // the writes queued before it are done.
            let _ = self.hub.store.load_visit(visit.id()).await;
            lease.release().await;
        }
    }

    /// Performs every gated batch still waiting (at exit).
    async fn drain_gates(&mut self, visit: &mut Visit) {
        while let Some((ok, actions, arrived)) = self.gates.next().await {
            self.gate_opened(visit, ok, actions, arrived).await;
        }
    }
}

fn close_reason(code: bedside_protocol::CloseCode) -> &'static str {
    use bedside_protocol::CloseCode as C;
    match code {
        C::Left => "left",
        C::GoingAway => "going_away",
        C::InvalidPayload => "invalid_utf8",
        C::InternalError => "internal_error",
        C::ProtocolError => "protocol_error",
        C::Unauthorized => "unauthorized",
        C::Denied => "denied",
        C::IdleTimeout => "idle_timeout",
        C::TooLarge => "too_large",
        C::SessionExpired => "session_expired",
        C::Replaced => "replaced",
        C::VisitEnded => "visit_ended",
        C::RateLimited => "rate_limited",
    }
}

/// In a cluster, the audit record of taking a visit over (any epoch
/// after the first: another node, or an earlier process of this one,
/// held it before).
/// False if the record could not be written.
async fn took_over(hub: &Hub, id: &VisitId, lease: &Lease) -> bool {
    let epoch = lease.fence.epoch();
    if epoch <= 1 {
        return true;
    }
    let actor = crate::audit::Actor {
        visit_id: Some(id.to_string()),
        ..Default::default()
    };
    let node = hub
        .cluster
        .as_ref()
        .map(|c| c.node.clone())
        .unwrap_or_default();
    let mut e = crate::audit::Event::by(
        Arc::new(actor),
        crate::audit::Action::VisitTakeover,
        crate::audit::Outcome::Success,
    )
    .detail("node", node)
    .detail("epoch", epoch)
    .epoch(Some(epoch));
    if let Some(p) = &lease.previous {
        e = e.detail("previous_owner", p.clone());
    }
    hub.audit
        .log(e, Durability::Written)
        .durable()
        .await
        .is_ok()
}

/// Resolves when this node's lease on the visit has run out (never without one).
async fn lease_expired(lease: &mut Option<Lease>) {
    match lease {
        Some(l) => l.expired().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::VisitCommand;
    use crate::hub::DEV_ISSUER;
    use crate::visit::Input;
    use bedside_protocol::ParticipantId;
    use bedside_protocol::claims::{JoinClaims, Lifetime};
    use bedside_protocol::{Role, VisitId};
    use bedside_token::random_jti;
    use futures_util::{SinkExt, StreamExt};
    use std::time::{Duration, Instant};
    use tokio_tungstenite::tungstenite::Message;

    type Ws = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    async fn hello(running: &crate::server::Running, visit: &str, sub: &str, role: Role) -> Ws {
        let dev = running.hub.dev.as_ref().unwrap();
        let now = running.hub.clock.now_s();
        let claims = JoinClaims::new(
            DEV_ISSUER,
            "bedside",
            VisitId::new(visit).unwrap(),
            ParticipantId::new(sub).unwrap(),
            role,
            Lifetime::starting(now, 600),
            random_jti(),
        );
        let token = dev.key.sign(&claims).unwrap();
        let url = format!("ws://{}/v1/signal", running.addr);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let hello = serde_json::json!({"type":"hello","token":token}).to_string();
        ws.send(Message::text(hello)).await.unwrap();
        assert_eq!(next(&mut ws).await["type"], "welcome");
        ws
    }

    /// The next JSON message, or `{"close": code}`.
    async fn next(ws: &mut Ws) -> serde_json::Value {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message in time");
        match m {
            Some(Ok(Message::Text(t))) => serde_json::from_str(&t).unwrap(),
            Some(Ok(Message::Close(f))) => {
                serde_json::json!({"close": f.map(|f| u16::from(f.code))})
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    async fn close_code(ws: &mut Ws) -> serde_json::Value {
        loop {
            let m = next(ws).await;
            if m.get("close").is_some() {
                return m["close"].clone();
            }
        }
    }

    #[tokio::test]
    async fn a_panic_in_one_visit_closes_its_connections_with_1011_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::config::Config {
            dev: true,
            listen: Some("127.0.0.1:0".parse().unwrap()),
            data_dir: dir.path().join("data"),
            ..Default::default()
        };
        config.audit.path = dir.path().join("audit/audit.jsonl");
        let running = crate::server::start(config).await.unwrap();
        let mut dr = hello(&running, "v-1", "dr", Role::Provider).await;
        let mut pt = hello(&running, "v-1", "pt", Role::Patient).await;
        let mut other = hello(&running, "v-2", "dr-2", Role::Provider).await;

        let v1 = running
            .visits
            .visit(&running.hub, &VisitId::new("v-1").unwrap())
            .await
            .unwrap();
        v1.send(VisitCommand::Input(Input::InjectedPanic, Instant::now()))
            .await
            .unwrap();
        assert_eq!(close_code(&mut dr).await, 1011);
        assert_eq!(close_code(&mut pt).await, 1011);

        // The other visit did not notice.
        other
            .send(Message::text(r#"{"type":"ping","id":"p"}"#))
            .await
            .unwrap();
        loop {
            if next(&mut other).await["type"] == "pong" {
                break;
            }
        }
        // The failed visit's task is gone; the next join starts a fresh one.
        let mut again = hello(&running, "v-1", "dr", Role::Provider).await;
        again
            .send(Message::text(r#"{"type":"ping"}"#))
            .await
            .unwrap();
        loop {
            if next(&mut again).await["type"] == "pong" {
                break;
            }
        }
        running.shutdown(Duration::from_secs(2)).await;
    }
}

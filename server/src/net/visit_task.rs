//! The task that owns one visit: feeds its state machine with inputs and the
//! clock, and carries out what it returns (persist first, then send, then
//! close). Exits when nobody has been connected for a while, or at shutdown.

use super::outbound::{ConnHandle, Overflow};
use crate::hub::{Hub, now_ms};
use crate::store::{Reply, StoredMessage, VisitWrite};
use crate::visit::{ConnId, Input, Join, Output, Visit, VisitSettings};
use bedside_protocol::{Limits, VisitId};
use futures_util::StreamExt;
use futures_util::stream::{FuturesOrdered, FuturesUnordered};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// How long a visit task lingers with no connection before it exits.
const LINGER: Duration = Duration::from_secs(30);
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

/// A cloneable sender to a visit task.
#[derive(Debug, Clone)]
pub struct VisitHandle {
    tx: mpsc::Sender<VisitCommand>,
}

impl VisitHandle {
    /// Sends a command; `Err` means the task is gone.
    pub async fn send(&self, cmd: VisitCommand) -> Result<(), VisitCommand> {
        self.tx.send(cmd).await.map_err(|e| e.0)
    }

    /// The task has exited.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Both handles reach the same task.
    pub fn same(&self, other: &VisitHandle) -> bool {
        self.tx.same_channel(&other.tx)
    }
}

/// Starts the task for `visit`.
pub fn spawn(hub: Arc<Hub>, visit: VisitId) -> VisitHandle {
    let (tx, rx) = mpsc::channel(INBOX);
    let handle = VisitHandle { tx };
    let me = handle.clone();
    tokio::spawn(async move {
        hub.metrics.visits.inc();
        let mut task = VisitTask {
            hub: hub.clone(),
            conns: HashMap::new(),
            commits: FuturesOrdered::new(),
            loads: FuturesUnordered::new(),
        };
        task.run(visit.clone(), rx).await;
        hub.visit_exited(&visit, &me);
        hub.metrics.visits.dec();
    });
    handle
}

type Pending = Pin<Box<dyn Future<Output = Input> + Send>>;

struct VisitTask {
    hub: Arc<Hub>,
    conns: HashMap<ConnId, ConnHandle>,
    /// Appends in the order they were queued at the store (= seq order).
    commits: FuturesOrdered<Pending>,
    /// Backlog queries.
    loads: FuturesUnordered<Pending>,
}

fn committed(
    conn: ConnId,
    id: Option<bedside_protocol::MessageId>,
    message: StoredMessage,
    reply: Reply<u64>,
) -> Pending {
    Box::pin(async move {
        let result = reply.await.map(|seq| StoredMessage { seq, ..message });
        Input::Committed { conn, id, result }
    })
}

impl VisitTask {
    async fn run(&mut self, id: VisitId, mut rx: mpsc::Receiver<VisitCommand>) {
        let snapshot = match self.hub.store.load_visit(&id).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(visit = %id, error = %e, "cannot load visit; refusing joins");
                return; // Dropping `rx` answers every pending join with a retry.
            }
        };
        let cfg = &self.hub.config.session;
        let settings = VisitSettings {
            idle_timeout_ms: cfg.idle_timeout_s as i64 * 1000,
            expiry_notice_ms: 60_000,
            limits: Limits {
                max_message_bytes: cfg.max_message_bytes,
                idle_timeout_s: cfg.idle_timeout_s,
            },
        };
        let mut visit = Visit::new(id, settings, snapshot);
        let mut shutdown = self.hub.shutdown_signal();
        if *shutdown.borrow() {
            return;
        }
        let mut empty_since = Some(tokio::time::Instant::now());
        loop {
            let timer = visit.next_deadline().map(|at| {
                let wait = (at - now_ms()).max(0) as u64;
                tokio::time::Instant::now() + Duration::from_millis(wait)
            });
            let linger_until = empty_since.map(|t| t + LINGER);
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.command(&mut visit, cmd).await,
                    None => break,
                },
                Some(input) = self.commits.next(), if !self.commits.is_empty() => {
                    let out = visit.handle(now_ms(), input);
                    self.carry_out(&mut visit, out, None).await;
                }
                Some(input) = self.loads.next(), if !self.loads.is_empty() => {
                    let out = visit.handle(now_ms(), input);
                    self.carry_out(&mut visit, out, None).await;
                }
                _ = sleep_until(timer) => {
                    let out = visit.handle(now_ms(), Input::Tick);
                    self.carry_out(&mut visit, out, None).await;
                }
                _ = shutdown.changed() => {
                    let out = visit.handle(now_ms(), Input::Shutdown);
                    self.carry_out(&mut visit, out, None).await;
                    break;
                }
                _ = sleep_until(linger_until) => break,
            }
            if visit.live_connections() == 0 && self.commits.is_empty() && self.loads.is_empty() {
                if visit.is_ended() {
                    break;
                }
                empty_since.get_or_insert_with(tokio::time::Instant::now);
            } else {
                empty_since = None;
            }
        }
        // Refuse what is still queued: joins are answered by dropping their
        // reply (the caller looks the visit up again and starts a new task).
        rx.close();
        while rx.try_recv().is_ok() {}
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
                let out = visit.handle(now_ms(), Input::Join(join));
                self.carry_out(visit, out, None).await;
                if attached.send(()).is_err() {
                    // The connection went away while joining.
                    let out = visit.handle(now_ms(), Input::Closed { conn: conn_id });
                    self.carry_out(visit, out, None).await;
                }
            }
            VisitCommand::Input(input, at) => {
                if let Input::Closed { conn } = &input {
                    self.conns.remove(conn);
                }
                let out = visit.handle(now_ms(), input);
                self.carry_out(visit, out, Some(at)).await;
            }
        }
    }

    /// Persist, then send, then close; a client whose queue overflows is
    /// treated as closed and the visit is told.
    async fn carry_out(
        &mut self,
        visit: &mut Visit,
        mut out: Vec<Output>,
        arrived: Option<Instant>,
    ) {
        loop {
            let writes: Vec<VisitWrite> = out
                .iter()
                .filter_map(|o| match o {
                    Output::Persist(w) => Some(w.clone()),
                    _ => None,
                })
                .collect();
            if !writes.is_empty()
                && let Err(e) = self.hub.store.write_visit(visit.id(), writes).await
            {
                tracing::error!(visit = %visit.id(), error = %e, "store write failed");
                self.hub.metrics.reject("store_error");
            }
            let mut dropped = Vec::new();
            for o in out {
                match o {
                    Output::Persist(_) => {}
                    Output::Background(w) => {
                        // Queued now, in order; nobody waits for it.
                        if let Err(e) = self
                            .hub
                            .store
                            .enqueue(|reply| crate::store::Command::WriteVisit {
                                visit: visit.id().clone(),
                                writes: vec![w],
                                reply,
                            })
                            .await
                        {
                            tracing::error!(visit = %visit.id(), error = %e, "store write failed");
                        }
                    }
                    Output::Append { conn, id, message } => {
                        match self
                            .hub
                            .store
                            .enqueue_append(visit.id(), message.clone())
                            .await
                        {
                            Ok(reply) => {
                                self.commits.push_back(committed(conn, id, message, reply))
                            }
                            Err(e) => {
                                let input = Input::Committed {
                                    conn,
                                    id,
                                    result: Err(e),
                                };
                                self.commits.push_back(Box::pin(async move { input }));
                            }
                        }
                    }
                    Output::LoadBacklog {
                        conn,
                        participant,
                        after,
                    } => {
                        let reply = self
                            .hub
                            .store
                            .enqueue_backlog(visit.id(), &participant, after)
                            .await;
                        self.loads.push(Box::pin(async move {
                            let result = match reply {
                                Ok(r) => r.await,
                                Err(e) => Err(e),
                            };
                            Input::Backlog { conn, result }
                        }));
                    }
                    Output::Send { to, msg } => {
                        let frame = Utf8Bytes::from(msg.to_json());
                        let relayed = matches!(
                            msg,
                            bedside_protocol::ServerMessage::Offer { .. }
                                | bedside_protocol::ServerMessage::Answer { .. }
                                | bedside_protocol::ServerMessage::Ice { .. }
                        );
                        for c in to {
                            if let Some(h) = self.conns.get(&c)
                                && h.send(frame.clone()) == Err(Overflow)
                            {
                                dropped.push(c);
                            }
                        }
                        if let (true, Some(at)) = (relayed, arrived) {
                            self.hub
                                .metrics
                                .relay_latency
                                .observe(at.elapsed().as_secs_f64());
                        }
                    }
                    Output::Close { conn, code } => {
                        if let Some(h) = self.conns.remove(&conn) {
                            let _ = h.close(code);
                            self.hub.metrics.close(close_reason(code));
                        }
                    }
                }
            }
            if dropped.is_empty() {
                return;
            }
            out = Vec::new();
            for c in dropped {
                if self.conns.remove(&c).is_some() {
                    self.hub.metrics.close("slow_consumer");
                    out.extend(visit.handle(now_ms(), Input::Closed { conn: c }));
                }
            }
        }
    }
}

fn close_reason(code: bedside_protocol::CloseCode) -> &'static str {
    use bedside_protocol::CloseCode as C;
    match code {
        C::Left => "left",
        C::GoingAway => "going_away",
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

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

//! Participants on any node: a session whose visit another node owns talks
//! to that owner through Redis ([`crate::cluster::bus`]).
//!
//! - The socket node's side is a [`RemoteVisit`], the session's
//!   [`VisitHandle`] when the owner is elsewhere: it sends the join and each
//!   input ([`wire::Wire`]) to the owner, and the router hands the owner's
//!   frames to the session's send queue.
//! - The owner's side is an ordinary connection of its visit task, whose
//!   writer publishes to the socket node ([`sink::RemoteSink`]).
//!
//! Every frame carries the owner's fence: frames of a former owner (a node
//! that was paused past its lease) are dropped. Frames are numbered per
//! link; a gap, a lost subscription, or a peer node whose presence lapsed
//! ends the links concerned: the socket node closes the session with 1001,
//! the client resumes (on any node) and catches up from the store, which is
//! the truth. Nothing acknowledged depends on a pub/sub message arriving.

pub mod ask;
pub mod sink;
pub mod wire;

use super::outbound::{self, ConnHandle};
use super::visit_task::{VisitCommand, VisitHandle};
use super::visits::Visits;
use crate::cluster::Cluster;
use crate::cluster::bus::BusEvent;
use crate::hub::Hub;
use crate::store::Fence;
use crate::visit::{ConnId, Input};
use bedside_protocol::{
    ClientMessage, CloseCode, ErrorCode, ParticipantId, ServerMessage, VisitId,
};
use dashmap::DashMap;
use std::collections::BTreeSet;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use wire::{RemoteInput, RemoteJoin, RemoteOutput, Wire};

/// How long a socket node waits for the owner to attach a connection.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(5);

/// A link from a session here to a visit owned elsewhere.
#[derive(Debug)]
struct OutLink {
    owner: String,
    fence: String,
    conn: ConnHandle,
    /// Next frame number expected from the owner.
    expect: u64,
    /// Last input number sent.
    sent: u64,
    /// The placeholder the owner writes for the resume token, and the token.
    placeholder: Option<(String, String)>,
    attached: Option<oneshot::Sender<()>>,
}

/// A link from a session on another node to a visit owned here.
#[derive(Debug)]
struct InLink {
    conn: ConnId,
    visit: VisitHandle,
    handle: ConnHandle,
    fence: String,
    /// Next input number expected.
    expect: u64,
}

/// This node's end of every forwarded link.
#[derive(Debug)]
pub struct Router {
    hub: Arc<Hub>,
    cluster: Arc<Cluster>,
    visits: Weak<Visits>,
    outgoing: DashMap<u64, OutLink>,
    incoming: DashMap<(String, u64), InLink>,
    /// Added to a session's connection id to make its link id: random per
    /// process, so a node restarted under the same node id (its connection
    /// ids start again at 1) never reuses a link id an owner still holds.
    link_base: u64,
    /// Questions this node asked the others ([`ask`]), by id.
    asked: DashMap<u64, mpsc::UnboundedSender<ask::Part>>,
    next_ask: std::sync::atomic::AtomicU64,
}

/// A session's handle on a visit another node owns.
#[derive(Debug)]
pub struct RemoteVisit {
    router: Arc<Router>,
    owner: String,
    fence: Fence,
    visit: VisitId,
}

fn placeholder() -> String {
    format!(
        "resume-placeholder-{}",
        crate::store::redis::keys::hex(&rand::random::<[u8; 16]>())
    )
}

impl Router {
    /// The router of this node; [`Router::run`] must then be spawned.
    pub fn new(hub: Arc<Hub>, cluster: Arc<Cluster>, visits: Weak<Visits>) -> Arc<Self> {
        Arc::new(Self {
            hub,
            cluster,
            visits,
            outgoing: DashMap::new(),
            incoming: DashMap::new(),
            link_base: rand::random(),
            asked: DashMap::new(),
            next_ask: std::sync::atomic::AtomicU64::new(rand::random()),
        })
    }

    /// The link id of session `conn` here.
    fn link(&self, conn: ConnId) -> u64 {
        self.link_base.wrapping_add(conn.0)
    }

    /// A handle for a session on `visit`, owned by `owner` under `fence`.
    pub fn remote(self: &Arc<Self>, visit: &VisitId, owner: String, fence: Fence) -> VisitHandle {
        VisitHandle::remote(Arc::new(RemoteVisit {
            router: self.clone(),
            owner,
            fence,
            visit: visit.clone(),
        }))
    }

    /// Delivers what arrives on this node's channel, and ends the links to
    /// nodes whose presence lapsed, until shutdown.
    pub async fn run(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<BusEvent>) {
        let mut shutdown = self.hub.shutdown_signal();
        let mut tick = tokio::time::interval(self.cluster.beat_every());
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(BusEvent::Message(bytes)) => match serde_json::from_slice::<Wire>(&bytes) {
                        Ok(w) => self.deliver(w).await,
                        // Not the error: it may quote the payload.
                        Err(_) => tracing::warn!(bytes = bytes.len(), "unreadable forwarded message"),
                    },
                    Some(BusEvent::Gap) => {
                        tracing::warn!("subscription to this node's channel was interrupted; ending forwarded sessions");
                        self.hub.metrics.reject("cluster_gap");
                        self.end_links(|_| true).await;
                    }
                    Some(BusEvent::Subscribed) => {}
                    None => return,
                },
                _ = tick.tick() => self.check_peers().await,
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn check_peers(&self) {
        let mut peers: BTreeSet<String> = self.outgoing.iter().map(|l| l.owner.clone()).collect();
        peers.extend(self.incoming.iter().map(|l| l.key().0.clone()));
        for peer in peers {
            if !self.cluster.is_alive(&peer).await {
                tracing::warn!(node = %peer, "node's presence lapsed; ending its forwarded sessions");
                self.end_links(|n| n == peer).await;
            }
        }
    }

    /// Ends every link with a node `matching`: sessions here close with
    /// 1001; visits here learn their remote connections closed.
    async fn end_links(&self, matching: impl Fn(&str) -> bool) {
        let out: Vec<u64> = self
            .outgoing
            .iter()
            .filter(|l| matching(&l.owner))
            .map(|l| *l.key())
            .collect();
        for link in out {
            if let Some((_, l)) = self.outgoing.remove(&link) {
                let _ = l.conn.close(CloseCode::GoingAway);
            }
        }
        let inc: Vec<(String, u64)> = self
            .incoming
            .iter()
            .filter(|l| matching(&l.key().0))
            .map(|l| l.key().clone())
            .collect();
        for key in inc {
            self.drop_incoming(&key).await;
        }
    }

    async fn drop_incoming(&self, key: &(String, u64)) {
        if let Some((_, l)) = self.incoming.remove(key) {
            let _ = l.handle.close(CloseCode::GoingAway);
            let closed = Input::Closed { conn: l.conn };
            let _ = l
                .visit
                .send(VisitCommand::Input(closed, Instant::now()))
                .await;
        }
    }

    async fn publish(&self, node: &str, wire: &Wire) -> bool {
        let Ok(payload) = serde_json::to_vec(wire) else {
            return false;
        };
        match self.cluster.publish(node, &payload).await {
            Ok(received) => received,
            Err(e) => {
                tracing::warn!(error = %e, "cannot forward to node {node}");
                false
            }
        }
    }

    async fn deliver(self: &Arc<Self>, w: Wire) {
        match w {
            Wire::Join {
                from,
                link,
                visit,
                fence,
                join,
            } => self.join_here(from, link, visit, fence, join).await,
            Wire::In {
                from,
                link,
                fence,
                n,
                input,
            } => self.input_here(from, link, fence, n, input).await,
            Wire::Attached { link, fence } => {
                if let Some(mut l) = self.outgoing.get_mut(&link)
                    && l.fence == fence
                    && let Some(tx) = l.attached.take()
                {
                    let _ = tx.send(());
                }
            }
            Wire::Refused { link } => {
                // Dropping the waiting `attached` makes the session look
                // the visit up again.
                if self
                    .outgoing
                    .get(&link)
                    .is_some_and(|l| l.attached.is_some())
                {
                    self.outgoing.remove(&link);
                }
            }
            Wire::Out {
                link,
                fence,
                n,
                out,
            } => self.output_here(link, fence, n, out),
            Wire::Operator {
                visit,
                fence,
                remove,
                by,
                ip,
            } => self.operator_here(visit, fence, remove, by, ip).await,
            Wire::Ask { from, id, ask } => self.answer_here(from, id, ask),
            Wire::Answer {
                id,
                node,
                part,
                last,
                body,
            } => self.answered(id, node, part, last, body),
        }
    }

    /// Any node → owner: an operator's call, for `visit` under `fence`.
    pub async fn operator(
        &self,
        owner: &str,
        visit: &VisitId,
        fence: &Fence,
        op: crate::visit::OperatorOp,
        by: &crate::audit::Actor,
    ) -> bool {
        let remove = match op {
            crate::visit::OperatorOp::EndVisit => None,
            crate::visit::OperatorOp::Remove(p) => Some(p),
        };
        let wire = Wire::Operator {
            visit: visit.clone(),
            fence: fence.0.clone(),
            remove,
            by: by.user_id.clone().unwrap_or_default(),
            ip: by.ip_address.clone(),
        };
        self.publish(owner, &wire).await
    }

    /// Owner side: an operator's call forwarded by another node; acted on
    /// only if this node still owns the visit under that fence.
    async fn operator_here(
        &self,
        visit: VisitId,
        fence: String,
        remove: Option<ParticipantId>,
        by: String,
        ip: Option<String>,
    ) {
        let Some(visits) = self.visits.upgrade() else {
            return;
        };
        let Some((handle, here)) = visits.local(&visit) else {
            return;
        };
        if here.0 != fence {
            return;
        }
        let op = match remove {
            None => crate::visit::OperatorOp::EndVisit,
            Some(p) => crate::visit::OperatorOp::Remove(p),
        };
        let by = Arc::new(crate::audit::Actor {
            user_id: Some(by),
            role: Some("admin".to_owned()),
            ip_address: ip,
            ..crate::audit::Actor::default()
        });
        let _ = handle
            .send(super::visit_task::VisitCommand::Input(
                Input::Operator { op, by },
                std::time::Instant::now(),
            ))
            .await;
    }

    /// Owner side: attach a connection of another node to a visit here.
    async fn join_here(
        self: &Arc<Self>,
        from: String,
        link: u64,
        visit: VisitId,
        fence: String,
        join: Box<RemoteJoin>,
    ) {
        let local = self
            .visits
            .upgrade()
            .and_then(|v| v.local(&visit))
            .filter(|(_, f)| f.0 == fence);
        let Some((handle, _)) = local else {
            self.publish(&from, &Wire::Refused { link }).await;
            return;
        };
        let conn = self.hub.next_conn_id();
        let (queue, writer) = outbound::queue(conn);
        let key = (from.clone(), link);
        self.incoming.insert(
            key.clone(),
            InLink {
                conn,
                visit: handle.clone(),
                handle: queue.clone(),
                fence: fence.clone(),
                expect: 1,
            },
        );
        let me = self.clone();
        let sink = sink::RemoteSink::new(self.cluster.clone(), from.clone(), link, fence.clone());
        let k = key.clone();
        tokio::spawn(async move {
            writer.run(sink).await;
            // Closed by the visit, or the socket node is gone.
            me.drop_incoming(&k).await;
        });
        let now = self.hub.clock.now_s().0;
        let ice = crate::ice::ice_servers(&self.hub.config.ice, &join.participant, now);
        let join = join.into_join(conn, ice);
        let (attached, rx) = oneshot::channel();
        let cmd = VisitCommand::Join {
            join: Box::new(join),
            conn: queue,
            attached,
        };
        let me = self.clone();
        // Not awaited here: a full visit inbox must not hold up the others.
        tokio::spawn(async move {
            if handle.send(cmd).await.is_ok() && rx.await.is_ok() {
                me.publish(&from, &Wire::Attached { link, fence }).await;
            } else {
                me.incoming.remove(&key);
                me.publish(&from, &Wire::Refused { link }).await;
            }
        });
    }

    /// Owner side: a remote connection's next input.
    async fn input_here(&self, from: String, link: u64, fence: String, n: u64, input: RemoteInput) {
        let key = (from, link);
        let (visit, conn, handle) = {
            let Some(mut l) = self.incoming.get_mut(&key) else {
                // Not (or no longer) attached here: tell the session to resume.
                let close = Wire::Out {
                    link,
                    fence,
                    n: 0,
                    out: RemoteOutput::Close { code: 1001 },
                };
                self.publish(&key.0, &close).await;
                return;
            };
            if l.fence != fence {
                return;
            }
            if l.expect != n {
                drop(l);
                tracing::warn!(node = %key.0, "gap in forwarded inputs; closing the session");
                self.hub.metrics.reject("cluster_gap");
                self.drop_incoming(&key).await;
                return;
            }
            l.expect += 1;
            (l.visit.clone(), l.conn, l.handle.clone())
        };
        let input = match input {
            RemoteInput::Text { text } => match bedside_protocol::parse_client_message(&text) {
                Ok((id, msg)) => {
                    let sdp = match &msg {
                        ClientMessage::Offer { sdp, .. } | ClientMessage::Answer { sdp, .. } => {
                            match crate::sdp::inspect(sdp) {
                                Ok(s) => Some(s),
                                Err(v) => {
                                    // The socket node checked it: a version skew.
                                    let mut m =
                                        ServerMessage::error(ErrorCode::InvalidSdp, v.detail, id);
                                    if let ServerMessage::Error(b) = &mut m {
                                        b.rule = Some(v.rule.to_owned());
                                    }
                                    let _ = handle.send(Utf8Bytes::from(m.to_json()));
                                    return;
                                }
                            }
                        }
                        _ => None,
                    };
                    Input::Message {
                        conn,
                        id,
                        msg: Box::new(msg),
                        sdp,
                    }
                }
                Err(_) => return,
            },
            RemoteInput::Refreshed { expires_at } => Input::Refreshed { conn, expires_at },
            RemoteInput::Activity => Input::Activity { conn },
            RemoteInput::Closed => {
                self.incoming.remove(&key);
                Input::Closed { conn }
            }
        };
        let _ = visit.send(VisitCommand::Input(input, Instant::now())).await;
    }

    /// Socket side: the owner's next frame or close for a session here.
    fn output_here(&self, link: u64, fence: String, n: u64, out: RemoteOutput) {
        // A frame for a link that ended, or from a former owner (the
        // session follows the current one): dropped.
        let Some(mut l) = self.outgoing.get_mut(&link) else {
            self.hub.metrics.reject("stale_forwarded_frame");
            return;
        };
        if l.fence != fence {
            self.hub.metrics.reject("stale_forwarded_frame");
            return;
        }
        if l.expect != n {
            drop(l);
            if let Some((_, l)) = self.outgoing.remove(&link) {
                if n != 0 {
                    tracing::warn!(node = %l.owner, "gap in forwarded frames; closing the session");
                    self.hub.metrics.reject("cluster_gap");
                }
                let _ = l.conn.close(CloseCode::GoingAway);
            }
            return;
        }
        l.expect += 1;
        match out {
            RemoteOutput::Text { mut text } => {
                if let Some((ph, token)) = l.placeholder.take() {
                    if text.contains(&ph) {
                        text = text.replacen(&ph, &token, 1);
                    } else {
                        l.placeholder = Some((ph, token));
                    }
                }
                let _ = l.conn.send(Utf8Bytes::from(text));
            }
            RemoteOutput::Close { code } => {
                let code = CloseCode::from_code(code).unwrap_or(CloseCode::GoingAway);
                let _ = l.conn.close(code);
                drop(l);
                self.outgoing.remove(&link);
            }
        }
    }
}

impl RemoteVisit {
    /// Sends a session's command to the owner. A join is answered through
    /// its `attached` (dropped: look the visit up again); an input that
    /// cannot be forwarded closes the session with 1001.
    pub async fn send(&self, cmd: VisitCommand) -> Result<(), VisitCommand> {
        let r = &self.router;
        match cmd {
            VisitCommand::Join {
                join,
                conn,
                attached,
            } => {
                let link = r.link(join.conn);
                let ph = placeholder();
                let wire = Wire::Join {
                    from: r.cluster.node.clone(),
                    link,
                    visit: self.visit.clone(),
                    fence: self.fence.0.clone(),
                    join: Box::new(RemoteJoin::of(&join, ph.clone())),
                };
                r.outgoing.insert(
                    link,
                    OutLink {
                        owner: self.owner.clone(),
                        fence: self.fence.0.clone(),
                        conn,
                        expect: 1,
                        sent: 0,
                        placeholder: Some((ph, join.resume_token.clone())),
                        attached: Some(attached),
                    },
                );
                if !r.publish(&self.owner, &wire).await {
                    r.outgoing.remove(&link);
                    return Ok(());
                }
                let router = r.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(ATTACH_TIMEOUT).await;
                    if router
                        .outgoing
                        .get(&link)
                        .is_some_and(|l| l.attached.is_some())
                    {
                        router.outgoing.remove(&link);
                    }
                });
                Ok(())
            }
            VisitCommand::Input(input, _) => {
                let (conn, remote) = match input {
                    Input::Message { conn, id, msg, .. } => (
                        conn,
                        RemoteInput::Text {
                            text: msg.to_json(id.as_ref()),
                        },
                    ),
                    Input::Refreshed { conn, expires_at } => {
                        (conn, RemoteInput::Refreshed { expires_at })
                    }
                    Input::Activity { conn } => (conn, RemoteInput::Activity),
                    Input::Closed { conn } => (conn, RemoteInput::Closed),
                    _ => return Ok(()),
                };
                let link = r.link(conn);
                let closing = matches!(remote, RemoteInput::Closed);
                let (n, handle) = {
                    let Some(mut l) = r.outgoing.get_mut(&link) else {
                        return Ok(());
                    };
                    l.sent += 1;
                    (l.sent, l.conn.clone())
                };
                if closing {
                    r.outgoing.remove(&link);
                }
                let wire = Wire::In {
                    from: r.cluster.node.clone(),
                    link,
                    fence: self.fence.0.clone(),
                    n,
                    input: remote,
                };
                if !r.publish(&self.owner, &wire).await && !closing {
                    // The owner is gone (or Redis is): resume elsewhere.
                    r.outgoing.remove(&link);
                    let _ = handle.close(CloseCode::GoingAway);
                }
                Ok(())
            }
        }
    }
}

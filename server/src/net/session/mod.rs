//! One WebSocket connection: the hello/resume handshake, then reading
//! frames, parsing them once, validating SDP, and forwarding typed inputs to
//! the visit. Writing happens in the connection's writer task (`outbound`).
//!
//! Logging rule: never the token, SDP, candidates or bundles; only reasons.
//!
//! - `handshake`: the first message (`hello` or `resume`), authentication,
//!   and attaching to the visit;
//! - `frames`: reading frames, the session's frame loop, and each text
//!   frame's checks before it goes to the visit;
//! - `refresh`: a `refresh` token extending the session;
//! - `audit`: the audit records and alerts the connection writes itself.

mod audit;
mod frames;
mod handshake;
mod refresh;

use super::outbound::{self, ConnHandle, WriterEnd};
use super::visits::Visits;
use crate::hub::Hub;
use crate::store::ResumeRecord;
use crate::visit::ConnId;
use base64::Engine as _;
use bedside_protocol::{
    CloseCode, ErrorCode, Features, MAX_PROTOCOL_ERRORS, MessageId, ParticipantId, Role,
    ServerMessage, VisitId,
};
use futures_util::{Stream, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

/// How long to wait for the peer's close reply after the hub closed.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Who this connection is, once authenticated.
struct Identity {
    visit: VisitId,
    participant: ParticipantId,
    role: Role,
    resume: ResumeRecord,
    resume_token: String,
    /// From `resume`: the client's highest processed e2e seq.
    last_seq: Option<u64>,
    /// Came in through `resume`.
    resumed: bool,
    /// Session id for `welcome` and the audit log.
    session: String,
    /// Extensions asked for in `hello`/`resume`.
    features: Features,
}

impl Identity {
    /// A new session for `record`, reachable again with `resume_token`
    /// (stored by the caller).
    fn new(record: ResumeRecord, resume_token: String) -> Self {
        Self {
            visit: record.visit.clone(),
            participant: record.participant.clone(),
            role: record.role,
            resume: record,
            resume_token,
            last_seq: None,
            resumed: false,
            session: format!("s-{}", random_token(12)),
            features: Features::default(),
        }
    }
}

/// Runs a connection to the end. Not an `async fn`: the socket is split and
/// the writer task started before the future is built, so the future keeps
/// no slot for the socket or its sending half (an async fn's arguments stay
/// in its state for life, and every session holds that state while idle).
pub fn run<S>(
    hub: Arc<Hub>,
    visits: Arc<Visits>,
    ws: S,
    peer: SocketAddr,
) -> impl Future<Output = ()> + Send
where
    S: Stream<Item = Result<Message, WsError>>
        + futures_util::Sink<Message>
        + Unpin
        + Send
        + 'static,
{
    let (sink, stream) = ws.split();
    hub.metrics.connections.inc();
    let id = hub.next_conn_id();
    let (handle, writer) = outbound::queue(id);
    let writer_task = tokio::spawn(writer.run(sink));
    let conn = Conn {
        hub,
        visits,
        id,
        handle,
        peer,
        errors: 0,
    };
    run_split(conn, stream, writer_task)
}

async fn run_split<S>(
    mut conn: Conn,
    mut stream: futures_util::stream::SplitStream<S>,
    mut writer_task: tokio::task::JoinHandle<WriterEnd>,
) where
    S: Stream<Item = Result<Message, WsError>>
        + futures_util::Sink<Message>
        + Unpin
        + Send
        + 'static,
{
    let hub = conn.hub.clone();
    let peer = conn.peer;
    let now = Instant::now();
    let cooling = hub.abuse.cooling_down(peer.ip(), now);
    let identity = if cooling {
        hub.metrics.reject("auth_cooldown");
        conn.close(CloseCode::RateLimited);
        None
    } else {
        // Boxed with its timer: its state is large and needed only until
        // welcome.
        let hello = Box::pin(tokio::time::timeout(
            Duration::from_secs(hub.config.session.hello_timeout_s),
            conn.authenticate(&mut stream),
        ));
        tokio::select! {
            r = hello => match r {
                // Boxed: kept apart from the session's future for life.
                Ok(Ok(identity)) => Some(Box::new(identity)),
                Ok(Err(code)) => { conn.close(code); None }
                Err(_) => {
                    tracing::info!(%peer, "no hello or resume in time");
                    hub.metrics.reject("hello_timeout");
                    conn.close(CloseCode::ProtocolError);
                    None
                }
            },
            _ = &mut writer_task => None,
        }
    };

    if let Some(mut identity) = identity {
        hub.metrics.sessions.inc();
        conn.session(&mut identity, &mut stream, &mut writer_task)
            .await;
        hub.metrics.sessions.dec();
    }
    // Give the peer a moment to answer our close frame, then drop the socket.
    drop(conn);
    let _ = Box::pin(tokio::time::timeout(CLOSE_GRACE, async {
        if !writer_task.is_finished() {
            let _ = (&mut writer_task).await;
        }
        while stream.next().await.is_some() {}
    }))
    .await;
    writer_task.abort();
    hub.metrics.connections.dec();
}

struct Conn {
    hub: Arc<Hub>,
    /// Where the session finds its visit's task.
    visits: Arc<Visits>,
    id: ConnId,
    handle: ConnHandle,
    peer: SocketAddr,
    errors: u32,
}

fn random_token(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl Conn {
    fn send(&self, msg: &ServerMessage) {
        let _ = self.handle.send(Utf8Bytes::from(msg.to_json()));
    }

    fn close(&self, code: CloseCode) {
        let _ = self.handle.close(code);
    }

    fn error(&self, code: ErrorCode, message: &str, re: Option<MessageId>) {
        self.send(&ServerMessage::error(code, message, re));
    }

    /// A protocol error: answered with `bad_request`; the 20th closes with 4000.
    fn protocol_error(&mut self, message: &str, re: Option<MessageId>) -> bool {
        self.errors += 1;
        self.hub.metrics.reject("protocol_error");
        self.error(ErrorCode::BadRequest, message, re);
        if self.errors >= MAX_PROTOCOL_ERRORS {
            tracing::info!(peer = %self.peer, "too many protocol errors");
            self.close(CloseCode::ProtocolError);
            return false;
        }
        true
    }
}

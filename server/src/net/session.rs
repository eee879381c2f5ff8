//! One WebSocket connection: the hello/resume handshake, then reading
//! frames, parsing them once, validating SDP, and forwarding typed inputs to
//! the visit. Writing happens in the connection's writer task (`outbound`).
//!
//! Logging rule: never the token, SDP, candidates or bundles; only reasons.

use super::outbound::{self, ConnHandle, WriterEnd};
use super::visit_task::{VisitCommand, VisitHandle};
use crate::alerts::AlertKind;
use crate::audit::{Action, Actor, Durability, Event, Outcome};
use crate::auth::AuthError;
use crate::hub::Hub;
use crate::limits::{AuthVerdict, RateVerdict};
use crate::sdp;
use crate::store::ResumeRecord;
use crate::visit::{ConnId, Input, Join};
use base64::Engine as _;
use bedside_protocol::{
    ClientMessage, CloseCode, ErrorCode, Features, MAX_PROTOCOL_ERRORS, MessageId, ParticipantId,
    Role, ServerMessage, VisitId, parse_client_message,
};
use futures_util::{Stream, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

/// How long to wait for the peer's close reply after the hub closed.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What one read produced.
enum Read {
    Text(Utf8Bytes),
    Binary,
    TooLarge,
    /// A text frame that is not UTF-8: RFC 6455 section 8.1 closes with 1007.
    BadUtf8,
    /// A WebSocket ping (tungstenite answers it): counted against the
    /// message rate, so a ping flood ends like any other flood.
    Ping,
    End,
}

async fn read<S>(stream: &mut S) -> Read
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
{
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) => return Read::Text(t),
            Some(Ok(Message::Binary(_))) => return Read::Binary,
            Some(Ok(Message::Ping(_))) => return Read::Ping,
            Some(Ok(Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Close(_))) | None => return Read::End,
            Some(Err(WsError::Capacity(_))) => return Read::TooLarge,
            Some(Err(WsError::Utf8(_))) => return Read::BadUtf8,
            Some(Err(_)) => return Read::End,
        }
    }
}

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
pub fn run<S>(hub: Arc<Hub>, ws: S, peer: SocketAddr) -> impl Future<Output = ()> + Send
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

    /// Logs, counts and audits a refused token; the caller then closes
    /// (4001) or answers `unauthorized`. Never logs the token itself.
    async fn auth_failed(
        &self,
        e: &AuthError,
        claims: Option<&bedside_protocol::JoinClaims>,
    ) -> CloseCode {
        // The reason code only: a claim-parsing message can quote claim values
        // (a patient id, a name), which must never reach the log.
        tracing::warn!(peer = %self.peer, reason = e.reason_code(), "authentication failed");
        let replay = *e == AuthError::Replayed;
        self.hub.metrics.reject(if replay {
            "auth_replayed"
        } else {
            "auth_failed"
        });
        let mut actor = Actor {
            ip_address: Some(self.peer.ip().to_string()),
            ..Actor::default()
        };
        if let Some(c) = claims {
            actor.user_id = Some(c.sub.to_string());
            actor.role = Some(c.role.as_str().to_owned());
            actor.visit_id = Some(c.visit.to_string());
            actor.patient_id = c.patient_id.clone();
        }
        let (action, outcome) = if replay {
            (Action::TokenReplay, Outcome::Denied)
        } else {
            (Action::AuthFailure, Outcome::Failure)
        };
        let ev = Event::by(Arc::new(actor), action, outcome).detail("reason", e.reason_code());
        let verdict = self.hub.abuse.auth_failed(self.peer.ip(), Instant::now());
        if replay {
            self.hub.alert(AlertKind::TokenReplay, ev.clone());
        }
        if verdict == AuthVerdict::Tripped {
            let burst = Event::by(ev.actor.clone(), Action::AuthFailure, Outcome::Failure)
                .detail("per_min", self.hub.config.limits.auth_failures_per_min)
                .detail("cooldown_s", self.hub.config.limits.auth_cooldown_s);
            self.hub.alert(AlertKind::AuthFailures, burst);
        }
        // Written before the close it explains.
        let _ = self.hub.audit.log(ev, Durability::Written).durable().await;
        if verdict == AuthVerdict::Tripped {
            CloseCode::RateLimited
        } else {
            CloseCode::Unauthorized
        }
    }

    /// Reads the first message and establishes who this is.
    async fn authenticate<S>(&mut self, stream: &mut S) -> Result<Identity, CloseCode>
    where
        S: Stream<Item = Result<Message, WsError>> + Unpin,
    {
        let text = loop {
            match read(stream).await {
                // Bounded by the hello timeout.
                Read::Ping => continue,
                other => break other,
            }
        };
        let text = match text {
            Read::Text(t) => t,
            Read::TooLarge => return Err(CloseCode::TooLarge),
            Read::BadUtf8 => return Err(CloseCode::InvalidPayload),
            Read::Binary | Read::End | Read::Ping => return Err(CloseCode::ProtocolError),
        };
        let now = self.hub.clock.now_s();
        match parse_client_message(&text) {
            Ok((
                _,
                ClientMessage::Hello {
                    token,
                    device,
                    features,
                    ..
                },
            )) => {
                self.hub.metrics.message("hello");
                let claims = match self.hub.verifier.verify(&token, now) {
                    Ok(c) => c,
                    Err(e) => return Err(self.auth_failed(&e, None).await),
                };
                let record = ResumeRecord {
                    visit: claims.visit.clone(),
                    participant: claims.sub.clone(),
                    role: claims.role,
                    name: claims.name.clone(),
                    patient_id: claims.patient_id.clone(),
                    perms: claims.perms.clone(),
                    device: device.map(|d| d.to_string()),
                    exp: claims.exp.0,
                    ip: Some(self.peer.ip().to_string()),
                };
                let resume_token = random_token(32);
                // One durable write: the jti is claimed and, if fresh, the
                // resume token stored.
                let fresh = self
                    .hub
                    .store
                    .admit(
                        &claims.jti,
                        claims.exp.plus_secs(crate::auth::verify::CLOCK_SKEW_S).0,
                        &resume_token,
                        record.clone(),
                    )
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "replay cache unavailable");
                        CloseCode::Unauthorized
                    })?;
                if !fresh {
                    return Err(self.auth_failed(&AuthError::Replayed, Some(&claims)).await);
                }
                let mut identity = Identity::new(record, resume_token);
                identity.features = features;
                Ok(identity)
            }
            Ok((
                _,
                ClientMessage::Resume {
                    resume_token,
                    last_seq,
                    features,
                },
            )) => {
                self.hub.metrics.message("resume");
                let ip = self.peer.ip().to_string();
                let next_token = random_token(32);
                // One durable write: the token is consumed and, if it was
                // live, its successor stored.
                let record = self
                    .hub
                    .store
                    .swap_resume(&resume_token, now.0, &next_token, Some(ip.clone()))
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "resume store unavailable");
                        CloseCode::Unauthorized
                    })?;
                match record {
                    Some(mut record) => {
                        if record.ip.as_deref().is_some_and(|old| old != ip) {
                            let actor = Actor {
                                user_id: Some(record.participant.to_string()),
                                role: Some(record.role.as_str().to_owned()),
                                visit_id: Some(record.visit.to_string()),
                                patient_id: record.patient_id.clone(),
                                ip_address: Some(ip.clone()),
                                device_fingerprint: record.device.clone(),
                                ..Actor::default()
                            };
                            let e = Event::by(Arc::new(actor), Action::Resume, Outcome::Success)
                                .detail("previous_ip", record.ip.clone().unwrap_or_default());
                            self.hub.alert(AlertKind::IpChange, e);
                        }
                        record.ip = Some(ip);
                        let mut identity = Identity::new(record, next_token);
                        identity.last_seq = last_seq;
                        identity.resumed = true;
                        identity.features = features;
                        Ok(identity)
                    }
                    // Counted like a bad token: an unknown resume token
                    // from one IP trips the same per-IP limit (each one
                    // is a durable audit record, so an unlimited stream
                    // of them could fill the audit volume).
                    None => Err(self.auth_failed(&AuthError::ResumeRefused, None).await),
                }
            }
            Ok(_) | Err(_) => {
                self.hub.metrics.reject("bad_first_message");
                Err(CloseCode::ProtocolError)
            }
        }
    }

    /// Attaches to the visit, then relays until the connection ends.
    async fn session<S>(
        &mut self,
        me: &mut Identity,
        stream: &mut S,
        writer: &mut tokio::task::JoinHandle<WriterEnd>,
    ) where
        S: Stream<Item = Result<Message, WsError>> + Unpin,
    {
        // Rare, large futures are boxed so an idle session stays small.
        let Some(visit) = Box::pin(self.attach(me)).await else {
            self.close(CloseCode::GoingAway);
            return;
        };
        tracing::debug!(conn = self.id.0, visit = %me.visit, participant = %me.participant, "session started");
        let mut rate = self.hub.abuse.connection();
        loop {
            let r = tokio::select! {
                r = read(stream) => r,
                _ = &mut *writer => break, // the hub closed this connection
            };
            let go = match r {
                // Boxed: an idle session waits in `read`, and only that
                // state should decide its size (a message's handling
                // state is ~1 KiB, allocated while it is handled).
                Read::Text(text) => Box::pin(self.on_text(me, text, &visit, &mut rate)).await,
                Read::Binary => {
                    let go =
                        self.protocol_error("binary frames are not part of the protocol", None);
                    if go {
                        Box::pin(self.activity(&visit)).await;
                    }
                    go
                }
                Read::TooLarge => {
                    self.hub.metrics.reject("too_large");
                    self.close(CloseCode::TooLarge);
                    false
                }
                Read::BadUtf8 => {
                    self.hub.metrics.reject("invalid_utf8");
                    self.close(CloseCode::InvalidPayload);
                    false
                }
                Read::Ping => match rate.check(Instant::now()) {
                    RateVerdict::Allow | RateVerdict::Limited { .. } => true,
                    RateVerdict::Close => {
                        self.rate_limited_record(me, "persisting");
                        self.close(CloseCode::RateLimited);
                        false
                    }
                },
                Read::End => false,
            };
            if !go {
                break;
            }
        }
        let closed = VisitCommand::Input(Input::Closed { conn: self.id }, Instant::now());
        let _ = Box::pin(visit.send(closed)).await;
    }

    /// Handles one text frame of an attached session; false ends it.
    async fn on_text(
        &mut self,
        me: &mut Identity,
        text: Utf8Bytes,
        visit: &VisitHandle,
        rate: &mut crate::limits::ConnLimiter,
    ) -> bool {
        let arrived = Instant::now();
        match rate.check(arrived) {
            RateVerdict::Allow => {}
            RateVerdict::Limited { first } => {
                self.hub.metrics.reject("rate_limited");
                if first {
                    self.rate_limited_record(me, "messages_per_s");
                }
                self.error(ErrorCode::RateLimited, "too many messages; slow down", None);
                return true;
            }
            RateVerdict::Close => {
                self.rate_limited_record(me, "persisting");
                self.close(CloseCode::RateLimited);
                return false;
            }
        }
        let (id, msg) = match parse_client_message(&text) {
            Ok(x) => x,
            Err((re, e)) => {
                if self.protocol_error(&e.to_string(), re) {
                    self.activity(visit).await;
                    return true;
                }
                return false;
            }
        };
        self.hub.metrics.message(msg.type_name());
        let sdp = match &msg {
            ClientMessage::Hello { .. } | ClientMessage::Resume { .. } => {
                return self.protocol_error("session already started", id);
            }
            ClientMessage::Refresh { token } => {
                self.refresh(me, token, id, visit).await;
                return true;
            }
            ClientMessage::Offer { sdp, .. } | ClientMessage::Answer { sdp, .. } => {
                match sdp::inspect(sdp) {
                    Ok(summary) => Some(summary),
                    Err(v) => {
                        self.hub.metrics.reject("invalid_sdp");
                        let ev = Event::by(self.actor(me), Action::SdpRejected, Outcome::Denied)
                            .detail("rule", v.rule);
                        let _ = self.hub.audit.log(ev, Durability::Written).durable().await;
                        let mut m = ServerMessage::error(ErrorCode::InvalidSdp, v.detail, id);
                        if let ServerMessage::Error(b) = &mut m {
                            b.rule = Some(v.rule.to_owned());
                        }
                        self.send(&m);
                        self.activity(visit).await;
                        return true;
                    }
                }
            }
            ClientMessage::E2e { body, .. } => {
                if let Err(e) = crate::visit::validate_body(body) {
                    let (code, text) = match e {
                        crate::visit::BodyError::NotBase64 => {
                            (ErrorCode::BadRequest, "\"body\" is not base64")
                        }
                        crate::visit::BodyError::TooLarge => {
                            (ErrorCode::TooLarge, "\"body\" is larger than 48 KiB")
                        }
                    };
                    self.error(code, text, id);
                    self.activity(visit).await;
                    return true;
                }
                None
            }
            _ => None,
        };
        let input = Input::Message {
            conn: self.id,
            id,
            msg: Box::new(msg),
            sdp,
        };
        visit
            .send(VisitCommand::Input(input, arrived))
            .await
            .is_ok()
    }

    /// This session's facts for audit records written by the connection.
    fn actor(&self, me: &Identity) -> Arc<Actor> {
        Arc::new(Actor {
            user_id: Some(me.participant.to_string()),
            role: Some(me.role.as_str().to_owned()),
            visit_id: Some(me.visit.to_string()),
            patient_id: me.resume.patient_id.clone(),
            session: Some(me.session.clone()),
            ip_address: Some(self.peer.ip().to_string()),
            device_fingerprint: me.resume.device.clone(),
        })
    }

    /// A RATE_LIMITED record (one per window and one at the close, never one
    /// per refused message).
    fn rate_limited_record(&self, me: &Identity, reason: &'static str) {
        let e = Event::by(self.actor(me), Action::RateLimited, Outcome::Denied)
            .detail("reason", reason);
        self.hub.audit.log_detached(e);
    }

    async fn activity(&self, visit: &VisitHandle) {
        let _ = visit
            .send(VisitCommand::Input(
                Input::Activity { conn: self.id },
                Instant::now(),
            ))
            .await;
    }

    /// Joins the visit, retrying if its task was just exiting.
    async fn attach(&self, me: &Identity) -> Option<VisitHandle> {
        let r = &me.resume;
        let session = me.session.clone();
        let ice_servers = crate::ice::ice_servers(
            &self.hub.config.ice,
            &me.participant,
            self.hub.clock.now_s().0,
        );
        for _ in 0..3 {
            let visit = self.hub.visit(&me.visit);
            let (attached, rx) = oneshot::channel();
            let join = Box::new(Join {
                conn: self.id,
                session: session.clone(),
                participant: me.participant.clone(),
                name: r.name.clone(),
                role: r.role,
                perms: r.perms.clone(),
                device: r.device.as_deref().and_then(|d| d.parse().ok()),
                expires_at: r.exp,
                resume_token: me.resume_token.clone(),
                ice_servers: ice_servers.clone(),
                last_seq: me.last_seq,
                resumed: me.resumed,
                features: me.features,
                ip: Some(self.peer.ip().to_string()),
                patient_id: r.patient_id.clone(),
            });
            let cmd = VisitCommand::Join {
                join,
                conn: self.handle.clone(),
                attached,
            };
            if visit.send(cmd).await.is_ok() && rx.await.is_ok() {
                return Some(visit);
            }
        }
        tracing::error!(visit = %me.visit, "could not attach to visit");
        None
    }

    /// `refresh`: a new token for the same sub, visit and role extends the session.
    async fn refresh(
        &mut self,
        me: &mut Identity,
        token: &str,
        id: Option<MessageId>,
        visit: &VisitHandle,
    ) {
        let now = self.hub.clock.now_s();
        let claims = match self.hub.verifier.verify(token, now) {
            Ok(c) if c.sub == me.participant && c.visit == me.visit && c.role == me.role => c,
            Ok(c) => {
                self.auth_failed(&AuthError::Mismatch, Some(&c)).await;
                self.error(
                    ErrorCode::Unauthorized,
                    "token does not match the session",
                    id,
                );
                return;
            }
            Err(e) => {
                self.auth_failed(&e, None).await;
                self.error(
                    ErrorCode::Unauthorized,
                    &format!("refresh refused: {}", e.reason_code()),
                    id,
                );
                return;
            }
        };
        match self
            .hub
            .store
            .claim_jti(
                &claims.jti,
                claims.exp.plus_secs(crate::auth::verify::CLOCK_SKEW_S).0,
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                self.auth_failed(&AuthError::Replayed, Some(&claims)).await;
                self.error(
                    ErrorCode::Unauthorized,
                    "refresh refused: token replayed",
                    id,
                );
                return;
            }
            Err(_) => {
                self.error(ErrorCode::Internal, "refresh failed; try again", id);
                return;
            }
        }
        // The client's resume token now lives as long as the session does.
        me.resume.exp = claims.exp.0;
        if let Err(e) = self
            .hub
            .store
            .put_resume(&me.resume_token, me.resume.clone())
            .await
        {
            tracing::error!(error = %e, "cannot extend resume token");
        }
        let _ = visit
            .send(VisitCommand::Input(
                Input::Refreshed {
                    conn: self.id,
                    expires_at: claims.exp.0,
                },
                Instant::now(),
            ))
            .await;
        self.send(&ServerMessage::Ack {
            re: id,
            seq: None,
            expires_at: Some(claims.exp.0),
        });
    }
}

//! Frames: one read from the socket, classified; the attached session's
//! loop over them; and each text frame's handling (rate limit, parse, SDP
//! and body checks) before it goes to the visit as a typed input.

use super::{Conn, Identity};
use crate::audit::{Action, Durability, Event, Outcome};
use crate::limits::RateVerdict;
use crate::net::outbound::WriterEnd;
use crate::net::visit_task::{VisitCommand, VisitHandle};
use crate::sdp;
use crate::visit::Input;
use bedside_protocol::{ClientMessage, CloseCode, ErrorCode, ServerMessage, parse_client_message};
use futures_util::{Stream, StreamExt};
use std::time::Instant;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

/// What one read produced.
pub(super) enum Read {
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

pub(super) async fn read<S>(stream: &mut S) -> Read
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

impl Conn {
    /// Attaches to the visit, then relays until the connection ends.
    pub(super) async fn session<S>(
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
        let visits = self.visits.clone();
        let _registered = visits.sessions.insert(
            self.id,
            super::super::sessions::Entry {
                kid: me.resume.kid.clone(),
                user: me.participant.clone(),
                role: me.role,
                since: me.resume.since,
                visit: me.visit.clone(),
                handle: self.handle.clone(),
            },
        );
        // A revocation or key removal that ran between this session's
        // check and its registration above: it ends here.
        if self.withdrawn(&me.resume) {
            self.close(CloseCode::Unauthorized);
        }
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

    async fn activity(&self, visit: &VisitHandle) {
        let _ = visit
            .send(VisitCommand::Input(
                Input::Activity { conn: self.id },
                Instant::now(),
            ))
            .await;
    }
}

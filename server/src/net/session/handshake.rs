//! The handshake: the first message (`hello` with a join token, or `resume`
//! with a resume token) establishes who the connection is, with one durable
//! write that claims the jti (`hello`) or swaps the resume token (`resume`);
//! then the session attaches to its visit.

use super::frames::{Read, read};
use super::{Conn, Identity, random_token};
use crate::alerts::AlertKind;
use crate::audit::{Action, Actor, Event, Outcome};
use crate::auth::AuthError;
use crate::net::visit_task::{VisitCommand, VisitHandle};
use crate::store::ResumeRecord;
use crate::visit::Join;
use bedside_protocol::{ClientMessage, CloseCode, parse_client_message};
use futures_util::Stream;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

impl Conn {
    /// Whether an operator revoked this session's user since it began, or
    /// (with `auth.end_sessions_of_removed_keys`) its key left the set.
    pub(super) fn withdrawn(&self, r: &crate::store::ResumeRecord) -> bool {
        let revoked = self
            .hub
            .revoked
            .get(r.participant.as_str())
            .is_some_and(|v| v.ends(r.since));
        let key_gone = self.hub.config.auth.end_sessions_of_removed_keys
            && r.kid
                .as_ref()
                .is_some_and(|k| self.hub.verifier.keys().current().get(k).is_none());
        revoked || key_gone
    }

    /// Reads the first message and establishes who this is.
    pub(super) async fn authenticate<S>(&mut self, stream: &mut S) -> Result<Identity, CloseCode>
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
        let parsed = parse_client_message(&text);
        if matches!(
            parsed,
            Ok((
                _,
                ClientMessage::Hello { .. } | ClientMessage::Resume { .. }
            ))
        ) && !self.hub.is_ready()
        {
            return Err(self.store_unavailable());
        }
        match parsed {
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
                let claims = match self.hub.verifier.verify_fetching(&token, now).await {
                    Ok(c) => c,
                    Err(e) => return Err(self.auth_failed(&e, None).await),
                };
                if self
                    .hub
                    .revoked
                    .get(claims.sub.as_str())
                    .is_some_and(|r| r.refuses_hello(now))
                {
                    return Err(self.auth_failed(&AuthError::Revoked, Some(&claims)).await);
                }
                let record = ResumeRecord {
                    visit: claims.visit.clone(),
                    participant: claims.sub.clone(),
                    role: claims.role,
                    name: claims.name.clone(),
                    patient_id: claims.patient_id.clone(),
                    perms: claims.perms.clone(),
                    device: device.map(|d| d.to_string()),
                    exp: claims.exp,
                    ip: Some(self.peer.ip().to_string()),
                    kid: crate::auth::Verifier::kid_of(&token),
                    since: Some(now),
                };
                let resume_token = crate::store::new_resume_token(&claims.visit);
                // One durable write: the jti is claimed and, if fresh, the
                // resume token stored.
                let fresh = self
                    .hub
                    .store
                    .admit(
                        &claims.jti,
                        claims.exp.plus_secs(crate::auth::verify::CLOCK_SKEW_S),
                        &resume_token,
                        record.clone(),
                    )
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "replay cache unavailable");
                        self.store_unavailable()
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
                // Its successor names the same visit (a token that names none
                // is refused by the store).
                let next_token =
                    match crate::store::redis::keys::VisitTag::of_resume_token(&resume_token) {
                        Some(tag) => format!("{}.{}", tag.as_str(), random_token(32)),
                        None => random_token(32),
                    };
                // One durable write: the token is consumed and, if it was
                // live, its successor stored.
                let record = self
                    .hub
                    .store
                    .swap_resume(&resume_token, now, &next_token, Some(ip.clone()))
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "resume store unavailable");
                        self.store_unavailable()
                    })?;
                // With end_sessions_of_removed_keys, a removed key's
                // sessions stay ended: their resume tokens die with them.
                let key_gone = |r: &crate::store::ResumeRecord| {
                    self.hub.config.auth.end_sessions_of_removed_keys
                        && r.kid
                            .as_ref()
                            .is_some_and(|k| self.hub.verifier.keys().current().get(k).is_none())
                };
                let revoked = |r: &crate::store::ResumeRecord| {
                    self.hub
                        .revoked
                        .get(r.participant.as_str())
                        .is_some_and(|v| v.ends(r.since))
                };
                match record {
                    Some(record) if key_gone(&record) => {
                        Err(self.auth_failed(&AuthError::UnknownKid, None).await)
                    }
                    Some(record) if revoked(&record) => {
                        Err(self.auth_failed(&AuthError::Revoked, None).await)
                    }
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

    /// The store (in a cluster, Redis) cannot prove a token's single use
    /// or a resume token's: refuse, and let the client try again (1011
    /// keeps its token and resume token; 4001 would make it start over).
    fn store_unavailable(&self) -> CloseCode {
        self.hub.metrics.reject("store_unavailable");
        self.error(
            bedside_protocol::ErrorCode::Internal,
            "the hub cannot record this session right now (its store is unavailable); try again shortly",
            None,
        );
        CloseCode::InternalError
    }

    /// Joins the visit, retrying while its task was just exiting or (in a
    /// cluster) while its ownership moves between nodes.
    pub(super) async fn attach(&self, me: &Identity) -> Option<VisitHandle> {
        let r = &me.resume;
        let session = me.session.clone();
        let ice_servers = crate::ice::ice_servers(
            &self.hub.config.ice,
            &me.participant,
            self.hub.clock.now_s().0,
        );
        let patience = self
            .hub
            .cluster
            .as_ref()
            .map_or(std::time::Duration::ZERO, |c| c.lease * 2);
        let deadline = tokio::time::Instant::now() + patience;
        for attempt in 0.. {
            if attempt >= 3 && tokio::time::Instant::now() >= deadline {
                break;
            }
            if attempt >= 3 {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            let Some(visit) = self.visits.visit(&self.hub, &me.visit).await else {
                break;
            };
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
}

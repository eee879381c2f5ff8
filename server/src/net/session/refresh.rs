//! `refresh`: a new token for the same participant, visit and role, its jti
//! claimed, extends the session and its resume token.

use super::{Conn, Identity};
use crate::auth::AuthError;
use crate::net::visit_task::{VisitCommand, VisitHandle};
use crate::visit::Input;
use bedside_protocol::{ErrorCode, MessageId, ServerMessage};
use std::time::Instant;

impl Conn {
    /// `refresh`: a new token for the same sub, visit and role extends the session.
    pub(super) async fn refresh(
        &mut self,
        me: &mut Identity,
        token: &str,
        id: Option<MessageId>,
        visit: &VisitHandle,
    ) {
        let now = self.hub.clock.now_s();
        let claims = match self.hub.verifier.verify_fetching(token, now).await {
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
        if self
            .hub
            .revoked
            .get(claims.sub.as_str())
            .is_some_and(|r| r.ends(me.resume.since) || r.refuses_hello(now))
        {
            self.auth_failed(&AuthError::Revoked, Some(&claims)).await;
            self.close(bedside_protocol::CloseCode::Unauthorized);
            return;
        }
        match self
            .hub
            .store
            .claim_jti(
                &me.visit,
                &claims.jti,
                claims.exp.plus_secs(crate::auth::verify::CLOCK_SKEW_S),
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
        // The client's resume token now lives as long as the session does,
        // and the session stands on the new token's key.
        me.resume.exp = claims.exp;
        me.resume.kid = crate::auth::Verifier::kid_of(token);
        self.visits
            .sessions
            .update_kid(self.id, me.resume.kid.clone());
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
                    expires_at: claims.exp,
                },
                Instant::now(),
            ))
            .await;
        self.send(&ServerMessage::Ack {
            re: id,
            seq: None,
            expires_at: Some(claims.exp),
        });
    }
}

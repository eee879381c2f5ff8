//! End-to-end messages (section 7): recipients, sequencing, acks, delivery
//! in `seq` order, and catch-up of a (re)joining member.
//!
//! Flow: `e2e` → [`Output::Append`] (the store assigns the seq durably) →
//! [`Input::Committed`] → `ack` to the sender, `e2e` to present recipients.
//! Commits arrive in seq order. A member that joins loads its backlog
//! ([`Output::LoadBacklog`] → [`Input::Backlog`]); commits for it are held
//! until the backlog is out, and anything at or below what it already got is
//! skipped, so it sees every message once, in order.

use super::{ConnId, Millis, Output, Visit, VisitFailure};
use crate::audit::{Action, Outcome};
use crate::store::{StoredMessage, VisitWrite};
use bedside_protocol::{CloseCode, E2eKind, ErrorCode, MessageId, ParticipantId, ServerMessage};

/// Appends one connection may have waiting for the store.
pub const MAX_INFLIGHT_PER_CONN: u32 = 256;
/// Appends one visit may have waiting for the store.
pub const MAX_INFLIGHT_PER_VISIT: u32 = 4096;
/// Longest a recipient's ack waits before it is written.
pub const ACK_FLUSH_MS: Millis = 100;

/// A connection's delivery state for e2e messages.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// Highest seq delivered on this connection.
    pub delivered: u64,
    /// While the backlog loads: commits held back, in seq order.
    pub held: Option<Vec<StoredMessage>>,
    /// Appends from this connection not yet durable.
    pub inflight: u32,
}

fn deliver_msg(m: &StoredMessage) -> ServerMessage {
    ServerMessage::E2e {
        from: m.from.clone(),
        seq: m.seq,
        ts: m.ts,
        kind: m.kind,
        to: m.to.clone(),
        body: m.body.clone(),
    }
}

impl Visit {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn e2e(
        &mut self,
        now: Millis,
        conn: ConnId,
        from: &ParticipantId,
        to: Option<Vec<ParticipantId>>,
        kind: E2eKind,
        body: String,
        id: Option<MessageId>,
    ) {
        let recipients: Vec<ParticipantId> = match to {
            Some(mut list) => {
                list.sort();
                list.dedup();
                if list.contains(from) {
                    self.error(conn, ErrorCode::BadRequest, "cannot send to yourself", id);
                    return;
                }
                if list.is_empty() {
                    self.error(conn, ErrorCode::BadRequest, "\"to\" is empty", id);
                    return;
                }
                let unknown = list
                    .iter()
                    .any(|p| !self.members.get(p).is_some_and(|m| m.record.admitted));
                if unknown {
                    self.error(
                        conn,
                        ErrorCode::NotFound,
                        "a recipient is not admitted in this visit",
                        id,
                    );
                    return;
                }
                list
            }
            None => self
                .members
                .values()
                .filter(|m| m.record.admitted && m.record.id != *from)
                .map(|m| m.record.id.clone())
                .collect(),
        };
        if recipients.is_empty() {
            self.error(
                conn,
                ErrorCode::NotFound,
                "nobody else is admitted in this visit",
                id,
            );
            return;
        }
        if self.inflight >= MAX_INFLIGHT_PER_VISIT {
            let e = self
                .event(from, Action::RateLimited, Outcome::Denied)
                .detail("reason", "visit_store_backlog");
            self.audit_written(e);
            self.error(
                conn,
                ErrorCode::RateLimited,
                "the hub is busy storing messages; retry",
                id,
            );
            return;
        }
        let Some(live) = self.live_mut(conn) else {
            return;
        };
        if live.delivery.inflight >= MAX_INFLIGHT_PER_CONN {
            let e = self
                .event(from, Action::RateLimited, Outcome::Denied)
                .detail("reason", "connection_store_backlog");
            self.audit_written(e);
            self.error(
                conn,
                ErrorCode::RateLimited,
                "too many messages waiting to be stored; retry",
                id,
            );
            return;
        }
        live.delivery.inflight += 1;
        self.inflight += 1;
        self.out.push(Output::Append {
            conn,
            id,
            message: StoredMessage {
                seq: 0,
                ts: now,
                from: from.clone(),
                to: recipients,
                kind,
                body,
            },
        });
    }

    /// The store answered an append.
    pub(super) fn committed(
        &mut self,
        conn: ConnId,
        id: Option<MessageId>,
        result: Result<StoredMessage, VisitFailure>,
    ) {
        self.inflight = self.inflight.saturating_sub(1);
        let attached = self.live_mut(conn).map(|l| {
            l.delivery.inflight = l.delivery.inflight.saturating_sub(1);
        });
        let message = match result {
            Ok(m) => m,
            Err(VisitFailure::Store) => {
                if attached.is_some() {
                    self.error(
                        conn,
                        ErrorCode::Internal,
                        "message not stored; send it again",
                        id,
                    );
                }
                return;
            }
        };
        let e = self
            .event(&message.from, Action::E2eRelay, Outcome::Success)
            .detail("seq", message.seq)
            .detail("bytes", message.body.len() as u64)
            .detail("recipients", message.to.len() as u64)
            .detail(
                "kind",
                serde_json::to_value(message.kind).unwrap_or_default(),
            );
        self.audit_written(e);
        if attached.is_some() {
            self.send_one(
                conn,
                ServerMessage::Ack {
                    re: id,
                    seq: Some(message.seq),
                    expires_at: None,
                },
            );
        }
        let mut now_to = Vec::new();
        for r in &message.to {
            let Some(live) = self
                .members
                .get_mut(r)
                .filter(|m| m.record.admitted)
                .and_then(|m| m.live.as_mut())
            else {
                continue; // offline: it gets the message on resume
            };
            match live.delivery.held.as_mut() {
                Some(held) => held.push(message.clone()),
                None if message.seq > live.delivery.delivered => {
                    live.delivery.delivered = message.seq;
                    now_to.push(live.conn);
                }
                None => {}
            }
        }
        if !now_to.is_empty() {
            self.send(now_to, deliver_msg(&message));
        }
    }

    /// Starts catch-up for a member that just became present.
    pub(super) fn start_catch_up(&mut self, pid: &ParticipantId, after: u64) {
        // Acks not yet written still count: nothing acked comes back.
        let after = after.max(self.acks.get(pid).copied().unwrap_or(0));
        let Some(live) = self.members.get_mut(pid).and_then(|m| m.live.as_mut()) else {
            return;
        };
        live.delivery.delivered = after;
        live.delivery.held = Some(Vec::new());
        let conn = live.conn;
        self.out.push(Output::LoadBacklog {
            conn,
            participant: pid.clone(),
            after,
        });
    }

    /// The store answered a backlog query.
    pub(super) fn backlog(
        &mut self,
        conn: ConnId,
        result: Result<Vec<StoredMessage>, VisitFailure>,
    ) {
        let Some(live) = self.live_mut(conn) else {
            return;
        };
        let Some(held) = live.delivery.held.take() else {
            return;
        };
        let messages = match result {
            Ok(m) => m,
            Err(VisitFailure::Store) => {
                // Let the client resume again rather than miss messages.
                self.detach_conn(conn, CloseCode::GoingAway);
                return;
            }
        };
        let mut delivered = live.delivery.delivered;
        let mut out = Vec::new();
        for m in messages.into_iter().chain(held) {
            if m.seq > delivered {
                delivered = m.seq;
                out.push(deliver_msg(&m));
            }
        }
        live.delivery.delivered = delivered;
        for msg in out {
            self.send_one(conn, msg);
        }
    }

    /// The client processed everything up to `seq`. Acks only decide when
    /// bodies may be deleted, so they are coalesced per participant and
    /// written at most every [`ACK_FLUSH_MS`]; one lost in a crash only means
    /// a redelivery the client skips by `seq`.
    pub(super) fn client_ack(&mut self, now: Millis, pid: &ParticipantId, seq: u64) {
        let upto = self.acks.entry(pid.clone()).or_insert(0);
        *upto = (*upto).max(seq);
        self.acks_due.get_or_insert(now + ACK_FLUSH_MS);
    }

    /// Writes the coalesced acks.
    pub(super) fn flush_acks(&mut self) {
        self.acks_due = None;
        for (participant, upto) in std::mem::take(&mut self.acks) {
            self.out
                .push(Output::Background(VisitWrite::Acked { participant, upto }));
        }
    }
}

/// Why an `e2e` body is refused before anything is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Not standard base64.
    NotBase64,
    /// Decodes to more than 48 KiB.
    TooLarge,
}

/// Checks that `body` is canonical standard base64 (RFC 4648 section 4:
/// padded to a multiple of 4, unused bits zero) of at most 48 KiB, without
/// decoding it into memory. Canonical because readers differ on the rest:
/// the SDK refuses unpadded or non-zero-bit forms that browsers' `atob`
/// takes, so a lenient hub would let one sender reach some recipients and
/// not others.
pub fn validate_body(body: &str) -> Result<(), BodyError> {
    let b = body.as_bytes();
    if !b.len().is_multiple_of(4) {
        return Err(BodyError::NotBase64);
    }
    let data = b
        .strip_suffix(b"==")
        .or_else(|| b.strip_suffix(b"="))
        .unwrap_or(b);
    let pad = b.len() - data.len();
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    if !data.iter().all(|&c| value(c).is_some()) {
        return Err(BodyError::NotBase64);
    }
    // The last character before padding carries 4 (one `=`) or 2 (two)
    // bits that encode nothing: they must be zero.
    if pad > 0 {
        let unused = if pad == 1 { 0b11 } else { 0b1111 };
        if data
            .last()
            .and_then(|&c| value(c))
            .is_none_or(|v| v & unused != 0)
        {
            return Err(BodyError::NotBase64);
        }
    }
    let decoded = b.len() / 4 * 3 - pad;
    if decoded > bedside_protocol::MAX_E2E_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    Ok(())
}

#[cfg(test)]
mod body_tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn base64_rules() {
        let enc = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
        for n in [0, 1, 2, 3, 4, 100, 49_152] {
            assert_eq!(validate_body(&enc(n)), Ok(()), "{n}");
            if n % 3 != 0 {
                assert_eq!(
                    validate_body(enc(n).trim_end_matches('=')),
                    Err(BodyError::NotBase64),
                    "{n} unpadded: the SDK would refuse it"
                );
            }
        }
        // Non-zero unused bits: `atob` takes them, the SDK does not.
        assert_eq!(validate_body("AB=="), Err(BodyError::NotBase64));
        assert_eq!(validate_body("AAB="), Err(BodyError::NotBase64));
        assert_eq!(validate_body("AA=="), Ok(()));
        assert_eq!(validate_body("AAA="), Ok(()));
        assert_eq!(validate_body("===="), Err(BodyError::NotBase64));
        assert_eq!(validate_body(&enc(49_153)), Err(BodyError::TooLarge));
        assert_eq!(validate_body("a"), Err(BodyError::NotBase64));
        assert_eq!(validate_body("ab$="), Err(BodyError::NotBase64));
        assert_eq!(validate_body("a=b="), Err(BodyError::NotBase64));
        assert_eq!(validate_body("abc=="), Err(BodyError::NotBase64));
        assert_eq!(validate_body("-_-_"), Err(BodyError::NotBase64));
    }
}

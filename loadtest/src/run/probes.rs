//! What comes back: each frame a connection receives, parsed once and
//! recorded in the metrics against the message it answers (by the token it
//! carries, or in order for permission changes), with the coalesced e2e acks
//! the hub needs back.

use super::ACK_BIT;
use crate::metrics::{Kind, Metrics};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bedside_protocol::ClientMessage;
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// What a frame means to the metrics (parsed once, borrowing).
#[derive(Deserialize)]
struct In<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(borrow, default)]
    sdp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    candidate: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    body: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    re: Option<Cow<'a, str>>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(borrow, default)]
    participant: Option<Cow<'a, str>>,
}

fn sdp_token(sdp: &str) -> Option<u64> {
    let o = sdp.lines().find(|l| l.starts_with("o="))?;
    o.split_whitespace().nth(1)?.parse().ok()
}

fn candidate_token(c: &str) -> Option<u64> {
    c.strip_prefix("candidate:")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

fn body_token(body: &str) -> Option<u64> {
    let head = B64.decode(body.get(..12)?).ok()?;
    Some(u64::from_be_bytes(head.get(..8)?.try_into().ok()?))
}

/// The reader callback of one connection.
pub(super) fn handler(
    metrics: Arc<Metrics>,
    visit: u64,
    is_patient: bool,
    last_seq: Arc<AtomicU64>,
) -> impl FnMut(&str, &tokio::sync::mpsc::UnboundedSender<String>) + Send + 'static {
    let mut acked = 0u64;
    move |text, reply| {
        let now = Instant::now();
        let Ok(m) = serde_json::from_str::<In<'_>>(text) else {
            return;
        };
        match m.ty.as_ref() {
            "offer" | "answer" => {
                if let Some(t) = m.sdp.as_deref().and_then(sdp_token) {
                    metrics.received(t, now);
                }
            }
            "ice" => {
                if let Some(t) = m.candidate.as_deref().and_then(candidate_token) {
                    metrics.received(t, now);
                }
            }
            "e2e" => {
                if let Some(t) = m.body.as_deref().and_then(body_token) {
                    metrics.received(t, now);
                }
                if let Some(seq) = m.seq {
                    last_seq.fetch_max(seq, Ordering::Relaxed);
                    // Release the hub's copies, coalesced.
                    if seq >= acked + 16 {
                        acked = seq;
                        let _ = reply.send(ClientMessage::Ack { seq }.to_json(None));
                    }
                }
            }
            "ack" => {
                if let Some(t) =
                    m.re.as_deref()
                        .and_then(|r| r.strip_prefix('m'))
                        .and_then(|t| t.parse::<u64>().ok())
                {
                    metrics.received(t | ACK_BIT, now);
                }
            }
            "permissions" if is_patient && m.participant.as_deref() == Some("pt") => {
                metrics.received_fifo(Kind::Permission, visit, now);
            }
            "error" => match m
                .re
                .as_deref()
                .and_then(|r| r.strip_prefix('m'))
                .and_then(|t| t.parse::<u64>().ok())
            {
                Some(t) => {
                    metrics.error(t);
                    metrics.error(t | ACK_BIT);
                }
                None => metrics.unmatched_error(),
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_survive_the_wire_forms() {
        assert_eq!(
            sdp_token("v=0\r\no=- 4242 2 IN IP4 127.0.0.1\r\n"),
            Some(4242)
        );
        assert_eq!(
            candidate_token("candidate:77 1 udp 1 10.0.0.1 4000 typ host"),
            Some(77)
        );
        let mut b = 99u64.to_be_bytes().to_vec();
        b.extend([1u8; 30]);
        assert_eq!(body_token(&B64.encode(&b)), Some(99));
    }
}

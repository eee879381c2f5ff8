//! The end-to-end encryption glue: this device's [`Group`] for the visit
//! (made at the first `welcome`), carrying out what it asks (bundles to
//! publish, keys to send, chat and identity events), the `e2e` outbox kept
//! and re-sent until the hub acknowledges each message, and the `seq` of
//! the `e2e` messages processed, acknowledged back to the hub.

use super::link::LinkState;
use super::{Event, Output, SdkError, Session};
use crate::e2ee::{self, E2eeError, Group, Identity, Pins};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bedside_protocol::{ClientMessage, E2eKind, MessageId, ParticipantId};
use serde_json::value::RawValue;
use std::collections::VecDeque;

/// Acknowledge processed `e2e` messages after at most this delay (ms).
const ACK_DELAY_MS: u64 = 200;

/// An `e2e` message sent and not yet acknowledged.
pub(super) struct Pending {
    pub(super) id: MessageId,
    pub(super) json: String,
    /// The recipient of a key message.
    pub(super) key_for: Option<String>,
    /// The chat message id the app was given, for a chat message.
    pub(super) chat_id: Option<String>,
}

/// The end-to-end encryption's part of the [`Session`].
pub(super) struct E2eState {
    /// This device's identity, until the [`Group`] takes it.
    pub(super) identity: Option<Identity>,
    /// The identity pins, until the [`Group`] takes them.
    pub(super) pins: Pins,
    pub(super) group: Option<Group>,
    pub(super) last_seq: u64,
    acked_seq: u64,
    pub(super) ack_due: Option<u64>,
    /// `e2e` messages sent but not acknowledged, by id, in order.
    /// (Key messages carry their one recipient, to notice one who is gone.)
    pub(super) outbox: VecDeque<Pending>,
}

impl E2eState {
    pub(super) fn new(identity: Identity, pins: Pins) -> Self {
        Self {
            identity: Some(identity),
            pins,
            group: None,
            last_seq: 0,
            acked_seq: 0,
            ack_due: None,
            outbox: VecDeque::new(),
        }
    }
}

impl Session {
    pub(super) fn flush_ack(&mut self, now_ms: u64) {
        self.e2e.ack_due = None;
        if self.e2e.last_seq > self.e2e.acked_seq && self.link.state == LinkState::Open {
            self.e2e.acked_seq = self.e2e.last_seq;
            self.send_now(
                now_ms,
                &ClientMessage::Ack {
                    seq: self.e2e.last_seq,
                },
                None,
            );
        }
    }

    pub(super) fn send_e2e(
        &mut self,
        now_ms: u64,
        to: Option<&str>,
        kind: E2eKind,
        body: &[u8],
        chat_id: Option<&str>,
    ) {
        let key_to = to.map(str::to_owned);
        let to = match to.map(ParticipantId::new).transpose() {
            Ok(to) => to.map(|p| vec![p]),
            Err(e) => {
                // Not dropped in silence: the app hears which rule broke.
                self.event(Event::Error(SdkError::InvalidId(e.to_string())));
                return;
            }
        };
        let id = self.next_message_id("e");
        let Ok(mid) = MessageId::new(id) else {
            return;
        };
        let json = ClientMessage::E2e {
            to,
            kind,
            body: B64.encode(body),
        }
        .to_json(Some(&mid));
        if self.link.state == LinkState::Open {
            self.out.push_back(Output::Send(json.clone()));
            self.link.last_sent_ms = now_ms;
        }
        self.e2e.outbox.push_back(Pending {
            id: mid,
            json,
            key_for: if kind == E2eKind::Key { key_to } else { None },
            chat_id: chat_id.map(str::to_owned),
        });
    }

    pub(super) fn group_outputs(&mut self, now_ms: u64, outs: Vec<e2ee::Output>) {
        for o in outs {
            match o {
                e2ee::Output::PublishBundle(b) => self.publish_bundle(now_ms, b),
                e2ee::Output::SendKey { to, body } => {
                    self.send_e2e(now_ms, Some(&to), E2eKind::Key, &body, None);
                }
                e2ee::Output::Chat(c) => self.event(Event::Chat(c)),
                e2ee::Output::IdentityChanged {
                    participant,
                    safety_number,
                } => self.event(Event::IdentityChanged {
                    participant,
                    safety_number,
                }),
                e2ee::Output::Undecryptable { from, error } => {
                    self.event(Event::Error(SdkError::E2ee { from, error }));
                }
            }
        }
    }

    pub(super) fn publish_bundle(&mut self, now_ms: u64, bundle: String) {
        if self.link.state != LinkState::Open {
            return; // published again on the next welcome
        }
        if let Ok(bundle) = RawValue::from_string(bundle) {
            self.send_now(now_ms, &ClientMessage::Keys { bundle }, None);
        }
    }

    pub(super) fn current_bundle(&self) -> Option<String> {
        self.e2e.group.as_ref()?.bundle_json()
    }

    pub(super) fn peer_bundle(&mut self, now_ms: u64, from: &str, bundle: &str) {
        let Some(g) = self.e2e.group.as_mut() else {
            return;
        };
        match g.peer_bundle(from, bundle, now_ms, &mut self.rng) {
            Ok(outs) => self.group_outputs(now_ms, outs),
            Err(error) => self.event(Event::Error(SdkError::E2ee {
                from: from.to_owned(),
                error,
            })),
        }
        // Signals that waited for this sender's Hello.
        self.release_held(from);
    }

    pub(super) fn incoming_e2e(
        &mut self,
        now_ms: u64,
        from: ParticipantId,
        seq: u64,
        kind: E2eKind,
        body: &str,
    ) {
        if seq <= self.e2e.last_seq {
            return; // already processed (a catch-up overlap)
        }
        self.e2e.last_seq = seq;
        if self.e2e.ack_due.is_none() {
            self.e2e.ack_due = Some(now_ms + ACK_DELAY_MS);
        }
        let Ok(bytes) = B64.decode(body) else {
            self.event(Event::Error(SdkError::E2ee {
                from: from.to_string(),
                error: E2eeError::Malformed,
            }));
            return;
        };
        let Some(g) = self.e2e.group.as_mut() else {
            return;
        };
        let outs = match kind {
            E2eKind::Key => g.receive_key(from.as_str(), &bytes, now_ms, &mut self.rng),
            E2eKind::Chat => g.receive_chat(from.as_str(), &bytes, now_ms),
            E2eKind::Receipt => Vec::new(),
        };
        self.group_outputs(now_ms, outs);
    }
}

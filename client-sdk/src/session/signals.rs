//! The WebRTC signal relay: offers, answers and candidates to and from the
//! other members. An incoming description is checked against its sender's
//! signed Hello, and waits (with the candidates behind it) while that Hello
//! is not known; an outgoing signal waits, in order, until its recipient
//! can be reached.

use super::link::LinkState;
use super::{Event, SdkError, Session, Signal};
use crate::e2ee::E2eeError;
use bedside_protocol::{ClientMessage, ParticipantId};
use std::collections::VecDeque;

/// A signal held until the sender's Hello is known.
struct HeldSignal {
    from: ParticipantId,
    signal: Signal,
    since_ms: u64,
}

/// How long a signal may wait for its sender's key bundle (ms).
const HOLD_SIGNAL_MS: u64 = 10_000;
/// At most this many outgoing signals wait for their recipients; past it
/// the oldest go (stale candidates: the negotiator re-offers anyway).
const MAX_OUTGOING_SIGNALS: usize = 512;

/// The signal relay's part of the [`Session`].
#[derive(Default)]
pub(super) struct Signals {
    /// Incoming signals waiting for their sender's Hello, in order.
    held: Vec<HeldSignal>,
    /// Signals for members who cannot be reached yet, in order: the hub
    /// link is down, the roster is not known since the last `welcome`, or
    /// the member dropped their connection and has not come back.
    pub(super) outgoing: VecDeque<(ParticipantId, Signal)>,
}

impl Session {
    /// Relays WebRTC signaling to `to`.
    ///
    /// A signal for a member who cannot be reached now (the hub link is
    /// down, the roster is not known yet after a resume, or they are away)
    /// waits, in order, and goes when they are present again; one for a
    /// member who left is dropped. The hub refuses signals to anyone not
    /// present, so sending them early would only lose them.
    pub fn signal(
        &mut self,
        now_ms: u64,
        to: &ParticipantId,
        signal: Signal,
    ) -> Result<(), SdkError> {
        if self.link.state == LinkState::Done {
            return Err(SdkError::Ended);
        }
        let reachable = self.link.state == LinkState::Open
            && self.visit.roster_known
            && (self.visit.participants.contains_key(to) || !self.is_member(to));
        if !reachable {
            if self.signals.outgoing.len() >= MAX_OUTGOING_SIGNALS {
                self.signals.outgoing.pop_front();
            }
            self.signals.outgoing.push_back((to.clone(), signal));
            return Ok(());
        }
        self.send_signal(now_ms, to.clone(), signal)
    }

    /// Sends the waiting signals whose recipients are present; keeps those
    /// for members still away; drops those for anyone who left.
    pub(super) fn flush_signals(&mut self, now_ms: u64) {
        if self.link.state != LinkState::Open || !self.visit.roster_known {
            return;
        }
        for (to, signal) in std::mem::take(&mut self.signals.outgoing) {
            if self.visit.participants.contains_key(&to) {
                // Cannot fail: the link is open.
                let _ = self.send_signal(now_ms, to, signal);
            } else if self.is_member(&to) {
                self.signals.outgoing.push_back((to, signal));
            }
        }
    }

    fn send_signal(
        &mut self,
        now_ms: u64,
        to: ParticipantId,
        signal: Signal,
    ) -> Result<(), SdkError> {
        let msg = match signal {
            Signal::Offer(sdp) => ClientMessage::Offer { to, sdp },
            Signal::Answer(sdp) => ClientMessage::Answer { to, sdp },
            Signal::Ice {
                candidate,
                sdp_mid,
                sdp_mline_index,
            } => ClientMessage::Ice {
                to,
                candidate,
                sdp_mid,
                sdp_mline_index,
            },
        };
        self.command(now_ms, msg)
    }

    pub(super) fn incoming_signal(&mut self, now_ms: u64, from: ParticipantId, signal: Signal) {
        let sdp = match &signal {
            Signal::Offer(s) | Signal::Answer(s) => Some(s),
            Signal::Ice { .. } => None,
        };
        let check = match (sdp, self.e2e.group.as_ref()) {
            (Some(sdp), Some(g)) => g.check_sdp_fingerprint(from.as_str(), sdp),
            (Some(_), None) => Err(E2eeError::NoHello(from.to_string())),
            (None, _) => Ok(()),
        };
        let held_before = self.signals.held.iter().any(|h| h.from == from);
        match check {
            // Candidates queue behind a held description.
            Ok(()) if held_before => self.signals.held.push(HeldSignal {
                from,
                signal,
                since_ms: now_ms,
            }),
            Ok(()) => self.event(Event::Signal { from, signal }),
            Err(E2eeError::NoHello(_)) => self.signals.held.push(HeldSignal {
                from,
                signal,
                since_ms: now_ms,
            }),
            Err(error) => self.event(Event::Error(SdkError::E2ee {
                from: from.to_string(),
                error,
            })),
        }
    }

    /// Releases the signals that waited for `from`'s Hello, in order.
    pub(super) fn release_held(&mut self, from: &str) {
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.signals.held)
            .into_iter()
            .partition(|h| h.from.as_str() == from);
        self.signals.held = rest;
        for h in mine {
            self.incoming_signal(h.since_ms, h.from, h.signal);
        }
    }

    /// Drops the held signals whose sender's Hello did not come in time,
    /// with an error each.
    pub(super) fn expire_held(&mut self, now_ms: u64) {
        let (expired, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.signals.held)
            .into_iter()
            .partition(|h| now_ms.saturating_sub(h.since_ms) >= HOLD_SIGNAL_MS);
        self.signals.held = kept;
        for h in expired {
            self.event(Event::Error(SdkError::E2ee {
                from: h.from.to_string(),
                error: E2eeError::NoHello(h.from.to_string()),
            }));
        }
    }
}

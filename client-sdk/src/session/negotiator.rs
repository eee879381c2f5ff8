//! Perfect negotiation for one remote peer, without a peer connection: the
//! decisions of the W3C pattern (polite and impolite, making an offer,
//! ignoring a colliding offer, rollback, queued ICE before the remote
//! description, stale answers, ICE restart with back-off and a grace period
//! for `disconnected`) as a state machine driven by inputs and time.
//!
//! A platform shell (webrtc-rs on native, `RTCPeerConnection` in the
//! browser) performs the [`Op`]s it asks for, **one at a time**, and feeds
//! each result back with [`Negotiator::op_done`]; it sends the
//! [`Output::Signal`]s through the hub. Because operations never overlap,
//! the pattern's `makingOffer` window is simply "an offer operation is in
//! flight", and remote signals that arrive meanwhile wait their turn.
//!
//! Invariants: at most one operation is outstanding; remote signals are
//! handled in arrival order; a candidate is never added before a remote
//! description; at most [`MAX_PENDING_ICE`] candidates wait for one.

use super::Signal;
use std::collections::VecDeque;

/// Remote candidates kept until the remote description arrives; later ones
/// are dropped.
pub const MAX_PENDING_ICE: usize = 64;
/// How long (ms) the connection may stay `disconnected` before an ICE
/// restart begins.
pub const DISCONNECTED_GRACE_MS: u64 = 5_000;
/// Longest delay (ms) before an ICE restart. Consecutive restarts since the
/// last `connected` wait 0 for the first, then 1 s, 2 s, 4 s … up to this.
pub const RESTART_MAX_DELAY_MS: u64 = 30_000;
/// An offer unanswered this long (ms; lost with a dropped hub link, or
/// never answered by a peer whose answer failed) is rolled back and made
/// again.
pub const ANSWER_TIMEOUT_MS: u64 = 10_000;

/// What the shell must do to its peer connection next, with the
/// [`OpResult`] it reports when done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `createOffer` (with `iceRestart` when asked); result: the SDP
    /// ([`OpResult::Sdp`]).
    CreateOffer {
        /// Ask for fresh ICE credentials.
        ice_restart: bool,
    },
    /// `createAnswer`; result: the SDP ([`OpResult::Sdp`]).
    CreateAnswer,
    /// `setLocalDescription` of the SDP just created; result: the local
    /// description as the connection now holds it (browsers rewrite msid
    /// ids: what is signalled and announced is read from here).
    SetLocal {
        /// Offer or answer.
        kind: SdpKind,
        /// The SDP from the create operation.
        sdp: String,
    },
    /// `setLocalDescription({type: "rollback"})`; result:
    /// [`OpResult::Done`].
    Rollback,
    /// `setRemoteDescription`; result: [`OpResult::Done`].
    SetRemote {
        /// Offer or answer.
        kind: SdpKind,
        /// The peer's SDP.
        sdp: String,
    },
    /// `addIceCandidate`; result: [`OpResult::Done`]. `candidate` empty is
    /// end of candidates (a shell may skip it and report done).
    AddCandidate {
        /// The candidate attribute value (`candidate:…`).
        candidate: String,
        /// The `a=mid` of its media section.
        sdp_mid: Option<String>,
        /// The 0-based index of its media section.
        sdp_mline_index: Option<u32>,
    },
}

/// An SDP's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpKind {
    /// An offer.
    Offer,
    /// An answer.
    Answer,
}

/// What an operation produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// The SDP a create operation made, or the local description as the
    /// connection holds it after `SetLocal`.
    Sdp(String),
    /// Any other operation succeeded.
    Done,
    /// It failed (the shell's error text, safe to show: no SDP).
    Failed(String),
}

/// A peer connection's state, as the shell reports it (from
/// `RTCPeerConnectionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// `new` or `connecting`.
    Connecting,
    /// `connected`.
    Connected,
    /// `disconnected`: may recover by itself; an ICE restart begins after
    /// [`DISCONNECTED_GRACE_MS`] unless it does.
    Disconnected,
    /// `failed`: an ICE restart begins (see [`RESTART_MAX_DELAY_MS`]).
    Failed,
    /// `closed`: the negotiator does nothing more.
    Closed,
}

/// What the negotiator tells the shell besides operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this to the peer through the hub.
    Signal(Signal),
    /// A remote offer collided with ours and this side, impolite, ignored
    /// it (informational).
    IgnoredOffer,
    /// An ICE restart began (informational: the restart itself is the
    /// next [`Op::CreateOffer`] with `ice_restart: true`).
    IceRestart {
        /// Its number since the last `connected`, 1 for the first.
        attempt: u32,
    },
    /// An operation failed (the shell's text), or an offer went unanswered;
    /// negotiation carries on where it can.
    Error(String),
}

/// The signaling state as this negotiator has driven it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signaling {
    Stable,
    HaveLocalOffer,
    HaveRemoteOffer,
}

/// A remote signal waiting for its turn.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Remote {
    Offer(String),
    Answer(String),
    Ice(Signal),
}

/// Where a multi-step flow stands: which operation is out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    CreatingOffer,
    SettingLocalOffer,
    /// Rolling our offer back to take this one.
    RollingBack(String),
    SettingRemoteOffer,
    CreatingAnswer,
    SettingLocalAnswer,
    SettingRemoteAnswer,
    AddingCandidate,
    /// Rolling back a negotiation that cannot complete (an answer-side
    /// operation failed, or our offer went unanswered), to offer afresh.
    Recovering,
}

/// Perfect negotiation with one peer. See the module doc.
///
/// The shell reports events ([`Negotiator::negotiation_needed`],
/// [`Negotiator::remote`], [`Negotiator::connection_state`],
/// [`Negotiator::tick`] at [`Negotiator::next_deadline`]), then drains
/// [`Negotiator::poll_output`] and performs [`Negotiator::poll_op`],
/// reporting each result with [`Negotiator::op_done`]. All times are in ms
/// of one clock (the shells pass unix ms).
///
/// ```
/// use bedside_sdk::session::Signal;
/// use bedside_sdk::session::negotiator::{
///     ANSWER_TIMEOUT_MS, Negotiator, Op, OpResult, Output, SdpKind,
/// };
///
/// // "dr-ada" < "pt-1": dr-ada's side is impolite.
/// let mut neg = Negotiator::new(false);
/// neg.negotiation_needed(1_000); // a track was added
/// assert_eq!(neg.poll_op(), Some(Op::CreateOffer { ice_restart: false }));
/// neg.op_done(1_010, OpResult::Sdp("v=0 …offer".into()));
/// let set_local = Op::SetLocal { kind: SdpKind::Offer, sdp: "v=0 …offer".into() };
/// assert_eq!(neg.poll_op(), Some(set_local));
/// neg.op_done(1_020, OpResult::Sdp("v=0 …local offer".into()));
/// let offer = Signal::Offer("v=0 …local offer".into());
/// assert_eq!(neg.poll_output(), Some(Output::Signal(offer)));
/// assert_eq!(neg.next_deadline(), Some(1_020 + ANSWER_TIMEOUT_MS));
///
/// // The peer's answer, relayed by the hub.
/// neg.remote(1_500, Signal::Answer("v=0 …answer".into()));
/// let set_remote = Op::SetRemote { kind: SdpKind::Answer, sdp: "v=0 …answer".into() };
/// assert_eq!(neg.poll_op(), Some(set_remote));
/// neg.op_done(1_510, OpResult::Done);
/// assert_eq!(neg.poll_op(), None);
/// assert_eq!(neg.next_deadline(), None);
/// ```
#[derive(Debug)]
pub struct Negotiator {
    polite: bool,
    signaling: Signaling,
    /// The operation the shell is performing, if any.
    step: Option<Step>,
    /// Handed out by `poll_op`, not yet taken.
    next_op: Option<Op>,
    /// Local changes wait for an offer.
    needed: bool,
    /// The next offer restarts ICE.
    restart_wanted: bool,
    /// The last colliding offer was ignored: errors adding its candidates
    /// are expected and swallowed.
    ignore_offer: bool,
    have_remote: bool,
    queue: VecDeque<Remote>,
    pending_ice: Vec<Signal>,
    out: VecDeque<Output>,
    state: PeerState,
    /// Consecutive ICE restarts since the last `connected`.
    restarts: u32,
    /// `disconnected` since (ms), for the grace period.
    disconnected_since: Option<u64>,
    /// The next ICE restart may start at (ms).
    restart_at: Option<u64>,
    /// When our offer in `have-local-offer` was sent (ms).
    offered_at: Option<u64>,
}

impl Negotiator {
    /// A negotiator for one peer. Of two participants the one with the
    /// smaller id is impolite (`polite = my_id > their_id`).
    pub fn new(polite: bool) -> Self {
        Self {
            polite,
            signaling: Signaling::Stable,
            step: None,
            next_op: None,
            needed: false,
            restart_wanted: false,
            ignore_offer: false,
            have_remote: false,
            queue: VecDeque::new(),
            pending_ice: Vec::new(),
            out: VecDeque::new(),
            state: PeerState::Connecting,
            restarts: 0,
            disconnected_since: None,
            restart_at: None,
            offered_at: None,
        }
    }

    /// Whether this side is the polite one.
    pub fn is_polite(&self) -> bool {
        self.polite
    }

    /// The connection fired `negotiationneeded` (a track or data channel
    /// was added or removed).
    pub fn negotiation_needed(&mut self, now_ms: u64) {
        self.needed = true;
        self.advance(now_ms);
    }

    /// The app asked for an ICE restart (a network change): the next offer
    /// has `ice_restart: true`.
    pub fn restart_ice(&mut self, now_ms: u64) {
        self.restart_wanted = true;
        self.needed = true;
        self.advance(now_ms);
    }

    /// A signal from the peer, relayed by the hub (after the session's
    /// fingerprint check). Signals are handled in arrival order; candidates
    /// that come before the remote description wait (at most
    /// [`MAX_PENDING_ICE`]); a stale answer is dropped.
    pub fn remote(&mut self, now_ms: u64, signal: Signal) {
        let r = match signal {
            Signal::Offer(sdp) => Remote::Offer(sdp),
            Signal::Answer(sdp) => Remote::Answer(sdp),
            ice @ Signal::Ice { .. } => Remote::Ice(ice),
        };
        self.queue.push_back(r);
        self.advance(now_ms);
    }

    /// The peer connection's state changed. `Failed` starts an ICE restart
    /// (at once for the first since `connected`, later ones delayed: see
    /// [`RESTART_MAX_DELAY_MS`]); `Disconnected` starts one after
    /// [`DISCONNECTED_GRACE_MS`] (see [`Negotiator::tick`]); `Connected`
    /// resets the restart count; `Closed` stops everything.
    pub fn connection_state(&mut self, now_ms: u64, state: PeerState) {
        self.state = state;
        match state {
            PeerState::Connected => {
                self.restarts = 0;
                self.disconnected_since = None;
                self.restart_at = None;
            }
            PeerState::Disconnected => {
                self.disconnected_since.get_or_insert(now_ms);
            }
            PeerState::Failed => self.schedule_restart(now_ms),
            PeerState::Connecting | PeerState::Closed => self.disconnected_since = None,
        }
        self.advance(now_ms);
    }

    /// Time passed: call it at [`Negotiator::next_deadline`]. Starts a due
    /// ICE restart, and rolls back an offer unanswered for
    /// [`ANSWER_TIMEOUT_MS`] to offer again (reporting [`Output::Error`]).
    pub fn tick(&mut self, now_ms: u64) {
        if self.state == PeerState::Disconnected
            && self
                .disconnected_since
                .is_some_and(|t| now_ms >= t.saturating_add(DISCONNECTED_GRACE_MS))
        {
            self.disconnected_since = None;
            self.schedule_restart(now_ms);
        }
        if self.step.is_none()
            && self.signaling == Signaling::HaveLocalOffer
            && self
                .offered_at
                .is_some_and(|t| now_ms >= t.saturating_add(ANSWER_TIMEOUT_MS))
        {
            self.offered_at = None;
            self.out.push_back(Output::Error(
                "the offer went unanswered: offering again".into(),
            ));
            self.start(Step::Recovering, Op::Rollback);
        }
        self.advance(now_ms);
    }

    /// When [`Negotiator::tick`] next has something to do (same clock as
    /// the `now_ms` passed in); `None` when nothing is pending.
    pub fn next_deadline(&self) -> Option<u64> {
        let grace = self
            .disconnected_since
            .map(|t| t.saturating_add(DISCONNECTED_GRACE_MS));
        let answer = self
            .offered_at
            .filter(|_| self.signaling == Signaling::HaveLocalOffer)
            .map(|t| t.saturating_add(ANSWER_TIMEOUT_MS));
        [grace, self.restart_at, answer].into_iter().flatten().min()
    }

    /// The next operation to perform, handed out once: `None` while one is
    /// outstanding (until [`Negotiator::op_done`]) or when nothing is to do.
    pub fn poll_op(&mut self) -> Option<Op> {
        self.next_op.take()
    }

    /// The next signal to send or event to report; drain it after every
    /// call that feeds the negotiator.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The result of the operation last handed out by
    /// [`Negotiator::poll_op`]; ignored when none is outstanding.
    pub fn op_done(&mut self, now_ms: u64, result: OpResult) {
        let Some(step) = self.step.take() else {
            return;
        };
        let failed = match &result {
            OpResult::Failed(e) => Some(e.clone()),
            _ => None,
        };
        let sdp = match result {
            OpResult::Sdp(s) => Some(s),
            _ => None,
        };
        if let Some(e) = failed {
            self.failed(step, e);
            self.advance(now_ms);
            return;
        }
        match step {
            Step::CreatingOffer => match sdp {
                Some(sdp) => self.start(
                    Step::SettingLocalOffer,
                    Op::SetLocal {
                        kind: SdpKind::Offer,
                        sdp,
                    },
                ),
                None => self.failed(step, "createOffer returned no SDP".into()),
            },
            Step::SettingLocalOffer => {
                self.signaling = Signaling::HaveLocalOffer;
                self.offered_at = Some(now_ms);
                if let Some(sdp) = sdp {
                    self.out.push_back(Output::Signal(Signal::Offer(sdp)));
                }
            }
            Step::RollingBack(offer) => {
                self.signaling = Signaling::Stable;
                self.offered_at = None;
                // What we had offered still needs negotiating.
                self.needed = true;
                self.take_offer(offer);
            }
            Step::SettingRemoteOffer => {
                self.signaling = Signaling::HaveRemoteOffer;
                self.have_remote = true;
                self.start(Step::CreatingAnswer, Op::CreateAnswer);
            }
            Step::CreatingAnswer => match sdp {
                Some(sdp) => self.start(
                    Step::SettingLocalAnswer,
                    Op::SetLocal {
                        kind: SdpKind::Answer,
                        sdp,
                    },
                ),
                None => self.failed(step, "createAnswer returned no SDP".into()),
            },
            Step::SettingLocalAnswer => {
                self.signaling = Signaling::Stable;
                if let Some(sdp) = sdp {
                    self.out.push_back(Output::Signal(Signal::Answer(sdp)));
                }
                self.flush_ice();
            }
            Step::SettingRemoteAnswer => {
                self.signaling = Signaling::Stable;
                self.offered_at = None;
                self.have_remote = true;
                self.flush_ice();
            }
            Step::Recovering => {
                self.signaling = Signaling::Stable;
                self.offered_at = None;
                self.needed = true;
            }
            Step::AddingCandidate => {}
        }
        self.advance(now_ms);
    }

    fn failed(&mut self, step: Step, error: String) {
        match step {
            // Candidates of an offer we ignored fail by design.
            Step::AddingCandidate if self.ignore_offer => {}
            // Not retried at once (it would fail again in a loop): the
            // next change, ICE restart or remote offer tries again.
            Step::CreatingOffer | Step::SettingLocalOffer => {
                self.out.push_back(Output::Error(error));
            }
            // Half a negotiation would stay stuck (signaling never stable
            // again, an impolite side ignoring every later offer): roll it
            // back and offer afresh.
            Step::CreatingAnswer | Step::SettingLocalAnswer | Step::SettingRemoteAnswer => {
                self.out.push_back(Output::Error(error));
                self.start(Step::Recovering, Op::Rollback);
            }
            _ => self.out.push_back(Output::Error(error)),
        }
    }

    fn schedule_restart(&mut self, now_ms: u64) {
        if self.restart_at.is_some() || self.state == PeerState::Closed {
            return;
        }
        let delay = match self.restarts {
            0 => 0,
            n => 1_000u64
                .saturating_mul(1 << (n - 1).min(15))
                .min(RESTART_MAX_DELAY_MS),
        };
        self.restart_at = Some(now_ms.saturating_add(delay));
    }

    fn start(&mut self, step: Step, op: Op) {
        self.step = Some(step);
        self.next_op = Some(op);
    }

    /// Starts whatever is next, if no operation is out.
    fn advance(&mut self, now_ms: u64) {
        if self.step.is_some() || self.state == PeerState::Closed {
            return;
        }
        if self.restart_at.is_some_and(|t| now_ms >= t) {
            self.restart_at = None;
            self.restarts += 1;
            self.out.push_back(Output::IceRestart {
                attempt: self.restarts,
            });
            self.restart_wanted = true;
            self.needed = true;
        }
        // Remote signals first, in order.
        while let Some(r) = self.queue.pop_front() {
            match r {
                Remote::Offer(sdp) => {
                    let collision = self.signaling != Signaling::Stable;
                    self.ignore_offer = !self.polite && collision;
                    if self.ignore_offer {
                        self.out.push_back(Output::IgnoredOffer);
                        continue;
                    }
                    if collision {
                        self.start(Step::RollingBack(sdp), Op::Rollback);
                    } else {
                        self.take_offer(sdp);
                    }
                    return;
                }
                Remote::Answer(sdp) => {
                    if self.signaling != Signaling::HaveLocalOffer {
                        continue; // stale: answers an offer we rolled back
                    }
                    self.start(
                        Step::SettingRemoteAnswer,
                        Op::SetRemote {
                            kind: SdpKind::Answer,
                            sdp,
                        },
                    );
                    return;
                }
                Remote::Ice(ice) => {
                    if !self.have_remote {
                        if self.pending_ice.len() < MAX_PENDING_ICE {
                            self.pending_ice.push(ice);
                        }
                        continue;
                    }
                    self.add_candidate(ice);
                    return;
                }
            }
        }
        if self.needed && self.signaling == Signaling::Stable {
            self.needed = false;
            let ice_restart = std::mem::take(&mut self.restart_wanted);
            self.start(Step::CreatingOffer, Op::CreateOffer { ice_restart });
        }
    }

    fn take_offer(&mut self, sdp: String) {
        self.start(
            Step::SettingRemoteOffer,
            Op::SetRemote {
                kind: SdpKind::Offer,
                sdp,
            },
        );
    }

    fn add_candidate(&mut self, ice: Signal) {
        if let Signal::Ice {
            candidate,
            sdp_mid,
            sdp_mline_index,
        } = ice
        {
            self.start(
                Step::AddingCandidate,
                Op::AddCandidate {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                },
            );
        }
    }

    /// Candidates that waited for the remote description go first in the
    /// queue, ahead of anything that came after them.
    fn flush_ice(&mut self) {
        for ice in self.pending_ice.drain(..).rev() {
            self.queue.push_front(Remote::Ice(ice));
        }
    }
}

#[cfg(test)]
#[path = "negotiator_tests.rs"]
mod tests;

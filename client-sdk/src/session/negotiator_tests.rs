//! Two negotiators over a scripted relay, each driving a model peer
//! connection that enforces the W3C signaling-state rules (an operation in
//! the wrong state fails, as a browser's would). Synchronous, virtual time.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;

/// A peer connection reduced to its signaling state and descriptions.
#[derive(Debug, Default)]
struct ModelPc {
    name: &'static str,
    /// "stable", "have-local-offer", "have-remote-offer".
    state: &'static str,
    offers: u32,
    local: Option<String>,
    remote: Option<String>,
    /// Remote description applied at least once (candidates may be added).
    has_remote: bool,
    candidates: Vec<String>,
    ice_restarts: u32,
}

impl ModelPc {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            state: "stable",
            ..Self::default()
        }
    }

    fn perform(&mut self, op: Op) -> OpResult {
        match op {
            Op::CreateOffer { ice_restart } => {
                self.offers += 1;
                self.ice_restarts += u32::from(ice_restart);
                OpResult::Sdp(format!("offer {} #{}", self.name, self.offers))
            }
            Op::CreateAnswer if self.state == "have-remote-offer" => {
                OpResult::Sdp(format!("answer {} to {:?}", self.name, self.remote))
            }
            Op::SetLocal {
                kind: SdpKind::Offer,
                sdp,
            } if self.state == "stable" => {
                self.state = "have-local-offer";
                self.local = Some(sdp.clone());
                OpResult::Sdp(sdp)
            }
            Op::SetLocal {
                kind: SdpKind::Answer,
                sdp,
            } if self.state == "have-remote-offer" => {
                self.state = "stable";
                self.local = Some(sdp.clone());
                OpResult::Sdp(sdp)
            }
            Op::Rollback if self.state != "stable" => {
                self.state = "stable";
                OpResult::Done
            }
            Op::SetRemote {
                kind: SdpKind::Offer,
                sdp,
            } if self.state == "stable" => {
                self.state = "have-remote-offer";
                self.remote = Some(sdp);
                self.has_remote = true;
                OpResult::Done
            }
            Op::SetRemote {
                kind: SdpKind::Answer,
                sdp,
            } if self.state == "have-local-offer" => {
                self.state = "stable";
                self.remote = Some(sdp);
                self.has_remote = true;
                OpResult::Done
            }
            Op::AddCandidate { candidate, .. } if self.has_remote => {
                self.candidates.push(candidate);
                OpResult::Done
            }
            other => OpResult::Failed(format!("{}: {other:?} in {}", self.name, self.state)),
        }
    }
}

/// One side: its negotiator, its connection, and what it sent.
struct Side {
    n: Negotiator,
    pc: ModelPc,
    errors: Vec<String>,
    ignored: u32,
    restarts: Vec<u32>,
}

impl Side {
    fn new(name: &'static str, polite: bool) -> Self {
        Self {
            n: Negotiator::new(polite),
            pc: ModelPc::new(name),
            errors: Vec::new(),
            ignored: 0,
            restarts: Vec::new(),
        }
    }

    /// Performs every operation asked for; returns the signals to relay.
    fn run(&mut self, now: u64) -> Vec<Signal> {
        let mut signals = Vec::new();
        loop {
            while let Some(o) = self.n.poll_output() {
                match o {
                    Output::Signal(s) => signals.push(s),
                    Output::Error(e) => self.errors.push(e),
                    Output::IgnoredOffer => self.ignored += 1,
                    Output::IceRestart { attempt } => self.restarts.push(attempt),
                }
            }
            match self.n.poll_op() {
                Some(op) => {
                    let r = self.pc.perform(op);
                    self.n.op_done(now, r);
                }
                None => return signals,
            }
        }
    }
}

fn ice(c: &str) -> Signal {
    Signal::Ice {
        candidate: c.into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
    }
}

/// Relays until both sides are quiet; `hold` signals are delivered late.
fn settle(a: &mut Side, b: &mut Side, now: u64) {
    for _ in 0..50 {
        let from_a = a.run(now);
        let from_b = b.run(now);
        if from_a.is_empty() && from_b.is_empty() {
            return;
        }
        for s in from_a {
            b.n.remote(now, s);
        }
        for s in from_b {
            a.n.remote(now, s);
        }
    }
    panic!("signaling did not settle");
}

fn agreed(a: &Side, b: &Side) {
    assert_eq!(a.pc.state, "stable");
    assert_eq!(b.pc.state, "stable");
    assert_eq!(a.pc.local, b.pc.remote, "a's description is b's remote");
    assert_eq!(b.pc.local, a.pc.remote, "b's description is a's remote");
    assert!(
        a.errors.is_empty() && b.errors.is_empty(),
        "{:?} {:?}",
        a.errors,
        b.errors
    );
}

#[test]
fn one_side_offers_the_other_answers() {
    let (mut a, mut b) = (Side::new("a", false), Side::new("b", true));
    a.n.negotiation_needed(0);
    settle(&mut a, &mut b, 0);
    agreed(&a, &b);
    assert_eq!((a.pc.offers, b.pc.offers), (1, 0));
}

/// Both sides renegotiate at once, in both orders of delivery: the
/// impolite side ignores the polite one's offer; the polite one rolls back,
/// answers, then offers what it had withdrawn.
#[test]
fn glare_in_both_orders_ends_agreed() {
    for polite_first in [true, false] {
        let (mut imp, mut pol) = (Side::new("imp", false), Side::new("pol", true));
        imp.n.negotiation_needed(0);
        pol.n.negotiation_needed(0);
        let from_imp = imp.run(0);
        let from_pol = pol.run(0);
        assert!(matches!(from_imp[..], [Signal::Offer(_)]));
        assert!(matches!(from_pol[..], [Signal::Offer(_)]));
        // The offers cross.
        if polite_first {
            pol.n.remote(0, from_imp[0].clone());
            imp.n.remote(0, from_pol[0].clone());
        } else {
            imp.n.remote(0, from_pol[0].clone());
            pol.n.remote(0, from_imp[0].clone());
        }
        settle(&mut imp, &mut pol, 0);
        agreed(&imp, &pol);
        assert_eq!(imp.ignored, 1, "impolite ignored one offer");
        assert_eq!(pol.ignored, 0);
        assert_eq!(pol.pc.offers, 2, "polite offered its changes again");
        assert_eq!(
            imp.pc.remote.as_deref(),
            Some("offer pol #2"),
            "the last word is the polite side's renewed offer"
        );
    }
}

/// Glare while the impolite side is still creating its offer: the remote
/// offer waits for the operation, then collides.
#[test]
fn an_offer_during_our_create_offer_waits_its_turn() {
    let (mut imp, mut pol) = (Side::new("imp", false), Side::new("pol", true));
    pol.n.negotiation_needed(0);
    let offer = pol.run(0);
    imp.n.negotiation_needed(0);
    let op = imp.n.poll_op().expect("create offer");
    assert_eq!(op, Op::CreateOffer { ice_restart: false });
    imp.n.remote(0, offer[0].clone());
    assert_eq!(imp.n.poll_op(), None, "one operation at a time");
    let r = imp.pc.perform(op);
    imp.n.op_done(0, r);
    settle(&mut imp, &mut pol, 0);
    agreed(&imp, &pol);
}

/// Candidates that arrive before the offer wait for it and are added after
/// the remote description, in order; a flood of them is bounded.
#[test]
fn ice_before_sdp_waits_for_the_remote_description() {
    let (mut a, mut b) = (Side::new("a", false), Side::new("b", true));
    a.n.negotiation_needed(0);
    let offer = a.run(0);
    for i in 0..(MAX_PENDING_ICE + 10) {
        b.n.remote(0, ice(&format!("candidate:{i}")));
    }
    assert!(b.run(0).is_empty());
    assert!(b.pc.candidates.is_empty());
    b.n.remote(0, offer[0].clone());
    b.n.remote(0, ice("candidate:late"));
    settle(&mut a, &mut b, 0);
    agreed(&a, &b);
    assert_eq!(b.pc.candidates.len(), MAX_PENDING_ICE + 1);
    assert_eq!(b.pc.candidates[0], "candidate:0");
    assert_eq!(
        b.pc.candidates.last().map(String::as_str),
        Some("candidate:late")
    );
}

/// An answer to an offer that was rolled back (or never made) is stale:
/// ignored, no operation, no error.
#[test]
fn a_stale_answer_is_ignored() {
    let (mut a, mut b) = (Side::new("a", false), Side::new("b", true));
    a.n.negotiation_needed(0);
    settle(&mut a, &mut b, 0);
    b.n.remote(0, Signal::Answer("answer to an offer b withdrew".into()));
    assert_eq!(b.n.poll_op(), None);
    assert!(b.run(0).is_empty());
    agreed(&a, &b);
}

/// The polite side's rolled-back offer gets no answer; if the impolite
/// side's answer to it came anyway (a reordering relay), the polite side,
/// now stable, ignores it.
#[test]
fn an_answer_after_a_rollback_is_stale() {
    let (mut imp, mut pol) = (Side::new("imp", false), Side::new("pol", true));
    pol.n.negotiation_needed(0);
    let pol_offer = pol.run(0);
    imp.n.negotiation_needed(0);
    let imp_offer = imp.run(0);
    pol.n.remote(0, imp_offer[0].clone()); // rollback, answer
    let answer = pol.run(0);
    assert!(matches!(answer[..], [Signal::Answer(_), Signal::Offer(_)]));
    pol.n
        .remote(0, Signal::Answer(format!("late answer to {pol_offer:?}")));
    // Its renewed offer is out; the late answer names the old one but the
    // model cannot tell: deliver the real exchange and check agreement.
    imp.n.remote(0, answer[0].clone());
    imp.n.remote(0, answer[1].clone());
    settle(&mut imp, &mut pol, 0);
    assert_eq!(imp.pc.state, "stable");
    assert_eq!(pol.pc.state, "stable");
}

/// `failed` restarts ICE at once; failing again without connecting backs
/// off (1 s, 2 s, …); `connected` resets the count.
#[test]
fn ice_restart_on_failure_backs_off_and_resets_on_connect() {
    let (mut a, mut b) = (Side::new("a", false), Side::new("b", true));
    a.n.negotiation_needed(0);
    settle(&mut a, &mut b, 0);
    a.n.connection_state(1_000, PeerState::Connected);
    a.n.connection_state(2_000, PeerState::Failed);
    settle(&mut a, &mut b, 2_000);
    agreed(&a, &b);
    assert_eq!(a.restarts, [1]);
    assert_eq!(a.pc.ice_restarts, 1);
    // Still failed: the next restart waits a second.
    a.n.connection_state(3_000, PeerState::Failed);
    assert_eq!(a.n.next_deadline(), Some(4_000));
    a.n.tick(3_999);
    assert_eq!(a.n.poll_op(), None);
    a.n.tick(4_000);
    settle(&mut a, &mut b, 4_000);
    assert_eq!(a.restarts, [1, 2]);
    a.n.connection_state(5_000, PeerState::Failed);
    assert_eq!(a.n.next_deadline(), Some(7_000), "then two seconds");
    a.n.connection_state(5_500, PeerState::Connected);
    assert_eq!(a.n.next_deadline(), None);
    a.n.connection_state(9_000, PeerState::Failed);
    settle(&mut a, &mut b, 9_000);
    assert_eq!(a.restarts, [1, 2, 1], "counted afresh after connecting");
    agreed(&a, &b);
    assert_eq!(a.pc.ice_restarts, 3);
}

/// `disconnected` may recover by itself: the restart waits out the grace.
#[test]
fn disconnected_gets_a_grace_period_before_the_restart() {
    let (mut a, mut b) = (Side::new("a", false), Side::new("b", true));
    a.n.negotiation_needed(0);
    settle(&mut a, &mut b, 0);
    a.n.connection_state(10_000, PeerState::Disconnected);
    assert_eq!(a.n.next_deadline(), Some(10_000 + DISCONNECTED_GRACE_MS));
    a.n.connection_state(12_000, PeerState::Connected);
    a.n.tick(20_000);
    assert_eq!(a.n.poll_op(), None, "recovered: no restart");
    a.n.connection_state(30_000, PeerState::Disconnected);
    a.n.tick(30_000 + DISCONNECTED_GRACE_MS - 1);
    assert_eq!(a.n.poll_op(), None);
    a.n.tick(30_000 + DISCONNECTED_GRACE_MS);
    assert_eq!(a.n.poll_op(), Some(Op::CreateOffer { ice_restart: true }));
}

/// A failed operation is reported, not retried in a loop; the next change
/// tries again.
#[test]
fn a_failed_create_offer_is_reported_and_tried_again_on_the_next_change() {
    let mut a = Side::new("a", false);
    a.n.negotiation_needed(0);
    assert!(a.n.poll_op().is_some());
    a.n.op_done(0, OpResult::Failed("no codecs".into()));
    assert_eq!(a.n.poll_output(), Some(Output::Error("no codecs".into())));
    assert_eq!(a.n.poll_op(), None);
    a.n.negotiation_needed(10);
    assert_eq!(a.n.poll_op(), Some(Op::CreateOffer { ice_restart: false }));
}

/// An offer lost on the way (the hub link dropped with it) would leave the
/// offerer in have-local-offer for good; after ANSWER_TIMEOUT_MS it rolls
/// back and offers again, and the peers agree.
#[test]
fn an_unanswered_offer_is_rolled_back_and_made_again() {
    let (mut a, mut b) = (Side::new("a", false), Side::new("b", true));
    a.n.negotiation_needed(0);
    let lost = a.run(0);
    assert!(matches!(lost[..], [Signal::Offer(_)]));
    assert_eq!(a.n.next_deadline(), Some(ANSWER_TIMEOUT_MS));
    a.n.tick(ANSWER_TIMEOUT_MS - 1);
    assert!(a.run(ANSWER_TIMEOUT_MS - 1).is_empty(), "not yet");
    a.n.tick(ANSWER_TIMEOUT_MS);
    let again = a.run(ANSWER_TIMEOUT_MS);
    assert!(matches!(again[..], [Signal::Offer(_)]), "{again:?}");
    assert_eq!(a.pc.offers, 2);
    assert_eq!(a.errors.len(), 1, "reported once: {:?}", a.errors);
    a.errors.clear();
    for s in again {
        b.n.remote(ANSWER_TIMEOUT_MS, s);
    }
    settle(&mut a, &mut b, ANSWER_TIMEOUT_MS);
    agreed(&a, &b);
    assert_eq!(a.n.next_deadline(), None, "answered: no timeout left");
}

/// A failed createAnswer would leave the answerer in have-remote-offer (and
/// an impolite answerer ignoring every later offer): it rolls back and
/// negotiates afresh, and the peers agree.
#[test]
fn a_failed_answer_is_rolled_back_and_negotiation_recovers() {
    for polite in [true, false] {
        let (mut a, mut b) = (Side::new("a", !polite), Side::new("b", polite));
        a.n.negotiation_needed(0);
        for s in a.run(0) {
            b.n.remote(0, s);
        }
        assert!(matches!(b.n.poll_op(), Some(Op::SetRemote { .. })));
        b.pc.state = "have-remote-offer";
        b.n.op_done(0, OpResult::Done);
        assert_eq!(b.n.poll_op(), Some(Op::CreateAnswer));
        b.n.op_done(0, OpResult::Failed("no codecs in common".into()));
        assert_eq!(b.n.poll_op(), Some(Op::Rollback));
        b.pc.state = "stable";
        b.n.op_done(0, OpResult::Done);
        // b now offers itself; a, still waiting, meets it as glare (or,
        // polite, rolls back); either way they end agreed.
        b.errors.clear();
        settle(&mut a, &mut b, 0);
        a.n.tick(ANSWER_TIMEOUT_MS);
        settle(&mut a, &mut b, ANSWER_TIMEOUT_MS);
        a.errors.clear();
        b.errors.clear();
        agreed(&a, &b);
    }
}

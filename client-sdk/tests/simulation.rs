//! The non-media flows of `tests/visit.rs` (chat, resume, refresh, key
//! rotation, removal, a guest coming and going, end of visit) run again
//! here in memory: the hub's real `Visit` and the SDK's real `Session`s,
//! wired by `sim/`, with virtual time. Synchronous and deterministic: no
//! sockets, no threads, no sleeping, and the same frames every run.

#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod sim;

use bedside_protocol::{ParticipantState, Role};
use bedside_sdk::session::{ConnectionState, EndReason, Event};
use sim::{PeerId, Sim, TOKEN_TTL_S};

const MINUTE: u64 = 60_000;

fn pid(s: &str) -> bedside_protocol::ParticipantId {
    bedside_protocol::ParticipantId::new(s).unwrap()
}

fn admitted_pair(sim: &mut Sim) -> (PeerId, PeerId) {
    let dr = sim.join("dr-ada", Role::Provider, 1);
    sim.run();
    let pt = sim.join("pt-1", Role::Patient, 2);
    sim.run();
    assert!(sim.heard(pt, |e| matches!(e, Event::Waiting)));
    assert!(sim.heard(
        dr,
        |e| matches!(e, Event::Lobby { waiting } if !waiting.is_empty())
    ));
    sim.act(dr, |s, now| s.admit(now, &pid("pt-1"))).unwrap();
    assert!(sim.heard(pt, |e| matches!(e, Event::Admitted { .. })));
    (dr, pt)
}

fn chat(sim: &mut Sim, p: PeerId, text: &str) -> String {
    sim.act(p, |s, now| s.send_chat(now, text)).unwrap()
}

fn pair(from: &str, text: &str) -> (String, String) {
    (from.to_owned(), text.to_owned())
}

#[test]
fn chat_goes_both_ways_once_each_and_the_hub_holds_only_ciphertext() {
    let mut sim = Sim::new();
    let (dr, pt) = admitted_pair(&mut sim);
    let a = chat(&mut sim, dr, "How is the rash today?");
    let b = chat(&mut sim, pt, "Better since Monday");
    assert_eq!(sim.chats(pt), [pair("dr-ada", "How is the rash today?")]);
    assert_eq!(sim.chats(dr), [pair("pt-1", "Better since Monday")]);
    assert_eq!(sim.acked(dr), [a]);
    assert_eq!(sim.acked(pt), [b]);
    let hub_saw = format!("{:?}{:?}{:?}", sim.transcript, sim.audit, sim.store.writes);
    assert!(!hub_saw.contains("rash") && !hub_saw.contains("Monday"));
    // Once both have acknowledged what they read (acks are coalesced on a
    // short timer), the store keeps no body.
    assert_eq!(sim.store.bodies().len(), 4, "two key messages, two chats");
    sim.advance(MINUTE);
    assert!(sim.store.bodies().is_empty(), "{:?}", sim.store.bodies());
}

#[test]
fn a_dropped_link_resumes_and_what_was_sent_meanwhile_arrives_exactly_once() {
    let mut sim = Sim::new();
    let (dr, pt) = admitted_pair(&mut sim);
    chat(&mut sim, dr, "before");
    sim.cut(pt);
    assert!(sim.heard(pt, |e| matches!(
        e,
        Event::Connection(ConnectionState::Reconnecting { .. })
    )));
    // While the patient is away: the provider writes, and so does the
    // patient (queued on the device until the link is back).
    chat(&mut sim, dr, "while away");
    chat(&mut sim, pt, "typed offline");
    assert_eq!(sim.chats(dr), []);
    sim.advance(30_000);
    assert_eq!(sim.resumes, 1, "a resume, not a new hello");
    assert_eq!(sim.hellos, 2);
    assert_eq!(
        sim.chats(pt),
        [pair("dr-ada", "before"), pair("dr-ada", "while away")]
    );
    assert_eq!(sim.chats(dr), [pair("pt-1", "typed offline")]);
    assert_eq!(sim.acked(pt).len(), 1);
    let id = sim.peer(pt).id.clone();
    assert!(sim.visit().record(&id).is_some_and(|r| r.admitted));
}

#[test]
fn a_session_refreshes_its_token_and_outlives_the_first_expiry() {
    let mut sim = Sim::new();
    let (dr, pt) = admitted_pair(&mut sim);
    // Five token lifetimes, in one-minute steps (pings keep the link).
    for _ in 0..(5 * TOKEN_TTL_S as u64 / 60) {
        sim.advance(MINUTE);
    }
    assert!(sim.refreshes >= 8, "{} refreshes", sim.refreshes);
    assert!(sim.peer(pt).tokens >= 5 && sim.peer(dr).tokens >= 5);
    for p in [dr, pt] {
        assert!(sim.peer(p).session.is_connected());
        assert!(!sim.heard(p, |e| matches!(e, Event::Ended(_) | Event::Error(_))));
    }
    assert_eq!(sim.resumes, 0, "no link was lost");
    chat(&mut sim, pt, "still here");
    assert_eq!(sim.chats(dr), [pair("pt-1", "still here")]);
}

#[test]
fn the_sender_key_rotates_after_ten_minutes_and_chat_reads_on() {
    let mut sim = Sim::new();
    let (dr, pt) = admitted_pair(&mut sim);
    chat(&mut sim, dr, "first");
    let epoch = |sim: &mut Sim| sim.peer(dr).session.group().and_then(|g| g.epoch());
    let before = epoch(&mut sim);
    sim.advance(11 * MINUTE);
    chat(&mut sim, dr, "after rotation");
    let after = epoch(&mut sim);
    assert!(after > before, "{before:?} then {after:?}");
    assert_eq!(
        sim.chats(pt),
        [pair("dr-ada", "first"), pair("dr-ada", "after rotation")]
    );
}

#[test]
fn a_removed_patient_ends_and_reads_nothing_written_after() {
    let mut sim = Sim::new();
    let (dr, pt) = admitted_pair(&mut sim);
    chat(&mut sim, dr, "see you next week");
    sim.act(dr, |s, now| {
        s.remove(now, &pid("pt-1"), Some("wrong visit".into()))
    })
    .unwrap();
    assert!(sim.heard(pt, |e| matches!(e, Event::Ended(EndReason::Denied { .. }))));
    assert!(sim.peer(pt).session.is_ended());
    assert!(sim.heard(
        dr,
        |e| matches!(e, Event::Left { participant, .. } if participant.as_str() == "pt-1")
    ));
    chat(&mut sim, dr, "notes for the record");
    sim.advance(MINUTE);
    assert_eq!(sim.chats(pt), [pair("dr-ada", "see you next week")]);
    let id = sim.peer(pt).id.clone();
    assert!(sim.visit().record(&id).is_none(), "the hub forgot them");
}

#[test]
fn a_guest_joins_chats_and_leaves_and_the_visit_chats_on_without_them() {
    let mut sim = Sim::new();
    let (dr, pt) = admitted_pair(&mut sim);
    let guest = sim.join("interp-1", Role::Guest, 3);
    sim.run();
    sim.act(dr, |s, now| s.admit(now, &pid("interp-1")))
        .unwrap();
    chat(&mut sim, guest, "I will interpret");
    assert_eq!(sim.chats(dr), [pair("interp-1", "I will interpret")]);
    assert_eq!(sim.chats(pt), [pair("interp-1", "I will interpret")]);
    sim.act(guest, |s, now| s.leave(now));
    assert!(sim.heard(guest, |e| matches!(e, Event::Ended(EndReason::Left))));
    assert!(sim.heard(
        pt,
        |e| matches!(e, Event::Left { participant, .. } if participant.as_str() == "interp-1")
    ));
    chat(&mut sim, pt, "just us now");
    assert_eq!(sim.chats(dr).last(), Some(&pair("pt-1", "just us now")));
    assert_eq!(sim.chats(guest), []);
}

#[test]
fn ending_the_visit_ends_every_session_and_the_store_forgets_it() {
    let mut sim = Sim::new();
    let (dr, pt) = admitted_pair(&mut sim);
    chat(&mut sim, pt, "thank you");
    sim.act(dr, |s, now| s.end_visit(now)).unwrap();
    for p in [dr, pt] {
        assert!(sim.heard(p, |e| matches!(e, Event::Ended(EndReason::VisitEnded))));
        assert!(sim.peer(p).session.is_ended());
    }
    assert!(sim.visit().is_ended() && sim.store.ended());
    assert!(sim.store.bodies().is_empty());
    // Nobody joins an ended visit.
    let late = sim.join("pt-2", Role::Patient, 4);
    sim.advance(MINUTE);
    assert!(!sim.heard(late, |e| matches!(e, Event::Welcome { .. })));
    assert!(sim.heard(late, |e| matches!(e, Event::Ended(EndReason::VisitEnded))));
}

#[test]
fn a_waiting_patient_is_welcomed_as_waiting_and_admitted_later() {
    let mut sim = Sim::new();
    let pt = sim.join("pt-1", Role::Patient, 2);
    sim.run();
    assert!(sim.heard(pt, |e| matches!(
        e,
        Event::Welcome {
            state: ParticipantState::Waiting,
            ..
        }
    )));
    sim.advance(5 * MINUTE);
    let dr = sim.join("dr-ada", Role::Provider, 1);
    sim.run();
    sim.act(dr, |s, now| s.admit(now, &pid("pt-1"))).unwrap();
    chat(&mut sim, pt, "hello doctor");
    assert_eq!(sim.chats(dr), [pair("pt-1", "hello doctor")]);
}

/// The scenario of the resume test, as a transcript of every frame the hub
/// sent.
fn resume_transcript() -> Vec<(PeerId, String)> {
    let mut sim = Sim::new();
    let (dr, pt) = admitted_pair(&mut sim);
    chat(&mut sim, dr, "one");
    sim.cut(pt);
    chat(&mut sim, dr, "two");
    sim.advance(30_000);
    chat(&mut sim, pt, "three");
    sim.advance(11 * MINUTE);
    sim.transcript
}

#[test]
fn the_same_scenario_gives_the_same_frames_every_run() {
    let a = resume_transcript();
    assert!(a.len() > 20, "{} frames", a.len());
    assert_eq!(a, resume_transcript());
}

//! State-machine tests with virtual time: no sockets, no sleeps.

use super::*;
use crate::sdp::{MediaKind, MediaSection};
use bedside_protocol::time::UnixMs;
use bedside_protocol::{Features, TrackAction, TrackSource};
use serde_json::Value;

const T0: Millis = 1_700_000_000_000;

fn settings() -> VisitSettings {
    VisitSettings {
        idle_timeout_ms: 900_000,
        expiry_notice_ms: 60_000,
        limits: Limits {
            max_message_bytes: 65536,
            idle_timeout_s: 900,
        },
        permission_violations_per_min: 5,
    }
}

fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s).unwrap()
}

fn visit() -> Visit {
    Visit::new(
        VisitId::new("v-1").unwrap(),
        settings(),
        VisitSnapshot::default(),
    )
}

fn join(conn: u64, who: &str, role: Role) -> Input {
    join_asking(conn, who, role, Features::default())
}

/// A join whose hello asked for `features`.
fn join_asking(conn: u64, who: &str, role: Role, features: Features) -> Input {
    Input::Join(Box::new(Join {
        conn: ConnId(conn),
        session: format!("s-{conn}"),
        participant: pid(who),
        name: None,
        role,
        perms: vec![],
        device: None,
        expires_at: UnixMs(T0).to_secs().plus_secs(3600),
        resume_token: format!("r-{conn}"),
        ice_servers: vec![],
        last_seq: None,
        resumed: false,
        features,
        ip: Some("127.0.0.1".into()),
        patient_id: None,
    }))
}

fn msg(conn: u64, m: ClientMessage) -> Input {
    Input::Message {
        conn: ConnId(conn),
        id: Some(MessageId::new("m").unwrap()),
        msg: Box::new(m),
        sdp: None,
    }
}

/// (recipient conn, message JSON) for every Send; closes as ("close", code).
fn sent(outs: &[Output]) -> Vec<(u64, Value)> {
    let mut v = Vec::new();
    for o in outs {
        match o {
            Output::Send { to, msg } => {
                for c in to {
                    v.push((c.0, serde_json::from_str(&msg.to_json()).unwrap()));
                }
            }
            Output::Close { conn, code } => v.push((
                conn.0,
                serde_json::json!({"type": "close", "code": code.code()}),
            )),
            _ => {}
        }
    }
    v
}

fn types_for(outs: &[Output], conn: u64) -> Vec<String> {
    sent(outs)
        .into_iter()
        .filter(|(c, _)| *c == conn)
        .map(|(_, m)| m["type"].as_str().unwrap().to_owned())
        .collect()
}

/// A visit with provider dr (conn 1) and admitted patient pt (conn 2).
fn admitted_pair() -> Visit {
    let mut v = visit();
    v.handle(T0, join(1, "dr", Role::Provider));
    v.handle(T0, join(2, "pt", Role::Patient));
    v.handle(
        T0,
        msg(
            1,
            ClientMessage::Admit {
                participant: pid("pt"),
            },
        ),
    );
    v
}

/// The `presence` messages `conn` got: the provider ids of each.
fn presence_for(outs: &[Output], conn: u64) -> Vec<Vec<String>> {
    sent(outs)
        .into_iter()
        .filter(|(c, m)| *c == conn && m["type"] == "presence")
        .map(|(_, m)| {
            m["providers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

#[test]
fn a_waiting_patient_who_asked_hears_which_providers_are_present() {
    let presence = Features { presence: true };
    let mut v = visit();
    let out = v.handle(T0, join_asking(1, "pt", Role::Patient, presence));
    assert_eq!(
        types_for(&out, 1),
        ["welcome", "presence"],
        "after the welcome"
    );
    assert_eq!(presence_for(&out, 1), [Vec::<String>::new()], "nobody yet");
    // A client that did not ask (PROTOCOL.md alone) never gets one.
    let out = v.handle(T0, join(2, "pt-2", Role::Patient));
    assert_eq!(types_for(&out, 2), ["welcome"]);

    let out = v.handle(T0, join(3, "dr", Role::Provider));
    assert_eq!(presence_for(&out, 1), [vec!["dr".to_owned()]]);
    assert!(presence_for(&out, 2).is_empty());
    // What changes nothing about the providers sends nothing.
    let out = v.handle(T0, msg(1, ClientMessage::Ping));
    assert!(presence_for(&out, 1).is_empty());
    // The provider's connection drops, and comes back.
    let out = v.handle(T0, Input::Closed { conn: ConnId(3) });
    assert_eq!(presence_for(&out, 1), [Vec::<String>::new()]);
    let out = v.handle(T0, join(4, "dr", Role::Provider));
    assert_eq!(presence_for(&out, 1), [vec!["dr".to_owned()]]);
    // Once admitted the patient sees the visit itself: no more presence.
    let out = v.handle(
        T0,
        msg(
            4,
            ClientMessage::Admit {
                participant: pid("pt"),
            },
        ),
    );
    assert!(presence_for(&out, 1).is_empty());
    let out = v.handle(T0, join(5, "dr-2", Role::Provider));
    assert!(presence_for(&out, 1).is_empty());
}

#[test]
fn provider_is_admitted_patient_waits_and_is_listed_in_lobby() {
    let mut v = visit();
    let out = v.handle(T0, join(1, "dr", Role::Provider));
    assert_eq!(types_for(&out, 1), ["welcome", "admitted", "lobby"]);
    let out = v.handle(T0, join(2, "pt", Role::Patient));
    let s = sent(&out);
    assert_eq!(s[0].1["state"], "waiting");
    assert_eq!(
        s[1],
        (
            1,
            serde_json::json!({"type":"lobby","waiting":[{"id":"pt","name":"pt","role":"patient"}]})
        )
    );
}

#[test]
fn admit_sends_admitted_joined_and_empty_lobby_and_persists_first() {
    let mut v = visit();
    v.handle(T0, join(1, "dr", Role::Provider));
    v.handle(T0, join(2, "pt", Role::Patient));
    let out = v.handle(
        T0,
        msg(
            1,
            ClientMessage::Admit {
                participant: pid("pt"),
            },
        ),
    );
    assert!(
        matches!(out[0], Output::Persist(_)),
        "persist precedes the news"
    );
    assert_eq!(types_for(&out, 2), ["admitted"]);
    assert_eq!(types_for(&out, 1), ["joined", "lobby", "ack"]);
    let s = sent(&out);
    let admitted = &s.iter().find(|(c, _)| *c == 2).unwrap().1;
    assert_eq!(admitted["participants"].as_array().unwrap().len(), 2);
}

#[test]
fn waiting_participant_may_not_relay_or_admit() {
    let mut v = visit();
    v.handle(T0, join(1, "dr", Role::Provider));
    v.handle(T0, join(2, "pt", Role::Patient));
    let out = v.handle(
        T0,
        msg(
            2,
            ClientMessage::Ice {
                to: pid("dr"),
                candidate: String::new(),
                sdp_mid: None,
                sdp_mline_index: None,
            },
        ),
    );
    assert_eq!(
        sent(&out),
        vec![(
            2,
            serde_json::json!({"type":"error","code":"forbidden","message":"not admitted yet: only ping, leave, keys and refresh are allowed in the waiting room","re":"m"})
        )]
    );
    let out = v.handle(T0, msg(2, ClientMessage::Ping));
    assert_eq!(types_for(&out, 2), ["pong"]);
}

#[test]
fn patient_cannot_admit_or_end() {
    let mut v = admitted_pair();
    v.handle(T0, join(3, "gu", Role::Guest));
    let out = v.handle(
        T0,
        msg(
            2,
            ClientMessage::Admit {
                participant: pid("gu"),
            },
        ),
    );
    assert_eq!(sent(&out)[0].1["code"], "forbidden");
    let out = v.handle(T0, msg(2, ClientMessage::EndVisit));
    assert_eq!(sent(&out)[0].1["code"], "forbidden");
}

#[test]
fn relay_stamps_from_and_refuses_unknown_targets() {
    let mut v = admitted_pair();
    let out = v.handle(
        T0,
        msg(
            1,
            ClientMessage::Ice {
                to: pid("pt"),
                candidate: "candidate:1".into(),
                sdp_mid: Some("0".into()),
                sdp_mline_index: Some(0),
            },
        ),
    );
    let s = sent(&out);
    assert_eq!(
        s[0],
        (
            2,
            serde_json::json!({"type":"ice","from":"dr","candidate":"candidate:1","sdp_mid":"0","sdp_mline_index":0})
        )
    );
    let out = v.handle(
        T0,
        msg(
            1,
            ClientMessage::Ice {
                to: pid("nobody"),
                candidate: String::new(),
                sdp_mid: None,
                sdp_mline_index: None,
            },
        ),
    );
    assert_eq!(sent(&out)[0].1["code"], "not_found");
}

#[test]
fn newer_connection_replaces_older_with_4011_and_keeps_admission() {
    let mut v = admitted_pair();
    let out = v.handle(T0, join(5, "pt", Role::Patient));
    let s = sent(&out);
    assert_eq!(s[0], (2, serde_json::json!({"type":"close","code":4011})));
    assert_eq!(s[1].1["state"], "admitted");
    // Messages on the old connection are dropped.
    assert!(v.handle(T0, msg(2, ClientMessage::Ping)).is_empty());
}

#[test]
fn closed_connection_leaves_and_comes_back_admitted() {
    let mut v = admitted_pair();
    let out = v.handle(T0, Input::Closed { conn: ConnId(2) });
    assert_eq!(
        sent(&out),
        vec![(
            1,
            serde_json::json!({"type":"left","participant":"pt","reason":"closed"})
        )]
    );
    let out = v.handle(T0, join(7, "pt", Role::Patient));
    assert_eq!(types_for(&out, 7), ["welcome", "admitted"]);
    assert_eq!(types_for(&out, 1), ["joined"]);
}

#[test]
fn a_rejoin_writes_the_record_only_when_it_changed() {
    let saves = |out: &[Output]| {
        out.iter()
            .filter(|o| {
                matches!(
                    o,
                    Output::Persist(crate::store::VisitWrite::SaveParticipant(_))
                )
            })
            .count()
    };
    let mut v = visit();
    assert_eq!(saves(&v.handle(T0, join(1, "pt", Role::Patient))), 1, "new");
    v.handle(T0, Input::Closed { conn: ConnId(1) });
    assert_eq!(
        saves(&v.handle(T0, join(2, "pt", Role::Patient))),
        0,
        "same identity: nothing durable changed"
    );
    let Input::Join(mut renamed) = join(3, "pt", Role::Patient) else {
        unreachable!()
    };
    renamed.name = Some("Pat Doe".into());
    assert_eq!(saves(&v.handle(T0, Input::Join(renamed))), 1, "renamed");
    assert_eq!(
        v.record(&pid("pt")).map(|r| r.name.as_str()),
        Some("Pat Doe")
    );
}

#[test]
fn deny_closes_4003_and_forgets() {
    let mut v = visit();
    v.handle(T0, join(1, "dr", Role::Provider));
    v.handle(T0, join(2, "pt", Role::Patient));
    let out = v.handle(
        T0,
        msg(
            1,
            ClientMessage::Deny {
                participant: pid("pt"),
                reason: Some("wrong visit".into()),
            },
        ),
    );
    assert_eq!(types_for(&out, 2), ["denied", "close"]);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Persist(crate::store::VisitWrite::ForgetParticipant(_))
    )));
    assert!(v.record(&pid("pt")).is_none());
    // A new hello waits again.
    let out = v.handle(T0, join(3, "pt", Role::Patient));
    assert_eq!(sent(&out)[0].1["state"], "waiting");
}

#[test]
fn remove_tells_everyone_left_removed() {
    let mut v = admitted_pair();
    let out = v.handle(
        T0,
        msg(
            1,
            ClientMessage::Remove {
                participant: pid("pt"),
                reason: None,
            },
        ),
    );
    assert_eq!(types_for(&out, 2), ["denied", "close"]);
    assert_eq!(types_for(&out, 1), ["left", "ack"]);
}

#[test]
fn end_visit_ends_everyone_and_refuses_later_joins() {
    let mut v = admitted_pair();
    let out = v.handle(T0, msg(1, ClientMessage::EndVisit));
    assert_eq!(types_for(&out, 1), ["ended", "close"]);
    assert_eq!(types_for(&out, 2), ["ended", "close"]);
    assert!(v.is_ended());
    let out = v.handle(T0, join(9, "pt", Role::Patient));
    assert_eq!(types_for(&out, 9), ["ended", "close"]);
}

#[test]
fn the_next_deadline_is_never_late_and_a_tick_makes_it_exact() {
    let mut v = admitted_pair();
    // Both active since: their idle deadlines moved on, and the visit may
    // wake early for them (it does not look at every member per message).
    v.handle(T0 + 500_000, msg(1, ClientMessage::Ping));
    v.handle(T0 + 600_000, msg(2, ClientMessage::Ping));
    assert_eq!(v.next_deadline(), Some(T0 + 900_000));
    let out = v.handle(T0 + 900_000, Input::Tick);
    assert!(sent(&out).is_empty(), "nobody is idle yet");
    assert_eq!(
        v.next_deadline(),
        Some(T0 + 1_400_000),
        "exact after a tick"
    );
    // A refresh to a sooner expiry brings the deadline forward.
    let exp = T0 + 1_000_000;
    v.handle(
        T0 + 900_000,
        Input::Refreshed {
            conn: ConnId(2),
            expires_at: UnixMs(exp).to_secs(),
        },
    );
    assert_eq!(v.next_deadline(), Some(exp - 60_000));
    let out = v.handle(exp - 60_000, Input::Tick);
    assert_eq!(types_for(&out, 2), ["session_expiring"]);
    // So does a member who joins with a token about to expire.
    let mut j = match join(4, "pt-2", Role::Patient) {
        Input::Join(j) => j,
        _ => unreachable!(),
    };
    j.expires_at = UnixMs(exp - 30_000).to_secs();
    v.handle(exp - 60_000, Input::Join(j));
    assert_eq!(
        v.next_deadline(),
        Some(exp - 90_000),
        "its notice is due at once"
    );
}

#[test]
fn idle_timeout_and_session_expiry_follow_virtual_time() {
    let mut v = admitted_pair();
    // Activity from dr only.
    v.handle(T0 + 800_000, msg(1, ClientMessage::Ping));
    assert_eq!(v.next_deadline(), Some(T0 + 900_000));
    let out = v.handle(T0 + 900_000, Input::Tick);
    assert_eq!(types_for(&out, 2), ["close"]);
    assert_eq!(sent(&out)[0].1["code"], 4008);
    assert_eq!(types_for(&out, 1), ["left"]);
    // dr: expiry at T0+3600s; notice 60 s before.
    let exp = T0 + 3_600_000;
    for t in (T0 + 900_000..exp - 60_000).step_by(600_000) {
        v.handle(t, msg(1, ClientMessage::Ping));
    }
    v.handle(exp - 70_000, msg(1, ClientMessage::Ping));
    let out = v.handle(exp - 60_000, Input::Tick);
    assert_eq!(types_for(&out, 1), ["session_expiring"]);
    let out = v.handle(exp, Input::Tick);
    assert_eq!(sent(&out)[0].1["code"], 4010);
}

#[test]
fn refresh_extends_expiry() {
    let mut v = admitted_pair();
    let exp = T0 + 3_600_000;
    v.handle(
        exp - 1000,
        Input::Refreshed {
            conn: ConnId(1),
            expires_at: UnixMs(exp).to_secs().plus_secs(3600),
        },
    );
    let out = v.handle(exp, Input::Tick);
    let for_dr = types_for(&out, 1);
    assert!(!for_dr.contains(&"close".to_owned()), "{for_dr:?}");
    assert!(
        !for_dr.contains(&"session_expiring".to_owned()),
        "{for_dr:?}"
    );
}

fn summary(kind: MediaKind, track: &str) -> SdpSummary {
    SdpSummary {
        sections: vec![MediaSection {
            kind,
            sending: true,
            track_ids: vec![track.into()],
        }],
    }
}

#[test]
fn screen_share_needs_permission_and_revoke_unpublishes() {
    let mut v = admitted_pair();
    let screen = |v: &mut Visit| {
        v.handle(
            T0,
            msg(
                2,
                ClientMessage::Track {
                    action: TrackAction::Publish,
                    source: Some(TrackSource::Screen),
                    track_id: bedside_protocol::TrackId::new("scr").unwrap(),
                },
            ),
        )
    };
    let out = screen(&mut v);
    assert_eq!(sent(&out)[0].1["code"], "forbidden");
    v.handle(
        T0,
        msg(
            1,
            ClientMessage::Grant {
                participant: pid("pt"),
                permission: Permission::ScreenShare,
            },
        ),
    );
    let out = screen(&mut v);
    assert_eq!(types_for(&out, 1), ["track"]);
    // An offer naming it now passes; one naming an unannounced track fails.
    let ok = Input::Message {
        conn: ConnId(2),
        id: None,
        msg: Box::new(ClientMessage::Offer {
            to: pid("dr"),
            sdp: "x".into(),
        }),
        sdp: Some(summary(MediaKind::Video, "scr")),
    };
    assert_eq!(types_for(&v.handle(T0, ok), 1), ["offer"]);
    let bad = Input::Message {
        conn: ConnId(2),
        id: None,
        msg: Box::new(ClientMessage::Offer {
            to: pid("dr"),
            sdp: "x".into(),
        }),
        sdp: Some(summary(MediaKind::Video, "cam")),
    };
    assert_eq!(sent(&v.handle(T0, bad))[0].1["rule"], "unannounced_track");
    let out = v.handle(
        T0,
        msg(
            1,
            ClientMessage::Revoke {
                participant: pid("pt"),
                permission: Permission::ScreenShare,
            },
        ),
    );
    assert_eq!(types_for(&out, 2), ["track", "permissions"]);
    assert_eq!(types_for(&out, 1), ["track", "permissions", "ack"]);
    assert!(v.record(&pid("pt")).unwrap().tracks.is_empty());
}

#[test]
fn restored_snapshot_readmits_on_join() {
    let mut v = admitted_pair();
    let rec = v.record(&pid("pt")).unwrap().clone();
    let mut v2 = Visit::new(
        VisitId::new("v-1").unwrap(),
        settings(),
        VisitSnapshot {
            ended: false,
            participants: vec![rec],
        },
    );
    let out = v2.handle(T0, join(11, "pt", Role::Patient));
    assert_eq!(sent(&out)[0].1["state"], "admitted");
    drop(v.handle(T0, Input::Shutdown));
}

fn stored(seq: u64, to: &[&str]) -> crate::store::StoredMessage {
    crate::store::StoredMessage {
        seq,
        ts: T0,
        from: pid("dr"),
        to: to.iter().map(|t| pid(t)).collect(),
        kind: bedside_protocol::E2eKind::Chat,
        body: format!("b{seq}"),
    }
}

fn e2e_seqs(outs: &[Output], conn: u64) -> Vec<u64> {
    sent(outs)
        .into_iter()
        .filter(|(c, m)| *c == conn && m["type"] == "e2e")
        .map(|(_, m)| m["seq"].as_u64().unwrap())
        .collect()
}

#[test]
fn e2e_is_appended_then_acked_and_delivered_after_commit() {
    let mut v = admitted_pair();
    let out = v.handle(
        T0,
        msg(
            1,
            ClientMessage::E2e {
                to: None,
                kind: bedside_protocol::E2eKind::Chat,
                body: "aGk=".into(),
            },
        ),
    );
    assert!(
        sent(&out).is_empty(),
        "nothing visible before the store answers"
    );
    let Output::Append { message, .. } = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(message.to, vec![pid("pt")]);
    let out = v.handle(
        T0,
        Input::Committed {
            conn: ConnId(1),
            id: Some(MessageId::new("m").unwrap()),
            result: Ok(Box::new(stored(1, &["pt"]))),
        },
    );
    assert_eq!(types_for(&out, 1), ["ack"]);
    assert_eq!(e2e_seqs(&out, 2), [1]);
    // A failed write is reported to the sender, nothing delivered.
    let out = v.handle(
        T0,
        Input::Committed {
            conn: ConnId(1),
            id: None,
            result: Err(VisitFailure::Store),
        },
    );
    assert_eq!(sent(&out)[0].1["code"], "internal");
    assert!(e2e_seqs(&out, 2).is_empty());
}

#[test]
fn catch_up_holds_live_commits_and_skips_duplicates() {
    let mut v = admitted_pair();
    v.handle(T0, Input::Closed { conn: ConnId(2) });
    // pt resumes having processed seq 1.
    let mut j = match join(9, "pt", Role::Patient) {
        Input::Join(j) => j,
        _ => unreachable!(),
    };
    j.last_seq = Some(1);
    let out = v.handle(T0, Input::Join(j));
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::LoadBacklog { after: 1, .. }))
    );
    // last_seq acknowledges, coalesced and written by the next flush (at
    // the latest when idle/expiry timers fire; here the ack timer is first).
    let due = v.next_deadline().unwrap();
    assert!(due <= T0 + super::e2e::ACK_FLUSH_MS);
    let flushed = v.handle(due, Input::Tick);
    assert!(flushed.iter().any(|o| matches!(
        o,
        Output::Background(crate::store::VisitWrite::Acked { upto: 1, .. })
    )));
    // Commits of seq 3 and 4 arrive before the backlog (2, 3): held back.
    let out = v.handle(
        T0,
        Input::Committed {
            conn: ConnId(1),
            id: None,
            result: Ok(Box::new(stored(3, &["pt"]))),
        },
    );
    assert!(e2e_seqs(&out, 9).is_empty());
    v.handle(
        T0,
        Input::Committed {
            conn: ConnId(1),
            id: None,
            result: Ok(Box::new(stored(4, &["pt"]))),
        },
    );
    let out = v.handle(
        T0,
        Input::Backlog {
            conn: ConnId(9),
            result: Ok(vec![stored(2, &["pt"]), stored(3, &["pt"])]),
        },
    );
    assert_eq!(e2e_seqs(&out, 9), [2, 3, 4], "in order, each once");
    let out = v.handle(
        T0,
        Input::Committed {
            conn: ConnId(1),
            id: None,
            result: Ok(Box::new(stored(5, &["pt"]))),
        },
    );
    assert_eq!(e2e_seqs(&out, 9), [5]);
}

/// An expiry no real token carries (2^62 seconds, i64::MAX) neither
/// overflows the timer arithmetic nor closes the session early: the verifier
/// refuses such tokens, and the visit saturates in case one gets through.
#[test]
fn an_expiry_at_the_end_of_time_neither_overflows_nor_closes_early() {
    for exp in [1_i64 << 62, i64::MAX] {
        let mut v = visit();
        let mut j = match join(1, "dr", Role::Provider) {
            Input::Join(j) => j,
            _ => unreachable!(),
        };
        j.expires_at = UnixSecs(exp);
        let out = v.handle(T0, Input::Join(j));
        assert_eq!(types_for(&out, 1), ["welcome", "admitted", "lobby"]);
        // The next deadline is the idle timeout, not an instant expiry.
        assert_eq!(v.next_deadline(), Some(T0 + 900_000));
        let out = v.handle(T0 + 1_000, Input::Tick);
        assert!(types_for(&out, 1).is_empty(), "{exp}: {out:?}");
        v.handle(
            T0 + 2_000,
            Input::Refreshed {
                conn: ConnId(1),
                expires_at: UnixSecs(exp),
            },
        );
        let out = v.handle(T0 + 3_000, Input::Tick);
        assert!(types_for(&out, 1).is_empty());
    }
}

/// A revoked screen republished as `camera` under the same id used to
/// clear the revocation (the share carried on as a "camera"); relabelling a
/// published screen as camera would have survived the next revoke.
#[test]
fn a_revoked_screen_cannot_come_back_as_a_camera() {
    let mut v = admitted_pair();
    let publish = |v: &mut Visit, source: TrackSource| {
        v.handle(
            T0,
            msg(
                2,
                ClientMessage::Track {
                    action: TrackAction::Publish,
                    source: Some(source),
                    track_id: bedside_protocol::TrackId::new("scr").unwrap(),
                },
            ),
        )
    };
    let grant = |v: &mut Visit, revoke: bool| {
        let (participant, permission) = (pid("pt"), Permission::ScreenShare);
        let m = if revoke {
            ClientMessage::Revoke {
                participant,
                permission,
            }
        } else {
            ClientMessage::Grant {
                participant,
                permission,
            }
        };
        v.handle(T0, msg(1, m))
    };
    grant(&mut v, false);
    assert_eq!(
        types_for(&publish(&mut v, TrackSource::Screen), 1),
        ["track"]
    );
    let out = publish(&mut v, TrackSource::Camera);
    assert_eq!(
        sent(&out)[0].1["code"],
        "conflict",
        "relabelled while published"
    );
    grant(&mut v, true);
    let out = publish(&mut v, TrackSource::Camera);
    assert_eq!(sent(&out)[0].1["code"], "forbidden");
    assert!(v.record(&pid("pt")).unwrap().tracks.is_empty());
    let still = Input::Message {
        conn: ConnId(2),
        id: None,
        msg: Box::new(ClientMessage::Offer {
            to: pid("dr"),
            sdp: "x".into(),
        }),
        sdp: Some(summary(MediaKind::Video, "scr")),
    };
    assert_eq!(
        sent(&v.handle(T0, still))[0].1["rule"],
        "screen_share_not_permitted"
    );
    // Granted again, it may be shared again, as a screen.
    grant(&mut v, false);
    assert_eq!(
        types_for(&publish(&mut v, TrackSource::Screen), 1),
        ["track"]
    );
}

/// The same bundle published again is acknowledged without a write (each
/// write holds up the whole visit, and waiting patients may send `keys`).
#[test]
fn the_same_key_bundle_again_is_not_written_again() {
    let mut v = admitted_pair();
    let b64 = |n: usize| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(vec![1u8; n])
    };
    let raw = format!(
        r#"{{"v":1,"ik":"{}","hello":"{}","sig":"{}"}}"#,
        b64(32),
        b64(50),
        b64(64)
    );
    let keys = || {
        msg(
            2,
            ClientMessage::Keys {
                bundle: bedside_protocol::canonical_bundle(&raw).unwrap(),
            },
        )
    };
    let writes = |out: &[Output]| {
        out.iter()
            .filter(|o| matches!(o, Output::Persist(_)))
            .count()
    };
    let first = v.handle(T0, keys());
    assert_eq!(writes(&first), 1);
    assert_eq!(types_for(&first, 1), ["keys"]);
    let again = v.handle(T0, keys());
    assert_eq!(writes(&again), 0);
    assert_eq!(types_for(&again, 2), ["ack"]);
    assert!(types_for(&again, 1).is_empty());
}

#[test]
fn an_operator_removes_a_waiting_or_admitted_participant_and_ends_the_visit_as_themselves() {
    use crate::audit::Actor;
    use crate::visit::OperatorOp;
    let ops = std::sync::Arc::new(Actor {
        user_id: Some("ops-ann".into()),
        role: Some("admin".into()),
        ..Actor::default()
    });
    let mut v = admitted_pair();
    let out = v.handle(
        T0,
        Input::Operator {
            op: OperatorOp::Remove(pid("pt")),
            by: ops.clone(),
        },
    );
    let audit: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Audit(e, _) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(audit[0].action, crate::audit::Action::Remove);
    assert_eq!(audit[0].actor.user_id.as_deref(), Some("ops-ann"));
    assert_eq!(audit[0].actor.visit_id.as_deref(), Some("v-1"));
    assert_eq!(audit[0].target.as_deref(), Some("pt"));
    assert_eq!(types_for(&out, 2), ["denied", "close"]);
    assert_eq!(types_for(&out, 1), ["left"]);

    let out = v.handle(
        T0,
        Input::Operator {
            op: OperatorOp::EndVisit,
            by: ops,
        },
    );
    assert!(out.iter().any(|o| matches!(o, Output::Audit(e, _) if e.action == crate::audit::Action::VisitEnd && e.actor.user_id.as_deref() == Some("ops-ann"))));
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Close {
            code: CloseCode::VisitEnded,
            ..
        }
    )));
}

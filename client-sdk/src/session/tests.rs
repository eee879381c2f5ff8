//! The session core with virtual time: no sockets, no sleeping.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;
use rand::SeedableRng;

const T0: u64 = 1_800_000_000_000;

fn session() -> Session {
    let rng = rand::rngs::StdRng::seed_from_u64(3);
    Session::new(
        SessionConfig::default(),
        Identity::from_secret_bytes(&[5; 32]),
        Pins::default(),
        Box::new(rng),
    )
}

fn drain(s: &mut Session) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn sent(outs: &[Output]) -> Vec<serde_json::Value> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send(t) => serde_json::from_str(t).ok(),
            _ => None,
        })
        .collect()
}

fn welcome(state: &str, expires_s: u64) -> String {
    serde_json::json!({"type":"welcome","session":"s-1","visit":"v-1",
        "participant":{"id":"pt-1","name":"Pat","role":"patient","perms":[]},
        "state":state,"resume_token":"rt-1","expires_at":expires_s,"ice_servers":[],
        "limits":{"max_message_bytes":65536,"idle_timeout_s":900}})
    .to_string()
}

/// Started, connected, welcomed as a waiting patient.
fn welcomed() -> Session {
    let mut s = session();
    s.start(T0, "join-token".into());
    s.on_connected(T0);
    s.on_frame(T0, &welcome("waiting", T0 / 1000 + 3600));
    drain(&mut s);
    s
}

#[test]
fn hello_then_resume_with_last_seq_after_a_drop() {
    let mut s = session();
    s.start(T0, "join-token".into());
    assert!(matches!(drain(&mut s)[0], Output::Connect));
    s.on_connected(T0);
    let hello = sent(&drain(&mut s));
    assert_eq!(hello[0]["type"], "hello");
    assert_eq!(hello[0]["token"], "join-token");
    s.on_frame(T0, &welcome("waiting", T0 / 1000 + 3600));
    let outs = drain(&mut s);
    // The key bundle is published right after welcome, in the waiting room.
    assert!(sent(&outs).iter().any(|m| m["type"] == "keys"));
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::Event(Event::Waiting)))
    );

    s.on_frame(
        T0,
        r#"{"type":"e2e","from":"dr","seq":7,"ts":1,"kind":"receipt","to":["pt-1"],"body":""}"#,
    );
    s.on_closed(T0 + 10, Some(1006));
    let outs = drain(&mut s);
    let delay = outs
        .iter()
        .find_map(|o| match o {
            Output::Event(Event::Connection(ConnectionState::Reconnecting {
                retry_in_ms, ..
            })) => Some(*retry_in_ms),
            _ => None,
        })
        .unwrap();
    assert!((125..=250).contains(&delay), "first back-off {delay}");
    assert_eq!(s.poll_timeout(), Some(T0 + 10 + delay));
    s.on_timeout(T0 + 10 + delay);
    assert!(matches!(drain(&mut s)[0], Output::Connect));
    s.on_connected(T0 + 300);
    let resume = sent(&drain(&mut s));
    assert_eq!(resume[0]["type"], "resume");
    assert_eq!(resume[0]["resume_token"], "rt-1");
    assert_eq!(resume[0]["last_seq"], 7);
}

#[test]
fn a_refused_resume_falls_back_to_hello_with_a_fresh_token() {
    let mut s = welcomed();
    s.on_closed(T0, Some(1001));
    let d = s.poll_timeout().unwrap();
    s.on_timeout(d);
    s.on_connected(d);
    assert_eq!(sent(&drain(&mut s))[0]["type"], "resume");
    s.on_closed(d, Some(4001));
    assert!(matches!(
        drain(&mut s)[..],
        [Output::Connect, Output::Event(_)]
    ));
    s.on_connected(d);
    assert!(
        drain(&mut s)
            .iter()
            .any(|o| matches!(o, Output::NeedToken(TokenPurpose::Join)))
    );
    s.on_token(d, "fresh".into());
    let hello = sent(&drain(&mut s));
    assert_eq!(hello[0]["type"], "hello");
    assert_eq!(hello[0]["token"], "fresh");
    // A fresh token refused as well: the session ends, no loop.
    s.on_closed(d, Some(4001));
    s.on_connected(d);
    drain(&mut s);
    s.on_token(d, "also-bad".into());
    s.on_closed(d, Some(4001));
    assert!(s.is_ended());
}

#[test]
fn final_closes_end_the_session() {
    for (code, reason) in [
        (4003, EndReason::Denied { reason: None }),
        (4012, EndReason::VisitEnded),
        (4011, EndReason::Replaced),
        (4008, EndReason::Idle),
    ] {
        let mut s = welcomed();
        s.on_closed(T0, Some(code));
        assert!(s.is_ended(), "{code}");
        let outs = drain(&mut s);
        assert!(
            outs.iter()
                .any(|o| matches!(o, Output::Event(Event::Ended(r)) if *r == reason)),
            "{code}"
        );
        assert_eq!(s.poll_timeout(), None);
    }
}

#[test]
fn refresh_before_expiry_and_ping_while_in_a_visit() {
    let mut s = welcomed();
    // Ping at a third of the idle timeout since the last message sent
    // (housekeeping wake-ups in between send nothing).
    let ping_at = loop {
        let at = s.poll_timeout().unwrap();
        s.on_timeout(at);
        if sent(&drain(&mut s)).iter().any(|m| m["type"] == "ping") {
            break at;
        }
        assert!(at < T0 + 300_000, "no ping by {at}");
    };
    assert_eq!(ping_at, T0 + 300_000);
    // Two minutes before expiry the app is asked for a token, then refresh.
    let refresh_at = T0 + 3_600_000 - 120_000;
    let mut now = ping_at;
    let mut asked = false;
    while now < refresh_at + 1 {
        now = s.poll_timeout().unwrap().max(now);
        s.on_timeout(now);
        if drain(&mut s)
            .iter()
            .any(|o| matches!(o, Output::NeedToken(TokenPurpose::Refresh)))
        {
            asked = true;
            break;
        }
    }
    assert!(asked && now >= refresh_at);
    s.on_token(now, "next".into());
    let m = sent(&drain(&mut s));
    assert_eq!(m[0]["type"], "refresh");
    assert_eq!(m[0]["token"], "next");
}

#[test]
fn unacknowledged_e2e_messages_are_sent_again_after_a_reconnect() {
    let mut s = welcomed();
    s.on_frame(
        T0,
        r#"{"type":"admitted","participants":[{"id":"pt-1","name":"P","role":"patient","perms":[],"tracks":[],"keys":null},{"id":"dr","name":"D","role":"provider","perms":[],"tracks":[],"keys":null}]}"#,
    );
    drain(&mut s);
    let chat_id = s.send_chat(T0, "hello").unwrap();
    let first: Vec<_> = sent(&drain(&mut s))
        .into_iter()
        .filter(|m| m["type"] == "e2e")
        .collect();
    assert_eq!(first.len(), 1);
    s.on_closed(T0, Some(1006));
    let d = s.poll_timeout().unwrap();
    s.on_timeout(d);
    s.on_connected(d);
    drain(&mut s);
    s.on_frame(d, &welcome("admitted", T0 / 1000 + 3600));
    let again: Vec<_> = sent(&drain(&mut s))
        .into_iter()
        .filter(|m| m["type"] == "e2e")
        .collect();
    assert_eq!(
        again, first,
        "the same bytes, so receivers drop a duplicate"
    );
    // Once acknowledged it is not sent again.
    let id = again[0]["id"].as_str().unwrap().to_owned();
    s.on_frame(d, &format!(r#"{{"type":"ack","re":"{id}","seq":3}}"#));
    let acked: Vec<String> = drain(&mut s)
        .into_iter()
        .filter_map(|o| match o {
            Output::Event(Event::ChatAcked { message_id }) => Some(message_id),
            _ => None,
        })
        .collect();
    assert_eq!(acked, [chat_id], "the app hears the ack under its id");
    s.on_frame(d, &format!(r#"{{"type":"ack","re":"{id}","seq":3}}"#));
    assert!(
        drain(&mut s).is_empty(),
        "a repeated ack is not a second event"
    );
    s.on_closed(d, Some(1006));
    let d2 = s.poll_timeout().unwrap();
    s.on_timeout(d2);
    s.on_connected(d2);
    s.on_frame(d2, &welcome("admitted", T0 / 1000 + 3600));
    assert!(!sent(&drain(&mut s)).iter().any(|m| m["type"] == "e2e"));
}

#[test]
fn a_key_refused_as_not_found_drops_that_member_from_the_roster() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut bundle = |who: &str, seed: u8| {
        let mut g = Group::new(
            Identity::from_secret_bytes(&[seed; 32]),
            Pins::default(),
            "v-1",
            who,
            "",
        );
        let _ = g.begin(T0, &mut rng);
        g.bundle_json().unwrap()
    };
    let (dr, gu) = (bundle("dr", 1), bundle("gu", 3));
    let mut s = welcomed();
    let participant = |id: &str, keys: &str| {
        format!(
            r#"{{"id":"{id}","name":"{id}","role":"patient","perms":[],"tracks":[],"keys":{keys}}}"#
        )
    };
    s.on_frame(
        T0,
        &format!(
            r#"{{"type":"admitted","participants":[{},{},{}]}}"#,
            participant("pt-1", "null"),
            participant("dr", &dr),
            participant("gu", &gu)
        ),
    );
    let keys: Vec<serde_json::Value> = sent(&drain(&mut s))
        .into_iter()
        .filter(|m| m["type"] == "e2e" && m["kind"] == "key")
        .collect();
    let to_gu = keys
        .iter()
        .find(|m| m["to"][0] == "gu")
        .expect("a key for gu");
    assert!(keys.iter().any(|m| m["to"][0] == "dr"));
    // gu left while this device was away: the hub refuses the key.
    s.on_frame(
        T0,
        &format!(
            r#"{{"type":"error","code":"not_found","message":"no such participant","re":{}}}"#,
            to_gu["id"]
        ),
    );
    let outs = sent(&drain(&mut s));
    assert!(
        outs.iter().any(|m| m["type"] == "keys"),
        "a new epoch is published"
    );
    let again: Vec<&serde_json::Value> = outs.iter().filter(|m| m["kind"] == "key").collect();
    assert!(
        !again.is_empty() && again.iter().all(|m| m["to"][0] == "dr"),
        "{again:?}"
    );
    assert!(!s.group().unwrap().roster().any(|m| m == "gu"));
}

fn admitted(ids: &[&str]) -> String {
    let ps: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            serde_json::json!({"id":id,"name":"N","role":"patient","perms":[],"tracks":[],"keys":null})
        })
        .collect();
    serde_json::json!({"type":"admitted","participants":ps}).to_string()
}

fn signals_to(outs: &[Output]) -> Vec<(String, String)> {
    sent(outs)
        .into_iter()
        .filter(|m| ["offer", "answer", "ice"].contains(&m["type"].as_str().unwrap_or("")))
        .map(|m| {
            (
                m["type"].as_str().unwrap().to_owned(),
                m["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// After a hub restart the first to resume is alone in `admitted`: what it
/// sends its peer waits until the peer is back (the hub refuses signals to
/// anyone not present), in order, and is dropped if the peer leaves.
#[test]
fn signals_wait_for_a_member_who_is_away_and_go_when_they_are_back() {
    let mut s = welcomed();
    s.on_frame(T0, &admitted(&["pt-1", "dr"]));
    drain(&mut s);
    let dr = ParticipantId::new("dr").unwrap();
    s.signal(T0, &dr, Signal::Offer("v=0 first".into()))
        .unwrap();
    assert_eq!(signals_to(&drain(&mut s)), [("offer".into(), "dr".into())]);

    // The hub dies; an ICE restart offer and a candidate are made meanwhile.
    s.on_closed(T0, Some(1006));
    s.signal(T0, &dr, Signal::Offer("v=0 restart".into()))
        .unwrap();
    let ice = Signal::Ice {
        candidate: "candidate:1 1 udp 1 10.0.0.1 5000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
    };
    s.signal(T0, &dr, ice.clone()).unwrap();
    let d = s.poll_timeout().unwrap();
    s.on_timeout(d);
    s.on_connected(d);
    s.on_frame(d, &welcome("admitted", T0 / 1000 + 3600));
    assert!(
        signals_to(&drain(&mut s)).is_empty(),
        "not before the roster"
    );
    s.on_frame(d, &admitted(&["pt-1"]));
    assert!(signals_to(&drain(&mut s)).is_empty(), "dr is not back yet");
    assert!(s.is_member(&dr), "away, still a member");
    s.signal(d, &dr, ice.clone()).unwrap();
    assert!(signals_to(&drain(&mut s)).is_empty());

    let joined = r#"{"type":"joined","participant":{"id":"dr","name":"N","role":"provider","perms":[],"tracks":[],"keys":null}}"#;
    s.on_frame(d, joined);
    assert_eq!(
        signals_to(&drain(&mut s)),
        [
            ("offer".into(), "dr".into()),
            ("ice".into(), "dr".into()),
            ("ice".into(), "dr".into())
        ],
        "in the order they were made"
    );
    s.signal(d, &dr, ice.clone()).unwrap();
    assert_eq!(signals_to(&drain(&mut s)), [("ice".into(), "dr".into())]);

    // Away again, then gone for good: what waited for them is dropped.
    s.on_frame(d, r#"{"type":"left","participant":"dr","reason":"closed"}"#);
    s.signal(d, &dr, ice).unwrap();
    s.on_frame(d, r#"{"type":"left","participant":"dr","reason":"leave"}"#);
    assert!(!s.is_member(&dr));
    s.on_frame(d, joined);
    assert!(signals_to(&drain(&mut s)).is_empty());
}

#[test]
fn a_screen_is_announced_only_with_the_permission() {
    let mut s = session();
    s.start(T0, "join-token".into());
    s.on_connected(T0);
    s.on_frame(T0, &welcome("waiting", T0 / 1000 + 3600));
    s.on_frame(
        T0,
        r#"{"type":"admitted","participants":[{"id":"pt-1","name":"P","role":"patient","perms":[],"tracks":[],"keys":null}]}"#,
    );
    drain(&mut s);
    assert!(matches!(
        s.publish_track(T0, TrackSource::Screen, "screen-1"),
        Err(SdkError::NotPermitted(Permission::ScreenShare))
    ));
    assert!(sent(&drain(&mut s)).is_empty(), "nothing reached the hub");
    s.publish_track(T0, TrackSource::Camera, "cam-1").unwrap();
    s.on_frame(
        T0,
        r#"{"type":"permissions","participant":"pt-1","perms":["screen_share"]}"#,
    );
    drain(&mut s);
    s.publish_track(T0, TrackSource::Screen, "screen-1")
        .unwrap();
    let out = sent(&drain(&mut s));
    assert_eq!(out.last().unwrap()["track_id"], "screen-1");
}

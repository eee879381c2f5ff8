#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Sections 4, 5 and 8 over real WebSockets: waiting room, relay rules,
//! visit isolation, presence, upkeep.

mod common;
use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn waiting_room_admit_and_presence() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, w) = hub.join(&env.token("v-1", "provider", "dr")).await;
    assert_eq!(w["state"], "admitted");
    assert_eq!(w["participant"]["perms"], json!(["screen_share", "admit"]));
    assert_eq!(dr.recv().await["type"], "admitted");
    assert_eq!(dr.recv().await, json!({"type":"lobby","waiting":[]}));

    let (mut pt, w) = hub.join(&env.token("v-1", "patient", "pt")).await;
    assert_eq!(w["state"], "waiting");
    assert_eq!(
        dr.recv().await,
        json!({"type":"lobby","waiting":[{"id":"pt","name":"pt","role":"patient"}]})
    );

    dr.send(json!({"type":"admit","id":"a1","participant":"pt"}))
        .await;
    let admitted = pt.recv().await;
    assert_eq!(admitted["type"], "admitted");
    let ids: Vec<&str> = admitted["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["dr", "pt"]);
    assert_eq!(dr.recv().await["type"], "joined");
    assert_eq!(dr.recv().await, json!({"type":"lobby","waiting":[]}));
    assert_eq!(dr.recv().await, json!({"type":"ack","re":"a1"}));

    // Presence: a closed connection is `left` with reason closed.
    drop(pt);
    assert_eq!(
        dr.recv_type("left").await,
        json!({"type":"left","participant":"pt","reason":"closed"})
    );
}

#[tokio::test]
async fn waiting_participant_may_only_ping_leave_keys_refresh() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, _) = hub.join(&env.token("v-1", "provider", "dr")).await;
    let (mut pt, _) = hub.join(&env.token("v-1", "patient", "pt")).await;
    pt.send(json!({"type":"offer","id":"o1","to":"dr","sdp":OFFER}))
        .await;
    let e = pt.recv().await;
    assert_eq!(
        (e["code"].as_str(), e["re"].as_str()),
        (Some("forbidden"), Some("o1"))
    );
    pt.send(json!({"type":"ice","to":"dr","candidate":""}))
        .await;
    assert_eq!(pt.recv().await["code"], "forbidden");
    pt.send(json!({"type":"ping","id":"p"})).await;
    assert_eq!(pt.recv().await, json!({"type":"pong","re":"p"}));
    pt.send(json!({"type":"keys","id":"k","bundle":key_bundle()}))
        .await;
    assert_eq!(pt.recv().await, json!({"type":"ack","re":"k"}));
    // The provider received nothing relayed from the waiting patient.
    let got = dr.drain(Duration::from_millis(300)).await;
    assert!(
        got.iter()
            .all(|m| m["type"] == "admitted" || m["type"] == "lobby"),
        "{got:?}"
    );
    // Admission delivers the bundle sent while waiting.
    dr.send(json!({"type":"admit","participant":"pt"})).await;
    let joined = dr.recv_type("joined").await;
    assert_eq!(joined["participant"]["keys"], key_bundle());
}

#[tokio::test]
async fn deny_closes_4003_and_remove_tells_everyone() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, mut pt) = admitted_pair(&env, &hub, "v-1").await;
    let (mut gu, _) = hub.join(&env.token("v-1", "guest", "gu")).await;
    dr.recv_type("lobby").await;
    dr.send(json!({"type":"deny","participant":"gu","reason":"not expected"}))
        .await;
    assert_eq!(
        gu.recv().await,
        json!({"type":"denied","reason":"not expected"})
    );
    assert_eq!(gu.closed().await, 4003);

    // A patient may not remove or admit.
    pt.send(json!({"type":"remove","participant":"dr"})).await;
    assert_eq!(pt.recv().await["code"], "forbidden");

    dr.send(json!({"type":"remove","participant":"pt"})).await;
    assert_eq!(pt.recv_type("denied").await["type"], "denied");
    assert_eq!(pt.closed().await, 4003);
    assert_eq!(
        dr.recv_type("left").await,
        json!({"type":"left","participant":"pt","reason":"removed"})
    );
}

#[tokio::test]
async fn relay_between_admitted_only_with_hub_stamped_from() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, mut pt) = admitted_pair(&env, &hub, "v-1").await;
    dr.send(json!({"type":"offer","to":"pt","from":"mallory","sdp":OFFER}))
        .await;
    let o = pt.recv().await;
    assert_eq!(
        (o["type"].as_str(), o["from"].as_str()),
        (Some("offer"), Some("dr"))
    );
    assert_eq!(o["sdp"], OFFER);
    pt.send(json!({"type":"answer","to":"dr","from":"mallory","sdp":OFFER}))
        .await;
    assert_eq!(dr.recv_type("answer").await["from"], "pt");
    pt.send(json!({"type":"ice","to":"dr","candidate":"candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host","sdp_mid":"0","sdp_mline_index":0})).await;
    let ice = dr.recv_type("ice").await;
    assert_eq!(
        ice,
        json!({"type":"ice","from":"pt","candidate":"candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host","sdp_mid":"0","sdp_mline_index":0})
    );
    pt.send(json!({"type":"ice","to":"dr","candidate":""}))
        .await;
    assert_eq!(dr.recv_type("ice").await["candidate"], "");
    pt.send(json!({"type":"ice","id":"x","to":"ghost","candidate":""}))
        .await;
    let e = pt.recv().await;
    assert_eq!(
        (e["code"].as_str(), e["re"].as_str()),
        (Some("not_found"), Some("x"))
    );
}

#[tokio::test]
async fn invalid_sdp_is_refused_with_the_rule_and_not_relayed() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, mut pt) = admitted_pair(&env, &hub, "v-1").await;
    let cases = [
        (
            OFFER.replace("UDP/TLS/RTP/SAVPF 111", "RTP/AVP 111"),
            "rtp_profile",
        ),
        (
            OFFER.replace("a=fingerprint:sha-256", "a=x-fp:sha-256"),
            "fingerprint",
        ),
        (
            OFFER.replace("a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n", ""),
            "ice_credentials",
        ),
        ("v=0 garbage".to_owned(), "parse"),
    ];
    for (i, (sdp, rule)) in cases.iter().enumerate() {
        dr.send(json!({"type":"offer","id":format!("o{i}"),"to":"pt","sdp":sdp}))
            .await;
        let e = dr.recv().await;
        assert_eq!(e["code"], "invalid_sdp", "{rule}");
        assert_eq!(e["rule"], *rule);
        assert_eq!(e["re"], format!("o{i}"));
    }
    assert!(pt.drain(Duration::from_millis(300)).await.is_empty());
}

#[tokio::test]
async fn visits_are_isolated() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut a_dr, mut a_pt) = admitted_pair(&env, &hub, "visit-a").await;
    let (mut b_dr, _b_pt) = admitted_pair(&env, &hub, "visit-b").await;
    // Same participant ids in both visits: addressing reaches only one's own visit.
    let (mut b_x, _) = hub.join(&env.token("visit-b", "provider", "dr-b2")).await;
    b_dr.recv_type("joined").await;
    a_dr.send(json!({"type":"ice","id":"i","to":"dr-b2","candidate":""}))
        .await;
    assert_eq!(a_dr.recv().await["code"], "not_found");
    a_dr.send(json!({"type":"offer","to":"pt","sdp":OFFER}))
        .await;
    assert_eq!(a_pt.recv().await["type"], "offer");
    // Nobody in visit B saw anything of visit A: no offer, no presence.
    let seen = b_x.drain(Duration::from_millis(300)).await;
    assert!(
        seen.iter()
            .all(|m| m["type"] == "admitted" || m["type"] == "lobby"),
        "{seen:?}"
    );
    assert!(b_dr.drain(Duration::from_millis(300)).await.is_empty());
    // A's provider cannot admit into B (B's waiting patient is invisible to A).
    let (_b_wait, _) = hub.join(&env.token("visit-b", "patient", "waiter")).await;
    a_dr.send(json!({"type":"admit","participant":"waiter"}))
        .await;
    assert_eq!(a_dr.recv().await["code"], "not_found");
}

#[tokio::test]
async fn protocol_errors_keep_the_connection_until_the_20th() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut pt, _) = hub.join(&env.token("v-1", "patient", "pt")).await;
    pt.send_text("{not json").await;
    assert_eq!(pt.recv().await["code"], "bad_request");
    pt.ws
        .send(tokio_tungstenite::tungstenite::Message::Binary(
            vec![1, 2, 3].into(),
        ))
        .await
        .unwrap();
    assert_eq!(pt.recv().await["code"], "bad_request");
    pt.send(json!({"type":"teleport","id":"t"})).await;
    let e = pt.recv().await;
    assert_eq!(
        (e["code"].as_str(), e["re"].as_str()),
        (Some("bad_request"), Some("t"))
    );
    pt.send(json!({"id":"no-type"})).await;
    assert_eq!(pt.recv().await["code"], "bad_request");
    // Still up.
    pt.send(json!({"type":"ping"})).await;
    assert_eq!(pt.recv().await["type"], "pong");
    for _ in 4..19 {
        pt.send_text("[]").await;
        assert_eq!(pt.recv().await["code"], "bad_request");
    }
    pt.send_text("[]").await; // the 20th
    assert_eq!(pt.closed().await, 4000);
}

use futures_util::SinkExt;

#[tokio::test]
async fn oversized_frame_closes_4009() {
    let env = Env::new();
    let hub = env.start_with(|c| c.session.max_message_bytes = 4096).await;
    let (mut pt, w) = hub.join(&env.token("v-1", "patient", "pt")).await;
    assert_eq!(w["limits"]["max_message_bytes"], 4096);
    let big = format!("{{\"type\":\"ping\",\"pad\":\"{}\"}}", "x".repeat(5000));
    pt.send_text(&big).await;
    assert_eq!(pt.closed().await, 4009);
}

#[tokio::test]
async fn second_connection_replaces_the_first_with_4011() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, mut pt) = admitted_pair(&env, &hub, "v-1").await;
    // Same participant from another device: the older connection is closed.
    let mut c = hub.connect().await;
    c.send(json!({"type":"hello","token":env.token("v-1","patient","pt"),"device":"tablet"}))
        .await;
    let w = c.recv_type("welcome").await;
    assert_eq!(w["state"], "admitted", "a reconnect stays admitted");
    assert_eq!(pt.closed().await, 4011);
    // And relays now reach the new connection.
    dr.send(json!({"type":"ice","to":"pt","candidate":""}))
        .await;
    assert_eq!(c.recv_type("ice").await["from"], "dr");
}

#[tokio::test]
async fn leave_closes_1000_and_end_visit_closes_everyone_4012() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, mut pt) = admitted_pair(&env, &hub, "v-1").await;
    let (mut gu, _) = hub.join(&env.token("v-1", "guest", "gu")).await;
    dr.send(json!({"type":"admit","participant":"gu"})).await;
    gu.recv_type("admitted").await;
    gu.send(json!({"type":"leave"})).await;
    assert_eq!(gu.closed().await, 1000);
    assert_eq!(dr.recv_type("left").await["reason"], "leave");
    assert_eq!(pt.recv_type("left").await["reason"], "leave");
    pt.send(json!({"type":"end_visit"})).await;
    assert_eq!(pt.recv().await["code"], "forbidden");
    dr.send(json!({"type":"end_visit"})).await;
    assert_eq!(pt.recv_type("ended").await, json!({"type":"ended"}));
    assert_eq!(pt.closed().await, 4012);
    assert_eq!(dr.closed().await, 4012);
    // The visit stays ended.
    let mut late = hub.connect().await;
    late.send(json!({"type":"hello","token":env.token("v-1","patient","late")}))
        .await;
    assert_eq!(late.closed().await, 4012);
}

#[tokio::test]
async fn idle_timeout_closes_4008_and_expiry_warns_then_closes_4010() {
    let env = Env::new();
    let (hub, clock) = env.start_on_clock(|c| c.session.idle_timeout_s = 600).await;
    let (mut idle, w) = hub.join(&env.token("v-1", "provider", "dr")).await;
    assert_eq!(w["limits"]["idle_timeout_s"], 600);
    let (mut busy, _) = hub.join(&env.token("v-1b", "provider", "dr-b")).await;
    clock.advance(Duration::from_secs(300));
    busy.send(serde_json::json!({"type":"ping"})).await;
    assert_eq!(busy.recv_type("pong").await["type"], "pong");
    clock.advance(Duration::from_secs(301));
    assert_eq!(idle.closed().await, 4008, "silent for 601 s");
    busy.send(serde_json::json!({"type":"ping"})).await;
    assert_eq!(
        busy.recv_type("pong").await["type"],
        "pong",
        "active 301 s ago"
    );

    let (hub, clock) = env.start_on_clock(|_| {}).await;
    let mut c = env.claims("v-2", "patient", "pt");
    c["exp"] = serde_json::json!(now() + 600);
    let (mut pt, w) = hub.join(&env.sign(&c)).await;
    clock.advance(Duration::from_secs(541));
    let warn = pt.recv_type("session_expiring").await;
    assert_eq!(warn["expires_at"], w["expires_at"]);
    clock.advance(Duration::from_secs(60));
    assert_eq!(pt.closed().await, 4010);
}

#[tokio::test]
async fn grant_revoke_and_screen_share_rules() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, mut pt) = admitted_pair(&env, &hub, "v-1").await;
    pt.send(
        json!({"type":"track","id":"t1","action":"publish","source":"screen","track_id":"scr-1"}),
    )
    .await;
    assert_eq!(pt.recv().await["code"], "forbidden");
    pt.send(json!({"type":"request","permission":"screen_share"}))
        .await;
    assert_eq!(
        dr.recv_type("permission_requested").await,
        json!({"type":"permission_requested","participant":"pt","permission":"screen_share"})
    );
    pt.send(json!({"type":"grant","participant":"pt","permission":"screen_share"}))
        .await;
    assert_eq!(pt.recv_type("error").await["code"], "forbidden");
    dr.send(json!({"type":"grant","participant":"pt","permission":"admit"}))
        .await;
    assert_eq!(dr.recv_type("error").await["code"], "forbidden");
    dr.send(json!({"type":"grant","participant":"pt","permission":"screen_share"}))
        .await;
    assert_eq!(
        pt.recv_type("permissions").await,
        json!({"type":"permissions","participant":"pt","perms":["screen_share"]})
    );
    pt.send(json!({"type":"track","action":"publish","source":"screen","track_id":"scr-1"}))
        .await;
    assert_eq!(
        dr.recv_type("track").await,
        json!({"type":"track","action":"publish","from":"pt","source":"screen","track_id":"scr-1"})
    );
    dr.send(json!({"type":"revoke","participant":"pt","permission":"screen_share"}))
        .await;
    let unpublish = json!({"type":"track","action":"unpublish","from":"pt","track_id":"scr-1"});
    assert_eq!(pt.recv_type("track").await, unpublish);
    assert_eq!(dr.recv_type("track").await, unpublish);
    assert_eq!(pt.recv_type("permissions").await["perms"], json!([]));
}

#[tokio::test]
async fn a_client_that_does_not_read_is_dropped_not_buffered() {
    let env = Env::new();
    let hub = env.start_with(|c| c.limits.messages_per_s = 100_000).await;
    let (mut dr, pt) = admitted_pair(&env, &hub, "v-1").await;
    // pt stops reading. dr relays ~40 MB of offers at it (a real SDP padded
    // with an attribute the hub leaves to the endpoints): more than the
    // socket buffers and the bounded queue hold.
    let big = OFFER.replacen(
        "t=0 0\r\n",
        &format!("t=0 0\r\na=x-pad:{}\r\n", "c".repeat(50_000)),
        1,
    );
    let mut dropped = false;
    for _ in 0..800 {
        dr.send(json!({"type":"offer","to":"pt","sdp":big})).await;
    }
    for _ in 0..100 {
        dr.send(json!({"type":"ping"})).await;
        let msgs = dr.drain(Duration::from_millis(100)).await;
        if msgs
            .iter()
            .any(|m| m["type"] == "left" && m["participant"] == "pt")
        {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the slow consumer was closed and the visit told");
    let body = hub.hub().metrics.render();
    assert!(
        body.contains("bedside_closes_total{reason=\"slow_consumer\"} 1"),
        "{body}"
    );
    drop(pt);
}

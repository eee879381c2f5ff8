#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Hardening regressions, over real sockets: bytes and claims that used to
//! break the hub or another participant's client are refused, and the
//! others in the visit carry on.

mod common;
use common::*;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

async fn send_bad_utf8(c: &mut Client) {
    let bytes: &[u8] = b"{\"type\":\"ping\",\"id\":\"\xff\xfe\"}";
    c.ws.send(Message::Frame(Frame::message(
        bytes.to_vec(),
        OpCode::Data(Data::Text),
        true,
    )))
    .await
    .unwrap();
}

/// RFC 6455 section 8.1: invalid UTF-8 in a text frame fails the
/// connection with 1007, before and after the hello.
#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    let env = Env::new();
    let hub = env.start().await;
    let mut c = hub.connect().await;
    send_bad_utf8(&mut c).await;
    assert_eq!(c.closed().await, 1007);

    let (mut dr, mut pt) = admitted_pair(&env, &hub, "v-1").await;
    send_bad_utf8(&mut pt).await;
    assert_eq!(pt.closed().await, 1007);
    assert_eq!(dr.recv_type("left").await["participant"], "pt");
    dr.send(json!({"type":"ping","id":"p"})).await;
    assert_eq!(dr.recv_type("pong").await["re"], "p");
}

/// `exp = 2^62` (a backend writing nanoseconds) used to panic the visit
/// task in debug builds (killing everyone's session in the visit) and, in
/// release, close the session at once with 4010. Now the token is refused
/// with 4001 and the visit carries on.
#[tokio::test]
async fn a_token_no_issuer_means_is_refused_and_the_visit_carries_on() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, _w) = hub.join(&env.token("v-1", "provider", "dr")).await;
    for (claim, value) in [
        ("exp", json!(1_i64 << 62)),
        ("exp", json!(i64::MAX)),
        ("nbf", json!(i64::MIN)),
        ("iat", json!(-1)),
        ("name", json!("Pat \u{202E}rotivorP")),
        ("name", json!("Pat\u{0}")),
    ] {
        let mut c = env.claims("v-1", "patient", "pt");
        c[claim] = value;
        let mut pt = hub.connect().await;
        pt.send(json!({"type":"hello","token":env.sign(&c)})).await;
        assert_eq!(pt.closed().await, 4001, "{claim}");
    }
    dr.send(json!({"type":"ping","id":"p"})).await;
    assert_eq!(dr.recv_type("pong").await["re"], "p");
    // A good patient still joins and is listed.
    let (_pt, w) = hub.join(&env.token("v-1", "patient", "pt")).await;
    assert_eq!(w["state"], "waiting");
    assert_eq!(dr.recv_type("lobby").await["waiting"][0]["id"], "pt");
}

/// A token whose header lists critical extensions (RFC 7515 4.1.11), or
/// repeats a claim, is refused whatever the algorithm.
#[tokio::test]
async fn crit_and_repeated_claims_close_4001() {
    let env = Env::new();
    let hub = env.start().await;
    let sign = |input: &[u8]| {
        ed25519_dalek::Signer::sign(env.key.signing_key(), input)
            .to_bytes()
            .to_vec()
    };
    let c = env.claims("v-1", "patient", "pt");
    for header in [
        json!({"alg":"EdDSA","kid":KID,"crit":["exp"]}),
        json!({"alg":"EdDSA","kid":KID,"crit":[]}),
    ] {
        let token = raw_token(&header, &c, sign);
        let mut pt = hub.connect().await;
        pt.send(json!({"type":"hello","token":token})).await;
        assert_eq!(pt.closed().await, 4001, "{header}");
    }
}

/// A key bundle nested 1,300 levels deep used to be stored and relayed in
/// `admitted` and `joined`, where serde_json (the native SDK) and other
/// parsers give up: one participant made the visit unjoinable for the
/// others. Only the documented shape is accepted now, and what others
/// receive parses with serde_json's default limits.
#[tokio::test]
async fn a_key_bundle_of_another_shape_is_refused_and_others_can_still_join() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, mut pt) = admitted_pair(&env, &hub, "v-1").await;
    let deep = format!("{}1{}", "[".repeat(1300), "]".repeat(1300));
    let bundle_text = format!(r#"{{"v":1,"x":{deep}}}"#);
    pt.send_text(&format!(
        r#"{{"type":"keys","id":"k1","bundle":{bundle_text}}}"#
    ))
    .await;
    let e = pt.recv_type("error").await;
    assert_eq!(
        (e["code"].as_str(), e["re"].as_str()),
        (Some("bad_request"), Some("k1"))
    );
    let mut b = key_bundle();
    b["extra"] = json!({"nested": true});
    pt.send(json!({"type":"keys","id":"k2","bundle":b})).await;
    assert_eq!(pt.recv_type("error").await["re"], "k2");
    // A repeated member: two readers could take different values.
    let good = key_bundle();
    let twice = format!(
        r#"{{"v":1,"ik":{},"ik":{},"hello":{},"sig":{}}}"#,
        good["ik"],
        json!(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            [9u8; 32]
        )),
        good["hello"],
        good["sig"]
    );
    pt.send_text(&format!(r#"{{"type":"keys","id":"k3","bundle":{twice}}}"#))
        .await;
    assert_eq!(pt.recv_type("error").await["re"], "k3");

    // The documented shape is relayed, spaced or not, as the hub writes it.
    let spaced = good.to_string().replace(',', " , ");
    pt.send_text(&format!(r#"{{"type":"keys","id":"k4","bundle":{spaced}}}"#))
        .await;
    assert_eq!(pt.recv_type("ack").await["re"], "k4");
    assert_eq!(dr.recv_type("keys").await["bundle"], good);

    // A newcomer's `admitted` lists pt's bundle and parses as the SDK parses.
    let (mut gu, _) = hub.join(&env.token("v-1", "guest", "gu")).await;
    dr.send(json!({"type":"admit","participant":"gu"})).await;
    let raw = loop {
        match tokio::time::timeout(
            std::time::Duration::from_secs(10),
            futures_util::StreamExt::next(&mut gu.ws),
        )
        .await
        {
            Ok(Some(Ok(Message::Text(t)))) if t.contains("\"admitted\"") => break t,
            Ok(Some(Ok(_))) => continue,
            other => panic!("{other:?}"),
        }
    };
    let admitted = bedside_protocol::ServerMessage::from_json(&raw).unwrap();
    let bedside_protocol::ServerMessage::Admitted { participants } = admitted else {
        panic!("not admitted");
    };
    let p = participants.iter().find(|p| p.id.as_str() == "pt").unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(p.keys.as_ref().unwrap().get()).unwrap(),
        good
    );
}

/// Unknown resume tokens used to be refused without counting against the
/// per-IP limit, each with a durable audit record: an unlimited stream of
/// them could fill the audit volume. They count like bad tokens now.
#[tokio::test]
async fn unknown_resume_tokens_trip_the_per_ip_limit() {
    let env = Env::new();
    let hub = env.start_with(|c| c.limits.auth_failures_per_min = 3).await;
    let mut codes = Vec::new();
    for i in 0..5 {
        let mut c = hub.connect().await;
        c.send(json!({"type":"resume","resume_token":format!("nope-{i}"),"last_seq":0}))
            .await;
        codes.push(c.closed().await);
    }
    assert_eq!(codes[0], 4001);
    assert_eq!(codes[3..], [4029, 4029], "{codes:?}");
}

/// WebSocket pings used to bypass `messages_per_s` (each costs a pong and a
/// write): a sustained ping flood now ends with 4029 like any other flood.
#[tokio::test]
async fn a_ping_flood_is_rate_limited_like_messages() {
    let env = Env::new();
    let hub = env.start_with(|c| c.limits.messages_per_s = 20).await;
    let (_dr, mut pt) = admitted_pair(&env, &hub, "v-1").await;
    // 2,000 a second (100x the rate) for at most 8 s: the limiter closes
    // after 5 s over 4x the rate.
    let started = std::time::Instant::now();
    let mut sent = 0;
    while started.elapsed() < std::time::Duration::from_secs(8) {
        if pt.ws.send(Message::Ping(vec![1u8].into())).await.is_err() {
            break;
        }
        sent += 1;
        if sent % 20 == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    assert_eq!(pt.closed().await, 4029, "after {sent} pings");
}

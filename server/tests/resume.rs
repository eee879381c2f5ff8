#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Section 3: resume with single-use tokens restores participant, state and
//! permissions, also after the hub process was killed with SIGKILL.

mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn resume_restores_state_once_per_token() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, _) = hub.join(&env.token("v-1", "provider", "dr")).await;
    let mut pt = hub.connect().await;
    pt.send(json!({"type":"hello","token":env.token("v-1","patient","pt")}))
        .await;
    let w1 = pt.recv_type("welcome").await;
    dr.recv_type("lobby").await;
    dr.recv_type("lobby").await;
    dr.send(json!({"type":"admit","participant":"pt"})).await;
    pt.recv_type("admitted").await;
    dr.send(json!({"type":"grant","participant":"pt","permission":"screen_share"}))
        .await;
    pt.recv_type("permissions").await;
    drop(pt);
    dr.recv_type("left").await;

    let token = w1["resume_token"].as_str().unwrap();
    let (mut pt, w2) = resume(&hub.url(), token).await.unwrap();
    assert_eq!(w2["state"], "admitted");
    assert_eq!(w2["participant"]["perms"], json!(["screen_share"]));
    assert_eq!(
        w2["session"].as_str().map(|s| s.starts_with("s-")),
        Some(true)
    );
    assert_ne!(
        w2["resume_token"], w1["resume_token"],
        "a fresh token each time"
    );
    pt.recv_type("admitted").await;
    assert_eq!(dr.recv_type("joined").await["participant"]["id"], "pt");
    // The used token is gone.
    assert_eq!(resume(&hub.url(), token).await.err(), Some(4001));
    assert_eq!(resume(&hub.url(), "made-up").await.err(), Some(4001));
    // The fresh one works (and replaces the live connection with 4011).
    let (_pt2, w3) = resume(&hub.url(), w2["resume_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(w3["state"], "admitted");
    assert_eq!(pt.closed().await, 4011);
}

#[tokio::test]
async fn a_denied_participant_cannot_resume() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, _) = hub.join(&env.token("v-1", "provider", "dr")).await;
    let (mut pt, w) = hub.join(&env.token("v-1", "patient", "pt")).await;
    dr.send(json!({"type":"deny","participant":"pt"})).await;
    assert_eq!(pt.closed().await, 4003);
    assert_eq!(
        resume(&hub.url(), w["resume_token"].as_str().unwrap())
            .await
            .err(),
        Some(4001)
    );
}

#[tokio::test]
async fn everyone_resumes_after_sigkill_and_restart() {
    let env = Env::new();
    let p = Process::start(&env, "");
    let token_dr = env.token("v-1", "provider", "dr");
    let mut dr = Client::connect(&p.url).await;
    let w_dr = dr.hello(&token_dr).await;
    let mut pt = Client::connect(&p.url).await;
    let w_pt = pt.hello(&env.token("v-1", "patient", "pt")).await;
    let mut gu = Client::connect(&p.url).await;
    let w_gu = gu.hello(&env.token("v-1", "guest", "gu")).await;
    dr.send(json!({"type":"admit","participant":"pt"})).await;
    pt.recv_type("admitted").await;
    dr.send(json!({"type":"grant","id":"g","participant":"pt","permission":"screen_share"}))
        .await;
    dr.recv_type("ack").await;

    p.kill9();
    let p = Process::start(&env, "");

    let (mut dr, w) = resume(&p.url, w_dr["resume_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(w["state"], "admitted");
    let (mut pt, w) = resume(&p.url, w_pt["resume_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(w["state"], "admitted", "admission survived");
    assert_eq!(
        w["participant"]["perms"],
        json!(["screen_share"]),
        "permissions survived"
    );
    let (_gu, w) = resume(&p.url, w_gu["resume_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(w["state"], "waiting", "the guest is still waiting");
    // The visit works again: relay between the resumed participants.
    pt.recv_type("admitted").await;
    dr.recv_type("joined").await;
    dr.send(json!({"type":"offer","to":"pt","sdp":OFFER})).await;
    assert_eq!(pt.recv_type("offer").await["from"], "dr");
    // The join token stays spent across the crash.
    let mut again = Client::connect(&p.url).await;
    again.send(json!({"type":"hello","token":token_dr})).await;
    assert_eq!(again.closed().await, 4001);
    // Resume tokens stay single-use across the crash.
    assert_eq!(
        resume(&p.url, w_pt["resume_token"].as_str().unwrap())
            .await
            .err(),
        Some(4001)
    );
}

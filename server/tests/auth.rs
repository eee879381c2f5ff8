#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Section 2 and 3: every token failure closes with 4001; good tokens of each
//! algorithm are accepted; a jti is accepted once, also across a restart.

mod common;
use common::*;
use hmac::{Hmac, Mac};
use serde_json::json;

async fn refused(hub: &Hub, token: &str) -> u16 {
    let mut c = hub.connect().await;
    c.send(json!({"type":"hello","token":token})).await;
    c.closed().await
}

fn hs256(secret: &[u8]) -> impl Fn(&[u8]) -> Vec<u8> + '_ {
    move |input| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(input);
        mac.finalize().into_bytes().to_vec()
    }
}

#[tokio::test]
async fn every_token_failure_closes_4001() {
    let env = Env::new();
    // More failures than the per-IP limit in this one test: raise it.
    let hub = env
        .start_with(|c| c.limits.auth_failures_per_min = 100)
        .await;
    let c = env.claims("v-1", "patient", "pt");

    let other = bedside_token::PrivateKey::generate(KID);
    assert_eq!(
        refused(&hub, &other.sign(&c).unwrap()).await,
        4001,
        "bad signature"
    );

    let none = raw_token(&json!({"alg":"none","kid":KID,"typ":"JWT"}), &c, |_| {
        Vec::new()
    });
    assert_eq!(refused(&hub, &none).await, 4001, "alg none");

    // Algorithm confusion: HS256 "signed" with the Ed25519 public key.
    let public = env.key.signing_key().verifying_key().to_bytes();
    let confused = raw_token(&json!({"alg":"HS256","kid":KID}), &c, hs256(&public));
    assert_eq!(
        refused(&hub, &confused).await,
        4001,
        "HS256 with the public key"
    );
    let x = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, public);
    let confused = raw_token(&json!({"alg":"HS256","kid":KID}), &c, hs256(x.as_bytes()));
    assert_eq!(refused(&hub, &confused).await, 4001, "HS256 with the JWK x");

    let unknown = bedside_token::PrivateKey::generate("nope");
    assert_eq!(
        refused(&hub, &unknown.sign(&c).unwrap()).await,
        4001,
        "unknown kid"
    );

    let mut bad = c.clone();
    bad["aud"] = json!("someone-else");
    assert_eq!(refused(&hub, &env.sign(&bad)).await, 4001, "wrong aud");
    let mut bad = env.claims("v-1", "patient", "pt");
    bad["iss"] = json!("evil");
    assert_eq!(refused(&hub, &env.sign(&bad)).await, 4001, "wrong iss");
    let mut bad = env.claims("v-1", "patient", "pt");
    bad["exp"] = json!(now() - 31);
    assert_eq!(refused(&hub, &env.sign(&bad)).await, 4001, "expired");
    let mut bad = env.claims("v-1", "patient", "pt");
    bad["nbf"] = json!(now() + 120);
    assert_eq!(refused(&hub, &env.sign(&bad)).await, 4001, "not yet valid");
    let mut bad = env.claims("v-1", "patient", "pt");
    bad.as_object_mut().unwrap().remove("jti");
    assert_eq!(refused(&hub, &env.sign(&bad)).await, 4001, "no jti");
    let mut bad = env.claims("v-1", "provider", "dr");
    bad["amr"] = json!(["pwd"]);
    assert_eq!(
        refused(&hub, &env.sign(&bad)).await,
        4001,
        "provider without MFA"
    );
    let mut bad = env.claims("v-1", "provider", "dr");
    bad.as_object_mut().unwrap().remove("amr");
    assert_eq!(
        refused(&hub, &env.sign(&bad)).await,
        4001,
        "provider without amr"
    );
    assert_eq!(refused(&hub, "not.a.token").await, 4001, "garbage");

    // And a good one still works on the same hub.
    let (_c, w) = hub.join(&env.sign(&c)).await;
    assert_eq!(w["participant"]["id"], "pt");
}

#[tokio::test]
async fn clock_skew_of_30s_is_tolerated() {
    let env = Env::new();
    let hub = env.start().await;
    let mut c = env.claims("v-1", "patient", "pt");
    c["exp"] = json!(now() - 10);
    c["iat"] = json!(now() + 10);
    let (_c, w) = hub.join(&env.sign(&c)).await;
    assert_eq!(w["type"], "welcome");
}

#[tokio::test]
async fn replayed_jti_is_refused_also_after_restart() {
    let env = Env::new();
    let mut hub = env.start().await;
    let token = env.token("v-1", "patient", "pt");
    let (c, _) = hub.join(&token).await;
    drop(c);
    assert_eq!(refused(&hub, &token).await, 4001, "replay");
    hub.stop().await;
    let hub = env.start().await;
    assert_eq!(refused(&hub, &token).await, 4001, "replay after restart");
}

#[tokio::test]
async fn es256_and_hs256_keys_verify_by_kid() {
    let env = Env::new();
    // An ES256 key (P-256) and an HS256 secret beside the Ed25519 key.
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let point = kp.public_key_raw().to_vec(); // 0x04 || x || y
    let b64 =
        |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b);
    let secret = [7u8; 32];
    let set = json!({"keys": [
        serde_json::from_str::<serde_json::Value>(&env.key.public_jwks()).unwrap()["keys"][0],
        {"kty":"EC","crv":"P-256","kid":"ec-1","x":b64(&point[1..33]),"y":b64(&point[33..])},
        {"kty":"oct","kid":"hs-1","alg":"HS256","k":b64(&secret)},
    ]});
    std::fs::write(&env.jwks, set.to_string()).unwrap();
    let hub = env.start().await;

    let c = env.claims("v-1", "patient", "p-ec");
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some("ec-1".into());
    let ec = jsonwebtoken::encode(
        &h,
        &c,
        &jsonwebtoken::EncodingKey::from_ec_der(&kp.serialize_der()),
    )
    .unwrap();
    let (_a, w) = hub.join(&ec).await;
    assert_eq!(w["participant"]["id"], "p-ec");

    let c = env.claims("v-1", "patient", "p-hs");
    let hs = raw_token(&json!({"alg":"HS256","kid":"hs-1"}), &c, hs256(&secret));
    let (_b, w) = hub.join(&hs).await;
    assert_eq!(w["participant"]["id"], "p-hs");

    // The EC key refuses an EdDSA token naming it, and vice versa.
    let mut c = env.claims("v-1", "patient", "p-x");
    c["jti"] = json!("x1");
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some(KID.into());
    let wrong = jsonwebtoken::encode(
        &h,
        &c,
        &jsonwebtoken::EncodingKey::from_ec_der(&kp.serialize_der()),
    )
    .unwrap();
    assert_eq!(refused(&hub, &wrong).await, 4001);
}

#[tokio::test]
async fn first_message_must_come_in_time_and_be_hello_or_resume() {
    let env = Env::new();
    let hub = env.start_with(|c| c.session.hello_timeout_s = 1).await;
    let mut c = hub.connect().await;
    assert_eq!(c.closed().await, 4000, "silence");
    let mut c = hub.connect().await;
    c.send(json!({"type":"ping"})).await;
    assert_eq!(c.closed().await, 4000, "ping first");
    let mut c = hub.connect().await;
    c.send_text("{nope").await;
    assert_eq!(c.closed().await, 4000, "garbage first");
}

#[tokio::test]
async fn refresh_needs_a_matching_fresh_token() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut pt, w) = hub.join(&env.token("v-1", "patient", "pt")).await;
    let mut c = env.claims("v-1", "patient", "pt");
    c["exp"] = json!(now() + 7200);
    pt.send(json!({"type":"refresh","id":"r1","token":env.sign(&c)}))
        .await;
    let ack = pt.recv_type("ack").await;
    assert_eq!(ack["re"], "r1");
    assert_eq!(ack["expires_at"], c["exp"]);
    assert!(ack["expires_at"].as_i64() > w["expires_at"].as_i64());
    // Someone else's token does not extend this session.
    pt.send(json!({"type":"refresh","id":"r2","token":env.token("v-1", "patient", "other")}))
        .await;
    let e = pt.recv_type("error").await;
    assert_eq!(
        (e["code"].as_str(), e["re"].as_str()),
        (Some("unauthorized"), Some("r2"))
    );
    // A replayed refresh token is refused too.
    pt.send(json!({"type":"refresh","id":"r3","token":env.sign(&c)}))
        .await;
    assert_eq!(pt.recv_type("error").await["code"], "unauthorized");
}

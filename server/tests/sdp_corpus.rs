#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The SDP rules against a corpus of real SDPs (server/tests/data/sdp,
//! see manifest.json for where each came from): every one passes the static
//! rules, is relayed once its tracks are announced, and is refused with the
//! right rule when they are not or when it is tampered with.

mod common;
use bedside_server::sdp;
use common::*;
use serde_json::{Value, json};
use std::path::Path;

fn corpus() -> Vec<(String, String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sdp");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut out: Vec<(String, String, Value)> = manifest
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, meta)| {
            (
                name.clone(),
                std::fs::read_to_string(dir.join(name)).unwrap(),
                meta.clone(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 8, "corpus present");
    out
}

#[test]
fn every_real_sdp_passes_the_static_rules() {
    for (name, text, meta) in corpus() {
        let summary =
            sdp::inspect(&text).unwrap_or_else(|v| panic!("{name}: {} ({})", v.detail, v.rule));
        let announced: Vec<String> = meta["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| sdp::normalize_track_id(t["track_id"].as_str().unwrap()))
            .collect();
        let named: Vec<&String> = summary
            .sections
            .iter()
            .filter(|s| s.sending)
            .flat_map(|s| s.track_ids.iter())
            .collect();
        for id in &named {
            assert!(
                announced.contains(id),
                "{name}: msid {id} not in the manifest"
            );
        }
    }
}

#[test]
fn tampered_real_sdps_break_the_named_rule() {
    for (name, text, _) in corpus() {
        let rule = |t: &str| sdp::inspect(t).err().map(|v| v.rule);
        if text.contains("UDP/TLS/RTP/SAVPF") {
            assert_eq!(
                rule(&text.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP")),
                Some("rtp_profile"),
                "{name}"
            );
        }
        if text.contains("UDP/DTLS/SCTP") {
            assert_eq!(
                rule(&text.replace("UDP/DTLS/SCTP", "DTLS/SCTP")),
                Some("data_profile"),
                "{name}"
            );
        }
        let no_fp: String = text
            .lines()
            .filter(|l| !l.starts_with("a=fingerprint"))
            .map(|l| format!("{l}\r\n"))
            .collect();
        assert_eq!(rule(&no_fp), Some("fingerprint"), "{name}");
        let no_pwd: String = text
            .lines()
            .filter(|l| !l.starts_with("a=ice-pwd"))
            .map(|l| format!("{l}\r\n"))
            .collect();
        assert_eq!(rule(&no_pwd), Some("ice_credentials"), "{name}");
    }
}

#[tokio::test]
async fn real_offers_relay_only_with_announced_tracks_and_permission() {
    let env = Env::new();
    let hub = env.start().await;
    let (mut dr, mut pt) = admitted_pair(&env, &hub, "v-1").await;
    for (name, text, meta) in corpus() {
        let tracks = meta["tracks"].as_array().unwrap();
        let sender_is_dr = name.contains("-offer");
        let (from, to, to_id, kind) = if sender_is_dr {
            (&mut dr, &mut pt, "pt", "offer")
        } else {
            (&mut pt, &mut dr, "dr", "answer")
        };
        if !tracks.is_empty() {
            // Before announcing: refused, not relayed.
            from.send(json!({"type":kind,"id":"early","to":to_id,"sdp":text}))
                .await;
            let e = from.recv_type("error").await;
            assert_eq!(
                (e["rule"].as_str(), e["re"].as_str()),
                (Some("unannounced_track"), Some("early")),
                "{name}"
            );
        }
        for t in tracks {
            from.send(json!({"type":"track","id":"t","action":"publish","source":t["source"],"track_id":t["track_id"]})).await;
            let ack = loop {
                let m = from.recv().await;
                if m["type"] != "track" {
                    break m; // the peer's announcements are not the answer
                }
            };
            assert_eq!(ack["type"], "ack", "{name}: {ack}");
        }
        from.send(json!({"type":kind,"to":to_id,"sdp":text})).await;
        let got = to.recv_type(kind).await;
        assert_eq!(
            got["sdp"].as_str(),
            Some(text.as_str()),
            "{name} relayed unchanged"
        );
        for t in tracks {
            from.send(json!({"type":"track","action":"unpublish","track_id":t["track_id"]}))
                .await;
        }
    }
    // A patient sending the real screen-share offer: the screen track cannot
    // even be announced without the permission, so the offer is refused.
    let (_, text, meta) = corpus()
        .into_iter()
        .find(|(n, _, _)| n.contains("screen-share-offer"))
        .unwrap();
    for t in meta["tracks"].as_array().unwrap() {
        pt.send(json!({"type":"track","action":"publish","source":t["source"],"track_id":t["track_id"]})).await;
        if t["source"] == "screen" {
            assert_eq!(pt.recv_type("error").await["code"], "forbidden");
        }
    }
    pt.send(json!({"type":"offer","to":"dr","sdp":text})).await;
    assert_eq!(pt.recv_type("error").await["rule"], "unannounced_track");

    // Granted, the screen track is announced and the offer relayed; after a
    // revoke, an offer still sending that screen breaks the permission rule.
    dr.send(json!({"type":"grant","participant":"pt","permission":"screen_share"}))
        .await;
    pt.recv_type("permissions").await;
    let screen = meta["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["source"] == "screen")
        .unwrap()
        .clone();
    pt.send(json!({"type":"track","id":"scr","action":"publish","source":"screen","track_id":screen["track_id"]})).await;
    pt.recv_type("ack").await;
    pt.send(json!({"type":"offer","to":"dr","sdp":text})).await;
    assert_eq!(dr.recv_type("offer").await["from"], "pt");
    dr.send(json!({"type":"revoke","participant":"pt","permission":"screen_share"}))
        .await;
    assert_eq!(pt.recv_type("track").await["action"], "unpublish");
    pt.send(json!({"type":"offer","id":"after-revoke","to":"dr","sdp":text}))
        .await;
    let e = pt.recv_type("error").await;
    assert_eq!(
        (e["rule"].as_str(), e["re"].as_str()),
        (Some("screen_share_not_permitted"), Some("after-revoke"))
    );
}

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
            .map(|t| sdp::normalize_track_id(t["track_id"].as_str().unwrap()).to_owned())
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

/// The hot-path validator against the webrtc-sdp reference: identical on
/// every real SDP, and on thousands of damaged variants of them, whenever
/// the reference accepts, the fast one accepts with the same summary (except
/// control characters and conflicting directions, which only the fast one
/// refuses).
#[test]
fn the_fast_validator_agrees_with_the_webrtc_sdp_reference() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5d9);
    let mut checked = 0;
    let mut both_refuse = 0;
    for (name, text, _) in corpus() {
        assert_eq!(
            sdp::inspect(&text),
            sdp::reference::inspect(&text),
            "{name}"
        );
        let summary = sdp::inspect(&text).unwrap();
        sdp::browsers::covered_by_every_browser(&summary, &text)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let lines: Vec<&str> = text.split("\r\n").collect();
        for _ in 0..300 {
            let mut l: Vec<String> = lines.iter().map(|s| (*s).to_owned()).collect();
            let i = rng.gen_range(0..l.len());
            match rng.gen_range(0..6) {
                0 => {
                    l.remove(i);
                }
                1 => {
                    let dup = l[i].clone();
                    l.insert(rng.gen_range(0..l.len()), dup);
                }
                2 => {
                    let j = rng.gen_range(0..l.len());
                    l.swap(i, j);
                }
                3 => {
                    // Damage one character.
                    let mut b = l[i].clone().into_bytes();
                    if !b.is_empty() {
                        let k = rng.gen_range(0..b.len());
                        b[k] = b" =:/\x01aZ9-"[rng.gen_range(0..9)];
                    }
                    l[i] = String::from_utf8_lossy(&b).into_owned();
                }
                4 => l[i] = l[i].to_uppercase(),
                _ => l.truncate(i.max(1)),
            }
            let damaged = l.join("\r\n");
            let (fast, reference) = (sdp::inspect(&damaged), sdp::reference::inspect(&damaged));
            // The promise: whatever the hub accepts, no browser reads as
            // sending a track the hub did not check.
            if let Ok(summary) = &fast {
                sdp::browsers::covered_by_every_browser(summary, &damaged)
                    .unwrap_or_else(|e| panic!("{name}: {e}\n{damaged}"));
            }
            // The hub is stricter on purpose (control characters, odd
            // spellings of the attributes it checks, repeated directions,
            // mids and setups); when both accept, they read the same.
            match (&fast, &reference) {
                (Ok(f), Ok(r)) => assert_eq!(f, r, "{name}: both accept:\n{damaged}"),
                (Err(_), Err(_)) => both_refuse += 1,
                _ => {}
            }
            checked += 1;
        }
    }
    assert!(
        checked > 5000 && both_refuse > 500,
        "{checked} checked, {both_refuse} refused by both"
    );
}

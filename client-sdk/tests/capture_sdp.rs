//! Captures webrtc-rs SDPs (as the SDK produces them in a real visit) for
//! the hub's SDP corpus in `server/tests/data/sdp/`. Run on purpose only:
//! `cargo test -p bedside-sdk --test capture_sdp -- --ignored`.
//! It records what the patient and provider receive through a pass-through
//! stand-in, then writes the files and their manifest entries.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bedside_protocol::{Permission, TrackSource};
use bedside_sdk::session::{Event, MediaEvent};
use common::{Hub, client, pid, stand_in};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes the corpus; run deliberately"]
async fn capture_sdp_corpus() {
    let hub = Hub::start().await;
    let seen: Arc<Mutex<Vec<Value>>> = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let watch: Arc<dyn Fn(String) -> String + Send + Sync> = Arc::new(move |t: String| {
        let v: Value = serde_json::from_str(&t).unwrap();
        if matches!(v["type"].as_str(), Some("offer" | "answer" | "track")) {
            log.lock().unwrap().push(v);
        }
        t
    });
    let via = stand_in(hub.url(), watch).await;
    let (dr, mut dr_ev) = client(&via, &hub, "cap", "provider", "dr-ada").await;
    dr_ev
        .until("admitted", |e| {
            matches!(e, Event::Admitted { .. }).then_some(())
        })
        .await;
    let (pt, mut pt_ev) = client(&via, &hub, "cap", "patient", "pt-1").await;
    pt_ev
        .until("waiting", |e| matches!(e, Event::Waiting).then_some(()))
        .await;
    dr.admit(&pid("pt-1")).await.unwrap();
    pt_ev
        .until("admitted", |e| {
            matches!(e, Event::Admitted { .. }).then_some(())
        })
        .await;
    let open = |label: &'static str| {
        move |e: &Event| match e {
            Event::Media(MediaEvent::DataChannelOpen { label: l, .. }) if l == label => Some(()),
            _ => None,
        }
    };

    // 1. Data only.
    dr.open_data_channel(&pid("pt-1"), "notes").await.unwrap();
    pt_ev.until("notes", open("notes")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let data_only = seen.lock().unwrap().drain(..).collect::<Vec<_>>();

    // 2. Camera and microphone from a fresh pair of peers (a second visit).
    let (dr2, mut dr2_ev) = client(&via, &hub, "cap2", "provider", "dr-bo").await;
    dr2_ev
        .until("admitted", |e| {
            matches!(e, Event::Admitted { .. }).then_some(())
        })
        .await;
    let (pt2, mut pt2_ev) = client(&via, &hub, "cap2", "patient", "pt-2").await;
    pt2_ev
        .until("waiting", |e| matches!(e, Event::Waiting).then_some(()))
        .await;
    dr2.admit(&pid("pt-2")).await.unwrap();
    pt2_ev
        .until("admitted", |e| {
            matches!(e, Event::Admitted { .. }).then_some(())
        })
        .await;
    let _mic = dr2.add_track(TrackSource::Microphone).await.unwrap();
    let _cam = dr2.add_track(TrackSource::Camera).await.unwrap();
    dr2.open_data_channel(&pid("pt-2"), "notes").await.unwrap();
    pt2_ev.until("notes", open("notes")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let camera = seen.lock().unwrap().drain(..).collect::<Vec<_>>();

    // 3. The patient shares the screen once granted (a renegotiation).
    dr2.grant(&pid("pt-2"), Permission::ScreenShare)
        .await
        .unwrap();
    pt2_ev
        .until("the grant", |e| match e {
            Event::Permissions { perms, .. } => {
                perms.contains(&Permission::ScreenShare).then_some(())
            }
            _ => None,
        })
        .await;
    let _screen = pt2.add_track(TrackSource::Screen).await.unwrap();
    // (on_track fires with the first packet; the SDPs are what we want.)
    dr2_ev
        .until("screen offer", |e| {
            matches!(
                e,
                Event::Signal {
                    signal: bedside_sdk::session::Signal::Offer(_),
                    ..
                }
            )
            .then_some(())
        })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let screen = seen.lock().unwrap().drain(..).collect::<Vec<_>>();
    let _ = (pt, dr);

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/tests/data/sdp");
    let manifest_path = dir.join("manifest.json");
    let mut manifest: serde_json::Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let source = "webrtc-rs 0.21.1 via bedside-sdk (native), captured in a real visit by client-sdk/tests/capture_sdp.rs";
    // Announcements hold for the rest of a visit: the tracks a sender has
    // published by the end of a case are those its SDP may name.
    let all: Vec<Value> = data_only
        .iter()
        .chain(&camera)
        .chain(&screen)
        .cloned()
        .collect();
    for (case, msgs) in [
        ("data-only", &data_only),
        ("camera-mic", &camera),
        ("screen-share", &screen),
    ] {
        let tracks_of = |who: &str| -> Vec<Value> {
            all.iter()
                .filter(|m| m["type"] == "track" && m["from"] == who && m["action"] == "publish")
                .map(|m| json!({"track_id": m["track_id"], "source": m["source"]}))
                .collect()
        };
        for kind in ["offer", "answer"] {
            // The last of each kind is the settled negotiation of this case.
            let Some(m) = msgs.iter().rev().find(|m| m["type"] == kind) else {
                panic!("no {kind} captured for {case}");
            };
            let from = m["from"].as_str().unwrap();
            let sdp = m["sdp"].as_str().unwrap();
            // The manifest lists the tracks this SDP names (in a=msid).
            let named: Vec<Value> = tracks_of(from)
                .into_iter()
                .filter(|t| sdp.contains(t["track_id"].as_str().unwrap_or("-")))
                .collect();
            let name = format!("webrtc-rs-{case}-{kind}.sdp");
            std::fs::write(dir.join(&name), m["sdp"].as_str().unwrap()).unwrap();
            manifest.insert(name, json!({"source": source, "tracks": named}));
        }
    }
    std::fs::write(
        &manifest_path,
        serde_json::to_string_pretty(&Value::Object(manifest)).unwrap() + "\n",
    )
    .unwrap();
}

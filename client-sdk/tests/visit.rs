//! Two (or three) SDK clients in a real visit through the real hub: waiting
//! room, admission, a webrtc-rs peer connection over loopback, data channel,
//! encrypted chat, glare, a hub restart, and a hub stand-in that tampers.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bedside_protocol::{Permission, TrackSource};
use bedside_sdk::e2ee::E2eeError;
use bedside_sdk::session::{ConnectionState, Event, MediaEvent, SdkError};
use common::{Hub, Recorder, client, pid, stand_in};
use std::sync::Arc;
use std::time::Duration;

async fn admitted_pair(
    hub: &Hub,
    url_pt: &str,
    visit: &str,
) -> (
    bedside_sdk::native::Client,
    Recorder,
    bedside_sdk::native::Client,
    Recorder,
) {
    let (dr, mut dr_ev) = client(&hub.url(), hub, visit, "provider", "dr-ada").await;
    dr_ev
        .until("provider admitted", |e| {
            matches!(e, Event::Admitted { .. }).then_some(())
        })
        .await;
    let (pt, mut pt_ev) = client(url_pt, hub, visit, "patient", "pt-1").await;
    pt_ev
        .until("patient waiting", |e| {
            matches!(e, Event::Waiting).then_some(())
        })
        .await;
    dr_ev
        .until("pt-1 in the lobby", |e| match e {
            Event::Lobby { waiting } if waiting.iter().any(|w| w.id.as_str() == "pt-1") => Some(()),
            _ => None,
        })
        .await;
    dr.admit(&pid("pt-1")).await.unwrap();
    pt_ev
        .until("patient admitted", |e| {
            matches!(e, Event::Admitted { .. }).then_some(())
        })
        .await;
    dr_ev
        .until("pt-1 joined", |e| match e {
            Event::Joined { participant } if participant.id.as_str() == "pt-1" => Some(()),
            _ => None,
        })
        .await;
    (dr, dr_ev, pt, pt_ev)
}

fn chat_from(from: &'static str, text: &'static str) -> impl FnMut(&Event) -> Option<()> {
    move |e| match e {
        Event::Chat(c) if c.from == from && c.text == text => Some(()),
        _ => None,
    }
}

fn channel_open(label: &'static str) -> impl FnMut(&Event) -> Option<()> {
    move |e| match e {
        Event::Media(MediaEvent::DataChannelOpen { label: l, .. }) if l == label => Some(()),
        _ => None,
    }
}

fn data(label: &'static str, body: &'static [u8]) -> impl FnMut(&Event) -> Option<()> {
    move |e| match e {
        Event::Media(MediaEvent::Data { label: l, data, .. }) if l == label && data == body => {
            Some(())
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_with_media_data_and_encrypted_chat_leaves_no_plaintext_at_the_hub() {
    let hub = Hub::start().await;
    let (dr, mut dr_ev, pt, mut pt_ev) = admitted_pair(&hub, &hub.url(), "v-1").await;

    // A real webrtc-rs peer connection over loopback host candidates.
    dr.open_data_channel(&pid("pt-1"), "notes").await.unwrap();
    dr_ev
        .until("channel open at provider", channel_open("notes"))
        .await;
    pt_ev
        .until("channel open at patient", channel_open("notes"))
        .await;
    dr.send_data(&pid("pt-1"), "notes", b"ping over dtls".to_vec())
        .await
        .unwrap();
    pt_ev
        .until("data at patient", data("notes", b"ping over dtls"))
        .await;
    pt.send_data(&pid("dr-ada"), "notes", b"pong over dtls".to_vec())
        .await
        .unwrap();
    dr_ev
        .until("data at provider", data("notes", b"pong over dtls"))
        .await;

    // Encrypted chat both ways.
    dr.send_chat("PLAINTEXT-SECRET-dr: your A1c is 6.1")
        .await
        .unwrap();
    pt.send_chat("PLAINTEXT-SECRET-pt: my feet tingle")
        .await
        .unwrap();
    pt_ev
        .until(
            "chat at patient",
            chat_from("dr-ada", "PLAINTEXT-SECRET-dr: your A1c is 6.1"),
        )
        .await;
    dr_ev
        .until(
            "chat at provider",
            chat_from("pt-1", "PLAINTEXT-SECRET-pt: my feet tingle"),
        )
        .await;

    // Against a cluster (BEDSIDE_TEST_CLUSTER=1) the two sit on two nodes.
    if common::clustered() {
        assert_eq!(hub.nodes_in_use(), 2, "the round-robin spread them");
    }

    // Both see the same 60-digit safety number.
    let a = dr.safety_number(&pid("pt-1")).await.unwrap().unwrap();
    let b = pt.safety_number(&pid("dr-ada")).await.unwrap().unwrap();
    assert_eq!(a, b);
    assert_eq!(a.digits().len(), 60);

    // Mid-visit (bodies may still be stored) and after the hub stopped
    // (store, WAL and audit flushed), nothing at the hub holds the plaintext.
    let no_plaintext = |hay: &[u8], what: &str| {
        assert!(
            !hay.windows(16).any(|w| w == b"PLAINTEXT-SECRET"),
            "plaintext chat in the hub's {what}"
        );
        assert!(
            !hay.windows(13).any(|w| w == b"ping over dtl"),
            "data-channel bytes in the hub's {what}"
        );
    };
    no_plaintext(&hub.disk_bytes(), "files (mid-visit)");
    dr.leave().await.unwrap();
    pt.leave().await.unwrap();
    let mut hub = hub;
    hub.stop().await;
    let disk = hub.disk_bytes();
    let logs = common::logs().lock().unwrap().clone();
    no_plaintext(&disk, "files");
    no_plaintext(&logs, "logs");
    // The searches looked at the real thing: the audit trail recorded the
    // relayed messages, and the log capture holds the hub's lines.
    assert!(
        disk.windows(9).any(|w| w == b"E2E_RELAY"),
        "no E2E_RELAY audit record found"
    );
    assert!(!logs.is_empty(), "the hub's log capture is empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_joins_chats_and_leaves_and_the_visit_chats_on_without_them() {
    let hub = Hub::start().await;
    let (dr, mut dr_ev, _pt, mut pt_ev) = admitted_pair(&hub, &hub.url(), "v-2").await;
    let (gu, mut gu_ev) = client(&hub.url(), &hub, "v-2", "guest", "gu-interp").await;
    gu_ev
        .until("guest waiting", |e| {
            matches!(e, Event::Waiting).then_some(())
        })
        .await;
    dr.admit(&pid("gu-interp")).await.unwrap();
    gu_ev
        .until("guest admitted", |e| {
            matches!(e, Event::Admitted { .. }).then_some(())
        })
        .await;
    // A newcomer can read what a sender sealed after it learned of the
    // admission (the new epoch), never what came before.
    for ev in [&mut dr_ev, &mut pt_ev] {
        ev.until("guest joined", |e| match e {
            Event::Joined { participant } if participant.id.as_str() == "gu-interp" => Some(()),
            _ => None,
        })
        .await;
    }
    dr.send_chat("welcome, interpreter").await.unwrap();
    gu_ev
        .until("guest reads", chat_from("dr-ada", "welcome, interpreter"))
        .await;
    gu.send_chat("hola, gracias").await.unwrap();
    pt_ev
        .until(
            "patient reads guest",
            chat_from("gu-interp", "hola, gracias"),
        )
        .await;
    dr_ev
        .until(
            "provider reads guest",
            chat_from("gu-interp", "hola, gracias"),
        )
        .await;

    gu.leave().await.unwrap();
    for ev in [&mut dr_ev, &mut pt_ev] {
        ev.until("guest left", |e| match e {
            Event::Left { participant, .. } if participant.as_str() == "gu-interp" => Some(()),
            _ => None,
        })
        .await;
    }
    dr.send_chat("now, privately").await.unwrap();
    pt_ev
        .until(
            "patient reads after the leave",
            chat_from("dr-ada", "now, privately"),
        )
        .await;
    gu_ev.settle(Duration::from_millis(500)).await;
    assert!(!gu_ev.chats().iter().any(|c| c.contains("privately")));
    assert!(gu_ev.seen.iter().any(|e| matches!(e, Event::Ended(_))));
    // That a leaver's keys open nothing sent afterwards is proven on the
    // real state (all its keys) in e2ee::group's
    // a_guest_who_left_cannot_read_what_follows.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_stand_in_that_swaps_a_key_bundle_is_detected() {
    let hub = Hub::start().await;
    // Mallory's bundle for pt-1: a valid Hello signed by another key.
    let mallory = {
        use bedside_sdk::e2ee::{Group, Identity, Output, Pins};
        let mut g = Group::new(
            Identity::from_secret_bytes(&[66; 32]),
            Pins::default(),
            "v-3",
            "pt-1",
            "sha-256 66:66",
        );
        match g.begin(1, &mut rand_core::OsRng).pop() {
            Some(Output::PublishBundle(b)) => b,
            _ => unreachable!(),
        }
    };
    let (dr, _dr_ev, pt, mut pt_ev) = admitted_pair(&hub, &hub.url(), "v-3").await;
    dr.send_chat("first").await.unwrap();
    pt_ev.until("first", chat_from("dr-ada", "first")).await;

    // Another provider met pt-1 honestly before and pinned the real key…
    let pins = dr_pins(&hub, "v-3").await;

    // …and now talks to the hub through a stand-in that swaps pt-1's bundle
    // wherever it appears.
    let swap: Arc<dyn Fn(String) -> String + Send + Sync> = Arc::new(move |t: String| {
        let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
        let fake: serde_json::Value = serde_json::from_str(&mallory).unwrap();
        if v["type"] == "keys" && v["from"] == "pt-1" {
            v["bundle"] = fake.clone();
        }
        if let Some(ps) = v["participants"].as_array_mut() {
            for p in ps.iter_mut().filter(|p| p["id"] == "pt-1") {
                p["keys"] = fake.clone();
            }
        }
        if v["type"] == "joined" && v["participant"]["id"] == "pt-1" {
            v["participant"]["keys"] = fake;
        }
        v.to_string()
    });
    let mitm = stand_in(hub.url(), swap).await;
    let mut cfg = bedside_sdk::native::ClientConfig::new(mitm, "dev-dr-cy");
    cfg.media = Some(
        bedside_sdk::native::media::MediaConfig {
            udp_addrs: vec!["127.0.0.1:0".into()],
            ice_servers: Vec::new(),
        }
        .webrtc_rs(),
    );
    cfg.pins = pins;
    let (_dr3, events) = bedside_sdk::native::Client::connect(
        cfg,
        hub.token("v-3", "provider", "dr-cy"),
        Some(hub.token_source("v-3", "provider", "dr-cy")),
    )
    .await
    .unwrap();
    let mut dr3_ev = Recorder::new(events);
    dr3_ev
        .until("identity change raised", |e| match e {
            Event::IdentityChanged { participant, .. } if participant == "pt-1" => Some(()),
            _ => None,
        })
        .await;
    pt.send_chat("only for my doctor").await.unwrap();
    pt_ev.settle(Duration::from_millis(300)).await;
    dr3_ev.settle(Duration::from_millis(800)).await;
    assert!(
        !dr3_ev
            .chats()
            .iter()
            .any(|c| c.contains("only for my doctor")),
        "chat shown despite the swapped bundle"
    );
}

/// Pins a provider would have kept from an earlier visit with pt-1: a
/// direct (honest) session that learns pt-1's real key.
async fn dr_pins(hub: &Hub, visit: &str) -> bedside_sdk::e2ee::Pins {
    let (c, mut ev) = client(&hub.url(), hub, visit, "provider", "dr-cy").await;
    ev.until("dr-cy admitted", |e| {
        matches!(e, Event::Admitted { .. }).then_some(())
    })
    .await;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let pins = c.pins().await.unwrap();
        if pins.0.contains_key("pt-1") {
            c.leave().await.unwrap();
            ev.settle(Duration::from_millis(200)).await;
            return pins;
        }
        assert!(tokio::time::Instant::now() < deadline, "pt-1 never pinned");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_sdp_fingerprint_is_refused_and_media_does_not_connect() {
    let hub = Hub::start().await;
    let rewrite: Arc<dyn Fn(String) -> String + Send + Sync> = Arc::new(|t: String| {
        let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
        if v["type"] == "offer" || v["type"] == "answer" {
            let sdp = v["sdp"].as_str().unwrap().to_owned();
            let fake = format!("a=fingerprint:sha-256 {}", vec!["66"; 32].join(":"));
            let out: Vec<String> = sdp
                .split("\r\n")
                .map(|l| {
                    if l.starts_with("a=fingerprint:") {
                        fake.clone()
                    } else {
                        l.to_owned()
                    }
                })
                .collect();
            v["sdp"] = out.join("\r\n").into();
        }
        v.to_string()
    });
    let mitm = stand_in(hub.url(), rewrite).await;
    let (dr, mut dr_ev, _pt, mut pt_ev) = admitted_pair(&hub, &mitm, "v-4").await;
    dr.open_data_channel(&pid("pt-1"), "notes").await.unwrap();
    pt_ev
        .until("fingerprint mismatch raised", |e| match e {
            Event::Error(SdkError::E2ee {
                error: E2eeError::FingerprintMismatch(p),
                ..
            }) if p == "dr-ada" => Some(()),
            _ => None,
        })
        .await;
    dr_ev.settle(Duration::from_secs(2)).await;
    pt_ev.settle(Duration::from_millis(200)).await;
    for ev in [&dr_ev, &pt_ev] {
        assert!(
            !ev.seen
                .iter()
                .any(|e| matches!(e, Event::Media(MediaEvent::DataChannelOpen { .. })))
        );
        assert!(!ev.seen.iter().any(|e| matches!(e, Event::Media(MediaEvent::PeerState { state, .. }) if state == "connected")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glare_ends_in_one_working_connection() {
    let hub = Hub::start().await;
    let (dr, mut dr_ev, pt, mut pt_ev) = admitted_pair(&hub, &hub.url(), "v-5").await;
    // Both offer at the same moment.
    let (to_pt, to_dr) = (pid("pt-1"), pid("dr-ada"));
    let (a, b) = tokio::join!(
        dr.open_data_channel(&to_pt, "from-dr"),
        pt.open_data_channel(&to_dr, "from-pt")
    );
    a.unwrap();
    b.unwrap();
    for ev in [&mut dr_ev, &mut pt_ev] {
        ev.until("from-dr open", channel_open("from-dr")).await;
        ev.until("from-pt open", channel_open("from-pt")).await;
    }
    dr.send_data(&pid("pt-1"), "from-dr", b"x1".to_vec())
        .await
        .unwrap();
    pt.send_data(&pid("dr-ada"), "from-pt", b"y1".to_vec())
        .await
        .unwrap();
    pt_ev.until("x1", data("from-dr", b"x1")).await;
    dr_ev.until("y1", data("from-pt", b"y1")).await;
    let connected = |r: &Recorder| {
        r.seen
            .iter()
            .filter(|e| matches!(e, Event::Media(MediaEvent::PeerState { state, .. }) if state == "connected"))
            .count()
    };
    assert_eq!(connected(&dr_ev), 1, "one peer connection at the provider");
    assert_eq!(connected(&pt_ev), 1, "one peer connection at the patient");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_restart_mid_visit_loses_and_duplicates_no_chat_and_media_survives() {
    let mut hub = Hub::start().await;
    let (dr, mut dr_ev, pt, mut pt_ev) = admitted_pair(&hub, &hub.url(), "v-6").await;
    dr.open_data_channel(&pid("pt-1"), "notes").await.unwrap();
    pt_ev.until("channel open", channel_open("notes")).await;
    dr.send_chat("before 1").await.unwrap();
    pt_ev
        .until("before 1", chat_from("dr-ada", "before 1"))
        .await;

    hub.restart().await;
    // Sent while the hub is down or just back: held and delivered once.
    dr.send_chat("during 2").await.unwrap();
    pt.send_chat("during 3").await.unwrap();
    for ev in [&mut dr_ev, &mut pt_ev] {
        ev.until("reconnected", |e| {
            matches!(e, Event::Connection(ConnectionState::Reconnecting { .. })).then_some(())
        })
        .await;
    }
    pt_ev
        .until("during 2", chat_from("dr-ada", "during 2"))
        .await;
    dr_ev.until("during 3", chat_from("pt-1", "during 3")).await;
    dr.send_chat("after 4").await.unwrap();
    pt_ev.until("after 4", chat_from("dr-ada", "after 4")).await;

    // The peer connection is peer to peer: it survived.
    dr.send_data(&pid("pt-1"), "notes", b"still here".to_vec())
        .await
        .unwrap();
    pt_ev
        .until("data after restart", data("notes", b"still here"))
        .await;

    dr_ev.settle(Duration::from_millis(500)).await;
    pt_ev.settle(Duration::from_millis(500)).await;
    assert_eq!(
        pt_ev.chats(),
        ["dr-ada: before 1", "dr-ada: during 2", "dr-ada: after 4"]
    );
    assert_eq!(dr_ev.chats(), ["pt-1: during 3"]);
}

/// Writes dummy VP8-sized frames every 20 ms until dropped.
fn feed(track: bedside_sdk::native::media::LocalTrack) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut n: u32 = 0;
        loop {
            n = n.wrapping_add(1);
            let mut frame = vec![0x10, 0x02, 0x00];
            frame.extend_from_slice(&n.to_be_bytes());
            frame.resize(600, 0xab);
            if track
                .write_sample(frame, Duration::from_millis(20))
                .await
                .is_err()
            {
                // Not negotiated yet, or stopped: keep trying until aborted.
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

fn remote_track(from: &'static str, source: TrackSource) -> impl FnMut(&Event) -> Option<String> {
    move |e| match e {
        Event::Media(MediaEvent::RemoteTrack {
            peer,
            track_id,
            source: s,
        }) if peer.as_str() == from && *s == source => Some(track_id.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracks_flow_and_a_revoke_stops_the_screen_at_both_ends() {
    let hub = Hub::start().await;
    let (dr, mut dr_ev, pt, mut pt_ev) = admitted_pair(&hub, &hub.url(), "v-7").await;

    // The provider's camera: announced, then carried with a matching msid.
    let cam = dr.add_track(TrackSource::Camera).await.unwrap();
    let _cam_feed = feed(cam.clone());
    dr.open_data_channel(&pid("pt-1"), "ctl").await.unwrap();
    let id = pt_ev
        .until(
            "camera at patient",
            remote_track("dr-ada", TrackSource::Camera),
        )
        .await;
    assert_eq!(id, cam.track_id());
    let mut cam_rx = pt.take_remote_track("dr-ada", &id).await.unwrap().unwrap();
    assert!(
        tokio::time::timeout(common::WAIT, cam_rx.next_payload())
            .await
            .unwrap()
            .is_some()
    );

    // The patient may share the screen once granted.
    dr.grant(&pid("pt-1"), Permission::ScreenShare)
        .await
        .unwrap();
    pt_ev
        .until("permission", |e| match e {
            Event::Permissions { participant, perms }
                if participant.as_str() == "pt-1" && perms.contains(&Permission::ScreenShare) =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
    let screen = pt.add_track(TrackSource::Screen).await.unwrap();
    let _screen_feed = feed(screen.clone());
    let sid = dr_ev
        .until(
            "screen at provider",
            remote_track("pt-1", TrackSource::Screen),
        )
        .await;
    let mut screen_rx = dr.take_remote_track("pt-1", &sid).await.unwrap().unwrap();
    assert!(
        tokio::time::timeout(common::WAIT, screen_rx.next_payload())
            .await
            .unwrap()
            .is_some()
    );

    // Revoke: the hub withdraws the screen; the provider's SDK stops
    // rendering it, the patient's stops sending it.
    dr.revoke(&pid("pt-1"), Permission::ScreenShare)
        .await
        .unwrap();
    dr_ev
        .until("screen stopped at provider", |e| match e {
            Event::Media(MediaEvent::RemoteTrackStopped { track_id, .. }) if *track_id == sid => {
                Some(())
            }
            _ => None,
        })
        .await;
    pt_ev
        .until("own screen stopped", |e| match e {
            Event::Media(MediaEvent::LocalTrackStopped { track_id }) if *track_id == sid => {
                Some(())
            }
            _ => None,
        })
        .await;
    // The reader ends once what was buffered is read.
    let ended = tokio::time::timeout(common::WAIT, async {
        while screen_rx.next_payload().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the withdrawn track kept delivering");
    // The camera goes on.
    assert!(
        tokio::time::timeout(common::WAIT, cam_rx.next_payload())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_track_whose_announcement_never_arrived_is_not_rendered() {
    let hub = Hub::start().await;
    // A stand-in that drops track announcements on their way to the patient.
    let drop_tracks: Arc<dyn Fn(String) -> String + Send + Sync> = Arc::new(|t: String| {
        if t.contains(r#""type":"track""#) {
            r#"{"type":"pong"}"#.to_owned()
        } else {
            t
        }
    });
    let mitm = stand_in(hub.url(), drop_tracks).await;
    let (dr, _dr_ev, _pt, mut pt_ev) = admitted_pair(&hub, &mitm, "v-8").await;
    let cam = dr.add_track(TrackSource::Camera).await.unwrap();
    let _feed = feed(cam.clone());
    dr.open_data_channel(&pid("pt-1"), "ctl").await.unwrap();
    let refused = pt_ev
        .until("refused track", |e| match e {
            Event::Media(MediaEvent::RemoteTrackRefused { track_id, .. }) => Some(track_id.clone()),
            _ => None,
        })
        .await;
    assert_eq!(refused, cam.track_id());
    assert!(
        !pt_ev
            .seen
            .iter()
            .any(|e| matches!(e, Event::Media(MediaEvent::RemoteTrack { .. })))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_change_restarts_ice_and_the_connection_carries_on() {
    let hub = Hub::start().await;
    // Watch the offers the patient receives (the stand-in changes nothing).
    let ufrags = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = ufrags.clone();
    let watch: Arc<dyn Fn(String) -> String + Send + Sync> = Arc::new(move |t: String| {
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        if v["type"] == "offer" {
            let sdp = v["sdp"].as_str().unwrap_or_default();
            if let Some(u) = sdp.lines().find_map(|l| l.strip_prefix("a=ice-ufrag:")) {
                seen.lock().unwrap().push(u.trim().to_owned());
            }
        }
        t
    });
    let mitm = stand_in(hub.url(), watch).await;
    let (dr, mut dr_ev, _pt, mut pt_ev) = admitted_pair(&hub, &mitm, "v-9").await;
    dr.open_data_channel(&pid("pt-1"), "notes").await.unwrap();
    pt_ev.until("channel open", channel_open("notes")).await;
    let before = ufrags.lock().unwrap().clone();
    assert!(!before.is_empty());
    dr.network_changed().await.unwrap();
    // An ICE-restart offer (new credentials) goes out and is answered; data
    // still flows.
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while ufrags.lock().unwrap().len() == before.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no offer after the network change"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = ufrags.lock().unwrap().last().cloned().unwrap();
    assert_ne!(
        Some(&after),
        before.last(),
        "the new offer did not restart ICE"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    dr.send_data(&pid("pt-1"), "notes", b"after restart".to_vec())
        .await
        .unwrap();
    pt_ev
        .until("data after ICE restart", data("notes", b"after restart"))
        .await;
    dr_ev.settle(Duration::from_millis(300)).await;
    assert!(
        !dr_ev.seen.iter().any(|e| matches!(e, Event::Error(_))),
        "{:?}",
        dr_ev.seen
    );
}

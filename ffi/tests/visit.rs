//! Two clients through the FFI's own types (the objects, records, foreign
//! traits and errors a Kotlin or Swift app gets) meet at the real hub on
//! loopback, with webrtc-rs behind the adapter traits: admission, perfect
//! negotiation, a data channel, end-to-end encrypted chat, a token refresh
//! through the async token source, and typed errors; then a provider's
//! decisions (deny, remove, end) and tracks under permissions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../client-sdk/tests/common/mod.rs"]
mod common;

use bedside_ffi::{
    AdapterError, BedsideClient, BedsideError, ClientConfig, ClientEvent, EndReason, EventListener,
    LeftReason, Permission, TokenPurpose, TokenSource, TrackSource, webrtc_rs_media_factory,
};
use bedside_protocol::claims::{JoinClaims, Lifetime};
use bedside_protocol::time::UnixMs;
use bedside_protocol::{ParticipantId, VisitId};
use bedside_token::PrivateKey;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc;

struct Listener(mpsc::UnboundedSender<ClientEvent>);

impl EventListener for Listener {
    fn on_event(&self, event: ClientEvent) {
        let _ = self.0.send(event);
    }
}

/// A join token for `sub` valid for `ttl_s` seconds.
fn mint(key: &PrivateKey, visit: &str, role: &str, sub: &str, ttl_s: i64) -> String {
    let now = UnixMs::from_system_time(std::time::SystemTime::now()).to_secs();
    let claims = JoinClaims::new(
        "clinic",
        "bedside",
        VisitId::new(visit).unwrap(),
        ParticipantId::new(sub).unwrap(),
        serde_json::from_value(json!(role)).unwrap(),
        Lifetime::starting(now, ttl_s),
        bedside_token::random_jti(),
    )
    .with_name(sub);
    key.sign(&claims).unwrap()
}

/// The app's token source: a fresh hour-long token, counted by purpose.
struct Tokens {
    key: Arc<PrivateKey>,
    visit: String,
    role: String,
    sub: String,
    refreshes: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl TokenSource for Tokens {
    async fn token(&self, purpose: TokenPurpose) -> Result<String, AdapterError> {
        if purpose == TokenPurpose::Refresh {
            self.refreshes.fetch_add(1, Ordering::SeqCst);
        }
        // As an app would: a network call to the clinic first.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Ok(mint(&self.key, &self.visit, &self.role, &self.sub, 3600))
    }
}

struct Participant {
    client: Arc<BedsideClient>,
    events: mpsc::UnboundedReceiver<ClientEvent>,
    refreshes: Arc<AtomicUsize>,
}

impl Participant {
    async fn join(hub: &common::Hub, url: String, role: &str, sub: &str, ttl_s: i64) -> Self {
        let (tx, events) = mpsc::unbounded_channel();
        let refreshes = Arc::new(AtomicUsize::new(0));
        let tokens = Tokens {
            key: hub.key.clone(),
            visit: "v-1".into(),
            role: role.into(),
            sub: sub.into(),
            refreshes: refreshes.clone(),
        };
        let config = ClientConfig {
            url,
            device: format!("dev-{sub}"),
            identity_secret: None,
            pins_json: None,
        };
        let client = BedsideClient::connect(
            config,
            mint(&hub.key, "v-1", role, sub, ttl_s),
            Some(Arc::new(tokens)),
            Arc::new(Listener(tx)),
            Some(webrtc_rs_media_factory(vec!["127.0.0.1:0".into()])),
        )
        .await
        .unwrap();
        Self {
            client,
            events,
            refreshes,
        }
    }

    async fn until<T>(&mut self, what: &str, mut f: impl FnMut(&ClientEvent) -> Option<T>) -> T {
        let wait = async {
            while let Some(e) = self.events.recv().await {
                if let Some(t) = f(&e) {
                    return t;
                }
            }
            panic!("events ended before {what}");
        };
        tokio::time::timeout(common::WAIT, wait)
            .await
            .unwrap_or_else(|_| panic!("no {what} in time"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_meet_through_the_ffi_and_chat_end_to_end() {
    let hub = common::Hub::start().await;
    let mut dr = Participant::join(&hub, hub.url(), "provider", "dr", 3600).await;
    // The patient's token outlives the refresh margin (120 s) by 2 s: the
    // SDK asks the app's token source for a fresh one almost at once. What
    // the hub sends the patient is recorded (to see it take that token).
    let (pt_url, to_pt) = common::recorder(hub.url()).await;
    let mut pt = Participant::join(&hub, pt_url, "patient", "pt", 122).await;

    pt.until("waiting", |e| {
        matches!(e, ClientEvent::Waiting).then_some(())
    })
    .await;
    dr.until("the patient in the lobby", |e| match e {
        ClientEvent::Lobby { waiting } if waiting.iter().any(|w| w.id == "pt") => Some(()),
        _ => None,
    })
    .await;
    // A patient cannot admit: the hub's refusal arrives as a typed error,
    // with its code and no text of anyone's.
    pt.client.admit("dr".into()).await.unwrap();
    let refused = pt
        .until("the refusal", |e| match e {
            ClientEvent::Error { error } => Some(error.clone()),
            _ => None,
        })
        .await;
    assert!(
        matches!(&refused, BedsideError::Hub { code, .. } if !code.is_empty()),
        "{refused:?}"
    );
    let bad = dr.client.admit("not an id!".into()).await.unwrap_err();
    assert!(
        matches!(bad, BedsideError::InvalidArgument { .. }),
        "{bad:?}"
    );
    dr.client.admit("pt".into()).await.unwrap();
    let present = pt
        .until("admitted", |e| match e {
            ClientEvent::Admitted { participants } => Some(participants.clone()),
            _ => None,
        })
        .await;
    assert!(present.iter().any(|p| p.id == "dr"));

    // Negotiation through the adapter, then a data channel both ways.
    dr.client
        .open_data_channel("pt".into(), "notes".into())
        .await
        .unwrap();
    for p in [&mut dr, &mut pt] {
        p.until("the data channel open", |e| match e {
            ClientEvent::DataChannelOpen { label, .. } if label == "notes" => Some(()),
            _ => None,
        })
        .await;
    }
    pt.client
        .send_data("dr".into(), "notes".into(), b"ping".to_vec())
        .await
        .unwrap();
    let data = dr
        .until("data", |e| match e {
            ClientEvent::Data { data, .. } => Some(data.clone()),
            _ => None,
        })
        .await;
    assert_eq!(data, b"ping");

    // End-to-end encrypted chat, both ways.
    let id = dr
        .client
        .send_chat("take two tablets at night".into())
        .await
        .unwrap();
    let got = pt
        .until("the chat", |e| match e {
            ClientEvent::Chat { message } => Some(message.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (
            got.sender.as_str(),
            got.text.as_str(),
            got.message_id.as_str()
        ),
        ("dr", "take two tablets at night", id.as_str())
    );
    assert!(!got.verified && got.roster_agrees);
    pt.client.send_chat("thank you".into()).await.unwrap();
    let back = dr
        .until("the reply", |e| match e {
            ClientEvent::Chat { message } => Some(message.text.clone()),
            _ => None,
        })
        .await;
    assert_eq!(back, "thank you");

    // The refresh goes through the app's async token source, the hub
    // extends the session to the new token's expiry (an hour, not the
    // first token's 122 s), and the session carries on.
    tokio::time::timeout(common::WAIT, async {
        while common::extended_until(&to_pt).is_none() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the hub's ack of a refresh");
    assert!(pt.refreshes.load(Ordering::SeqCst) >= 1);
    let until = common::extended_until(&to_pt).unwrap();
    assert!(until > common::now_s() + 3000, "extended to {until}");
    assert_eq!(dr.refreshes.load(Ordering::SeqCst), 0);
    pt.client.send_chat("refreshed".into()).await.unwrap();
    let after = dr
        .until("the chat after the refresh", |e| match e {
            ClientEvent::Chat { message } => Some(message.text.clone()),
            _ => None,
        })
        .await;
    assert_eq!(after, "refreshed");
    let safety = dr.client.safety_number("pt".into()).await.unwrap();
    assert!(safety.as_ref().is_some_and(|s| s.len() >= 30), "{safety:?}");
    assert_eq!(safety, pt.client.safety_number("dr".into()).await.unwrap());
    assert_eq!(pt.client.identity_secret().len(), 32);
    dr.client
        .grant("pt".into(), Permission::ScreenShare)
        .await
        .unwrap();
    pt.until("the grant", |e| match e {
        ClientEvent::Permissions { permissions, .. } => {
            permissions.contains(&Permission::ScreenShare).then_some(())
        }
        _ => None,
    })
    .await;

    pt.client.leave().await.unwrap();
    let why = pt
        .until("the end", |e| match e {
            ClientEvent::Ended { reason } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert_eq!(why, EndReason::Left);
    assert!(matches!(
        pt.client.send_chat("after".into()).await,
        Err(BedsideError::Ended)
    ));
}

/// `participant` is waiting in the lobby `dr` sees.
async fn in_lobby(dr: &mut Participant, participant: &str) {
    dr.until("the patient in the lobby", |e| match e {
        ClientEvent::Lobby { waiting } if waiting.iter().any(|w| w.id == participant) => Some(()),
        _ => None,
    })
    .await;
}

async fn ended(p: &mut Participant) -> EndReason {
    p.until("the end", |e| match e {
        ClientEvent::Ended { reason } => Some(reason.clone()),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_denies_removes_and_ends_and_tracks_follow_permissions() {
    let hub = common::Hub::start().await;
    let mut dr = Participant::join(&hub, hub.url(), "provider", "dr", 3600).await;

    // Denied in the waiting room, with the provider's reason.
    let mut p1 = Participant::join(&hub, hub.url(), "patient", "p1", 3600).await;
    in_lobby(&mut dr, "p1").await;
    dr.client
        .deny("p1".into(), Some("please book a new visit".into()))
        .await
        .unwrap();
    assert_eq!(
        ended(&mut p1).await,
        EndReason::Denied {
            reason: Some("please book a new visit".into())
        }
    );

    let mut p2 = Participant::join(&hub, hub.url(), "patient", "p2", 3600).await;
    in_lobby(&mut dr, "p2").await;
    dr.client.admit("p2".into()).await.unwrap();
    p2.until("admitted", |e| {
        matches!(e, ClientEvent::Admitted { .. }).then_some(())
    })
    .await;
    // A media connection between them, for the tracks to go on.
    dr.client
        .open_data_channel("p2".into(), "notes".into())
        .await
        .unwrap();
    p2.until("the data channel", |e| {
        matches!(e, ClientEvent::DataChannelOpen { peer, .. } if peer == "dr").then_some(())
    })
    .await;

    // A screen share needs the permission.
    let refused = p2.client.add_track(TrackSource::Screen).await;
    assert_eq!(
        refused,
        Err(BedsideError::NotPermitted {
            permission: Permission::ScreenShare
        })
    );
    dr.client
        .grant("p2".into(), Permission::ScreenShare)
        .await
        .unwrap();
    p2.until("the grant", |e| match e {
        ClientEvent::Permissions { permissions, .. } => {
            permissions.contains(&Permission::ScreenShare).then_some(())
        }
        _ => None,
    })
    .await;
    let screen = p2.client.add_track(TrackSource::Screen).await.unwrap();
    let announced = dr
        .until("the screen announced", |e| match e {
            ClientEvent::TrackPublished {
                participant,
                track_id,
                source,
            } if participant == "p2" => Some((track_id.clone(), *source)),
            _ => None,
        })
        .await;
    assert_eq!(announced, (screen.clone(), TrackSource::Screen));
    // The revoke withdraws it: the sender is told to stop, the viewer too.
    dr.client
        .revoke("p2".into(), Permission::ScreenShare)
        .await
        .unwrap();
    let stopped = p2
        .until("the screen stopped", |e| match e {
            ClientEvent::LocalTrackStopped { track_id } => Some(track_id.clone()),
            _ => None,
        })
        .await;
    assert_eq!(stopped, screen);
    let withdrawn = dr
        .until("the screen withdrawn", |e| match e {
            ClientEvent::TrackUnpublished { track_id, .. } => Some(track_id.clone()),
            _ => None,
        })
        .await;
    assert_eq!(withdrawn, screen);

    // A camera the patient adds and withdraws itself.
    let camera = p2.client.add_track(TrackSource::Camera).await.unwrap();
    assert_ne!(camera, screen);
    dr.until("the camera announced", |e| {
        matches!(e, ClientEvent::TrackPublished { track_id, .. } if *track_id == camera)
            .then_some(())
    })
    .await;
    p2.client.remove_track(camera.clone()).await.unwrap();
    dr.until("the camera withdrawn", |e| {
        matches!(e, ClientEvent::TrackUnpublished { track_id, .. } if *track_id == camera)
            .then_some(())
    })
    .await;
    // A network change restarts ICE; the connection carries on.
    p2.client.network_changed().await.unwrap();
    p2.client
        .send_data("dr".into(), "notes".into(), b"still here".to_vec())
        .await
        .unwrap();
    let data = dr
        .until("data after the network change", |e| match e {
            ClientEvent::Data { data, .. } => Some(data.clone()),
            _ => None,
        })
        .await;
    assert_eq!(data, b"still here");

    // Removed: the patient's session ends, the provider sees why it left.
    dr.client.remove("p2".into(), None).await.unwrap();
    assert!(matches!(ended(&mut p2).await, EndReason::Denied { .. }));
    let why = dr
        .until("p2 gone", |e| match e {
            ClientEvent::Left {
                participant,
                reason,
            } if participant == "p2" => Some(*reason),
            _ => None,
        })
        .await;
    assert_eq!(why, LeftReason::Removed);

    // The provider ends the visit: everyone's session ends.
    let mut p3 = Participant::join(&hub, hub.url(), "patient", "p3", 3600).await;
    in_lobby(&mut dr, "p3").await;
    dr.client.end_visit().await.unwrap();
    assert_eq!(ended(&mut p3).await, EndReason::VisitEnded);
    assert_eq!(ended(&mut dr).await, EndReason::VisitEnded);
}

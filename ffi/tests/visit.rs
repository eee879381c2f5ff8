//! Two clients through the FFI's own types (the objects, records, foreign
//! traits and errors a Kotlin or Swift app gets) meet at the real hub on
//! loopback, with webrtc-rs behind the adapter traits: admission, perfect
//! negotiation, a data channel, end-to-end encrypted chat, a token refresh
//! through the async token source, and typed errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../client-sdk/tests/common/mod.rs"]
mod common;

use bedside_ffi::{
    AdapterError, BedsideClient, BedsideError, ClientConfig, ClientEvent, EndReason, EventListener,
    Permission, TokenPurpose, TokenSource, webrtc_rs_media_factory,
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
    async fn join(hub: &common::Hub, role: &str, sub: &str, ttl_s: i64) -> Self {
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
            url: hub.url(),
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
    let mut dr = Participant::join(&hub, "provider", "dr", 3600).await;
    // The patient's token outlives the refresh margin (120 s) by 2 s: the
    // SDK asks the app's token source for a fresh one almost at once.
    let mut pt = Participant::join(&hub, "patient", "pt", 122).await;

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

    // The refresh goes through the app's async token source, and the
    // session carries on under the new token.
    tokio::time::timeout(common::WAIT, async {
        while pt.refreshes.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a refresh through the token source");
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

//! The media driver on a recording backend: what reaches the backend and
//! the hub when a connection misbehaves.

use super::backend::{BackendError, SdpKind};
use super::*;
use crate::e2ee::{Identity, Pins};
use crate::session::SessionConfig;
use rand::SeedableRng;
use std::sync::Mutex;

/// Calls made on the backend's connections, as `"<generation> <call>"`.
type Calls = Arc<Mutex<Vec<String>>>;

/// Makes connections whose descriptions name `fingerprint` (`None`: the
/// device's own).
#[derive(Debug)]
struct Recording {
    fingerprint: Option<&'static str>,
    calls: Calls,
}

struct Connection {
    generation: u64,
    fingerprint: String,
    calls: Calls,
}

impl Connection {
    fn record(&self, call: &str) {
        if let Ok(mut c) = self.calls.lock() {
            c.push(format!("{} {call}", self.generation));
        }
    }
    fn sdp(&self) -> String {
        format!("v=0\r\na=fingerprint:{}\r\n", self.fingerprint)
    }
}

#[async_trait::async_trait]
impl PeerBackend for Connection {
    async fn create_offer(&self, _: bool) -> Result<String, BackendError> {
        self.record("create_offer");
        Ok(self.sdp())
    }
    async fn create_answer(&self) -> Result<String, BackendError> {
        self.record("create_answer");
        Ok(self.sdp())
    }
    async fn set_local(&self, _: SdpKind, sdp: String) -> Result<String, BackendError> {
        self.record("set_local");
        Ok(sdp)
    }
    async fn rollback(&self) -> Result<(), BackendError> {
        self.record("rollback");
        Ok(())
    }
    async fn set_remote(&self, _: SdpKind, _: String) -> Result<(), BackendError> {
        self.record("set_remote");
        Ok(())
    }
    async fn add_candidate(&self, _: IceCandidate) -> Result<(), BackendError> {
        self.record("add_candidate");
        Ok(())
    }
    async fn add_track(&self, _: &LocalTrack) -> Result<(), BackendError> {
        Ok(())
    }
    async fn remove_track(&self, _: &str) -> Result<(), BackendError> {
        Ok(())
    }
    async fn open_data_channel(&self, _: &str) -> Result<(), BackendError> {
        self.record("open_data_channel");
        Ok(())
    }
    async fn send_data(&self, _: &str, _: Vec<u8>) -> Result<(), BackendError> {
        Ok(())
    }
    async fn close(&self) {
        self.record("close");
    }
}

#[async_trait::async_trait]
impl MediaBackend for Recording {
    async fn create_peer(
        &self,
        setup: PeerSetup,
        events: PeerEvents,
    ) -> Result<Arc<dyn PeerBackend>, BackendError> {
        let fingerprint = self
            .fingerprint
            .map_or_else(|| setup.certificate.fingerprint().to_owned(), str::to_owned);
        Ok(Arc::new(Connection {
            generation: events.generation,
            fingerprint,
            calls: self.calls.clone(),
        }))
    }
    fn local_track(&self, track: TrackInfo) -> Result<LocalTrack, BackendError> {
        Ok(LocalTrack::new(track, None))
    }
}

/// A session welcomed into a visit as `pt-1`.
fn admitted() -> Session {
    let rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut s = Session::new(
        SessionConfig::default(),
        Identity::from_secret_bytes(&[7; 32]),
        Pins::default(),
        Box::new(rng),
    );
    let t0 = now_ms();
    s.start(t0, "join-token".into());
    s.on_connected(t0);
    let welcome = serde_json::json!({"type":"welcome","session":"s-1","visit":"v-1",
        "participant":{"id":"pt-1","name":"Pat","role":"patient","perms":[]},
        "state":"admitted","resume_token":"rt-1","expires_at":t0 / 1000 + 3600,
        "ice_servers":[],"limits":{"max_message_bytes":65536,"idle_timeout_s":900}});
    s.on_frame(t0, &welcome.to_string());
    while s.poll_output().is_some() {}
    s
}

fn media(fingerprint: Option<&'static str>) -> (Media, Calls) {
    let calls = Calls::default();
    let backend = Recording {
        fingerprint,
        calls: calls.clone(),
    };
    (Media::new(Arc::new(backend), None).expect("media"), calls)
}

fn dr() -> ParticipantId {
    ParticipantId::new("dr-1").expect("an id")
}

fn from(generation: u64, event: PeerEvent) -> MediaInput {
    MediaInput::Peer {
        peer: dr(),
        generation,
        event,
    }
}

fn candidate() -> PeerEvent {
    PeerEvent::LocalIce(Some(IceCandidate {
        candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
    }))
}

fn signals(out: &[MediaOutput]) -> usize {
    out.iter()
        .filter(|o| matches!(o, MediaOutput::Signal { .. }))
        .count()
}

fn calls(c: &Calls) -> Vec<String> {
    c.lock().map(|c| c.clone()).unwrap_or_default()
}

#[tokio::test]
async fn a_connection_under_another_certificate_is_closed_and_nothing_of_it_is_sent() {
    let session = admitted();
    let (mut m, log) = media(Some("sha-256 EF:01"));
    let open = MediaInput::OpenDataChannel {
        peer: dr(),
        label: "chat".into(),
    };
    assert!(m.handle(open, &session).await.is_empty());

    // negotiationneeded: the offer it makes names another certificate.
    let out = m
        .handle(from(0, PeerEvent::NegotiationNeeded), &session)
        .await;
    assert_eq!(signals(&out), 0, "nothing is signalled");
    assert!(out.iter().any(|o| matches!(o,
        MediaOutput::Event(Event::Error(SdkError::Transport(e)))
            if e == negotiation::NOT_OUR_CERTIFICATE_CLOSED)));
    assert_eq!(
        calls(&log),
        ["0 open_data_channel", "0 create_offer", "0 close"],
        "never set as the local description"
    );
    // What the closed connection still reports goes nowhere.
    assert!(m.handle(from(0, candidate()), &session).await.is_empty());
    let open = from(0, PeerEvent::ChannelOpen("chat".into()));
    assert!(m.handle(open, &session).await.is_empty());
}

#[tokio::test]
async fn a_closed_connections_late_callbacks_never_reach_the_next_one() {
    let session = admitted();
    let (mut m, log) = media(None);
    let open = || MediaInput::OpenDataChannel {
        peer: dr(),
        label: "chat".into(),
    };
    m.handle(open(), &session).await;
    let out = m.handle(from(0, candidate()), &session).await;
    assert_eq!(
        signals(&out),
        1,
        "the current connection's candidate is sent"
    );

    // dr-1 leaves and comes back: a new connection (generation 1).
    let left = Event::Left {
        participant: dr(),
        reason: LeftReason::Leave,
    };
    m.on_session_event(&left, &session).await;
    m.handle(open(), &session).await;
    assert_eq!(
        calls(&log),
        ["0 open_data_channel", "0 close", "1 open_data_channel"]
    );

    // The old connection's late events are dropped...
    assert!(m.handle(from(0, candidate()), &session).await.is_empty());
    let late = from(0, PeerEvent::ChannelData("chat".into(), b"old".to_vec()));
    assert!(m.handle(late, &session).await.is_empty());
    let state = from(0, PeerEvent::State(ConnectionState::Failed));
    assert!(m.handle(state, &session).await.is_empty());
    assert!(m.next_deadline().is_none(), "no ICE restart was scheduled");
    // ...and the new one's are not.
    let data = from(1, PeerEvent::ChannelData("chat".into(), b"new".to_vec()));
    let out = m.handle(data, &session).await;
    assert!(matches!(&out[..],
        [MediaOutput::Event(Event::Media(MediaEvent::Data { data, .. }))] if data == b"new"));
}

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
    /// Its connections' offers never complete (they time out).
    unresponsive: bool,
    calls: Calls,
}

struct Connection {
    generation: u64,
    fingerprint: String,
    unresponsive: bool,
    calls: Calls,
    events: PeerEvents,
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
        if self.unresponsive {
            return Err(BackendError::unresponsive("did not answer"));
        }
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
    async fn set_remote(&self, _: SdpKind, sdp: String) -> Result<(), BackendError> {
        // As `ontrack` would, from inside the call: what mid 1 carries.
        let at_1 = self.events.track_id_at("1");
        self.record(&format!("set_remote mid 1: {at_1:?}"));
        if sdp.contains("a=x-refuse") {
            return Err(BackendError::new("refused"));
        }
        Ok(())
    }
    async fn add_candidate(&self, _: IceCandidate) -> Result<(), BackendError> {
        self.record("add_candidate");
        Ok(())
    }
    async fn add_track(&self, t: &LocalTrack) -> Result<(), BackendError> {
        self.record(&format!("add_track {}", t.track_id()));
        Ok(())
    }
    async fn remove_track(&self, id: &str) -> Result<(), BackendError> {
        self.record(&format!("remove_track {id}"));
        Ok(())
    }
    async fn stop_remote_track(&self, id: &str) -> Result<(), BackendError> {
        self.record(&format!("stop_remote_track {id}"));
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
            unresponsive: self.unresponsive,
            calls: self.calls.clone(),
            events,
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
    media_on(fingerprint, false)
}

fn media_on(fingerprint: Option<&'static str>, unresponsive: bool) -> (Media, Calls) {
    let calls = Calls::default();
    let backend = Recording {
        fingerprint,
        unresponsive,
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

#[tokio::test]
async fn a_connection_that_stops_answering_is_closed_and_not_negotiated_on() {
    let session = admitted();
    let (mut m, log) = media_on(None, true);
    let open = MediaInput::OpenDataChannel {
        peer: dr(),
        label: "chat".into(),
    };
    m.handle(open, &session).await;
    let out = m
        .handle(from(0, PeerEvent::NegotiationNeeded), &session)
        .await;
    assert_eq!(signals(&out), 0);
    assert!(out.iter().any(|o| matches!(o,
        MediaOutput::Event(Event::Error(SdkError::Transport(e)))
            if e == negotiation::UNRESPONSIVE_CLOSED)));
    assert_eq!(
        calls(&log),
        ["0 open_data_channel", "0 create_offer", "0 close"],
        "no operation beside the pending one"
    );
    assert!(m.handle(from(0, candidate()), &session).await.is_empty());
}

/// `session` with `frame` (from the hub) applied.
fn hear(session: &mut Session, frame: serde_json::Value) {
    session.on_frame(now_ms(), &frame.to_string());
    while session.poll_output().is_some() {}
}

fn screen(id: &str) -> LocalTrack {
    let info = TrackInfo {
        track_id: id.into(),
        source: TrackSource::Screen,
    };
    LocalTrack::new(info, None)
}

fn stopped(out: &[MediaOutput]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            MediaOutput::Event(Event::Media(MediaEvent::LocalTrackStopped { track_id })) => {
                Some(track_id.clone())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_screen_share_published_while_its_revoke_was_on_the_way_is_stopped() {
    // The patient's copy said it may share; the revoke crossed its publish
    // (the hub refused that announcement, so it withdraws nothing).
    let mut session = admitted();
    hear(
        &mut session,
        serde_json::json!({"type":"permissions","participant":"pt-1","perms":["screen_share"]}),
    );
    let (mut m, log) = media(None);
    let open = MediaInput::OpenDataChannel {
        peer: dr(),
        label: "chat".into(),
    };
    m.handle(open, &session).await;
    m.handle(MediaInput::AddTrack(screen("s1")), &session).await;
    let camera = LocalTrack::new(
        TrackInfo {
            track_id: "c1".into(),
            source: TrackSource::Camera,
        },
        None,
    );
    m.handle(MediaInput::AddTrack(camera), &session).await;

    // Someone else's permissions change nothing here.
    let theirs = Event::Permissions {
        participant: dr(),
        perms: vec![],
    };
    assert!(stopped(&m.on_session_event(&theirs, &session).await).is_empty());

    let revoked = Event::Permissions {
        participant: ParticipantId::new("pt-1").expect("an id"),
        perms: vec![],
    };
    assert_eq!(
        stopped(&m.on_session_event(&revoked, &session).await),
        ["s1"]
    );
    assert_eq!(
        calls(&log),
        [
            "0 open_data_channel",
            "0 add_track s1",
            "0 add_track c1",
            "0 remove_track s1"
        ],
        "the screen leaves every connection, the camera stays"
    );
    // The hub's own withdrawal, if it had one, stops nothing twice.
    let withdrawn = Event::TrackUnpublished {
        from: ParticipantId::new("pt-1").expect("an id"),
        track_id: bedside_protocol::TrackId::new("s1").expect("an id"),
    };
    assert!(stopped(&m.on_session_event(&withdrawn, &session).await).is_empty());
}

#[tokio::test]
async fn refused_and_withdrawn_remote_tracks_are_stopped_through_the_backend() {
    let mut session = admitted();
    hear(
        &mut session,
        serde_json::json!({"type":"joined","participant":
            {"id":"dr-1","name":"Dr","role":"provider","perms":["screen_share"],
                "tracks":[],"keys":null}}),
    );
    hear(
        &mut session,
        serde_json::json!({"type":"track","action":"publish","from":"dr-1",
            "source":"camera","track_id":"cam1"}),
    );
    let (mut m, log) = media(None);
    let open = MediaInput::OpenDataChannel {
        peer: dr(),
        label: "chat".into(),
    };
    m.handle(open, &session).await;

    let unannounced = from(0, PeerEvent::RemoteTrack("other".into(), None));
    let out = m.handle(unannounced, &session).await;
    assert!(out.iter().any(|o| matches!(o,
        MediaOutput::Event(Event::Media(MediaEvent::RemoteTrackRefused { track_id, .. }))
            if track_id == "other")));
    let announced = from(0, PeerEvent::RemoteTrack("cam1".into(), None));
    let out = m.handle(announced, &session).await;
    assert!(out.iter().any(|o| matches!(o,
        MediaOutput::Event(Event::Media(MediaEvent::RemoteTrack { track_id, .. }))
            if track_id == "cam1")));

    let withdrawn = Event::TrackUnpublished {
        from: dr(),
        track_id: bedside_protocol::TrackId::new("cam1").expect("an id"),
    };
    let out = m.on_session_event(&withdrawn, &session).await;
    assert!(out.iter().any(|o| matches!(o,
        MediaOutput::Event(Event::Media(MediaEvent::RemoteTrackStopped { track_id, .. }))
            if track_id == "cam1")));
    assert_eq!(
        calls(&log),
        [
            "0 open_data_channel",
            "0 stop_remote_track other",
            "0 stop_remote_track cam1"
        ]
    );
}

/// `sdp` from dr-1, as an offer, through its connection's negotiator.
async fn apply(m: &mut Media, sdp: String) {
    if let Some(p) = m.peers.get_mut(&dr()) {
        p.neg.remote(now_ms(), Signal::Offer(sdp));
    }
    let mut out = Vec::new();
    m.drive(&dr(), &mut out).await.expect("driven");
}

#[tokio::test]
async fn a_remote_tracks_mid_is_read_against_the_description_being_set() {
    let session = admitted();
    let (mut m, log) = media(None);
    let open = MediaInput::OpenDataChannel {
        peer: dr(),
        label: "chat".into(),
    };
    m.handle(open, &session).await;
    let offer = |extra: &str| {
        format!(
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=recvonly\r\n\
             m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendonly\r\n\
             a=msid:s1 {{cam-1}}\r\n{extra}"
        )
    };
    apply(&mut m, offer("")).await;
    let set: Vec<String> = calls(&log)
        .into_iter()
        .filter(|c| c.contains("set_remote"))
        .collect();
    assert_eq!(set, ["0 set_remote mid 1: Some(\"cam-1\")"]);
    // After the call, on the same description; a section it does not
    // send in names nothing.
    let p = m.peers.get(&dr()).expect("a peer");
    let events = PeerEvents {
        peer: dr(),
        generation: p.generation,
        tx: m.tx.clone(),
        remote: p.remote.clone(),
    };
    assert_eq!(events.track_id_at("1").as_deref(), Some("cam-1"));
    assert_eq!(events.track_id_at("0"), None);
    assert_eq!(events.track_id_at("7"), None);
    // A description the stack refused is not the one read afterwards.
    apply(&mut m, offer("a=x-refuse\r\n").replace("cam-1", "cam-2")).await;
    assert!(
        calls(&log).contains(&"0 set_remote mid 1: Some(\"cam-2\")".to_owned()),
        "{:?}",
        calls(&log)
    );
    assert_eq!(events.track_id_at("1").as_deref(), Some("cam-1"));
}

//! The app's WebRTC behind the SDK: the app implements a [`MediaFactory`]
//! (one [`PeerConnectionAdapter`] per remote participant, on its platform's
//! peer connection) and reports what its connection does through the
//! [`PeerEventSink`] it is given. The SDK drives every negotiation step, and
//! checks every SDP the adapter makes against the device's certificate
//! (handed to the factory as PEM: use it and no other) and every remote SDP
//! against the sender's signed fingerprint before the adapter sees it.

use crate::error::AdapterError;
use crate::types::TrackSource;
use bedside_sdk::native::media::{self as sdk, backend};
use std::sync::Arc;

/// The device's DTLS certificate: give both PEMs to the platform's WebRTC
/// (`RTCCertificate(privateKey:certificate:)` on iOS, `RtcCertificatePem`
/// on Android) for this peer connection's configuration. An object, not a
/// record, so that no generated `toString` or description prints the key;
/// never log or store [`DtlsCertificate::private_key_pem`].
#[derive(Debug, uniffi::Object)]
pub struct DtlsCertificate {
    pub(crate) inner: Arc<backend::Certificate>,
}

#[uniffi::export]
impl DtlsCertificate {
    /// The PKCS#8 private key, PEM.
    pub fn private_key_pem(&self) -> String {
        self.inner.private_key_pem().to_owned()
    }

    /// The certificate, PEM.
    pub fn certificate_pem(&self) -> String {
        self.inner.certificate_pem().to_owned()
    }

    /// `sha-256 AB:CD:…`: what the connection's SDPs must carry.
    pub fn fingerprint(&self) -> String {
        self.inner.fingerprint().to_owned()
    }
}

/// A STUN or TURN server.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct IceServerConfig {
    /// `stun:`/`turn:`/`turns:` URLs.
    pub urls: Vec<String>,
    /// TURN username.
    pub username: Option<String>,
    /// TURN credential.
    pub credential: Option<String>,
}

impl std::fmt::Debug for IceServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServerConfig")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

/// What a new peer connection is built with.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PeerConfig {
    /// The remote participant.
    pub peer: String,
    /// This side's perfect-negotiation role (the SDK decides; informative).
    pub polite: bool,
    /// The hub's STUN/TURN servers (add the app's own).
    pub ice_servers: Vec<IceServerConfig>,
    /// The device's certificate: the connection must use it.
    pub certificate: Arc<DtlsCertificate>,
}

/// An SDP's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SdpType {
    /// An offer.
    Offer,
    /// An answer.
    Answer,
}

/// An ICE candidate (`candidate` empty: end of candidates).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IceCandidateInit {
    /// `candidate:…`.
    pub candidate: String,
    /// Its media section's `a=mid`.
    pub sdp_mid: Option<String>,
    /// Its media section's index.
    pub sdp_mline_index: Option<u32>,
}

/// A peer connection's state (`RTCPeerConnectionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PeerConnectionState {
    /// `new`.
    New,
    /// `connecting`.
    Connecting,
    /// `connected`.
    Connected,
    /// `disconnected`.
    Disconnected,
    /// `failed`.
    Failed,
    /// `closed`.
    Closed,
}

impl PeerConnectionState {
    /// From its W3C name, as the SDK's core reports it.
    pub(crate) fn from_w3c(name: &str) -> Self {
        match name {
            "new" => Self::New,
            "connecting" => Self::Connecting,
            "connected" => Self::Connected,
            "disconnected" => Self::Disconnected,
            "failed" => Self::Failed,
            _ => Self::Closed,
        }
    }
}

/// Makes the app's peer connections.
#[uniffi::export(with_foreign)]
pub trait MediaFactory: Send + Sync {
    /// A peer connection for `config`, reporting through `events`, with
    /// the app's local tracks not yet on it (the SDK adds them). Building
    /// a peer connection is synchronous on both platforms.
    fn create_peer(
        &self,
        config: PeerConfig,
        events: Arc<PeerEventSink>,
    ) -> Result<Arc<dyn PeerConnectionAdapter>, AdapterError>;
}

/// One peer connection of the app's. The SDK calls one method at a time
/// and waits for it; every SDP it passes passed the fingerprint check, and
/// every SDP returned is checked before it is used.
#[uniffi::export(with_foreign)]
#[async_trait::async_trait]
pub trait PeerConnectionAdapter: Send + Sync {
    /// `createOffer` (with `iceRestart`): the SDP.
    async fn create_offer(&self, ice_restart: bool) -> Result<String, AdapterError>;
    /// `createAnswer`: the SDP.
    async fn create_answer(&self) -> Result<String, AdapterError>;
    /// `setLocalDescription`: the local description as the connection now
    /// holds it.
    async fn set_local_description(
        &self,
        sdp_type: SdpType,
        sdp: String,
    ) -> Result<String, AdapterError>;
    /// `setLocalDescription({type: rollback})`.
    async fn rollback(&self) -> Result<(), AdapterError>;
    /// `setRemoteDescription`.
    async fn set_remote_description(
        &self,
        sdp_type: SdpType,
        sdp: String,
    ) -> Result<(), AdapterError>;
    /// `addIceCandidate` (never an empty one).
    async fn add_ice_candidate(&self, candidate: IceCandidateInit) -> Result<(), AdapterError>;
    /// Adds the app's local track `track_id` (announced to the hub) to
    /// the connection, with `track_id` as its `a=msid` track id.
    async fn add_local_track(
        &self,
        track_id: String,
        source: TrackSource,
    ) -> Result<(), AdapterError>;
    /// Removes the local track `track_id`.
    async fn remove_local_track(&self, track_id: String) -> Result<(), AdapterError>;
    /// Stops showing the remote track `track_id` and disables its
    /// receiver (`track.isEnabled = false`): it was never announced, or
    /// its announcement was withdrawn (a revoked screen share).
    async fn stop_remote_track(&self, track_id: String) -> Result<(), AdapterError>;
    /// `createDataChannel(label)`; report its opening to the sink.
    async fn create_data_channel(&self, label: String) -> Result<(), AdapterError>;
    /// Sends on the open data channel `label`.
    async fn send_data(&self, label: String, data: Vec<u8>) -> Result<(), AdapterError>;
    /// Closes the connection; nothing is called after. (Not `close`: the
    /// generated Kotlin objects are `AutoCloseable` already.)
    async fn close_connection(&self);
}

/// Where the app reports what its peer connection does (from any thread).
#[derive(Debug, uniffi::Object)]
pub struct PeerEventSink {
    inner: backend::PeerEvents,
}

#[uniffi::export]
impl PeerEventSink {
    /// `onnegotiationneeded` fired.
    pub fn negotiation_needed(&self) {
        self.inner.negotiation_needed();
    }

    /// A local ICE candidate (`None`: gathering finished).
    pub fn local_candidate(&self, candidate: Option<IceCandidateInit>) {
        self.inner
            .local_candidate(candidate.map(|c| backend::IceCandidate {
                candidate: c.candidate,
                sdp_mid: c.sdp_mid,
                sdp_mline_index: c.sdp_mline_index,
            }));
    }

    /// The connection's state changed.
    pub fn connection_state(&self, state: PeerConnectionState) {
        use backend::ConnectionState as C;
        self.inner.state(match state {
            PeerConnectionState::New => C::New,
            PeerConnectionState::Connecting => C::Connecting,
            PeerConnectionState::Connected => C::Connected,
            PeerConnectionState::Disconnected => C::Disconnected,
            PeerConnectionState::Failed => C::Failed,
            PeerConnectionState::Closed => C::Closed,
        });
    }

    /// The data channel `label` is open (either side opened it).
    pub fn data_channel_open(&self, label: String) {
        self.inner.data_channel_open(label);
    }

    /// A message arrived on the data channel `label`.
    pub fn data_channel_message(&self, label: String, data: Vec<u8>) {
        self.inner.data(label, data);
    }

    /// A remote track arrived (`ontrack`), with its `a=msid` track id.
    /// Render it only after `ClientEvent::RemoteTrack` for it; never after
    /// `ClientEvent::RemoteTrackRefused`.
    pub fn remote_track(&self, track_id: String) {
        self.inner.remote_track(track_id, None);
    }

    /// The sender's track id for the remote section `mid` (its `a=msid`),
    /// read from the remote description being set: call it in `onTrack`
    /// with the transceiver's `mid` and report the track under this id
    /// with [`Self::remote_track`], since libwebrtc gives a remote track an
    /// id of its own. `None`: the section names no track the sender sends;
    /// never render it.
    pub fn track_id_for_mid(&self, mid: String) -> Option<String> {
        self.inner.track_id_at(&mid)
    }
}

fn failed(e: AdapterError) -> backend::BackendError {
    backend::BackendError::new(crate::error::scrub(&e.to_string()))
}

/// How long the SDK waits for one call of the app's peer connection: the
/// session's one task waits for it, so a call that never completes (an
/// observer whose failure path was not wired) must not freeze the visit.
const ADAPTER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long closing a connection that stopped answering is waited for.
const CLOSE_UNRESPONSIVE: std::time::Duration = std::time::Duration::from_secs(1);

fn sdp_type(kind: backend::SdpKind) -> SdpType {
    match kind {
        backend::SdpKind::Offer => SdpType::Offer,
        backend::SdpKind::Answer => SdpType::Answer,
    }
}

/// The app's factory as the SDK's media backend.
pub(crate) struct AppMedia(pub(crate) Arc<dyn MediaFactory>);

impl std::fmt::Debug for AppMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppMedia")
    }
}

#[async_trait::async_trait]
impl backend::MediaBackend for AppMedia {
    async fn create_peer(
        &self,
        setup: backend::PeerSetup,
        events: backend::PeerEvents,
    ) -> Result<Arc<dyn backend::PeerBackend>, backend::BackendError> {
        let config = PeerConfig {
            peer: setup.peer.to_string(),
            polite: setup.polite,
            ice_servers: setup
                .ice_servers
                .iter()
                .map(|s| IceServerConfig {
                    urls: s.urls.clone(),
                    username: s.username.clone(),
                    credential: s.credential.clone(),
                })
                .collect(),
            certificate: Arc::new(DtlsCertificate {
                inner: setup.certificate.clone(),
            }),
        };
        let sink = Arc::new(PeerEventSink { inner: events });
        let pc = self.0.create_peer(config, sink).map_err(failed)?;
        Ok(Arc::new(AppPeer::new(pc)))
    }

    fn local_track(
        &self,
        track: backend::TrackInfo,
    ) -> Result<sdk::LocalTrack, backend::BackendError> {
        // The app's platform captures and encodes; the SDK carries nothing.
        Ok(sdk::LocalTrack::new(track, None))
    }
}

/// The app's peer connection as the SDK's. Once a call of it timed out
/// it is unresponsive: no further call reaches it (one would run beside
/// the pending one), and the SDK closes it.
struct AppPeer {
    pc: Arc<dyn PeerConnectionAdapter>,
    unresponsive: std::sync::atomic::AtomicBool,
}

impl AppPeer {
    fn new(pc: Arc<dyn PeerConnectionAdapter>) -> Self {
        Self {
            pc,
            unresponsive: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn is_unresponsive(&self) -> bool {
        self.unresponsive.load(std::sync::atomic::Ordering::Acquire)
    }

    /// `call` on the app's connection, bounded by [`ADAPTER_TIMEOUT`].
    async fn answered<'a, T, F>(
        &'a self,
        call: impl FnOnce(&'a dyn PeerConnectionAdapter) -> F,
    ) -> Result<T, backend::BackendError>
    where
        F: std::future::Future<Output = Result<T, AdapterError>> + 'a,
    {
        if self.is_unresponsive() {
            return Err(backend::BackendError::unresponsive(
                "the app's peer connection stopped answering",
            ));
        }
        match tokio::time::timeout(ADAPTER_TIMEOUT, call(self.pc.as_ref())).await {
            Ok(r) => r.map_err(failed),
            Err(_) => {
                self.unresponsive
                    .store(true, std::sync::atomic::Ordering::Release);
                Err(backend::BackendError::unresponsive(format!(
                    "the app's peer connection did not answer within {} s",
                    ADAPTER_TIMEOUT.as_secs()
                )))
            }
        }
    }
}

#[async_trait::async_trait]
impl backend::PeerBackend for AppPeer {
    async fn create_offer(&self, ice_restart: bool) -> Result<String, backend::BackendError> {
        self.answered(|pc| pc.create_offer(ice_restart)).await
    }
    async fn create_answer(&self) -> Result<String, backend::BackendError> {
        self.answered(|pc| pc.create_answer()).await
    }
    async fn set_local(
        &self,
        kind: backend::SdpKind,
        sdp: String,
    ) -> Result<String, backend::BackendError> {
        self.answered(|pc| pc.set_local_description(sdp_type(kind), sdp))
            .await
    }
    async fn rollback(&self) -> Result<(), backend::BackendError> {
        self.answered(|pc| pc.rollback()).await
    }
    async fn set_remote(
        &self,
        kind: backend::SdpKind,
        sdp: String,
    ) -> Result<(), backend::BackendError> {
        self.answered(|pc| pc.set_remote_description(sdp_type(kind), sdp))
            .await
    }
    async fn add_candidate(&self, c: backend::IceCandidate) -> Result<(), backend::BackendError> {
        self.answered(|pc| {
            pc.add_ice_candidate(IceCandidateInit {
                candidate: c.candidate,
                sdp_mid: c.sdp_mid,
                sdp_mline_index: c.sdp_mline_index,
            })
        })
        .await
    }
    async fn add_track(&self, track: &sdk::LocalTrack) -> Result<(), backend::BackendError> {
        let (id, source) = (track.track_id().to_owned(), track.source().into());
        self.answered(|pc| pc.add_local_track(id, source)).await
    }
    async fn remove_track(&self, track_id: &str) -> Result<(), backend::BackendError> {
        self.answered(|pc| pc.remove_local_track(track_id.to_owned()))
            .await
    }
    async fn stop_remote_track(&self, track_id: &str) -> Result<(), backend::BackendError> {
        self.answered(|pc| pc.stop_remote_track(track_id.to_owned()))
            .await
    }
    async fn open_data_channel(&self, label: &str) -> Result<(), backend::BackendError> {
        self.answered(|pc| pc.create_data_channel(label.to_owned()))
            .await
    }
    async fn send_data(&self, label: &str, data: Vec<u8>) -> Result<(), backend::BackendError> {
        self.answered(|pc| pc.send_data(label.to_owned(), data))
            .await
    }
    async fn close(&self) {
        // Asked once even when unresponsive (the app frees what it can),
        // but not waited for long then.
        let wait = if self.is_unresponsive() {
            CLOSE_UNRESPONSIVE
        } else {
            ADAPTER_TIMEOUT
        };
        let _ = tokio::time::timeout(wait, self.pc.close_connection()).await;
    }
}

/// webrtc-rs behind the adapter traits, as an app's factory would be: for
/// desktop apps, and the tests that drive the FFI's own types.
#[cfg(feature = "webrtc")]
mod webrtc_rs {
    use super::*;

    /// The factory.
    struct WebrtcRsFactory {
        backend: Arc<dyn backend::MediaBackend>,
    }

    /// A webrtc-rs connection behind [`PeerConnectionAdapter`]. webrtc-rs
    /// builds a connection asynchronously and `create_peer` is
    /// synchronous, so it is built on the first call (the SDK always
    /// makes one: an offer, a remote description or a data channel).
    struct WebrtcRsAdapter {
        backend: Arc<dyn backend::MediaBackend>,
        setup: std::sync::Mutex<Option<(backend::PeerSetup, backend::PeerEvents)>>,
        pc: tokio::sync::OnceCell<Arc<dyn backend::PeerBackend>>,
    }

    impl WebrtcRsAdapter {
        async fn pc(&self) -> Result<&Arc<dyn backend::PeerBackend>, AdapterError> {
            self.pc
                .get_or_try_init(|| async {
                    let setup = self
                        .setup
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .take();
                    let (setup, events) = setup.ok_or_else(|| AdapterError::Failed {
                        reason: "the webrtc-rs connection could not be built".into(),
                    })?;
                    self.backend
                        .create_peer(setup, events)
                        .await
                        .map_err(adapter_error)
                })
                .await
        }
    }

    fn adapter_error(e: backend::BackendError) -> AdapterError {
        AdapterError::Failed {
            reason: e.message().to_owned(),
        }
    }

    fn kind(t: SdpType) -> backend::SdpKind {
        match t {
            SdpType::Offer => backend::SdpKind::Offer,
            SdpType::Answer => backend::SdpKind::Answer,
        }
    }

    impl MediaFactory for WebrtcRsFactory {
        fn create_peer(
            &self,
            config: PeerConfig,
            events: Arc<PeerEventSink>,
        ) -> Result<Arc<dyn PeerConnectionAdapter>, AdapterError> {
            let peer = bedside_protocol::ParticipantId::new(&config.peer).map_err(|e| {
                AdapterError::Failed {
                    reason: e.to_string(),
                }
            })?;
            let setup = backend::PeerSetup {
                peer,
                polite: config.polite,
                ice_servers: config
                    .ice_servers
                    .into_iter()
                    .map(|s| bedside_protocol::IceServer {
                        urls: s.urls,
                        username: s.username,
                        credential: s.credential,
                    })
                    .collect(),
                certificate: config.certificate.inner.clone(),
            };
            Ok(Arc::new(WebrtcRsAdapter {
                backend: self.backend.clone(),
                setup: std::sync::Mutex::new(Some((setup, events.inner.clone()))),
                pc: tokio::sync::OnceCell::new(),
            }))
        }
    }

    #[async_trait::async_trait]
    impl PeerConnectionAdapter for WebrtcRsAdapter {
        async fn create_offer(&self, ice_restart: bool) -> Result<String, AdapterError> {
            self.pc()
                .await?
                .create_offer(ice_restart)
                .await
                .map_err(adapter_error)
        }
        async fn create_answer(&self) -> Result<String, AdapterError> {
            self.pc()
                .await?
                .create_answer()
                .await
                .map_err(adapter_error)
        }
        async fn set_local_description(
            &self,
            sdp_type: SdpType,
            sdp: String,
        ) -> Result<String, AdapterError> {
            self.pc()
                .await?
                .set_local(kind(sdp_type), sdp)
                .await
                .map_err(adapter_error)
        }
        async fn rollback(&self) -> Result<(), AdapterError> {
            self.pc().await?.rollback().await.map_err(adapter_error)
        }
        async fn set_remote_description(
            &self,
            sdp_type: SdpType,
            sdp: String,
        ) -> Result<(), AdapterError> {
            self.pc()
                .await?
                .set_remote(kind(sdp_type), sdp)
                .await
                .map_err(adapter_error)
        }
        async fn add_ice_candidate(&self, c: IceCandidateInit) -> Result<(), AdapterError> {
            self.pc()
                .await?
                .add_candidate(backend::IceCandidate {
                    candidate: c.candidate,
                    sdp_mid: c.sdp_mid,
                    sdp_mline_index: c.sdp_mline_index,
                })
                .await
                .map_err(adapter_error)
        }
        async fn add_local_track(&self, _: String, _: TrackSource) -> Result<(), AdapterError> {
            Err(AdapterError::Failed {
                reason: "the webrtc-rs adapter carries no local media across the FFI".into(),
            })
        }
        async fn remove_local_track(&self, _: String) -> Result<(), AdapterError> {
            Ok(())
        }
        async fn stop_remote_track(&self, track_id: String) -> Result<(), AdapterError> {
            self.pc()
                .await?
                .stop_remote_track(&track_id)
                .await
                .map_err(adapter_error)
        }
        async fn create_data_channel(&self, label: String) -> Result<(), AdapterError> {
            self.pc()
                .await?
                .open_data_channel(&label)
                .await
                .map_err(adapter_error)
        }
        async fn send_data(&self, label: String, data: Vec<u8>) -> Result<(), AdapterError> {
            self.pc()
                .await?
                .send_data(&label, data)
                .await
                .map_err(adapter_error)
        }
        async fn close_connection(&self) {
            if let Some(pc) = self.pc.get() {
                pc.close().await;
            }
        }
    }

    /// A [`MediaFactory`] on webrtc-rs gathering on `udp_addrs`
    /// (`127.0.0.1:0` for loopback tests, `0.0.0.0:0` for any).
    #[uniffi::export]
    pub fn webrtc_rs_media_factory(udp_addrs: Vec<String>) -> Arc<dyn MediaFactory> {
        Arc::new(WebrtcRsFactory {
            backend: sdk::MediaConfig {
                udp_addrs,
                ..sdk::MediaConfig::default()
            }
            .webrtc_rs(),
        })
    }
}

#[cfg(feature = "webrtc")]
pub use webrtc_rs::webrtc_rs_media_factory;

#[cfg(test)]
mod tests {
    use super::PeerConnectionState;
    use bedside_sdk::native::media::ConnectionState as Core;

    #[test]
    fn every_connection_state_the_core_reports_keeps_its_name() {
        use Core::*;
        for s in [New, Connecting, Connected, Disconnected, Failed, Closed] {
            let ffi = PeerConnectionState::from_w3c(s.as_str());
            assert_eq!(format!("{ffi:?}"), format!("{s:?}"));
        }
    }
}

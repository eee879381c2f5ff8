//! What the SDK needs of a WebRTC stack, as traits: a [`MediaBackend`]
//! makes one [`PeerBackend`] per remote participant, and the peer reports
//! what happens to it through [`PeerEvents`]. The SDK keeps what is subtle
//! or security-critical (perfect negotiation, the fingerprint check on
//! every local and remote SDP, which tracks may be shown, the DTLS
//! certificate whose fingerprint is signed into the Hello); the backend
//! only performs operations, one at a time.
//!
//! Two backends exist: webrtc-rs (feature `webrtc`, desktop and tests:
//! [`super::MediaConfig::webrtc_rs`]) and the app's own platform WebRTC
//! (WebRTC.framework, org.webrtc) across the FFI (`bedside-ffi`).

use super::{MediaInput, PeerEvent};
use crate::session::negotiator::PeerState;
use bedside_protocol::{IceServer, ParticipantId, TrackSource};
use std::sync::Arc;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

pub use crate::session::negotiator::SdpKind;

/// A backend's failure, as text safe to show (never an SDP).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    message: String,
    unresponsive: bool,
}

impl BackendError {
    /// A failure described by `e`: the operation failed, the connection
    /// is still usable (the negotiator decides what next).
    pub fn new(e: impl std::fmt::Display) -> Self {
        Self {
            message: e.to_string(),
            unresponsive: false,
        }
    }

    /// The connection stopped answering (an operation never completed):
    /// the SDK closes it, since its real state is no longer known and a
    /// next operation could run beside the one still pending.
    pub fn unresponsive(e: impl std::fmt::Display) -> Self {
        Self {
            message: e.to_string(),
            unresponsive: true,
        }
    }

    /// Whether the connection stopped answering (see [`Self::unresponsive`]).
    pub fn is_unresponsive(&self) -> bool {
        self.unresponsive
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The device's DTLS certificate (ECDSA P-256), made by the SDK: every
/// peer connection of the device uses it, and its fingerprint is signed
/// into the device's Hello, so a peer can tell its media comes from this
/// device. Both platforms' WebRTC take it as PEM.
pub struct Certificate {
    /// The PKCS#8 private key, PEM (`-----BEGIN PRIVATE KEY-----`).
    private_key_pem: Zeroizing<String>,
    /// The certificate, PEM (`-----BEGIN CERTIFICATE-----`).
    certificate_pem: String,
    /// The key and certificate, DER.
    private_key_der: Zeroizing<Vec<u8>>,
    certificate_der: Vec<u8>,
    /// `sha-256 AB:CD:…`, normalized.
    fingerprint: String,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl Certificate {
    /// A fresh self-signed certificate with a fresh P-256 key.
    pub fn generate() -> Result<Self, BackendError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(BackendError::new)?;
        let params =
            rcgen::CertificateParams::new(vec!["bedside".to_owned()]).map_err(BackendError::new)?;
        let cert = params.self_signed(&key).map_err(BackendError::new)?;
        let der = cert.der().to_vec();
        Ok(Self {
            private_key_pem: Zeroizing::new(key.serialize_pem()),
            certificate_pem: cert.pem(),
            private_key_der: Zeroizing::new(key.serialize_der()),
            fingerprint: fingerprint_of(&der),
            certificate_der: der,
        })
    }

    /// `sha-256 AB:CD:…` (the form signed into the Hello).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The private key as PKCS#8 PEM: hand it to the platform's WebRTC
    /// only (`RTCCertificate(privateKey:certificate:)` on iOS,
    /// `RtcCertificatePem` on Android); never log or store it.
    pub fn private_key_pem(&self) -> &str {
        &self.private_key_pem
    }

    /// The certificate as PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The private key as PKCS#8 DER.
    pub fn private_key_der(&self) -> &[u8] {
        &self.private_key_der
    }

    /// The certificate as DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }
}

/// `sha-256 AB:CD:…` of a certificate's DER.
fn fingerprint_of(der: &[u8]) -> String {
    use sha2::Digest as _;
    let hex: Vec<String> = sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    format!("sha-256 {}", hex.join(":"))
}

/// What a new peer connection is to be built with.
#[derive(Debug, Clone)]
pub struct PeerSetup {
    /// The remote participant.
    pub peer: ParticipantId,
    /// This side's perfect-negotiation role (the SDK decides; informative).
    pub polite: bool,
    /// The hub's STUN/TURN servers from `welcome` (a backend adds its own).
    pub ice_servers: Vec<IceServer>,
    /// The device's certificate: the connection must use it and no other
    /// (an SDP with another fingerprint is refused).
    pub certificate: Arc<Certificate>,
}

/// An ICE candidate, as signalled (`candidate` empty: end of candidates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCandidate {
    /// The candidate attribute value (`candidate:…`).
    pub candidate: String,
    /// The `a=mid` of its media section.
    pub sdp_mid: Option<String>,
    /// The 0-based index of its media section.
    pub sdp_mline_index: Option<u32>,
}

/// A peer connection's state (the W3C `RTCPeerConnectionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
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

impl ConnectionState {
    /// The W3C name (`connected`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
            Self::Failed => "failed",
            Self::Closed => "closed",
        }
    }

    /// What the negotiator makes of it.
    pub(crate) fn for_negotiation(self) -> PeerState {
        match self {
            Self::New | Self::Connecting => PeerState::Connecting,
            Self::Connected => PeerState::Connected,
            Self::Disconnected => PeerState::Disconnected,
            Self::Failed => PeerState::Failed,
            Self::Closed => PeerState::Closed,
        }
    }
}

/// A remote track's RTP payloads, from a backend that reads RTP itself
/// (webrtc-rs); the app reads them through a `RemoteTrack`.
#[derive(Debug)]
pub struct RtpPayloads {
    /// The payloads, in arrival order.
    pub rx: mpsc::Receiver<Vec<u8>>,
    /// The task reading them (aborted when the track stops).
    pub reader: tokio::task::AbortHandle,
}

/// A track this device sends, as the SDK knows it: its announced id and
/// source. What carries its frames is the backend's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    /// The id announced to the hub, carried in `a=msid`.
    pub track_id: String,
    /// What it carries.
    pub source: TrackSource,
}

/// One peer connection. The SDK calls one method at a time per peer and
/// waits for it, so an implementation needs no locking of its own between
/// them; every SDP it returns is checked before it is used or sent.
#[async_trait::async_trait]
pub trait PeerBackend: Send + Sync {
    /// `createOffer` (with `iceRestart` when asked): the SDP.
    async fn create_offer(&self, ice_restart: bool) -> Result<String, BackendError>;
    /// `createAnswer`: the SDP.
    async fn create_answer(&self) -> Result<String, BackendError>;
    /// `setLocalDescription(kind, sdp)`: the local description as the
    /// connection now holds it (stacks may rewrite it).
    async fn set_local(&self, kind: SdpKind, sdp: String) -> Result<String, BackendError>;
    /// `setLocalDescription({type: "rollback"})`.
    async fn rollback(&self) -> Result<(), BackendError>;
    /// `setRemoteDescription(kind, sdp)`, with an SDP that passed the
    /// fingerprint check.
    async fn set_remote(&self, kind: SdpKind, sdp: String) -> Result<(), BackendError>;
    /// `addIceCandidate` (never with an empty candidate).
    async fn add_candidate(&self, candidate: IceCandidate) -> Result<(), BackendError>;
    /// Starts sending a local track (announced to the hub).
    async fn add_track(&self, track: &super::LocalTrack) -> Result<(), BackendError>;
    /// Stops sending the local track `track_id`.
    async fn remove_track(&self, track_id: &str) -> Result<(), BackendError>;
    /// Stops the remote track `track_id` (unannounced, or withdrawn by the
    /// hub or its owner): a platform that renders by itself disables the
    /// receiver, so it is never shown. The default does nothing (a backend
    /// whose payloads the SDK holds: the SDK stops them).
    async fn stop_remote_track(&self, track_id: &str) -> Result<(), BackendError> {
        let _ = track_id;
        Ok(())
    }
    /// Opens a data channel labelled `label`; its opening is reported
    /// with [`PeerEvents::data_channel_open`].
    async fn open_data_channel(&self, label: &str) -> Result<(), BackendError>;
    /// Sends `data` on the open channel `label`.
    async fn send_data(&self, label: &str, data: Vec<u8>) -> Result<(), BackendError>;
    /// Closes the connection; nothing is called after.
    async fn close(&self);
}

/// Makes the peer connections (one per remote participant) and the local
/// tracks of a device.
#[async_trait::async_trait]
pub trait MediaBackend: Send + Sync + std::fmt::Debug {
    /// A new peer connection for `setup`, reporting through `events`.
    async fn create_peer(
        &self,
        setup: PeerSetup,
        events: PeerEvents,
    ) -> Result<Arc<dyn PeerBackend>, BackendError>;

    /// A local track for an announced id, with whatever the backend needs
    /// to carry its frames (see [`super::LocalMedia`]).
    fn local_track(&self, track: TrackInfo) -> Result<super::LocalTrack, BackendError>;
}

/// How a peer connection tells the SDK what happened to it. Cheap to
/// clone, callable from any thread; after the client ended, calls do
/// nothing.
#[derive(Debug, Clone)]
pub struct PeerEvents {
    pub(super) peer: ParticipantId,
    /// The connection's generation: a closed connection's late calls are
    /// dropped, never taken for a newer connection's to the same peer.
    pub(super) generation: u64,
    pub(super) tx: mpsc::UnboundedSender<MediaInput>,
    /// The remote description being set on the connection, or last set.
    pub(super) remote: RemoteDescription,
}

/// The remote description the SDK is setting on a connection, or last set
/// (already checked against the sender's signed fingerprint); shared with
/// the connection's [`PeerEvents`] so a track's `mid` can be read against
/// it from inside `setRemoteDescription`, where `ontrack` fires.
pub(super) type RemoteDescription = Arc<std::sync::Mutex<Option<Arc<str>>>>;

impl PeerEvents {
    fn send(&self, event: PeerEvent) {
        let _ = self.tx.send(MediaInput::Peer {
            peer: self.peer.clone(),
            generation: self.generation,
            event,
        });
    }

    /// `negotiationneeded` fired.
    pub fn negotiation_needed(&self) {
        self.send(PeerEvent::NegotiationNeeded);
    }

    /// A local ICE candidate (`None`: gathering finished).
    pub fn local_candidate(&self, candidate: Option<IceCandidate>) {
        self.send(PeerEvent::LocalIce(candidate));
    }

    /// The connection's state changed.
    pub fn state(&self, state: ConnectionState) {
        self.send(PeerEvent::State(state));
    }

    /// The data channel `label` is open (either side opened it).
    pub fn data_channel_open(&self, label: String) {
        self.send(PeerEvent::ChannelOpen(label));
    }

    /// A message arrived on the data channel `label`.
    pub fn data(&self, label: String, data: Vec<u8>) {
        self.send(PeerEvent::ChannelData(label, data));
    }

    /// A remote track arrived, carrying `a=msid` track id `track_id`.
    /// The SDK answers with `MediaEvent::RemoteTrack` when it was
    /// announced, or `MediaEvent::RemoteTrackRefused` (never render it).
    /// `payloads`, when the backend reads RTP itself (webrtc-rs): the
    /// track's RTP payloads, handed to the app as a `RemoteTrack`.
    pub fn remote_track(&self, track_id: String, payloads: Option<RtpPayloads>) {
        self.send(PeerEvent::RemoteTrack(track_id, payloads));
    }

    /// The track id that the section `mid` of the remote description names
    /// in its `a=msid`, read by the hub's rule, if the sender sends in it.
    /// For stacks whose remote tracks get ids of their own (libwebrtc,
    /// browsers under Unified Plan: the receiving track's id is not the
    /// sender's): in `ontrack`, look up the transceiver's `mid` and report
    /// the track under this id ([`Self::remote_track`]); `None` means the
    /// section names no track (never render it). Valid from inside the
    /// `set_remote` call that made the track arrive.
    pub fn track_id_at(&self, mid: &str) -> Option<String> {
        let sdp = self.remote.lock().ok()?.clone()?;
        let sections = crate::session::sections::sections(&sdp);
        let section = crate::session::sections::by_mid(&sections, mid)?;
        if section.direction.sends() {
            section.track_id.clone()
        } else {
            None
        }
    }
}

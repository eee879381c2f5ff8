//! The webrtc-rs (0.21) backend: for desktop apps and the SDK's tests.
//! Each peer connection is built with the default codecs and interceptors,
//! the app's and the hub's ICE servers and the device's certificate; its
//! callbacks are forwarded as [`PeerEvents`]. Local tracks take encoded
//! frames from the app ([`track`]); remote tracks' RTP payloads are read
//! here and handed to the app.

mod data_channel;
mod peer;
mod track;

use super::LocalTrack;
use super::backend::{
    BackendError, Certificate, MediaBackend, PeerBackend, PeerEvents, PeerSetup, TrackInfo,
};
use std::sync::Arc;
use webrtc::peer_connection::crypto::default_provider;
use webrtc::peer_connection::{RTCCertificate, RTCIceServer};

/// WebRTC settings of the webrtc-rs backend. The default gathers on
/// `0.0.0.0:0` with no servers of the app's own.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Local UDP addresses (`ip:port`, port 0 for any) to gather host
    /// candidates on. `0.0.0.0:0` skips loopback in webrtc-rs; tests use
    /// `127.0.0.1:0`.
    pub udp_addrs: Vec<String>,
    /// The app's STUN/TURN servers; the hub's `welcome.ice_servers` are
    /// added after them for each new peer connection.
    pub ice_servers: Vec<RTCIceServer>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            udp_addrs: vec!["0.0.0.0:0".into()],
            ice_servers: Vec::new(),
        }
    }
}

impl MediaConfig {
    /// The webrtc-rs backend with these settings, for
    /// `native::ClientConfig::media`.
    pub fn webrtc_rs(self) -> Arc<dyn MediaBackend> {
        Arc::new(WebrtcRs { cfg: self })
    }
}

/// The webrtc-rs backend.
#[derive(Debug)]
struct WebrtcRs {
    cfg: MediaConfig,
}

#[async_trait::async_trait]
impl MediaBackend for WebrtcRs {
    async fn create_peer(
        &self,
        setup: PeerSetup,
        events: PeerEvents,
    ) -> Result<Arc<dyn PeerBackend>, BackendError> {
        Ok(Arc::new(
            peer::WebrtcRsPeer::open(&self.cfg, setup, events).await?,
        ))
    }

    fn local_track(&self, track: TrackInfo) -> Result<LocalTrack, BackendError> {
        track::sample_track(track)
    }
}

/// The device's certificate as webrtc-rs holds it (its loader reads the
/// key under the PEM tag `PRIVATE_KEY`, so the PEM is written for it).
fn certificate(cert: &Certificate) -> Result<RTCCertificate, BackendError> {
    use base64::Engine as _;
    let block = |tag: &str, der: &[u8]| {
        let b64 = zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
        let mut pem = zeroize::Zeroizing::new(format!("-----BEGIN {tag}-----\n"));
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str(&format!("-----END {tag}-----\n"));
        pem
    };
    let mut pem = block("PRIVATE_KEY", cert.private_key_der());
    pem.push_str(&block("CERTIFICATE", cert.certificate_der()));
    let provider = default_provider().map_err(BackendError::new)?;
    let dtls = rtc::dtls::crypto::Certificate::from_pem(&pem, provider.crypto())
        .map_err(BackendError::new)?;
    // A week: the certificate's own validity is longer; webrtc-rs only
    // needs an expiry for its bookkeeping.
    let expires = std::time::SystemTime::now() + std::time::Duration::from_secs(7 * 86_400);
    Ok(RTCCertificate::from_existing(dtls, expires))
}

//! The tracks this device sends: a [`LocalTrack`] for each announced id,
//! added to every peer connection, present and future, and removed from
//! them all when it is withdrawn.

use super::backend::{BackendError, TrackInfo};
use super::{Media, transport};
use crate::session::SdkError;
use bedside_protocol::{ParticipantId, TrackSource};
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

/// What carries a local track's frames, when the backend takes them from
/// the app through the SDK (webrtc-rs). A backend whose platform captures
/// by itself (the app's WebRTC on a phone) has none.
#[async_trait::async_trait]
pub trait LocalMedia: Send + Sync {
    /// Sends one encoded frame lasting `duration`.
    async fn write_sample(&self, data: Vec<u8>, duration: Duration) -> Result<(), BackendError>;
    /// The backend's own type, for its `PeerBackend::add_track`.
    fn as_any(&self) -> &dyn Any;
}

/// A track this device sends, from `native::Client::add_track` (which
/// announced it to the hub). With webrtc-rs, write encoded frames (VP8 for
/// camera and screen, Opus for the microphone) and the SDK packetizes them
/// to every peer connection, present and future. Clones are handles to the
/// same track. Dropping them does not stop it:
/// `native::Client::unpublish_track` with [`LocalTrack::track_id`] does.
#[derive(Clone)]
pub struct LocalTrack {
    info: TrackInfo,
    media: Option<Arc<dyn LocalMedia>>,
}

impl std::fmt::Debug for LocalTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTrack")
            .field("track_id", &self.info.track_id)
            .field("source", &self.info.source)
            .finish_non_exhaustive()
    }
}

impl LocalTrack {
    /// A track for `info`, its frames carried by `media` (if the SDK
    /// carries them).
    pub fn new(info: TrackInfo, media: Option<Arc<dyn LocalMedia>>) -> Self {
        Self { info, media }
    }

    /// The id announced to the hub and carried in `a=msid` (32 lower-case
    /// hex characters when made by `add_track`).
    pub fn track_id(&self) -> &str {
        &self.info.track_id
    }

    /// What it carries, as announced.
    pub fn source(&self) -> TrackSource {
        self.info.source
    }

    /// The backend's carrier of its frames.
    pub fn media(&self) -> Option<&Arc<dyn LocalMedia>> {
        self.media.as_ref()
    }

    /// Sends one encoded frame (a VP8 frame or an Opus packet) lasting
    /// `duration`, which advances the RTP timestamp (duration × clock
    /// rate: 90 kHz for VP8, 48 kHz for Opus). Error: [`SdkError::Transport`]
    /// when the backend fails to packetize or write it, or captures by
    /// itself (the app's own WebRTC).
    pub async fn write_sample(&self, data: Vec<u8>, duration: Duration) -> Result<(), SdkError> {
        let media = self
            .media
            .as_ref()
            .ok_or_else(|| transport("this track's frames come from the app's own WebRTC"))?;
        media.write_sample(data, duration).await.map_err(transport)
    }
}

impl Media {
    /// Creates a local track; the caller has announced it.
    pub(crate) fn new_local_track(
        &self,
        source: TrackSource,
        track_id: &str,
    ) -> Result<LocalTrack, SdkError> {
        self.backend
            .local_track(TrackInfo {
                track_id: track_id.to_owned(),
                source,
            })
            .map_err(transport)
    }

    /// Adds the local track `t` to the connection to `peer` (once).
    pub(super) async fn send_track_to(
        &mut self,
        peer: &ParticipantId,
        t: &LocalTrack,
    ) -> Result<(), SdkError> {
        let p = self.peer(peer)?;
        if p.sending.contains(t.track_id()) {
            return Ok(());
        }
        p.pc.add_track(t).await.map_err(transport)?;
        p.sending.insert(t.track_id().to_owned());
        Ok(())
    }

    /// Stops sending a local track to everyone; `false` if unknown.
    pub(super) async fn remove_local(&mut self, track_id: &str) -> bool {
        if self.local.remove(track_id).is_none() {
            return false;
        }
        for p in self.peers.values_mut() {
            if p.sending.remove(track_id) {
                let _ = p.pc.remove_track(track_id).await;
            }
        }
        true
    }
}

//! The tracks this device sends: the [`LocalTrack`] the app writes encoded
//! frames to (VP8 or Opus, with its own SSRC), created for an announced
//! id, and added to or removed from every peer connection.

use super::{Media, transport};
use crate::session::SdkError;
use bedside_protocol::{ParticipantId, TrackSource};
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;

/// A track this device sends, from `native::Client::add_track` (which
/// announced it to the hub): write encoded frames (VP8 for camera and
/// screen, Opus for the microphone) and the SDK packetizes them to every
/// peer connection, present and future. Clones are handles to the same
/// track. Dropping them does not stop it: `native::Client::unpublish_track`
/// with [`LocalTrack::track_id`] does.
#[derive(Clone)]
pub struct LocalTrack {
    /// The announced id.
    pub(super) track_id: String,
    source: TrackSource,
    track: Arc<TrackLocalStaticSample>,
    ssrc: u32,
    payload_type: u8,
}

impl std::fmt::Debug for LocalTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTrack")
            .field("track_id", &self.track_id)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl LocalTrack {
    /// The id announced to the hub and carried in `a=msid` (32 lower-case
    /// hex characters when made by `add_track`).
    pub fn track_id(&self) -> &str {
        &self.track_id
    }

    /// What it carries, as announced.
    pub fn source(&self) -> TrackSource {
        self.source
    }

    /// Sends one encoded frame (a VP8 frame or an Opus packet) lasting
    /// `duration`, which advances the RTP timestamp (duration × clock
    /// rate: 90 kHz for VP8, 48 kHz for Opus). Error: [`SdkError::Transport`]
    /// when webrtc-rs fails to packetize or write it.
    pub async fn write_sample(&self, data: Vec<u8>, duration: Duration) -> Result<(), SdkError> {
        let sample = Sample {
            data: data.into(),
            duration,
            ..Sample::new(Instant::now())
        };
        self.track
            .sample_writer(self.ssrc, self.payload_type)
            .write_sample(&sample)
            .await
            .map_err(transport)
    }
}

impl Media {
    /// Creates a local track; the caller has announced it.
    pub(crate) fn new_local_track(
        &self,
        source: TrackSource,
        track_id: &str,
    ) -> Result<LocalTrack, SdkError> {
        let (kind, codec, payload_type) = match source {
            TrackSource::Microphone => (
                RtpCodecKind::Audio,
                RTCRtpCodec {
                    mime_type: MIME_TYPE_OPUS.to_owned(),
                    clock_rate: 48000,
                    channels: 2,
                    sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                    rtcp_feedback: vec![],
                },
                111,
            ),
            TrackSource::Camera | TrackSource::Screen => (
                RtpCodecKind::Video,
                RTCRtpCodec {
                    mime_type: MIME_TYPE_VP8.to_owned(),
                    clock_rate: 90000,
                    channels: 0,
                    sdp_fmtp_line: String::new(),
                    rtcp_feedback: vec![],
                },
                96,
            ),
        };
        let ssrc = rand_core::RngCore::next_u32(&mut rand_core::OsRng);
        let track = TrackLocalStaticSample::new(
            Instant::now(),
            MediaStreamTrack::new(
                "bedside".to_owned(),
                track_id.to_owned(),
                format!("{source:?}"),
                kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(ssrc),
                        ..Default::default()
                    },
                    codec,
                    ..Default::default()
                }],
            ),
        )
        .map_err(transport)?;
        Ok(LocalTrack {
            track_id: track_id.to_owned(),
            source,
            track: Arc::new(track),
            ssrc,
            payload_type,
        })
    }

    /// Adds the local track `t` to the connection to `peer` (once).
    pub(super) async fn send_track_to(
        &mut self,
        peer: &ParticipantId,
        t: &LocalTrack,
    ) -> Result<(), SdkError> {
        let p = self.peer(peer)?;
        if p.senders.contains_key(&t.track_id) {
            return Ok(());
        }
        let sender =
            p.pc.add_track(Arc::clone(&t.track) as Arc<dyn TrackLocal>)
                .await
                .map_err(transport)?;
        p.senders.insert(t.track_id.clone(), sender);
        Ok(())
    }

    /// Stops sending a local track to everyone; `false` if unknown.
    pub(super) async fn remove_local(&mut self, track_id: &str) -> bool {
        if self.local.remove(track_id).is_none() {
            return false;
        }
        for p in self.peers.values_mut() {
            if let Some(sender) = p.senders.remove(track_id) {
                let _ = p.pc.remove_track(&sender).await;
            }
        }
        true
    }
}

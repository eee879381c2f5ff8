//! webrtc-rs tracks: a local track the app writes encoded frames to (VP8
//! or Opus, with its own SSRC), and the reader of a remote track's RTP
//! payloads.

use crate::native::media::backend::{BackendError, RtpPayloads, TrackInfo};
use crate::native::media::{LocalMedia, LocalTrack};
use bedside_protocol::TrackSource;
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// What carries a webrtc-rs local track's frames.
pub(super) struct SampleTrack {
    pub(super) track: Arc<TrackLocalStaticSample>,
    ssrc: u32,
    payload_type: u8,
}

#[async_trait::async_trait]
impl LocalMedia for SampleTrack {
    async fn write_sample(&self, data: Vec<u8>, duration: Duration) -> Result<(), BackendError> {
        let sample = Sample {
            data: data.into(),
            duration,
            ..Sample::new(Instant::now())
        };
        self.track
            .sample_writer(self.ssrc, self.payload_type)
            .write_sample(&sample)
            .await
            .map_err(BackendError::new)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A local track for `info`: Opus for the microphone, VP8 for camera and
/// screen.
pub(super) fn sample_track(info: TrackInfo) -> Result<LocalTrack, BackendError> {
    let source = info.source;
    let track_id = info.track_id.as_str();
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
    .map_err(BackendError::new)?;
    let media = SampleTrack {
        track: Arc::new(track),
        ssrc,
        payload_type,
    };
    Ok(LocalTrack::new(info.clone(), Some(Arc::new(media))))
}

/// Reads `track`'s RTP payloads until it ends (a slow reader loses
/// packets, not memory: 256 are buffered) or the reader is aborted.
pub(super) fn read_payloads(track: Arc<dyn TrackRemote>) -> RtpPayloads {
    let (tx, rx) = mpsc::channel(256);
    let task = tokio::spawn(async move {
        while let Some(ev) = track.poll().await {
            match ev {
                TrackRemoteEvent::OnRtpPacket(pkt) => {
                    let _ = tx.try_send(pkt.payload.to_vec());
                }
                TrackRemoteEvent::OnEnded => break,
                _ => {}
            }
        }
    });
    RtpPayloads {
        rx,
        reader: task.abort_handle(),
    }
}

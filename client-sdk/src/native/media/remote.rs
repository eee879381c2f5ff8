//! The tracks this device receives: each matched to its announcement (an
//! unannounced one is refused), its RTP payloads forwarded to a
//! [`RemoteTrack`] until the app takes it, and stopped when it is withdrawn
//! or its sender leaves.

use super::{Media, MediaOutput, Receiving};
use crate::session::{Event, MediaEvent, Session};
use bedside_protocol::{ParticipantId, TrackSource};
use std::sync::Arc;
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// A remote participant's track, from `native::Client::take_remote_track`
/// after [`MediaEvent::RemoteTrack`](crate::session::MediaEvent::RemoteTrack):
/// readable while its announcement stands. [`RemoteTrack::next_payload`]
/// returns `None` once the track stopped (withdrawn by the hub or its
/// owner, or the peer went away) and what was buffered is read.
#[derive(Debug)]
pub struct RemoteTrack {
    /// The sender.
    pub peer: ParticipantId,
    /// The announced track id (as in the sender's `a=msid`).
    pub track_id: String,
    /// What it carries, per the announcement.
    pub source: TrackSource,
    rx: mpsc::Receiver<Vec<u8>>,
}

impl RemoteTrack {
    /// The payload of the next RTP packet, in arrival order: the bytes after
    /// the RTP header, still in the codec's RTP payload format (not
    /// depacketized into frames). Up to 256 payloads are buffered; a
    /// reader that falls further behind loses packets, not memory.
    pub async fn next_payload(&mut self) -> Option<Vec<u8>> {
        self.rx.recv().await
    }
}

impl Media {
    /// Hands a remote track to the app (once).
    pub(crate) fn take_remote_track(
        &mut self,
        peer: &ParticipantId,
        track_id: &str,
    ) -> Option<RemoteTrack> {
        self.unclaimed.remove(&(peer.clone(), track_id.to_owned()))
    }

    /// Stops receiving `track_id` from `peer` (reporting it if it was
    /// received).
    pub(super) fn stop_remote(
        &mut self,
        peer: &ParticipantId,
        track_id: &str,
        out: &mut Vec<MediaOutput>,
    ) {
        let key = (peer.clone(), track_id.to_owned());
        self.unclaimed.remove(&key);
        if let Some(r) = self.receiving.remove(&key) {
            r.task.abort();
            out.push(MediaOutput::Event(Event::Media(
                MediaEvent::RemoteTrackStopped {
                    peer: peer.clone(),
                    track_id: track_id.to_owned(),
                },
            )));
        }
    }

    /// A track arrived from `peer`: refused if not announced, else its
    /// payloads are forwarded to a [`RemoteTrack`] for the app.
    pub(super) async fn remote_track(
        &mut self,
        peer: ParticipantId,
        track: Arc<dyn TrackRemote>,
        session: &Session,
        out: &mut Vec<MediaOutput>,
    ) {
        let track_id = track.track_id().await.to_string();
        let announced = session.announced_source(&peer, &track_id);
        let Some(source) = announced else {
            // Not announced (or already withdrawn): never rendered.
            out.push(MediaOutput::Event(Event::Media(
                MediaEvent::RemoteTrackRefused { peer, track_id },
            )));
            return;
        };
        let (tx, rx) = mpsc::channel(256);
        let task = tokio::spawn(async move {
            while let Some(ev) = track.poll().await {
                match ev {
                    TrackRemoteEvent::OnRtpPacket(pkt) => {
                        // A slow reader loses packets rather than memory.
                        let _ = tx.try_send(pkt.payload.to_vec());
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
        let key = (peer.clone(), track_id.clone());
        if let Some(old) = self.receiving.insert(key.clone(), Receiving { task }) {
            old.task.abort();
        }
        self.unclaimed.insert(
            key,
            RemoteTrack {
                peer: peer.clone(),
                track_id: track_id.clone(),
                source,
                rx,
            },
        );
        out.push(MediaOutput::Event(Event::Media(MediaEvent::RemoteTrack {
            peer,
            track_id,
            source,
        })));
    }
}

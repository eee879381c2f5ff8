//! The tracks this device receives: each matched to its announcement (an
//! unannounced one is refused, and the app told never to render it), its
//! RTP payloads (from a backend that reads them) handed to a
//! [`RemoteTrack`] until the app takes it, and stopped when it is withdrawn
//! or its sender leaves.

use super::backend::RtpPayloads;
use super::{Media, MediaOutput};
use crate::session::{Event, MediaEvent, Session};
use bedside_protocol::{ParticipantId, TrackSource};
use tokio::sync::mpsc;

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
    /// received), and has the backend stop it too (a platform that renders
    /// by itself disables the receiver).
    pub(super) async fn stop_remote(
        &mut self,
        peer: &ParticipantId,
        track_id: &str,
        out: &mut Vec<MediaOutput>,
    ) {
        let key = (peer.clone(), track_id.to_owned());
        self.unclaimed.remove(&key);
        if let Some(reader) = self.receiving.remove(&key) {
            if let Some(r) = reader {
                r.abort();
            }
            if let Some(p) = self.peers.get(peer) {
                let _ = p.pc.stop_remote_track(track_id).await;
            }
            out.push(MediaOutput::Event(Event::Media(
                MediaEvent::RemoteTrackStopped {
                    peer: peer.clone(),
                    track_id: track_id.to_owned(),
                },
            )));
        }
    }

    /// A track arrived from `peer`: refused if not announced, else its
    /// payloads (if the backend reads them) wait for the app.
    pub(super) async fn remote_track(
        &mut self,
        peer: ParticipantId,
        track_id: String,
        payloads: Option<RtpPayloads>,
        session: &Session,
        out: &mut Vec<MediaOutput>,
    ) {
        let announced = session.announced_source(&peer, &track_id);
        let Some(source) = announced else {
            // Not announced (or already withdrawn): never rendered.
            if let Some(p) = payloads {
                p.reader.abort();
            }
            if let Some(p) = self.peers.get(&peer) {
                let _ = p.pc.stop_remote_track(&track_id).await;
            }
            out.push(MediaOutput::Event(Event::Media(
                MediaEvent::RemoteTrackRefused { peer, track_id },
            )));
            return;
        };
        let key = (peer.clone(), track_id.clone());
        let (reader, rx) = match payloads {
            Some(p) => (Some(p.reader), Some(p.rx)),
            None => (None, None),
        };
        if let Some(Some(old)) = self.receiving.insert(key.clone(), reader) {
            old.abort();
        }
        if let Some(rx) = rx {
            self.unclaimed.insert(
                key,
                RemoteTrack {
                    peer: peer.clone(),
                    track_id: track_id.clone(),
                    source,
                    rx,
                },
            );
        }
        out.push(MediaOutput::Event(Event::Media(MediaEvent::RemoteTrack {
            peer,
            track_id,
            source,
        })));
    }
}

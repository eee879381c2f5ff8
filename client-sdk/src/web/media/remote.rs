//! The tracks peers send: each matched through its transceiver's `mid` to
//! a section of the remote description and to its sender's announcement;
//! new ones are handed to the app, withdrawn or no-longer-sent ones
//! stopped, unannounced ones refused (reported once).

use super::Media;
use crate::session::sections::{self, Kind};
use crate::session::{Event, MediaEvent, Session};
use crate::web::WebEvent;
use bedside_protocol::ParticipantId;
use std::collections::BTreeSet;
use wasm_bindgen::JsCast;
use web_sys::RtcRtpTransceiver;

impl Media {
    /// Matches the tracks `peer` sends (per the remote description) to its
    /// announcements: new ones are handed to the app, withdrawn or
    /// no-longer-sent ones stopped, unannounced ones refused.
    pub(super) fn scan_remote(&mut self, id: &ParticipantId, s: &Session) {
        let Some(p) = self.peers.get_mut(id) else {
            return;
        };
        let Some(remote) = p.pc.remote_description() else {
            return;
        };
        let secs = sections::sections(&remote.sdp());
        let mut sent = BTreeSet::new();
        let mut events = Vec::new();
        let mut started = Vec::new();
        for t in p.pc.get_transceivers().iter() {
            let t: RtcRtpTransceiver = t.unchecked_into();
            let Some(mid) = t.mid() else { continue };
            let Some(sec) = sections::by_mid(&secs, &mid) else {
                continue;
            };
            if !sec.direction.sends() || sec.kind == Kind::Other {
                continue;
            }
            let Some(track_id) = sec.track_id.clone() else {
                continue;
            };
            sent.insert(track_id.clone());
            if self.receiving.contains_key(&(id.clone(), track_id.clone())) {
                continue;
            }
            match s.announced_source(id, &track_id) {
                Some(source) => {
                    p.refused.remove(&track_id);
                    started.push((track_id.clone(), source));
                    events.push(WebEvent::RemoteTrack {
                        peer: id.clone(),
                        track_id,
                        source,
                        track: t.receiver().track(),
                    });
                }
                None => {
                    if p.refused.insert(track_id.clone()) {
                        events.push(WebEvent::Event(Event::Media(
                            MediaEvent::RemoteTrackRefused {
                                peer: id.clone(),
                                track_id,
                            },
                        )));
                    }
                }
            }
        }
        for (track_id, source) in started {
            self.receiving.insert((id.clone(), track_id), source);
        }
        let gone: Vec<String> = self
            .receiving
            .keys()
            .filter(|(p, t)| p == id && !sent.contains(t))
            .map(|(_, t)| t.clone())
            .collect();
        for t in gone {
            self.stop_remote(id, &t);
        }
        for e in events {
            self.event(e);
        }
    }

    /// Stops receiving `track_id` from `peer` (reporting it if it was
    /// received).
    pub(super) fn stop_remote(&mut self, peer: &ParticipantId, track_id: &str) {
        let key = (
            peer.clone(),
            sections::normalize_track_id(track_id).to_owned(),
        );
        if self.receiving.remove(&key).is_some() {
            self.event(WebEvent::Event(Event::Media(
                MediaEvent::RemoteTrackStopped {
                    peer: peer.clone(),
                    track_id: key.1,
                },
            )));
        }
    }
}

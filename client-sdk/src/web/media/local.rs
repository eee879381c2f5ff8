//! The tracks this device sends: publishing, unpublishing and replacing
//! them on every connection (reusing a free transceiver of the same kind),
//! ending one whose announcement the hub withdrew, and announcing the ids
//! each local description carries for them (an id no longer sent is
//! withdrawn once no peer's description carries it).

use super::{Local, Media, MediaInput, MediaOut, handle, same};
use crate::session::{SdkError, sections};
use crate::web::{WebEvent, js_error, transport};
use bedside_protocol::{ParticipantId, TrackSource};
use js_sys::{Array, Reflect};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Event as DomEvent, MediaStream, MediaStreamTrack, RtcPeerConnection, RtcRtpSender,
    RtcRtpTransceiver, RtcRtpTransceiverDirection,
};

fn source_kind(source: TrackSource) -> &'static str {
    match source {
        TrackSource::Microphone => "audio",
        TrackSource::Camera | TrackSource::Screen => "video",
    }
}

impl Media {
    /// Starts sending `track` as `source` to every peer (and to those who
    /// come later). Its announcement follows from the local description.
    pub(crate) fn publish(
        &mut self,
        track: MediaStreamTrack,
        source: TrackSource,
    ) -> Result<(), SdkError> {
        if track.kind() != source_kind(source) {
            return Err(SdkError::Transport(format!(
                "a {source:?} track must be {}",
                source_kind(source)
            )));
        }
        if self.locals.iter().any(|l| same(&l.track, &track)) {
            return Ok(());
        }
        let stream =
            MediaStream::new_with_tracks(&Array::of1(&track)).map_err(transport("MediaStream"))?;
        let post = Rc::clone(&self.post);
        let ended = handle(&track);
        let on_ended = Closure::<dyn FnMut(DomEvent)>::new(move |_| {
            post(MediaInput::LocalEnded(handle(&ended)));
        });
        track.set_onended(Some(on_ended.as_ref().unchecked_ref()));
        for p in self.peers.values_mut() {
            let sender = send_on(&p.pc, &track, &stream);
            p.senders.push((handle(&track), sender));
        }
        self.locals.push(Local {
            source,
            track,
            stream,
            announced: BTreeMap::new(),
            _on_ended: on_ended,
        });
        Ok(())
    }

    /// Stops sending `track` and withdraws its announcements; `false` if it
    /// is not sent. The track itself is left to the app (it may preview it).
    pub(crate) fn unpublish(&mut self, track: &MediaStreamTrack) -> bool {
        let Some(i) = self.locals.iter().position(|l| same(&l.track, track)) else {
            return false;
        };
        let mut local = self.locals.remove(i);
        local.track.set_onended(None);
        for p in self.peers.values_mut() {
            p.senders.retain(|(t, sender)| {
                let keep = !same(t, track);
                if !keep {
                    p.pc.remove_track(sender);
                }
                keep
            });
        }
        let source = local.source;
        for (id, peers) in std::mem::take(&mut local.announced) {
            self.retired.insert(id, (source, peers));
        }
        // Withdrawn now where no connection is left to renegotiate.
        let gone: Vec<String> = self
            .retired
            .iter()
            .filter(|(_, (_, peers))| peers.iter().all(|p| !self.peers.contains_key(p)))
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.retired.remove(&id);
            self.out.push(MediaOut::Unpublish(id));
        }
        true
    }

    /// Sends `new` in place of `old` on every connection without
    /// renegotiating (a device switch): the announced ids stay.
    pub(crate) fn replace(
        &mut self,
        old: &MediaStreamTrack,
        new: MediaStreamTrack,
    ) -> Result<(), SdkError> {
        if self.locals.iter().any(|l| same(&l.track, &new)) {
            return Err(SdkError::Transport(
                "that track is already published".into(),
            ));
        }
        let local = self
            .locals
            .iter_mut()
            .find(|l| same(&l.track, old))
            .ok_or_else(|| SdkError::Transport("that track is not published".into()))?;
        if new.kind() != old.kind() {
            return Err(SdkError::Transport(
                "a track can only be replaced by one of its kind".into(),
            ));
        }
        old.set_onended(None);
        local.stream.remove_track(old);
        local.stream.add_track(&new);
        local.track = handle(&new);
        // The ended handler posts the track it was made for: remake it.
        let post = Rc::clone(&self.post);
        let ended = handle(&new);
        local._on_ended = Closure::new(move |_| post(MediaInput::LocalEnded(handle(&ended))));
        new.set_onended(Some(local._on_ended.as_ref().unchecked_ref()));
        for p in self.peers.values_mut() {
            for (t, sender) in p.senders.iter_mut() {
                if same(t, old) {
                    *t = handle(&new);
                    let promise = sender.replace_track(Some(&new));
                    let post = Rc::clone(&self.post);
                    wasm_bindgen_futures::spawn_local(async move {
                        if let Err(e) = JsFuture::from(promise).await {
                            post(MediaInput::ReplaceFailed(js_error("replaceTrack", &e)));
                        }
                    });
                }
            }
        }
        Ok(())
    }

    /// The hub withdrew one of our announcements (a revoke): stop sending
    /// that track everywhere and end it, so the browser's sharing
    /// indicator goes away.
    pub(super) fn withdrawn(&mut self, track_id: &str) {
        let Some(local) = self
            .locals
            .iter()
            .find(|l| l.announced.contains_key(track_id))
        else {
            return;
        };
        let track = handle(&local.track);
        self.end_withdrawn(&track);
    }

    /// Our screen share permission is gone: ends every screen track,
    /// including one published while the revoke was on its way (the hub
    /// refused its announcement, so it has nothing to withdraw).
    pub(super) fn screen_share_revoked(&mut self) {
        let screens: Vec<MediaStreamTrack> = self
            .locals
            .iter()
            .filter(|l| l.source == TrackSource::Screen)
            .map(|l| handle(&l.track))
            .collect();
        for track in screens {
            self.end_withdrawn(&track);
        }
    }

    /// Stops sending `track`, whose ids the hub withdrew or never took,
    /// ends it and tells the app.
    fn end_withdrawn(&mut self, track: &MediaStreamTrack) {
        let Some(local) = self.locals.iter().find(|l| same(&l.track, track)) else {
            return;
        };
        let source = local.source;
        let ids: BTreeSet<String> = local.announced.keys().cloned().collect();
        if self.unpublish(track) {
            // The hub withdrew every id of this track itself (a revoke
            // withdraws all screen tracks): unpublishing them again would
            // only earn `not_found`.
            self.retired.retain(|id, _| !ids.contains(id));
            self.out
                .retain(|o| !matches!(o, MediaOut::Unpublish(id) if ids.contains(id)));
            track.stop();
            self.event(WebEvent::LocalTrackStopped {
                track: handle(track),
                source,
            });
        }
    }

    /// Records the ids the local description carries for our tracks and
    /// announces the new ones (before the SDP is signalled).
    pub(super) fn announce(&mut self, id: &ParticipantId, sdp: &str) {
        let Some(p) = self.peers.get(id) else {
            return;
        };
        let secs = sections::sections(sdp);
        let mut sent: BTreeSet<String> = BTreeSet::new();
        for t in p.pc.get_transceivers().iter() {
            let t: RtcRtpTransceiver = t.unchecked_into();
            let Some(mid) = t.mid() else { continue };
            let Some(sec) = sections::by_mid(&secs, &mid) else {
                continue;
            };
            let (Some(track_id), true) = (&sec.track_id, sec.direction.sends()) else {
                continue;
            };
            sent.insert(track_id.clone());
            // Matched by sender, not by `sender.track`: a reused sender's
            // `replaceTrack` may not have settled when the offer is made.
            let sender = t.sender();
            let Some((track, _)) = p.senders.iter().find(|(_, s)| same(s, &sender)) else {
                continue; // a retired track this SDP still carries
            };
            let Some(local) = self.locals.iter_mut().find(|l| same(&l.track, track)) else {
                continue;
            };
            let peers = local.announced.entry(track_id.clone()).or_default();
            if peers.is_empty() {
                match self.retired.remove(track_id) {
                    // The same id sent again (a reused sender): still
                    // announced; a new source needs a new announcement.
                    Some((source, _)) if source == local.source => {}
                    Some(_) => {
                        self.out.push(MediaOut::Unpublish(track_id.clone()));
                        self.out.push(MediaOut::Publish {
                            source: local.source,
                            track_id: track_id.clone(),
                        });
                    }
                    None => self.out.push(MediaOut::Publish {
                        source: local.source,
                        track_id: track_id.clone(),
                    }),
                }
            }
            peers.insert(id.clone());
        }
        // Retired ids this peer's description no longer carries.
        self.retired.retain(|track_id, (_, peers)| {
            if !sent.contains(track_id) {
                peers.remove(id);
            }
            let keep = !peers.is_empty();
            if !keep {
                self.out.push(MediaOut::Unpublish(track_id.clone()));
            }
            keep
        });
    }
}

/// Starts sending `track` on `pc`. A transceiver of the same kind whose
/// track was removed is reused (its sender gets the track, its direction
/// sends again), so publishing after unpublishing (a screen shared, revoked
/// and shared again) adds no m-section: `addTrack` never reuses one that
/// has sent, and the hub allows 16 per SDP.
pub(super) fn send_on(
    pc: &RtcPeerConnection,
    track: &MediaStreamTrack,
    stream: &MediaStream,
) -> RtcRtpSender {
    let kind = track.kind();
    for t in pc.get_transceivers().iter() {
        let t: RtcRtpTransceiver = t.unchecked_into();
        let sender = t.sender();
        if t.stopped() || t.mid().is_none() || sender.track().is_some() {
            continue;
        }
        if t.receiver().track().kind() != kind {
            continue;
        }
        let direction = match t.direction() {
            RtcRtpTransceiverDirection::Recvonly => RtcRtpTransceiverDirection::Sendrecv,
            RtcRtpTransceiverDirection::Inactive => RtcRtpTransceiverDirection::Sendonly,
            _ => continue,
        };
        // `setStreams` is not in web-sys: the msid's stream.
        if let Ok(f) = Reflect::get(&sender, &"setStreams".into())
            && let Ok(f) = f.dyn_into::<js_sys::Function>()
        {
            let _ = f.call1(&sender, stream);
        }
        // A sender without a track takes one at once (no negotiation);
        // the direction change asks for the renegotiation.
        let _ = sender.replace_track(Some(track));
        t.set_direction(direction);
        return sender;
    }
    pc.add_track_0(track, stream)
}

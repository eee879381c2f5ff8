//! WebRTC in the browser: one `RTCPeerConnection` per admitted remote
//! participant, negotiated by the shared
//! [`Negotiator`](crate::session::negotiator::Negotiator) (this shell only
//! performs its operations, one at a time per peer, and feeds each result
//! back), one DTLS certificate for the device (its fingerprint is signed
//! into the Hello), tracks announced with the ids the local description
//! carries, remote tracks matched to announcements through the
//! transceiver's `mid`, `replaceTrack` for device switches, and connection
//! quality from `getStats`.

use super::client::WebEvent;
use super::{js_error, now_ms, transport};
use crate::session::negotiator::{self, Negotiator, Op, OpResult, PeerState, SdpKind};
use crate::session::quality::{QualityMeter, SAMPLE_INTERVAL_MS, Sample};
use crate::session::sections::{self, Kind};
use crate::session::{Event, MediaEvent, SdkError, Session, Signal};
use bedside_protocol::sdp::normalize_fingerprint;
use bedside_protocol::{IceServer, LeftReason, ParticipantId, TrackSource};
use js_sys::{Array, Object, Reflect};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Event as DomEvent, MediaStream, MediaStreamTrack, RtcCertificate, RtcConfiguration,
    RtcIceCandidateInit, RtcIceServer, RtcOfferOptions, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcPeerConnectionState, RtcRtpSender, RtcRtpTransceiver,
    RtcRtpTransceiverDirection, RtcSdpType, RtcSessionDescriptionInit, RtcStatsReport,
};

/// What a peer connection (or a promise about it) reports.
pub(crate) enum PeerEvent {
    NegotiationNeeded,
    LocalIce(Signal),
    State(PeerState, &'static str),
    Track,
    OpDone(OpResult),
    Stats(Option<Sample>),
}

/// Inputs the media module posts to itself through the client's mailbox.
pub(crate) enum MediaInput {
    /// From the peer connection of generation `gen` to `peer`.
    Peer {
        peer: ParticipantId,
        generation: u64,
        event: PeerEvent,
    },
    /// A local track ended (the user stopped a screen share from the
    /// browser's own control, or unplugged the camera).
    LocalEnded(MediaStreamTrack),
    /// `replaceTrack` failed.
    ReplaceFailed(String),
}

/// Posts an input to the client's mailbox (from a callback or a promise).
pub(crate) type Post = Rc<dyn Fn(MediaInput)>;

/// What the client must do for the media module.
pub(crate) enum MediaOut {
    /// Relay to a peer through the hub.
    Signal { to: ParticipantId, signal: Signal },
    /// Announce a track id before the SDP that carries it is sent.
    Publish {
        source: TrackSource,
        track_id: String,
    },
    /// Withdraw an announcement.
    Unpublish(String),
    /// Tell the app.
    Event(WebEvent),
}

/// The operation a peer has in flight.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Busy {
    SetLocal,
    SetRemote,
    Other,
}

/// The connection's callbacks, kept alive as long as it is.
struct Handlers {
    _negotiation: Closure<dyn FnMut(DomEvent)>,
    _ice: Closure<dyn FnMut(RtcPeerConnectionIceEvent)>,
    _state: Closure<dyn FnMut(DomEvent)>,
    _track: Closure<dyn FnMut(DomEvent)>,
}

struct Peer {
    pc: RtcPeerConnection,
    generation: u64,
    neg: Negotiator,
    busy: Option<Busy>,
    state: PeerState,
    /// Local tracks sent to this peer, by the sender carrying them.
    senders: Vec<(MediaStreamTrack, RtcRtpSender)>,
    quality: QualityMeter,
    stats_due: Option<u64>,
    stats_busy: bool,
    /// Remote track ids already refused (reported once).
    refused: BTreeSet<String>,
    _handlers: Handlers,
}

impl Drop for Peer {
    /// A client dropped without `leave()` must not keep sending the camera.
    fn drop(&mut self) {
        self.detach();
        self.pc.close();
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.track.set_onended(None);
    }
}

impl Peer {
    fn detach(&self) {
        self.pc.set_onnegotiationneeded(None);
        self.pc.set_onicecandidate(None);
        self.pc.set_onconnectionstatechange(None);
        self.pc.set_ontrack(None);
    }
}

/// A track this device sends.
struct Local {
    source: TrackSource,
    track: MediaStreamTrack,
    stream: MediaStream,
    /// The ids local descriptions carried for it (announced), with the
    /// peers whose descriptions carry each.
    announced: BTreeMap<String, BTreeSet<ParticipantId>>,
    _on_ended: Closure<dyn FnMut(DomEvent)>,
}

pub(crate) struct Media {
    cert: RtcCertificate,
    fingerprint: String,
    ice_servers: Vec<IceServer>,
    post: Post,
    peers: HashMap<ParticipantId, Peer>,
    locals: Vec<Local>,
    /// Ids of tracks no longer sent whose withdrawal waits until no
    /// peer's local description carries them (an SDP made just before the
    /// track was removed still does: withdrawing first would get it
    /// refused), with the source announced and the peers still carrying them.
    retired: BTreeMap<String, (TrackSource, BTreeSet<ParticipantId>)>,
    /// Remote tracks handed to the app, by sender and announced id.
    receiving: HashMap<(ParticipantId, String), TrackSource>,
    out: Vec<MediaOut>,
    next_generation: u64,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media")
            .field("peers", &self.peers.len())
            .field("locals", &self.locals.len())
            .finish_non_exhaustive()
    }
}

/// Generates the device's DTLS certificate (ECDSA P-256, as browsers
/// prefer) and reads its SHA-256 fingerprint (`sha-256 AB:CD:…`).
pub(crate) async fn certificate() -> Result<(RtcCertificate, String), SdkError> {
    let algorithm = Object::new();
    set(&algorithm, "name", &"ECDSA".into());
    set(&algorithm, "namedCurve", &"P-256".into());
    let promise = RtcPeerConnection::generate_certificate_with_object(&algorithm)
        .map_err(transport("generateCertificate"))?;
    let cert: RtcCertificate = JsFuture::from(promise)
        .await
        .map_err(transport("generateCertificate"))?
        .unchecked_into();
    let fp = match fingerprint_of(&cert) {
        Some(fp) => fp,
        None => fingerprint_from_offer(&cert).await?,
    };
    Ok((cert, fp))
}

/// `RTCCertificate.getFingerprints()` (not in web-sys), sha-256 entry.
fn fingerprint_of(cert: &RtcCertificate) -> Option<String> {
    let f = Reflect::get(cert, &"getFingerprints".into()).ok()?;
    let f = f.dyn_into::<js_sys::Function>().ok()?;
    let list = f.call0(cert).ok()?.dyn_into::<Array>().ok()?;
    list.iter().find_map(|fp| {
        let algorithm = get(&fp, "algorithm")?.as_string()?;
        let value = get(&fp, "value")?.as_string()?;
        algorithm
            .eq_ignore_ascii_case("sha-256")
            .then(|| normalize_fingerprint(&format!("{algorithm} {value}")))
    })
}

/// Where `getFingerprints` is missing: the `a=fingerprint` of a throwaway
/// offer made with the certificate.
async fn fingerprint_from_offer(cert: &RtcCertificate) -> Result<String, SdkError> {
    let config = RtcConfiguration::new();
    config.set_certificates(&Array::of1(cert));
    let pc = RtcPeerConnection::new_with_configuration(&config)
        .map_err(transport("RTCPeerConnection"))?;
    let _dc = pc.create_data_channel("fingerprint");
    let offer = JsFuture::from(pc.create_offer()).await;
    pc.close();
    let offer = offer.map_err(transport("createOffer"))?;
    let sdp = get(&offer, "sdp")
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    sdp.lines()
        .find_map(bedside_protocol::sdp::fingerprint_value)
        .map(normalize_fingerprint)
        .filter(|fp| !fp.is_empty())
        .ok_or_else(|| SdkError::Transport("the browser's offer has no fingerprint".into()))
}

fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// Another handle to the same JS track. (`track.clone()` would call
/// `MediaStreamTrack.clone()`, which makes a new track: web-sys's inherent
/// method wins over `Clone`.)
fn handle(t: &MediaStreamTrack) -> MediaStreamTrack {
    Clone::clone(t)
}

fn same(a: &JsValue, b: &JsValue) -> bool {
    Object::is(a, b)
}

fn peer_state(s: RtcPeerConnectionState) -> (PeerState, &'static str) {
    match s {
        RtcPeerConnectionState::New => (PeerState::Connecting, "new"),
        RtcPeerConnectionState::Connecting => (PeerState::Connecting, "connecting"),
        RtcPeerConnectionState::Connected => (PeerState::Connected, "connected"),
        RtcPeerConnectionState::Disconnected => (PeerState::Disconnected, "disconnected"),
        RtcPeerConnectionState::Failed => (PeerState::Failed, "failed"),
        RtcPeerConnectionState::Closed => (PeerState::Closed, "closed"),
        _ => (PeerState::Connecting, "new"),
    }
}

fn source_kind(source: TrackSource) -> &'static str {
    match source {
        TrackSource::Microphone => "audio",
        TrackSource::Camera | TrackSource::Screen => "video",
    }
}

impl Media {
    pub(crate) fn new(
        cert: RtcCertificate,
        fingerprint: String,
        ice_servers: Vec<IceServer>,
        post: Post,
    ) -> Self {
        Self {
            cert,
            fingerprint,
            ice_servers,
            post,
            peers: HashMap::new(),
            locals: Vec::new(),
            retired: BTreeMap::new(),
            receiving: HashMap::new(),
            out: Vec::new(),
            next_generation: 0,
        }
    }

    /// `sha-256 AB:…` of the device's certificate.
    pub(crate) fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The next thing the client must do.
    pub(crate) fn take_out(&mut self) -> Vec<MediaOut> {
        std::mem::take(&mut self.out)
    }

    fn event(&mut self, e: WebEvent) {
        self.out.push(MediaOut::Event(e));
    }

    fn error(&mut self, e: SdkError) {
        self.event(WebEvent::Event(Event::Error(e)));
    }

    /// Reacts to what the session reported.
    pub(crate) fn on_session_event(&mut self, e: &Event, s: &Session) {
        match e {
            Event::Admitted { participants } => {
                let me = s.me().cloned();
                // After a resume this is who is present again. A member who
                // is not back yet (the hub restarted; they resume later)
                // keeps their peer connection: media flows without the hub.
                // Whoever left for good meanwhile is gone.
                let gone: Vec<ParticipantId> = self
                    .peers
                    .keys()
                    .filter(|id| !participants.iter().any(|p| &p.id == *id) && !s.is_member(id))
                    .cloned()
                    .collect();
                for id in gone {
                    self.close_peer(&id);
                }
                for p in participants {
                    if Some(&p.id) != me.as_ref() {
                        self.ensure_peer(&p.id, s);
                    }
                }
            }
            Event::Joined { participant } if s.me() != Some(&participant.id) => {
                self.ensure_peer(&participant.id, s);
            }
            Event::Left {
                participant,
                reason,
            } if *reason != LeftReason::Closed => self.close_peer(participant),
            Event::TrackPublished { from, .. } => self.scan_remote(from, s),
            Event::TrackUnpublished { from, track_id } => {
                if s.me() == Some(from) {
                    self.withdrawn(track_id.as_str());
                } else {
                    self.stop_remote(from, track_id.as_str());
                }
            }
            Event::Signal { from, signal } => {
                if matches!(signal, Signal::Offer(_)) {
                    self.ensure_peer(from, s);
                }
                if let Some(p) = self.peers.get_mut(from) {
                    p.neg.remote(now_ms(), signal.clone());
                    self.drive(from);
                }
            }
            Event::Ended(_) => self.close_all(),
            _ => {}
        }
    }

    /// Handles a callback or a finished promise.
    pub(crate) fn input(&mut self, input: MediaInput, s: &Session) {
        match input {
            MediaInput::Peer {
                peer,
                generation,
                event,
            } => {
                if self.peers.get(&peer).map(|p| p.generation) != Some(generation) {
                    return; // a closed connection's late callback
                }
                self.peer_event(&peer, event, s);
            }
            MediaInput::LocalEnded(track) => {
                if self.locals.iter().any(|l| same(&l.track, &track)) {
                    self.unpublish(&track);
                }
            }
            MediaInput::ReplaceFailed(e) => self.error(SdkError::Transport(e)),
        }
    }

    fn peer_event(&mut self, id: &ParticipantId, event: PeerEvent, s: &Session) {
        let now = now_ms();
        let Some(p) = self.peers.get_mut(id) else {
            return;
        };
        match event {
            PeerEvent::NegotiationNeeded => p.neg.negotiation_needed(now),
            PeerEvent::LocalIce(signal) => self.out.push(MediaOut::Signal {
                to: id.clone(),
                signal,
            }),
            PeerEvent::State(state, name) => {
                p.state = state;
                p.neg.connection_state(now, state);
                if state == PeerState::Connected {
                    p.stats_due.get_or_insert(now);
                } else {
                    p.stats_due = None;
                    if let Some(f) = p.quality.down() {
                        self.out.push(MediaOut::Event(WebEvent::Quality {
                            peer: id.clone(),
                            figures: f,
                        }));
                    }
                }
                self.event(WebEvent::Event(Event::Media(MediaEvent::PeerState {
                    peer: id.clone(),
                    state: name.to_owned(),
                })));
            }
            PeerEvent::Track => self.scan_remote(id, s),
            PeerEvent::OpDone(result) => {
                let was = p.busy.take();
                if was == Some(Busy::SetLocal)
                    && let OpResult::Sdp(sdp) = &result
                {
                    // Announce before the negotiator releases the signal.
                    let sdp = sdp.clone();
                    self.announce(id, &sdp);
                }
                let ok = !matches!(result, OpResult::Failed(_));
                if let Some(p) = self.peers.get_mut(id) {
                    p.neg.op_done(now, result);
                }
                if was == Some(Busy::SetRemote) && ok {
                    self.scan_remote(id, s);
                }
            }
            PeerEvent::Stats(sample) => {
                p.stats_busy = false;
                // A sample that was in flight when the connection left
                // `connected` says nothing about it now.
                let sample = sample.filter(|_| p.state == PeerState::Connected);
                if let Some(f) = sample.and_then(|x| p.quality.sample(x)) {
                    self.out.push(MediaOut::Event(WebEvent::Quality {
                        peer: id.clone(),
                        figures: f,
                    }));
                }
            }
        }
        self.drive(id);
    }

    /// When a negotiator or a statistics sample is next due.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.peers
            .values()
            .flat_map(|p| [p.neg.next_deadline(), p.stats_due.filter(|_| !p.stats_busy)])
            .flatten()
            .min()
    }

    /// Time passed: ticks every negotiator, samples due statistics.
    pub(crate) fn tick(&mut self) {
        let now = now_ms();
        let ids: Vec<ParticipantId> = self.peers.keys().cloned().collect();
        for id in ids {
            let Some(p) = self.peers.get_mut(&id) else {
                continue;
            };
            p.neg.tick(now);
            if p.stats_due.is_some_and(|t| t <= now) && !p.stats_busy {
                p.stats_due = Some(now + SAMPLE_INTERVAL_MS);
                p.stats_busy = true;
                let pc = p.pc.clone();
                let post = Rc::clone(&self.post);
                let generation = p.generation;
                let peer = id.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let sample = match JsFuture::from(pc.get_stats()).await {
                        Ok(r) => Some(sample_of(&r.unchecked_into())),
                        Err(_) => None,
                    };
                    post(MediaInput::Peer {
                        peer,
                        generation,
                        event: PeerEvent::Stats(sample),
                    });
                });
            }
            self.drive(&id);
        }
    }

    /// The network changed: restart ICE everywhere.
    pub(crate) fn restart_ice(&mut self) {
        let ids: Vec<ParticipantId> = self.peers.keys().cloned().collect();
        for id in ids {
            if let Some(p) = self.peers.get_mut(&id) {
                p.neg.restart_ice(now_ms());
            }
            self.drive(&id);
        }
    }

    /// `getStats()` of the connection to `peer`.
    pub(crate) fn stats(&self, peer: &ParticipantId) -> Option<js_sys::Promise> {
        self.peers.get(peer).map(|p| p.pc.get_stats())
    }

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
    fn withdrawn(&mut self, track_id: &str) {
        let Some(local) = self
            .locals
            .iter()
            .find(|l| l.announced.contains_key(track_id))
        else {
            return;
        };
        let track = handle(&local.track);
        let source = local.source;
        let ids: BTreeSet<String> = local.announced.keys().cloned().collect();
        if self.unpublish(&track) {
            // The hub withdrew every id of this track itself (a revoke
            // withdraws all screen tracks): unpublishing them again would
            // only earn `not_found`.
            self.retired.retain(|id, _| !ids.contains(id));
            self.out
                .retain(|o| !matches!(o, MediaOut::Unpublish(id) if ids.contains(id)));
            track.stop();
            self.event(WebEvent::LocalTrackStopped { track, source });
        }
    }

    fn ensure_peer(&mut self, id: &ParticipantId, s: &Session) {
        if self.peers.contains_key(id) {
            return;
        }
        if let Err(e) = self.open_peer(id, s) {
            self.error(e);
        }
    }

    fn open_peer(&mut self, id: &ParticipantId, s: &Session) -> Result<(), SdkError> {
        let me = s.me().ok_or(SdkError::NotConnected)?;
        let config = RtcConfiguration::new();
        config.set_certificates(&Array::of1(&self.cert));
        let servers = Array::new();
        for server in self.ice_servers.iter().chain(s.ice_servers()) {
            let ice = RtcIceServer::new();
            let urls: Array = server.urls.iter().map(|u| JsValue::from_str(u)).collect();
            ice.set_urls(&urls);
            if let Some(u) = &server.username {
                ice.set_username(u);
            }
            if let Some(c) = &server.credential {
                ice.set_credential(c);
            }
            servers.push(&ice);
        }
        config.set_ice_servers(&servers);
        let pc = RtcPeerConnection::new_with_configuration(&config)
            .map_err(transport("RTCPeerConnection"))?;
        self.next_generation += 1;
        let generation = self.next_generation;
        let post_for = |make: fn(&DomEvent) -> Option<PeerEvent>| {
            let post = Rc::clone(&self.post);
            let peer = id.clone();
            Closure::<dyn FnMut(DomEvent)>::new(move |e: DomEvent| {
                if let Some(event) = make(&e) {
                    post(MediaInput::Peer {
                        peer: peer.clone(),
                        generation,
                        event,
                    });
                }
            })
        };
        let negotiation = post_for(|_| Some(PeerEvent::NegotiationNeeded));
        let state = post_for(|e| {
            let pc = e.target()?.dyn_into::<RtcPeerConnection>().ok()?;
            let (state, name) = peer_state(pc.connection_state());
            Some(PeerEvent::State(state, name))
        });
        let track = post_for(|_| Some(PeerEvent::Track));
        let ice = {
            let post = Rc::clone(&self.post);
            let peer = id.clone();
            Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(
                move |e: RtcPeerConnectionIceEvent| {
                    // End-of-candidates is not signalled: browsers don't need it.
                    let Some(c) = e.candidate().filter(|c| !c.candidate().is_empty()) else {
                        return;
                    };
                    post(MediaInput::Peer {
                        peer: peer.clone(),
                        generation,
                        event: PeerEvent::LocalIce(Signal::Ice {
                            candidate: c.candidate(),
                            sdp_mid: c.sdp_mid(),
                            sdp_mline_index: c.sdp_m_line_index().map(u32::from),
                        }),
                    });
                },
            )
        };
        pc.set_onnegotiationneeded(Some(negotiation.as_ref().unchecked_ref()));
        pc.set_onicecandidate(Some(ice.as_ref().unchecked_ref()));
        pc.set_onconnectionstatechange(Some(state.as_ref().unchecked_ref()));
        pc.set_ontrack(Some(track.as_ref().unchecked_ref()));
        let mut senders = Vec::new();
        for l in &self.locals {
            senders.push((handle(&l.track), send_on(&pc, &l.track, &l.stream)));
        }
        self.peers.insert(
            id.clone(),
            Peer {
                pc,
                generation,
                // The smaller participant id is impolite (as on native).
                neg: Negotiator::new(me.as_str() > id.as_str()),
                busy: None,
                state: PeerState::Connecting,
                senders,
                quality: QualityMeter::new(),
                stats_due: None,
                stats_busy: false,
                refused: BTreeSet::new(),
                _handlers: Handlers {
                    _negotiation: negotiation,
                    _ice: ice,
                    _state: state,
                    _track: track,
                },
            },
        );
        Ok(())
    }

    fn close_peer(&mut self, id: &ParticipantId) {
        if let Some(p) = self.peers.remove(id) {
            p.detach();
            p.pc.close();
        }
        // Ids only this peer's descriptions carried are withdrawn, so the
        // announcements do not pile up over a long visit.
        self.retired.retain(|track_id, (_, peers)| {
            peers.remove(id);
            let keep = !peers.is_empty();
            if !keep {
                self.out.push(MediaOut::Unpublish(track_id.clone()));
            }
            keep
        });
        for local in &mut self.locals {
            local.announced.retain(|track_id, peers| {
                peers.remove(id);
                let keep = !peers.is_empty();
                if !keep {
                    self.out.push(MediaOut::Unpublish(track_id.clone()));
                }
                keep
            });
        }
        let theirs: Vec<String> = self
            .receiving
            .keys()
            .filter(|(p, _)| p == id)
            .map(|(_, t)| t.clone())
            .collect();
        for t in theirs {
            self.stop_remote(id, &t);
        }
    }

    /// Closes every connection (the session ended).
    pub(crate) fn close_all(&mut self) {
        let ids: Vec<ParticipantId> = self.peers.keys().cloned().collect();
        for id in ids {
            self.close_peer(&id);
        }
    }

    /// Records the ids the local description carries for our tracks and
    /// announces the new ones (before the SDP is signalled).
    fn announce(&mut self, id: &ParticipantId, sdp: &str) {
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

    /// Matches the tracks `peer` sends (per the remote description) to its
    /// announcements: new ones are handed to the app, withdrawn or
    /// no-longer-sent ones stopped, unannounced ones refused.
    fn scan_remote(&mut self, id: &ParticipantId, s: &Session) {
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

    fn stop_remote(&mut self, peer: &ParticipantId, track_id: &str) {
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

    /// Performs what the peer's negotiator asks, one operation at a time:
    /// signals go out at once; the next operation starts when the previous
    /// one's promise settled (it comes back as [`PeerEvent::OpDone`]).
    fn drive(&mut self, id: &ParticipantId) {
        let Some(p) = self.peers.get_mut(id) else {
            return;
        };
        while let Some(o) = p.neg.poll_output() {
            match o {
                negotiator::Output::Signal(signal) => self.out.push(MediaOut::Signal {
                    to: id.clone(),
                    signal,
                }),
                negotiator::Output::Error(e) => self.out.push(MediaOut::Event(WebEvent::Event(
                    Event::Error(SdkError::Transport(e)),
                ))),
                negotiator::Output::IgnoredOffer | negotiator::Output::IceRestart { .. } => {}
            }
        }
        if p.busy.is_some() {
            return;
        }
        let Some(op) = p.neg.poll_op() else {
            return;
        };
        p.busy = Some(match op {
            Op::SetLocal { .. } => Busy::SetLocal,
            Op::SetRemote { .. } => Busy::SetRemote,
            _ => Busy::Other,
        });
        let pc = p.pc.clone();
        let post = Rc::clone(&self.post);
        let generation = p.generation;
        let peer = id.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let what = match &op {
                Op::CreateOffer { .. } => "createOffer",
                Op::CreateAnswer => "createAnswer",
                Op::SetLocal { .. } | Op::Rollback => "setLocalDescription",
                Op::SetRemote { .. } => "setRemoteDescription",
                Op::AddCandidate { .. } => "addIceCandidate",
            };
            let result = match perform(&pc, op).await {
                Ok(r) => r,
                Err(e) => OpResult::Failed(js_error(what, &e)),
            };
            post(MediaInput::Peer {
                peer,
                generation,
                event: PeerEvent::OpDone(result),
            });
        });
    }
}

/// Starts sending `track` on `pc`. A transceiver of the same kind whose
/// track was removed is reused (its sender gets the track, its direction
/// sends again), so publishing after unpublishing (a screen shared, revoked
/// and shared again) adds no m-section: `addTrack` never reuses one that
/// has sent, and the hub allows 16 per SDP.
fn send_on(pc: &RtcPeerConnection, track: &MediaStreamTrack, stream: &MediaStream) -> RtcRtpSender {
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

fn description(kind: SdpKind, sdp: &str) -> RtcSessionDescriptionInit {
    let d = RtcSessionDescriptionInit::new(match kind {
        SdpKind::Offer => RtcSdpType::Offer,
        SdpKind::Answer => RtcSdpType::Answer,
    });
    d.set_sdp(sdp);
    d
}

fn sdp_of(description: &JsValue) -> Result<String, JsValue> {
    get(description, "sdp")
        .and_then(|s| s.as_string())
        .ok_or_else(|| JsValue::from_str("the browser returned no SDP"))
}

/// One negotiation operation on an `RTCPeerConnection`.
async fn perform(pc: &RtcPeerConnection, op: Op) -> Result<OpResult, JsValue> {
    Ok(match op {
        Op::CreateOffer { ice_restart } => {
            let options = RtcOfferOptions::new();
            options.set_ice_restart(ice_restart);
            let offer = JsFuture::from(pc.create_offer_with_rtc_offer_options(&options)).await?;
            OpResult::Sdp(sdp_of(&offer)?)
        }
        Op::CreateAnswer => OpResult::Sdp(sdp_of(&JsFuture::from(pc.create_answer()).await?)?),
        Op::SetLocal { kind, sdp } => {
            JsFuture::from(pc.set_local_description(&description(kind, &sdp))).await?;
            let local = pc
                .local_description()
                .ok_or_else(|| JsValue::from_str("no local description"))?;
            OpResult::Sdp(local.sdp())
        }
        Op::Rollback => {
            let rollback = RtcSessionDescriptionInit::new(RtcSdpType::Rollback);
            JsFuture::from(pc.set_local_description(&rollback)).await?;
            OpResult::Done
        }
        Op::SetRemote { kind, sdp } => {
            JsFuture::from(pc.set_remote_description(&description(kind, &sdp))).await?;
            OpResult::Done
        }
        Op::AddCandidate {
            candidate,
            sdp_mid,
            sdp_mline_index,
        } => {
            if !candidate.is_empty() {
                let init = RtcIceCandidateInit::new(&candidate);
                init.set_sdp_mid(sdp_mid.as_deref());
                init.set_sdp_m_line_index(sdp_mline_index.and_then(|i| u16::try_from(i).ok()));
                JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init)))
                    .await?;
            }
            OpResult::Done
        }
    })
}

/// The figures of one `getStats()` report: inbound RTP counters summed,
/// the worst jitter, and the selected candidate pair's round trip.
fn sample_of(report: &RtcStatsReport) -> Sample {
    let mut s = Sample::default();
    let mut pairs: HashMap<String, JsValue> = HashMap::new();
    let mut selected: Option<String> = None;
    let num = |v: &JsValue, k: &str| get(v, k).and_then(|x| x.as_f64());
    for stat in report.values().into_iter().flatten() {
        let kind = get(&stat, "type")
            .and_then(|t| t.as_string())
            .unwrap_or_default();
        match kind.as_str() {
            "inbound-rtp" => {
                s.packets_received += num(&stat, "packetsReceived").unwrap_or(0.0) as u64;
                s.packets_lost += num(&stat, "packetsLost").unwrap_or(0.0) as i64;
                if let Some(j) = num(&stat, "jitter") {
                    let ms = j * 1000.0;
                    s.jitter_ms = Some(s.jitter_ms.map_or(ms, |x: f64| x.max(ms)));
                }
            }
            "transport" => {
                selected = get(&stat, "selectedCandidatePairId").and_then(|x| x.as_string());
            }
            "candidate-pair" => {
                if let Some(id) = get(&stat, "id").and_then(|x| x.as_string()) {
                    pairs.insert(id, stat);
                }
            }
            _ => {}
        }
    }
    let pair = selected.and_then(|id| pairs.get(&id).cloned()).or_else(|| {
        pairs.values().find_map(|p| {
            let nominated = get(p, "nominated").and_then(|x| x.as_bool()) == Some(true);
            let ok = get(p, "state").and_then(|x| x.as_string()).as_deref() == Some("succeeded");
            (nominated && ok).then(|| p.clone())
        })
    });
    s.rtt_ms = pair
        .and_then(|p| num(&p, "currentRoundTripTime"))
        .map(|r| r * 1000.0);
    s
}

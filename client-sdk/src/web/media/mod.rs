//! WebRTC in the browser: one `RTCPeerConnection` per admitted remote
//! participant, negotiated by the shared
//! [`Negotiator`](crate::session::negotiator::Negotiator) (this shell only
//! performs its operations, one at a time per peer, and feeds each result
//! back), one DTLS certificate for the device (its fingerprint is signed
//! into the Hello), tracks announced with the ids the local description
//! carries, remote tracks matched to announcements through the
//! transceiver's `mid`, `replaceTrack` for device switches, and connection
//! quality from `getStats`.
//!
//! The work is split by job, one module each: `certificate` (the device's
//! DTLS certificate and its fingerprint), `peer` (opening and closing the
//! connection to one peer, and its callbacks), `negotiation` (performing
//! what each peer's negotiator asks), `local` (the tracks this device sends
//! and the ids announced for them), `remote` (matching the tracks peers
//! send to their announcements) and `stats` (`getStats` and the figures fed
//! to the quality meter). This file has the inputs and outputs, the state
//! of the peers and of the local tracks, small JS helpers, and the dispatch
//! of session events, callbacks, promises and timers.

mod certificate;
mod local;
mod negotiation;
mod peer;
mod remote;
mod stats;

pub(crate) use certificate::certificate;

use super::client::WebEvent;
use super::now_ms;
use crate::session::negotiator::{Negotiator, OpResult, PeerState};
use crate::session::quality::{QualityMeter, SAMPLE_INTERVAL_MS, Sample};
use crate::session::{Event, MediaEvent, SdkError, Session, Signal};
use bedside_protocol::{IceServer, LeftReason, ParticipantId, Permission, TrackSource};
use js_sys::{Object, Reflect};
use stats::sample_of;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Event as DomEvent, MediaStream, MediaStreamTrack, RtcCertificate, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcRtpSender,
};

/// What a peer connection (or a promise about it) reports.
pub(crate) enum PeerEvent {
    /// `negotiationneeded` fired.
    NegotiationNeeded,
    /// A local ICE candidate, to relay.
    LocalIce(Signal),
    /// `connectionstatechange`: the state and its W3C name.
    State(PeerState, &'static str),
    /// `track` fired: rescan the remote tracks.
    Track,
    /// The negotiator's operation settled.
    OpDone(OpResult),
    /// A `getStats()` sample (`None`: the promise failed).
    Stats(Option<Sample>),
}

/// Inputs the media module posts to itself through the client's mailbox.
pub(crate) enum MediaInput {
    /// From the peer connection of generation `gen` to `peer`.
    Peer {
        /// The remote participant.
        peer: ParticipantId,
        /// The connection's generation (a closed one's is stale).
        generation: u64,
        /// What happened.
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
        /// What it carries.
        source: TrackSource,
        /// The id the local description carries.
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

/// The device's peer connections and local tracks.
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

impl Media {
    /// Media state with the device's certificate and its fingerprint, the
    /// app's ICE servers, and the mailbox to post inputs to.
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
            Event::Permissions { participant, perms }
                if s.me() == Some(participant) && !perms.contains(&Permission::ScreenShare) =>
            {
                self.screen_share_revoked();
            }
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
}

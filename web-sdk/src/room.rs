//! Exports for `js/index.js`: `connect` (a promise of a [`Handle`]),
//! `generateIdentity`, and the handle's commands. Events reach JS as plain
//! objects `{type, …}` through one callback; no event carries a token, an
//! SDP or a key.

use bedside_protocol::{
    LeftReason, Participant, ParticipantId, ParticipantState, Permission, PresentProvider,
    TrackSource, WaitingEntry,
};
use bedside_sdk::e2ee::{Identity, Pins, Safety};
use bedside_sdk::session::{
    ConnectionState, EndReason, Event, MediaEvent, SdkError, SessionConfig, TokenPurpose,
};
use bedside_sdk::web::{Client, ClientConfig, TokenSource, WebEvent};
use js_sys::{Array, Function, Object, Promise, Reflect};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::MediaStreamTrack;
use zeroize::Zeroize;

/// A JS `Error` named `BedsideError` with a machine-readable `code`.
fn error(e: &SdkError) -> JsValue {
    let code = match e {
        SdkError::Hub { code, .. } => code.as_str(),
        SdkError::E2ee { .. } => "e2ee",
        SdkError::Protocol => "protocol",
        SdkError::NotConnected => "not_connected",
        SdkError::NotAdmitted => "not_admitted",
        SdkError::NotPermitted(_) => "not_permitted",
        SdkError::InvalidId(_) => "invalid_id",
        SdkError::Ended => "ended",
        SdkError::Token(_) => "token",
        SdkError::Transport(_) => "transport",
    };
    let err = js_sys::Error::new(&e.to_string());
    err.set_name("BedsideError");
    let _ = Reflect::set(&err, &"code".into(), &code.into());
    if let SdkError::Hub {
        rule: Some(rule), ..
    } = e
    {
        let _ = Reflect::set(&err, &"rule".into(), &rule.as_str().into());
    }
    err.into()
}

fn bad(message: &str) -> JsValue {
    error(&SdkError::InvalidId(message.to_owned()))
}

fn field(options: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(options, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn string_field(options: &JsValue, key: &str) -> Option<String> {
    field(options, key).and_then(|v| v.as_string())
}

/// A `TrackSource`, `Permission` … from its wire name.
fn wire<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, JsValue> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| bad(&format!("unknown {what}: {s}")))
}

/// A plain JS object, built field by field (no JSON round trip).
struct Obj(Object);

impl Obj {
    fn new() -> Self {
        Obj(Object::new())
    }

    fn event(kind: &str) -> Self {
        Obj::new().str("type", kind)
    }

    fn set(self, key: &str, value: &JsValue) -> Self {
        let _ = Reflect::set(&self.0, &JsValue::from_str(key), value);
        self
    }

    fn str(self, key: &str, value: &str) -> Self {
        self.set(key, &JsValue::from_str(value))
    }

    fn num(self, key: &str, value: f64) -> Self {
        self.set(key, &JsValue::from_f64(value))
    }

    fn opt_num(self, key: &str, value: Option<f64>) -> Self {
        self.set(key, &value.map_or(JsValue::NULL, JsValue::from_f64))
    }

    fn bool(self, key: &str, value: bool) -> Self {
        self.set(key, &JsValue::from_bool(value))
    }

    fn done(self) -> JsValue {
        self.0.into()
    }
}

fn list<T>(items: &[T], f: impl Fn(&T) -> JsValue) -> JsValue {
    items.iter().map(f).collect::<Array>().into()
}

fn source_name(s: TrackSource) -> &'static str {
    match s {
        TrackSource::Camera => "camera",
        TrackSource::Microphone => "microphone",
        TrackSource::Screen => "screen",
    }
}

fn state_name(s: ParticipantState) -> &'static str {
    match s {
        ParticipantState::Waiting => "waiting",
        ParticipantState::Admitted => "admitted",
    }
}

fn left_name(r: LeftReason) -> &'static str {
    match r {
        LeftReason::Leave => "leave",
        LeftReason::Closed => "closed",
        LeftReason::Denied => "denied",
        LeftReason::Removed => "removed",
        LeftReason::Expired => "expired",
    }
}

fn perms(p: &[Permission]) -> JsValue {
    list(p, |x| JsValue::from_str(x.as_str()))
}

fn participant(p: &Participant) -> JsValue {
    Obj::new()
        .str("id", p.id.as_str())
        .str("name", &p.name)
        .str("role", p.role.as_str())
        .set("perms", &perms(&p.perms))
        .set(
            "tracks",
            &list(&p.tracks, |t| {
                Obj::new()
                    .str("trackId", t.track_id.as_str())
                    .str("source", source_name(t.source))
                    .done()
            }),
        )
        .done()
}

fn waiting(w: &WaitingEntry) -> JsValue {
    Obj::new()
        .str("id", w.id.as_str())
        .str("name", &w.name)
        .str("role", w.role.as_str())
        .done()
}

fn provider(p: &PresentProvider) -> JsValue {
    Obj::new()
        .str("id", p.id.as_str())
        .str("name", &p.name)
        .done()
}

fn ended(r: &EndReason) -> JsValue {
    let (reason, message) = match r {
        EndReason::Left => ("left", None),
        EndReason::VisitEnded => ("visit_ended", None),
        EndReason::Denied { reason } => ("denied", reason.as_deref()),
        EndReason::Replaced => ("replaced", None),
        EndReason::Idle => ("idle", None),
        EndReason::Unauthorized => ("unauthorized", None),
    };
    let o = Obj::event("ended").str("reason", reason);
    match message {
        Some(m) => o.str("message", m),
        None => o,
    }
    .done()
}

fn connection(c: &ConnectionState) -> JsValue {
    let o = Obj::event("connectionStateChanged");
    match c {
        ConnectionState::Connecting => o.str("state", "connecting"),
        ConnectionState::Connected => o.str("state", "connected"),
        ConnectionState::Reconnecting {
            attempt,
            retry_in_ms,
        } => o
            .str("state", "reconnecting")
            .num("attempt", f64::from(*attempt))
            .num("retryInMs", *retry_in_ms as f64),
        ConnectionState::Closed => o.str("state", "closed"),
    }
    .done()
}

/// The JS object for an event, or `None` for what apps never see
/// (relayed signaling is the SDK's own business).
fn event_object(e: WebEvent) -> Option<JsValue> {
    let o = match e {
        WebEvent::RemoteTrack {
            peer,
            track_id,
            source,
            track,
        } => Obj::event("trackSubscribed")
            .str("participant", peer.as_str())
            .str("trackId", &track_id)
            .str("source", source_name(source))
            .set("track", &track),
        WebEvent::LocalTrackStopped { track, source } => Obj::event("localTrackStopped")
            .str("source", source_name(source))
            .set("track", &track),
        WebEvent::Quality { peer, figures } => Obj::event("connectionQualityChanged")
            .str("participant", peer.as_str())
            .str("quality", figures.quality.as_str())
            .opt_num("rttMs", figures.rtt_ms)
            .num("loss", figures.loss)
            .opt_num("jitterMs", figures.jitter_ms),
        WebEvent::Event(e) => match e {
            Event::Connection(c) => return Some(connection(&c)),
            Event::Welcome { participant, state } => Obj::event("welcome")
                .set(
                    "participant",
                    &Obj::new()
                        .str("id", participant.id.as_str())
                        .str("name", &participant.name)
                        .str("role", participant.role.as_str())
                        .set("perms", &perms(&participant.perms))
                        .done(),
                )
                .str("state", state_name(state)),
            Event::Waiting => Obj::event("waiting"),
            Event::Admitted { participants } => {
                Obj::event("admitted").set("participants", &list(&participants, participant))
            }
            Event::Lobby { waiting: w } => {
                Obj::event("lobbyChanged").set("waiting", &list(&w, waiting))
            }
            Event::Presence { providers } => {
                Obj::event("presenceChanged").set("providers", &list(&providers, provider))
            }
            Event::Joined { participant: p } => {
                Obj::event("participantJoined").set("participant", &participant(&p))
            }
            Event::Left {
                participant,
                reason,
            } => Obj::event("participantLeft")
                .str("participant", participant.as_str())
                .str("reason", left_name(reason)),
            Event::Permissions {
                participant,
                perms: p,
            } => Obj::event("permissionsChanged")
                .str("participant", participant.as_str())
                .set("perms", &perms(&p)),
            Event::TrackPublished {
                from,
                track_id,
                source,
            } => Obj::event("trackPublished")
                .str("participant", from.as_str())
                .str("trackId", track_id.as_str())
                .str("source", source_name(source)),
            Event::TrackUnpublished { from, track_id } => Obj::event("trackUnpublished")
                .str("participant", from.as_str())
                .str("trackId", track_id.as_str()),
            Event::PermissionRequested {
                participant,
                permission,
            } => Obj::event("permissionRequested")
                .str("participant", participant.as_str())
                .str("permission", permission.as_str()),
            Event::Chat(c) => Obj::event("chatReceived")
                .str("from", &c.from)
                .str("messageId", &c.message_id)
                .str("text", &c.text)
                .bool("verified", c.safety == Safety::Verified)
                .bool("rosterAgrees", c.roster_agrees),
            Event::ChatAcked { message_id } => {
                Obj::event("chatAcknowledged").str("messageId", &message_id)
            }
            Event::IdentityChanged {
                participant,
                safety_number,
            } => Obj::event("identityChanged")
                .str("participant", &participant)
                .str("safetyNumber", &safety_number.to_string()),
            Event::Media(MediaEvent::PeerState { peer, state }) => {
                Obj::event("peerConnectionStateChanged")
                    .str("participant", peer.as_str())
                    .str("state", &state)
            }
            Event::Media(MediaEvent::RemoteTrackStopped { peer, track_id }) => {
                Obj::event("trackUnsubscribed")
                    .str("participant", peer.as_str())
                    .str("trackId", &track_id)
            }
            Event::Media(MediaEvent::RemoteTrackRefused { peer, track_id }) => {
                Obj::event("trackRefused")
                    .str("participant", peer.as_str())
                    .str("trackId", &track_id)
            }
            Event::Media(_) | Event::Signal { .. } => return None,
            Event::Error(e) => Obj::event("error").set("error", &error(&e)),
            Event::Ended(r) => return Some(ended(&r)),
        },
    };
    Some(o.done())
}

/// A fresh device identity key (32 secret bytes): store it wrapped, never in clear.
#[wasm_bindgen(js_name = generateIdentity)]
pub fn generate_identity() -> Vec<u8> {
    Identity::generate(&mut rand_core::OsRng)
        .to_secret_bytes()
        .to_vec()
}

/// The public fingerprint (hex) of an identity's secret bytes, for display.
#[wasm_bindgen(js_name = identityFingerprint)]
pub fn identity_fingerprint(secret: &[u8]) -> Result<String, JsValue> {
    let bytes: [u8; 32] = secret
        .try_into()
        .map_err(|_| bad("an identity is 32 bytes"))?;
    Ok(Identity::from_secret_bytes(&bytes)
        .public()
        .fingerprint_hex())
}

fn token_source(f: Function) -> TokenSource {
    Rc::new(move |purpose: TokenPurpose| {
        let purpose = match purpose {
            TokenPurpose::Join => "join",
            TokenPurpose::Refresh => "refresh",
        };
        let called = f.call1(&JsValue::NULL, &purpose.into());
        Box::pin(async move {
            let v = called.map_err(|_| "the token source threw".to_owned())?;
            let v = JsFuture::from(Promise::resolve(&v))
                .await
                .map_err(|_| "the token source failed".to_owned())?;
            v.as_string()
                .ok_or_else(|| "the token source gave no string".to_owned())
        })
    })
}

/// Connects: `options` is `{url, token, device, identity?, pins?, media?,
/// iceServers?, tokenSource?}`; `onEvent` receives every event object.
#[wasm_bindgen]
pub async fn connect(options: JsValue, on_event: Function) -> Result<Handle, JsValue> {
    let url = string_field(&options, "url").ok_or_else(|| bad("options.url is required"))?;
    let token = string_field(&options, "token").ok_or_else(|| bad("options.token is required"))?;
    let device = string_field(&options, "device").unwrap_or_else(|| "browser".into());
    let mut cfg = ClientConfig::new(url, device);
    cfg.session = SessionConfig {
        sdk: concat!("bedside-web/", env!("CARGO_PKG_VERSION")).into(),
        ..cfg.session
    };
    if let Some(id) = field(&options, "identity") {
        // Read the caller's array in place (no JS copy left behind; the
        // package zeroes the original after connecting).
        let id: js_sys::Uint8Array = id
            .dyn_into()
            .map_err(|_| bad("options.identity must be a Uint8Array"))?;
        let mut bytes = id.to_vec();
        let secret: Result<[u8; 32], _> = bytes.as_slice().try_into();
        bytes.zeroize();
        let mut secret = secret.map_err(|_| bad("options.identity must be 32 bytes"))?;
        cfg.identity = Some(Identity::from_secret_bytes(&secret));
        secret.zeroize();
    }
    if let Some(pins) = string_field(&options, "pins") {
        cfg.pins = serde_json::from_str::<Pins>(&pins).unwrap_or_default();
    }
    if let Some(media) = field(&options, "media").and_then(|m| m.as_bool()) {
        cfg.media = media;
    }
    if let Some(servers) = field(&options, "iceServers") {
        let text = js_sys::JSON::stringify(&servers)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default();
        cfg.ice_servers = serde_json::from_str(&text)
            .map_err(|_| bad("options.iceServers is not a list of {urls, username, credential}"))?;
    }
    let source = field(&options, "tokenSource")
        .and_then(|f| f.dyn_into::<Function>().ok())
        .map(token_source);
    let client = Client::connect(cfg, token, source, move |e| {
        if let Some(obj) = event_object(e) {
            // An exception in the app's handler must not stop the SDK.
            let _ = on_event.call1(&JsValue::NULL, &obj);
        }
    })
    .await
    .map_err(|e| error(&e))?;
    Ok(Handle { client })
}

/// One participant's connection to a visit.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Handle {
    client: Client,
}

fn js<T>(r: Result<T, SdkError>) -> Result<T, JsValue> {
    r.map_err(|e| error(&e))
}

/// A participant id from JavaScript, checked once here: one that breaks
/// the id rule is refused with `invalid_id`, never sent or dropped.
fn pid(s: &str) -> Result<ParticipantId, JsValue> {
    js(ParticipantId::new(s).map_err(|e| SdkError::InvalidId(e.to_string())))
}

#[wasm_bindgen]
impl Handle {
    /// Admits a waiting participant (provider).
    pub fn admit(&self, who: &str) -> Result<(), JsValue> {
        js(self.client.admit(&pid(who)?))
    }

    /// Denies a waiting participant (provider).
    pub fn deny(&self, who: &str, reason: Option<String>) -> Result<(), JsValue> {
        js(self.client.deny(&pid(who)?, reason))
    }

    /// Removes an admitted participant (provider).
    pub fn remove(&self, who: &str, reason: Option<String>) -> Result<(), JsValue> {
        js(self.client.remove(&pid(who)?, reason))
    }

    /// Grants a permission (`screen_share`).
    pub fn grant(&self, who: &str, permission: &str) -> Result<(), JsValue> {
        let p: Permission = wire(permission, "permission")?;
        js(self.client.grant(&pid(who)?, p))
    }

    /// Revokes a permission.
    pub fn revoke(&self, who: &str, permission: &str) -> Result<(), JsValue> {
        let p: Permission = wire(permission, "permission")?;
        js(self.client.revoke(&pid(who)?, p))
    }

    /// Asks the providers for screen sharing.
    #[wasm_bindgen(js_name = requestScreenShare)]
    pub fn request_screen_share(&self) -> Result<(), JsValue> {
        js(self.client.request_screen_share())
    }

    /// Sends a track as `camera`, `microphone` or `screen`.
    pub fn publish(&self, track: MediaStreamTrack, source: &str) -> Result<(), JsValue> {
        let s: TrackSource = wire(source, "track source")?;
        js(self.client.publish(track, s))
    }

    /// Stops sending a track; `false` if it was not published.
    pub fn unpublish(&self, track: &MediaStreamTrack) -> Result<bool, JsValue> {
        js(self.client.unpublish(track))
    }

    /// Sends `next` in place of `previous` without renegotiating.
    #[wasm_bindgen(js_name = replaceTrack)]
    pub fn replace_track(
        &self,
        previous: &MediaStreamTrack,
        next: MediaStreamTrack,
    ) -> Result<(), JsValue> {
        js(self.client.replace_track(previous, next))
    }

    /// Sends an end-to-end encrypted chat message; returns its id.
    #[wasm_bindgen(js_name = sendChat)]
    pub fn send_chat(&self, text: &str) -> Result<String, JsValue> {
        js(self.client.send_chat(text))
    }

    /// The safety number with `peer` (12 groups of 5 digits).
    #[wasm_bindgen(js_name = safetyNumber)]
    pub fn safety_number(&self, peer: &str) -> Result<Option<String>, JsValue> {
        js(self.client.safety_number(&pid(peer)?)).map(|s| s.map(|n| n.to_string()))
    }

    /// Accepts `peer`'s changed identity (after re-verifying).
    #[wasm_bindgen(js_name = acceptIdentity)]
    pub fn accept_identity(&self, peer: &str) -> Result<(), JsValue> {
        js(self.client.accept_identity(&pid(peer)?))
    }

    /// Marks `peer` verified.
    #[wasm_bindgen(js_name = markVerified)]
    pub fn mark_verified(&self, peer: &str) -> Result<(), JsValue> {
        js(self.client.mark_verified(&pid(peer)?))
    }

    /// The identity pins as JSON, for the device store.
    pub fn pins(&self) -> Result<String, JsValue> {
        let pins = js(self.client.pins())?;
        serde_json::to_string(&pins).map_err(|_| bad("pins"))
    }

    /// Participants present: `[{id, name, role, perms, tracks}]`.
    pub fn participants(&self) -> Result<JsValue, JsValue> {
        let all = js(self.client.participants())?;
        Ok(list(&all, participant))
    }

    /// This participant's id, once welcomed.
    pub fn me(&self) -> Result<Option<String>, JsValue> {
        js(self.client.me()).map(|m| m.map(|p| p.as_str().to_owned()))
    }

    /// `waiting` or `admitted`, once welcomed.
    pub fn state(&self) -> Result<Option<String>, JsValue> {
        js(self.client.state()).map(|s| s.map(|s| state_name(s).to_owned()))
    }

    /// `getStats()` of the connection to `peer`, or `undefined`.
    #[wasm_bindgen(js_name = getStats)]
    pub fn get_stats(&self, peer: &str) -> Result<Option<Promise>, JsValue> {
        js(self.client.stats(peer))
    }

    /// The network changed: restart ICE.
    #[wasm_bindgen(js_name = networkChanged)]
    pub fn network_changed(&self) -> Result<(), JsValue> {
        js(self.client.network_changed())
    }

    /// This device's DTLS fingerprint.
    #[wasm_bindgen(js_name = dtlsFingerprint)]
    pub fn dtls_fingerprint(&self) -> Result<Option<String>, JsValue> {
        js(self.client.dtls_fingerprint())
    }

    /// Leaves the visit.
    pub fn leave(&self) -> Result<(), JsValue> {
        js(self.client.leave())
    }

    /// Ends the visit for everyone (provider).
    #[wasm_bindgen(js_name = endVisit)]
    pub fn end_visit(&self) -> Result<(), JsValue> {
        js(self.client.end_visit())
    }
}

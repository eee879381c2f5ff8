//! Client → hub messages: [`ClientMessage`], the extensions a client asks
//! for ([`Features`]) and the encoder ([`ClientMessage::to_json`]). Reading
//! them is `client_read`'s ([`parse_client_message`]).

#[cfg(doc)]
use crate::client_read::parse_client_message;
use crate::ids::{DeviceId, MessageId, ParticipantId, TrackId};
use crate::model::{E2eKind, Permission, TrackAction, TrackSource};
use serde_json::value::RawValue;

/// Extensions a client asks for in `hello` or `resume`, as
/// `"features":["presence"]` (docs/protocol.md, "Features asked for in
/// `hello` and `resume`"). A hub that knows none ignores the field; this
/// one ignores names it does not know. Nothing is sent that a client did
/// not ask for, so a client written from PROTOCOL.md alone sees none of it.
/// Features hold for one connection: a `resume` asks again. The default
/// asks for none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    /// `"presence"`: while waiting, the participant gets a `presence`
    /// message listing the providers present, right after `welcome` and on
    /// every change, until it is admitted.
    pub presence: bool,
}

impl Features {
    /// Every extension this crate knows, all asked for.
    pub const ALL: Features = Features { presence: true };

    pub(crate) fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut f = Features::default();
        for n in names {
            if n == "presence" {
                f.presence = true;
            }
        }
        f
    }

    fn names(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.presence {
            v.push("presence");
        }
        v
    }
}

/// A message from a client (PROTOCOL.md §3–§8, and the extensions of
/// docs/protocol.md), as [`parse_client_message`] reads it from a text frame
/// and [`ClientMessage::to_json`] writes it. The optional `id` every
/// message may carry is kept beside it, not in it.
///
/// The parser has already checked the identifiers (see the id types), the
/// `deny`/`remove` reason, the `ice` fields and the `keys` bundle shape;
/// the hub checks the rest (roles, state, SDP, `e2e` body) and answers with
/// `error`. A successful `admit`, `deny`, `remove`, `offer`, `answer`,
/// `ice`, `track`, `request`, `grant`, `revoke` or `keys` that had an `id`
/// is answered with `{"type":"ack","re":<id>}` (docs/protocol.md,
/// "Acknowledgements"); the other variants say how they are answered.
#[derive(Debug)]
pub enum ClientMessage {
    /// `hello`, the first message of a new session (PROTOCOL.md §3): it
    /// must come within `hello_timeout_s` (default 5 s). Answered by
    /// `welcome`; a refused token closes with 4001.
    Hello {
        /// The join token, a JWT (PROTOCOL.md §2); accepted once (its `jti`).
        token: String,
        /// The client's device id, written to the audit log; optional.
        device: Option<DeviceId>,
        /// Free-form SDK identification, e.g. `"bedside-sdk/0.1 (wasm)"`;
        /// optional, not checked.
        sdk: Option<String>,
        /// Extensions asked for; `Features::default()` (none) when
        /// `features` is absent.
        features: Features,
    },
    /// `resume`, the first message of a reconnect (PROTOCOL.md §3): restores
    /// the participant, state and permissions, then re-delivers the `e2e`
    /// messages not yet acknowledged. Answered by `welcome` with a fresh
    /// resume token; a refused token closes with 4001.
    Resume {
        /// The single-use resume token from the most recent `welcome`.
        resume_token: String,
        /// Highest `e2e` `seq` the client has processed: acknowledges
        /// everything up to it, and only messages above it are re-delivered.
        /// `None` counts as 0.
        last_seq: Option<u64>,
        /// Extensions asked for, again for this connection;
        /// `Features::default()` (none) when `features` is absent.
        features: Features,
    },
    /// `ping` (PROTOCOL.md §8): answered by `pong`, with `re` when it had
    /// an `id`; counts as activity against `idle_timeout_s`.
    Ping,
    /// `refresh` (PROTOCOL.md §8): extends the session. Answered by `ack`
    /// with the new `expires_at`, or `error` `unauthorized`.
    Refresh {
        /// A new join token for the same `sub`, `visit` and `role`.
        token: String,
    },
    /// `leave` (PROTOCOL.md §8): leaves the visit; the hub forgets the
    /// participant in it and closes with 1000.
    Leave,
    /// `end_visit` (PROTOCOL.md §8), provider only: everyone gets `ended`
    /// and is closed with 4012; stored messages are deleted.
    EndVisit,
    /// `admit` (PROTOCOL.md §4), provider only: the waiting participant gets
    /// `admitted`, the others `joined`. Already admitted: `conflict`.
    Admit {
        /// The waiting participant to admit.
        participant: ParticipantId,
    },
    /// `deny` (PROTOCOL.md §4), provider only: the waiting participant gets
    /// `denied` and is closed with 4003.
    Deny {
        /// The waiting participant to deny.
        participant: ParticipantId,
        /// Shown to the denied participant; checked by the display-text
        /// rule ([`check_display_text`](crate::check_display_text)) with a
        /// limit of 200 characters. An empty or all-whitespace reason is
        /// read as `None`.
        reason: Option<String>,
    },
    /// `remove` (PROTOCOL.md §8), provider only: as `deny`, for an admitted
    /// participant; the others get `left` with reason `removed`.
    Remove {
        /// The admitted participant to remove.
        participant: ParticipantId,
        /// Shown to the removed participant; the same rule as
        /// [`ClientMessage::Deny`]'s `reason`.
        reason: Option<String>,
    },
    /// `offer` (PROTOCOL.md §5): an SDP offer for the hub to validate and
    /// relay as [`ServerMessage::Offer`](crate::ServerMessage::Offer).
    Offer {
        /// The recipient: an admitted participant of this visit, else
        /// `error` `not_found`.
        to: ParticipantId,
        /// The SDP (RFC 8866). The hub checks it against the rules of §5
        /// and §6 before relaying it; a failing one gets `invalid_sdp` with
        /// the rule.
        sdp: String,
    },
    /// `answer` (PROTOCOL.md §5): an SDP answer, relayed like `offer`.
    Answer {
        /// The recipient: an admitted participant of this visit, else
        /// `error` `not_found`.
        to: ParticipantId,
        /// The SDP (RFC 8866), checked like an offer's.
        sdp: String,
    },
    /// `ice` (PROTOCOL.md §5): a trickle ICE candidate to relay. The parser
    /// checks `candidate`, `sdp_mid` and `sdp_mline_index` (docs/protocol.md,
    /// "Other fields relayed to participants"): a failing one is
    /// [`ParseError::Invalid`].
    Ice {
        /// The recipient: an admitted participant of this visit, else
        /// `error` `not_found`.
        to: ParticipantId,
        /// The candidate line, starting with `candidate:`, or empty for
        /// end-of-candidates; at most 1024 bytes, no control characters.
        candidate: String,
        /// The media stream id (`a=mid`) the candidate belongs to: empty or
        /// at most 64 token characters.
        sdp_mid: Option<String>,
        /// Index of the m-section the candidate belongs to, below 16.
        sdp_mline_index: Option<u32>,
    },
    /// `track` (PROTOCOL.md §6): announce a track before sending it, or
    /// withdraw the announcement. The hub relays it to the other admitted
    /// participants.
    Track {
        /// Publish or unpublish.
        action: TrackAction,
        /// What the track carries. Required when publishing (else
        /// [`ParseError::MissingField`]); may be absent when unpublishing.
        /// `screen` needs the `screen_share` permission, else `forbidden`.
        source: Option<TrackSource>,
        /// The id the sender's SDP carries as the second `a=msid` field.
        track_id: TrackId,
    },
    /// `request` (PROTOCOL.md §6), from a patient or guest: providers get
    /// `permission_requested`.
    Request {
        /// The permission asked for.
        permission: Permission,
    },
    /// `grant` (PROTOCOL.md §6), provider only: everyone admitted gets
    /// `permissions` with the participant's new set.
    Grant {
        /// The participant to grant the permission to.
        participant: ParticipantId,
        /// The permission; `admit` is never grantable (`forbidden`).
        permission: Permission,
    },
    /// `revoke` (PROTOCOL.md §6), provider only: everyone admitted gets
    /// `permissions`; revoking `screen_share` also unpublishes the
    /// participant's `screen` tracks.
    Revoke {
        /// The participant to revoke the permission from.
        participant: ParticipantId,
        /// The permission; `admit` cannot be revoked (`forbidden`).
        permission: Permission,
    },
    /// `keys` (PROTOCOL.md §7): publish the sender's key bundle, which the
    /// hub stores and sends to the others as `keys` and in
    /// `participants[].keys`.
    Keys {
        /// The bundle after [`canonical_bundle`](crate::canonical_bundle):
        /// already checked against docs/e2ee.md §5.4 and in the hub's
        /// serialization, not the client's bytes. A bundle of another shape
        /// fails to parse with [`ParseError::Invalid`].
        bundle: Box<RawValue>,
    },
    /// `e2e` (PROTOCOL.md §7): an end-to-end encrypted message. The hub
    /// gives it the next per-visit `seq`, stores it, answers `ack` with the
    /// `seq` (with or without an `id`) and delivers it.
    E2e {
        /// Recipients, fixed when the hub accepts the message: admitted
        /// participants, connected or resumable (a waiting or unknown one:
        /// `not_found`; the sender: `bad_request`). `None` (absent or
        /// `null`) means every admitted participant except the sender.
        to: Option<Vec<ParticipantId>>,
        /// Chat, key or receipt.
        kind: E2eKind,
        /// The ciphertext as canonical standard base64 (RFC 4648 §4), at
        /// most 48 KiB decoded. Not checked by the parser: the hub answers
        /// `bad_request` or `too_large`.
        body: String,
    },
    /// `ack` (PROTOCOL.md §7): the client has processed every `e2e` up to
    /// `seq`; the hub releases its copies. Not itself acknowledged.
    Ack {
        /// Highest `e2e` `seq` processed.
        seq: u64,
    },
}

impl ClientMessage {
    /// The wire `type` of this message, e.g. `"end_visit"` for
    /// [`ClientMessage::EndVisit`].
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientMessage::Hello { .. } => "hello",
            ClientMessage::Resume { .. } => "resume",
            ClientMessage::Ping => "ping",
            ClientMessage::Refresh { .. } => "refresh",
            ClientMessage::Leave => "leave",
            ClientMessage::EndVisit => "end_visit",
            ClientMessage::Admit { .. } => "admit",
            ClientMessage::Deny { .. } => "deny",
            ClientMessage::Remove { .. } => "remove",
            ClientMessage::Offer { .. } => "offer",
            ClientMessage::Answer { .. } => "answer",
            ClientMessage::Ice { .. } => "ice",
            ClientMessage::Track { .. } => "track",
            ClientMessage::Request { .. } => "request",
            ClientMessage::Grant { .. } => "grant",
            ClientMessage::Revoke { .. } => "revoke",
            ClientMessage::Keys { .. } => "keys",
            ClientMessage::E2e { .. } => "e2e",
            ClientMessage::Ack { .. } => "ack",
        }
    }
}

impl ClientMessage {
    /// The JSON text of one frame carrying this message and, when given,
    /// `id` (which the hub echoes as `re`). Fields that are `None` are left
    /// out, and so is `features` when it asks for nothing. What SDKs and
    /// test clients send; [`parse_client_message`] reads it back to the
    /// same message and id.
    ///
    /// # Example
    ///
    /// ```
    /// use bedside_protocol::{ClientMessage, DeviceId, Features, MessageId};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let hello = ClientMessage::Hello {
    ///     token: "header.payload.signature".to_owned(),
    ///     device: Some(DeviceId::new("d-7f3a")?),
    ///     sdk: None,
    ///     features: Features::ALL,
    /// };
    /// let text = hello.to_json(Some(&MessageId::new("h-1")?));
    /// let got: serde_json::Value = serde_json::from_str(&text)?;
    /// let want = serde_json::json!({"type":"hello","id":"h-1",
    ///     "token":"header.payload.signature","device":"d-7f3a","features":["presence"]});
    /// assert_eq!(got, want);
    /// # Ok(())
    /// # }
    /// ```
    pub fn to_json(&self, id: Option<&MessageId>) -> String {
        use serde_json::{Map, Value, json};
        let mut m = Map::new();
        m.insert("type".into(), Value::from(self.type_name()));
        if let Some(id) = id {
            m.insert("id".into(), Value::from(id.as_str()));
        }
        let mut put = |k: &str, v: Value| {
            if !v.is_null() {
                m.insert(k.to_owned(), v);
            }
        };
        let s = |v: &str| Value::from(v);
        match self {
            ClientMessage::Hello {
                token,
                device,
                sdk,
                features,
            } => {
                put("token", s(token));
                put("device", json!(device));
                put("sdk", json!(sdk));
                if *features != Features::default() {
                    put("features", json!(features.names()));
                }
            }
            ClientMessage::Resume {
                resume_token,
                last_seq,
                features,
            } => {
                put("resume_token", s(resume_token));
                put("last_seq", json!(last_seq));
                if *features != Features::default() {
                    put("features", json!(features.names()));
                }
            }
            ClientMessage::Ping | ClientMessage::Leave | ClientMessage::EndVisit => {}
            ClientMessage::Refresh { token } => put("token", s(token)),
            ClientMessage::Admit { participant } => put("participant", json!(participant)),
            ClientMessage::Deny {
                participant,
                reason,
            }
            | ClientMessage::Remove {
                participant,
                reason,
            } => {
                put("participant", json!(participant));
                put("reason", json!(reason));
            }
            ClientMessage::Offer { to, sdp } | ClientMessage::Answer { to, sdp } => {
                put("to", json!(to));
                put("sdp", s(sdp));
            }
            ClientMessage::Ice {
                to,
                candidate,
                sdp_mid,
                sdp_mline_index,
            } => {
                put("to", json!(to));
                put("candidate", s(candidate));
                put("sdp_mid", json!(sdp_mid));
                put("sdp_mline_index", json!(sdp_mline_index));
            }
            ClientMessage::Track {
                action,
                source,
                track_id,
            } => {
                put("action", json!(action));
                put("source", json!(source));
                put("track_id", json!(track_id));
            }
            ClientMessage::Request { permission } => put("permission", json!(permission)),
            ClientMessage::Grant {
                participant,
                permission,
            }
            | ClientMessage::Revoke {
                participant,
                permission,
            } => {
                put("participant", json!(participant));
                put("permission", json!(permission));
            }
            ClientMessage::Keys { bundle } => {
                put(
                    "bundle",
                    serde_json::from_str(bundle.get()).unwrap_or(Value::Null),
                );
            }
            ClientMessage::E2e { to, kind, body } => {
                put("to", json!(to));
                put("kind", json!(kind));
                put("body", s(body));
            }
            ClientMessage::Ack { seq } => put("seq", json!(seq)),
        }
        Value::Object(m).to_string()
    }
}

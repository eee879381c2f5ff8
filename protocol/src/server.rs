//! Hub → client messages.

use crate::codes::ErrorCode;
use crate::ids::{MessageId, ParticipantId, TrackId, VisitId};
use crate::model::{
    E2eKind, LeftReason, Participant, ParticipantState, Permission, PresentProvider, Role,
    TrackAction, TrackSource, WaitingEntry,
};
use crate::time::UnixSecs;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// `welcome.participant`: who the connection speaks for (PROTOCOL.md §3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WelcomeParticipant {
    /// The participant id: the token's `sub`.
    pub id: ParticipantId,
    /// Display name: the token's `name`, else the id.
    pub name: String,
    /// The token's role.
    pub role: Role,
    /// Every permission the participant holds in this visit now
    /// (PROTOCOL.md §6); a provider always holds `admit`.
    pub perms: Vec<Permission>,
}

/// One entry of `welcome.ice_servers`, shaped as the browser's
/// `RTCIceServer` (PROTOCOL.md §3). `username` and `credential` are both
/// present for TURN and both absent for STUN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:`, `turn:` or `turns:` URLs of one server.
    pub urls: Vec<String>,
    /// TURN username in the TURN REST convention (coturn's
    /// `use-auth-secret`): `"<expiry unix seconds>:<participant id>"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password: base64(HMAC-SHA1(shared secret, `username`)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `welcome.limits`: limits the hub enforces on this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest client frame accepted, in bytes; a larger one closes with
    /// 4009 (PROTOCOL.md §1). Default 65536
    /// ([`DEFAULT_MAX_MESSAGE_BYTES`](crate::DEFAULT_MAX_MESSAGE_BYTES)).
    pub max_message_bytes: usize,
    /// Seconds without any client message (`ping` counts) after which the
    /// hub closes with 4008 (PROTOCOL.md §8). Default 900.
    pub idle_timeout_s: u64,
}

/// The members of an `error` message besides `type` (PROTOCOL.md §9):
/// something the client sent was refused and had no effect.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong; what a client should branch on.
    pub code: ErrorCode,
    /// Explanation for developers and logs; not stable, do not parse it.
    /// Quotes at most 160 characters of what the client sent, control
    /// characters replaced (docs/protocol.md); never contains PHI.
    pub message: String,
    /// The `id` of the client message refused; absent when it had none,
    /// when its `id` could not be read, and for messages dropped by the
    /// rate limit (the hub does not parse them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub re: Option<MessageId>,
    /// For `invalid_sdp` only: the rule the SDP broke, e.g. `"fingerprint"`
    /// or `"unannounced_track"` (docs/protocol.md, "SDP rules").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// A message from the hub (PROTOCOL.md §3–§9, and the extensions of
/// docs/protocol.md). Written with serde as one JSON object tagged by
/// `type` (see [`ServerMessage::to_json`]); read with
/// [`ServerMessage::from_json`], which picks the variant first.
///
/// # Example
///
/// ```
/// use bedside_protocol::{MessageId, ServerMessage};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ack = ServerMessage::Ack { re: Some(MessageId::new("c-9")?), seq: Some(42), expires_at: None };
/// assert_eq!(ack.type_name(), "ack");
/// assert_eq!(ack.to_json(), r#"{"type":"ack","re":"c-9","seq":42}"#);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// `welcome` (PROTOCOL.md §3): the answer to `hello` or `resume`; the
    /// session is established.
    Welcome {
        /// Opaque session id chosen by the hub (it writes `s-…`).
        session: String,
        /// The visit the token admits to.
        visit: VisitId,
        /// Who the connection speaks for.
        participant: WelcomeParticipant,
        /// `admitted` for providers and for participants a provider already
        /// admitted in this visit; otherwise `waiting`.
        state: ParticipantState,
        /// Opaque, single-use token for the next `resume`; each `welcome`
        /// carries a fresh one. It lives as long as the join token would
        /// have.
        resume_token: String,
        /// Unix time in seconds at which the session ends (close 4010)
        /// unless a `refresh` extends it.
        expires_at: UnixSecs,
        /// STUN and TURN servers for the client's peer connections.
        ice_servers: Vec<IceServer>,
        /// Limits the hub enforces on this connection.
        limits: Limits,
    },
    /// `lobby` (PROTOCOL.md §4), to providers: sent whenever the waiting list
    /// changes, and right after the provider's own `admitted`.
    Lobby {
        /// Everyone waiting now (the whole list, not a change); empty when
        /// nobody waits.
        waiting: Vec<WaitingEntry>,
    },
    /// `presence`, to a waiting participant that asked for the `presence`
    /// feature (docs/protocol.md): right after `welcome`, then on every
    /// change, until it is admitted.
    Presence {
        /// The providers admitted and connected now; empty when none is.
        providers: Vec<PresentProvider>,
    },
    /// `admitted` (PROTOCOL.md §4), to the participant just admitted (a
    /// provider at once): it now takes part in the visit.
    Admitted {
        /// Every admitted participant, the recipient included, with their
        /// tracks and key bundles.
        participants: Vec<Participant>,
    },
    /// `denied` (PROTOCOL.md §4), to a participant a provider denied or
    /// removed; the hub then closes with 4003.
    Denied {
        /// The provider's reason (display-text rule, at most 200
        /// characters); absent when none was given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// `joined` (PROTOCOL.md §4), to everyone already admitted: a
    /// participant was admitted, or came back after `left` `closed`.
    Joined {
        /// The participant, with its tracks and key bundle.
        participant: Participant,
    },
    /// `left` (PROTOCOL.md §4), to everyone admitted: a participant went.
    Left {
        /// The participant who went.
        participant: ParticipantId,
        /// Why it went.
        reason: LeftReason,
    },
    /// `offer` (PROTOCOL.md §5): an SDP offer relayed from another admitted
    /// participant, after the hub validated it.
    Offer {
        /// The sender, set by the hub (a client's own `from` is ignored).
        from: ParticipantId,
        /// The sender's SDP, which passed the hub's rules (§5, §6).
        sdp: String,
    },
    /// `answer` (PROTOCOL.md §5): an SDP answer relayed like `offer`.
    Answer {
        /// The sender, set by the hub.
        from: ParticipantId,
        /// The sender's SDP, which passed the hub's rules (§5, §6).
        sdp: String,
    },
    /// `ice` (PROTOCOL.md §5): a trickle ICE candidate relayed from another
    /// admitted participant.
    Ice {
        /// The sender, set by the hub.
        from: ParticipantId,
        /// The candidate line (`candidate:…`, at most 1024 bytes, no
        /// control characters); empty is end-of-candidates.
        candidate: String,
        /// The media stream id (`a=mid`): empty or at most 64 token
        /// characters; absent if the sender gave none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        /// Index of the m-section, below 16; absent if the sender gave none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mline_index: Option<u32>,
    },
    /// `track` (PROTOCOL.md §6): a participant's track announcement or its
    /// withdrawal, relayed to the other admitted participants. The hub
    /// sends `unpublish` itself, to everyone including the sharer, for each
    /// `screen` track when `screen_share` is revoked; the sharer's SDK must
    /// stop that track.
    Track {
        /// Publish or unpublish.
        action: TrackAction,
        /// Whose track.
        from: ParticipantId,
        /// What the track carries; present on publish, absent on unpublish.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<TrackSource>,
        /// The track id, as in the sender's SDP (second `a=msid` field).
        track_id: TrackId,
    },
    /// `permission_requested` (PROTOCOL.md §6), to providers: a participant
    /// sent `request`. A provider may answer with `grant`.
    PermissionRequested {
        /// The participant asking.
        participant: ParticipantId,
        /// The permission asked for.
        permission: Permission,
    },
    /// `permissions` (PROTOCOL.md §6), to everyone admitted: a
    /// participant's permissions changed.
    Permissions {
        /// The participant whose permissions changed.
        participant: ParticipantId,
        /// The full new set, not the change.
        perms: Vec<Permission>,
    },
    /// `keys` (PROTOCOL.md §7): another participant published a key bundle.
    Keys {
        /// The participant the bundle belongs to.
        from: ParticipantId,
        /// The bundle as the hub serialized it
        /// ([`canonical_bundle`](crate::canonical_bundle), docs/e2ee.md
        /// §5.4), kept verbatim when read.
        bundle: Box<RawValue>,
    },
    /// `e2e` (PROTOCOL.md §7): an end-to-end encrypted message, delivered
    /// in `seq` order, never twice on one connection. On every join, what
    /// the participant has not acknowledged above `last_seq` (0 for
    /// `hello`) comes first. Acknowledge it with `ack`.
    E2e {
        /// The sender.
        from: ParticipantId,
        /// Sequence number the hub gave it: per visit, 1, 2, 3 … without
        /// gaps.
        seq: u64,
        /// Unix time in milliseconds when the hub accepted it.
        ts: i64,
        /// Chat, key or receipt.
        kind: E2eKind,
        /// Every recipient, as fixed when the hub accepted it.
        to: Vec<ParticipantId>,
        /// The ciphertext, canonical standard base64, at most 48 KiB
        /// decoded; the hub cannot read it.
        body: String,
    },
    /// `ack`: the hub carried out a client message (docs/protocol.md,
    /// "Acknowledgements"). For `e2e`, it means the message is durable and
    /// survives a hub restart (PROTOCOL.md §7).
    Ack {
        /// The `id` of the client message acknowledged; absent when it had
        /// none (`e2e` and `refresh` are acknowledged even then).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<MessageId>,
        /// For `e2e` only: the `seq` the hub gave the message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// For `refresh` only: the new session expiry, unix seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<UnixSecs>,
    },
    /// `pong` (PROTOCOL.md §8): the answer to `ping`.
    Pong {
        /// The ping's `id`; absent when it had none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<MessageId>,
    },
    /// `session_expiring` (PROTOCOL.md §8): sent 60 s before the session
    /// expires; send `refresh` with a new token, or be closed with 4010.
    SessionExpiring {
        /// Unix time in seconds at which the session expires.
        expires_at: UnixSecs,
    },
    /// `ended` (PROTOCOL.md §8): a provider ended the visit (also the answer
    /// to a later `hello` for it); the hub then closes with 4012.
    Ended,
    /// `error` (PROTOCOL.md §9): something the client sent was refused and
    /// had no effect. The connection stays open, except that the 20th
    /// protocol error also closes it with 4000.
    Error(ErrorBody),
}

impl ServerMessage {
    /// An `error` message with `code`, `message` and, when the refused
    /// message had an `id`, `re`; `rule` is `None` (set it on the
    /// [`ErrorBody`] for `invalid_sdp`).
    ///
    /// # Example
    ///
    /// ```
    /// use bedside_protocol::{ErrorCode, MessageId, ServerMessage};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let re = Some(MessageId::new("c-3")?);
    /// let msg = ServerMessage::error(ErrorCode::Forbidden, "only a provider may admit", re);
    /// let want = r#"{"type":"error","code":"forbidden","message":"only a provider may admit","re":"c-3"}"#;
    /// assert_eq!(msg.to_json(), want);
    /// # Ok(())
    /// # }
    /// ```
    pub fn error(code: ErrorCode, message: impl Into<String>, re: Option<MessageId>) -> Self {
        ServerMessage::Error(ErrorBody {
            code,
            message: message.into(),
            re,
            rule: None,
        })
    }

    /// The wire `type` of this message, e.g. `"permission_requested"` for
    /// [`ServerMessage::PermissionRequested`].
    pub fn type_name(&self) -> &'static str {
        match self {
            ServerMessage::Welcome { .. } => "welcome",
            ServerMessage::Lobby { .. } => "lobby",
            ServerMessage::Presence { .. } => "presence",
            ServerMessage::Admitted { .. } => "admitted",
            ServerMessage::Denied { .. } => "denied",
            ServerMessage::Joined { .. } => "joined",
            ServerMessage::Left { .. } => "left",
            ServerMessage::Offer { .. } => "offer",
            ServerMessage::Answer { .. } => "answer",
            ServerMessage::Ice { .. } => "ice",
            ServerMessage::Track { .. } => "track",
            ServerMessage::PermissionRequested { .. } => "permission_requested",
            ServerMessage::Permissions { .. } => "permissions",
            ServerMessage::Keys { .. } => "keys",
            ServerMessage::E2e { .. } => "e2e",
            ServerMessage::Ack { .. } => "ack",
            ServerMessage::Pong { .. } => "pong",
            ServerMessage::SessionExpiring { .. } => "session_expiring",
            ServerMessage::Ended => "ended",
            ServerMessage::Error(_) => "error",
        }
    }

    /// The JSON text of one frame: an object with `type` first, then the
    /// variant's fields in declaration order. Optional fields that are
    /// `None` are left out, except `participants[].keys`, written as
    /// `null`. Serializing cannot fail; if it did, the text would be an
    /// `internal` `error`.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every map key is a string and
        // every value is plain data.
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"error","code":"internal","message":"serialization failed"}"#.to_owned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shape() {
        let mut m = ServerMessage::error(
            ErrorCode::InvalidSdp,
            "no fingerprint",
            Some(MessageId::new("c-3").unwrap()),
        );
        if let ServerMessage::Error(b) = &mut m {
            b.rule = Some("fingerprint".into());
        }
        let v: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"error","code":"invalid_sdp","message":"no fingerprint","re":"c-3","rule":"fingerprint"})
        );
    }

    /// Clients read what the hub writes, including the raw key bundles.
    #[test]
    fn messages_with_bundles_read_back() {
        let text = r#"{"type":"admitted","participants":[{"id":"dr","name":"Dr","role":"provider","perms":["admit"],"tracks":[],"keys":{"v":1,"ik":"x"}},{"id":"pt","name":"Pt","role":"patient","perms":[],"tracks":[],"keys":null}]}"#;
        let m = ServerMessage::from_json(text).unwrap();
        match m {
            ServerMessage::Admitted { participants } => {
                assert_eq!(
                    participants[0].keys.as_ref().unwrap().get(),
                    r#"{"v":1,"ik":"x"}"#,
                    "verbatim"
                );
                assert!(participants[1].keys.is_none());
            }
            other => panic!("{other:?}"),
        }
        let m =
            ServerMessage::from_json(r#"{"type":"keys","from":"dr","bundle":{"v":1}}"#).unwrap();
        assert!(matches!(m, ServerMessage::Keys { .. }));
    }

    #[test]
    fn ended_and_left_shape() {
        assert_eq!(ServerMessage::Ended.to_json(), r#"{"type":"ended"}"#);
        let m = ServerMessage::Left {
            participant: ParticipantId::new("pt-1").unwrap(),
            reason: LeftReason::Closed,
        };
        assert_eq!(
            m.to_json(),
            r#"{"type":"left","participant":"pt-1","reason":"closed"}"#
        );
    }
}

//! Hub → client messages.

use crate::codes::ErrorCode;
use crate::ids::{MessageId, ParticipantId, TrackId, VisitId};
use crate::model::{
    E2eKind, LeftReason, Participant, ParticipantState, Permission, PresentProvider, Role,
    TrackAction, TrackSource, WaitingEntry,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The participant block of `welcome`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WelcomeParticipant {
    /// Participant id (the token's `sub`).
    pub id: ParticipantId,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Current permissions.
    pub perms: Vec<Permission>,
}

/// One entry of `welcome.ice_servers` (the browser's `RTCIceServer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// STUN or TURN URLs.
    pub urls: Vec<String>,
    /// TURN username (`<expiry>:<participant>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN credential (base64 HMAC-SHA1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `welcome.limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest accepted frame.
    pub max_message_bytes: usize,
    /// Seconds without a client message before 4008.
    pub idle_timeout_s: u64,
}

/// The body of an `error` message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable explanation (never contains PHI).
    pub message: String,
    /// The client message id this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub re: Option<MessageId>,
    /// For `invalid_sdp`: the rule that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// A message from the hub. Written with serde (`type` tag); read with
/// [`ServerMessage::from_json`], which picks the variant first.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Session established.
    Welcome {
        /// Session id.
        session: String,
        /// The visit.
        visit: VisitId,
        /// Who the client is.
        participant: WelcomeParticipant,
        /// Waiting or admitted.
        state: ParticipantState,
        /// Single-use token for `resume`.
        resume_token: String,
        /// Unix seconds when the session expires without a refresh.
        expires_at: i64,
        /// STUN/TURN servers for the peer connection.
        ice_servers: Vec<IceServer>,
        /// Limits the client must respect.
        limits: Limits,
    },
    /// To providers: the waiting list changed.
    Lobby {
        /// Who waits.
        waiting: Vec<WaitingEntry>,
    },
    /// To a waiting participant that asked for the `presence` feature: the
    /// providers present now (on arrival, then on every change).
    Presence {
        /// Admitted, connected providers.
        providers: Vec<PresentProvider>,
    },
    /// To a participant: you are admitted; here is everyone.
    Admitted {
        /// Every admitted participant, including the recipient.
        participants: Vec<Participant>,
    },
    /// To a participant: a provider denied or removed you (then close 4003).
    Denied {
        /// The provider's reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Someone was admitted or came back.
    Joined {
        /// Who.
        participant: Participant,
    },
    /// Someone went.
    Left {
        /// Who.
        participant: ParticipantId,
        /// Why.
        reason: LeftReason,
    },
    /// Relayed SDP offer.
    Offer {
        /// Sender (stamped by the hub).
        from: ParticipantId,
        /// The SDP.
        sdp: String,
    },
    /// Relayed SDP answer.
    Answer {
        /// Sender (stamped by the hub).
        from: ParticipantId,
        /// The SDP.
        sdp: String,
    },
    /// Relayed ICE candidate.
    Ice {
        /// Sender (stamped by the hub).
        from: ParticipantId,
        /// Candidate line; empty is end-of-candidates.
        candidate: String,
        /// Media stream id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        /// m-line index.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mline_index: Option<u32>,
    },
    /// A track announcement (or its withdrawal).
    Track {
        /// Publish or unpublish.
        action: TrackAction,
        /// Whose track.
        from: ParticipantId,
        /// What it carries (publish only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<TrackSource>,
        /// The track id.
        track_id: TrackId,
    },
    /// To providers: a participant asks for a permission.
    PermissionRequested {
        /// Who asks.
        participant: ParticipantId,
        /// For what.
        permission: Permission,
    },
    /// A participant's permissions changed.
    Permissions {
        /// Whose.
        participant: ParticipantId,
        /// The full new set.
        perms: Vec<Permission>,
    },
    /// A participant's key bundle.
    Keys {
        /// Whose.
        from: ParticipantId,
        /// The bundle as the hub re-serialised it (docs/e2ee.md §5.4).
        bundle: Box<RawValue>,
    },
    /// A relayed end-to-end encrypted message.
    E2e {
        /// Sender.
        from: ParticipantId,
        /// Per-visit sequence number.
        seq: u64,
        /// Unix milliseconds when the hub stored it.
        ts: i64,
        /// Chat, key or receipt.
        kind: E2eKind,
        /// Recipients.
        to: Vec<ParticipantId>,
        /// base64 ciphertext.
        body: String,
    },
    /// Acknowledges a client message.
    Ack {
        /// The client message id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<MessageId>,
        /// For `e2e`: the seq assigned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// For `refresh`: the new expiry.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<i64>,
    },
    /// Answer to `ping`.
    Pong {
        /// The ping's id, if it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        re: Option<MessageId>,
    },
    /// The session expires soon; send `refresh`.
    SessionExpiring {
        /// Unix seconds.
        expires_at: i64,
    },
    /// The visit ended (then close 4012).
    Ended,
    /// Something the client sent was refused.
    Error(ErrorBody),
}

impl ServerMessage {
    /// An `error` message.
    pub fn error(code: ErrorCode, message: impl Into<String>, re: Option<MessageId>) -> Self {
        ServerMessage::Error(ErrorBody {
            code,
            message: message.into(),
            re,
            rule: None,
        })
    }

    /// The wire `type` of this message.
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

    /// Serializes to the JSON text of one frame.
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

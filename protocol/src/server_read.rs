//! Reading a hub message in two steps: its `type` first, then the variant's
//! fields straight from the text. serde's derive for an internally tagged
//! enum buffers every message into a generic tree before it can pick the
//! variant; that machinery was the largest single item of the browser SDK's
//! wasm (docs/performance.md), and a tree cannot hand out `RawValue`s (key
//! bundles had to be re-serialized). Unknown fields are ignored, as before.

use crate::ids::{MessageId, ParticipantId, TrackId, VisitId};
use crate::model::{
    E2eKind, LeftReason, Participant, ParticipantState, Permission, PresentProvider, TrackAction,
    TrackSource, WaitingEntry,
};
use crate::server::{ErrorBody, IceServer, Limits, ServerMessage, WelcomeParticipant};
use crate::time::UnixSecs;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

/// Reads the fields of one variant into a struct of the same shape.
macro_rules! variant {
    ($text:expr, $name:ident { $($field:ident : $ty:ty),* $(,)? }) => {{
        #[derive(Deserialize)]
        struct Fields {
            $($field: $ty,)*
        }
        let f: Fields = serde_json::from_str($text)?;
        ServerMessage::$name { $($field: f.$field,)* }
    }};
}

impl ServerMessage {
    /// Reads one hub message from the text of a WebSocket text frame: its
    /// `type` first, then that variant's fields straight from the text.
    /// Unknown members are ignored (PROTOCOL.md §1); absent optional fields
    /// are `None`. Key bundles (`keys`, `participants[].keys`) are kept
    /// verbatim as [`RawValue`] and not checked here.
    ///
    /// # Errors
    ///
    /// A [`serde_json::Error`] when the text is not a JSON object, has no
    /// string `type`, names a `type` this crate does not know, or lacks a
    /// required field or holds one of the wrong type or value (an id that
    /// breaks its rule, an unknown enum value).
    ///
    /// # Example
    ///
    /// ```
    /// use bedside_protocol::{LeftReason, ServerMessage};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let text = r#"{"type":"left","participant":"pt-1","reason":"closed","extra":1}"#;
    /// let msg = ServerMessage::from_json(text)?;
    /// assert!(matches!(&msg, ServerMessage::Left { participant, reason: LeftReason::Closed }
    ///     if participant.as_str() == "pt-1"));
    /// assert!(ServerMessage::from_json(r#"{"type":"teleport"}"#).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        // Every hub message is an object; serde would also read the
        // fields of a struct from an array (`["denied", …]`).
        if !text.trim_start().starts_with('{') {
            return Err(serde::de::Error::custom("a hub message is a JSON object"));
        }
        let tag: Tag<'_> = serde_json::from_str(text)?;
        Ok(match tag.kind.as_ref() {
            "welcome" => variant!(text, Welcome {
                session: String,
                visit: VisitId,
                participant: WelcomeParticipant,
                state: ParticipantState,
                resume_token: String,
                expires_at: UnixSecs,
                ice_servers: Vec<IceServer>,
                limits: Limits,
            }),
            "lobby" => variant!(text, Lobby { waiting: Vec<WaitingEntry> }),
            "presence" => variant!(text, Presence { providers: Vec<PresentProvider> }),
            "admitted" => variant!(text, Admitted { participants: Vec<Participant> }),
            "denied" => variant!(text, Denied { reason: Option<String> }),
            "joined" => variant!(
                text,
                Joined {
                    participant: Participant
                }
            ),
            "left" => variant!(
                text,
                Left {
                    participant: ParticipantId,
                    reason: LeftReason
                }
            ),
            "offer" => variant!(
                text,
                Offer {
                    from: ParticipantId,
                    sdp: String
                }
            ),
            "answer" => variant!(
                text,
                Answer {
                    from: ParticipantId,
                    sdp: String
                }
            ),
            "ice" => variant!(text, Ice {
                from: ParticipantId,
                candidate: String,
                sdp_mid: Option<String>,
                sdp_mline_index: Option<u32>,
            }),
            "track" => variant!(text, Track {
                action: TrackAction,
                from: ParticipantId,
                source: Option<TrackSource>,
                track_id: TrackId,
            }),
            "permission_requested" => variant!(
                text,
                PermissionRequested {
                    participant: ParticipantId,
                    permission: Permission,
                }
            ),
            "permissions" => variant!(text, Permissions {
                participant: ParticipantId,
                perms: Vec<Permission>,
            }),
            "keys" => variant!(text, Keys { from: ParticipantId, bundle: Box<RawValue> }),
            "e2e" => variant!(text, E2e {
                from: ParticipantId,
                seq: u64,
                ts: i64,
                kind: E2eKind,
                to: Vec<ParticipantId>,
                body: String,
            }),
            "ack" => variant!(text, Ack {
                re: Option<MessageId>,
                seq: Option<u64>,
                expires_at: Option<UnixSecs>,
            }),
            "pong" => variant!(text, Pong { re: Option<MessageId> }),
            "session_expiring" => variant!(
                text,
                SessionExpiring {
                    expires_at: UnixSecs
                }
            ),
            "ended" => ServerMessage::Ended,
            "error" => ServerMessage::Error(serde_json::from_str::<ErrorBody>(text)?),
            other => {
                return Err(serde::de::Error::custom(format_args!(
                    "unknown message type {other:?}"
                )));
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    /// One sample of every variant, as the hub writes them, plus a few
    /// variations (optional fields missing, unknown fields, escapes).
    const SAMPLES: &[&str] = &[
        r#"{"type":"welcome","session":"s-1","visit":"v-1","participant":{"id":"pt-1","name":"P\u00e4t","role":"patient","perms":[]},"state":"waiting","resume_token":"rt","expires_at":1800000000,"ice_servers":[{"urls":["stun:x"]},{"urls":["turn:y"],"username":"1:pt","credential":"c"}],"limits":{"max_message_bytes":65536,"idle_timeout_s":900}}"#,
        r#"{"type":"lobby","waiting":[{"id":"pt-1","name":"Pat","role":"patient"}]}"#,
        r#"{"type":"admitted","participants":[{"id":"dr","name":"D","role":"provider","perms":["screen_share","admit"],"tracks":[{"track_id":"t1","source":"camera"}],"keys":{"v":1}},{"id":"pt","name":"P","role":"patient","perms":[],"tracks":[],"keys":null}]}"#,
        r#"{"type":"denied","reason":"wrong visit"}"#,
        r#"{"type":"denied"}"#,
        r#"{"type":"joined","participant":{"id":"g","name":"G","role":"guest","perms":[],"tracks":[],"keys":null}}"#,
        r#"{"type":"left","participant":"pt","reason":"closed"}"#,
        r#"{"type":"offer","from":"dr","sdp":"v=0\r\n"}"#,
        r#"{"type":"answer","from":"dr","sdp":"v=0\r\n","extra":1}"#,
        r#"{"type":"ice","from":"dr","candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host","sdp_mid":"0","sdp_mline_index":0}"#,
        r#"{"type":"ice","from":"dr","candidate":""}"#,
        r#"{"type":"track","action":"publish","from":"dr","source":"screen","track_id":"t2"}"#,
        r#"{"type":"track","action":"unpublish","from":"dr","track_id":"t2"}"#,
        r#"{"type":"permission_requested","participant":"pt","permission":"screen_share"}"#,
        r#"{"type":"permissions","participant":"pt","perms":["screen_share"]}"#,
        r#"{"type":"keys","from":"dr","bundle":{"v":1,"ik":"a","hello":"b","sig":"c"}}"#,
        r#"{"type":"e2e","from":"dr","seq":7,"ts":1,"kind":"chat","to":["pt"],"body":"aGk="}"#,
        r#"{"type":"ack","re":"c-1","seq":3}"#,
        r#"{"type":"ack","re":"r-1","expires_at":1800003600}"#,
        r#"{"type":"pong"}"#,
        r#"{"type":"session_expiring","expires_at":1800000000}"#,
        r#"{"type":"ended"}"#,
        r#"{"type":"error","code":"invalid_sdp","message":"no","re":"o-1","rule":"unannounced_track"}"#,
        r#"{"type":"error","code":"forbidden","message":"no"}"#,
    ];

    /// Without the fields the hub never writes (`extra`), a message read
    /// and written again is the message.
    #[test]
    fn reads_every_variant_and_writes_it_back() {
        for text in SAMPLES {
            let read = ServerMessage::from_json(text).expect(text);
            let mut want: serde_json::Value = serde_json::from_str(text).expect(text);
            if let Some(o) = want.as_object_mut() {
                o.remove("extra");
            }
            let back: serde_json::Value =
                serde_json::from_str(&serde_json::to_string(&read).expect(text)).expect(text);
            assert_eq!(back, want, "{text}");
        }
    }

    #[test]
    fn refuses_malformed_messages() {
        for text in [
            r#"{"type":"nope"}"#,
            r#"{"sdp":"x"}"#,
            r#"{"type":"offer","from":"dr"}"#,
            r#"{"type":"offer","from":"bad id!","sdp":"x"}"#,
            r#"{"type":"e2e","from":"dr","seq":-1,"ts":1,"kind":"chat","to":[],"body":""}"#,
            r#"{"type":"track","action":"publish","from":"dr","source":"hologram","track_id":"t"}"#,
            r#"[1,2]"#,
            r#"["denied","x"]"#,
            r#"{"type":"ended""#,
        ] {
            assert!(
                ServerMessage::from_json(text).is_err(),
                "from_json took {text}"
            );
        }
    }
}

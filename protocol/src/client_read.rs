//! Reading a client → hub frame ([`parse_client_message`]).
//!
//! The parser reads a frame in one pass into a flat record of every field any
//! message may carry, then checks that the fields the `type` needs are there.
//! That keeps the hot path to a single serde pass without buffering, and lets
//! an error still echo the client's `id` as `re`.

use crate::client::{ClientMessage, Features};
use crate::ids::{DeviceId, MessageId, ParticipantId, TrackId};
use crate::model::{E2eKind, Permission, TrackAction, TrackSource};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Why [`parse_client_message`] refused a frame. The hub answers every
/// variant with `error` `bad_request` (with `re` when the frame's `id`
/// could be read) and counts it as a protocol error: the 20th on one
/// connection closes it with 4000 (PROTOCOL.md §1). As the first message
/// of a connection, any of them closes with 4000 (§3). The `Display` text
/// is what the hub puts in `error.message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON, not an object, or a field of the wrong type or value: an
    /// id breaking its rule (an invalid `id` makes the whole frame invalid
    /// and is not echoed), an unknown enum value, a `reason`, `ice` field
    /// or `keys` bundle refused by its rule. The text is bounded: serde's
    /// message, which may quote the input, is cut to 160 characters and its
    /// control characters replaced by spaces.
    #[error("invalid message: {0}")]
    Invalid(String),
    /// No `type` member, or `"type":null`.
    #[error("message has no \"type\"")]
    MissingType,
    /// A `type` this crate does not know; holds it, cut to 40 characters.
    #[error("unknown message type \"{0}\"")]
    UnknownType(String),
    /// A member the `type` requires is absent (or `null`).
    #[error("\"{ty}\" needs the field \"{field}\"")]
    MissingField {
        /// The message's `type`, e.g. `"offer"`.
        ty: &'static str,
        /// The wire name of the absent member, e.g. `"sdp"`.
        field: &'static str,
    },
}

/// Every field any client message may carry. Unknown fields are ignored.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type", borrow)]
    ty: Option<std::borrow::Cow<'a, str>>,
    id: Option<MessageId>,
    token: Option<String>,
    device: Option<DeviceId>,
    sdk: Option<String>,
    #[serde(borrow, default)]
    features: Option<Vec<std::borrow::Cow<'a, str>>>,
    resume_token: Option<String>,
    last_seq: Option<u64>,
    participant: Option<ParticipantId>,
    reason: Option<String>,
    #[serde(borrow)]
    to: Option<&'a RawValue>,
    sdp: Option<String>,
    candidate: Option<String>,
    sdp_mid: Option<String>,
    sdp_mline_index: Option<u32>,
    action: Option<TrackAction>,
    source: Option<TrackSource>,
    track_id: Option<TrackId>,
    permission: Option<Permission>,
    bundle: Option<Box<RawValue>>,
    kind: Option<E2eKind>,
    body: Option<String>,
    seq: Option<u64>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: Option<serde_json::Value>,
}

fn features(names: Option<&[std::borrow::Cow<'_, str>]>) -> Features {
    Features::from_names(names.unwrap_or_default().iter().map(AsRef::as_ref))
}

fn need<T>(v: Option<T>, ty: &'static str, field: &'static str) -> Result<T, ParseError> {
    v.ok_or(ParseError::MissingField { ty, field })
}

fn parse_to_one(raw: Option<&RawValue>, ty: &'static str) -> Result<ParticipantId, ParseError> {
    let raw = need(raw, ty, "to")?;
    serde_json::from_str(raw.get()).map_err(|e| invalid(format!("\"to\": {e}")))
}

fn parse_to_many(raw: Option<&RawValue>) -> Result<Option<Vec<ParticipantId>>, ParseError> {
    match raw {
        None => Ok(None),
        Some(raw) if raw.get() == "null" => Ok(None),
        Some(raw) => serde_json::from_str(raw.get())
            .map(Some)
            .map_err(|e| invalid(format!("\"to\": {e}"))),
    }
}

/// Parses one client text frame (one JSON object, PROTOCOL.md §1) into its
/// optional `id` and the message. Unknown members are ignored, and so is a
/// client's `from`.
///
/// # Errors
///
/// The [`ParseError`] together with the frame's `id` when one could be
/// read, so the hub can still answer `error` with `re`.
///
/// # Example
///
/// ```
/// use bedside_protocol::{ClientMessage, ParseError, parse_client_message};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let frame = r#"{"type":"admit","id":"c-3","participant":"pt-1"}"#;
/// let (id, msg) = parse_client_message(frame).map_err(|(_, e)| e)?;
/// assert_eq!(id.as_ref().map(|i| i.as_str()), Some("c-3"));
/// assert!(matches!(&msg, ClientMessage::Admit { participant } if participant.as_str() == "pt-1"));
///
/// let Err((id, err)) = parse_client_message(r#"{"type":"admit","id":"c-4"}"#) else {
///     panic!("a message without its field was accepted");
/// };
/// assert_eq!(id.as_ref().map(|i| i.as_str()), Some("c-4"));
/// assert_eq!(err, ParseError::MissingField { ty: "admit", field: "participant" });
/// # Ok(())
/// # }
/// ```
pub fn parse_client_message(
    text: &str,
) -> Result<(Option<MessageId>, ClientMessage), (Option<MessageId>, ParseError)> {
    let wire: Wire<'_> = match serde_json::from_str(text) {
        Ok(w) => w,
        Err(e) => return Err((recover_id(text), invalid(e))),
    };
    let id = wire.id.clone();
    convert(wire).map(|m| (id.clone(), m)).map_err(|e| (id, e))
}

fn recover_id(text: &str) -> Option<MessageId> {
    let v: IdOnly = serde_json::from_str(text).ok()?;
    match v.id? {
        serde_json::Value::String(s) => MessageId::new(s).ok(),
        _ => None,
    }
}

fn convert(w: Wire<'_>) -> Result<ClientMessage, ParseError> {
    let ty = w.ty.ok_or(ParseError::MissingType)?;
    Ok(match ty.as_ref() {
        "hello" => ClientMessage::Hello {
            token: need(w.token, "hello", "token")?,
            device: w.device,
            sdk: w.sdk,
            features: features(w.features.as_deref()),
        },
        "resume" => ClientMessage::Resume {
            resume_token: need(w.resume_token, "resume", "resume_token")?,
            last_seq: w.last_seq,
            features: features(w.features.as_deref()),
        },
        "ping" => ClientMessage::Ping,
        "refresh" => ClientMessage::Refresh {
            token: need(w.token, "refresh", "token")?,
        },
        "leave" => ClientMessage::Leave,
        "end_visit" => ClientMessage::EndVisit,
        "admit" => ClientMessage::Admit {
            participant: need(w.participant, "admit", "participant")?,
        },
        "deny" => ClientMessage::Deny {
            participant: need(w.participant, "deny", "participant")?,
            reason: reason(w.reason)?,
        },
        "remove" => ClientMessage::Remove {
            participant: need(w.participant, "remove", "participant")?,
            reason: reason(w.reason)?,
        },
        "offer" => ClientMessage::Offer {
            to: parse_to_one(w.to, "offer")?,
            sdp: need(w.sdp, "offer", "sdp")?,
        },
        "answer" => ClientMessage::Answer {
            to: parse_to_one(w.to, "answer")?,
            sdp: need(w.sdp, "answer", "sdp")?,
        },
        "ice" => {
            let candidate = need(w.candidate, "ice", "candidate")?;
            check_ice(&candidate, w.sdp_mid.as_deref(), w.sdp_mline_index)?;
            ClientMessage::Ice {
                to: parse_to_one(w.to, "ice")?,
                candidate,
                sdp_mid: w.sdp_mid,
                sdp_mline_index: w.sdp_mline_index,
            }
        }
        "track" => {
            let action = need(w.action, "track", "action")?;
            if action == TrackAction::Publish && w.source.is_none() {
                return Err(ParseError::MissingField {
                    ty: "track",
                    field: "source",
                });
            }
            ClientMessage::Track {
                action,
                source: w.source,
                track_id: need(w.track_id, "track", "track_id")?,
            }
        }
        "request" => ClientMessage::Request {
            permission: need(w.permission, "request", "permission")?,
        },
        "grant" => ClientMessage::Grant {
            participant: need(w.participant, "grant", "participant")?,
            permission: need(w.permission, "grant", "permission")?,
        },
        "revoke" => ClientMessage::Revoke {
            participant: need(w.participant, "revoke", "participant")?,
            permission: need(w.permission, "revoke", "permission")?,
        },
        "keys" => {
            let bundle = need(w.bundle, "keys", "bundle")?;
            let bundle = crate::bundle::canonical_bundle(bundle.get()).map_err(invalid)?;
            ClientMessage::Keys { bundle }
        }
        "e2e" => ClientMessage::E2e {
            to: parse_to_many(w.to)?,
            kind: need(w.kind, "e2e", "kind")?,
            body: need(w.body, "e2e", "body")?,
        },
        "ack" => ClientMessage::Ack {
            seq: need(w.seq, "ack", "seq")?,
        },
        other => return Err(ParseError::UnknownType(truncate(other, 40))),
    })
}

/// serde's message for a bad field, as the error's text: it can quote the
/// client's input (an unknown enum value, a wrong string), so at most 160
/// characters are kept and control characters become spaces; the client
/// gets a bounded answer and nothing it sent is echoed whole.
fn invalid(e: impl std::fmt::Display) -> ParseError {
    ParseError::Invalid(
        e.to_string()
            .chars()
            .take(160)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    )
}

/// Longest `reason` a provider may give a denied or removed participant,
/// in characters (docs/protocol.md, "Other fields relayed to participants").
pub const MAX_REASON_CHARS: usize = 200;

/// A deny or remove reason is shown to the patient: the display-text rule
/// (no control, bidirectional or invisible characters), at most 200
/// characters. An empty one is no reason.
fn reason(r: Option<String>) -> Result<Option<String>, ParseError> {
    match r {
        Some(r) if r.trim().is_empty() => Ok(None),
        Some(r) => {
            crate::name::check_display_text(&r, MAX_REASON_CHARS)
                .map_err(|e| ParseError::Invalid(format!("\"reason\": {e}")))?;
            Ok(Some(r))
        }
        None => Ok(None),
    }
}

/// Longest `ice` `candidate` line accepted and relayed, in bytes (real ones
/// are under 300); a longer one is `bad_request`.
pub const MAX_CANDIDATE_BYTES: usize = 1024;

/// What the hub relays into other participants' ICE agents: a candidate
/// line (`candidate:…`, or empty for end-of-candidates) without control
/// characters (a receiver splicing it into SDP must not meet a line break),
/// an `sdp_mid` that is empty or a short token, and an `sdp_mline_index`
/// inside the 16 m-sections an SDP may have (a browser reads the index as
/// a 16-bit number, the hub as 32: a larger one would name different
/// sections for different readers).
fn check_ice(candidate: &str, mid: Option<&str>, index: Option<u32>) -> Result<(), ParseError> {
    let bad = |what: &str| Err(ParseError::Invalid(what.to_owned()));
    if !(candidate.is_empty() || candidate.starts_with("candidate:")) {
        return bad("\"candidate\" must start with \"candidate:\" (or be empty)");
    }
    if candidate.len() > MAX_CANDIDATE_BYTES || candidate.chars().any(char::is_control) {
        return bad("\"candidate\" is longer than 1024 bytes or holds a control character");
    }
    let token = |m: &str| {
        m.len() <= 64
            && m.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`{|}~".contains(&b))
    };
    if mid.is_some_and(|m| !token(m)) {
        return bad("\"sdp_mid\" must be a token of at most 64 characters");
    }
    if index.is_some_and(|i| i >= 16) {
        return bad("\"sdp_mline_index\" must be below 16");
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> (Option<MessageId>, ClientMessage) {
        parse_client_message(text).unwrap()
    }

    /// Every message the encoder writes parses back to the same message.
    #[test]
    fn encoder_round_trips_through_the_parser() {
        let lines = [
            r#"{"type":"hello","token":"t","device":"d-1","sdk":"bedside-sdk/0.1"}"#,
            r#"{"type":"resume","resume_token":"r","last_seq":41}"#,
            r#"{"type":"ping","id":"p-1"}"#,
            r#"{"type":"refresh","token":"t2"}"#,
            r#"{"type":"leave"}"#,
            r#"{"type":"end_visit"}"#,
            r#"{"type":"admit","participant":"pt-1"}"#,
            r#"{"type":"deny","participant":"pt-1","reason":"wrong visit"}"#,
            r#"{"type":"remove","participant":"pt-1"}"#,
            r#"{"type":"offer","to":"pt-1","sdp":"v=0\r\n"}"#,
            r#"{"type":"answer","to":"dr","sdp":"v=0\r\n"}"#,
            r#"{"type":"ice","to":"pt-1","candidate":"","sdp_mid":"0","sdp_mline_index":0}"#,
            r#"{"type":"track","action":"publish","source":"screen","track_id":"t-1"}"#,
            r#"{"type":"track","action":"unpublish","track_id":"t-1"}"#,
            r#"{"type":"request","permission":"screen_share"}"#,
            r#"{"type":"grant","participant":"pt-1","permission":"screen_share"}"#,
            r#"{"type":"revoke","participant":"pt-1","permission":"screen_share"}"#,
            r#"{"type":"keys","bundle":{"v":1,"ik":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=","hello":"BwcH","sig":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw=="}}"#,
            r#"{"type":"e2e","id":"e-1","to":["pt-1"],"kind":"key","body":"AAEC"}"#,
            r#"{"type":"e2e","kind":"chat","body":"AAEC"}"#,
            r#"{"type":"ack","seq":7}"#,
        ];
        for line in lines {
            let (id, m) = ok(line);
            let again = m.to_json(id.as_ref());
            let want: serde_json::Value = serde_json::from_str(line).unwrap();
            let got: serde_json::Value = serde_json::from_str(&again).unwrap();
            assert_eq!(got, want, "{line}");
        }
    }

    #[test]
    fn parses_offer_and_ignores_client_from() {
        let (id, m) =
            ok(r#"{"type":"offer","id":"c-1","to":"pt-1","from":"evil","sdp":"v=0\r\n"}"#);
        assert_eq!(id.unwrap().as_str(), "c-1");
        match m {
            ClientMessage::Offer { to, sdp } => {
                assert_eq!(to.as_str(), "pt-1");
                assert_eq!(sdp, "v=0\r\n");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn e2e_to_optional() {
        match ok(r#"{"type":"e2e","kind":"chat","body":"aGk="}"#).1 {
            ClientMessage::E2e { to, .. } => assert!(to.is_none()),
            other => panic!("{other:?}"),
        }
        match ok(r#"{"type":"e2e","to":["a","b"],"kind":"chat","body":"aGk="}"#).1 {
            ClientMessage::E2e { to, .. } => assert_eq!(to.unwrap().len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_keep_id() {
        let (id, e) = parse_client_message(r#"{"type":"nope","id":"x"}"#).unwrap_err();
        assert_eq!(id.unwrap().as_str(), "x");
        assert_eq!(e, ParseError::UnknownType("nope".into()));
        let (id, e) =
            parse_client_message(r#"{"type":"admit","id":"y","participant":"a b"}"#).unwrap_err();
        assert_eq!(id.unwrap().as_str(), "y");
        assert!(matches!(e, ParseError::Invalid(_)));
        let (_, e) = parse_client_message(r#"{"id":"z"}"#).unwrap_err();
        assert_eq!(e, ParseError::MissingType);
        let (_, e) = parse_client_message("not json").unwrap_err();
        assert!(matches!(e, ParseError::Invalid(_)));
        let (_, e) = parse_client_message(r#"{"type":"offer","to":"a"}"#).unwrap_err();
        assert_eq!(
            e,
            ParseError::MissingField {
                ty: "offer",
                field: "sdp"
            }
        );
    }

    #[test]
    fn keys_bundle_must_have_the_documented_shape() {
        assert!(parse_client_message(r#"{"type":"keys","bundle":[1]}"#).is_err());
        assert!(parse_client_message(r#"{"type":"keys","bundle":{"a":1}}"#).is_err());
        let ok = r#"{"type":"keys","bundle":{"v":1,"ik":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=","hello":"BwcH","sig":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw=="}}"#;
        assert!(parse_client_message(ok).is_ok());
    }

    #[test]
    fn publish_needs_source() {
        assert!(
            parse_client_message(r#"{"type":"track","action":"publish","track_id":"t"}"#).is_err()
        );
        assert!(
            parse_client_message(r#"{"type":"track","action":"unpublish","track_id":"t"}"#).is_ok()
        );
    }

    #[test]
    fn ice_fields_are_bounded_before_they_are_relayed() {
        let ice = |c: &str, mid: &str, idx: u32| {
            let m = serde_json::json!({"type":"ice","to":"dr","candidate":c,"sdp_mid":mid,"sdp_mline_index":idx});
            parse_client_message(&m.to_string()).map(|_| ())
        };
        let c = "candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host";
        assert!(ice(c, "0", 0).is_ok());
        assert!(
            ice("", "", 15).is_ok(),
            "end of candidates, webrtc-rs's empty mid"
        );
        assert!(ice(c, "audio", 3).is_ok());
        for (c, mid, idx) in [
            ("a=candidate:1 1 udp 1 10.0.0.2 1 typ host", "0", 0),
            (
                "candidate:1 1 udp 1 10.0.0.2 1 typ host\r\na=fingerprint:sha-1 00",
                "0",
                0,
            ),
            (&format!("candidate:{}", "x".repeat(1100)) as &str, "0", 0),
            (c, "0\r\n", 0),
            (c, "a b", 0),
            (c, &"m".repeat(65), 0),
            (c, "0", 16),
            (c, "0", 65_536),
        ] {
            assert!(ice(c, mid, idx).is_err(), "{mid:?} {idx}");
        }
    }

    #[test]
    fn a_reason_shown_to_the_patient_follows_the_display_text_rule() {
        let deny = |r: &str| {
            let m = serde_json::json!({"type":"deny","participant":"pt","reason":r});
            parse_client_message(&m.to_string()).map(|(_, m)| match m {
                ClientMessage::Deny { reason, .. } => reason,
                _ => unreachable!(),
            })
        };
        assert_eq!(
            deny("Please call the front desk.")
                .ok()
                .flatten()
                .as_deref(),
            Some("Please call the front desk.")
        );
        assert_eq!(deny("  ").ok(), Some(None));
        for bad in [
            "Wrong visit\u{202E}",
            "a\nb",
            "x\u{200B}y",
            &"r".repeat(201),
        ] {
            assert!(deny(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_error_never_echoes_more_than_a_little_of_the_input() {
        let long = "x".repeat(60_000);
        let m = serde_json::json!({"type":"track","action":long,"track_id":"t"}).to_string();
        let (_, e) = parse_client_message(&m).unwrap_err();
        assert!(e.to_string().len() < 200, "{}", e.to_string().len());
        let m = format!(
            r#"{{"type":"offer","to":"{}","sdp":"v=0"}}"#,
            "\\n<script>".repeat(50)
        );
        let (_, e) = parse_client_message(&m).unwrap_err();
        assert!(!e.to_string().contains('\n') && e.to_string().len() < 200);
    }
}

//! Error codes (`error.code`) and WebSocket close codes of section 9.

use serde::{Deserialize, Serialize};

/// The `code` of an `error` message (PROTOCOL.md §9), serialized as its
/// snake_case wire name. An `error` does not close the connection, except
/// that the 20th protocol error (`bad_request`) closes it with 4000.
///
/// # Example
///
/// ```
/// use bedside_protocol::ErrorCode;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// assert_eq!(ErrorCode::InvalidSdp.as_str(), "invalid_sdp");
/// assert_eq!(serde_json::to_string(&ErrorCode::NotFound)?, r#""not_found""#);
/// let code: ErrorCode = serde_json::from_str(r#""rate_limited""#)?;
/// assert_eq!(code, ErrorCode::RateLimited);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// `bad_request`: the message is malformed: invalid JSON, a binary
    /// frame, no or unknown `type`, a missing or invalid field (PROTOCOL.md
    /// §1), or a value the hub refuses (an `e2e` body that is not canonical
    /// base64, an `e2e` addressed to its sender). Frames that do not parse
    /// are protocol errors: the 20th on a connection closes it with 4000.
    /// Sending the same message again fails again.
    BadRequest,
    /// `unauthorized`: a `refresh` token was refused (bad, expired,
    /// replayed, or for another `sub`, `visit` or `role`, PROTOCOL.md §8);
    /// the session keeps its old expiry. A bad token in `hello` or `resume`
    /// closes with 4001 instead.
    Unauthorized,
    /// `forbidden`: not allowed for the sender's role, state or permissions:
    /// a provider-only message from a patient or guest, anything but `ping`,
    /// `leave`, `keys` and `refresh` while waiting (§4), publishing `screen`
    /// without `screen_share` (§6). Nothing was done or relayed.
    Forbidden,
    /// `not_found`: a named participant is not in this visit (or not
    /// admitted, for relays and `e2e`), or the track to unpublish is not
    /// published (§5, docs/protocol.md).
    NotFound,
    /// `too_large`: a value exceeds its limit: an `e2e` body over 48 KiB, a
    /// key bundle over 8 KiB, more than 16 published tracks
    /// (docs/protocol.md). A frame over `max_message_bytes` closes with 4009
    /// instead.
    TooLarge,
    /// `rate_limited`: the message was dropped unread for exceeding
    /// `limits.messages_per_s` (such an error carries no `re`), or an `e2e`
    /// was refused because too many wait for the store (docs/protocol.md,
    /// "Limits", "End-to-end messages"). Nothing was stored; send it again
    /// later.
    RateLimited,
    /// `invalid_sdp`: an `offer` or `answer` broke an SDP rule of §5 or §6
    /// and was not relayed; `rule` in the `error` names it (docs/protocol.md,
    /// "SDP rules").
    InvalidSdp,
    /// `conflict`: the request contradicts the current state, e.g. admitting
    /// a participant already admitted, granting a permission already held,
    /// or republishing a track with another source.
    Conflict,
    /// `internal`: the hub failed (e.g. its store); the message had no
    /// effect and may be sent again.
    Internal,
}

impl ErrorCode {
    /// The wire name, as in `error.code`: `"bad_request"`, `"not_found"`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::InvalidSdp => "invalid_sdp",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Internal => "internal",
        }
    }
}

/// A WebSocket close code the hub sends: those of PROTOCOL.md §9 plus 1007
/// and 1011 (docs/protocol.md, "Close codes"). The discriminant is the
/// numeric code. 1013 (a client too slow to read its messages; it may
/// resume) is sent by the hub's send queue as a bare number and has no
/// variant.
///
/// # Example
///
/// ```
/// use bedside_protocol::CloseCode;
/// assert_eq!(CloseCode::VisitEnded.code(), 4012);
/// assert_eq!(CloseCode::from_code(4003), Some(CloseCode::Denied));
/// assert_eq!(CloseCode::from_code(4999), None);
/// assert_eq!(CloseCode::Replaced.reason(), "replaced by a newer connection");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CloseCode {
    /// 1000: the participant sent `leave` (§8).
    Left = 1000,
    /// 1001: the hub is going away (shutdown, drain), or its store failed
    /// while the session started; acked messages are safe. Resume or retry.
    GoingAway = 1001,
    /// 1007: the client sent a text frame that is not UTF-8 (RFC 6455
    /// §8.1; docs/protocol.md).
    InvalidPayload = 1007,
    /// 1011: the hub met an unexpected condition (a bug) in this visit and
    /// closed all its connections (docs/protocol.md); resume as after 1001.
    InternalError = 1011,
    /// 4000: protocol error: the first message was not `hello` or `resume`
    /// or did not come within `hello_timeout_s` (§3), or 20 protocol errors
    /// on one connection (§1).
    ProtocolError = 4000,
    /// 4001: unauthorized: the `hello` or `resume` token is bad, expired,
    /// replayed or mismatched (§2, §3), or the token's display name or
    /// `patient_id` breaks the display-text rule. Get a new token.
    Unauthorized = 4001,
    /// 4003: denied (waiting) or removed (admitted) by a provider, after a
    /// `denied` message (§4, §8); the resume token is revoked.
    Denied = 4003,
    /// 4008: no client message for `limits.idle_timeout_s` (default 900 s,
    /// §8).
    IdleTimeout = 4008,
    /// 4009: a frame exceeded `limits.max_message_bytes` (default 65536,
    /// §1).
    TooLarge = 4009,
    /// 4010: the session reached its `expires_at` without a `refresh` (§8).
    SessionExpired = 4010,
    /// 4011: a newer `hello` or `resume` of the same participant (another
    /// device or tab) took over this connection (§3).
    Replaced = 4011,
    /// 4012: a provider ended the visit, after an `ended` message (§8); a
    /// later `hello` for it gets the same.
    VisitEnded = 4012,
    /// 4029: rate limited: still sending more than 4x `messages_per_s`
    /// within 5 s, or, before the first message, too many authentication
    /// failures from this IP within `limits.auth_cooldown_s`
    /// (docs/protocol.md, "Limits").
    RateLimited = 4029,
}

impl CloseCode {
    /// The numeric close code, e.g. 4012 for [`CloseCode::VisitEnded`].
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The variant for a numeric close code; `None` for any other number
    /// (e.g. 1006 from the client's own WebSocket stack, or 1013).
    pub fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            1000 => CloseCode::Left,
            1001 => CloseCode::GoingAway,
            1007 => CloseCode::InvalidPayload,
            1011 => CloseCode::InternalError,
            4000 => CloseCode::ProtocolError,
            4001 => CloseCode::Unauthorized,
            4003 => CloseCode::Denied,
            4008 => CloseCode::IdleTimeout,
            4009 => CloseCode::TooLarge,
            4010 => CloseCode::SessionExpired,
            4011 => CloseCode::Replaced,
            4012 => CloseCode::VisitEnded,
            4029 => CloseCode::RateLimited,
            _ => return None,
        })
    }

    /// The short reason phrase the hub puts in the close frame (ASCII, at
    /// most 30 bytes, well inside the 123-byte limit of RFC 6455 §5.5).
    pub fn reason(self) -> &'static str {
        match self {
            CloseCode::Left => "left",
            CloseCode::GoingAway => "hub going away",
            CloseCode::InvalidPayload => "text frame is not UTF-8",
            CloseCode::InternalError => "internal error; resume",
            CloseCode::ProtocolError => "protocol error",
            CloseCode::Unauthorized => "unauthorized",
            CloseCode::Denied => "denied",
            CloseCode::IdleTimeout => "idle timeout",
            CloseCode::TooLarge => "message too large",
            CloseCode::SessionExpired => "session expired",
            CloseCode::Replaced => "replaced by a newer connection",
            CloseCode::VisitEnded => "visit ended",
            CloseCode::RateLimited => "rate limited",
        }
    }
}

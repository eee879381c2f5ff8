//! Error codes (`error.code`) and WebSocket close codes of section 9.

use serde::{Deserialize, Serialize};

/// The `code` of an `error` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed message, unknown type, missing or invalid field.
    BadRequest,
    /// Authentication failed.
    Unauthorized,
    /// Not allowed for this participant's role, state or permissions.
    Forbidden,
    /// Named participant or track is not in this visit.
    NotFound,
    /// A field exceeds its size limit.
    TooLarge,
    /// Too many messages; slow down.
    RateLimited,
    /// An SDP broke a rule (see `rule`).
    InvalidSdp,
    /// Conflicts with the current state.
    Conflict,
    /// The hub failed; the message had no effect.
    Internal,
}

impl ErrorCode {
    /// The wire name.
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

/// WebSocket close codes used by the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CloseCode {
    /// The participant left.
    Left = 1000,
    /// The hub is going away (shutdown, drain).
    GoingAway = 1001,
    /// A text frame that is not UTF-8 (RFC 6455 section 8.1).
    InvalidPayload = 1007,
    /// The hub met an unexpected condition in this visit (RFC 6455 1011);
    /// the client resumes as after 1001.
    InternalError = 1011,
    /// Protocol error: bad or missing first message, too many errors.
    ProtocolError = 4000,
    /// Unauthorized: bad, expired, replayed or mismatched token.
    Unauthorized = 4001,
    /// Denied or removed by a provider.
    Denied = 4003,
    /// No client message for `idle_timeout_s`.
    IdleTimeout = 4008,
    /// A frame exceeded `max_message_bytes`.
    TooLarge = 4009,
    /// The session expired without a refresh.
    SessionExpired = 4010,
    /// Replaced by a newer connection of the same participant.
    Replaced = 4011,
    /// The visit ended.
    VisitEnded = 4012,
    /// Rate limited.
    RateLimited = 4029,
}

impl CloseCode {
    /// The numeric code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The close code for a number, if the hub uses it.
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

    /// A short reason phrase for the close frame.
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

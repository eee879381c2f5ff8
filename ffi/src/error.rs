//! The errors apps see. None carries a token, an SDP or chat text: a hub
//! refusal is its code (and the SDP rule broken, by name), a failed check
//! names the participant, and transport failures say what failed.

use crate::types::Permission;
use bedside_sdk::session::SdkError;

/// Why a call of [`crate::BedsideClient`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum BedsideError {
    /// The hub refused the message (PROTOCOL.md §9 `code`; `rule`: for
    /// `invalid_sdp`, the rule the SDP broke).
    #[error("the hub refused: {code}")]
    Hub {
        /// The protocol's error code (`not_permitted`, `invalid_sdp`, …).
        code: String,
        /// The SDP rule broken, for `invalid_sdp`.
        rule: Option<String>,
    },
    /// An end-to-end message, key bundle or SDP of `participant` failed a
    /// check and was not used.
    #[error("an end-to-end check failed for {participant}")]
    EndToEnd {
        /// Whose it was.
        participant: String,
        /// What failed (no content).
        reason: String,
    },
    /// The hub sent something this SDK cannot read.
    #[error("unreadable message from the hub")]
    Protocol,
    /// Not connected right now (connecting, reconnecting, or waiting for
    /// a token); try again once connected.
    #[error("not connected")]
    NotConnected,
    /// Only an admitted participant can do this.
    #[error("not admitted to the visit")]
    NotAdmitted,
    /// This participant lacks the permission.
    #[error("not permitted")]
    NotPermitted {
        /// The permission needed.
        permission: Permission,
    },
    /// An argument is not valid (an identifier, a key's length, …).
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// Why.
        reason: String,
    },
    /// The session has ended; a new client is needed.
    #[error("session ended")]
    Ended,
    /// The app's token source failed.
    #[error("could not obtain a token: {reason}")]
    Token {
        /// The token source's reason.
        reason: String,
    },
    /// The WebSocket or WebRTC stack failed.
    #[error("transport: {reason}")]
    Transport {
        /// What failed.
        reason: String,
    },
}

/// A reason from a WebRTC stack or the app, as it may cross: its first
/// line, at most 200 characters, and nothing that quotes an SDP (stacks
/// quote the line they could not parse).
pub(crate) fn scrub(reason: &str) -> String {
    let line = reason.lines().next().unwrap_or_default();
    // An SDP line's start (`a=`, `m=`, …) anywhere a word begins: after
    // any character that is not a letter or digit, or at the start.
    let b = line.as_bytes();
    let sdp_like = (0..b.len().saturating_sub(1)).any(|i| {
        b[i].is_ascii_lowercase()
            && b[i + 1] == b'='
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
    });
    if sdp_like || line.contains("\\r\\n") {
        return "(the reason quoted an SDP and is withheld)".into();
    }
    let mut out: String = line.chars().take(200).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

impl From<SdkError> for BedsideError {
    fn from(e: SdkError) -> Self {
        match e {
            SdkError::Hub { code, rule, .. } => Self::Hub {
                code: code.as_str().to_owned(),
                rule,
            },
            SdkError::E2ee { from, error } => Self::EndToEnd {
                participant: from,
                reason: error.to_string(),
            },
            SdkError::Protocol => Self::Protocol,
            SdkError::NotConnected => Self::NotConnected,
            SdkError::NotAdmitted => Self::NotAdmitted,
            SdkError::NotPermitted(p) => Self::NotPermitted {
                permission: p.into(),
            },
            SdkError::InvalidId(reason) => Self::InvalidArgument { reason },
            SdkError::Ended => Self::Ended,
            SdkError::Token(reason) => Self::Token {
                reason: scrub(&reason),
            },
            SdkError::Transport(reason) => Self::Transport {
                reason: scrub(&reason),
            },
        }
    }
}

/// What an app's callback (token source, media adapter) throws.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum AdapterError {
    /// It failed; `reason` is shown to the app (never an SDP or token).
    #[error("{reason}")]
    Failed {
        /// Why.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for AdapterError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Failed {
            reason: format!("the app's callback failed unexpectedly: {}", e.reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn reasons_that_quote_an_sdp_are_withheld() {
        assert_eq!(scrub("connection refused"), "connection refused");
        for quoting in [
            "SdpParseError: bad line \"a=fingerprint:sha-256 AB\"",
            "failed to parse: m=audio 9 UDP/TLS/RTP/SAVPF 111",
            "invalid: v=0\\r\\no=- 1 2 IN IP4 127.0.0.1",
            "SdpParseError([a=fingerprint:sha-256 AB])",
            "bad line=a=ice-pwd:secret",
            "a=ice-ufrag:x",
            "{m=video 9}",
        ] {
            assert_eq!(
                scrub(quoting),
                "(the reason quoted an SDP and is withheld)",
                "{quoting}"
            );
        }
        assert_eq!(scrub("first\nv=0\na=x"), "first");
        // Words that merely contain `x=` are not SDP.
        assert_eq!(scrub("retry code=5"), "retry code=5");
        assert_eq!(scrub(&"x".repeat(300)).chars().count(), 201);
    }
}

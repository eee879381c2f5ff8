//! Identifier newtypes. Each wraps a `String` known to satisfy the rule of
//! PROTOCOL.md section 1: 1–128 characters of `[A-Za-z0-9._:@-]`, except
//! `MessageId`, which is any string of 1–64 characters (also section 1).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a string is not a valid identifier: returned by [`is_valid_id`] and
/// by `new` and `parse` of the id types. Deserializing an invalid id fails
/// with this text; a client message holding one is refused with
/// `bad_request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string is empty.
    #[error("identifier is empty")]
    Empty,
    /// Too long: more than 128 bytes for a PROTOCOL.md §1 identifier (a
    /// valid one is ASCII, so bytes are characters), more than 64
    /// characters for a [`MessageId`].
    #[error("identifier is longer than 128 characters")]
    TooLong,
    /// Holds a character outside `[A-Za-z0-9._:@-]` (never returned for a
    /// [`MessageId`], which may hold any character).
    #[error("identifier contains a character outside [A-Za-z0-9._:@-]")]
    BadChar,
}

/// Checks the identifier rule of PROTOCOL.md §1 for `visit`, `sub`,
/// participant, `device` and track ids: 1 to 128 characters, each one of
/// `[A-Za-z0-9._:@-]` (ASCII only).
///
/// # Errors
///
/// The first rule broken, checked in the order empty, length (in bytes),
/// characters: a non-ASCII string over 128 bytes is `TooLong`, not
/// `BadChar`.
///
/// # Example
///
/// ```
/// use bedside_protocol::{IdError, is_valid_id};
/// assert_eq!(is_valid_id("dr.ada@clinic:1_x-2"), Ok(()));
/// assert_eq!(is_valid_id(""), Err(IdError::Empty));
/// assert_eq!(is_valid_id("pt 1"), Err(IdError::BadChar));
/// assert_eq!(is_valid_id(&"x".repeat(129)), Err(IdError::TooLong));
/// ```
pub fn is_valid_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > 128 {
        return Err(IdError::TooLong);
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-'))
    {
        return Err(IdError::BadChar);
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Checks `s` against this type's rule and wraps it.
            ///
            /// # Errors
            ///
            /// [`IdError`] for the first rule `s` breaks.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                $check(&s)?;
                Ok(Self(s))
            }
            /// The identifier as it appears on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $check(&s).map_err(serde::de::Error::custom)?;
                Ok(Self(s.into_owned()))
            }
        }
    };
}

fn is_valid_message_id(s: &str) -> Result<(), IdError> {
    // Section 1: a client message `id` is any string of 1–64 chars.
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.chars().count() > 64 {
        return Err(IdError::TooLong);
    }
    Ok(())
}

id_type!(
    /// A visit id (the "room"): the token's `visit` claim and
    /// `welcome.visit`. Always satisfies [`is_valid_id`].
    VisitId, is_valid_id
);
id_type!(
    /// A participant id: the token's `sub`, unique within a visit; used in
    /// `to`, `from` and `participant` fields. Always satisfies
    /// [`is_valid_id`].
    ///
    /// # Example
    ///
    /// ```
    /// use bedside_protocol::{IdError, ParticipantId};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let id = ParticipantId::new("pt-1")?;
    /// assert_eq!(id.as_str(), "pt-1");
    /// assert_eq!(id.to_string(), "pt-1");
    /// let dr: ParticipantId = "dr-ada".parse()?;
    /// assert_eq!(serde_json::to_string(&dr)?, r#""dr-ada""#);
    /// assert_eq!(ParticipantId::new("pt 1"), Err(IdError::BadChar));
    /// assert!(serde_json::from_str::<ParticipantId>(r#""pt 1""#).is_err());
    /// # Ok(())
    /// # }
    /// ```
    ParticipantId, is_valid_id
);
id_type!(
    /// A device id, from `hello.device`; written to the audit log only.
    /// Always satisfies [`is_valid_id`].
    DeviceId, is_valid_id
);
id_type!(
    /// A media track id: `track_id` in `track` messages, and the second
    /// `a=msid` field of the sender's SDP (PROTOCOL.md §6). Always
    /// satisfies [`is_valid_id`]; braces that Firefox puts around it in SDP
    /// are stripped before comparing (`sdp::normalize_track_id`).
    TrackId, is_valid_id
);
id_type!(
    /// A client message's `id`: any string of 1 to 64 characters
    /// (PROTOCOL.md §1; not the identifier rule), echoed by the hub as `re`
    /// in the `ack`, `pong` or `error` that answers it.
    ///
    /// # Example
    ///
    /// ```
    /// use bedside_protocol::{IdError, MessageId};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let id = MessageId::new("chat 9 ✓")?;
    /// assert_eq!(id.as_str(), "chat 9 ✓");
    /// assert_eq!(MessageId::new(""), Err(IdError::Empty));
    /// assert_eq!(MessageId::new("x".repeat(65)), Err(IdError::TooLong));
    /// # Ok(())
    /// # }
    /// ```
    MessageId, is_valid_message_id
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_rule() {
        assert!(VisitId::new("v-1").is_ok());
        assert!(ParticipantId::new("dr.ada@clinic:1_x").is_ok());
        assert_eq!(VisitId::new(""), Err(IdError::Empty));
        assert_eq!(VisitId::new("a b"), Err(IdError::BadChar));
        assert_eq!(VisitId::new("é"), Err(IdError::BadChar));
        assert_eq!(VisitId::new("x".repeat(129)), Err(IdError::TooLong));
        assert!(VisitId::new("x".repeat(128)).is_ok());
        assert!(MessageId::new("any thing ✓").is_ok());
        assert_eq!(MessageId::new("x".repeat(65)), Err(IdError::TooLong));
    }

    #[test]
    fn deserialize_validates() {
        let ok: VisitId = serde_json::from_str("\"v-1\"").unwrap();
        assert_eq!(ok.as_str(), "v-1");
        assert!(serde_json::from_str::<VisitId>("\"v 1\"").is_err());
    }
}

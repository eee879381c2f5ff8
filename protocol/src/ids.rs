//! Identifier newtypes. Each wraps a `String` known to satisfy the rule of
//! PROTOCOL.md section 1: 1–128 characters of `[A-Za-z0-9._:@-]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty string.
    #[error("identifier is empty")]
    Empty,
    /// Longer than 128 characters.
    #[error("identifier is longer than 128 characters")]
    TooLong,
    /// Contains a character outside `[A-Za-z0-9._:@-]`.
    #[error("identifier contains a character outside [A-Za-z0-9._:@-]")]
    BadChar,
}

/// Checks the identifier rule of section 1.
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
            /// Validates and wraps `s`.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                $check(&s)?;
                Ok(Self(s))
            }
            /// The identifier as a string slice.
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
    /// A visit (the "room").
    VisitId, is_valid_id
);
id_type!(
    /// A participant: the token's `sub`.
    ParticipantId, is_valid_id
);
id_type!(
    /// A device, from `hello.device`; written to the audit log.
    DeviceId, is_valid_id
);
id_type!(
    /// A published media track (the second `a=msid` field in SDP).
    TrackId, is_valid_id
);
id_type!(
    /// A client message id (1–64 chars), echoed by the hub as `re`.
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

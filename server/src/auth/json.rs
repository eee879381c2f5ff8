//! One reading of a JSON text: objects whose member names repeat are refused.
//!
//! RFC 7515 section 4 and RFC 7519 section 4 let a parser either refuse a
//! duplicate member or take the last one; JavaScript's `JSON.parse` takes the
//! last, serde's derived structs refuse, `serde_json::Value` takes the last.
//! When the hub and an issuer's or a client's library could read the same
//! bytes differently, the hub refuses them. Nesting is bounded by
//! serde_json's recursion limit (128), so no input can exhaust the stack.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// An object repeats this member name (at most 32 characters of it).
    #[error("member {0:?} appears twice in one object")]
    Duplicate(String),
    /// Not one JSON value, or nested deeper than 128 levels.
    #[error("not JSON: {0}")]
    Syntax(String),
}

/// Checks that `text` is one JSON value in which no object repeats a
/// member name.
pub fn unique_members(text: &str) -> Result<(), JsonError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut duplicate = None;
    let read = Unique(&mut duplicate)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    match (duplicate, read) {
        (Some(name), _) => Err(JsonError::Duplicate(name)),
        (None, Err(e)) => Err(JsonError::Syntax(e.to_string())),
        (None, Ok(())) => Ok(()),
    }
}

/// Walks one value; the first repeated name found is left in the slot.
struct Unique<'s>(&'s mut Option<String>);

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Unique(&mut *self.0))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                *self.0 = Some(key.chars().take(32).collect());
                return Err(de::Error::custom("repeated member"));
            }
            map.next_value_seed(Unique(&mut *self.0))?;
            seen.insert(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{JsonError, unique_members};

    #[test]
    fn repeated_members_are_refused_at_any_depth() {
        assert!(unique_members(r#"{"a":1,"b":{"a":2},"c":[{"a":3}]}"#).is_ok());
        assert_eq!(
            unique_members(r#"{"a":1,"a":2}"#),
            Err(JsonError::Duplicate("a".into()))
        );
        assert!(unique_members(r#"{"x":{"a":1,"a":1}}"#).is_err());
        assert!(unique_members(r#"[{"k":[],"k":[]}]"#).is_err());
        // The same name spelled with an escape is the same name.
        assert!(unique_members(r#"{"exp":1,"\u0065xp":2}"#).is_err());
    }

    #[test]
    fn deep_nesting_and_trailing_bytes_are_errors_not_crashes() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(unique_members(&deep), Err(JsonError::Syntax(_))));
        assert!(unique_members(r#"{"a":1} x"#).is_err());
        assert!(unique_members("").is_err());
    }
}

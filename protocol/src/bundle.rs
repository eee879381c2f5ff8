//! The `keys` bundle (section 7), which the hub stores and relays to every
//! other participant inside `keys`, `admitted` and `joined`.
//!
//! Section 7 calls it opaque, but the hub relays it into other people's
//! clients, so it holds it to the shape docs/e2ee.md §5.4 defines (the hub's
//! rule: docs/protocol.md, "Other fields relayed to participants"): the four
//! members `v` (1), `ik`, `hello` and `sig`, the strings standard base64
//! with padding of 32 bytes, 1 to [`MAX_HELLO_BYTES`] bytes and 64 bytes.
//! The hub does not read the Hello itself. Anything else (other members,
//! other types, nesting, a repeated member) is refused with `bad_request`,
//! and what is relayed is the hub's own serialization of the four fields, so
//! no two JSON readers can see different bundles.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Largest signed Hello a bundle's `hello` member may hold, in bytes after
/// base64 decoding (docs/e2ee.md §5.4); the smallest is 1 byte.
pub const MAX_HELLO_BYTES: usize = 2048;

/// Why [`canonical_bundle`] refused a `keys` bundle. The hub answers the
/// `keys` message with `error` `bad_request` carrying this text; nothing is
/// stored or relayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Not a JSON object of exactly the members `v` (a number), `ik`,
    /// `hello` and `sig` (strings): a member missing, repeated, of another
    /// type, or one more. Holds serde's description of the failure.
    #[error("a key bundle is {{\"v\":1,\"ik\",\"hello\",\"sig\"}} and nothing else: {0}")]
    Shape(String),
    /// `v` is a number other than 1, the only bundle version; holds it.
    #[error("key bundle version {0} is not supported (1 is)")]
    Version(u64),
    /// The named member (`"ik"`, `"hello"` or `"sig"`) is not standard
    /// base64 with padding (RFC 4648 §4), or decodes to the wrong length:
    /// `ik` must be 32 bytes, `hello` 1 to [`MAX_HELLO_BYTES`], `sig` 64.
    #[error("key bundle field \"{0}\" is not base64 of the expected length")]
    Field(&'static str),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u64,
    ik: String,
    hello: String,
    sig: String,
}

fn decoded_len(
    field: &'static str,
    text: &str,
    ok: impl Fn(usize) -> bool,
) -> Result<(), BundleError> {
    // Bounded before decoding: 4 characters per 3 bytes.
    if text.len() > MAX_HELLO_BYTES.div_ceil(3) * 4 {
        return Err(BundleError::Field(field));
    }
    match STANDARD.decode(text) {
        Ok(bytes) if ok(bytes.len()) => Ok(()),
        _ => Err(BundleError::Field(field)),
    }
}

/// Checks a `keys` bundle as a client sent it (the JSON text of the
/// `bundle` member, PROTOCOL.md §7) and returns the hub's own serialization
/// of it, which is what the hub stores and relays in `keys`, `admitted` and
/// `joined`.
///
/// The accepted shape is docs/e2ee.md §5.4 (the hub's rule:
/// docs/protocol.md, "Other fields relayed to participants"): an object of
/// exactly `v` = 1, `ik` (32 bytes), `hello` (1 to [`MAX_HELLO_BYTES`]
/// bytes) and `sig` (64 bytes), each string standard base64 with padding.
/// The output is compact JSON with the members in that order, so every
/// reader sees the same bundle. The Hello itself is not verified.
///
/// # Errors
///
/// [`BundleError`] names the first rule broken; checked in the order shape,
/// version, `ik`, `hello`, `sig`.
///
/// # Example
///
/// ```
/// use bedside_protocol::{BundleError, canonical_bundle};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (ik, sig) = ("A".repeat(43) + "=", "A".repeat(86) + "==");
/// let sent = format!(r#"{{ "v": 1, "ik": "{ik}", "hello": "AAAA", "sig": "{sig}" }}"#);
/// let stored = canonical_bundle(&sent)?;
/// assert_eq!(stored.get(), format!(r#"{{"v":1,"ik":"{ik}","hello":"AAAA","sig":"{sig}"}}"#));
/// let v2 = r#"{"v":2,"ik":"","hello":"","sig":""}"#;
/// assert_eq!(canonical_bundle(v2).err(), Some(BundleError::Version(2)));
/// # Ok(())
/// # }
/// ```
pub fn canonical_bundle(raw: &str) -> Result<Box<RawValue>, BundleError> {
    let w: Wire = serde_json::from_str(raw).map_err(|e| BundleError::Shape(e.to_string()))?;
    if w.v != 1 {
        return Err(BundleError::Version(w.v));
    }
    decoded_len("ik", &w.ik, |n| n == 32)?;
    decoded_len("hello", &w.hello, |n| (1..=MAX_HELLO_BYTES).contains(&n))?;
    decoded_len("sig", &w.sig, |n| n == 64)?;
    let text = serde_json::to_string(&w).map_err(|e| BundleError::Shape(e.to_string()))?;
    RawValue::from_string(text).map_err(|e| BundleError::Shape(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(n: usize) -> String {
        STANDARD.encode(vec![7u8; n])
    }

    fn good() -> String {
        format!(
            r#"{{"v":1,"ik":"{}","hello":"{}","sig":"{}"}}"#,
            b64(32),
            b64(300),
            b64(64)
        )
    }

    #[test]
    fn the_documented_shape_passes_and_comes_out_canonical() {
        let spaced = good().replace(',', " , ").replace(':', " : ");
        let out = canonical_bundle(&spaced).unwrap();
        assert_eq!(out.get(), good());
    }

    #[test]
    fn anything_else_is_refused() {
        let deep = format!("{}{}", "[".repeat(1300), "]".repeat(1300));
        let cases = [
            format!(
                r#"{{"v":1,"ik":"{}","hello":"{}","sig":"{}","x":{deep}}}"#,
                b64(32),
                b64(9),
                b64(64)
            ),
            format!(
                r#"{{"v":1,"ik":"{}","hello":{deep},"sig":"{}"}}"#,
                b64(32),
                b64(64)
            ),
            format!(
                r#"{{"v":1,"ik":"{}","ik":"{}","hello":"{}","sig":"{}"}}"#,
                b64(32),
                b64(32),
                b64(9),
                b64(64)
            ),
            format!(
                r#"{{"v":2,"ik":"{}","hello":"{}","sig":"{}"}}"#,
                b64(32),
                b64(9),
                b64(64)
            ),
            format!(
                r#"{{"v":1,"ik":"{}","hello":"{}","sig":"{}"}}"#,
                b64(31),
                b64(9),
                b64(64)
            ),
            format!(
                r#"{{"v":1,"ik":"{}","hello":"","sig":"{}"}}"#,
                b64(32),
                b64(64)
            ),
            format!(
                r#"{{"v":1,"ik":"{}","hello":"{}","sig":"{}"}}"#,
                b64(32),
                b64(MAX_HELLO_BYTES + 1),
                b64(64)
            ),
            format!(
                r#"{{"v":1,"ik":"{}","hello":"{}","sig":"{}"}}"#,
                b64(32).trim_end_matches('='),
                b64(9),
                b64(64)
            ),
            format!(
                r#"{{"v":1,"ik":"-{}","hello":"{}","sig":"{}"}}"#,
                &b64(32)[1..],
                b64(9),
                b64(64)
            ),
            r#"{"v":1}"#.to_owned(),
            r#"{"a":1}"#.to_owned(),
            "[1]".to_owned(),
        ];
        for c in &cases {
            assert!(canonical_bundle(c).is_err(), "{}", &c[..c.len().min(80)]);
        }
    }
}

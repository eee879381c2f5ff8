//! Unix time as two types: [`UnixSecs`] for what the wire and JWTs carry in
//! seconds (`exp`, `iat`, `expires_at`), [`UnixMs`] for clocks, deadlines and
//! audit timestamps. The one place an instant in seconds becomes one in
//! milliseconds and back (durations are `std::time::Duration`s or named
//! `_ms`/`_s` fields, converted where they are read from configuration).

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Whole seconds since the Unix epoch (negative before it), as JWT claims
/// (RFC 7519 `NumericDate`) and PROTOCOL.md's `expires_at` carry them.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UnixSecs(pub i64);

/// Milliseconds since the Unix epoch (negative before it).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UnixMs(pub i64);

impl UnixSecs {
    /// The same instant in milliseconds (saturating at the ends of `i64`).
    ///
    /// ```
    /// use bedside_protocol::time::{UnixMs, UnixSecs};
    /// assert_eq!(UnixSecs(1_800_000_000).to_ms(), UnixMs(1_800_000_000_000));
    /// ```
    pub const fn to_ms(self) -> UnixMs {
        UnixMs(self.0.saturating_mul(1000))
    }

    /// `secs` seconds later (saturating).
    pub const fn plus_secs(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }
}

impl UnixMs {
    /// The whole second this instant falls in (rounded towards the past, so
    /// `-1` ms is second `-1`).
    ///
    /// ```
    /// use bedside_protocol::time::{UnixMs, UnixSecs};
    /// assert_eq!(UnixMs(1_999).to_secs(), UnixSecs(1));
    /// assert_eq!(UnixMs(-1).to_secs(), UnixSecs(-1));
    /// ```
    pub const fn to_secs(self) -> UnixSecs {
        UnixSecs(self.0.div_euclid(1000))
    }

    /// `ms` milliseconds later (saturating).
    pub const fn plus_ms(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// A system time as milliseconds since the epoch, saturating at the ends
    /// of `i64`. This reads no clock; the caller passes the time it read.
    pub fn from_system_time(t: SystemTime) -> Self {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        match t.duration_since(UNIX_EPOCH) {
            Ok(after) => Self(ms(after)),
            Err(before) => Self(ms(before.duration()).saturating_neg()),
        }
    }
}

impl From<UnixSecs> for UnixMs {
    fn from(s: UnixSecs) -> Self {
        s.to_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_milliseconds_convert_at_the_edges() {
        assert_eq!(UnixSecs(i64::MAX).to_ms(), UnixMs(i64::MAX));
        assert_eq!(UnixSecs(i64::MIN).to_ms(), UnixMs(i64::MIN));
        assert_eq!(UnixMs(999).to_secs(), UnixSecs(0));
        assert_eq!(UnixMs(-1000).to_secs(), UnixSecs(-1));
        assert_eq!(UnixMs(-1001).to_secs(), UnixSecs(-2));
        assert_eq!(UnixSecs(7).to_ms().to_secs(), UnixSecs(7));
    }

    #[test]
    fn system_times_before_and_after_the_epoch() {
        let after = UNIX_EPOCH + Duration::from_millis(1_500);
        assert_eq!(UnixMs::from_system_time(after), UnixMs(1_500));
        let before = UNIX_EPOCH - Duration::from_millis(2_500);
        assert_eq!(UnixMs::from_system_time(before), UnixMs(-2_500));
    }

    #[test]
    fn both_are_plain_numbers_on_the_wire() {
        assert_eq!(
            serde_json::to_string(&UnixSecs(5)).ok().as_deref(),
            Some("5")
        );
        let ms: Result<UnixMs, _> = serde_json::from_str("12");
        assert_eq!(ms.ok(), Some(UnixMs(12)));
    }
}

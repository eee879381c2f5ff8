//! The hub's clock: the one place the shell reads the wall clock. The hub
//! owns one ([`crate::hub::Hub::clock`]); the visit never reads it (time
//! reaches the state machine as the `now` of each input), and a test can
//! give the hub another. Conversions between seconds and milliseconds are
//! [`bedside_protocol::time`]'s.

use bedside_protocol::time::{UnixMs, UnixSecs};

/// Unix time, as the hub sees it.
pub trait Clock: std::fmt::Debug + Send + Sync {
    /// Now.
    fn now(&self) -> UnixMs;

    /// Now, in whole seconds (JWT claims, `expires_at`).
    fn now_s(&self) -> UnixSecs {
        self.now().to_secs()
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixMs {
        UnixMs::from_system_time(std::time::SystemTime::now())
    }
}

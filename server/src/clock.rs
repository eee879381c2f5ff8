//! The hub's clock: the one place the shell reads the wall clock. The hub
//! owns one ([`crate::hub::Hub::clock`]); the visit never reads it (time
//! reaches the state machine as the `now` of each input), and a test can
//! give the hub another.

/// Unix time, as the hub sees it.
pub trait Clock: std::fmt::Debug + Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Whole seconds since the Unix epoch.
    fn now_s(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

//! The hub's clock: the one place the shell reads the wall clock. The hub
//! owns one ([`crate::hub::Hub::clock`]); the visit never reads it (time
//! reaches the state machine as the `now` of each input), and a test can
//! give the hub another ([`crate::server::start_with_clock`]). Conversions
//! between seconds and milliseconds are [`bedside_protocol::time`]'s.
//!
//! [`ManualClock`] is the test clock: it stands still until the test moves
//! it, and every timer the visit tasks and the sweep derive from the clock
//! (idle timeout, expiry notice and close, retention) fires at once when it
//! is moved past them. It is not `tokio::time::pause()`: a paused tokio
//! clock jumps to its next timer whenever the runtime waits, including
//! while the store's SQLite thread is still writing, so a hello timeout
//! could fire before a durable write had any real time to finish.

use bedside_protocol::time::{UnixMs, UnixSecs};
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::watch;

/// Unix time, as the hub sees it.
pub trait Clock: std::fmt::Debug + Send + Sync {
    /// Now.
    fn now(&self) -> UnixMs;

    /// Now, in whole seconds (JWT claims, `expires_at`).
    fn now_s(&self) -> UnixSecs {
        self.now().to_secs()
    }

    /// Changes whenever the clock moves other than by the passing of real
    /// time, so a task sleeping towards a deadline computes it again. A
    /// clock that only follows real time never changes it.
    fn jumps(&self) -> Jumps {
        Jumps(None)
    }
}

/// Notice of a clock's jumps ([`Clock::jumps`]).
#[derive(Debug)]
pub struct Jumps(Option<watch::Receiver<i64>>);

impl Jumps {
    /// Waits for the next jump; never returns for a real-time clock.
    pub async fn next(&mut self) {
        match self.0.as_mut() {
            Some(rx) => {
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
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

/// A clock that moves only when told to (tests).
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
    moved: watch::Sender<i64>,
}

impl ManualClock {
    /// Standing at `start`.
    pub fn new(start: UnixMs) -> Self {
        Self {
            now: AtomicI64::new(start.0),
            moved: watch::Sender::new(start.0),
        }
    }

    /// Standing at the system's time now.
    pub fn at_system_time() -> Self {
        Self::new(SystemClock.now())
    }

    /// Moves the clock `by` forward; every timer now due fires.
    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let now = self.now.fetch_add(ms, Ordering::SeqCst).saturating_add(ms);
        self.moved.send_replace(now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixMs {
        UnixMs(self.now.load(Ordering::SeqCst))
    }

    fn jumps(&self) -> Jumps {
        Jumps(Some(self.moved.subscribe()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_moves_when_told_and_says_so() {
        let clock = ManualClock::new(UnixMs(1_000));
        let mut jumps = clock.jumps();
        assert_eq!(clock.now_s(), UnixSecs(1));
        clock.advance(std::time::Duration::from_secs(2));
        jumps.next().await;
        assert_eq!(clock.now(), UnixMs(3_000));
        let mut system = SystemClock.jumps();
        let never = tokio::time::timeout(std::time::Duration::from_millis(10), system.next());
        assert!(never.await.is_err(), "the system clock never jumps");
    }
}

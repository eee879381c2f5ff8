//! Reconnect delays: exponential back-off with "equal jitter" (half the
//! delay fixed, half random), so a hub restart is not met by every client at
//! the same instant.

/// Back-off settings: the delay's cap starts at `initial_ms` and doubles
/// with every attempt up to `max_ms`. The default is 250 ms doubling to
/// 30 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Cap of the first attempt's delay (ms).
    pub initial_ms: u64,
    /// Largest cap (ms): no delay reaches it.
    pub max_ms: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial_ms: 250,
            max_ms: 30_000,
        }
    }
}

impl Backoff {
    /// The delay (ms) before reconnect attempt `attempt` (1-based; 0 counts
    /// as 1). With `cap = min(initial_ms × 2^(attempt−1), max_ms)` (the
    /// doubling stops after 20 steps; at least 1), the delay is `cap / 2`
    /// plus `random` modulo the other half: in `[cap / 2, cap)`. `random`
    /// is any `u64`, uniformly random for real jitter (the session draws
    /// it from its random source).
    ///
    /// ```
    /// use bedside_sdk::session::Backoff;
    ///
    /// let backoff = Backoff::default(); // 250 ms doubling to 30 s
    /// assert_eq!(backoff.delay_ms(1, 0), 125);
    /// assert!((125..250).contains(&backoff.delay_ms(1, u64::MAX)));
    /// assert_eq!(backoff.delay_ms(3, 0), 500); // cap 1 s
    /// assert_eq!(backoff.delay_ms(10, 0), 15_000); // cap max_ms
    /// ```
    pub fn delay_ms(&self, attempt: u32, random: u64) -> u64 {
        let cap = self
            .initial_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20))
            .min(self.max_ms)
            .max(1);
        cap / 2 + random % (cap - cap / 2).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn grows_to_the_cap_and_stays_within_half_and_full() {
        let b = Backoff::default();
        for attempt in 1..40 {
            let cap = (250u64 << (attempt - 1).min(20)).min(30_000);
            for r in [0, 1, 12345, u64::MAX] {
                let d = b.delay_ms(attempt, r);
                assert!(
                    d >= cap / 2 && d <= cap,
                    "attempt {attempt}: {d} vs cap {cap}"
                );
            }
        }
        assert!(b.delay_ms(30, 7) >= 15_000);
    }
}

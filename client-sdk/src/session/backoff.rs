//! Reconnect delays: exponential back-off with "equal jitter" (half the
//! delay fixed, half random), so a hub restart is not met by every client at
//! the same instant.

/// Back-off settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay (ms).
    pub initial_ms: u64,
    /// Largest delay (ms).
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
    /// The delay before attempt `attempt` (1-based); `random` is any u64.
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

//! When to fetch an identity provider's JWK set again: a sans-IO schedule
//! driven by the time it is given.
//!
//! - After a good fetch: when the response's `Cache-Control` says it goes
//!   stale (`max-age` less `Age`), else after `refresh`; never sooner than
//!   `min_interval` (a `max-age=0` or `no-cache` set is not fetched in a
//!   loop) and never later than a day.
//! - After a failed fetch: again after `min_interval`, doubling up to
//!   `refresh`; the last good set stays in use. The first failure of a run
//!   of failures is the one to raise an ALERT for.
//! - A token naming an unknown `kid` asks for a fetch at once, granted at
//!   most once per `min_interval` (so a stream of forged kids cannot make
//!   the hub hammer the provider).

use std::time::{Duration, Instant};

/// The longest a fetched set is kept without asking again.
pub const MAX_AGE_CAP: Duration = Duration::from_secs(24 * 3600);

/// The schedule of one JWK set URL.
#[derive(Debug, Clone)]
pub struct Schedule {
    refresh: Duration,
    min_interval: Duration,
    next: Instant,
    last_attempt: Option<Instant>,
    failures: u32,
}

/// What a failed fetch means for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The first of a run: raise an ALERT.
    New,
    /// The run goes on (already alerted).
    Ongoing,
}

impl Schedule {
    /// A schedule whose first fetch is due at `now`.
    pub fn new(refresh: Duration, min_interval: Duration, now: Instant) -> Self {
        Self {
            refresh: refresh.max(min_interval),
            min_interval,
            next: now,
            last_attempt: None,
            failures: 0,
        }
    }

    /// When the next fetch is due.
    pub fn next_at(&self) -> Instant {
        self.next
    }

    /// Whether a fetch is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        now >= self.next
    }

    /// A fetch starts at `now`.
    pub fn started(&mut self, now: Instant) {
        self.last_attempt = Some(now);
    }

    /// A good fetch at `now`, whose response may go stale after `max_age`.
    /// True when it ends a run of failures.
    pub fn fetched(&mut self, now: Instant, max_age: Option<Duration>) -> bool {
        let wait = max_age
            .unwrap_or(self.refresh)
            .clamp(self.min_interval, MAX_AGE_CAP.max(self.min_interval));
        self.next = now + wait;
        let recovered = self.failures > 0;
        self.failures = 0;
        recovered
    }

    /// A failed fetch at `now`.
    pub fn failed(&mut self, now: Instant) -> Failure {
        self.failures = self.failures.saturating_add(1);
        let backoff = self
            .min_interval
            .saturating_mul(1u32 << (self.failures - 1).min(16))
            .min(self.refresh);
        self.next = now + backoff;
        if self.failures == 1 {
            Failure::New
        } else {
            Failure::Ongoing
        }
    }

    /// A token named a `kid` the set lacks, at `now`: true (and the fetch
    /// is due now) unless a fetch started less than `min_interval` ago.
    pub fn unknown_kid(&mut self, now: Instant) -> bool {
        let allowed = self
            .last_attempt
            .is_none_or(|t| now.saturating_duration_since(t) >= self.min_interval);
        if allowed {
            self.next = self.next.min(now);
        }
        allowed
    }
}

/// How long a response stays fresh, from its `Cache-Control` and `Age`
/// headers (RFC 9111): `max-age` less `Age`; zero for `no-cache` or
/// `no-store`; `None` without either (the caller's default applies).
pub fn freshness(cache_control: Option<&str>, age: Option<&str>) -> Option<Duration> {
    let cc = cache_control?;
    let mut max_age = None;
    for directive in cc.split(',') {
        let d = directive.trim();
        let (name, value) = match d.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (d, None),
        };
        if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
            return Some(Duration::ZERO);
        }
        if name.eq_ignore_ascii_case("max-age") {
            // A malformed max-age is stale (RFC 9111 section 4.2.1).
            max_age = Some(value.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0));
        }
    }
    let max_age = max_age?;
    let age = age.and_then(|a| a.trim().parse::<u64>().ok()).unwrap_or(0);
    Some(Duration::from_secs(max_age.saturating_sub(age)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn cache_control_sets_the_next_fetch_within_bounds() {
        assert_eq!(freshness(Some("public, max-age=3600"), None), Some(S(3600)));
        assert_eq!(freshness(Some("max-age=3600"), Some("600")), Some(S(3000)));
        assert_eq!(freshness(Some("max-age=\"60\""), None), Some(S(60)));
        assert_eq!(freshness(Some("no-cache"), None), Some(S(0)));
        assert_eq!(freshness(Some("max-age=60, no-store"), None), Some(S(0)));
        assert_eq!(freshness(Some("max-age=soon"), None), Some(S(0)));
        assert_eq!(freshness(Some("public"), None), None);
        assert_eq!(freshness(None, Some("5")), None);

        let t0 = Instant::now();
        let mut s = Schedule::new(S(300), S(60), t0);
        assert!(s.due(t0));
        s.started(t0);
        s.fetched(t0, Some(S(3600)));
        assert_eq!(s.next_at(), t0 + S(3600));
        s.fetched(t0, Some(S(0)));
        assert_eq!(s.next_at(), t0 + S(60), "never sooner than min_interval");
        s.fetched(t0, Some(S(30 * 24 * 3600)));
        assert_eq!(s.next_at(), t0 + MAX_AGE_CAP, "never later than a day");
        s.fetched(t0, None);
        assert_eq!(
            s.next_at(),
            t0 + S(300),
            "no header: the configured refresh"
        );
    }

    #[test]
    fn failures_back_off_and_alert_once_per_run() {
        let t0 = Instant::now();
        let mut s = Schedule::new(S(300), S(10), t0);
        assert_eq!(s.failed(t0), Failure::New);
        assert_eq!(s.next_at(), t0 + S(10));
        assert_eq!(s.failed(t0), Failure::Ongoing);
        assert_eq!(s.next_at(), t0 + S(20));
        for _ in 0..20 {
            s.failed(t0);
        }
        assert_eq!(s.next_at(), t0 + S(300), "capped at the refresh interval");
        assert!(s.fetched(t0, None), "a good fetch ends the run");
        assert_eq!(s.failed(t0), Failure::New, "the next run alerts again");
    }

    #[test]
    fn unknown_kids_fetch_at_once_but_at_most_once_per_interval() {
        let t0 = Instant::now();
        let mut s = Schedule::new(S(300), S(10), t0);
        s.started(t0);
        s.fetched(t0, None);
        assert!(!s.unknown_kid(t0 + S(5)), "a fetch started 5 s ago");
        assert!(!s.due(t0 + S(5)));
        assert!(s.unknown_kid(t0 + S(11)));
        assert!(s.due(t0 + S(11)));
        s.started(t0 + S(11));
        s.fetched(t0 + S(11), None);
        assert!(!s.unknown_kid(t0 + S(12)));
    }
}

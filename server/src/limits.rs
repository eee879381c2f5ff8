//! Abuse limits (OPERATIONS.md `[limits]`, `[network]`): per-connection
//! message rate (token bucket, burst 2x), per-IP authentication failures with
//! a cool-down, caps on connections in total and per IP, CIDR allow/deny
//! lists and a country allow-list (MaxMind DB). Everything is per connection or per IP, so an abusive client never
//! slows a visit beside it.

use crate::config::Config;
use dashmap::DashMap;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A connection slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    abuse: Arc<Abuse>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.abuse.total.fetch_sub(1, Ordering::Relaxed);
        if let Some(mut n) = self.abuse.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
        }
        self.abuse.per_ip.remove_if(&self.ip, |_, n| *n == 0);
    }
}

/// Why a connection was not admitted at the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Outside the network allow list or inside the deny list (HTTP 403).
    Network,
    /// Too many connections in total or from this IP (HTTP 503).
    Full,
}

/// What an authentication failure did to its IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVerdict {
    /// Counted; under the limit.
    Counted,
    /// This failure crossed `auth_failures_per_min`: the IP now cools down.
    Tripped,
}

/// The hub's abuse limits.
#[derive(Debug)]
pub struct Abuse {
    conn_quota: Quota,
    max_refused: u32,
    auth: DefaultKeyedRateLimiter<IpAddr>,
    cooldown: DashMap<IpAddr, Instant>,
    cooldown_for: Duration,
    total: AtomicUsize,
    per_ip: DashMap<IpAddr, usize>,
    max_total: usize,
    max_per_ip: usize,
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    geoip: Option<GeoIp>,
}

/// The country allow-list and the MaxMind database it is checked against.
struct GeoIp {
    reader: maxminddb::Reader<Vec<u8>>,
    allow: Vec<String>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp").field("allow", &self.allow).finish()
    }
}

impl GeoIp {
    /// The address's country is on the list. An address the database does
    /// not know (private ranges, a stale database) is not: the rule fails closed.
    fn allows(&self, ip: IpAddr) -> bool {
        let country = self
            .reader
            .lookup(ip)
            .ok()
            .and_then(|r| r.decode::<maxminddb::geoip2::Country>().ok().flatten())
            .and_then(|c| c.country.iso_code.map(str::to_ascii_uppercase));
        country.is_some_and(|c| self.allow.iter().any(|a| a.eq_ignore_ascii_case(&c)))
    }
}

fn nz(n: u64) -> NonZeroU32 {
    NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX).max(1)).unwrap_or(NonZeroU32::MIN)
}

impl Abuse {
    /// Limits from a validated configuration; fails if the GeoIP database
    /// cannot be read.
    pub fn new(c: &Config) -> Result<Arc<Self>, String> {
        let geoip = match (&c.network.geoip_db, c.network.allow_countries.is_empty()) {
            (Some(path), false) => Some(GeoIp {
                reader: maxminddb::Reader::open_readfile(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
                allow: c.network.allow_countries.clone(),
            }),
            _ => None,
        };
        let l = &c.limits;
        let per_s = nz(u64::from(l.messages_per_s));
        let per_min = nz(u64::from(l.auth_failures_per_min));
        Ok(Arc::new(Self {
            conn_quota: Quota::per_second(per_s).allow_burst(nz(2 * u64::from(l.messages_per_s))),
            // Refusals in one 5 s window that count as "persisting": twice
            // the burst.
            max_refused: 4 * l.messages_per_s,
            auth: RateLimiter::keyed(Quota::per_minute(per_min).allow_burst(per_min)),
            cooldown: DashMap::new(),
            cooldown_for: Duration::from_secs(l.auth_cooldown_s),
            total: AtomicUsize::new(0),
            per_ip: DashMap::new(),
            max_total: l.max_connections,
            max_per_ip: l.max_connections_per_ip,
            allow: c.network.allow_cidrs.iter().map(|c| c.0).collect(),
            deny: c.network.deny_cidrs.iter().map(|c| c.0).collect(),
            geoip,
        }))
    }

    /// Admits a connection from `ip` before the upgrade, or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        let ip = canonical(ip);
        if self.deny.iter().any(|n| n.contains(&ip))
            || (!self.allow.is_empty() && !self.allow.iter().any(|n| n.contains(&ip)))
            || self.geoip.as_ref().is_some_and(|g| !g.allows(ip))
        {
            return Err(Refused::Network);
        }
        if self.total.fetch_add(1, Ordering::Relaxed) >= self.max_total {
            self.total.fetch_sub(1, Ordering::Relaxed);
            return Err(Refused::Full);
        }
        let mut n = self.per_ip.entry(ip).or_insert(0);
        if *n >= self.max_per_ip {
            drop(n);
            self.total.fetch_sub(1, Ordering::Relaxed);
            return Err(Refused::Full);
        }
        *n += 1;
        Ok(Slot {
            abuse: self.clone(),
            ip,
        })
    }

    /// The IP is cooling down after too many authentication failures.
    pub fn cooling_down(&self, ip: IpAddr, now: Instant) -> bool {
        let ip = canonical(ip);
        let until = self.cooldown.get(&ip).map(|u| *u);
        match until {
            Some(until) if now < until => true,
            Some(_) => {
                self.cooldown.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Counts an authentication failure from `ip`.
    pub fn auth_failed(&self, ip: IpAddr, now: Instant) -> AuthVerdict {
        let ip = canonical(ip);
        if self.auth.check_key(&ip).is_ok() {
            return AuthVerdict::Counted;
        }
        let fresh = self.cooldown.insert(ip, now + self.cooldown_for).is_none();
        if fresh {
            AuthVerdict::Tripped
        } else {
            AuthVerdict::Counted
        }
    }

    /// A rate limiter for one connection.
    pub fn connection(&self) -> ConnLimiter {
        ConnLimiter {
            bucket: RateLimiter::direct(self.conn_quota),
            refused: 0,
            window_start: Instant::now(),
            max_refused: self.max_refused,
        }
    }
}

/// IPv4-mapped IPv6 addresses count as their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What to do with a connection's next message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateVerdict {
    /// Within the rate.
    Allow,
    /// Over the rate: answer `rate_limited`, drop the message. `first` is
    /// true for the first refusal of a window (worth an audit record).
    Limited {
        /// First refusal in this window.
        first: bool,
    },
    /// Still sending far over the rate: close with 4029.
    Close,
}

/// One connection's token bucket and its record of refusals.
#[derive(Debug)]
pub struct ConnLimiter {
    bucket: DefaultDirectRateLimiter,
    refused: u32,
    window_start: Instant,
    max_refused: u32,
}

/// Length of the window in which refusals count as persisting.
const WINDOW: Duration = Duration::from_secs(5);

impl ConnLimiter {
    /// Checks one message.
    pub fn check(&mut self, now: Instant) -> RateVerdict {
        if self.bucket.check().is_ok() {
            return RateVerdict::Allow;
        }
        if now.duration_since(self.window_start) > WINDOW {
            self.window_start = now;
            self.refused = 0;
        }
        self.refused += 1;
        if self.refused > self.max_refused {
            RateVerdict::Close
        } else {
            RateVerdict::Limited {
                first: self.refused == 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(f: impl FnOnce(&mut Config)) -> Config {
        let mut c = Config::default();
        f(&mut c);
        c
    }

    #[test]
    fn connection_caps_and_release() {
        let a = Abuse::new(&config(|c| {
            c.limits.max_connections = 3;
            c.limits.max_connections_per_ip = 2;
        }))
        .unwrap();
        let ip1: IpAddr = "10.0.0.1".parse().unwrap();
        let ip2: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = a.admit(ip1).unwrap();
        let _s2 = a.admit(ip1).unwrap();
        assert_eq!(a.admit(ip1).unwrap_err(), Refused::Full, "per IP");
        let _s3 = a.admit(ip2).unwrap();
        assert_eq!(a.admit(ip2).unwrap_err(), Refused::Full, "in total");
        drop(s1);
        assert!(a.admit(ip1).is_ok(), "a closed connection frees its slot");
    }

    #[test]
    fn cidr_rules() {
        let a = Abuse::new(&config(|c| {
            c.network.allow_cidrs = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
            c.network.deny_cidrs = vec!["10.9.0.0/16".parse().unwrap()];
        }))
        .unwrap();
        assert!(a.admit("10.1.2.3".parse().unwrap()).is_ok());
        assert!(
            a.admit("::ffff:10.1.2.3".parse().unwrap()).is_ok(),
            "v4-mapped"
        );
        assert!(a.admit("::1".parse().unwrap()).is_ok());
        assert_eq!(
            a.admit("10.9.1.1".parse().unwrap()).unwrap_err(),
            Refused::Network
        );
        assert_eq!(
            a.admit("192.168.1.1".parse().unwrap()).unwrap_err(),
            Refused::Network
        );
    }

    #[test]
    fn auth_failures_trip_a_cooldown_once() {
        let a = Abuse::new(&config(|c| c.limits.auth_failures_per_min = 3)).unwrap();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(a.auth_failed(ip, now), AuthVerdict::Counted);
        }
        assert!(!a.cooling_down(ip, now));
        assert_eq!(a.auth_failed(ip, now), AuthVerdict::Tripped);
        assert_eq!(
            a.auth_failed(ip, now),
            AuthVerdict::Counted,
            "one alert per cool-down"
        );
        assert!(a.cooling_down(ip, now));
        assert!(!a.cooling_down(ip, now + Duration::from_secs(61)));
        assert!(
            !a.cooling_down("10.0.0.2".parse().unwrap(), now),
            "other IPs unaffected"
        );
    }

    #[test]
    fn message_rate_limits_then_closes() {
        let a = Abuse::new(&config(|c| c.limits.messages_per_s = 5)).unwrap();
        let mut l = a.connection();
        let now = Instant::now();
        let verdicts: Vec<RateVerdict> = (0..40).map(|_| l.check(now)).collect();
        assert!(
            verdicts[..10].iter().all(|v| *v == RateVerdict::Allow),
            "burst of 2x"
        );
        assert_eq!(verdicts[10], RateVerdict::Limited { first: true });
        assert_eq!(verdicts[11], RateVerdict::Limited { first: false });
        assert_eq!(
            verdicts[30],
            RateVerdict::Close,
            "persisting: over 4x the rate refused"
        );
    }
}

//! The issuer keys, kept current without a restart.
//!
//! - A JWK set **file** is reloaded when it changes (checked every 2 s) or on
//!   SIGHUP.
//! - An identity provider's **URL** (Okta, Auth0, Keycloak, Entra) is
//!   fetched at start, then on the schedule of [`crate::auth::refresh`]:
//!   when its `Cache-Control` says the set goes stale, and at once
//!   (rate-limited) when a token names a `kid` the set lacks. Each fetched
//!   set is cached in `data_dir`, so a hub restarted while the provider is
//!   down starts on the last good keys.
//!
//! A reload or fetch that fails keeps the last good set and raises an
//! ALERT (once per run of failures). A new `kid` is accepted as soon as the
//! set holding it is read; a removed one refuses new hellos and, with
//! `auth.end_sessions_of_removed_keys`, ends the sessions it signed.

use crate::audit::{Action, Event, Outcome};
use crate::auth::keyring::{FetchRequest, KeyRing};
use crate::auth::keyset::Skipped;
use crate::auth::refresh::{Failure, Schedule, freshness};
use crate::auth::{KeySet, KeySetError};
use crate::config::{Config, JwksSource};
use crate::hub::Hub;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The largest JWK set document accepted.
const MAX_SET_BYTES: usize = 1024 * 1024;
/// The cached copy of a URL's set, in `data_dir`.
pub const CACHE_FILE: &str = "issuer-jwks.cache.json";

/// What is called with the kids that left the set.
pub type OnRemoved = Box<dyn Fn(&[String]) + Send + Sync>;

/// Where the keys come from, and how to read them.
#[derive(Debug)]
pub struct Source {
    kind: JwksSource,
    client: crate::fetch::Client,
    cache: PathBuf,
    refresh: Duration,
    min_interval: Duration,
}

/// The set read at start.
#[derive(Debug)]
pub struct Initial {
    /// The keys.
    pub keys: KeySet,
    /// A URL that could not be fetched: the cached set is in use (why).
    pub stale: Option<String>,
    /// How long the fetched set stays fresh.
    max_age: Option<Duration>,
}

impl Source {
    /// The configured source; `Err` is a problem with an `auth.*` key (the
    /// key, the problem).
    pub fn from_config(c: &Config) -> Result<Option<Self>, (&'static str, String)> {
        let Some(kind) = c.auth.jwks_source() else {
            return Ok(None);
        };
        let extra_roots = match &c.auth.jwks_ca {
            Some(p) => crate::fetch::load_roots(p).map_err(|e| ("auth.jwks_ca", e))?,
            None => Vec::new(),
        };
        Ok(Some(Self {
            kind,
            client: crate::fetch::Client { extra_roots },
            cache: c.data_dir.join(CACHE_FILE),
            refresh: Duration::from_secs(c.auth.jwks_refresh_s),
            min_interval: Duration::from_secs(c.auth.jwks_min_refresh_s),
        }))
    }

    /// Whether the keys come from a URL (so unknown kids may fetch).
    pub fn is_url(&self) -> bool {
        matches!(self.kind, JwksSource::Url(_))
    }

    /// The keys at start. A URL that cannot be fetched falls back to the
    /// cached set (`stale` says why); without one, start fails.
    pub async fn initial(&self) -> Result<Initial, String> {
        match &self.kind {
            JwksSource::File(path) => {
                let (keys, skipped) = KeySet::load(path).map_err(|e| e.to_string())?;
                log_skipped(&skipped);
                Ok(Initial {
                    keys,
                    stale: None,
                    max_age: None,
                })
            }
            JwksSource::Url(url) => match self.fetch(url).await {
                Ok((keys, max_age, text)) => {
                    self.store_cache(url, &text);
                    Ok(Initial {
                        keys,
                        stale: None,
                        max_age,
                    })
                }
                Err(e) => {
                    let cached = std::fs::read_to_string(&self.cache)
                        .ok()
                        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                        // A copy of another URL's set (auth.jwks changed) is none.
                        .filter(|v| v["url"].as_str() == Some(url.as_str()))
                        .ok_or_else(|| format!("{e} (and no cached copy in data_dir)"))?;
                    let (keys, _) = KeySet::from_json_lenient(&cached["jwks"].to_string())
                        .map_err(|c| format!("{e} (and the cached copy is unusable: {c})"))?;
                    tracing::warn!(error = %e, "identity provider's keys unreachable; starting on the cached set");
                    Ok(Initial {
                        keys,
                        stale: Some(e),
                        max_age: None,
                    })
                }
            },
        }
    }

    /// One GET of the set: the keys, how long they stay fresh, and the
    /// document (for the cache).
    async fn fetch(&self, url: &str) -> Result<(KeySet, Option<Duration>, String), String> {
        let r = self.client.get(url, MAX_SET_BYTES).await?;
        if r.status != 200 {
            return Err(format!("HTTP {}", r.status));
        }
        let text = String::from_utf8(r.body.to_vec()).map_err(|_| "not UTF-8".to_owned())?;
        let (keys, skipped) =
            KeySet::from_json_lenient(&text).map_err(|e: KeySetError| e.to_string())?;
        log_skipped(&skipped);
        let max_age = freshness(r.cache_control.as_deref(), r.age.as_deref());
        Ok((keys, max_age, text))
    }

    /// Writes the cached copy, naming its URL (replaced whole, never
    /// half-written).
    fn store_cache(&self, url: &str, text: &str) {
        let Ok(jwks) = serde_json::from_str::<serde_json::Value>(text) else {
            return;
        };
        let text = serde_json::json!({ "url": url, "jwks": jwks }).to_string();
        let tmp = self.cache.with_extension("json.tmp");
        let ok = self
            .cache
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&tmp, &text))
            .and_then(|()| std::fs::rename(&tmp, &self.cache));
        if let Err(e) = ok {
            tracing::warn!(error = %e, "cannot cache the issuer keys in data_dir");
        }
    }

    /// Keeps `ring` current until shutdown. `requests` are unknown-kid
    /// fetch requests (a URL source).
    pub fn spawn(
        self,
        initial: &Initial,
        hub: Arc<Hub>,
        ring: Arc<KeyRing>,
        requests: Option<mpsc::Receiver<FetchRequest>>,
        on_removed: OnRemoved,
    ) -> tokio::task::JoinHandle<()> {
        let keeper = Keeper {
            hub,
            ring,
            on_removed,
        };
        match self.kind.clone() {
            JwksSource::File(path) => tokio::spawn(watch_file(path, keeper)),
            JwksSource::Url(url) => {
                let now = Instant::now();
                let mut schedule = Schedule::new(self.refresh, self.min_interval, now);
                schedule.started(now);
                match &initial.stale {
                    None => {
                        schedule.fetched(now, initial.max_age);
                    }
                    Some(why) => {
                        schedule.failed(now);
                        keeper.alert("url", why);
                    }
                }
                let (_, rx) = mpsc::channel(1);
                let requests = requests.unwrap_or(rx);
                tokio::spawn(poll_url(self, url, schedule, keeper, requests))
            }
        }
    }
}

fn log_skipped(skipped: &[Skipped]) {
    for s in skipped {
        tracing::info!(kid = %s.kid, why = %s.why, "issuer key left out");
    }
}

/// What a new set is handed to.
struct Keeper {
    hub: Arc<Hub>,
    ring: Arc<KeyRing>,
    on_removed: OnRemoved,
}

impl Keeper {
    fn apply(&self, keys: KeySet) {
        let (removed, added) = self.ring.replace(keys);
        if removed.is_empty() && added.is_empty() {
            return;
        }
        tracing::info!(added = ?added, removed = ?removed, "issuer keys changed");
        if !removed.is_empty() {
            (self.on_removed)(&removed);
        }
    }

    fn alert(&self, source: &'static str, why: &str) {
        tracing::warn!(source, error = %why, "issuer keys not refreshed; the last good set stays in use");
        let e = Event::new(Action::Alert, Outcome::Failure)
            .detail("source", source)
            .detail("error", why.to_owned());
        self.hub
            .alert(crate::alerts::AlertKind::JwksRefreshFailed, e);
    }
}

fn hangup() -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

async fn next_hangup(hup: &mut Option<tokio::signal::unix::Signal>) {
    match hup {
        Some(h) => {
            h.recv().await;
        }
        None => std::future::pending().await,
    }
}

async fn watch_file(path: PathBuf, keeper: Keeper) {
    let mut file = crate::reload::Watch::new(vec![path.clone()]);
    let mut failing = false;
    let mut shutdown = keeper.hub.shutdown_signal();
    loop {
        tokio::select! {
            () = file.changed() => {}
            _ = shutdown.changed() => return,
        }
        match KeySet::load(&path) {
            Ok((keys, skipped)) => {
                log_skipped(&skipped);
                if failing {
                    tracing::info!("issuer key file readable again");
                }
                failing = false;
                keeper.apply(keys);
            }
            Err(e) => {
                if !failing {
                    keeper.alert("file", &e.to_string());
                }
                failing = true;
            }
        }
    }
}

/// Rotates the audit signing key when its file changes (checked every
/// 2 s) or on SIGHUP: the writer seals what it wrote with the old key,
/// then signs with the new one ([`crate::audit::Audit::rekey`]). A file
/// that cannot be read keeps the current key (an error line, no ALERT: the
/// trail stays signed).
pub async fn watch_audit_key(path: PathBuf, hub: Arc<Hub>) {
    let mut file = crate::reload::Watch::new(vec![path.clone()]);
    let mut shutdown = hub.shutdown_signal();
    loop {
        tokio::select! {
            () = file.changed() => {}
            _ = shutdown.changed() => return,
        }
        match bedside_token::PrivateKey::load(&path) {
            Ok(key) => hub.audit.rekey(key),
            Err(e) => {
                tracing::error!(error = %e, "audit.signing_key unreadable; checkpoints stay signed with the current key");
            }
        }
    }
}

async fn poll_url(
    source: Source,
    url: String,
    mut schedule: Schedule,
    keeper: Keeper,
    mut requests: mpsc::Receiver<FetchRequest>,
) {
    let mut hup = hangup();
    let mut shutdown = keeper.hub.shutdown_signal();
    loop {
        let mut waiting = Vec::new();
        tokio::select! {
            () = tokio::time::sleep_until(schedule.next_at().into()) => {}
            () = next_hangup(&mut hup) => {}
            Some(req) = requests.recv() => {
                if !schedule.unknown_kid(Instant::now()) {
                    let _ = req.send(false);
                    continue;
                }
                waiting.push(req);
            }
            _ = shutdown.changed() => return,
        }
        let now = Instant::now();
        schedule.started(now);
        match source.fetch(&url).await {
            Ok((keys, max_age, text)) => {
                if schedule.fetched(Instant::now(), max_age) {
                    tracing::info!("identity provider's keys fetched again");
                }
                source.store_cache(&url, &text);
                keeper.apply(keys);
            }
            Err(e) => {
                if schedule.failed(Instant::now()) == Failure::New {
                    keeper.alert("url", &e);
                } else {
                    tracing::warn!(error = %e, "identity provider's keys still unreachable");
                }
            }
        }
        // Everyone who asked meanwhile was served by this fetch.
        while let Ok(req) = requests.try_recv() {
            waiting.push(req);
        }
        for req in waiting {
            let _ = req.send(true);
        }
    }
}

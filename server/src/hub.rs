//! Shared hub state: configuration, verifier, store, metrics, audit,
//! alerts and the clock. The tasks that use it (sessions, visits) are
//! `net`'s; the registry of running visits is [`crate::net::visits`].

use crate::audit::Audit;
use crate::auth::Verifier;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;
use bedside_token::PrivateKey;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::watch;

/// Dev mode's own issuer: signs `POST /dev/token` tokens.
#[derive(Debug)]
pub struct DevIssuer {
    /// The signing key (kept in `data_dir`).
    pub key: PrivateKey,
    /// The `iss` it signs with.
    pub issuer: String,
}

pub use crate::revocations::Revocation;

/// Issuer name dev mode signs with.
pub const DEV_ISSUER: &str = "bedside-dev";

/// Everything the connection and visit tasks share.
#[derive(Debug)]
pub struct Hub {
    /// Validated configuration.
    pub config: Config,
    /// Token verification.
    pub verifier: Verifier,
    /// Durable state.
    pub store: Store,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Abuse limits.
    pub abuse: Arc<crate::limits::Abuse>,
    /// Alert delivery.
    pub alerts: crate::alerts::Alerts,
    /// The audit trail.
    pub audit: Audit,
    /// Dev mode issuer, when in dev mode.
    pub dev: Option<DevIssuer>,
    /// The wall clock (the only one the shell reads).
    pub clock: Arc<dyn crate::clock::Clock>,
    /// In a cluster: this node's view of it.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Users an operator revoked (by `sub`), as loaded and kept current
    /// from [`Hub::revocations`].
    pub revoked: dashmap::DashMap<String, Revocation>,
    /// Where revocations are kept durably.
    pub revocations: crate::revocations::Store,
    /// Encryption at rest of the embedded store, if configured.
    pub at_rest: Option<Arc<crate::at_rest::Keys>>,
    next_conn: AtomicU64,
    accepting: AtomicBool,
    shutdown_tx: watch::Sender<bool>,
}

/// What a hub is made of (everything but its own counters and metrics).
#[derive(Debug)]
pub struct Parts {
    /// Validated configuration.
    pub config: Config,
    /// Token verification.
    pub verifier: Verifier,
    /// Durable state.
    pub store: Store,
    /// The audit trail.
    pub audit: Audit,
    /// Abuse limits.
    pub abuse: Arc<crate::limits::Abuse>,
    /// Dev mode issuer, when in dev mode.
    pub dev: Option<DevIssuer>,
    /// The wall clock.
    pub clock: Arc<dyn crate::clock::Clock>,
    /// In a cluster: this node's view of it.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Where revocations are kept.
    pub revocations: crate::revocations::Store,
    /// Encryption at rest of the embedded store, if configured.
    pub at_rest: Option<Arc<crate::at_rest::Keys>>,
}

impl Hub {
    /// A hub ready to accept sessions.
    pub fn new(parts: Parts) -> Arc<Self> {
        let Parts {
            config,
            verifier,
            store,
            audit,
            abuse,
            dev,
            clock,
            cluster,
            revocations,
            at_rest,
        } = parts;
        let (shutdown_tx, _) = watch::channel(false);
        let metrics = Arc::new(Metrics::new());
        let alerts = crate::alerts::Alerts::new(config.alerts.webhook.clone(), metrics.clone());
        Arc::new(Self {
            config,
            verifier,
            store,
            metrics,
            abuse,
            alerts,
            audit,
            dev,
            clock,
            cluster,
            revoked: dashmap::DashMap::new(),
            revocations,
            at_rest,
            next_conn: AtomicU64::new(1),
            accepting: AtomicBool::new(true),
            shutdown_tx,
        })
    }

    /// Raises an ALERT (audit record, log, metric, webhook).
    pub fn alert(&self, kind: crate::alerts::AlertKind, event: crate::audit::Event) {
        self.alerts
            .raise(kind, event, &self.audit, &self.metrics, self.clock.now().0);
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> crate::visit::ConnId {
        crate::visit::ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    /// Accepting new sessions (for `/readyz`).
    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Relaxed)
    }

    /// Able to start sessions: accepting, and in a cluster its Redis up
    /// and holding the cluster's data (a hello's single use is provable).
    pub fn is_ready(&self) -> bool {
        self.is_accepting() && self.cluster.as_ref().is_none_or(|c| c.is_ready())
    }

    /// A receiver that turns `true` when shutdown begins.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// Stops accepting and tells every visit to close its sessions with 1001.
    pub fn begin_shutdown(&self) {
        self.accepting.store(false, Ordering::Relaxed);
        self.shutdown_tx.send_replace(true);
    }
}

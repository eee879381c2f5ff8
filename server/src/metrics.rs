//! Prometheus metrics (`GET /metrics`): connections, sessions, visits,
//! messages by type, rejects by reason, relay latency.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label: a message type.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabel {
    /// The wire `type`.
    pub r#type: &'static str,
}

/// Relay latency buckets: 25 µs to about 0.8 s.
fn relay_latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_025, 2.0, 16))
}

/// A relayed message type, for its latency histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relayed {
    /// `offer`.
    Offer,
    /// `answer`.
    Answer,
    /// `ice`.
    Ice,
}

impl Relayed {
    const ALL: [Relayed; 3] = [Relayed::Offer, Relayed::Answer, Relayed::Ice];

    fn label(self) -> TypeLabel {
        let r#type = match self {
            Relayed::Offer => "offer",
            Relayed::Answer => "answer",
            Relayed::Ice => "ice",
        };
        TypeLabel { r#type }
    }
}

/// Label: why something was refused.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// A stable reason code.
    pub reason: &'static str,
}

/// Every metric the hub exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections.
    pub connections: Gauge,
    /// Authenticated sessions attached to a visit.
    pub sessions: Gauge,
    /// Visits with a running task.
    pub visits: Gauge,
    /// In a cluster: 1 while Redis answers and holds the cluster's data.
    pub redis_up: Gauge,
    /// Client messages received, by type.
    pub messages: Family<TypeLabel, Counter>,
    /// Refusals (auth failures, protocol errors, invalid SDP, closes), by reason.
    pub rejects: Family<ReasonLabel, Counter>,
    /// ALERTs raised, by kind.
    pub alerts: Family<ReasonLabel, Counter>,
    /// Connections closed by the hub, by close reason.
    pub closes: Family<ReasonLabel, Counter>,
    /// Seconds from a relayed message's arrival to its hand-off to the
    /// recipient's queue, by type: the series of the registered family,
    /// created once so the relay path takes no lookup.
    relay_latency: [Histogram; 3],
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("bedside");
        let connections = Gauge::default();
        let sessions = Gauge::default();
        let visits = Gauge::default();
        let redis_up = Gauge::default();
        let messages = Family::<TypeLabel, Counter>::default();
        let rejects = Family::<ReasonLabel, Counter>::default();
        let closes = Family::<ReasonLabel, Counter>::default();
        let alerts = Family::<ReasonLabel, Counter>::default();
        let relay_latency = Family::<TypeLabel, Histogram>::new_with_constructor(
            relay_latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "connections",
            "Open WebSocket connections",
            connections.clone(),
        );
        registry.register(
            "sessions",
            "Authenticated sessions in a visit",
            sessions.clone(),
        );
        registry.register("visits", "Visits with a running task", visits.clone());
        registry.register(
            "redis_up",
            "Cluster only: 1 while Redis answers and holds the cluster's data",
            redis_up.clone(),
        );
        registry.register(
            "messages",
            "Client messages received, by type",
            messages.clone(),
        );
        registry.register("rejects", "Refused requests, by reason", rejects.clone());
        registry.register(
            "closes",
            "Connections closed by the hub, by reason",
            closes.clone(),
        );
        registry.register("alerts", "ALERTs raised, by kind", alerts.clone());
        registry.register(
            "relay_latency_seconds",
            "Time from a relayed message's arrival to its hand-off to the recipient",
            relay_latency.clone(),
        );
        let relay_latency = Relayed::ALL.map(|r| relay_latency.get_or_create(&r.label()).clone());
        Self {
            registry,
            connections,
            sessions,
            visits,
            redis_up,
            messages,
            rejects,
            closes,
            alerts,
            relay_latency,
        }
    }

    /// The latency histogram of one relayed type.
    pub fn relay_latency(&self, r: Relayed) -> &Histogram {
        &self.relay_latency[r as usize]
    }

    /// Counts a refusal.
    pub fn reject(&self, reason: &'static str) {
        self.rejects.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Counts an ALERT.
    pub fn alert(&self, kind: &'static str) {
        self.alerts
            .get_or_create(&ReasonLabel { reason: kind })
            .inc();
    }

    /// Counts a close by the hub.
    pub fn close(&self, reason: &'static str) {
        self.closes.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Counts a received message.
    pub fn message(&self, ty: &'static str) {
        self.messages.get_or_create(&TypeLabel { r#type: ty }).inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

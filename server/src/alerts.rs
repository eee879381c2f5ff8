//! ALERTs: repeated authentication failures from one IP, token replay,
//! repeated permission violations by one participant, a session whose IP
//! changed between resumes. Each is an ALERT audit record, a WARN log line
//! (no PHI), a metric, and a JSON POST to `[alerts] webhook`, retried with
//! backoff by a background task that never blocks the relay (a full queue
//! drops the POST, never the audit record).

use crate::audit::{Action, Audit, Event, Outcome};
use crate::metrics::Metrics;
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub use bedside_visit::audit::AlertKind;

/// POSTs waiting to be delivered before new ones are dropped.
const QUEUE: usize = 1024;
/// Delivery attempts per alert.
const ATTEMPTS: u32 = 5;

/// Raises alerts; cheap to clone.
#[derive(Debug, Clone)]
pub struct Alerts {
    webhook: Option<mpsc::Sender<Value>>,
}

impl Alerts {
    /// Alerts posting to `webhook` (if any); starts the delivery task.
    pub fn new(webhook: Option<String>, metrics: Arc<Metrics>) -> Self {
        let webhook = webhook.map(|url| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(deliver(url, rx, metrics));
            tx
        });
        Self { webhook }
    }

    /// Raises an alert described by `event` (an ALERT audit record is made of
    /// it, with `detail.alert` set to the kind).
    /// `now_ms` stamps the webhook's `ts`.
    pub fn raise(
        &self,
        kind: AlertKind,
        event: Event,
        audit: &Audit,
        metrics: &Metrics,
        now_ms: i64,
    ) {
        let mut e = Event::by(event.actor.clone(), Action::Alert, Outcome::Failure);
        e.target = event.target.clone();
        e.detail = event.detail.clone();
        e.detail.insert("alert".into(), kind.as_str().into());
        let a = &*e.actor;
        tracing::warn!(
            alert = kind.as_str(),
            ip = a.ip_address.as_deref().unwrap_or("-"),
            user = a.user_id.as_deref().unwrap_or("-"),
            visit = a.visit_id.as_deref().unwrap_or("-"),
            "ALERT"
        );
        metrics.alert(kind.as_str());
        if let Some(tx) = &self.webhook {
            let doc = json!({
                "alert": kind.as_str(),
                "ts": crate::audit::record::timestamp(now_ms),
                "ip_address": a.ip_address,
                "user_id": a.user_id,
                "role": a.role,
                "visit_id": a.visit_id,
                "session": a.session,
                "target": e.target,
                "detail": e.detail,
            });
            if tx.try_send(doc).is_err() {
                metrics.reject("alert_webhook_queue_full");
            }
        }
        audit.log_detached(e);
    }
}

/// Delivers alerts one by one, each retried with exponential backoff.
async fn deliver(url: String, mut rx: mpsc::Receiver<Value>, metrics: Arc<Metrics>) {
    let client = crate::fetch::Client::default();
    while let Some(doc) = rx.recv().await {
        let body = Bytes::from(doc.to_string());
        let mut delay = Duration::from_millis(250);
        let mut delivered = false;
        for attempt in 1..=ATTEMPTS {
            match client.post_json(&url, body.clone()).await {
                Ok(status) if (200..300).contains(&status) => {
                    delivered = true;
                    break;
                }
                Ok(status) => tracing::warn!(status, attempt, "alert webhook refused the alert"),
                Err(e) => tracing::warn!(error = %e, attempt, "alert webhook unreachable"),
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        if !delivered {
            metrics.reject("alert_webhook_failed");
        }
    }
}

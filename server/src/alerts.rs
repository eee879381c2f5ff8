//! ALERTs: repeated authentication failures from one IP, token replay,
//! repeated permission violations by one participant, a session whose IP
//! changed between resumes. Each is an ALERT audit record, a WARN log line
//! (no PHI), a metric, and a JSON POST to `[alerts] webhook`, retried with
//! backoff by a background task that never blocks the relay (a full queue
//! drops the POST, never the audit record).

use crate::audit::{Action, Audit, Event, Outcome};
use crate::metrics::Metrics;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
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
    while let Some(doc) = rx.recv().await {
        let body = Bytes::from(doc.to_string());
        let mut delay = Duration::from_millis(250);
        let mut delivered = false;
        for attempt in 1..=ATTEMPTS {
            match post(&url, body.clone()).await {
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

/// One JSON POST over HTTP/1.1 (TLS for https, system roots); the status.
async fn post(url: &str, body: Bytes) -> Result<u16, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("bad webhook URL: {e}"))?;
    let https = uri.scheme_str() == Some("https");
    let host = uri.host().ok_or("webhook URL has no host")?.to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let tcp = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| "connect timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    let request = hyper::Request::post(path)
        .header(hyper::header::HOST, &host)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(
            hyper::header::USER_AGENT,
            concat!("bedside/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let send = async {
        if https {
            let tls = tls_connector()?;
            let name =
                rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
            let stream = tls.connect(name, tcp).await.map_err(|e| e.to_string())?;
            send_on(TokioIo::new(stream), request).await
        } else {
            send_on(TokioIo::new(tcp), request).await
        }
    };
    tokio::time::timeout(Duration::from_secs(10), send)
        .await
        .map_err(|_| "webhook timed out".to_owned())?
}

async fn send_on<IO>(io: IO, request: hyper::Request<Full<Bytes>>) -> Result<u16, String>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.status().as_u16())
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

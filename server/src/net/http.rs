//! HTTP next to the socket (section 10): the WebSocket upgrade at
//! `/v1/signal` with the Origin allow-list, `/healthz`, `/readyz`,
//! `/metrics`, and in dev mode `POST /dev/token` and the web demo.

use super::visits::Visits;
use crate::hub::{DEV_ISSUER, Hub};
use bedside_protocol::claims::Lifetime;
use bedside_protocol::{JoinClaims, ParticipantId, Role, SIGNAL_PATH, VisitId};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::{Component, Path};
use std::sync::Arc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role as WsRole, WebSocketConfig};

type Body = Full<Bytes>;

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Routes one request.
pub async fn route(
    hub: Arc<Hub>,
    visits: Arc<Visits>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let path = req.uri().path().to_owned();
    match (req.method(), path.as_str()) {
        (&Method::GET, SIGNAL_PATH) => upgrade(hub, visits, req, peer),
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
        (&Method::GET, "/readyz") => {
            if hub.is_ready() {
                text(StatusCode::OK, "ready\n")
            } else if !hub.is_accepting() {
                text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
            } else if hub.cluster.as_ref().is_some_and(|c| c.data_lost()) {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "redis lost the cluster's data\n",
                )
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "redis unreachable\n")
            }
        }
        (&Method::GET, "/metrics") => {
            let mut r = text(StatusCode::OK, &hub.metrics.render());
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
        (&Method::POST, "/dev/token") if hub.dev.is_some() => {
            let mut r = dev_token(hub, req).await;
            // A token is a credential: no cache may keep it.
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        (_, p) if p.starts_with(super::admin::PREFIX) => {
            super::admin::handle(hub, visits, req, peer).await
        }
        (&Method::GET, _) => match hub.config.web_root() {
            Some(root) => static_file(&root, &path).await,
            None => text(StatusCode::NOT_FOUND, "not found\n"),
        },
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Origins allowed when none are configured: loopback pages only.
fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        rest.split(':').next().unwrap_or("")
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn header_has<B>(req: &Request<B>, name: header::HeaderName, token: &str) -> bool {
    req.headers().get_all(name).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|p| p.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

/// The one value of a header that must appear at most once; `Err` if it
/// appears twice (two readers could take different ones).
fn single<B>(req: &Request<B>, name: header::HeaderName) -> Result<Option<&HeaderValue>, ()> {
    let mut all = req.headers().get_all(name).iter();
    match (all.next(), all.next()) {
        (first, None) => Ok(first),
        (_, Some(_)) => Err(()),
    }
}

/// Why an upgrade request is refused: the status and a line for the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// 400, 403 or 426.
    pub status: StatusCode,
    /// What was wrong (no header values).
    pub why: &'static str,
}

const fn refuse(status: StatusCode, why: &'static str) -> Refusal {
    Refusal { status, why }
}

/// Checks an opening handshake to the letter of RFC 6455 section 4.2.1
/// (and RFC 9112's one `Host`), then the `Origin` allow-list (empty:
/// loopback pages only). Returns the accept key for the 101.
pub fn check_handshake<B>(req: &Request<B>, allowed_origins: &[String]) -> Result<String, Refusal> {
    if req.version() < hyper::Version::HTTP_11 {
        return Err(refuse(StatusCode::BAD_REQUEST, "WebSocket needs HTTP/1.1"));
    }
    if req.method() != Method::GET {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "WebSocket upgrades are GET requests",
        ));
    }
    match single(req, header::HOST) {
        Ok(Some(_)) => {}
        Ok(None) => return Err(refuse(StatusCode::BAD_REQUEST, "no Host header")),
        Err(()) => return Err(refuse(StatusCode::BAD_REQUEST, "two Host headers")),
    }
    // Two Origin headers: refused rather than trusting either.
    let origin = single(req, header::ORIGIN)
        .map_err(|()| refuse(StatusCode::FORBIDDEN, "two Origin headers"))?;
    if let Some(origin) = origin {
        let allowed = origin.to_str().is_ok_and(|o| {
            if allowed_origins.is_empty() {
                is_loopback_origin(o)
            } else {
                allowed_origins.iter().any(|a| a == o)
            }
        });
        if !allowed {
            return Err(refuse(StatusCode::FORBIDDEN, "origin not allowed"));
        }
    }
    if !(header_has(req, header::UPGRADE, "websocket")
        && header_has(req, header::CONNECTION, "upgrade"))
    {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "expected a WebSocket upgrade",
        ));
    }
    let key = match single(req, header::SEC_WEBSOCKET_KEY) {
        Ok(Some(k)) => k,
        Ok(None) => return Err(refuse(StatusCode::BAD_REQUEST, "no Sec-WebSocket-Key")),
        Err(()) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "two Sec-WebSocket-Key headers",
            ));
        }
    };
    // "a base64-encoded value that, when decoded, is 16 bytes in length".
    let decoded =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, key.as_bytes());
    if decoded.map(|k| k.len()) != Ok(16) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Key must be the base64 of 16 bytes",
        ));
    }
    match single(req, header::SEC_WEBSOCKET_VERSION) {
        Ok(Some(v)) if v == "13" => {}
        Ok(None) | Err(()) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "expected one Sec-WebSocket-Version",
            ));
        }
        // Section 4.4: an unknown version gets 426 naming the one we speak.
        Ok(Some(_)) => {
            return Err(refuse(
                StatusCode::UPGRADE_REQUIRED,
                "this hub speaks WebSocket version 13",
            ));
        }
    }
    Ok(derive_accept_key(key.as_bytes()))
}

fn upgrade(
    hub: Arc<Hub>,
    visits: Arc<Visits>,
    mut req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    if !hub.is_accepting() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    }
    // Network rules and connection caps come before anything else.
    let slot = match hub.abuse.admit(peer.ip()) {
        Ok(slot) => slot,
        Err(crate::limits::Refused::Network) => {
            hub.metrics.reject("network");
            tracing::info!(%peer, "upgrade refused: network not allowed");
            return text(StatusCode::FORBIDDEN, "network not allowed\n");
        }
        Err(crate::limits::Refused::Full) => {
            hub.metrics.reject("connections_full");
            return text(StatusCode::SERVICE_UNAVAILABLE, "too many connections\n");
        }
    };
    let accept = match check_handshake(&req, &hub.config.allowed_origins) {
        Ok(accept) => accept,
        Err(r) => {
            let reason = if r.status == StatusCode::FORBIDDEN {
                "origin"
            } else {
                "bad_upgrade"
            };
            hub.metrics.reject(reason);
            tracing::info!(%peer, why = r.why, "upgrade refused");
            let mut resp = text(r.status, &format!("{}\n", r.why));
            if r.status == StatusCode::UPGRADE_REQUIRED {
                resp.headers_mut().insert(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                );
            }
            return resp;
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let max = hub.config.session.max_message_bytes;
    // Small buffers: an idle session holds its read buffer for life (and
    // tungstenite zero-fills it on every read), so 1 KiB rather than the
    // 128 KiB default. Signaling frames (ICE ~300 B) fit; for a larger one
    // the patched tungstenite (vendor/tungstenite/BEDSIDE.md) reserves the
    // frame's size once its header is read, reads the rest 8 KiB at a time
    // (a 5 KB SDP in 2 reads), and leaves a fresh 1 KiB buffer behind it.
    // (512 B measured no smaller: a hello's token is larger, and the freed
    // growth stays in the heap.) Writes collect in the buffer until the
    // writer flushes, so frames queued together leave in one syscall (the
    // buffer is empty between bursts and keeps at most 1 KiB).
    let config = WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(max * 4 + 64 * 1024)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    WsRole::Server,
                    Some(config),
                )
                .await;
                super::session::run(hub, visits, ws, peer).await;
                drop(slot);
            }
            Err(e) => tracing::debug!(%peer, error = %e, "upgrade failed"),
        }
    });
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    r
}

#[derive(serde::Deserialize)]
struct DevTokenRequest {
    visit: VisitId,
    role: Role,
    sub: ParticipantId,
    name: Option<String>,
    #[serde(default)]
    perms: Vec<bedside_protocol::Permission>,
}

/// Dev mode only: mints a join token for the local demo.
async fn dev_token(hub: Arc<Hub>, req: Request<Incoming>) -> Response<Body> {
    let Some(dev) = &hub.dev else {
        return text(StatusCode::NOT_FOUND, "not found\n");
    };
    let body = match Limited::new(req.into_body(), 4096).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return json(
                StatusCode::PAYLOAD_TOO_LARGE,
                &serde_json::json!({"error": "body too large"}),
            );
        }
    };
    let r: DevTokenRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({"error": format!("expected {{\"visit\",\"role\",\"sub\",\"name\"}}: {e}")}),
            );
        }
    };
    // The name the person typed, trimmed; one the hub would refuse at
    // hello is refused here with the reason, not later with 4001.
    let name = r
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if let Some(Err(e)) = name.as_deref().map(bedside_protocol::check_display_name) {
        return json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({"error": format!("name: {e}")}),
        );
    }
    let now = hub.clock.now_s();
    let lifetime = Lifetime::starting(now, 3600);
    let mut claims = JoinClaims::new(
        DEV_ISSUER,
        hub.config.auth.audience.as_str(),
        r.visit,
        r.sub,
        r.role,
        lifetime,
        bedside_token::random_jti(),
    )
    .with_perms(r.perms);
    claims.name = name;
    match dev.key.sign(&claims) {
        Ok(token) => json(StatusCode::OK, &serde_json::json!({ "token": token })),
        Err(e) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &serde_json::json!({"error": e.to_string()}),
        ),
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// The web demo's content security policy. Scripts only from this origin
/// (and the wasm module compiled, which needs `'wasm-unsafe-eval'`), no
/// inline script or style, connections only back to this hub (CSP 3
/// `'self'` covers its `ws:`/`wss:`), and Trusted Types with no policy:
/// no string ever becomes markup or script, so a name or a chat message
/// cannot inject anything.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self'; media-src 'self'; connect-src 'self'; \
     form-action 'none'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'; \
     require-trusted-types-for 'script'; trusted-types 'none'";

/// Headers on every file of the web demo.
const PAGE_HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(self), microphone=(self), display-capture=(self), speaker-selection=(self), geolocation=(), payment=(), usb=()",
    ),
];

/// Serves a file of the web demo; refuses any path leaving the root.
async fn static_file(root: &Path, path: &str) -> Response<Body> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "index.html" } else { rel };
    let rel = Path::new(rel);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    let full = root.join(rel);
    match tokio::fs::read(&full).await {
        Ok(bytes) => {
            let mut r = Response::new(Full::new(Bytes::from(bytes)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&full)),
            );
            let h = r.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            for (name, value) in PAGE_HEADERS {
                h.insert(
                    header::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                );
            }
            r
        }
        Err(_) if rel == Path::new("index.html") => text(
            StatusCode::OK,
            "The Bedside hub is running, but its web page is not built:\n\
             run `cargo xtask web` (`cargo xtask demo` builds it and starts the hub).\n\
             WebSocket endpoint: /v1/signal\n",
        ),
        Err(_) => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback_origin;

    #[test]
    fn loopback_origins() {
        assert!(is_loopback_origin("http://localhost:8080"));
        assert!(is_loopback_origin("http://127.0.0.1"));
        assert!(is_loopback_origin("https://[::1]:8443"));
        assert!(!is_loopback_origin("https://evil.example"));
        assert!(!is_loopback_origin("http://localhost.evil.example"));
        assert!(!is_loopback_origin("null"));
    }
}

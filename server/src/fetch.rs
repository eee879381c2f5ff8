//! The hub's outgoing HTTP/1.1 requests (the alert webhook, an identity
//! provider's JWK set): one request per connection, TLS for `https` with the
//! system's roots plus any configured extra CA, bounded in time and size.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::CertificateDer;
use std::sync::Arc;
use std::time::Duration;

/// Connecting, then the whole exchange, each at most this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// A response: its status, the headers a caller may want, and the body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// `Cache-Control`, if any.
    pub cache_control: Option<String>,
    /// `Age`, if any.
    pub age: Option<String>,
    /// The body (at most the caller's limit).
    pub body: Bytes,
}

/// Where and how to send.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// Extra trust anchors (a clinic's private CA) beside the system's.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl Client {
    /// A JSON POST of `body`; the response's status.
    pub async fn post_json(&self, url: &str, body: Bytes) -> Result<u16, String> {
        let r = self
            .send(url, hyper::Method::POST, None, Some(body), 64 * 1024)
            .await?;
        Ok(r.status)
    }

    /// A GET whose body may be at most `limit` bytes.
    pub async fn get(&self, url: &str, limit: usize) -> Result<Response, String> {
        self.send(url, hyper::Method::GET, None, None, limit).await
    }

    /// A request with `Authorization: Bearer <bearer>` (the operator API).
    pub async fn authorized(
        &self,
        method: hyper::Method,
        url: &str,
        bearer: &str,
        body: Option<Bytes>,
        limit: usize,
    ) -> Result<Response, String> {
        self.send(url, method, Some(bearer), body, limit).await
    }

    async fn send(
        &self,
        url: &str,
        method: hyper::Method,
        bearer: Option<&str>,
        body: Option<Bytes>,
        limit: usize,
    ) -> Result<Response, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("the URL must start with https:// or http://".into()),
        };
        let host = uri.host().ok_or("the URL has no host")?.to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let authority = uri
            .authority()
            .map_or(host.clone(), |a| a.as_str().to_owned());
        let tcp = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)),
        )
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| format!("cannot connect: {e}"))?;
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority)
            .header(
                hyper::header::USER_AGENT,
                concat!("bedside/", env!("CARGO_PKG_VERSION")),
            );
        if body.is_some() {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        if let Some(b) = bearer {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {b}"));
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| e.to_string())?;
        let exchange = async {
            if https {
                let tls = self.tls_connector()?;
                let name = rustls::pki_types::ServerName::try_from(
                    host.trim_matches(['[', ']']).to_owned(),
                )
                .map_err(|e| e.to_string())?;
                let stream = tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS: {e}"))?;
                exchange(TokioIo::new(stream), request, limit).await
            } else {
                exchange(TokioIo::new(tcp), request, limit).await
            }
        };
        tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
            .await
            .map_err(|_| "timed out".to_owned())?
    }

    fn tls_connector(&self) -> Result<tokio_rustls::TlsConnector, String> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        for cert in &self.extra_roots {
            roots
                .add(cert.clone())
                .map_err(|e| format!("extra CA: {e}"))?;
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
}

/// Reads PEM certificates (a CA bundle).
pub fn load_roots(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject as _;
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    Ok(certs)
}

async fn exchange<IO>(
    io: IO,
    request: hyper::Request<Full<Bytes>>,
    limit: usize,
) -> Result<Response, String>
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
    let header = |name: hyper::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = response.status().as_u16();
    let cache_control = header(hyper::header::CACHE_CONTROL);
    let age = header(hyper::header::AGE);
    let body = Limited::new(response.into_body(), limit)
        .collect()
        .await
        .map_err(|e| format!("response body: {e}"))?
        .to_bytes();
    Ok(Response {
        status,
        cache_control,
        age,
        body,
    })
}

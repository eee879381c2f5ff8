//! TLS with rustls (ring provider). The certificate is held by a resolver
//! that swaps in a fresh one when the files change or on SIGHUP; handshakes
//! already done keep their keys, so no session drops on a reload.

use crate::config::TlsConfig;
use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::Path;
use std::sync::{Arc, RwLock};

/// Why the certificate or key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {problem}")]
pub struct TlsError {
    /// Which file or step.
    pub what: String,
    /// What went wrong.
    pub problem: String,
}

fn err(what: &Path, problem: impl ToString) -> TlsError {
    TlsError {
        what: what.display().to_string(),
        problem: problem.to_string(),
    }
}

/// Loads a PEM chain and key into a certified key.
pub fn load(cfg: &TlsConfig) -> Result<Arc<CertifiedKey>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.cert)
        .map_err(|e| err(&cfg.cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(&cfg.cert, e))?;
    if certs.is_empty() {
        return Err(err(&cfg.cert, "no certificate in file"));
    }
    let key = PrivateKeyDer::from_pem_file(&cfg.key).map_err(|e| err(&cfg.key, e))?;
    let signing = ring::sign::any_supported_type(&key).map_err(|e| err(&cfg.key, e))?;
    Ok(Arc::new(CertifiedKey::new(certs, signing)))
}

/// A certificate resolver whose certificate can be replaced at run time.
#[derive(Debug)]
pub struct ReloadingResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for ReloadingResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|k| k.clone())
    }
}

impl ReloadingResolver {
    /// Replaces the certificate.
    pub fn set(&self, key: Arc<CertifiedKey>) {
        if let Ok(mut cur) = self.current.write() {
            *cur = key;
        }
    }
}

/// Builds the acceptor and starts the reload watcher.
pub fn acceptor(cfg: &TlsConfig) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let resolver = Arc::new(ReloadingResolver {
        current: RwLock::new(load(cfg)?),
    });
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| err(Path::new("tls"), e))?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio::spawn(watch(cfg.clone(), resolver));
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Reloads on SIGHUP and when either file's modification time changes.
async fn watch(cfg: TlsConfig, resolver: Arc<ReloadingResolver>) {
    let mut files = crate::reload::Watch::new(vec![cfg.cert.clone(), cfg.key.clone()]);
    loop {
        files.changed().await;
        match load(&cfg) {
            Ok(key) => {
                resolver.set(key);
                tracing::info!(cert = %cfg.cert.display(), "TLS certificate reloaded");
            }
            Err(e) => {
                tracing::error!(error = %e, "TLS reload failed; keeping the current certificate")
            }
        }
    }
}

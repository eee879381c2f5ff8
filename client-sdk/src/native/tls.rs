//! How `wss://` certificates are checked. With feature `platform-verifier`
//! (on in bedside-ffi), by the operating system's verifier
//! (rustls-platform-verifier: the keychain's trust settings on Apple
//! platforms, the Android trust store with its user and managed CAs, the
//! native roots elsewhere, where `SSL_CERT_FILE` also applies); without
//! it, by the native roots (tokio-tungstenite's default). Built once per
//! process.

#[cfg(feature = "platform-verifier")]
use std::sync::{Arc, OnceLock};
use tokio_tungstenite::Connector;

/// The connector for `wss://` (`None`: tokio-tungstenite's default).
#[cfg(feature = "platform-verifier")]
pub(super) fn connector() -> Result<Option<Connector>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        use rustls_platform_verifier::BuilderVerifierExt as _;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_platform_verifier()
            .map_err(|e| format!("the platform's certificate verifier: {e}"))
            .map(|b| Arc::new(b.with_no_client_auth()))
    });
    config.clone().map(|c| Some(Connector::Rustls(c)))
}

/// The connector for `wss://` (`None`: tokio-tungstenite's default, the
/// native roots).
#[cfg(not(feature = "platform-verifier"))]
pub(super) fn connector() -> Result<Option<Connector>, String> {
    Ok(None)
}

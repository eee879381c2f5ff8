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

/// The connector for `wss://` (`None`: tokio-tungstenite's default). A
/// failure to set the verifier up (on Android before
/// `BedsideAndroid.init`) is not kept: the next attempt tries again.
#[cfg(feature = "platform-verifier")]
pub(super) fn connector() -> Result<Option<Connector>, String> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(c) = CONFIG.get() {
        return Ok(Some(Connector::Rustls(c.clone())));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_platform_verifier()
        .map_err(|e| format!("the platform's certificate verifier: {e}"))?
        .with_no_client_auth();
    let config = CONFIG.get_or_init(|| Arc::new(config));
    Ok(Some(Connector::Rustls(config.clone())))
}

/// The connector for `wss://` (`None`: tokio-tungstenite's default, the
/// native roots).
#[cfg(not(feature = "platform-verifier"))]
pub(super) fn connector() -> Result<Option<Connector>, String> {
    Ok(None)
}

//! Fresh join tokens from the app: its login session asks the clinic's
//! identity provider (async: a network call), for a refresh before the
//! session expires or a fresh join after a refused resume.

use crate::error::AdapterError;
use crate::types::TokenPurpose;
use std::sync::Arc;

/// The app's source of join tokens.
#[uniffi::export(with_foreign)]
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync {
    /// A token for `purpose`; a failure is shown as `BedsideError::Token`.
    async fn token(&self, purpose: TokenPurpose) -> Result<String, AdapterError>;
}

/// The native client's token source over the app's.
pub(crate) fn native(source: Arc<dyn TokenSource>) -> bedside_sdk::native::TokenSource {
    Arc::new(move |purpose| {
        let source = source.clone();
        Box::pin(async move {
            source
                .token(purpose.into())
                .await
                .map_err(|e| e.to_string())
        })
    })
}

//! The library's tokio runtime: every call of the app's runs on it, so the
//! app may await from any executor (Kotlin coroutines, Swift tasks,
//! asyncio), and the client's own task lives here too.

use crate::error::BedsideError;
use std::future::Future;
use std::sync::{Mutex, OnceLock};

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
static BUILDING: Mutex<()> = Mutex::new(());

fn runtime() -> Result<&'static tokio::runtime::Runtime, BedsideError> {
    if let Some(r) = RUNTIME.get() {
        return Ok(r);
    }
    // One builder at a time: a runtime built in vain would have to be
    // dropped, which panics inside another runtime.
    let _one = BUILDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(r) = RUNTIME.get() {
        return Ok(r);
    }
    let built = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bedside")
        .enable_all()
        .build()
        .map_err(|e| BedsideError::Transport {
            reason: format!("cannot start the SDK's runtime: {e}"),
        })?;
    Ok(RUNTIME.get_or_init(|| built))
}

/// Runs `f` on the library's runtime and waits for it.
pub(crate) async fn run<T: Send + 'static>(
    f: impl Future<Output = T> + Send + 'static,
) -> Result<T, BedsideError> {
    runtime()?.spawn(f).await.map_err(|_| BedsideError::Ended)
}

/// Starts `f` on the library's runtime.
pub(crate) fn spawn(f: impl Future<Output = ()> + Send + 'static) -> Result<(), BedsideError> {
    runtime()?.spawn(f);
    Ok(())
}

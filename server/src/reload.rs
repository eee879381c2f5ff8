//! When to reload a file the hub reads (TLS certificate, issuer keys, the
//! audit signing key): on SIGHUP, or when a file's modification time
//! changes (checked every 2 s). One mechanism for every such file.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// How often the files' modification times are compared.
pub const POLL: Duration = Duration::from_secs(2);

/// Watches some files; [`Watch::changed`] resolves at each change.
#[derive(Debug)]
pub struct Watch {
    paths: Vec<PathBuf>,
    last: Vec<Option<SystemTime>>,
    tick: tokio::time::Interval,
    hup: Option<tokio::signal::unix::Signal>,
}

fn mtime(p: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

impl Watch {
    /// Watches `paths` from their state now.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        Self {
            last: paths.iter().map(mtime).collect(),
            paths,
            tick: tokio::time::interval(POLL),
            hup: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok(),
        }
    }

    /// Resolves once SIGHUP arrived or a file's modification time changed.
    pub async fn changed(&mut self) {
        loop {
            let forced = tokio::select! {
                _ = self.tick.tick() => false,
                () = async {
                    match self.hup.as_mut() {
                        Some(h) => { h.recv().await; }
                        None => std::future::pending().await,
                    }
                } => true,
            };
            let now: Vec<_> = self.paths.iter().map(mtime).collect();
            if forced || now != self.last {
                self.last = now;
                return;
            }
        }
    }
}

//! The issuer keys in use: one [`KeySet`] swapped whole when its source (a
//! file, or an identity provider's URL) changes, so a rotation never
//! needs a restart and a token is always checked against one consistent
//! set.

use super::KeySet;
use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A request for a fetch now; answered true once a fetch ran.
pub type FetchRequest = oneshot::Sender<bool>;

/// The keys in use, shared by the verifier and the task that refreshes them.
#[derive(Debug)]
pub struct KeyRing {
    current: RwLock<Arc<KeySet>>,
    /// Keys that do not come from the source (dev mode's own key).
    pinned: KeySet,
    /// To the URL fetcher, when there is one: "a token named a kid the set
    /// lacks".
    fetcher: Option<mpsc::Sender<FetchRequest>>,
}

impl KeyRing {
    /// Keys that never change (tests, benches).
    pub fn fixed(keys: KeySet) -> Arc<Self> {
        Arc::new(Self {
            current: RwLock::new(Arc::new(keys)),
            pinned: KeySet::default(),
            fetcher: None,
        })
    }

    /// `initial` from the source plus `pinned`; with `fetcher`, unknown
    /// kids ask it for a fetch.
    pub fn new(
        initial: KeySet,
        pinned: KeySet,
        fetcher: Option<mpsc::Sender<FetchRequest>>,
    ) -> Arc<Self> {
        let mut set = initial;
        set.merge(pinned.clone());
        Arc::new(Self {
            current: RwLock::new(Arc::new(set)),
            pinned,
            fetcher,
        })
    }

    /// The set in use now.
    pub fn current(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Puts `set` (and the pinned keys) in use. Returns the kids that were
    /// in use and are not any more, and those that are new.
    pub fn replace(&self, mut set: KeySet) -> (Vec<String>, Vec<String>) {
        set.merge(self.pinned.clone());
        let new = Arc::new(set);
        let old = {
            let mut g = match self.current.write() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            std::mem::replace(&mut *g, new.clone())
        };
        let before: BTreeSet<&str> = old.kids().collect();
        let after: BTreeSet<&str> = new.kids().collect();
        (
            before.difference(&after).map(|k| k.to_string()).collect(),
            after.difference(&before).map(|k| k.to_string()).collect(),
        )
    }

    /// A token named `kid`, which the set lacks: asks the fetcher (if the
    /// keys come from a URL) for a fetch now and waits at most `wait` for
    /// it. True when the set now holds `kid`. The fetcher refuses at once
    /// when it fetched too recently, so forged kids cost no waiting.
    pub async fn fetch_for(&self, kid: &str, wait: Duration) -> bool {
        let Some(fetcher) = &self.fetcher else {
            return false;
        };
        let (tx, rx) = oneshot::channel();
        if fetcher.try_send(tx).is_err() {
            return false;
        }
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(true)) => self.current().get(kid).is_some(),
            _ => false,
        }
    }
}

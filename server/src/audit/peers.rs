//! In a cluster, what each node's trail says of the others'.
//!
//! Every node keeps its own hash chain. So that a node's file cannot go
//! missing or be cut short unnoticed, each node publishes every signed
//! CHECKPOINT it writes (its node id, `count`, `head`, `kid`, `sig`) to a
//! shared Redis stream ([`crate::cluster::audit`]), reads the others', and
//! names in each CHECKPOINT the latest one it has seen of every other node:
//! `detail.peers = {"node-b": {"count": 900, "head": "<64 hex>"}}`.
//! `bedside audit verify` over the nodes' files then checks each such claim
//! against the named node's file (see [`super::verify::cross_check`]).
//!
//! This module is the meeting point between the writer (which asks for the
//! latest heads and hands over what it sealed) and the cluster task that
//! talks to Redis; it does no IO itself.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A CHECKPOINT as the shared stream carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The node that wrote it.
    pub node: String,
    /// Which of the node's chains: the hash of its file's first record (a
    /// file started over, `--audit-new-file`, is a new chain).
    #[serde(default)]
    pub chain: String,
    /// Records before it (its `detail.count`).
    pub count: u64,
    /// The hash of the record it seals (its `detail.head`).
    pub head: String,
    /// Its signing key.
    pub kid: String,
    /// Its signature over `head`.
    pub sig: String,
}

/// A peer's chain position as a CHECKPOINT names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Records before the peer's checkpoint.
    pub count: u64,
    /// The hash of the peer's record number `count`.
    pub head: String,
}

/// Shared between the audit writer and the cluster's stream task.
#[derive(Debug)]
pub struct Peers {
    node: String,
    /// Per node: its chain and the furthest head seen of it.
    seen: Mutex<BTreeMap<String, (String, Head)>>,
    outbox: Mutex<Vec<Published>>,
    wake: tokio::sync::Notify,
    /// The id of the last stream entry read.
    cursor: Mutex<String>,
}

impl Peers {
    /// For node `node`.
    pub fn new(node: impl Into<String>) -> Self {
        Self {
            node: node.into(),
            seen: Mutex::new(BTreeMap::new()),
            outbox: Mutex::new(Vec::new()),
            wake: tokio::sync::Notify::new(),
            cursor: Mutex::new("0-0".to_owned()),
        }
    }

    /// The id of the last stream entry read (`0-0` before the first).
    pub fn cursor(&self) -> String {
        self.cursor.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Moves the cursor past an entry read.
    pub fn advance(&self, id: String) {
        if let Ok(mut c) = self.cursor.lock() {
            *c = id;
        }
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The latest checkpoint seen of every other node.
    pub fn seen(&self) -> BTreeMap<String, Head> {
        self.seen
            .lock()
            .map(|s| s.iter().map(|(n, (_, h))| (n.clone(), h.clone())).collect())
            .unwrap_or_default()
    }

    /// A checkpoint read from the stream. This node's own are ignored, and
    /// so is one of a node's chain that does not move that chain forward (a
    /// chain only grows): a replayed entry cannot make this node name an
    /// earlier head than one it already named. One of another chain of the
    /// node (its file started over) replaces what was seen of it.
    ///
    /// Entries are not checked against the peers' public keys here (a node
    /// holds only its own signing key). They need not be: `audit verify`
    /// checks every claim against the named node's file, so a forged entry
    /// can raise an alarm there but not hide a cut, and the node's next
    /// real checkpoint (of its own chain) replaces it.
    pub fn saw(&self, p: Published) {
        if p.node == self.node {
            return;
        }
        if let Ok(mut seen) = self.seen.lock() {
            match seen.get(&p.node) {
                Some((chain, h)) if *chain == p.chain && h.count >= p.count => return,
                Some((chain, _)) if *chain != p.chain => {
                    tracing::warn!(node = %p.node, "a node's audit chain started over");
                }
                _ => {}
            }
            seen.insert(
                p.node,
                (
                    p.chain,
                    Head {
                        count: p.count,
                        head: p.head,
                    },
                ),
            );
        }
    }

    /// The writer sealed a checkpoint: queue it for the stream.
    pub fn publish(&self, p: Published) {
        if let Ok(mut o) = self.outbox.lock() {
            o.push(p);
        }
        self.wake.notify_one();
    }

    /// Takes what waits to be published.
    pub fn take_outbox(&self) -> Vec<Published> {
        self.outbox
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default()
    }

    /// Puts back what could not be published (Redis away), oldest first.
    pub fn requeue(&self, mut unsent: Vec<Published>) {
        if let Ok(mut o) = self.outbox.lock() {
            unsent.append(&mut o);
            *o = unsent;
        }
    }

    /// Resolves when something was queued.
    pub async fn queued(&self) {
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(node: &str, count: u64) -> Published {
        Published {
            node: node.into(),
            chain: "c1".into(),
            count,
            head: format!("{count:064x}"),
            kid: "k".into(),
            sig: "s".into(),
        }
    }

    fn cp_head(count: u64) -> Head {
        Head {
            count,
            head: format!("{count:064x}"),
        }
    }

    #[test]
    fn the_furthest_head_of_each_other_node_is_kept_and_its_own_ignored() {
        let p = Peers::new("a");
        p.saw(cp("b", 10));
        p.saw(cp("a", 99));
        p.saw(cp("c", 5));
        p.saw(cp("b", 20));
        // An older (replayed) or equal entry does not move a chain back.
        p.saw(cp("b", 15));
        let mut forged = cp("b", 20);
        forged.head = "f".repeat(64);
        p.saw(forged);
        let seen = p.seen();
        assert_eq!(seen.keys().collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(seen["b"], cp_head(20));

        // node-b's file started over: its new chain counts from the start.
        let mut restarted = cp("b", 3);
        restarted.chain = "c2".into();
        p.saw(restarted);
        assert_eq!(p.seen()["b"], cp_head(3));
    }

    #[test]
    fn what_could_not_be_sent_goes_back_ahead_of_newer_checkpoints() {
        let p = Peers::new("a");
        p.publish(cp("a", 1));
        let unsent = p.take_outbox();
        p.publish(cp("a", 2));
        p.requeue(unsent);
        let order: Vec<u64> = p.take_outbox().iter().map(|c| c.count).collect();
        assert_eq!(order, [1, 2]);
        assert!(p.take_outbox().is_empty());
    }
}

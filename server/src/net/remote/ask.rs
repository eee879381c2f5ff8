//! Questions every node answers for itself, so the operator API can answer
//! for the whole cluster (the live visits, an audit export): the asking
//! node publishes a [`Wire::Ask`] to every live node and gathers their
//! [`Wire::Answer`]s for a bounded time. A node that does not answer in
//! full (not subscribed, too slow, a part lost on the way, or its own
//! failure) is named in the result with the reason, never silently left
//! out: an export for an investigation must say when it is partial.

use super::Router;
use super::wire::{AnswerBody, Ask, Wire};
use crate::audit::export::{self, Found};
use crate::hub::Hub;
use crate::net::visits::Visits;
use crate::store::StoreError;
use dashmap::DashMap;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;

/// Most bytes of records in one answer part. Redis keeps what a
/// subscriber has not read yet in its output buffer (by default a
/// subscriber more than 8 MB behind for a minute is disconnected), so a
/// large export crosses in parts.
const PART_BYTES: usize = 256 << 10;

/// Most audit records one node returns (and the merged answer holds).
pub const MAX_RECORDS: usize = 10_000;

/// One part of another node's answer, as it arrived.
#[derive(Debug)]
pub(super) struct Part {
    node: String,
    part: u32,
    last: bool,
    body: AnswerBody,
}

/// What the other nodes answered.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Each node that answered in full, with its answer's parts in order.
    pub answers: Vec<(String, Vec<AnswerBody>)>,
    /// The live nodes that did not, each with the reason.
    pub unanswered: Vec<(String, String)>,
}

/// Takes a question's collector out of the table when the asker is done
/// (or its caller went away).
struct Forget<'a>(&'a DashMap<u64, mpsc::UnboundedSender<Part>>, u64);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.0.remove(&self.1);
    }
}

impl Router {
    /// Asks every other live node, and waits at most `wait` for them.
    /// Errs only when the list of nodes cannot be read.
    pub async fn ask_others(&self, ask: Ask, wait: Duration) -> Result<Gathered, StoreError> {
        let me = self.cluster.node.clone();
        let others: Vec<String> = self
            .cluster
            .nodes()
            .await?
            .into_iter()
            .filter(|n| *n != me)
            .collect();
        let id = self.next_ask.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.asked.insert(id, tx);
        let _forget = Forget(&self.asked, id);
        let mut gathered = Gathered::default();
        let mut pending: BTreeMap<String, (u32, Vec<AnswerBody>)> = BTreeMap::new();
        for node in others {
            let wire = Wire::Ask {
                from: me.clone(),
                id,
                ask: ask.clone(),
            };
            if self.publish(&node, &wire).await {
                pending.insert(node, (0, Vec::new()));
            } else {
                gathered
                    .unanswered
                    .push((node, "not listening on its channel".into()));
            }
        }
        let deadline = tokio::time::Instant::now() + wait;
        while !pending.is_empty() {
            let Ok(Some(p)) = tokio::time::timeout_at(deadline, rx.recv()).await else {
                break;
            };
            let Some((next, parts)) = pending.get_mut(&p.node) else {
                continue;
            };
            if p.part != *next {
                pending.remove(&p.node);
                gathered
                    .unanswered
                    .push((p.node, "a part of its answer was lost".into()));
                continue;
            }
            *next += 1;
            parts.push(p.body);
            if p.last
                && let Some((_, parts)) = pending.remove(&p.node)
            {
                gathered.answers.push((p.node, parts));
            }
        }
        gathered.unanswered.extend(
            pending
                .into_keys()
                .map(|n| (n, format!("no answer within {} s", wait.as_secs()))),
        );
        gathered.unanswered.sort();
        gathered.answers.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(gathered)
    }

    /// A part of an answer to a question asked here.
    pub(super) fn answered(&self, id: u64, node: String, part: u32, last: bool, body: AnswerBody) {
        if let Some(tx) = self.asked.get(&id) {
            let _ = tx.send(Part {
                node,
                part,
                last,
                body,
            });
        }
    }

    /// Answers another node's question, in parts, off the router's loop
    /// (an export reads a file).
    pub(super) fn answer_here(self: &Arc<Self>, from: String, id: u64, ask: Ask) {
        let me = self.clone();
        tokio::spawn(async move {
            let Some(visits) = me.visits.upgrade() else {
                return;
            };
            let parts = split(answer(&me.hub, &visits, &ask).await);
            let count = parts.len();
            for (i, body) in parts.into_iter().enumerate() {
                let wire = Wire::Answer {
                    id,
                    node: me.cluster.node.clone(),
                    part: i as u32,
                    last: i + 1 == count,
                    body,
                };
                if !me.publish(&from, &wire).await {
                    return;
                }
            }
        });
    }
}

/// This node's whole answer to `ask`.
pub async fn answer(hub: &Hub, visits: &Visits, ask: &Ask) -> AnswerBody {
    match ask {
        Ask::Visits => AnswerBody::Visits {
            visits: visits.live(),
        },
        Ask::Audit { query } => {
            let path = hub.config.audit.path.clone();
            let query = query.clone();
            let read =
                tokio::task::spawn_blocking(move || export::read(&path, &query, MAX_RECORDS));
            match read.await {
                Ok(Ok(found)) => AnswerBody::Audit { found },
                Ok(Err(e)) => AnswerBody::Failed {
                    reason: format!("cannot read its audit file: {e}"),
                },
                Err(_) => AnswerBody::Failed {
                    reason: "its export failed".into(),
                },
            }
        }
    }
}

/// An answer cut into parts of at most about [`PART_BYTES`] of records;
/// the last part carries whether the records were cut.
fn split(body: AnswerBody) -> Vec<AnswerBody> {
    let AnswerBody::Audit { found } = body else {
        return vec![body];
    };
    let mut parts = Vec::new();
    let mut lines = Vec::new();
    let mut bytes = 0;
    for line in found.lines {
        bytes += line.text.len();
        lines.push(line);
        if bytes >= PART_BYTES {
            parts.push(Found {
                lines: std::mem::take(&mut lines),
                truncated: false,
            });
            bytes = 0;
        }
    }
    parts.push(Found {
        lines,
        truncated: found.truncated,
    });
    parts
        .into_iter()
        .map(|found| AnswerBody::Audit { found })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::export::Line;

    #[test]
    fn a_large_export_crosses_in_parts_and_only_the_last_says_it_was_cut() {
        let text = "x".repeat(1000);
        let lines: Vec<Line> = (0..600)
            .map(|i| Line {
                ts: format!("{i:06}"),
                text: text.clone(),
            })
            .collect();
        let parts = split(AnswerBody::Audit {
            found: Found {
                lines,
                truncated: true,
            },
        });
        assert_eq!(parts.len(), 3, "600 kB in parts of 256 KiB");
        let mut all = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let AnswerBody::Audit { found } = p else {
                panic!("an audit part")
            };
            assert_eq!(found.truncated, i == 2);
            all.extend(found.lines.iter().map(|l| l.ts.clone()));
        }
        assert_eq!(all.len(), 600);
        assert!(all.windows(2).all(|w| w[0] < w[1]), "in order");
    }
}

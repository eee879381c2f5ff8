//! End-to-end messages in the embedded store: an append-only table with an
//! index in memory.
//!
//! `e2e_messages` is keyed by an ever-growing row id, so a batch of appends
//! fills the last page or two of one B-tree instead of touching a page per
//! visit, and rows are never updated. Which recipients are still owed a
//! message is kept in memory (rebuilt at start from the rows and each
//! recipient's cursor); a message nobody is owed any more becomes garbage,
//! deleted oldest first once [`GC_ROWS`] have piled up (so rows leave a page
//! together) or a second has passed. Each batch deletes a bounded share, at
//! least twice what it appended, so collection keeps up without ever
//! stalling the commands queued behind it. Ending a visit or the retention
//! sweep deletes its rows at once, by row id.
//!
//! `cursors` holds, per visit and recipient, the seq up to which it is owed
//! nothing: its acks, or everything sent before it left. It is what makes the
//! in-memory "still owed" lists durable.
//!
//! Every change happens inside the caller's transaction; if that fails, the
//! caller drops this index and loads it again ([`MessageLog::load`]).

use super::{StoreError, StoredMessage};
use bedside_protocol::{E2eKind, ParticipantId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Garbage is deleted once this much has piled up...
const GC_ROWS: usize = 1024;
/// ...or this long after the last collection.
const GC_EVERY: Duration = Duration::from_secs(1);
/// Rows one batch deletes at least (when collection is due).
const GC_BATCH: usize = 256;

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A stored message someone is still owed.
#[derive(Debug)]
struct Owed {
    rowid: i64,
    ts: i64,
    /// Recipients still owed it (never empty).
    to: Vec<String>,
}

/// One visit's rows still owed to someone, by seq.
type VisitMessages = BTreeMap<i64, Owed>;

/// The in-memory index over `e2e_messages`.
#[derive(Debug)]
pub(super) struct MessageLog {
    visits: HashMap<Arc<str>, VisitMessages>,
    /// Rows nobody is owed, not yet deleted: row id → visit.
    garbage: BTreeMap<i64, Arc<str>>,
    collected: Instant,
}

impl MessageLog {
    /// Rebuilds the index from the table and the cursors.
    pub fn load(conn: &Connection) -> Result<Self, StoreError> {
        let mut cursors: HashMap<(String, String), i64> = HashMap::new();
        let mut stmt = conn
            .prepare("SELECT visit, participant, upto FROM cursors")
            .map_err(backend)?;
        let mut rows = stmt.query([]).map_err(backend)?;
        while let Some(r) = rows.next().map_err(backend)? {
            cursors.insert(
                (r.get(0).map_err(backend)?, r.get(1).map_err(backend)?),
                r.get(2).map_err(backend)?,
            );
        }
        let mut log = Self {
            visits: HashMap::new(),
            garbage: BTreeMap::new(),
            collected: Instant::now(),
        };
        let mut stmt = conn
            .prepare("SELECT id, visit, seq, ts, recipients FROM e2e_messages ORDER BY id")
            .map_err(backend)?;
        let mut rows = stmt.query([]).map_err(backend)?;
        while let Some(r) = rows.next().map_err(backend)? {
            let rowid: i64 = r.get(0).map_err(backend)?;
            let visit: String = r.get(1).map_err(backend)?;
            let seq: i64 = r.get(2).map_err(backend)?;
            let to: String = r.get(4).map_err(backend)?;
            let to: Vec<String> = serde_json::from_str(&to)
                .map_err(|_| StoreError::Backend(format!("corrupt recipients in row {rowid}")))?;
            let to: Vec<String> = to
                .into_iter()
                .filter(|p| {
                    cursors
                        .get(&(visit.clone(), p.clone()))
                        .is_none_or(|&c| seq > c)
                })
                .collect();
            let visit: Arc<str> = visit.into();
            if to.is_empty() {
                log.garbage.insert(rowid, visit);
            } else {
                let ts = r.get(3).map_err(backend)?;
                let v = log.visits.entry(visit).or_default();
                v.insert(seq, Owed { rowid, ts, to });
            }
        }
        Ok(log)
    }

    /// Stores `m` under `seq`, owed to each of its recipients.
    pub fn append(
        &mut self,
        tx: &Transaction<'_>,
        visit: &str,
        seq: i64,
        m: &StoredMessage,
    ) -> Result<(), StoreError> {
        let to: Vec<String> = m.to.iter().map(|p| p.as_str().to_owned()).collect();
        let to_json = serde_json::to_string(&to).map_err(|e| StoreError::Backend(e.to_string()))?;
        tx.prepare_cached(
            "INSERT INTO e2e_messages (visit, seq, ts, sender, kind, recipients, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .and_then(|mut s| {
            s.execute(params![
                visit,
                seq,
                m.ts,
                m.from.as_str(),
                kind_str(m.kind),
                to_json,
                m.body
            ])
        })
        .map_err(backend)?;
        let rowid = tx.last_insert_rowid();
        let key = self.key(visit);
        if to.is_empty() {
            self.garbage.insert(rowid, key);
        } else {
            self.visits.entry(key).or_default().insert(
                seq,
                Owed {
                    rowid,
                    ts: m.ts,
                    to,
                },
            );
        }
        Ok(())
    }

    /// `recipient` is owed nothing up to `upto` any more.
    pub fn release(
        &mut self,
        tx: &Transaction<'_>,
        visit: &str,
        recipient: &str,
        upto: i64,
    ) -> Result<(), StoreError> {
        let prev = cursor(tx, visit, recipient)?;
        if upto <= prev {
            return Ok(());
        }
        tx.prepare_cached(
            "INSERT INTO cursors (visit, participant, upto) VALUES (?1, ?2, ?3)
             ON CONFLICT (visit, participant) DO UPDATE SET upto = excluded.upto",
        )
        .and_then(|mut s| s.execute(params![visit, recipient, upto]))
        .map_err(backend)?;
        let key = self.key(visit);
        let Some(v) = self.visits.get_mut(visit) else {
            return Ok(());
        };
        let mut done = Vec::new();
        for (&seq, owed) in v.range_mut(prev + 1..=upto) {
            owed.to.retain(|p| p != recipient);
            if owed.to.is_empty() {
                done.push(seq);
            }
        }
        for seq in done {
            if let Some(o) = v.remove(&seq) {
                self.garbage.insert(o.rowid, key.clone());
            }
        }
        Ok(())
    }

    /// Messages still owed to `recipient` with seq above `after`, in order.
    pub fn backlog(
        &self,
        tx: &Transaction<'_>,
        visit: &str,
        recipient: &str,
        after: i64,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let Some(v) = self.visits.get(visit) else {
            return Ok(Vec::new());
        };
        let mut stmt = tx
            .prepare_cached(
                "SELECT ts, sender, kind, recipients, body FROM e2e_messages WHERE id = ?1",
            )
            .map_err(backend)?;
        let mut out = Vec::new();
        for (&seq, owed) in v.range(after.saturating_add(1)..) {
            if !owed.to.iter().any(|p| p == recipient) {
                continue;
            }
            let corrupt =
                |what: &str| StoreError::Backend(format!("corrupt message {seq}: {what}"));
            let (ts, from, kind, to, body) = stmt
                .query_row(params![owed.rowid], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })
                .map_err(backend)?;
            out.push(StoredMessage {
                seq: u64::try_from(seq).map_err(|_| corrupt("seq"))?,
                ts,
                from: ParticipantId::new(from).map_err(|_| corrupt("sender"))?,
                to: serde_json::from_str(&to).map_err(|_| corrupt("recipients"))?,
                kind: parse_kind(&kind),
                body,
            });
        }
        Ok(out)
    }

    /// Deletes every row of `visit` and its cursors (the visit ended).
    pub fn end_visit(&mut self, tx: &Transaction<'_>, visit: &str) -> Result<(), StoreError> {
        let mut rows: Vec<i64> = self
            .visits
            .remove(visit)
            .map(|v| v.values().map(|o| o.rowid).collect())
            .unwrap_or_default();
        self.garbage.retain(|&rowid, v| {
            let theirs = &**v == visit;
            if theirs {
                rows.push(rowid);
            }
            !theirs
        });
        rows.sort_unstable();
        delete_rows(tx, rows)?;
        tx.prepare_cached("DELETE FROM cursors WHERE visit = ?1")
            .and_then(|mut s| s.execute(params![visit]))
            .map_err(backend)?;
        Ok(())
    }

    /// Deletes messages accepted before `cutoff_ms` (retention), and cursors
    /// of visits left without messages. Returns how many messages went.
    pub fn sweep(&mut self, tx: &Transaction<'_>, cutoff_ms: i64) -> Result<u64, StoreError> {
        let mut expired = Vec::new();
        for v in self.visits.values_mut() {
            let old: Vec<i64> = v
                .iter()
                .filter(|(_, o)| o.ts < cutoff_ms)
                .map(|(&seq, _)| seq)
                .collect();
            for seq in old {
                if let Some(o) = v.remove(&seq) {
                    expired.push(o.rowid);
                }
            }
        }
        let n = expired.len() as u64;
        expired.sort_unstable();
        delete_rows(tx, expired)?;
        let all = std::mem::take(&mut self.garbage).into_keys();
        delete_rows(tx, all)?;
        self.visits.retain(|_, v| !v.is_empty());
        // A cursor only matters while its visit has messages.
        let mut stmt = tx
            .prepare("SELECT DISTINCT visit FROM cursors")
            .map_err(backend)?;
        let visits: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(backend)?
            .collect::<Result<_, _>>()
            .map_err(backend)?;
        for visit in visits {
            if !self.visits.contains_key(visit.as_str()) {
                tx.prepare_cached("DELETE FROM cursors WHERE visit = ?1")
                    .and_then(|mut s| s.execute(params![visit]))
                    .map_err(backend)?;
            }
        }
        Ok(n)
    }

    /// The shared key for `visit` (one allocation per visit, not per row).
    fn key(&self, visit: &str) -> Arc<str> {
        match self.visits.get_key_value(visit) {
            Some((k, _)) => k.clone(),
            None => visit.into(),
        }
    }

    /// Deletes up to `budget` of the oldest garbage rows if collection is
    /// due: [`GC_ROWS`] have piled up, or [`GC_EVERY`] has passed (then all,
    /// since little has piled up). `budget` is at least [`GC_BATCH`].
    pub fn collect(
        &mut self,
        tx: &Transaction<'_>,
        now: Instant,
        budget: usize,
    ) -> Result<(), StoreError> {
        if self.garbage.is_empty() {
            self.collected = now;
            return Ok(());
        }
        let budget = if now.duration_since(self.collected) >= GC_EVERY {
            usize::MAX
        } else if self.garbage.len() >= GC_ROWS {
            budget.max(GC_BATCH)
        } else {
            return Ok(());
        };
        let mut rows = Vec::new();
        while rows.len() < budget {
            match self.garbage.pop_first() {
                Some((rowid, _)) => rows.push(rowid),
                None => break,
            }
        }
        delete_rows(tx, rows)?;
        if self.garbage.is_empty() {
            self.collected = now;
        }
        Ok(())
    }
}

fn delete_rows(
    tx: &Transaction<'_>,
    rows: impl IntoIterator<Item = i64>,
) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached("DELETE FROM e2e_messages WHERE id = ?1")
        .map_err(backend)?;
    for id in rows {
        stmt.execute(params![id]).map_err(backend)?;
    }
    Ok(())
}

/// The highest seq `participant` is owed nothing up to (0 if none).
fn cursor(tx: &Transaction<'_>, visit: &str, participant: &str) -> Result<i64, StoreError> {
    tx.prepare_cached("SELECT upto FROM cursors WHERE visit = ?1 AND participant = ?2")
        .and_then(|mut s| {
            s.query_row(params![visit, participant], |r| r.get(0))
                .optional()
        })
        .map(|n| n.unwrap_or(0))
        .map_err(backend)
}

pub(crate) fn kind_str(k: E2eKind) -> &'static str {
    match k {
        E2eKind::Chat => "chat",
        E2eKind::Key => "key",
        E2eKind::Receipt => "receipt",
    }
}

pub(crate) fn parse_kind(s: &str) -> E2eKind {
    match s {
        "key" => E2eKind::Key,
        "receipt" => E2eKind::Receipt,
        _ => E2eKind::Chat,
    }
}

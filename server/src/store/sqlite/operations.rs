//! The SQL of each command, run inside the batch's transaction: [`apply`]
//! takes a [`Command`] to the statements that carry it out and says what it
//! produced. Messages go through the [`MessageLog`]; the rest is here.

use super::backend;
use crate::store::e2e_log::MessageLog;
use crate::store::outcome::Outcome;
use crate::store::{Command, ResumeRecord, StoreError, VisitSnapshot, VisitWrite};
use bedside_protocol::time::UnixSecs;
use rusqlite::{OptionalExtension, params};
use std::collections::HashMap;

/// Runs one command inside the batch's transaction.
pub(super) fn apply<'c>(
    tx: &rusqlite::Transaction<'_>,
    cmd: &'c Command,
    log: &mut MessageLog,
    next_seq: &mut HashMap<String, i64>,
    appended: &mut HashMap<&'c str, i64>,
) -> Result<Outcome, StoreError> {
    Ok(match cmd {
        Command::ClaimJti { key, expires, .. } => Outcome::Bool(claim_jti(tx, key, *expires)?),
        Command::Admit {
            jti,
            expires,
            resume,
            record,
            ..
        } => {
            let fresh = claim_jti(tx, jti, *expires)?;
            if fresh {
                put_resume(tx, resume, record)?;
            }
            Outcome::Bool(fresh)
        }
        Command::PutResume { key, record, .. } => {
            put_resume(tx, key, record)?;
            Outcome::Unit
        }
        Command::TakeResume { key, now, .. } => Outcome::Resume(take_resume(tx, key, *now)?),
        Command::SwapResume {
            take, now, put, ip, ..
        } => {
            let old = take_resume(tx, take, *now)?;
            if let Some(old) = &old {
                let next = ResumeRecord {
                    ip: ip.clone(),
                    ..old.clone()
                };
                put_resume(tx, put, &next)?;
            }
            Outcome::Resume(old)
        }
        Command::LoadVisit { visit, .. } => Outcome::Visit(load_visit(tx, visit.as_str())?),
        Command::WriteVisit { visit, writes, .. } => {
            let last = next_seq_of(tx, next_seq, visit.as_str())? - 1;
            write_visit(tx, log, visit.as_str(), writes, last)?;
            if writes.iter().any(|w| matches!(w, VisitWrite::EndVisit)) {
                next_seq.remove(visit.as_str());
                appended.remove(visit.as_str());
            }
            Outcome::Unit
        }
        Command::Sweep {
            now, retention_s, ..
        } => Outcome::Count(sweep(tx, log, *now, *retention_s)?),
        Command::AppendMessage { visit, message, .. } => {
            let seq = next_seq_of(tx, next_seq, visit.as_str())?;
            log.append(tx, visit.as_str(), seq, message)?;
            next_seq.insert(visit.as_str().to_owned(), seq + 1);
            appended.insert(visit.as_str(), seq + 1);
            Outcome::Count(
                u64::try_from(seq).map_err(|_| StoreError::Backend("negative seq".into()))?,
            )
        }
        Command::Backlog {
            visit,
            recipient,
            after,
            ..
        } => {
            // What a recipient acked is already off its "still owed" lists.
            let after = i64::try_from(*after).unwrap_or(i64::MAX);
            Outcome::Messages(log.backlog(tx, visit.as_str(), recipient.as_str(), after)?)
        }
        Command::LoadRevocations { .. } => Outcome::Revocations(
            tx.prepare_cached("SELECT user, at, until FROM revocations")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(backend)?,
        ),
        Command::Revoke {
            user, at, until, ..
        } => {
            let merged: (i64, i64) = tx
                .prepare_cached(
                    "INSERT INTO revocations (user, at, until) VALUES (?1, ?2, ?3)
                     ON CONFLICT (user) DO UPDATE SET at = max(at, excluded.at),
                                                      until = max(until, excluded.until)
                     RETURNING at, until",
                )
                .and_then(|mut s| {
                    s.query_row(params![user, at, until], |r| Ok((r.get(0)?, r.get(1)?)))
                })
                .map_err(backend)?;
            Outcome::Revocations(vec![(user.clone(), merged.0, merged.1)])
        }
        // Handled by the store thread between batches, never in one.
        Command::Rekey { .. } => Outcome::Unit,
    })
}

/// The visit's next seq: cached, else as stored (1 for a new visit).
fn next_seq_of(
    tx: &rusqlite::Transaction<'_>,
    cache: &HashMap<String, i64>,
    visit: &str,
) -> Result<i64, StoreError> {
    if let Some(&n) = cache.get(visit) {
        return Ok(n);
    }
    tx.prepare_cached("SELECT next FROM visit_seq WHERE visit = ?1")
        .and_then(|mut s| s.query_row(params![visit], |r| r.get(0)).optional())
        .map(|n| n.unwrap_or(1))
        .map_err(backend)
}

fn claim_jti(
    tx: &rusqlite::Transaction<'_>,
    key: &[u8; 32],
    expires: i64,
) -> Result<bool, StoreError> {
    let n = tx
        .prepare_cached("INSERT OR IGNORE INTO jti (expires, key) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![expires, &key[..]]))
        .map_err(backend)?;
    Ok(n == 1)
}

fn put_resume(
    tx: &rusqlite::Transaction<'_>,
    key: &[u8; 32],
    r: &ResumeRecord,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(r).map_err(|e| StoreError::Backend(e.to_string()))?;
    tx.prepare_cached("DELETE FROM resume WHERE visit = ?1 AND participant = ?2")
        .and_then(|mut s| s.execute(params![r.visit.as_str(), r.participant.as_str()]))
        .map_err(backend)?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO resume (key, visit, participant, expires, record) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![&key[..], r.visit.as_str(), r.participant.as_str(), r.exp.0, json])
    })
    .map_err(backend)?;
    Ok(())
}

fn take_resume(
    tx: &rusqlite::Transaction<'_>,
    key: &[u8; 32],
    now: i64,
) -> Result<Option<ResumeRecord>, StoreError> {
    let row: Option<(i64, String)> = tx
        .prepare_cached("DELETE FROM resume WHERE key = ?1 RETURNING expires, record")
        .and_then(|mut s| {
            s.query_row(params![&key[..]], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(backend)?;
    match row {
        Some((expires, _)) if expires <= now => Ok(None),
        Some((_, json)) => serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| StoreError::Backend(format!("corrupt resume record: {e}"))),
        None => Ok(None),
    }
}

fn load_visit(tx: &rusqlite::Transaction<'_>, visit: &str) -> Result<VisitSnapshot, StoreError> {
    let ended = tx
        .prepare_cached("SELECT 1 FROM ended_visits WHERE visit = ?1")
        .and_then(|mut s| s.exists(params![visit]))
        .map_err(backend)?;
    let mut stmt = tx
        .prepare_cached("SELECT record FROM participants WHERE visit = ?1")
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![visit], |r| r.get::<_, String>(0))
        .map_err(backend)?;
    let mut participants = Vec::new();
    for row in rows {
        let json = row.map_err(backend)?;
        let rec = serde_json::from_str(&json)
            .map_err(|e| StoreError::Backend(format!("corrupt participant record: {e}")))?;
        participants.push(rec);
    }
    Ok(VisitSnapshot {
        ended,
        participants,
    })
}

/// Applies a visit's writes; `last` is the highest seq it has assigned.
fn write_visit(
    tx: &rusqlite::Transaction<'_>,
    log: &mut MessageLog,
    visit: &str,
    writes: &[VisitWrite],
    last: i64,
) -> Result<(), StoreError> {
    for w in writes {
        match w {
            VisitWrite::SaveParticipant(rec) => {
                let json =
                    serde_json::to_string(rec).map_err(|e| StoreError::Backend(e.to_string()))?;
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO participants (visit, participant, record) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut s| s.execute(params![visit, rec.id.as_str(), json]))
                .map_err(backend)?;
            }
            VisitWrite::ForgetParticipant(id) => {
                // Everything sent so far is no longer owed to them, nor to
                // anyone who joins later under the same id.
                log.release(tx, visit, id.as_str(), last)?;
                for sql in [
                    "DELETE FROM participants WHERE visit = ?1 AND participant = ?2",
                    "DELETE FROM resume WHERE visit = ?1 AND participant = ?2",
                ] {
                    tx.prepare_cached(sql)
                        .and_then(|mut s| s.execute(params![visit, id.as_str()]))
                        .map_err(backend)?;
                }
            }
            VisitWrite::EndVisit => {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO ended_visits (visit, ended_at) VALUES (?1, strftime('%s','now'))",
                )
                .and_then(|mut s| s.execute(params![visit]))
                .map_err(backend)?;
                log.end_visit(tx, visit)?;
                for sql in [
                    "DELETE FROM participants WHERE visit = ?1",
                    "DELETE FROM resume WHERE visit = ?1",
                    "DELETE FROM visit_seq WHERE visit = ?1",
                ] {
                    tx.prepare_cached(sql)
                        .and_then(|mut s| s.execute(params![visit]))
                        .map_err(backend)?;
                }
            }
            VisitWrite::Acked { participant, upto } => {
                // Nobody can have processed a seq not yet assigned.
                let upto = i64::try_from(*upto).unwrap_or(i64::MAX).min(last);
                log.release(tx, visit, participant.as_str(), upto)?;
            }
        }
    }
    Ok(())
}

fn sweep(
    tx: &rusqlite::Transaction<'_>,
    log: &mut MessageLog,
    now: i64,
    retention_s: u64,
) -> Result<u64, StoreError> {
    let a = tx
        .execute("DELETE FROM jti WHERE expires < ?1", params![now])
        .map_err(backend)?;
    let b = tx
        .execute("DELETE FROM resume WHERE expires < ?1", params![now])
        .map_err(backend)?;
    let retention = i64::try_from(retention_s).unwrap_or(i64::MAX);
    let cutoff_ms = UnixSecs(now)
        .plus_secs(retention.saturating_neg())
        .to_ms()
        .0;
    let c = log.sweep(tx, cutoff_ms)?;
    Ok(a as u64 + b as u64 + c)
}

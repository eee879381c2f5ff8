//! The store on Redis, shared by the nodes of a cluster. It serves the same
//! [`Command`]s as the embedded store, each as one Lua script that touches
//! one visit's keys ([`keys`]), so the replay cache, resume tokens,
//! participant records and e2e messages of a visit are the same whichever
//! node asks.
//!
//! Durability: the hub acknowledges an e2e message once this store has
//! answered its append, so Redis must have it on disk by then. [`settings`]
//! refuses a Redis without `appendonly yes`, `appendfsync always` (Redis 7.0
//! then fsyncs each event-loop batch before it sends the replies) and
//! `maxmemory-policy noeviction`.
//!
//! Batching, as the embedded store commits: one task takes every command
//! waiting in its queue and sends them as one pipeline on a dedicated
//! connection, so Redis runs (and fsyncs) them together; their replies come
//! back in order, so one visit's appends are answered in seq order.
//!
//! Fencing: a visit's writes carry its owner's [`Fence`]; each script
//! compares it with the visit's lease first and writes nothing when another
//! node holds the visit ([`StoreError::Fenced`]).

pub mod keys;
pub mod scripts;
pub mod settings;

use super::outcome::{Outcome, answer};
use super::{Command, ResumeRecord, Store, StoreError, StoredMessage, VisitSnapshot, VisitWrite};
use crate::store::e2e_log::{kind_str, parse_kind};
use bedside_protocol::ParticipantId;
use keys::{VisitTag, hex};
use redis::aio::ConnectionManager;
use redis::{Pipeline, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Most commands sent in one pipeline.
const MAX_BATCH: usize = 512;
/// How long a command may wait for Redis before it counts as failed.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError::Backend(format!("redis: {e}"))
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A client for `url` speaking RESP3 (pushes arrive on the same connection).
pub fn client(url: &str) -> Result<redis::Client, StoreError> {
    use redis::IntoConnectionInfo;
    let info = url.into_connection_info().map_err(backend)?;
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    redis::Client::open(info.set_redis_settings(settings)).map_err(backend)
}

/// A reconnecting connection: after Redis went away, the next command
/// connects again (commands fail, after at most [`RESPONSE_TIMEOUT`], while
/// it cannot).
pub async fn connect(
    client: &redis::Client,
    config: redis::aio::ConnectionManagerConfig,
) -> Result<ConnectionManager, StoreError> {
    let config = config
        .set_connection_timeout(Some(RESPONSE_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    client
        .get_connection_manager_with_config(config)
        .await
        .map_err(backend)
}

/// How often an idle backend pings Redis: keeps its connection
/// reconnecting after an outage, so the first command after Redis is back
/// does not fail, and keeps [`open`]'s `healthy` flag current.
const IDLE_PING: Duration = Duration::from_millis(200);

/// Starts the backend task on `conn`; messages expire `retention_s` after
/// the last one of their visit at the latest (and the sweep deletes each
/// one `retention_s` after it was stored). `healthy` says whether the last
/// batch or ping was answered.
pub fn open(conn: ConnectionManager, retention_s: u64, healthy: Arc<AtomicBool>) -> Store {
    let (tx, rx) = mpsc::channel(4096);
    tokio::spawn(run(conn, rx, retention_s, healthy));
    Store::new(tx)
}

async fn run(
    mut conn: ConnectionManager,
    mut rx: mpsc::Receiver<Command>,
    retention_s: u64,
    healthy: Arc<AtomicBool>,
) {
    let retention_ms = retention_s.saturating_mul(1000);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let first = match tokio::time::timeout(IDLE_PING, rx.recv()).await {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(_) => {
                let r: Result<Value, _> = redis::cmd("PING").query_async(&mut conn).await;
                healthy.store(r.is_ok(), Ordering::Relaxed);
                continue;
            }
        };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        let mut sent = Vec::with_capacity(batch.len());
        for cmd in batch.drain(..) {
            match add(&mut pipe, &cmd, retention_ms) {
                Added::Sent => sent.push(cmd),
                Added::Answered(outcome) => answer(cmd, *outcome),
                Added::Sweep => {
                    tokio::spawn(sweep(conn.clone(), cmd));
                }
            }
        }
        if sent.is_empty() {
            continue;
        }
        match pipe
            .query_async::<Vec<redis::RedisResult<Value>>>(&mut conn)
            .await
        {
            Ok(replies) if replies.len() == sent.len() => {
                healthy.store(true, Ordering::Relaxed);
                for (cmd, reply) in sent.into_iter().zip(replies) {
                    let outcome = reply.map_err(backend).and_then(|v| decode(&cmd, v));
                    answer(cmd, outcome);
                }
            }
            Ok(_) => {
                for cmd in sent {
                    answer(cmd, Err(backend("redis: wrong number of replies")));
                }
            }
            Err(e) => {
                healthy.store(false, Ordering::Relaxed);
                // Some of these may have been carried out: the callers
                // treat the failure as "maybe", as with a failed commit.
                let e = StoreError::Backend(format!("redis: {e}"));
                for cmd in sent {
                    answer(cmd, Err(e.clone()));
                }
            }
        }
    }
}

enum Added {
    Sent,
    Answered(Box<Result<Outcome, StoreError>>),
    Sweep,
}

/// Starts `EVAL script` with `keys`; the caller adds the `ARGV`.
fn eval<'p>(pipe: &'p mut Pipeline, script: &str, keys: &[String]) -> &'p mut Pipeline {
    pipe.cmd("EVAL").arg(script).arg(keys.len()).arg(keys)
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(backend)
}

/// Adds `cmd` to the pipeline (or answers it at once).
fn add(pipe: &mut Pipeline, cmd: &Command, retention_ms: u64) -> Added {
    match add_inner(pipe, cmd, retention_ms) {
        Ok(a) => a,
        Err(e) => Added::Answered(Box::new(Err(e))),
    }
}

fn add_inner(pipe: &mut Pipeline, cmd: &Command, retention_ms: u64) -> Result<Added, StoreError> {
    match cmd {
        Command::ClaimJti {
            visit,
            key,
            expires,
            ..
        } => {
            let tag = VisitTag::of(visit);
            eval(pipe, scripts::CLAIM_JTI, &[tag.jti(key)]).arg(expires.saturating_mul(1000));
        }
        Command::Admit {
            jti,
            expires,
            resume,
            record,
            ..
        } => {
            let tag = VisitTag::of(&record.visit);
            let keys = [tag.jti(jti), tag.resume(), tag.resume_by_participant()];
            eval(pipe, &scripts::admit(), &keys)
                .arg(expires.saturating_mul(1000))
                .arg(hex(resume))
                .arg(json(record)?)
                .arg(record.participant.as_str())
                .arg(record.exp.0)
                .arg(record.ip.as_deref().unwrap_or(""));
        }
        Command::PutResume { key, record, .. } => {
            let tag = VisitTag::of(&record.visit);
            let keys = [tag.resume(), tag.resume_by_participant()];
            eval(pipe, &scripts::put_resume(), &keys)
                .arg(hex(key))
                .arg(json(record)?)
                .arg(record.participant.as_str())
                .arg(record.exp.0)
                .arg(record.ip.as_deref().unwrap_or(""));
        }
        Command::TakeResume { tag, key, now, .. } => {
            let Some(tag) = tag else {
                return Ok(Added::Answered(Box::new(Ok(Outcome::Resume(None)))));
            };
            let keys = [tag.resume(), tag.resume_by_participant()];
            eval(pipe, &scripts::take_resume(), &keys)
                .arg(hex(key))
                .arg(*now)
                .arg("")
                .arg("");
        }
        Command::SwapResume {
            tag,
            take,
            now,
            put,
            ip,
            ..
        } => {
            let Some(tag) = tag else {
                return Ok(Added::Answered(Box::new(Ok(Outcome::Resume(None)))));
            };
            let keys = [tag.resume(), tag.resume_by_participant()];
            eval(pipe, &scripts::take_resume(), &keys)
                .arg(hex(take))
                .arg(*now)
                .arg(hex(put))
                .arg(ip.as_deref().unwrap_or(""));
        }
        Command::LoadVisit { visit, .. } => {
            let tag = VisitTag::of(visit);
            eval(
                pipe,
                scripts::LOAD_VISIT,
                &[tag.ended(), tag.participants()],
            );
        }
        Command::WriteVisit {
            visit,
            fence,
            writes,
            ..
        } => {
            let fence = fence.as_ref().ok_or(StoreError::Fenced)?;
            let tag = VisitTag::of(visit);
            let keys = [
                tag.lease(),
                tag.participants(),
                tag.ended(),
                tag.seq(),
                tag.log(),
                tag.cursors(),
                tag.resume(),
                tag.resume_by_participant(),
            ];
            let c = eval(pipe, scripts::VISIT_WRITES, &keys).arg(&fence.0);
            for w in writes {
                match w {
                    VisitWrite::SaveParticipant(rec) => {
                        c.arg("save").arg(rec.id.as_str()).arg(json(rec)?);
                    }
                    VisitWrite::ForgetParticipant(id) => {
                        c.arg("forget").arg(id.as_str());
                    }
                    VisitWrite::EndVisit => {
                        c.arg("end");
                    }
                    VisitWrite::Acked { participant, upto } => {
                        c.arg("acked").arg(participant.as_str()).arg(*upto);
                    }
                }
            }
        }
        Command::AppendMessage {
            visit,
            fence,
            message,
            ..
        } => {
            let fence = fence.as_ref().ok_or(StoreError::Fenced)?;
            let tag = VisitTag::of(visit);
            let to: Vec<&str> = message.to.iter().map(|p| p.as_str()).collect();
            eval(pipe, scripts::APPEND, &[tag.lease(), tag.seq(), tag.log()])
                .arg(&fence.0)
                .arg(message.ts)
                .arg(message.from.as_str())
                .arg(json(&to)?)
                .arg(kind_str(message.kind))
                .arg(&message.body)
                .arg(retention_ms.max(1));
        }
        Command::Backlog {
            visit,
            recipient,
            after,
            ..
        } => {
            let tag = VisitTag::of(visit);
            eval(pipe, scripts::BACKLOG, &[tag.log(), tag.cursors()])
                .arg(recipient.as_str())
                .arg(*after);
        }
        Command::Sweep { .. } => return Ok(Added::Sweep),
        // Revocations live in their own hash (crate::revocations), and a
        // cluster's data is not encrypted by the hub.
        Command::LoadRevocations { .. } | Command::Revoke { .. } | Command::Rekey { .. } => {
            return Err(StoreError::Backend(
                "not a command of the Redis store".into(),
            ));
        }
    }
    Ok(Added::Sent)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Okay => Some("OK".into()),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        other => text(other)?.parse().ok(),
    }
}

fn items(v: Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) | Value::Set(a) => Some(a),
        Value::Nil => Some(Vec::new()),
        _ => None,
    }
}

fn unexpected(what: &str) -> StoreError {
    StoreError::Backend(format!("redis: unexpected reply to {what}"))
}

/// Reads a script's reply as the command's outcome.
fn decode(cmd: &Command, v: Value) -> Result<Outcome, StoreError> {
    Ok(match cmd {
        Command::ClaimJti { .. } | Command::Admit { .. } => {
            Outcome::Bool(int(&v).ok_or_else(|| unexpected("admit"))? == 1)
        }
        Command::PutResume { .. } => Outcome::Unit,
        Command::TakeResume { .. } | Command::SwapResume { .. } => {
            Outcome::Resume(resume_record(v)?)
        }
        Command::LoadVisit { .. } => {
            let mut a = items(v).ok_or_else(|| unexpected("load"))?.into_iter();
            let ended = a.next().as_ref().and_then(int) == Some(1);
            let mut participants = Vec::new();
            for r in a.next().and_then(items).unwrap_or_default() {
                let s = text(&r).ok_or_else(|| unexpected("load"))?;
                participants.push(serde_json::from_str(&s).map_err(|e| {
                    StoreError::Backend(format!("corrupt participant record: {e}"))
                })?);
            }
            Outcome::Visit(VisitSnapshot {
                ended,
                participants,
            })
        }
        Command::WriteVisit { .. } => match text(&v).as_deref() {
            Some("ok") => Outcome::Unit,
            Some("fenced") => return Err(StoreError::Fenced),
            _ => return Err(unexpected("visit writes")),
        },
        Command::AppendMessage { .. } => {
            let a = items(v).ok_or_else(|| unexpected("append"))?;
            match (a.first().and_then(text).as_deref(), a.get(1).and_then(int)) {
                (Some("ok"), Some(seq)) if seq > 0 => Outcome::Count(seq as u64),
                (Some("fenced"), _) => return Err(StoreError::Fenced),
                _ => return Err(unexpected("append")),
            }
        }
        Command::Backlog { .. } => {
            let entries = items(v).ok_or_else(|| unexpected("backlog"))?;
            Outcome::Messages(
                entries
                    .into_iter()
                    .map(stream_entry)
                    .collect::<Result<_, _>>()?,
            )
        }
        Command::Sweep { .. } => return Err(unexpected("sweep")),
        Command::LoadRevocations { .. } | Command::Revoke { .. } | Command::Rekey { .. } => {
            return Err(unexpected("a command it does not take"));
        }
    })
}

fn resume_record(v: Value) -> Result<Option<ResumeRecord>, StoreError> {
    if v == Value::Nil {
        return Ok(None);
    }
    let a = items(v).ok_or_else(|| unexpected("resume"))?;
    let json = a
        .first()
        .and_then(text)
        .ok_or_else(|| unexpected("resume"))?;
    let mut r: ResumeRecord = serde_json::from_str(&json)
        .map_err(|e| StoreError::Backend(format!("corrupt resume record: {e}")))?;
    if let Some(ip) = a.get(1).and_then(text).filter(|ip| !ip.is_empty()) {
        r.ip = Some(ip);
    }
    Ok(Some(r))
}

/// A stream entry `[id, [field, value, …]]` as a stored message.
fn stream_entry(e: Value) -> Result<StoredMessage, StoreError> {
    let bad = || unexpected("backlog entry");
    let mut e = items(e).ok_or_else(bad)?.into_iter();
    let id = e.next().as_ref().and_then(text).ok_or_else(bad)?;
    let seq: u64 = id
        .split_once('-')
        .and_then(|(s, _)| s.parse().ok())
        .ok_or_else(bad)?;
    let fields = e.next().and_then(items).ok_or_else(bad)?;
    let mut m = StoredMessage {
        seq,
        ts: 0,
        from: ParticipantId::new("unknown").map_err(|_| bad())?,
        to: Vec::new(),
        kind: bedside_protocol::E2eKind::Chat,
        body: String::new(),
    };
    for pair in fields.chunks(2) {
        let (Some(k), Some(v)) = (pair.first().and_then(text), pair.get(1).and_then(text)) else {
            return Err(bad());
        };
        match k.as_str() {
            "ts" => m.ts = v.parse().map_err(|_| bad())?,
            "from" => m.from = ParticipantId::new(&v).map_err(|_| bad())?,
            "to" => m.to = serde_json::from_str(&v).map_err(|_| bad())?,
            "kind" => m.kind = parse_kind(&v),
            "body" => m.body = v,
            _ => {}
        }
    }
    Ok(m)
}

/// The retention sweep: jti and resume entries expire by their TTL; here
/// every visit's stream loses the messages stored before the cutoff.
async fn sweep(mut conn: ConnectionManager, cmd: Command) {
    let Command::Sweep {
        now,
        retention_s,
        reply,
    } = cmd
    else {
        return;
    };
    let retention_ms = i64::try_from(retention_s.saturating_mul(1000)).unwrap_or(i64::MAX);
    let cutoff = now.saturating_mul(1000).saturating_sub(retention_ms);
    let result = async {
        let mut cursor: u64 = 0;
        let mut deleted = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(keys::LOG_PATTERN)
                .arg("COUNT")
                .arg(1000)
                .arg("TYPE")
                .arg("stream")
                .query_async(&mut conn)
                .await
                .map_err(backend)?;
            for key in keys {
                let n: u64 = redis::cmd("EVAL")
                    .arg(scripts::TRIM_OLD)
                    .arg(1)
                    .arg(&key)
                    .arg(cutoff)
                    .query_async(&mut conn)
                    .await
                    .map_err(backend)?;
                deleted += n;
            }
            if next == 0 {
                return Ok::<u64, StoreError>(deleted);
            }
            cursor = next;
        }
    }
    .await;
    let _ = reply.send(result);
}

//! The operator API under `/v1/admin/`, beside the socket (HTTPS when the
//! hub serves TLS): for a clinic's operations and security team to act on
//! live visits. Every call needs `Authorization: Bearer <JWT>` from one of
//! the configured issuers, with `aud` = `auth.admin_audience`, role
//! `admin` and an MFA method in `amr`; every call, allowed or refused, is
//! an `ADMIN_REQUEST` audit record naming the operator.
//!
//! | call | does |
//! |---|---|
//! | `GET /v1/admin/visits` | the live visits on this node: participant ids and roles only |
//! | `POST /v1/admin/visits/{visit}/end` | ends the visit for everyone (4012) |
//! | `POST /v1/admin/visits/{visit}/participants/{id}/remove` | takes a participant out (4003) |
//! | `POST /v1/admin/users/{sub}/revoke` `{"until": UNIX_S}` | ends every session of the user in every visit (4001), refuses their resumes, and their new hellos until `until` |
//! | `GET /v1/admin/audit?visit=V` or `?from=UNIX_S&to=UNIX_S` | the audit records of a visit or a time range |

use super::visits::Visits;
use crate::audit::{Action, Actor, Durability, Event, Outcome};
use crate::hub::{Hub, Revocation};
use crate::visit::{Input, OperatorOp};
use bedside_protocol::time::UnixSecs;
use bedside_protocol::{CloseCode, ParticipantId, VisitId};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Where the operator API lives.
pub const PREFIX: &str = "/v1/admin/";
/// Most audit records one call returns.
const MAX_RECORDS: usize = 10_000;

type Body = Full<Bytes>;

fn reply(status: StatusCode, value: &Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Participant ids and audit records: no cache may keep them.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    reply(status, &json!({"error": code, "message": message}))
}

/// One call of the operator API.
pub async fn handle(
    hub: Arc<Hub>,
    visits: Arc<Visits>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let call = format!("{} {}", req.method(), req.uri().path());
    let ip = peer.ip().to_string();
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_owned);
    let now = hub.clock.now_s();
    let claims = match token.as_deref().map(|t| {
        hub.verifier
            .verify_admin(t, now, &hub.config.auth.admin_audience)
    }) {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            refused(&hub, ip, call, e.reason_code()).await;
            let status = match e {
                crate::auth::AuthError::NotAdmin | crate::auth::AuthError::MfaRequired(_) => {
                    StatusCode::FORBIDDEN
                }
                _ => StatusCode::UNAUTHORIZED,
            };
            return error(status, "unauthorized", e.reason_code());
        }
        None => {
            refused(&hub, ip, call, "missing_token").await;
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authorization: Bearer <admin token> required",
            );
        }
    };
    let operator = Arc::new(Actor {
        user_id: Some(claims.sub.clone()),
        role: Some("admin".to_owned()),
        ip_address: Some(ip),
        ..Actor::default()
    });
    // Written (and synced) before the call acts: an operator's action is
    // never unaudited.
    let record =
        Event::by(operator.clone(), Action::AdminRequest, Outcome::Success).detail("call", call);
    if hub
        .audit
        .log(record, Durability::Synced)
        .durable()
        .await
        .is_err()
    {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "internal",
            "audit trail unavailable",
        );
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let rest = path.trim_start_matches(PREFIX);
    let parts: Vec<&str> = rest.split('/').collect();
    match (&method, parts.as_slice()) {
        (&Method::GET, ["visits"]) => list_visits(&visits),
        (&Method::POST, ["visits", visit, "end"]) => {
            to_visit(&visits, visit, OperatorOp::EndVisit, operator).await
        }
        (&Method::POST, ["visits", visit, "participants", id, "remove"]) => {
            let Ok(p) = ParticipantId::new(*id) else {
                return error(StatusCode::BAD_REQUEST, "bad_request", "bad participant id");
            };
            to_visit(&visits, visit, OperatorOp::Remove(p), operator).await
        }
        (&Method::POST, ["users", sub, "revoke"]) => {
            revoke(&hub, &visits, sub, req, now, operator).await
        }
        (&Method::GET, ["audit"]) => audit_records(&hub, &query),
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such operator call"),
    }
}

/// A refused call, on record with its reason (never the token or a claim).
async fn refused(hub: &Hub, ip: String, call: String, reason: &'static str) {
    let actor = Actor {
        ip_address: Some(ip),
        ..Actor::default()
    };
    let denied = Event::by(Arc::new(actor), Action::AdminRequest, Outcome::Denied)
        .detail("call", call)
        .detail("reason", reason);
    let _ = hub.audit.log(denied, Durability::Synced).durable().await;
    hub.metrics.reject("admin_unauthorized");
}

fn list_visits(visits: &Visits) -> Response<Body> {
    let list: Vec<Value> = visits
        .sessions
        .by_visit()
        .into_iter()
        .map(|(v, ps)| {
            json!({
                "visit": v.as_str(),
                "participants": ps.iter().map(|(id, role)| json!({"id": id.as_str(), "role": role.as_str()})).collect::<Vec<_>>(),
            })
        })
        .collect();
    reply(StatusCode::OK, &json!({ "visits": list }))
}

async fn to_visit(visits: &Visits, visit: &str, op: OperatorOp, by: Arc<Actor>) -> Response<Body> {
    let Ok(id) = VisitId::new(visit) else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "bad visit id");
    };
    let Some(handle) = visits.running(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no live visit with that id on this node",
        );
    };
    let input = Input::Operator { op, by };
    match handle
        .send(super::visit_task::VisitCommand::Input(
            input,
            Instant::now(),
        ))
        .await
    {
        Ok(()) => reply(StatusCode::OK, &json!({"ok": true})),
        Err(_) => error(StatusCode::NOT_FOUND, "not_found", "the visit just ended"),
    }
}

async fn revoke(
    hub: &Hub,
    visits: &Visits,
    sub: &str,
    req: Request<Incoming>,
    now: UnixSecs,
    by: Arc<Actor>,
) -> Response<Body> {
    let body = match Limited::new(req.into_body(), 4096).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "body too large"),
    };
    let until = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => match &v["until"] {
                Value::Null => None,
                Value::Number(n) => match n.as_i64() {
                    Some(t) => Some(UnixSecs(t)),
                    None => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "bad_request",
                            "until: unix seconds",
                        );
                    }
                },
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        "until: unix seconds",
                    );
                }
            },
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "expected {\"until\": unix seconds} or no body",
                );
            }
        }
    };
    let Ok(user) = ParticipantId::new(sub) else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "bad user id");
    };
    hub.revoked.insert(
        user.to_string(),
        Revocation {
            at: now,
            until: until.filter(|u| *u > now),
        },
    );
    let mut e = Event::by(by, Action::SessionRevoke, Outcome::Success);
    e.target = Some(user.to_string());
    if let Some(u) = until {
        e = e.detail("until", u.0);
    }
    let _ = hub.audit.log(e, Durability::Synced).durable().await;
    let ended = visits
        .sessions
        .close_where(CloseCode::Unauthorized, |s| s.user == user);
    reply(StatusCode::OK, &json!({ "sessions_ended": ended }))
}

/// `2026-11-24T23:59:01.123Z` (an audit record's `ts`) as unix seconds.
fn unix_seconds(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| ts.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn audit_records(hub: &Hub, query: &str) -> Response<Body> {
    let mut visit = None;
    let (mut from, mut to) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "visit" => visit = Some(v.to_owned()),
            "from" => from = v.parse::<i64>().ok(),
            "to" => to = v.parse::<i64>().ok(),
            _ => {}
        }
    }
    if visit.is_none() && (from.is_none() || to.is_none()) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "give visit=ID, or from= and to= (unix seconds)",
        );
    }
    let text = match std::fs::read_to_string(&hub.config.audit.path) {
        Ok(t) => t,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                &format!("cannot read the audit file: {e}"),
            );
        }
    };
    let window = |ts: &str| -> bool {
        let Some(s) = unix_seconds(ts) else {
            return false;
        };
        from.is_none_or(|f| s >= f) && to.is_none_or(|t| s < t)
    };
    let mut records = Vec::new();
    let mut truncated = false;
    for line in text.lines() {
        let Ok(r) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let in_visit = visit
            .as_deref()
            .is_none_or(|v| r["visit_id"].as_str() == Some(v));
        let in_window = (from.is_none() && to.is_none()) || r["ts"].as_str().is_some_and(window);
        if in_visit && in_window {
            if records.len() == MAX_RECORDS {
                truncated = true;
                break;
            }
            records.push(r);
        }
    }
    reply(
        StatusCode::OK,
        &json!({ "records": records, "truncated": truncated }),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn audit_timestamps_read_as_unix_seconds() {
        assert_eq!(super::unix_seconds("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            super::unix_seconds("2026-11-24T23:59:01.123Z"),
            Some(1_795_564_741)
        );
        assert_eq!(
            super::unix_seconds("2000-03-01T00:00:00Z"),
            Some(951_868_800)
        );
        assert_eq!(super::unix_seconds("yesterday"), None);
    }
}

//! The operator API under `/v1/admin/`, beside the socket (HTTPS when the
//! hub serves TLS): for a clinic's operations and security team to act on
//! live visits. Every call needs `Authorization: Bearer <JWT>` from one of
//! the configured issuers, with `aud` = `auth.admin_audience`, role
//! `admin` and an MFA method in `amr`; every call, allowed or refused, is
//! an `ADMIN_REQUEST` audit record naming the operator.
//!
//! | call | does |
//! |---|---|
//! | `GET /v1/admin/visits` | the live visits (in a cluster: on every node): participant ids and roles only |
//! | `POST /v1/admin/visits/{visit}/end` | ends the visit for everyone (4012) |
//! | `POST /v1/admin/visits/{visit}/participants/{id}/remove` | takes a participant out (4003) |
//! | `POST /v1/admin/users/{sub}/revoke` `{"until": UNIX_S}` | ends every session of the user in every visit (4001), refuses their resumes, and their new hellos until `until` |
//! | `GET /v1/admin/audit?visit=V` or `?from=UNIX_S&to=UNIX_S` | the audit records of a visit or a time range (in a cluster: every node's) |

use super::remote::ask;
use super::remote::wire::{AnswerBody, Ask};
use super::visits::{LiveVisit, Visits};
use crate::audit::export;
use crate::audit::{Action, Actor, Durability, Event, Outcome};
use crate::cluster::lease::Owner;
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
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the operator API lives.
pub const PREFIX: &str = "/v1/admin/";
/// How long a cluster-wide listing waits for the other nodes.
const LIST_WAIT: Duration = Duration::from_secs(3);
/// How long a cluster-wide export waits (each node reads its file).
const EXPORT_WAIT: Duration = Duration::from_secs(10);

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
    // What the record names: the method, the path and the query (which
    // visit or time range an export disclosed), at most 256 bytes.
    let mut call = format!("{} {}", req.method(), req.uri());
    if call.len() > 256 {
        let mut cut = 256;
        while !call.is_char_boundary(cut) {
            cut -= 1;
        }
        call.truncate(cut);
    }
    let ip = peer.ip().to_string();
    if hub.abuse.cooling_down(peer.ip(), Instant::now()) {
        hub.metrics.reject("admin_cooldown");
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many refused calls from this address; wait",
        );
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_owned);
    let now = hub.clock.now_s();
    let auth = &hub.config.auth;
    let verify = |t: &str| {
        hub.verifier
            .verify_admin(t, now, &auth.admin_audience, &auth.admin_issuers)
    };
    let mut verdict = token.as_deref().map(verify);
    if let (Some(Err(crate::auth::AuthError::UnknownKid)), Some(t)) = (&verdict, &token) {
        // A key the provider just published: fetch (rate-limited), retry.
        let kid = crate::auth::Verifier::kid_of(t).unwrap_or_default();
        if hub
            .verifier
            .keys()
            .fetch_for(&kid, std::time::Duration::from_secs(3))
            .await
        {
            verdict = Some(verify(t));
        }
    }
    let claims = match verdict {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            refused(&hub, peer, call, e.reason_code());
            let status = match e {
                crate::auth::AuthError::NotAdmin | crate::auth::AuthError::MfaRequired(_) => {
                    StatusCode::FORBIDDEN
                }
                _ => StatusCode::UNAUTHORIZED,
            };
            return error(status, "unauthorized", e.reason_code());
        }
        None => {
            refused(&hub, peer, call, "missing_token");
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
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let rest = path.trim_start_matches(PREFIX).to_owned();
    let parts: Vec<&str> = rest.split('/').collect();
    let known = matches!(
        (&method, parts.as_slice()),
        (&Method::GET, ["visits"])
            | (&Method::POST, ["visits", _, "end"])
            | (&Method::POST, ["visits", _, "participants", _, "remove"])
            | (&Method::POST, ["users", _, "revoke"])
            | (&Method::GET, ["audit"])
            | (&Method::POST, ["keys", "root"])
            | (&Method::POST, ["keys", "data"])
    );
    if !known {
        let e = Event::by(operator, Action::AdminRequest, Outcome::Failure)
            .detail("call", call)
            .detail("reason", "no_such_call");
        hub.audit.log_detached(e);
        return error(StatusCode::NOT_FOUND, "not_found", "no such operator call");
    }
    // Written (and synced) before the call acts: an operator's action is
    // never unaudited.
    let record =
        Event::by(operator.clone(), Action::AdminRequest, Outcome::Success).detail("call", call);
    if let Err(refusal) = on_record(&hub, record).await {
        return refusal;
    }
    match (&method, parts.as_slice()) {
        (&Method::GET, ["visits"]) => list_visits(&hub, &visits).await,
        (&Method::POST, ["visits", visit, "end"]) => {
            to_visit(&hub, &visits, visit, OperatorOp::EndVisit, operator).await
        }
        (&Method::POST, ["visits", visit, "participants", id, "remove"]) => {
            let Ok(p) = ParticipantId::new(*id) else {
                return error(StatusCode::BAD_REQUEST, "bad_request", "bad participant id");
            };
            to_visit(&hub, &visits, visit, OperatorOp::Remove(p), operator).await
        }
        (&Method::POST, ["users", sub, "revoke"]) => {
            revoke(&hub, &visits, sub, req, now, operator).await
        }
        (&Method::GET, ["audit"]) => audit_records(&hub, &visits, &query).await,
        (&Method::POST, ["keys", which]) => rotate(&hub, which, req, operator).await,
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such operator call"),
    }
}

/// Writes `e` and waits until it is synced; the answer to give if the
/// trail cannot take it (then the call must not act).
async fn on_record(hub: &Hub, e: Event) -> Result<(), Response<Body>> {
    hub.audit
        .log(e, Durability::Synced)
        .durable()
        .await
        .map_err(|_| {
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "internal",
                "audit trail unavailable",
            )
        })
}

/// A refused call: on record with its reason (never the token or a
/// claim), written as a refused hello is, and counted against the
/// address's authentication failures (the same cooldown as the socket's).
fn refused(hub: &Hub, peer: SocketAddr, call: String, reason: &'static str) {
    let actor = Actor {
        ip_address: Some(peer.ip().to_string()),
        ..Actor::default()
    };
    let denied = Event::by(Arc::new(actor), Action::AdminRequest, Outcome::Denied)
        .detail("call", call)
        .detail("reason", reason);
    hub.audit.log_detached(denied);
    hub.metrics.reject("admin_unauthorized");
    let _ = hub.abuse.auth_failed(peer.ip(), Instant::now());
}

/// A node of a cluster that did not answer in full, and why.
fn unanswered(list: &[(String, String)]) -> Vec<Value> {
    list.iter()
        .map(|(node, reason)| json!({"node": node, "reason": reason}))
        .collect()
}

/// The node list is unreadable: the cluster's Redis is away.
fn cluster_unavailable() -> Response<Body> {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "internal",
        "the cluster's Redis did not answer; try again",
    )
}

/// The live visits: on one node, its own; in a cluster, every node's, one
/// entry per visit with the node that owns it and the node each
/// participant is connected to, and the nodes that did not answer.
async fn list_visits(hub: &Hub, visits: &Visits) -> Response<Body> {
    let here = visits.live();
    let Some(router) = visits.router() else {
        let list: Vec<Value> = here
            .iter()
            .map(|v| {
                json!({
                    "visit": v.visit.as_str(),
                    "participants": v.participants.iter().map(|(id, role)| json!({"id": id.as_str(), "role": role.as_str()})).collect::<Vec<_>>(),
                })
            })
            .collect();
        return reply(StatusCode::OK, &json!({ "visits": list }));
    };
    let Ok(others) = router.ask_others(Ask::Visits, LIST_WAIT).await else {
        return cluster_unavailable();
    };
    let me = hub
        .cluster
        .as_ref()
        .map(|c| c.node.clone())
        .unwrap_or_default();
    let mut nodes = vec![me.clone()];
    let mut merged: BTreeMap<VisitId, (Option<String>, Vec<Value>)> = BTreeMap::new();
    let mut add =
        |node: &str, live: Vec<LiveVisit>| {
            for v in live {
                let entry = merged.entry(v.visit).or_default();
                if v.here {
                    entry.0 = Some(node.to_owned());
                }
                entry.1.extend(v.participants.into_iter().map(
                    |(id, role)| json!({"id": id.as_str(), "role": role.as_str(), "node": node}),
                ));
            }
        };
    add(&me, here);
    let mut failed = others.unanswered;
    for (node, parts) in others.answers {
        for part in parts {
            match part {
                AnswerBody::Visits { visits } => add(&node, visits),
                AnswerBody::Failed { reason } => failed.push((node.clone(), reason)),
                AnswerBody::Audit { .. } => {}
            }
        }
        nodes.push(node);
    }
    nodes.sort();
    let list: Vec<Value> = merged
        .into_iter()
        .map(|(visit, (owner, mut participants))| {
            participants.sort_by(|x, y| {
                let key = |v: &Value| (v["id"].to_string(), v["node"].to_string());
                key(x).cmp(&key(y))
            });
            json!({"visit": visit.as_str(), "owner": owner, "participants": participants})
        })
        .collect();
    reply(
        StatusCode::OK,
        &json!({"visits": list, "nodes": nodes, "unanswered": unanswered(&failed)}),
    )
}

/// Hands an operator's call to the visit's task: here, or in a cluster on
/// the node that owns the visit (forwarded; it writes the audit records).
async fn to_visit(
    hub: &Hub,
    visits: &Visits,
    visit: &str,
    op: OperatorOp,
    by: Arc<Actor>,
) -> Response<Body> {
    let Ok(id) = VisitId::new(visit) else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "bad visit id");
    };
    let not_live = || {
        error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no live visit with that id",
        )
    };
    let here = |handle: super::visit_task::VisitHandle, op, by| async move {
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
    };
    if let Some(handle) = visits.running(&id) {
        return here(handle, op, by).await;
    }
    let (Some(cluster), Some(router)) = (&hub.cluster, visits.router()) else {
        return not_live();
    };
    let owner = {
        let _one = cluster.acquiring.lock().await;
        if let Some(handle) = visits.running(&id) {
            drop(_one);
            return here(handle, op, by).await;
        }
        cluster.acquire(&id).await
    };
    let unavailable = || {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "internal",
            "the visit's owner cannot be reached; try again",
        )
    };
    match owner {
        // Nobody held it: not live anywhere.
        Ok(Owner::Me(lease)) => {
            lease.release().await;
            not_live()
        }
        Ok(Owner::Other { node, fence }) => {
            if cluster.is_alive(&node).await && router.operator(&node, &id, &fence, op, &by).await {
                reply(StatusCode::ACCEPTED, &json!({"ok": true, "owner": node}))
            } else {
                unavailable()
            }
        }
        Err(_) => unavailable(),
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
    // On record before it takes effect; no record, no revocation.
    let mut e = Event::by(by, Action::SessionRevoke, Outcome::Success);
    e.target = Some(user.to_string());
    if let Some(u) = until {
        e = e.detail("until", u.0);
    }
    if let Err(refusal) = on_record(hub, e).await {
        return refusal;
    }
    // Durable (a restart forgets none; other nodes read it) before it
    // acts. A second revocation never weakens the first: the later time
    // and the later hello ban win.
    let asked = Revocation {
        at: now,
        until: until.filter(|u| *u > now),
    };
    let r = match hub.revocations.save(user.as_str(), asked).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot store a revocation");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "internal",
                "the revocation could not be stored; nothing was revoked",
            );
        }
    };
    hub.revoked.insert(user.to_string(), r);
    let ended = visits.sessions.close_where(CloseCode::Unauthorized, |s| {
        s.user == user && r.ends(s.since)
    });
    reply(StatusCode::OK, &json!({ "sessions_ended": ended }))
}

/// Rotates a key of encryption at rest: `root` (body
/// `{"root_key_file": PATH}` or `{"pkcs11_key_label": LABEL}`: the data key
/// is wrapped again, nothing rewritten) or `data` (the store re-encrypted
/// online under a fresh data key). Audited as `KEY_ROTATION`.
async fn rotate(hub: &Hub, which: &str, req: Request<Incoming>, by: Arc<Actor>) -> Response<Body> {
    use crate::at_rest::RootSpec;
    let Some(keys) = hub.at_rest.clone() else {
        return error(
            StatusCode::CONFLICT,
            "not_encrypted",
            "this hub has no [at_rest] encryption configured",
        );
    };
    let body = match Limited::new(req.into_body(), 4096).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "body too large"),
    };
    let started = std::time::Instant::now();
    let spec = if which == "root" {
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        match (v["root_key_file"].as_str(), v["pkcs11_key_label"].as_str()) {
            (Some(p), None) if crate::config::inside(Path::new(p), &hub.config.data_dir) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "a root key file must not be inside data_dir",
                );
            }
            (Some(p), None) => Some(RootSpec::File(p.into())),
            (None, Some(l)) => Some(RootSpec::Label(l.to_owned())),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "expected {\"root_key_file\": PATH} or {\"pkcs11_key_label\": LABEL}",
                );
            }
        }
    } else {
        None
    };
    // Its own task: a caller that goes away does not cut a rotation short.
    let store = hub.store.clone();
    let db = hub.config.data_dir.join(crate::store::sqlite::DB_FILE);
    let task = tokio::spawn(async move {
        match spec {
            Some(spec) => keys.rotate_root(spec).await,
            None => keys
                .rotate_data(
                    |k| async move { store.rekey(k).await.map_err(|e| e.to_string()) },
                    move |k| {
                        crate::store::sqlite::connect(&db, Some(k))
                            .is_ok_and(|c| crate::store::sqlite::readable(&c))
                    },
                )
                .await
                .map(|()| keys.root_id()),
        }
    });
    let result = task
        .await
        .unwrap_or_else(|e| Err(crate::at_rest::AtRestError::File(e.to_string())));
    let outcome = if result.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    let mut e = Event::by(by, Action::KeyRotation, outcome).detail("key", which);
    match &result {
        Ok(root) => e = e.detail("root", root.clone()),
        Err(err) => e = e.detail("reason", err.to_string()),
    }
    // The rotation has happened (or not) either way; the record says which.
    let _ = on_record(hub, e).await;
    match result {
        Ok(root) => reply(
            StatusCode::OK,
            &json!({"rotated": which, "root": root, "ms": started.elapsed().as_millis() as u64}),
        ),
        Err(e) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rotation_failed",
            &e.to_string(),
        ),
    }
}

/// An export: the audit records of a visit or a time range, each exactly
/// as written. In a cluster every node's records (each names its node),
/// merged in time order, with the nodes that did not answer.
async fn audit_records(hub: &Hub, visits: &Visits, query: &str) -> Response<Body> {
    let query = match export::Query::parse(query) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", &e.to_string()),
    };
    let ask = Ask::Audit { query };
    let here = ask::answer(hub, visits, &ask);
    let (here, others) = match visits.router() {
        None => (here.await, None),
        Some(router) => {
            let (here, others) = tokio::join!(here, router.ask_others(ask.clone(), EXPORT_WAIT));
            match others {
                Ok(o) => (here, Some(o)),
                Err(_) => return cluster_unavailable(),
            }
        }
    };
    let mut found = Vec::new();
    match here {
        AnswerBody::Audit { found: f } => found.push(f),
        AnswerBody::Failed { reason } => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &reason);
        }
        AnswerBody::Visits { .. } => {}
    }
    let Some(others) = others else {
        return export_reply(export::merge(found, ask::MAX_RECORDS), None);
    };
    let me = hub
        .cluster
        .as_ref()
        .map(|c| c.node.clone())
        .unwrap_or_default();
    let mut nodes = vec![me];
    let mut failed = others.unanswered;
    for (node, parts) in others.answers {
        let mut whole = export::Found::default();
        let mut ok = true;
        for part in parts {
            match part {
                AnswerBody::Audit { found: f } => {
                    whole.lines.extend(f.lines);
                    whole.truncated |= f.truncated;
                }
                AnswerBody::Failed { reason } => {
                    failed.push((node.clone(), reason));
                    ok = false;
                }
                AnswerBody::Visits { .. } => {}
            }
        }
        if ok {
            found.push(whole);
            nodes.push(node);
        }
    }
    nodes.sort();
    failed.sort();
    export_reply(
        export::merge(found, ask::MAX_RECORDS),
        Some((nodes, unanswered(&failed))),
    )
}

/// The export's JSON, written by hand around the records so each is
/// the file's bytes (a `Value` would reorder its members).
fn export_reply(
    found: export::Found,
    cluster: Option<(Vec<String>, Vec<Value>)>,
) -> Response<Body> {
    let mut out = String::from("{\"records\":[");
    let mut first = true;
    for line in &found.lines {
        // Each line parsed as a record when it was read; a check anyway.
        if serde_json::from_str::<&serde_json::value::RawValue>(&line.text).is_err() {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&line.text);
    }
    out.push_str("],\"truncated\":");
    out.push_str(if found.truncated { "true" } else { "false" });
    if let Some((nodes, unanswered)) = cluster {
        out.push_str(",\"nodes\":");
        out.push_str(&Value::from(nodes).to_string());
        out.push_str(",\"unanswered\":");
        out.push_str(&Value::from(unanswered).to_string());
    }
    out.push('}');
    let mut r = reply(StatusCode::OK, &Value::Null);
    *r.body_mut() = Full::new(Bytes::from(out));
    r
}

//! One audit record (OPERATIONS.md "Audit log"), its canonical form (RFC 8785,
//! JCS) and its hash.
//!
//! `hash` = lower-case hex SHA-256 of the record without `hash`, serialized as
//! JCS: object members sorted by their names' UTF-16 code units, no
//! whitespace, strings escaped as JSON requires and nothing more. Records
//! hold only strings, integers, booleans and objects of them (never floats),
//! so number formatting needs no ECMAScript rules.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum Action {
    ServerStart,
    ServerStop,
    SessionStart,
    SessionEnd,
    Resume,
    AuthFailure,
    TokenReplay,
    LobbyWait,
    Admit,
    Deny,
    Remove,
    SignalOffer,
    SignalAnswer,
    SdpRejected,
    TrackPublish,
    TrackUnpublish,
    PermissionRequest,
    PermissionGrant,
    PermissionRevoke,
    PermissionDenied,
    E2eRelay,
    VisitEnd,
    IdleTimeout,
    SessionExpired,
    RateLimited,
    Alert,
    Checkpoint,
    /// In a cluster: this node took a visit over (detail: epoch, previous owner).
    VisitTakeover,
    /// A call of the operator API (actor: the operator; detail: the call).
    AdminRequest,
    /// An operator ended every session of a user (target: their `sub`).
    SessionRevoke,
    /// A key of encryption at rest was rotated (detail `key`: `root` or
    /// `data`; for `root`, the new root key's id).
    KeyRotation,
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Outcome {
    Success,
    Denied,
    Failure,
}

/// How durable a record must be before the effect it describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Written to the file (survives a crash of the process).
    Written,
    /// fdatasync'd (survives a power cut).
    Synced,
}

/// What raised the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// `auth_failures_per_min` crossed by one IP.
    AuthFailures,
    /// A join token's `jti` was presented again.
    TokenReplay,
    /// One participant made many forbidden requests.
    PermissionViolations,
    /// A session resumed from another IP address.
    IpChange,
    /// The cluster's Redis lost its data (its cluster id is gone).
    RedisDataLost,
    /// The issuer keys could not be reloaded or fetched: the last good set
    /// stays in use.
    JwksRefreshFailed,
}

impl AlertKind {
    /// Stable name (metric label, webhook `alert`, audit `detail.alert`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::AuthFailures => "auth_failures",
            AlertKind::TokenReplay => "token_replay",
            AlertKind::PermissionViolations => "permission_violations",
            AlertKind::IpChange => "ip_change",
            AlertKind::RedisDataLost => "redis_data_lost",
            AlertKind::JwksRefreshFailed => "jwks_refresh_failed",
        }
    }
}

/// Who acted, from where: the facts shared by every record of one session.
/// Built once per session and shared (`Arc`), so recording an event copies
/// no strings. Absent facts are `None` and omitted from the record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// The token's `sub`.
    pub user_id: Option<String>,
    /// Their role.
    pub role: Option<String>,
    /// The visit.
    pub visit_id: Option<String>,
    /// The patient record id from the token.
    pub patient_id: Option<String>,
    /// The session id.
    pub session: Option<String>,
    /// The client's IP address.
    pub ip_address: Option<String>,
    /// `hello.device`.
    pub device_fingerprint: Option<String>,
}

/// An event before the writer gives it `seq`, `ts`, `prev` and `hash`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What happened.
    pub action: Action,
    /// How it ended.
    pub outcome: Outcome,
    /// Who did it.
    pub actor: Arc<Actor>,
    /// Whom it was done to (participant id).
    pub target: Option<String>,
    /// Action-specific facts (never SDP, candidates, bodies, bundles, tokens).
    pub detail: Map<String, Value>,
    /// In a cluster: the fencing epoch under which the visit's owner acted.
    pub epoch: Option<u64>,
}

impl Event {
    /// A new event with no actor facts.
    pub fn new(action: Action, outcome: Outcome) -> Self {
        Self::by(Arc::new(Actor::default()), action, outcome)
    }

    /// A new event by `actor`.
    pub fn by(actor: Arc<Actor>, action: Action, outcome: Outcome) -> Self {
        Self {
            action,
            outcome,
            actor,
            target: None,
            detail: Map::new(),
            epoch: None,
        }
    }

    /// Adds a detail field.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }

    /// Sets the visit epoch (cluster).
    pub fn epoch(mut self, epoch: Option<u64>) -> Self {
        self.epoch = epoch;
        self
    }

    /// Sets the target.
    pub fn target(mut self, target: impl ToString) -> Self {
        self.target = Some(target.to_string());
        self
    }
}

/// The hash of the first record's predecessor.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Builds the record for `event`, written by cluster node `node` (absent on
/// a single node), and returns its line (canonical JSON, without the
/// newline) and its hash.
///
/// One pass: the members are written in JCS order straight from the struct
/// (all names are ASCII, so byte order is UTF-16 order), the hash is taken
/// over that text, and `"hash"` is spliced in at its sorted place. The
/// generic [`hash_of`] (used by the verifier) computes the same hash.
pub fn seal(seq: u64, ts: &str, node: Option<&str>, event: &Event, prev: &str) -> (String, String) {
    let mut out = String::with_capacity(512);
    out.push('{');
    let mut first = true;
    let mut member = |out: &mut String, name: &str| {
        if !first {
            out.push(',');
        }
        first = false;
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
    };
    member(&mut out, "action");
    write_string(action_name(event.action), &mut out);
    member(&mut out, "detail");
    write_canonical_map(&event.detail, &mut out);
    let actor = &*event.actor;
    if let Some(v) = &actor.device_fingerprint {
        member(&mut out, "device_fingerprint");
        write_string(v, &mut out);
    }
    if let Some(epoch) = event.epoch {
        member(&mut out, "epoch");
        out.push_str(&epoch.to_string());
    }
    // "hash" sorts here, before "ip_address" and "outcome".
    let hash_at = out.len();
    if let Some(v) = &actor.ip_address {
        member(&mut out, "ip_address");
        write_string(v, &mut out);
    }
    if let Some(v) = node {
        member(&mut out, "node");
        write_string(v, &mut out);
    }
    member(&mut out, "outcome");
    write_string(outcome_name(event.outcome), &mut out);
    for (name, value) in [("patient_id", &actor.patient_id)] {
        if let Some(v) = value {
            member(&mut out, name);
            write_string(v, &mut out);
        }
    }
    member(&mut out, "prev");
    write_string(prev, &mut out);
    if let Some(v) = &actor.role {
        member(&mut out, "role");
        write_string(v, &mut out);
    }
    member(&mut out, "seq");
    out.push_str(&seq.to_string());
    for (name, value) in [("session", &actor.session), ("target", &event.target)] {
        if let Some(v) = value {
            member(&mut out, name);
            write_string(v, &mut out);
        }
    }
    member(&mut out, "ts");
    write_string(ts, &mut out);
    for (name, value) in [("user_id", &actor.user_id), ("visit_id", &actor.visit_id)] {
        if let Some(v) = value {
            member(&mut out, name);
            write_string(v, &mut out);
        }
    }
    out.push('}');
    let hash = hex(&Sha256::digest(out.as_bytes()));
    // Splice `"hash":"…",` in before the member that follows it.
    let line = format!(
        "{}\"hash\":\"{hash}\",{}",
        &out[..=hash_at],
        &out[hash_at + 1..]
    );
    (line, hash)
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::ServerStart => "SERVER_START",
        Action::ServerStop => "SERVER_STOP",
        Action::SessionStart => "SESSION_START",
        Action::SessionEnd => "SESSION_END",
        Action::Resume => "RESUME",
        Action::AuthFailure => "AUTH_FAILURE",
        Action::TokenReplay => "TOKEN_REPLAY",
        Action::LobbyWait => "LOBBY_WAIT",
        Action::Admit => "ADMIT",
        Action::Deny => "DENY",
        Action::Remove => "REMOVE",
        Action::SignalOffer => "SIGNAL_OFFER",
        Action::SignalAnswer => "SIGNAL_ANSWER",
        Action::SdpRejected => "SDP_REJECTED",
        Action::TrackPublish => "TRACK_PUBLISH",
        Action::TrackUnpublish => "TRACK_UNPUBLISH",
        Action::PermissionRequest => "PERMISSION_REQUEST",
        Action::PermissionGrant => "PERMISSION_GRANT",
        Action::PermissionRevoke => "PERMISSION_REVOKE",
        Action::PermissionDenied => "PERMISSION_DENIED",
        Action::E2eRelay => "E2E_RELAY",
        Action::VisitEnd => "VISIT_END",
        Action::IdleTimeout => "IDLE_TIMEOUT",
        Action::SessionExpired => "SESSION_EXPIRED",
        Action::RateLimited => "RATE_LIMITED",
        Action::Alert => "ALERT",
        Action::Checkpoint => "CHECKPOINT",
        Action::VisitTakeover => "VISIT_TAKEOVER",
        Action::AdminRequest => "ADMIN_REQUEST",
        Action::SessionRevoke => "SESSION_REVOKE",
        Action::KeyRotation => "KEY_ROTATION",
    }
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "success",
        Outcome::Denied => "denied",
        Outcome::Failure => "failure",
    }
}

/// SHA-256 (hex) of the JCS form of `obj` without its `hash` member.
pub fn hash_of(obj: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(512);
    let mut keys: Vec<&String> = obj.keys().filter(|k| *k != "hash").collect();
    keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
    out.push('{');
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(k, &mut out);
        out.push(':');
        if let Some(v) = obj.get(*k) {
            write_canonical(v, &mut out);
        }
    }
    out.push('}');
    hex(&Sha256::digest(out.as_bytes()))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// RFC 8785 canonical JSON of `v`.
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => write_canonical_map(m, out),
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        // Integers print the same in JCS; records never hold floats.
        other => out.push_str(&other.to_string()),
    }
}

fn write_canonical_map(m: &Map<String, Value>, out: &mut String) {
    let mut keys: Vec<&String> = m.keys().collect();
    // serde_json's map is ordered by bytes; JCS wants UTF-16 code units,
    // which differ only for characters above U+FFFF.
    if keys.iter().any(|k| !k.is_ascii()) {
        keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
    }
    out.push('{');
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(k, out);
        out.push(':');
        if let Some(v) = m.get(*k) {
            write_canonical(v, out);
        }
    }
    out.push('}');
}

/// JSON string escaping as JCS requires: `"` `\` and control characters only.
/// Runs without escapes are copied whole.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-24T23:59:01.123Z`.
pub fn timestamp(unix_ms: i64) -> String {
    let secs = bedside_protocol::time::UnixMs(unix_ms).to_secs().0;
    let ms = unix_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jcs_orders_by_utf16_and_escapes_minimally() {
        // RFC 8785 section 3.2.3's sorting example (subset).
        let v = json!({"\u{20ac}": "Euro Sign", "\r": "Carriage Return", "1": "One", "\u{1f600}": "Emoji", "\u{80}": "Control", "\u{fb33}": "Hebrew"});
        assert_eq!(
            canonical(&v),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"\u{20ac}\":\"Euro Sign\",\"\u{1f600}\":\"Emoji\",\"\u{fb33}\":\"Hebrew\"}"
        );
        assert_eq!(
            canonical(&json!({"b": [1, {"z": true, "a": null}], "a": "x/y\u{1}"})),
            r#"{"a":"x/y\u0001","b":[1,{"a":null,"z":true}]}"#
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_795_996_741_123), "2026-11-29T23:59:01.123Z");
        assert_eq!(timestamp(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn seal_matches_the_generic_canonical_form_for_every_shape() {
        let actor = Actor {
            user_id: Some("dr".into()),
            role: Some("provider".into()),
            visit_id: Some("v".into()),
            patient_id: Some("98765".into()),
            session: Some("s-1".into()),
            ip_address: Some("::1".into()),
            device_fingerprint: Some("d\\x".into()),
        };
        let full = Event::by(Arc::new(actor), Action::E2eRelay, Outcome::Denied)
            .target("pt \"1\"\n")
            .detail("z", "é\u{1}")
            .detail("a", json!({"y": [1, 2], "b": null}))
            .epoch(Some(7));
        let bare = Event::new(Action::ServerStart, Outcome::Success);
        for (e, node) in [
            (full, Some("node-a")),
            (bare.clone(), None),
            (bare, Some("b")),
        ] {
            let (line, hash) = seal(3, "2026-11-24T23:59:01.123Z", node, &e, GENESIS);
            let v: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(canonical(&v), line, "the line is canonical JSON");
            assert_eq!(hash_of(v.as_object().unwrap()), hash);
            assert_eq!(v.get("node").and_then(Value::as_str), node);
        }
    }

    #[test]
    fn seal_hashes_the_record_without_its_hash() {
        let e = Event::new(Action::Admit, Outcome::Success)
            .target("pt-1")
            .detail("n", 1);
        let (line, hash) = seal(7, "2026-11-24T23:59:01.123Z", None, &e, GENESIS);
        let v: Value = serde_json::from_str(&line).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj["hash"], hash);
        assert_eq!(hash_of(obj), hash);
        assert_eq!(obj["action"], "ADMIT");
        assert!(!obj.contains_key("user_id"), "absent facts are omitted");
        assert_eq!(hash.len(), 64);
    }
}

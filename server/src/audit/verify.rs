//! Verifying audit files: the hash chain, the sequence, and checkpoint
//! signatures. Used by `bedside audit verify` and by the hub at start-up
//! (before it continues an existing file).
//!
//! A closed file ends with a final CHECKPOINT (written at shutdown); records
//! after the last checkpoint are unsealed, so truncating or appending to a
//! closed file is caught. A live file (`live = true`) may end unsealed.

use super::record::{Action, GENESIS, hash_of};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The first problem found, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: line {line}: {problem}")]
pub struct BadLine {
    /// The file.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub problem: String,
}

/// Public keys for checkpoint signatures, by `kid`.
pub type CheckpointKeys = HashMap<String, VerifyingKey>;

/// What a good file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// Records (lines).
    pub records: u64,
    /// Checkpoints among them.
    pub checkpoints: u64,
    /// Checkpoints whose signature was checked.
    pub signatures_checked: u64,
    /// Records after the last checkpoint.
    pub unsealed: u64,
    /// The last record's hash (the chain head).
    pub head: String,
    /// The first record's hash: which chain this is (a file started over
    /// is another chain, even under the same node id).
    pub first: Option<String>,
    /// The last record's seq.
    pub last_seq: u64,
    /// In a cluster: the node that wrote the file (its last record's `node`).
    pub node: Option<String>,
    /// Each checkpoint's `count` and `head`.
    pub checkpoint_heads: BTreeMap<u64, String>,
    /// What the file's checkpoints say they saw of other nodes' chains.
    pub peer_claims: Vec<PeerClaim>,
}

/// A checkpoint's `detail.peers` entry: "I saw node N's checkpoint sealing
/// its record `count`, whose hash is `head`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerClaim {
    /// The line of the checkpoint making the claim.
    pub line: u64,
    /// The other node.
    pub node: String,
    /// Its record number.
    pub count: u64,
    /// That record's hash.
    pub head: String,
}

/// Reads the public JWK set holding the audit checkpoint keys.
pub fn load_keys(path: &Path) -> Result<CheckpointKeys, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut keys = HashMap::new();
    for k in v["keys"].as_array().into_iter().flatten() {
        let Some(x) = k["x"].as_str() else {
            continue;
        };
        if k["crv"] != "Ed25519" {
            continue;
        }
        // A key without `kid` is named by its RFC 7638 thumbprint, as the
        // hub names a signing key without one.
        let thumb;
        let kid = match k["kid"].as_str() {
            Some(kid) => kid,
            None => {
                thumb = bedside_token::thumbprint(x);
                &thumb
            }
        };
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(x)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("key {kid}: bad \"x\""))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|e| format!("key {kid}: {e}"))?;
        keys.insert(kid.to_owned(), key);
    }
    if keys.is_empty() {
        return Err(format!("{}: no Ed25519 keys", path.display()));
    }
    Ok(keys)
}

/// Verifies the text of one audit file.
pub fn verify_text(
    file: &str,
    text: &str,
    keys: Option<&CheckpointKeys>,
    live: bool,
) -> Result<Verified, BadLine> {
    let bad = |line: u64, problem: String| BadLine {
        file: file.to_owned(),
        line,
        problem,
    };
    let mut v = Verified {
        head: GENESIS.to_owned(),
        ..Default::default()
    };
    let mut last_checkpoint_final = false;
    let mut first_unsealed_line = 0;
    let mut rest = text;
    let mut line_no = 0u64;
    while !rest.is_empty() {
        line_no += 1;
        let Some(end) = rest.find('\n') else {
            return Err(bad(line_no, "incomplete last line (torn write)".into()));
        };
        let line = &rest[..end];
        rest = &rest[end + 1..];
        let obj: Map<String, Value> = match serde_json::from_str(line) {
            Ok(Value::Object(o)) => o,
            _ => return Err(bad(line_no, "not a JSON object".into())),
        };
        let seq = obj.get("seq").and_then(Value::as_u64);
        if seq != Some(v.last_seq + 1) {
            return Err(bad(
                line_no,
                format!(
                    "seq {:?} where {} was expected (line deleted, moved or inserted)",
                    seq,
                    v.last_seq + 1
                ),
            ));
        }
        if obj.get("prev").and_then(Value::as_str) != Some(v.head.as_str()) {
            return Err(bad(
                line_no,
                "prev does not match the previous record's hash".into(),
            ));
        }
        let hash = hash_of(&obj);
        if obj.get("hash").and_then(Value::as_str) != Some(hash.as_str()) {
            return Err(bad(
                line_no,
                "hash does not match the record (altered)".into(),
            ));
        }
        let action: Option<Action> = obj
            .get("action")
            .and_then(|a| serde_json::from_value(a.clone()).ok());
        let Some(action) = action else {
            return Err(bad(line_no, "unknown action".into()));
        };
        if !matches!(
            obj.get("outcome").and_then(Value::as_str),
            Some("success" | "denied" | "failure")
        ) {
            return Err(bad(line_no, "bad outcome".into()));
        }
        if action == Action::Checkpoint {
            let detail = obj.get("detail").cloned().unwrap_or(Value::Null);
            if detail["head"].as_str() != Some(v.head.as_str()) {
                return Err(bad(
                    line_no,
                    "checkpoint head is not the previous record's hash".into(),
                ));
            }
            if detail["count"].as_u64() != Some(v.last_seq) {
                return Err(bad(line_no, "checkpoint count does not match".into()));
            }
            if let Some(keys) = keys {
                let kid = detail["kid"].as_str().unwrap_or_default();
                let Some(key) = keys.get(kid) else {
                    return Err(bad(
                        line_no,
                        format!("checkpoint signed by unknown kid {kid:?}"),
                    ));
                };
                let sig = detail["sig"]
                    .as_str()
                    .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
                    .and_then(|b| Signature::from_slice(&b).ok());
                let ok = sig.is_some_and(|s| key.verify_strict(v.head.as_bytes(), &s).is_ok());
                if !ok {
                    return Err(bad(line_no, "checkpoint signature does not verify".into()));
                }
                v.signatures_checked += 1;
            }
            v.checkpoints += 1;
            v.checkpoint_heads.insert(v.last_seq, v.head.clone());
            for (node, seen) in detail["peers"].as_object().into_iter().flatten() {
                let (Some(count), Some(head)) = (seen["count"].as_u64(), seen["head"].as_str())
                else {
                    return Err(bad(
                        line_no,
                        format!("checkpoint peers: bad entry for {node:?}"),
                    ));
                };
                v.peer_claims.push(PeerClaim {
                    line: line_no,
                    node: node.clone(),
                    count,
                    head: head.to_owned(),
                });
            }
            v.unsealed = 0;
            last_checkpoint_final = detail["final"] == Value::Bool(true);
        } else {
            if v.unsealed == 0 {
                first_unsealed_line = line_no;
            }
            v.unsealed += 1;
        }
        if let Some(node) = obj.get("node").and_then(Value::as_str) {
            match &v.node {
                Some(n) if n != node => {
                    return Err(bad(
                        line_no,
                        format!("record of node {node:?} in the file of node {n:?}"),
                    ));
                }
                Some(_) => {}
                None => v.node = Some(node.to_owned()),
            }
        }
        if v.first.is_none() {
            v.first = Some(hash.clone());
        }
        v.head = hash;
        v.last_seq = line_no;
        v.records += 1;
    }
    if !live && v.records > 0 {
        if v.unsealed > 0 {
            return Err(bad(
                first_unsealed_line,
                format!(
                    "{} record(s) from here on are not sealed by a final CHECKPOINT (file truncated, appended to, or still open: use --live)",
                    v.unsealed
                ),
            ));
        }
        if !last_checkpoint_final {
            return Err(bad(
                line_no,
                "the file does not end with the final CHECKPOINT (truncated?)".into(),
            ));
        }
    }
    Ok(v)
}

/// Checks what several nodes' files say of each other: every checkpoint a
/// file's `detail.peers` names must be in a given file of that node, with
/// the same hash. Catches a node's file left out, cut short, or swapped for
/// another. Returns how many claims were checked.
pub fn cross_check(files: &[(String, Verified)]) -> Result<usize, BadLine> {
    let mut by_node: HashMap<&str, Vec<&Verified>> = HashMap::new();
    for (_, v) in files {
        if let Some(node) = &v.node {
            by_node.entry(node).or_default().push(v);
        }
    }
    let mut checked = 0;
    for (file, v) in files {
        for claim in &v.peer_claims {
            if v.node.as_deref() == Some(claim.node.as_str()) {
                continue;
            }
            let bad = |problem: String| BadLine {
                file: file.clone(),
                line: claim.line,
                problem,
            };
            let Some(theirs) = by_node.get(claim.node.as_str()) else {
                return Err(bad(format!(
                    "names node {:?}'s checkpoint of record {}, but no audit file of that node was given (missing? or verify with --skip-peers)",
                    claim.node, claim.count
                )));
            };
            let heads: Vec<&String> = theirs
                .iter()
                .filter_map(|t| t.checkpoint_heads.get(&claim.count))
                .collect();
            if heads.iter().any(|h| **h == claim.head) {
                checked += 1;
                continue;
            }
            let last = theirs.iter().map(|t| t.last_seq).max().unwrap_or(0);
            return Err(bad(if heads.is_empty() && last < claim.count {
                format!(
                    "names node {:?}'s checkpoint of record {}, but that node's file ends at record {last} (truncated?)",
                    claim.node, claim.count
                )
            } else {
                format!(
                    "names node {:?}'s checkpoint of record {} with another hash than that node's file holds (altered or replaced?)",
                    claim.node, claim.count
                )
            }));
        }
    }
    Ok(checked)
}

/// Verifies a file on disk.
pub fn verify_file(
    path: &Path,
    keys: Option<&CheckpointKeys>,
    live: bool,
) -> Result<Verified, BadLine> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| BadLine {
        file: name.clone(),
        line: 0,
        problem: format!("cannot read: {e}"),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64
            + 1;
        BadLine {
            file: name.clone(),
            line,
            problem: "not UTF-8".into(),
        }
    })?;
    verify_text(&name, &text, keys, live)
}

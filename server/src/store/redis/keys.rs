//! Redis key names. Every key of a visit starts `bs:{TAG}:`, where `TAG`
//! is the visit's [`VisitTag`]: the hash tag puts all of them in one slot,
//! so each script touches one slot and also runs on Redis Cluster, and no
//! visit id (which a clinic may derive from a record number) appears in a
//! key name an operator lists.
//!
//! Resume tokens carry their visit's tag (`TAG.random`), so the node that
//! receives a `resume` finds the token's keys without knowing the visit.

use bedside_protocol::VisitId;
use sha2::{Digest, Sha256};

/// 128 bits of SHA-256 of the visit id, in lower-case hex (32 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VisitTag(String);

/// Characters in a tag.
const TAG_LEN: usize = 32;

impl VisitTag {
    /// The tag of `visit`.
    pub fn of(visit: &VisitId) -> Self {
        let mut h = Sha256::new();
        h.update(b"bedside-visit-tag\0");
        h.update(visit.as_str().as_bytes());
        Self(hex(&h.finalize()[..TAG_LEN / 2]))
    }

    /// The tag a resume token carries (`None`: not a token this hub made).
    pub fn of_resume_token(token: &str) -> Option<Self> {
        let (tag, rest) = token.split_once('.')?;
        let ok = tag.len() == TAG_LEN
            && tag
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && !rest.is_empty();
        ok.then(|| Self(tag.to_owned()))
    }

    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn key(&self, name: &str) -> String {
        format!("bs:{{{}}}:{name}", self.0)
    }

    /// The lease: `NODE/EPOCH` of the owner, with a TTL.
    pub fn lease(&self) -> String {
        self.key("lease")
    }
    /// The fencing counter (never deleted, so epochs only rise).
    pub fn epoch(&self) -> String {
        self.key("epoch")
    }
    /// Hash: participant id → participant record (JSON).
    pub fn participants(&self) -> String {
        self.key("parts")
    }
    /// Present once the visit has ended.
    pub fn ended(&self) -> String {
        self.key("ended")
    }
    /// The last e2e seq assigned.
    pub fn seq(&self) -> String {
        self.key("seq")
    }
    /// Stream of stored e2e messages, entry id `SEQ-0`.
    pub fn log(&self) -> String {
        self.key("log")
    }
    /// Hash: participant id → seq up to which it is owed nothing.
    pub fn cursors(&self) -> String {
        self.key("cursors")
    }
    /// Hash: `r:HASH` → resume record, `i:HASH` → its latest IP.
    pub fn resume(&self) -> String {
        self.key("resume")
    }
    /// Hash: participant id → hash of its one live resume token.
    pub fn resume_by_participant(&self) -> String {
        self.key("rtp")
    }
    /// A used token id (a key with the token's lifetime as TTL).
    pub fn jti(&self, key: &[u8; 32]) -> String {
        self.key(&format!("jti:{}", hex(key)))
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The cluster's identity, made by the first node that ever started on
/// this Redis; a Redis that lost it lost everything else too.
pub const CLUSTER_ID: &str = "bs:cluster";
/// A node's presence (`bs:node:ID`), with a TTL its heartbeat renews.
pub fn node(id: &str) -> String {
    format!("bs:node:{id}")
}
/// The ids of the nodes that have registered (each beat adds its own; a
/// reader drops the ones whose presence lapsed).
pub const NODES: &str = "bs:nodes";
/// The channel a node listens on for forwarded frames.
pub fn node_channel(id: &str) -> String {
    format!("bs:to:{id}")
}
/// Stream of every node's signed audit checkpoints.
pub const AUDIT_CHECKPOINTS: &str = "bs:audit:checkpoints";
/// SCAN pattern matching every visit's message stream.
pub const LOG_PATTERN: &str = "bs:{*}:log";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_visit_one_hash_tag_and_no_visit_id_in_key_names() {
        let v = VisitId::new("mrn-98765-visit").unwrap();
        let t = VisitTag::of(&v);
        for k in [t.lease(), t.log(), t.participants(), t.jti(&[7; 32])] {
            assert!(k.starts_with(&format!("bs:{{{}}}:", t.as_str())), "{k}");
            assert!(!k.contains("98765"), "{k}");
        }
        assert_ne!(t, VisitTag::of(&VisitId::new("mrn-98765-visit2").unwrap()));
    }

    #[test]
    fn a_resume_token_names_its_visit_tag() {
        let v = VisitId::new("v-1").unwrap();
        let t = VisitTag::of(&v);
        let token = format!("{}.abc", t.as_str());
        assert_eq!(VisitTag::of_resume_token(&token), Some(t.clone()));
        for bad in ["abc", ".abc", "x.abc", &format!("{}.", t.as_str())] {
            assert_eq!(VisitTag::of_resume_token(bad), None, "{bad}");
        }
        let upper = format!("{}.abc", t.as_str().to_uppercase());
        assert_eq!(VisitTag::of_resume_token(&upper), None);
    }
}

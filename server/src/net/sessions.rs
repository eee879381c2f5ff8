//! The sessions this node holds, by connection: what an operator action or
//! a key rotation needs to find them (the key a session stands on, its
//! user and visit) and the handle that closes them.

use super::outbound::ConnHandle;
use crate::visit::ConnId;
use bedside_protocol::{CloseCode, ParticipantId, VisitId};
use dashmap::DashMap;

/// One attached session.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The `kid` of the key its token was signed with.
    pub kid: Option<String>,
    /// Its participant (the token's `sub`).
    pub user: ParticipantId,
    /// Its role.
    pub role: bedside_protocol::Role,
    /// When the session began (its hello).
    pub since: Option<bedside_protocol::time::UnixSecs>,
    /// Its visit.
    pub visit: VisitId,
    /// Closes it.
    pub handle: ConnHandle,
}

/// A session's place in the registry, for as long as it lives.
#[derive(Debug)]
pub struct Registered<'a> {
    sessions: &'a Sessions,
    conn: ConnId,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.sessions.remove(self.conn);
    }
}

/// Every attached session of this node.
#[derive(Debug, Default)]
pub struct Sessions {
    map: DashMap<ConnId, Entry>,
}

impl Sessions {
    /// A session attached; it leaves the registry when the returned guard
    /// drops (however the session ends, a cancelled future included).
    #[must_use = "the session leaves the registry when the guard drops"]
    pub fn insert(&self, conn: ConnId, entry: Entry) -> Registered<'_> {
        self.map.insert(conn, entry);
        Registered {
            sessions: self,
            conn,
        }
    }

    /// A session ended.
    pub fn remove(&self, conn: ConnId) {
        self.map.remove(&conn);
    }

    /// A session refreshed its token, signed with `kid`.
    pub fn update_kid(&self, conn: ConnId, kid: Option<String>) {
        if let Some(mut e) = self.map.get_mut(&conn) {
            e.kid = kid;
        }
    }

    /// Closes with `code` every session `matching`; how many.
    pub fn close_where(&self, code: CloseCode, matching: impl Fn(&Entry) -> bool) -> usize {
        let mut n = 0;
        for e in self.map.iter() {
            if matching(e.value()) {
                let _ = e.handle.close(code);
                n += 1;
            }
        }
        n
    }

    /// Every session's visit, participant and role, by visit.
    pub fn by_visit(
        &self,
    ) -> std::collections::BTreeMap<VisitId, Vec<(ParticipantId, bedside_protocol::Role)>> {
        let mut out: std::collections::BTreeMap<VisitId, Vec<_>> = Default::default();
        for e in self.map.iter() {
            out.entry(e.visit.clone())
                .or_default()
                .push((e.user.clone(), e.role));
        }
        for v in out.values_mut() {
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v.dedup_by(|a, b| a.0 == b.0);
        }
        out
    }

    /// Sessions held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

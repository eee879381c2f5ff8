//! An operator's revocations of users, kept durably: a restart forgets none,
//! and in a cluster every node learns of one within seconds.
//!
//! - One node: a table of the embedded store (so encrypted at rest with
//!   it), durable before the revocation acts.
//! - A cluster: the hash `bs:revoked` in Redis (user → `AT:UNTIL`), durable
//!   under the settings the cluster requires; each node reads it at start
//!   and every [`POLL`] after, and ends its own sessions of users revoked
//!   elsewhere.

use bedside_protocol::time::UnixSecs;
use std::collections::HashMap;
use std::time::Duration;

/// How often a cluster node reads the revocations of the others.
pub const POLL: Duration = Duration::from_secs(2);
const REDIS_KEY: &str = "bs:revoked";

/// An operator revoked a user's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    /// When: sessions begun at or before it are ended and cannot resume.
    pub at: UnixSecs,
    /// New hellos of the user are refused until then.
    pub until: Option<UnixSecs>,
}

impl Revocation {
    /// Whether a session begun at `since` is revoked.
    pub fn ends(&self, since: Option<UnixSecs>) -> bool {
        since.is_none_or(|s| s <= self.at)
    }

    /// Whether a new hello at `now` is refused.
    pub fn refuses_hello(&self, now: UnixSecs) -> bool {
        self.until.is_some_and(|u| now < u)
    }

    /// The stronger of two: the later time and the later hello ban.
    pub fn merge(self, other: Revocation) -> Revocation {
        Revocation {
            at: self.at.max(other.at),
            until: self.until.max(other.until),
        }
    }

    #[cfg(test)]
    fn encode(&self) -> String {
        format!("{}:{}", self.at.0, self.until.map_or(0, |u| u.0))
    }

    fn decode(s: &str) -> Option<Self> {
        let (at, until) = s.split_once(':')?;
        let until: i64 = until.parse().ok()?;
        Some(Self {
            at: UnixSecs(at.parse().ok()?),
            until: (until > 0).then_some(UnixSecs(until)),
        })
    }
}

/// Where revocations live.
#[derive(Debug)]
pub enum Store {
    /// One node: a table of the embedded store (encrypted with it).
    Local(crate::store::Store),
    /// A cluster: a hash in Redis.
    Redis(redis::aio::ConnectionManager),
}

/// Where a hub of an earlier version kept a single node's revocations.
const OLD_FILE: &str = "revocations.json";

fn from_row((user, at, until): crate::store::RevocationRow) -> (String, Revocation) {
    (
        user,
        Revocation {
            at: UnixSecs(at),
            until: (until > 0).then_some(UnixSecs(until)),
        },
    )
}

impl Store {
    /// The store of a single node; moves what an earlier version kept in
    /// `data_dir/revocations.json` into it (then removes the file).
    pub async fn local(
        store: crate::store::Store,
        data_dir: &std::path::Path,
    ) -> Result<Self, String> {
        let old = data_dir.join(OLD_FILE);
        let me = Store::Local(store);
        match std::fs::read_to_string(&old) {
            Ok(text) => {
                let raw: HashMap<String, String> =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", old.display()))?;
                for (user, v) in raw {
                    if let Some(r) = Revocation::decode(&v) {
                        me.save(&user, r).await?;
                    }
                }
                std::fs::remove_file(&old).map_err(|e| format!("{}: {e}", old.display()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", old.display())),
        }
        Ok(me)
    }

    /// Every revocation on record.
    pub async fn load(&self) -> Result<HashMap<String, Revocation>, String> {
        match self {
            Store::Local(store) => Ok(store
                .load_revocations()
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(from_row)
                .collect()),
            Store::Redis(conn) => {
                let mut conn = conn.clone();
                let raw: HashMap<String, String> = redis::cmd("HGETALL")
                    .arg(REDIS_KEY)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(raw
                    .into_iter()
                    .filter_map(|(u, v)| Some((u, Revocation::decode(&v)?)))
                    .collect())
            }
        }
    }

    /// Records `r` for `user` (merged with what is there) durably; the
    /// revocation as it now stands.
    pub async fn save(&self, user: &str, r: Revocation) -> Result<Revocation, String> {
        match self {
            Store::Local(store) => {
                let (at, until) = store
                    .revoke(user, r.at.0, r.until.map_or(0, |u| u.0))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(from_row((String::new(), at, until)).1)
            }
            Store::Redis(conn) => {
                let mut conn = conn.clone();
                // Merged in one script, so two nodes revoking at once keep
                // the stronger of both.
                const MERGE: &str = r"local old = redis.call('HGET', KEYS[1], ARGV[1])
local at, untl = tonumber(ARGV[2]), tonumber(ARGV[3])
if old then
  local a, u = string.match(old, '^(%-?%d+):(%-?%d+)$')
  if a then
    at = math.max(at, tonumber(a)); untl = math.max(untl, tonumber(u))
  end
end
local v = string.format('%d:%d', at, untl)
redis.call('HSET', KEYS[1], ARGV[1], v)
return v";
                let v: String = redis::cmd("EVAL")
                    .arg(MERGE)
                    .arg(1)
                    .arg(REDIS_KEY)
                    .arg(user)
                    .arg(r.at.0)
                    .arg(r.until.map_or(0, |u| u.0))
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                Revocation::decode(&v).ok_or_else(|| "bad revocation in redis".to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_reads_back_and_the_stronger_wins() {
        let r = Revocation {
            at: UnixSecs(100),
            until: Some(UnixSecs(500)),
        };
        assert_eq!(Revocation::decode(&r.encode()), Some(r));
        let later = Revocation {
            at: UnixSecs(200),
            until: None,
        };
        assert_eq!(
            r.merge(later),
            Revocation {
                at: UnixSecs(200),
                until: Some(UnixSecs(500))
            }
        );
        assert!(r.ends(Some(UnixSecs(100))) && !r.ends(Some(UnixSecs(101))));
        assert!(r.refuses_hello(UnixSecs(499)) && !r.refuses_hello(UnixSecs(500)));
    }

    #[tokio::test]
    async fn revocations_survive_in_the_store_and_an_old_file_moves_in() {
        let dir = tempfile::tempdir().expect("dir");
        // What an earlier version kept in data_dir/revocations.json.
        std::fs::write(dir.path().join(OLD_FILE), r#"{"pt-1":"10:99"}"#).expect("old file");
        let (store, _h) = crate::store::sqlite::open(dir.path(), None).expect("store");
        let s = Store::local(store.clone(), dir.path())
            .await
            .expect("moved in");
        assert!(!dir.path().join(OLD_FILE).exists(), "the old file is gone");
        s.save(
            "pt-1",
            Revocation {
                at: UnixSecs(20),
                until: None,
            },
        )
        .await
        .expect("saved");
        drop(s);
        drop(store);
        let (store, _h2) = crate::store::sqlite::open(dir.path(), None).expect("store");
        let again = Store::local(store, dir.path()).await.expect("opens");
        let again = again.load().await.expect("loads");
        assert_eq!(
            again.get("pt-1"),
            Some(&Revocation {
                at: UnixSecs(20),
                until: Some(UnixSecs(99))
            })
        );
    }
}

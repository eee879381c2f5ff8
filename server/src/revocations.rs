//! An operator's revocations of users, kept durably: a restart forgets none,
//! and in a cluster every node learns of one within seconds.
//!
//! - One node: `data_dir/revocations.json`, replaced whole (written aside,
//!   fsynced, renamed) before the revocation acts.
//! - A cluster: the hash `bs:revoked` in Redis (user → `AT:UNTIL`), durable
//!   under the settings the cluster requires; each node reads it at start
//!   and every [`POLL`] after, and ends its own sessions of users revoked
//!   elsewhere.

use bedside_protocol::time::UnixSecs;
use std::collections::HashMap;
use std::path::PathBuf;
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
    /// One node: a file in `data_dir`.
    File {
        /// The file.
        path: PathBuf,
        /// Serializes writers (read, merge, replace).
        lock: tokio::sync::Mutex<()>,
    },
    /// A cluster: a hash in Redis.
    Redis(redis::aio::ConnectionManager),
}

impl Store {
    /// The store of a single node.
    pub fn file(data_dir: &std::path::Path) -> Self {
        Store::File {
            path: data_dir.join("revocations.json"),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Every revocation on record.
    pub async fn load(&self) -> Result<HashMap<String, Revocation>, String> {
        match self {
            Store::File { path, .. } => {
                let text = match std::fs::read_to_string(path) {
                    Ok(t) => t,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
                    Err(e) => return Err(format!("{}: {e}", path.display())),
                };
                let raw: HashMap<String, String> =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(raw
                    .into_iter()
                    .filter_map(|(u, v)| Some((u, Revocation::decode(&v)?)))
                    .collect())
            }
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
            Store::File { path, lock } => {
                let _g = lock.lock().await;
                let mut all = self.load().await?;
                let merged = all.get(user).map_or(r, |old| old.merge(r));
                all.insert(user.to_owned(), merged);
                let raw: HashMap<&String, String> =
                    all.iter().map(|(u, v)| (u, v.encode())).collect();
                let text = serde_json::to_string(&raw).map_err(|e| e.to_string())?;
                let path = path.clone();
                tokio::task::spawn_blocking(move || write_durably(&path, &text))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                Ok(merged)
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

fn write_durably(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
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
    async fn revocations_survive_in_their_file() {
        let dir = tempfile::tempdir().expect("dir");
        let s = Store::file(dir.path());
        assert!(s.load().await.expect("empty").is_empty());
        let r = Revocation {
            at: UnixSecs(10),
            until: Some(UnixSecs(99)),
        };
        s.save("pt-1", r).await.expect("saved");
        s.save(
            "pt-1",
            Revocation {
                at: UnixSecs(20),
                until: None,
            },
        )
        .await
        .expect("saved");
        let again = Store::file(dir.path()).load().await.expect("loads");
        assert_eq!(
            again.get("pt-1"),
            Some(&Revocation {
                at: UnixSecs(20),
                until: Some(UnixSecs(99))
            })
        );
    }
}

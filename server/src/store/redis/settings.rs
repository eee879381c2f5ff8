//! The start-up check of the Redis a cluster shares: Bedside acknowledges
//! an e2e message once Redis has answered its write, so that answer must
//! mean "on disk", and Redis must never drop a key to free memory (a
//! dropped lease, epoch or resume token breaks fencing and single use).

use redis::aio::ConnectionLike;
use std::collections::HashMap;

/// What the check found wrong; the message is the one line start-up prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The server would not say (`CONFIG` renamed or not permitted).
    #[error(
        "cannot read the Redis settings ({0}); Bedside must confirm appendonly yes, appendfsync always and maxmemory-policy noeviction"
    )]
    Unreadable(String),
    /// A setting is not what durability needs.
    #[error("Redis has {key} {found}; Bedside needs {key} {needed} ({why})")]
    Wrong {
        /// The setting.
        key: &'static str,
        /// Its value.
        found: String,
        /// What it must be.
        needed: &'static str,
        /// Why.
        why: &'static str,
    },
}

/// Facts about the server, for the start-up record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFacts {
    /// `redis_version` from `INFO server`.
    pub version: String,
}

/// The settings every node requires, with the reason it prints.
const REQUIRED: [(&str, &str, &str); 3] = [
    (
        "appendonly",
        "yes",
        "without the append-only file a restart of Redis loses acknowledged messages",
    ),
    (
        "appendfsync",
        "always",
        "only then has Redis written and fsynced a command before it answers; Redis 7.0 has no WAITAOF",
    ),
    (
        "maxmemory-policy",
        "noeviction",
        "an evicting Redis may drop leases, epochs, resume tokens or messages to free memory",
    ),
];

/// Reads the settings and refuses any that would make an acknowledgement
/// a promise Redis does not keep.
pub async fn check<C: ConnectionLike>(conn: &mut C) -> Result<ServerFacts, SettingsError> {
    for (key, needed, why) in REQUIRED {
        let got: HashMap<String, String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(key)
            .query_async(conn)
            .await
            .map_err(|e| SettingsError::Unreadable(format!("CONFIG GET {key}: {e}")))?;
        let found = got
            .get(key)
            .cloned()
            .ok_or_else(|| SettingsError::Unreadable(format!("CONFIG GET {key}: no value")))?;
        if !found.eq_ignore_ascii_case(needed) {
            return Err(SettingsError::Wrong {
                key,
                found,
                needed,
                why,
            });
        }
    }
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(conn)
        .await
        .map_err(|e| SettingsError::Unreadable(format!("INFO server: {e}")))?;
    let version = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("unknown")
        .trim()
        .to_owned();
    Ok(ServerFacts { version })
}

//! The shared stream of audit checkpoints, `bs:audit:checkpoints`: each
//! node adds every CHECKPOINT it seals and reads the others'
//! ([`crate::audit::peers`] says why). The stream is evidence, not state:
//! losing an entry (Redis away, trimmed) only means a later checkpoint
//! names an older head.

use super::Cluster;
use crate::audit::peers::{Peers, Published};
use crate::store::redis::keys::AUDIT_CHECKPOINTS;
use std::sync::Arc;

/// Entries kept (approximately): far more than nodes × checkpoints per beat.
const MAXLEN: u64 = 10_000;
/// Entries read per round trip.
const PAGE: u64 = 500;

/// Publishes this node's checkpoints and follows the others', until the
/// process ends.
pub async fn run(cluster: Arc<Cluster>, peers: Arc<Peers>) {
    loop {
        flush(&cluster, &peers).await;
        read(&cluster, &peers).await;
        tokio::select! {
            _ = peers.queued() => {}
            _ = tokio::time::sleep(cluster.beat_every()) => {}
        }
    }
}

/// Adds what the writer sealed to the stream; what Redis did not take goes
/// back to the outbox. Called by [`run`] and once more at shutdown, after
/// the final CHECKPOINT.
pub async fn flush(cluster: &Cluster, peers: &Peers) -> bool {
    let out = peers.take_outbox();
    if out.is_empty() {
        return true;
    }
    let mut pipe = redis::pipe();
    for p in &out {
        pipe.cmd("XADD")
            .arg(AUDIT_CHECKPOINTS)
            .arg("MAXLEN")
            .arg("~")
            .arg(MAXLEN)
            .arg("*")
            .arg("node")
            .arg(&p.node)
            .arg("chain")
            .arg(&p.chain)
            .arg("count")
            .arg(p.count)
            .arg("head")
            .arg(&p.head)
            .arg("kid")
            .arg(&p.kid)
            .arg("sig")
            .arg(&p.sig)
            .ignore();
    }
    let mut conn = cluster.conn.clone();
    match pipe.query_async::<()>(&mut conn).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "audit checkpoints not published yet");
            peers.requeue(out);
            false
        }
    }
}

/// Reads the entries not read yet. Also called at shutdown, so the final
/// CHECKPOINT names the freshest heads.
pub async fn read(cluster: &Cluster, peers: &Peers) {
    let mut conn = cluster.conn.clone();
    loop {
        let last = peers.cursor();
        let page: redis::RedisResult<Vec<(String, Vec<String>)>> = redis::cmd("XRANGE")
            .arg(AUDIT_CHECKPOINTS)
            .arg(format!("({last}"))
            .arg("+")
            .arg("COUNT")
            .arg(PAGE)
            .query_async(&mut conn)
            .await;
        let Ok(page) = page else {
            return; // the heartbeat reports Redis trouble
        };
        let full = page.len() as u64 == PAGE;
        for (id, fields) in page {
            if let Some(p) = parse(&fields) {
                peers.saw(p);
            }
            peers.advance(id);
        }
        if !full {
            return;
        }
    }
}

/// An entry's fields (`node count head kid sig`, in pairs); `None` if any
/// is missing or malformed.
fn parse(fields: &[String]) -> Option<Published> {
    let get = |name: &str| {
        fields
            .chunks_exact(2)
            .find(|kv| kv[0] == name)
            .map(|kv| kv[1].clone())
    };
    let head = get("head")?;
    if head.len() != 64 || !head.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(Published {
        node: get("node")?,
        chain: get("chain").unwrap_or_default(),
        count: get("count")?.parse().ok()?,
        head,
        kid: get("kid")?,
        sig: get("sig")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_in_any_field_order_and_bad_ones_are_skipped() {
        let head = "ab".repeat(32);
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let p = parse(&f(&[
            "count", "12", "node", "b", "head", &head, "kid", "k", "sig", "s",
        ]))
        .expect("parses");
        assert_eq!((p.node.as_str(), p.count), ("b", 12));
        assert!(
            parse(&f(&[
                "node", "b", "count", "x", "head", &head, "kid", "k", "sig", "s"
            ]))
            .is_none()
        );
        assert!(
            parse(&f(&[
                "node", "b", "count", "1", "head", "zz", "kid", "k", "sig", "s"
            ]))
            .is_none()
        );
        assert!(parse(&f(&["node", "b"])).is_none());
    }
}

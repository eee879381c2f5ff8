//! Visit ownership: one node at a time holds a visit's lease (`SET NX PX`
//! under a fresh epoch from `INCR`), renewed every third of its length.
//!
//! The owner trusts its lease only until its own monotonic deadline: the
//! time it *sent* the last successful renewal plus the lease, less a
//! margin for clock-rate drift. Past that deadline it stops acting for the
//! visit even if Redis has said nothing, so a node paused (SIGSTOP, a long
//! GC-like stall) or cut off never acts on a lease another node may hold.
//! Its writes are fenced in Redis anyway ([`crate::store::redis`]); the
//! deadline also stops what never reaches Redis (relaying negotiation).

use super::Cluster;
use crate::store::redis::{keys::VisitTag, scripts};
use crate::store::{Fence, StoreError};
use bedside_protocol::VisitId;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Who owns a visit.
#[derive(Debug)]
pub enum Owner {
    /// This node, under this lease (just taken).
    Me(Lease),
    /// Another node (or a previous process of this one, see [`Cluster::acquire`]).
    Other {
        /// Its node id.
        node: String,
        /// Its fence.
        fence: Fence,
    },
}

/// A lease this node holds. Dropping it stops the renewals; [`Lease::release`]
/// also gives the visit up at once.
#[derive(Debug)]
pub struct Lease {
    /// `NODE/EPOCH`.
    pub fence: Fence,
    /// The epoch the previous owner held (0: none), for VISIT_TAKEOVER.
    pub previous: Option<String>,
    visit: VisitId,
    valid_until: watch::Receiver<Instant>,
    renewer: tokio::task::JoinHandle<()>,
    cluster: Arc<Cluster>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

fn margin(lease: Duration) -> Duration {
    (lease / 10).max(Duration::from_millis(100))
}

impl Lease {
    /// Until when this node may act for the visit.
    pub fn valid_until(&self) -> Instant {
        *self.valid_until.borrow()
    }

    /// The deadline has not passed.
    pub fn is_valid(&self) -> bool {
        Instant::now() < self.valid_until()
    }

    /// Resolves when the deadline has passed (a renewal moves it on; a
    /// refused one brings it forward to now).
    pub async fn expired(&mut self) {
        loop {
            let until = *self.valid_until.borrow_and_update();
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {
                    if Instant::now() >= *self.valid_until.borrow() {
                        return;
                    }
                }
                r = self.valid_until.changed() => {
                    if r.is_err() {
                        // The renewer is gone: wait out the last deadline.
                        tokio::time::sleep_until(until).await;
                        return;
                    }
                }
            }
        }
    }

    /// Gives the visit up (another node may take it at once).
    pub async fn release(self) {
        self.renewer.abort();
        let mut conn = self.cluster.conn.clone();
        let r: Result<i64, _> = redis::cmd("EVAL")
            .arg(scripts::LEASE_RELEASE)
            .arg(1)
            .arg(VisitTag::of(&self.visit).lease())
            .arg(&self.fence.0)
            .query_async(&mut conn)
            .await;
        if let Err(e) = r {
            tracing::warn!(visit = %self.visit, error = %e, "could not release the lease; it will lapse");
        }
    }
}

impl Cluster {
    /// Takes `visit`'s lease if it is free. A lease held under this node's
    /// own id by no running task of this process is a previous process's
    /// (registration makes node ids unique among live processes): it is
    /// taken over under a new epoch rather than waited out. The caller
    /// holds [`Cluster::acquiring`] and has checked that no task of this
    /// process runs the visit.
    pub async fn acquire(self: &Arc<Self>, visit: &VisitId) -> Result<Owner, StoreError> {
        let tag = VisitTag::of(visit);
        let mut conn = self.conn.clone();
        let sent = Instant::now();
        let reply: Vec<redis::Value> = redis::cmd("EVAL")
            .arg(scripts::LEASE_ACQUIRE)
            .arg(2)
            .arg(tag.lease())
            .arg(tag.epoch())
            .arg(&self.node)
            .arg(self.lease.as_millis() as u64)
            .query_async(&mut conn)
            .await?;
        let text = |v: Option<&redis::Value>| match v {
            Some(redis::Value::BulkString(b)) => String::from_utf8(b.clone()).ok(),
            _ => None,
        };
        let taken = matches!(reply.first(), Some(redis::Value::Int(1)));
        let value = text(reply.get(1))
            .ok_or_else(|| StoreError::Backend("redis: unexpected reply to lease".into()))?;
        let previous = text(reply.get(2));
        if !taken {
            let node = value
                .rsplit_once('/')
                .map(|(n, _)| n.to_owned())
                .unwrap_or_default();
            return Ok(Owner::Other {
                node,
                fence: Fence(value),
            });
        }
        let fence = Fence(value);
        let until = sent + self.lease - margin(self.lease);
        let (tx, rx) = watch::channel(until);
        let renewer = tokio::spawn(renew(self.clone(), tag, fence.clone(), tx));
        Ok(Owner::Me(Lease {
            fence,
            previous,
            visit: visit.clone(),
            valid_until: rx,
            renewer,
            cluster: self.clone(),
        }))
    }
}

/// Renews every third of the lease; each success moves the deadline on,
/// a refusal (someone else holds it) ends it now; errors leave it be.
async fn renew(cluster: Arc<Cluster>, tag: VisitTag, fence: Fence, until: watch::Sender<Instant>) {
    let lease_ms = cluster.lease.as_millis() as u64;
    let mut tick = tokio::time::interval(cluster.lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let mut conn = cluster.conn.clone();
        let sent = Instant::now();
        let r: Result<i64, _> = redis::cmd("EVAL")
            .arg(scripts::LEASE_RENEW)
            .arg(1)
            .arg(tag.lease())
            .arg(&fence.0)
            .arg(lease_ms)
            .query_async(&mut conn)
            .await;
        match r {
            Ok(1) => {
                let next = sent + cluster.lease - margin(cluster.lease);
                // Never later than a renewal sent while paused would allow.
                until.send_replace(next);
            }
            Ok(_) => {
                tracing::warn!(fence = %fence.0, "lease lost to another node");
                until.send_replace(Instant::now());
                return;
            }
            Err(e) => tracing::warn!(error = %e, "lease renewal failed"),
        }
    }
}

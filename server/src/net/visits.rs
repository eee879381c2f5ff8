//! The registry of running visits: visit id → the handle of the task that
//! owns it. Sessions look a visit up here, which starts its task if none
//! runs; a task removes itself when it exits. Kept apart from
//! [`crate::hub::Hub`], so the state every task shares knows nothing of
//! the tasks.
//!
//! In a cluster a task runs only under the visit's lease: looking a visit
//! up takes the lease if it is free (and starts the task), or answers a
//! handle that forwards to the node holding it ([`super::remote`]). A
//! lease held by a node whose presence lapsed (it died) is waited out, at
//! most about one lease, and then taken over.

use super::remote::Router;
use super::visit_task::{self, VisitHandle};
use crate::cluster::Cluster;
use crate::cluster::lease::{Lease, Owner};
use crate::hub::Hub;
use crate::store::Fence;
use bedside_protocol::{ParticipantId, Role, VisitId};
use dashmap::DashMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
struct Running {
    handle: VisitHandle,
    fence: Option<Fence>,
}

/// A live visit as the operator API lists it: who is connected here (ids
/// and roles only), and whether this node runs the visit's task.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LiveVisit {
    /// The visit.
    pub visit: VisitId,
    /// Its task runs here (in a cluster: this node owns it).
    pub here: bool,
    /// The participants whose sessions are attached here.
    pub participants: Vec<(ParticipantId, Role)>,
}

/// The running visits.
#[derive(Debug, Default)]
pub struct Visits {
    map: DashMap<VisitId, Running>,
    cluster: Option<(Arc<Cluster>, Arc<Router>)>,
    /// The sessions attached here (whichever node owns their visit).
    pub sessions: super::sessions::Sessions,
}

impl Visits {
    /// An empty registry (one node).
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// An empty registry of a cluster node, with the router forwarding its
    /// sessions of visits owned elsewhere (spawn [`Router::run`]).
    pub fn clustered(hub: &Arc<Hub>, cluster: Arc<Cluster>) -> Arc<Self> {
        Arc::new_cyclic(|me| {
            let router = Router::new(hub.clone(), cluster.clone(), me.clone());
            Self {
                map: DashMap::new(),
                cluster: Some((cluster, router)),
                sessions: Default::default(),
            }
        })
    }

    /// The router, in a cluster.
    pub fn router(&self) -> Option<&Arc<Router>> {
        self.cluster.as_ref().map(|(_, r)| r)
    }

    /// A handle on `visit`: its task here (started if needed) or, in a
    /// cluster, its owner elsewhere. `None`: the cluster's Redis did not
    /// answer, or the owner could not be found in time.
    pub async fn visit(self: &Arc<Self>, hub: &Arc<Hub>, visit: &VisitId) -> Option<VisitHandle> {
        let Some((cluster, router)) = &self.cluster else {
            return Some(self.start(hub, visit, None));
        };
        let deadline = tokio::time::Instant::now() + cluster.lease * 2;
        loop {
            if let Some(h) = self.open(visit) {
                return Some(h);
            }
            let (node, fence) = {
                let _one = cluster.acquiring.lock().await;
                if let Some(h) = self.open(visit) {
                    return Some(h);
                }
                match cluster.acquire(visit).await {
                    Ok(Owner::Me(lease)) => return Some(self.start(hub, visit, Some(lease))),
                    Ok(Owner::Other { node, fence }) => (node, fence),
                    Err(e) => {
                        tracing::warn!(visit = %visit, error = %e, "cannot look the visit's owner up");
                        return None;
                    }
                }
            };
            if cluster.is_alive(&node).await {
                return Some(router.remote(visit, node, fence));
            }
            // Its owner died: its lease lapses within one lease.
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The visits live here: those with a session attached here, and those
    /// whose task runs here, in visit order.
    pub fn live(&self) -> Vec<LiveVisit> {
        let mut by_visit = self.sessions.by_visit();
        for r in self.map.iter().filter(|r| !r.handle.is_closed()) {
            by_visit.entry(r.key().clone()).or_default();
        }
        by_visit
            .into_iter()
            .map(|(visit, participants)| LiveVisit {
                here: self.open(&visit).is_some(),
                visit,
                participants,
            })
            .collect()
    }

    /// The task running `visit` here, if any, with its fence (in a cluster).
    pub fn local(&self, visit: &VisitId) -> Option<(VisitHandle, Fence)> {
        self.map
            .get(visit)
            .filter(|r| !r.handle.is_closed())
            .and_then(|r| Some((r.handle.clone(), r.fence.clone()?)))
    }

    /// The task of `visit` if it runs on this node.
    pub fn running(&self, visit: &VisitId) -> Option<VisitHandle> {
        self.open(visit)
    }

    fn open(&self, visit: &VisitId) -> Option<VisitHandle> {
        self.map
            .get(visit)
            .filter(|r| !r.handle.is_closed())
            .map(|r| r.handle.clone())
    }

    /// The running task, or a new one (under `lease`, in a cluster).
    fn start(
        self: &Arc<Self>,
        hub: &Arc<Hub>,
        visit: &VisitId,
        lease: Option<Lease>,
    ) -> VisitHandle {
        use dashmap::mapref::entry::Entry;
        let fence = lease.as_ref().map(|l| l.fence.clone());
        let spawn = |lease| visit_task::spawn(hub.clone(), self.clone(), visit.clone(), lease);
        match self.map.entry(visit.clone()) {
            Entry::Occupied(e) if !e.get().handle.is_closed() => e.get().handle.clone(),
            Entry::Occupied(mut e) => {
                let handle = spawn(lease);
                e.insert(Running {
                    handle: handle.clone(),
                    fence,
                });
                handle
            }
            Entry::Vacant(e) => {
                let handle = spawn(lease);
                e.insert(Running {
                    handle: handle.clone(),
                    fence,
                });
                handle
            }
        }
    }

    /// Called by a visit task on exit: forget it unless a newer task
    /// replaced it.
    pub(crate) fn exited(&self, visit: &VisitId, handle: &VisitHandle) {
        self.map.remove_if(visit, |_, r| r.handle.same(handle));
    }
}

//! The registry of running visits: visit id → the handle of the task that
//! owns it. Sessions look a visit up here, which starts its task if none
//! runs; a task removes itself when it exits. Kept apart from
//! [`crate::hub::Hub`], so the state every task shares knows nothing of
//! the tasks.

use super::visit_task::{self, VisitHandle};
use crate::hub::Hub;
use bedside_protocol::VisitId;
use dashmap::DashMap;
use std::sync::Arc;

/// The running visits.
#[derive(Debug, Default)]
pub struct Visits {
    map: DashMap<VisitId, VisitHandle>,
}

impl Visits {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The handle of the task owning `visit`, starting one if none runs.
    pub fn visit(self: &Arc<Self>, hub: &Arc<Hub>, visit: &VisitId) -> VisitHandle {
        use dashmap::mapref::entry::Entry;
        match self.map.entry(visit.clone()) {
            Entry::Occupied(e) if !e.get().is_closed() => e.get().clone(),
            Entry::Occupied(mut e) => {
                let h = visit_task::spawn(hub.clone(), self.clone(), visit.clone());
                e.insert(h.clone());
                h
            }
            Entry::Vacant(e) => {
                let h = visit_task::spawn(hub.clone(), self.clone(), visit.clone());
                e.insert(h.clone());
                h
            }
        }
    }

    /// Called by a visit task on exit: forget it unless a newer task
    /// replaced it.
    pub(crate) fn exited(&self, visit: &VisitId, handle: &VisitHandle) {
        self.map.remove_if(visit, |_, h| h.same(handle));
    }
}

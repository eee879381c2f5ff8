//! A visit's inbox: a bounded multi-producer, single-consumer queue that
//! holds no allocation while it is empty. (tokio's bounded channel keeps a
//! 32-slot block per channel for life; with one inbox per visit that was the
//! largest item of an idle visit.) Senders wait for room, which is how a busy
//! visit slows the connections feeding it. The receiver takes the whole queue
//! at once and gives the room back as it does.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, Semaphore};

/// A queue holding at most `capacity` items waiting to be taken.
pub fn inbox<T>(capacity: usize) -> (InboxSender<T>, InboxReceiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            senders: 1,
            closed: false,
        }),
        room: Semaphore::new(capacity),
        ready: Notify::new(),
    });
    (
        InboxSender {
            shared: shared.clone(),
        },
        InboxReceiver {
            shared,
            taken: VecDeque::new(),
        },
    )
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Room left; closed when the receiver goes.
    room: Semaphore,
    /// Something was queued, or the last sender went.
    ready: Notify,
}

struct State<T> {
    items: VecDeque<T>,
    senders: usize,
    closed: bool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while holding the lock; a poisoned lock is still valid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending side; cloneable.
pub struct InboxSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> InboxSender<T> {
    /// Queues `value`, waiting for room; gives it back if the receiver is gone.
    pub async fn send(&self, value: T) -> Result<(), T> {
        match self.shared.room.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(value),
        }
        let first = {
            let mut s = self.shared.lock();
            if s.closed {
                return Err(value);
            }
            s.items.push_back(value);
            s.items.len() == 1
        };
        if first {
            self.shared.ready.notify_one();
        }
        Ok(())
    }

    /// The receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// Both send to the same receiver.
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for InboxSender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for InboxSender<T> {
    fn drop(&mut self) {
        let last = {
            let mut s = self.shared.lock();
            s.senders -= 1;
            s.senders == 0
        };
        if last {
            self.shared.ready.notify_one();
        }
    }
}

impl<T> std::fmt::Debug for InboxSender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxSender").finish_non_exhaustive()
    }
}

/// The receiving side.
pub struct InboxReceiver<T> {
    shared: Arc<Shared<T>>,
    /// Taken from the queue, not yet handed out.
    taken: VecDeque<T>,
}

impl<T> InboxReceiver<T> {
    /// The next item; `None` once every sender is gone and nothing is left.
    /// Cancel-safe: an item is only removed when it is returned.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            if let Some(v) = self.try_recv() {
                return Some(v);
            }
            if self.shared.lock().senders == 0 {
                return self.try_recv();
            }
            self.shared.ready.notified().await;
        }
    }

    /// The next item if one is waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        if self.taken.is_empty() {
            self.taken = std::mem::take(&mut self.shared.lock().items);
            self.shared.room.add_permits(self.taken.len());
        }
        let next = self.taken.pop_front();
        if self.taken.is_empty() {
            // Let the batch's allocation go: an idle inbox holds none.
            self.taken = VecDeque::new();
        }
        next
    }

    /// Refuses further sends; what is queued stays for `try_recv`.
    pub fn close(&mut self) {
        self.shared.lock().closed = true;
        self.shared.room.close();
    }
}

impl<T> std::fmt::Debug for InboxReceiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxReceiver").finish_non_exhaustive()
    }
}

impl<T> Drop for InboxReceiver<T> {
    /// Closes and drops what is still queued (its senders see it dropped).
    fn drop(&mut self) {
        self.close();
        let left = std::mem::take(&mut self.shared.lock().items);
        drop(left);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn in_order_bounded_and_empty_when_idle() {
        let (tx, mut rx) = inbox::<u32>(2);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        // Full: the third send waits until the receiver takes the queue.
        let tx2 = tx.clone();
        let third = tokio::spawn(async move { tx2.send(3).await });
        tokio::task::yield_now().await;
        assert!(!third.is_finished());
        assert_eq!(rx.recv().await, Some(1));
        third.await.unwrap().unwrap();
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(3));
        assert_eq!(rx.taken.capacity(), 0, "an idle inbox holds no allocation");
        assert_eq!(rx.shared.lock().items.capacity(), 0);
        drop(tx);
        assert_eq!(rx.recv().await, None, "every sender gone");
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_and_a_cancelled_wait_loses_nothing() {
        let (tx, mut rx) = inbox::<u32>(8);
        // A recv cancelled while waiting (as in `select!`).
        tokio::select! {
            _ = rx.recv() => panic!("nothing was sent"),
            _ = tokio::task::yield_now() => {}
        }
        let t = tokio::spawn(async move {
            tx.send(7).await.unwrap();
            tx
        });
        assert_eq!(rx.recv().await, Some(7));
        drop(t.await.unwrap());
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_closed_or_dropped_receiver_refuses_and_drops_what_was_queued() {
        let (tx, mut rx) = inbox::<Arc<()>>(8);
        let item = Arc::new(());
        tx.send(item.clone()).await.unwrap();
        rx.close();
        assert!(tx.is_closed());
        assert!(tx.send(Arc::new(())).await.is_err());
        assert!(rx.try_recv().is_some(), "queued before the close");
        tx.send(Arc::new(())).await.unwrap_err();
        let (tx, rx) = inbox::<Arc<()>>(8);
        tx.send(item.clone()).await.unwrap();
        assert_eq!(Arc::strong_count(&item), 2);
        drop(rx);
        assert_eq!(Arc::strong_count(&item), 1, "dropped with the receiver");
        assert!(tx.same(&tx.clone()));
    }
}

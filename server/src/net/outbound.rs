//! Per-connection bounded send queue and the writer task draining it.
//!
//! The visit never waits on a client: it queues shared, already serialized
//! frames. The queue is bounded in frames and in bytes, which absorbs bursts
//! (a visit can outpace a writer task for a moment on a busy hub) but not a
//! client that stops reading: that one is closed with 1013 (try again later)
//! and can resume. The hub never buffers without bound.

use crate::visit::ConnId;
use bedside_protocol::CloseCode;
use futures_util::{Sink, SinkExt};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Frames a connection may have queued before it counts as not draining.
pub const QUEUE_FRAMES: usize = 4096;
/// Bytes a connection may have queued before it counts as not draining.
pub const QUEUE_BYTES: usize = 1024 * 1024;

/// Close code for a client that does not drain its queue (RFC 6455 "try again later").
pub const SLOW_CONSUMER_CLOSE: u16 = 1013;

/// What the writer task sends.
#[derive(Debug)]
pub enum Outbound {
    /// A serialized message, shared among all recipients of a fan-out.
    Frame(Utf8Bytes),
    /// Send a close frame and stop.
    Close(CloseCode),
}

/// The sending side of a connection's queue, held by its visit.
#[derive(Debug)]
pub struct ConnHandle {
    /// The connection.
    pub id: ConnId,
    shared: Arc<Shared>,
}

/// The queue between the handles and the writer. An idle connection's
/// queue holds no allocation: the writer takes the whole deque each time.
#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Something was queued (or the last handle went).
    wake: Notify,
    /// The queue overflowed: the writer stops even mid-write.
    overflow: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Outbound>,
    bytes: usize,
    handles: usize,
}

/// The queue was full: the connection is being dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

impl ConnHandle {
    /// Queues a frame; on a full queue, signals the writer to drop the client.
    pub fn send(&self, frame: Utf8Bytes) -> Result<(), Overflow> {
        self.push(Outbound::Frame(frame))
    }

    /// Queues a close.
    pub fn close(&self, code: CloseCode) -> Result<(), Overflow> {
        self.push(Outbound::Close(code))
    }

    fn push(&self, out: Outbound) -> Result<(), Overflow> {
        let len = match &out {
            Outbound::Frame(t) => t.len(),
            Outbound::Close(_) => 0,
        };
        let was_empty = {
            let mut q = self.shared.lock();
            if q.items.len() >= QUEUE_FRAMES || q.bytes + len > QUEUE_BYTES {
                drop(q);
                self.shared.overflow.notify_one();
                return Err(Overflow);
            }
            q.bytes += len;
            q.items.push_back(out);
            q.items.len() == 1
        };
        if was_empty {
            self.shared.wake.notify_one();
        }
        Ok(())
    }
}

impl Clone for ConnHandle {
    fn clone(&self) -> Self {
        self.shared.lock().handles += 1;
        Self {
            id: self.id,
            shared: self.shared.clone(),
        }
    }
}

impl Drop for ConnHandle {
    fn drop(&mut self) {
        let last = {
            let mut q = self.shared.lock();
            q.handles -= 1;
            q.handles == 0
        };
        if last {
            self.shared.wake.notify_one();
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A panic while holding the lock cannot leave the queue invalid.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connection's queue: the handle for others and the writer's end.
pub fn queue(id: ConnId) -> (ConnHandle, Writer) {
    let shared = Arc::new(Shared::default());
    shared.lock().handles = 1;
    (
        ConnHandle {
            id,
            shared: shared.clone(),
        },
        Writer { shared },
    )
}

/// The draining end of a connection's queue.
#[derive(Debug)]
pub struct Writer {
    shared: Arc<Shared>,
}

/// How the writer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterEnd {
    /// Sent a close frame with this code.
    Closed(u16),
    /// Every handle dropped.
    Drained,
    /// The socket failed.
    Failed,
}

fn close_message(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: WsCode::from(code),
        reason: Utf8Bytes::from(reason.to_owned()),
    }))
}

impl Writer {
    /// Drains the queue into `sink` until a close, an overflow, or the end.
    /// Batches: frames already queued are fed before one flush. An overflow
    /// interrupts even a write blocked on a full socket.
    pub async fn run<S>(self, mut sink: S) -> WriterEnd
    where
        S: Sink<Message> + Unpin,
    {
        let shared = self.shared.clone();
        let end = async {
            loop {
                let (batch, gone) = {
                    let mut q = shared.lock();
                    q.bytes = 0;
                    (std::mem::take(&mut q.items), q.handles == 0)
                };
                if batch.is_empty() {
                    if gone {
                        let _ = sink.close().await;
                        return WriterEnd::Drained;
                    }
                    shared.wake.notified().await;
                    continue;
                }
                for item in batch {
                    match item {
                        Outbound::Frame(text) => {
                            if sink.feed(Message::Text(text)).await.is_err() {
                                return WriterEnd::Failed;
                            }
                        }
                        Outbound::Close(code) => {
                            let _ = sink.send(close_message(code.code(), code.reason())).await;
                            let _ = sink.close().await;
                            return WriterEnd::Closed(code.code());
                        }
                    }
                }
                if sink.flush().await.is_err() {
                    return WriterEnd::Failed;
                }
            }
        };
        tokio::select! {
            biased;
            _ = self.shared.overflow.notified() => {}
            end = end => return end,
        }
        // The client stopped reading: try to say why, but never wait long.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(100), async {
            let _ = sink
                .send(close_message(
                    SLOW_CONSUMER_CLOSE,
                    "not reading fast enough",
                ))
                .await;
        })
        .await;
        WriterEnd::Closed(SLOW_CONSUMER_CLOSE)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn texts(out: &[Message]) -> Vec<String> {
        out.iter()
            .map(|m| match m {
                Message::Text(t) => t.to_string(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn frames_go_out_in_order_and_an_idle_queue_holds_no_memory() {
        let (h, w) = queue(ConnId(1));
        h.send("a".into()).unwrap();
        h.send("b".into()).unwrap();
        let h2 = h.clone();
        let task = tokio::spawn(async move {
            let mut out = Vec::new();
            let end = w.run(&mut out).await;
            (end, out)
        });
        while !h.shared.lock().items.is_empty() {
            tokio::task::yield_now().await;
        }
        assert_eq!(h.shared.lock().items.capacity(), 0);
        h2.send("c".into()).unwrap();
        drop(h);
        drop(h2);
        let (end, out) = task.await.unwrap();
        assert_eq!(end, WriterEnd::Drained);
        assert_eq!(texts(&out), ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_client_that_does_not_drain_is_closed_with_1013() {
        let (h, w) = queue(ConnId(1));
        for _ in 0..QUEUE_FRAMES {
            h.send("x".into()).unwrap();
        }
        assert_eq!(h.send("x".into()), Err(Overflow));
        let mut out = Vec::new();
        assert_eq!(
            w.run(&mut out).await,
            WriterEnd::Closed(SLOW_CONSUMER_CLOSE)
        );
        // Bytes count too.
        let (h, _w) = queue(ConnId(2));
        let big = Utf8Bytes::from("y".repeat(QUEUE_BYTES / 2 + 1));
        h.send(big.clone()).unwrap();
        assert_eq!(h.send(big), Err(Overflow));
    }

    #[tokio::test]
    async fn a_close_is_sent_after_what_was_queued_before_it() {
        let (h, w) = queue(ConnId(1));
        h.send("last words".into()).unwrap();
        h.close(CloseCode::GoingAway).unwrap();
        let mut out = Vec::new();
        let end = w.run(&mut out).await;
        assert_eq!(end, WriterEnd::Closed(CloseCode::GoingAway.code()));
        assert_eq!(texts(&out[..1]), ["last words"]);
        assert!(matches!(out[1], Message::Close(Some(_))));
    }
}

//! Per-connection bounded send queue and the writer task draining it.
//!
//! The visit never waits on a client: it queues shared, already serialized
//! frames. The queue is bounded in frames and in bytes, which absorbs bursts
//! (a visit can outpace a writer task for a moment on a busy hub) but not a
//! client that stops reading: that one is closed with 1013 (try again later)
//! and can resume. The hub never buffers without bound.

use crate::visit::ConnId;
use bedside_protocol::CloseCode;
use futures_util::task::AtomicWaker;
use futures_util::{Sink, SinkExt};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
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
    /// The writer's task: woken when something is queued, the last handle
    /// goes, or the queue overflows.
    writer: AtomicWaker,
    /// The queue overflowed: the writer stops even mid-write.
    overflowed: AtomicBool,
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
                self.shared.overflowed.store(true, Ordering::Release);
                self.shared.writer.wake();
                return Err(Overflow);
            }
            q.bytes += len;
            q.items.push_back(out);
            q.items.len() == 1
        };
        if was_empty {
            self.shared.writer.wake();
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
            self.shared.writer.wake();
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
        let drain = Drain {
            shared: &self.shared,
            sink: &mut sink,
            batch: VecDeque::new(),
            step: Step::Feed { fed: false },
        };
        if let Some(end) = drain.await {
            return end;
        }
        // Boxed: the rare path's timer stays out of every writer's state.
        Box::pin(say_too_slow(&mut sink)).await;
        WriterEnd::Closed(SLOW_CONSUMER_CLOSE)
    }
}

/// The client stopped reading: try to say why, but never wait long.
async fn say_too_slow<S>(sink: &mut S)
where
    S: Sink<Message> + Unpin,
{
    let message = close_message(SLOW_CONSUMER_CLOSE, "not reading fast enough");
    let _ = tokio::time::timeout(std::time::Duration::from_millis(100), sink.send(message)).await;
}

/// The writer's loop as a hand-written future: it waits on one
/// [`AtomicWaker`] (no waiter nodes or timers in its state, which every
/// connection holds for life) and checks for an overflow at every wake-up.
struct Drain<'a, S> {
    shared: &'a Shared,
    sink: &'a mut S,
    /// Taken from the queue, not yet fed to the sink.
    batch: VecDeque<Outbound>,
    step: Step,
}

enum Step {
    /// Feed the batch (taking the next one when it is empty); `fed`: frames
    /// went into the sink since the last flush.
    Feed { fed: bool },
    /// Flush what was fed, then feed again.
    Flush,
    /// Send a close frame with this code (`sent`: it is in the sink), flush, close.
    Close { code: CloseCode, sent: bool },
    /// Close the sink and end with this.
    Shut(WriterEnd),
}

impl<S> Future for Drain<'_, S>
where
    S: Sink<Message> + Unpin,
{
    /// `None`: the queue overflowed.
    type Output = Option<WriterEnd>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        // Registered before the queue is looked at, so a push that finds
        // it empty afterwards wakes this task.
        this.shared.writer.register(cx.waker());
        loop {
            if this.shared.overflowed.load(Ordering::Acquire) {
                return Poll::Ready(None);
            }
            let mut sink = Pin::new(&mut *this.sink);
            match this.step {
                Step::Feed { fed } => {
                    if this.batch.is_empty() {
                        if fed {
                            this.step = Step::Flush;
                            continue;
                        }
                        let gone = {
                            let mut q = this.shared.lock();
                            q.bytes = 0;
                            this.batch = std::mem::take(&mut q.items);
                            q.handles == 0
                        };
                        if this.batch.is_empty() {
                            if gone {
                                this.step = Step::Shut(WriterEnd::Drained);
                                continue;
                            }
                            return Poll::Pending;
                        }
                    }
                    if let Some(&Outbound::Close(code)) = this.batch.front() {
                        // Nothing after a close is sent.
                        this.batch = VecDeque::new();
                        this.step = Step::Close { code, sent: false };
                        continue;
                    }
                    // The frame stays queued until the sink has room for it.
                    if ready!(sink.as_mut().poll_ready(cx)).is_err() {
                        return Poll::Ready(Some(WriterEnd::Failed));
                    }
                    if let Some(Outbound::Frame(text)) = this.batch.pop_front()
                        && sink.start_send(Message::Text(text)).is_err()
                    {
                        return Poll::Ready(Some(WriterEnd::Failed));
                    }
                    this.step = Step::Feed { fed: true };
                }
                Step::Flush => {
                    if ready!(sink.poll_flush(cx)).is_err() {
                        return Poll::Ready(Some(WriterEnd::Failed));
                    }
                    this.step = Step::Feed { fed: false };
                }
                Step::Close { code, sent: false } => {
                    let sent = ready!(sink.as_mut().poll_ready(cx)).is_ok()
                        && sink
                            .start_send(close_message(code.code(), code.reason()))
                            .is_ok();
                    this.step = if sent {
                        Step::Close { code, sent: true }
                    } else {
                        Step::Shut(WriterEnd::Closed(code.code()))
                    };
                }
                Step::Close { code, sent: true } => {
                    // A failed flush still ends in a close attempt.
                    let _ = ready!(sink.poll_flush(cx));
                    this.step = Step::Shut(WriterEnd::Closed(code.code()));
                }
                Step::Shut(end) => {
                    let _ = ready!(sink.poll_close(cx));
                    return Poll::Ready(Some(end));
                }
            }
        }
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

    /// A sink whose socket never drains.
    struct Stuck;
    impl Sink<Message> for Stuck {
        type Error = ();
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Pending
        }
        fn start_send(self: Pin<&mut Self>, _: Message) -> Result<(), ()> {
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Pending
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn an_overflow_interrupts_a_writer_blocked_on_the_socket() {
        let (h, w) = queue(ConnId(1));
        h.send("first".into()).unwrap();
        let task = tokio::spawn(w.run(Stuck));
        // The writer takes the frame and blocks on the socket.
        while !h.shared.lock().items.is_empty() {
            tokio::task::yield_now().await;
        }
        for _ in 0..QUEUE_FRAMES {
            h.send("x".into()).unwrap();
        }
        assert_eq!(h.send("x".into()), Err(Overflow));
        let end = tokio::time::timeout(std::time::Duration::from_secs(10), task)
            .await
            .expect("the overflow must end the blocked writer");
        assert_eq!(end.unwrap(), WriterEnd::Closed(SLOW_CONSUMER_CLOSE));
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

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
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Notify, mpsc};
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
#[derive(Debug, Clone)]
pub struct ConnHandle {
    /// The connection.
    pub id: ConnId,
    tx: mpsc::UnboundedSender<Outbound>,
    queued: Arc<Queued>,
    overflow: Arc<Notify>,
}

/// What sits in a queue, counted by the senders and the writer.
#[derive(Debug, Default)]
struct Queued {
    frames: AtomicUsize,
    bytes: AtomicUsize,
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
        let frames = self.queued.frames.fetch_add(1, Ordering::Relaxed) + 1;
        let bytes = self.queued.bytes.fetch_add(len, Ordering::Relaxed) + len;
        if frames > QUEUE_FRAMES || bytes > QUEUE_BYTES {
            self.queued.frames.fetch_sub(1, Ordering::Relaxed);
            self.queued.bytes.fetch_sub(len, Ordering::Relaxed);
            self.overflow.notify_one();
            return Err(Overflow);
        }
        // A closed receiver means the connection is already gone.
        let _ = self.tx.send(out);
        Ok(())
    }
}

/// A connection's queue: the handle for others and the writer's end.
pub fn queue(id: ConnId) -> (ConnHandle, Writer) {
    let (tx, rx) = mpsc::unbounded_channel();
    let overflow = Arc::new(Notify::new());
    let queued = Arc::new(Queued::default());
    (
        ConnHandle {
            id,
            tx,
            queued: queued.clone(),
            overflow: overflow.clone(),
        },
        Writer {
            rx,
            queued,
            overflow,
        },
    )
}

/// The draining end of a connection's queue.
#[derive(Debug)]
pub struct Writer {
    rx: mpsc::UnboundedReceiver<Outbound>,
    queued: Arc<Queued>,
    overflow: Arc<Notify>,
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
    pub async fn run<S>(mut self, mut sink: S) -> WriterEnd
    where
        S: Sink<Message> + Unpin,
    {
        let overflow = self.overflow.clone();
        let end = async {
            loop {
                let mut item = match self.rx.recv().await {
                    Some(item) => item,
                    None => {
                        let _ = sink.close().await;
                        return WriterEnd::Drained;
                    }
                };
                loop {
                    self.queued.frames.fetch_sub(1, Ordering::Relaxed);
                    match item {
                        Outbound::Frame(text) => {
                            self.queued.bytes.fetch_sub(text.len(), Ordering::Relaxed);
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
                    match self.rx.try_recv() {
                        Ok(more) => item = more,
                        Err(_) => break,
                    }
                }
                if sink.flush().await.is_err() {
                    return WriterEnd::Failed;
                }
            }
        };
        tokio::select! {
            biased;
            _ = overflow.notified() => {}
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

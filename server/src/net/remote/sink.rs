//! The owner's end of a remote participant's connection: the visit queues
//! frames on an ordinary [`ConnHandle`](crate::net::outbound::ConnHandle),
//! and its writer drains them into this sink, which publishes each to the
//! socket node, numbered, one at a time (so they arrive in order). A
//! publish nobody received (the socket node is gone) fails the sink, which
//! ends the writer like a broken socket.

use super::wire::{RemoteOutput, Wire};
use crate::cluster::Cluster;
use crate::store::StoreError;
use futures_util::Sink;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio_tungstenite::tungstenite::Message;

type Publish = Pin<Box<dyn Future<Output = Result<bool, StoreError>> + Send>>;

/// Publishes a connection's frames to the node holding its socket.
pub struct RemoteSink {
    cluster: Arc<Cluster>,
    node: String,
    link: u64,
    fence: String,
    n: u64,
    inflight: Option<Publish>,
}

impl std::fmt::Debug for RemoteSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSink")
            .field("node", &self.node)
            .field("link", &self.link)
            .finish()
    }
}

/// The socket node is gone or Redis failed.
#[derive(Debug)]
pub struct Unreachable;

impl RemoteSink {
    /// Frames for `link` on `node`, stamped with `fence`.
    pub fn new(cluster: Arc<Cluster>, node: String, link: u64, fence: String) -> Self {
        Self {
            cluster,
            node,
            link,
            fence,
            n: 0,
            inflight: None,
        }
    }

    fn poll_inflight(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Unreachable>> {
        let Some(f) = self.inflight.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let r = std::task::ready!(f.as_mut().poll(cx));
        self.inflight = None;
        Poll::Ready(match r {
            Ok(true) => Ok(()),
            Ok(false) | Err(_) => Err(Unreachable),
        })
    }
}

impl Sink<Message> for RemoteSink {
    type Error = Unreachable;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Unreachable>> {
        self.get_mut().poll_inflight(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Unreachable> {
        let this = self.get_mut();
        let out = match item {
            Message::Text(t) => RemoteOutput::Text {
                text: t.as_str().to_owned(),
            },
            Message::Close(frame) => RemoteOutput::Close {
                code: frame.map(|f| u16::from(f.code)).unwrap_or(1000),
            },
            _ => return Ok(()),
        };
        this.n += 1;
        let wire = Wire::Out {
            link: this.link,
            fence: this.fence.clone(),
            n: this.n,
            out,
        };
        let payload = serde_json::to_vec(&wire).map_err(|_| Unreachable)?;
        let (cluster, node) = (this.cluster.clone(), this.node.clone());
        this.inflight = Some(Box::pin(
            async move { cluster.publish(&node, &payload).await },
        ));
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Unreachable>> {
        self.get_mut().poll_inflight(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Unreachable>> {
        self.get_mut().poll_inflight(cx)
    }
}

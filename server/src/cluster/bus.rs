//! The channels frames are forwarded on: each node subscribes to its own
//! (`bs:to:NODE`) over RESP3 on a connection of its own, and publishes on
//! the cluster's shared connection, so what it sends one node arrives in
//! the order it was sent.
//!
//! Redis pub/sub is at-most-once: a message published while the subscriber
//! is disconnected is lost. The subscription reports each disconnection as
//! [`BusEvent::Gap`] (the links that relied on it must be torn down: their
//! sessions resume and catch up from the store), and pings its connection
//! every heartbeat, which reconnects and resubscribes it once Redis is back.

use super::Cluster;
use crate::store::StoreError;
use crate::store::redis::{self as backend, keys};
use redis::{PushKind, Value};
use tokio::sync::mpsc;

/// What the subscription delivers.
#[derive(Debug)]
pub enum BusEvent {
    /// A message published to this node.
    Message(Vec<u8>),
    /// The subscription was interrupted: messages may have been lost.
    Gap,
    /// The subscription is (again) in place.
    Subscribed,
}

impl Cluster {
    /// Subscribes to this node's channel.
    pub async fn subscribe(&self) -> Result<mpsc::UnboundedReceiver<BusEvent>, StoreError> {
        let (push_tx, mut push_rx) = mpsc::unbounded_channel();
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_push_sender(push_tx)
            .set_automatic_resubscription();
        let mut conn = backend::connect(&self.client, config).await?;
        conn.subscribe(keys::node_channel(&self.node)).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let every = self.beat_every();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    push = push_rx.recv() => {
                        let Some(push) = push else { return };
                        let event = match push.kind {
                            PushKind::Message => match push.data.into_iter().nth(1) {
                                Some(Value::BulkString(b)) => BusEvent::Message(b),
                                _ => continue,
                            },
                            PushKind::Disconnection => BusEvent::Gap,
                            PushKind::Subscribe => BusEvent::Subscribed,
                            _ => continue,
                        };
                        if tx.send(event).is_err() {
                            return;
                        }
                    }
                    _ = tick.tick() => {
                        // Keeps a dropped subscription reconnecting.
                        let _: Result<Value, _> = redis::cmd("PING").query_async(&mut conn).await;
                    }
                }
            }
        });
        Ok(rx)
    }

    /// Publishes `payload` to `node`; answers whether any process is
    /// subscribed there (false: the node is gone).
    pub async fn publish(&self, node: &str, payload: &[u8]) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let n: i64 = redis::cmd("PUBLISH")
            .arg(keys::node_channel(node))
            .arg(payload)
            .query_async(&mut conn)
            .await?;
        Ok(n > 0)
    }
}

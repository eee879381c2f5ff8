//! The tokio shell around the sans-IO visit: listener and TLS, HTTP routes
//! next to the socket, WebSocket sessions, per-connection send queues, and the
//! task that drives each visit, and (in a cluster) the forwarding of
//! sessions whose visit another node owns.

pub mod admin;
pub mod http;
pub mod inbox;
pub mod outbound;
pub mod remote;
pub mod session;
pub mod sessions;
pub mod tls;
pub mod visit_task;
pub mod visits;

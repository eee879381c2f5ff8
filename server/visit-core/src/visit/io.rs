//! What crosses between the visit and its shell: the [`Input`]s handed to
//! [`Visit::handle`](super::Visit::handle) (a [`Join`], a parsed client
//! message, the store's answers, time passing) and the [`Output`]s it returns
//! for the shell to carry out, in order.

use super::ConnId;
use crate::sdp::SdpSummary;
use crate::store::{StoredMessage, VisitWrite};
use bedside_protocol::time::UnixSecs;
use bedside_protocol::{
    ClientMessage, CloseCode, DeviceId, IceServer, MessageId, ParticipantId, Permission, Role,
    ServerMessage,
};

/// An authenticated connection asking to enter the visit.
#[derive(Debug, Clone)]
pub struct Join {
    /// The connection.
    pub conn: ConnId,
    /// Session id for `welcome`.
    pub session: String,
    /// The participant (token `sub`).
    pub participant: ParticipantId,
    /// Display name from the token.
    pub name: Option<String>,
    /// Role from the token.
    pub role: Role,
    /// Permissions claimed by the token.
    pub perms: Vec<Permission>,
    /// Device from `hello`.
    pub device: Option<DeviceId>,
    /// Session expiry (the token's `exp`).
    pub expires_at: UnixSecs,
    /// The fresh resume token for `welcome` (already stored by the shell).
    pub resume_token: String,
    /// ICE servers for `welcome`.
    pub ice_servers: Vec<IceServer>,
    /// From `resume`: the highest e2e seq the client has processed.
    pub last_seq: Option<u64>,
    /// The session continues an earlier one (`resume`).
    pub resumed: bool,
    /// Extensions the client asked for.
    pub features: bedside_protocol::Features,
    /// The client's IP address, for the audit log.
    pub ip: Option<String>,
    /// Patient record id from the token, for the audit log.
    pub patient_id: Option<String>,
}

/// Something that happens to the visit.
#[derive(Debug)]
pub enum Input {
    /// A connection authenticated for this visit.
    Join(Box<Join>),
    /// A parsed client message. `sdp` is the summary of a validated offer/answer.
    Message {
        /// From which connection.
        conn: ConnId,
        /// The client's message id.
        id: Option<MessageId>,
        /// The message (boxed, as is `Committed`'s result: the visit inbox's
        /// slots are as large as the largest `Input`).
        msg: Box<ClientMessage>,
        /// For offer/answer: the validated SDP's summary.
        sdp: Option<SdpSummary>,
    },
    /// The connection refreshed its token; the session now expires at `expires_at`.
    Refreshed {
        /// Which connection.
        conn: ConnId,
        /// New expiry (the refresh token's `exp`).
        expires_at: UnixSecs,
    },
    /// A message arrived (activity) that the connection handled itself.
    Activity {
        /// Which connection.
        conn: ConnId,
    },
    /// The transport closed (or the hub dropped a slow consumer).
    Closed {
        /// Which connection.
        conn: ConnId,
    },
    /// The store answered an append: the message with its seq, or a failure.
    Committed {
        /// The sender's connection.
        conn: ConnId,
        /// The sender's message id.
        id: Option<MessageId>,
        /// The stored message.
        result: Result<Box<StoredMessage>, VisitFailure>,
    },
    /// The store answered a backlog query.
    Backlog {
        /// The connection catching up.
        conn: ConnId,
        /// Missed messages in seq order.
        result: Result<Vec<StoredMessage>, VisitFailure>,
    },
    /// An operator (the operator API) acts on the visit, audited as `by`.
    Operator {
        /// What to do.
        op: OperatorOp,
        /// The operator (their `sub`, role `admin`, address).
        by: std::sync::Arc<crate::audit::Actor>,
    },
    /// The hub is shutting down: close everyone with 1001.
    Shutdown,
    /// Time passed; check timers.
    Tick,
    /// Tests only: a bug in the state machine, to test what the shell does.
    #[cfg(any(test, feature = "test-hooks"))]
    InjectedPanic,
}

/// What an operator does to a visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorOp {
    /// End it for everyone (4012), as a provider's `end_visit` does.
    EndVisit,
    /// Take a participant out (waiting or admitted; 4003), as a provider's
    /// `deny` or `remove` does.
    Remove(ParticipantId),
}

/// A request of the visit (an append, a backlog query) that the shell
/// could not carry out. The shell logs the cause; the visit only needs to
/// know that it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitFailure {
    /// The store failed or is gone; the write may not have happened.
    Store,
}

/// Something the shell must do.
#[derive(Debug)]
pub enum Output {
    /// Serialize `msg` once and queue it on each connection.
    Send {
        /// Recipients.
        to: Vec<ConnId>,
        /// The message.
        msg: ServerMessage,
    },
    /// Close a connection (after what was queued before).
    Close {
        /// Which.
        conn: ConnId,
        /// With what code.
        code: CloseCode,
    },
    /// Write durably before performing any following Send.
    Persist(VisitWrite),
    /// Write without holding anything back (e.g. a recipient's ack).
    Background(VisitWrite),
    /// Record in the audit trail; what follows waits for the durability.
    Audit(Box<crate::audit::Event>, crate::audit::Durability),
    /// Raise an ALERT (audit record, log, metric, webhook).
    Alert(crate::audit::AlertKind, Box<crate::audit::Event>),
    /// Store an e2e message; answer with [`Input::Committed`], in order.
    Append {
        /// The sender's connection.
        conn: ConnId,
        /// The sender's message id.
        id: Option<MessageId>,
        /// The message (seq 0: the store assigns it).
        message: StoredMessage,
    },
    /// Load what `participant` missed; answer with [`Input::Backlog`].
    LoadBacklog {
        /// The connection catching up.
        conn: ConnId,
        /// Whose messages.
        participant: ParticipantId,
        /// Exclusive lower bound.
        after: u64,
    },
}

//! What nodes send each other on their channels (JSON): a socket node's
//! joins and inputs for a visit another node owns, and the owner's frames
//! and closes back. Every message names the link (the socket node's id for
//! the session, fresh in every process) and the owner's fence; inputs and
//! frames are numbered per link from 1, so a lost message shows as a gap.

use crate::visit::Join;
use bedside_protocol::time::UnixSecs;
use bedside_protocol::{DeviceId, Features, ParticipantId, Permission, Role, VisitId};
use serde::{Deserialize, Serialize};

/// One message between nodes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Wire {
    /// Socket node → owner: attach this connection.
    Join {
        /// The socket node.
        from: String,
        /// The link.
        link: u64,
        /// The visit.
        visit: VisitId,
        /// The owner's fence the socket node found.
        fence: String,
        /// Who joins.
        join: Box<RemoteJoin>,
    },
    /// Socket node → owner: the connection's next input.
    In {
        /// The socket node.
        from: String,
        /// The link.
        link: u64,
        /// The owner's fence.
        fence: String,
        /// Number on this link (from 1).
        n: u64,
        /// The input.
        input: RemoteInput,
    },
    /// Owner → socket node: attached.
    Attached {
        /// The link.
        link: u64,
        /// The owner's fence.
        fence: String,
    },
    /// Owner → socket node: not attached (this node does not own the visit
    /// under that fence); look the visit up again.
    Refused {
        /// The link.
        link: u64,
    },
    /// Owner → socket node: the next frame or the close.
    Out {
        /// The link.
        link: u64,
        /// The owner's fence.
        fence: String,
        /// Number on this link (from 1).
        n: u64,
        /// What to do.
        out: RemoteOutput,
    },
    /// Any node → owner: an operator's call on a visit it owns (the operator
    /// API answered on another node).
    Operator {
        /// The visit.
        visit: VisitId,
        /// The owner's fence the sending node found.
        fence: String,
        /// End the visit (`None`) or remove this participant.
        remove: Option<ParticipantId>,
        /// The operator (`sub`) and their address, for the audit records.
        by: String,
        /// The operator's IP address.
        ip: Option<String>,
    },
    /// Any node → every other: what it holds for an operator's question
    /// (the operator API answers for the whole cluster).
    Ask {
        /// The asking node.
        from: String,
        /// The question's id on the asking node.
        id: u64,
        /// The question.
        ask: Ask,
    },
    /// The answer to an [`Wire::Ask`], in parts numbered from 0 (a lost
    /// part shows as a gap).
    Answer {
        /// The question's id.
        id: u64,
        /// The answering node.
        node: String,
        /// Number of this part.
        part: u32,
        /// No part follows.
        last: bool,
        /// What this part holds.
        body: AnswerBody,
    },
}

/// An operator's question every node answers for itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "q", rename_all = "snake_case")]
pub enum Ask {
    /// The visits live on the node.
    Visits,
    /// The node's audit records of a visit or a time range.
    Audit {
        /// What the export asks for.
        query: crate::audit::export::Query,
    },
}

/// One part of a node's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "a", rename_all = "snake_case")]
pub enum AnswerBody {
    /// Its live visits.
    Visits {
        /// The visits.
        visits: Vec<crate::net::visits::LiveVisit>,
    },
    /// Its audit records (the last part says whether they were cut).
    Audit {
        /// The records.
        found: crate::audit::export::Found,
    },
    /// The node could not answer.
    Failed {
        /// Why, for the operator (never record contents).
        reason: String,
    },
}

/// A [`Join`] without what the owner fills in itself (its connection id,
/// the ICE servers). The resume token stays on the socket node: the owner
/// puts `placeholder` where `welcome` carries it, and the socket node swaps
/// it for the real token, so no resume token crosses Redis.
#[derive(Debug, Serialize, Deserialize)]
pub struct RemoteJoin {
    pub session: String,
    pub participant: ParticipantId,
    pub name: Option<String>,
    pub role: Role,
    pub perms: Vec<Permission>,
    pub device: Option<DeviceId>,
    pub expires_at: UnixSecs,
    pub placeholder: String,
    pub last_seq: Option<u64>,
    pub resumed: bool,
    pub presence: bool,
    pub ip: Option<String>,
    pub patient_id: Option<String>,
}

impl RemoteJoin {
    /// What crosses for `join`, with `placeholder` for its resume token.
    pub fn of(join: &Join, placeholder: String) -> Self {
        Self {
            session: join.session.clone(),
            participant: join.participant.clone(),
            name: join.name.clone(),
            role: join.role,
            perms: join.perms.clone(),
            device: join.device.clone(),
            expires_at: join.expires_at,
            placeholder,
            last_seq: join.last_seq,
            resumed: join.resumed,
            presence: join.features.presence,
            ip: join.ip.clone(),
            patient_id: join.patient_id.clone(),
        }
    }

    /// The join on the owner, for its connection `conn`.
    pub fn into_join(
        self,
        conn: crate::visit::ConnId,
        ice_servers: Vec<bedside_protocol::IceServer>,
    ) -> Join {
        let features = Features {
            presence: self.presence,
        };
        Join {
            conn,
            session: self.session,
            participant: self.participant,
            name: self.name,
            role: self.role,
            perms: self.perms,
            device: self.device,
            expires_at: self.expires_at,
            resume_token: self.placeholder,
            ice_servers,
            last_seq: self.last_seq,
            resumed: self.resumed,
            features,
            ip: self.ip,
            patient_id: self.patient_id,
        }
    }
}

/// A session's input, as the owner's visit will read it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum RemoteInput {
    /// A client message that passed the socket node's checks, as JSON.
    Text {
        /// The message.
        text: String,
    },
    /// The session's token was refreshed.
    Refreshed {
        /// New expiry.
        expires_at: UnixSecs,
    },
    /// The session handled a message itself (activity).
    Activity,
    /// The session ended.
    Closed,
}

/// What the owner does to the session.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum RemoteOutput {
    /// Send this frame.
    Text {
        /// The frame.
        text: String,
    },
    /// Close with this code.
    Close {
        /// The code.
        code: u16,
    },
}

//! The store's records: what a visit reads and asks to be written (a
//! participant, a stored end-to-end message, a visit's snapshot and its
//! writes). The store itself (its command channel and SQLite backend) is
//! bedside-server's `store` module; these types are shared by both sides.

use bedside_protocol::{E2eKind, ParticipantId, Permission, Role, Track, VisitId};
use serde::{Deserialize, Serialize};

/// A persisted participant: what a reconnecting client relies on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantRecord {
    /// Participant id.
    pub id: ParticipantId,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Admitted by a provider (or a provider).
    pub admitted: bool,
    /// Current permissions.
    pub perms: Vec<Permission>,
    /// Published tracks.
    #[serde(default)]
    pub tracks: Vec<Track>,
    /// Latest key bundle (raw JSON object).
    #[serde(default)]
    pub keys: Option<String>,
    /// Screen tracks withdrawn by a revoke: an SDP still naming one breaks
    /// `screen_share_not_permitted` (not merely `unannounced_track`).
    #[serde(default)]
    pub revoked_screens: Vec<bedside_protocol::TrackId>,
}

/// What a resume token restores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeRecord {
    /// The visit.
    pub visit: VisitId,
    /// The participant.
    pub participant: ParticipantId,
    /// Role.
    pub role: Role,
    /// Display name from the token.
    pub name: Option<String>,
    /// Patient record id from the token (audit only).
    pub patient_id: Option<String>,
    /// Permissions claimed by the token.
    pub perms: Vec<Permission>,
    /// Device from `hello`.
    pub device: Option<String>,
    /// Session expiry (the join or last refresh token's `exp`).
    pub exp: bedside_protocol::time::UnixSecs,
    /// The client's IP when the token was issued (an ALERT if it changes).
    #[serde(default)]
    pub ip: Option<String>,
    /// The `kid` of the key that signed the join (or last refresh) token:
    /// with `auth.end_sessions_of_removed_keys`, removing that key from the
    /// issuer's set ends the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// When the session began (its `hello`): an operator's revocation of
    /// the user ends the sessions begun before it, resumes included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<bedside_protocol::time::UnixSecs>,
}

/// An end-to-end message as stored and delivered. The hub never reads `body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Per-visit sequence number (assigned by the store; 0 before).
    pub seq: u64,
    /// Unix milliseconds when the hub accepted it.
    pub ts: i64,
    /// Sender.
    pub from: ParticipantId,
    /// Recipients (resolved: never empty, never the sender).
    pub to: Vec<ParticipantId>,
    /// Chat, key or receipt.
    pub kind: E2eKind,
    /// base64 ciphertext, as the sender wrote it.
    pub body: String,
}

/// What the store knows about a visit when its task starts.
#[derive(Debug, Clone, Default)]
pub struct VisitSnapshot {
    /// The visit was ended; nobody may join again.
    pub ended: bool,
    /// Every known participant.
    pub participants: Vec<ParticipantRecord>,
}

/// A write the visit state machine asks for; applied in order, in one batch.
#[derive(Debug, Clone)]
pub enum VisitWrite {
    /// Insert or replace a participant.
    SaveParticipant(ParticipantRecord),
    /// Forget a participant and every resume token of theirs.
    ForgetParticipant(ParticipantId),
    /// Mark the visit ended; forget its participants, resume tokens and
    /// messages, and purge them from the write-ahead log.
    EndVisit,
    /// `participant` has processed every message up to `upto`: forget its
    /// copies, and messages nobody still needs.
    Acked {
        /// The recipient.
        participant: ParticipantId,
        /// Highest processed seq.
        upto: u64,
    },
}

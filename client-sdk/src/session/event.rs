//! What the session reports to the app.

use crate::e2ee::{E2eeError, ReceivedChat, SafetyNumber};
use bedside_protocol::WelcomeParticipant;
use bedside_protocol::{ErrorCode, ParticipantId, TrackId};
use bedside_protocol::{
    LeftReason, Participant, ParticipantState, Permission, PresentProvider, TrackSource,
    WaitingEntry,
};

/// The link to the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening the WebSocket and authenticating.
    Connecting,
    /// Authenticated (`welcome` received).
    Connected,
    /// The link dropped; the next attempt starts in `retry_in_ms`.
    Reconnecting {
        /// Attempt number (1-based).
        attempt: u32,
        /// Delay before it (ms).
        retry_in_ms: u64,
    },
    /// Closed for good (see [`Event::Ended`]).
    Closed,
}

/// Why the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// This participant left.
    Left,
    /// A provider ended the visit.
    VisitEnded,
    /// A provider denied or removed this participant.
    Denied {
        /// The provider's reason.
        reason: Option<String>,
    },
    /// A newer connection of the same participant took over.
    Replaced,
    /// No activity for the hub's idle timeout.
    Idle,
    /// The hub refused the token (and a fresh one).
    Unauthorized,
}

/// WebRTC signaling relayed by the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// An SDP offer.
    Offer(String),
    /// An SDP answer.
    Answer(String),
    /// A trickled ICE candidate (`candidate` empty: end of candidates).
    Ice {
        /// The candidate line.
        candidate: String,
        /// Media stream id.
        sdp_mid: Option<String>,
        /// m-line index.
        sdp_mline_index: Option<u32>,
    },
}

/// Peer-connection happenings, for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A peer connection's state (`new`, `connecting`, `connected`,
    /// `disconnected`, `failed`, `closed`).
    PeerState {
        /// The remote participant.
        peer: ParticipantId,
        /// The state.
        state: String,
    },
    /// A data channel is open.
    DataChannelOpen {
        /// The remote participant.
        peer: ParticipantId,
        /// Its label.
        label: String,
    },
    /// A remote track started; take it with `Client::take_remote_track`.
    RemoteTrack {
        /// The sender.
        peer: ParticipantId,
        /// Its announced id.
        track_id: String,
        /// What it carries.
        source: TrackSource,
    },
    /// A remote track stopped because its announcement was withdrawn (by
    /// its owner, or by the hub on a revoke) or its sender left.
    RemoteTrackStopped {
        /// The sender.
        peer: ParticipantId,
        /// Its id.
        track_id: String,
    },
    /// Media arrived on a track nobody announced: not rendered.
    RemoteTrackRefused {
        /// The sender.
        peer: ParticipantId,
        /// The id in its SDP.
        track_id: String,
    },
    /// The hub withdrew one of this device's tracks (a revoke): it is no
    /// longer sent.
    LocalTrackStopped {
        /// Its id.
        track_id: String,
    },
    /// Bytes arrived on a data channel.
    Data {
        /// The remote participant.
        peer: ParticipantId,
        /// The channel's label.
        label: String,
        /// The payload.
        data: Vec<u8>,
    },
}

/// A failure the app should know about. Never carries chat text, SDP or tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdkError {
    /// The hub refused a message.
    #[error("hub refused a message: {code:?}: {message}")]
    Hub {
        /// Machine-readable code.
        code: ErrorCode,
        /// The hub's explanation.
        message: String,
        /// The id of the message it answers.
        re: Option<String>,
        /// For `invalid_sdp`: the rule.
        rule: Option<String>,
    },
    /// An end-to-end message, bundle or SDP failed a check.
    #[error("end-to-end check failed for {from}: {error}")]
    E2ee {
        /// Whose.
        from: String,
        /// What failed.
        error: E2eeError,
    },
    /// The hub sent something this SDK cannot read.
    #[error("unreadable message from the hub")]
    Protocol,
    /// Not connected to the hub right now.
    #[error("not connected")]
    NotConnected,
    /// Only an admitted participant can do this.
    #[error("not admitted to the visit")]
    NotAdmitted,
    /// This participant lacks the permission (ask a provider for it).
    #[error("not permitted: {}", .0.as_str())]
    NotPermitted(Permission),
    /// An argument is not a valid identifier.
    #[error("invalid identifier: {0}")]
    InvalidId(String),
    /// The session has ended.
    #[error("session ended")]
    Ended,
    /// The token source failed.
    #[error("could not obtain a token: {0}")]
    Token(String),
    /// The WebSocket or WebRTC stack failed.
    #[error("transport: {0}")]
    Transport(String),
}

/// Everything the app hears from the session.
#[derive(Debug, Clone)]
pub enum Event {
    /// The link changed.
    Connection(ConnectionState),
    /// Authenticated: who this is, and whether waiting or admitted.
    Welcome {
        /// The participant.
        participant: WelcomeParticipant,
        /// Waiting or admitted.
        state: ParticipantState,
    },
    /// In the waiting room.
    Waiting,
    /// Admitted; everyone present.
    Admitted {
        /// Participants present (including this one).
        participants: Vec<Participant>,
    },
    /// To providers: the waiting list.
    Lobby {
        /// Who waits.
        waiting: Vec<WaitingEntry>,
    },
    /// While waiting: the providers present in the visit now (on arrival
    /// and on every change).
    Presence {
        /// Admitted, connected providers.
        providers: Vec<PresentProvider>,
    },
    /// Someone was admitted or came back.
    Joined {
        /// Who.
        participant: Participant,
    },
    /// Someone went.
    Left {
        /// Who.
        participant: ParticipantId,
        /// Why.
        reason: LeftReason,
    },
    /// A participant's permissions.
    Permissions {
        /// Whose.
        participant: ParticipantId,
        /// The full set.
        perms: Vec<Permission>,
    },
    /// A remote track was announced.
    TrackPublished {
        /// Whose.
        from: ParticipantId,
        /// Track id.
        track_id: TrackId,
        /// What it carries.
        source: TrackSource,
    },
    /// A remote track's announcement was withdrawn (by its owner, or by the
    /// hub on a revoke): stop rendering it. Also sent for own tracks the hub
    /// withdrew: stop sending them.
    TrackUnpublished {
        /// Whose.
        from: ParticipantId,
        /// Track id.
        track_id: TrackId,
    },
    /// To providers: a participant asks for a permission.
    PermissionRequested {
        /// Who.
        participant: ParticipantId,
        /// What.
        permission: Permission,
    },
    /// A decrypted chat message.
    Chat(ReceivedChat),
    /// The hub stored a chat message this device sent (the id
    /// `send_chat` returned): it reaches everyone admitted, including
    /// those offline now, exactly once.
    ChatAcked {
        /// The id `send_chat` returned.
        message_id: String,
    },
    /// A contact's identity key changed; their chat and media are blocked
    /// until the app calls `accept_identity`.
    IdentityChanged {
        /// Who.
        participant: String,
        /// The safety number with the new key, to compare out of band.
        safety_number: SafetyNumber,
    },
    /// WebRTC signaling from a peer (after the fingerprint check).
    Signal {
        /// Sender.
        from: ParticipantId,
        /// What.
        signal: Signal,
    },
    /// Peer connections and data channels (native shell).
    Media(MediaEvent),
    /// Something failed; the session goes on.
    Error(SdkError),
    /// The session ended for good.
    Ended(EndReason),
}

//! What the session reports to the app: [`Event`]s (through
//! [`Output::Event`](super::Output::Event) and the platform clients), the
//! link state, why a session ended, relayed WebRTC signals, media events
//! from the platform shells, and [`SdkError`].

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
    /// Opening the WebSocket and authenticating (`hello` or `resume`).
    Connecting,
    /// Authenticated (`welcome` received): commands can be sent.
    Connected,
    /// The link dropped (or could not be opened); the next attempt starts
    /// in `retry_in_ms`.
    Reconnecting {
        /// Attempt number since the last `welcome` (1-based).
        attempt: u32,
        /// Delay before it (ms), from the session's [`Backoff`](super::Backoff).
        retry_in_ms: u64,
    },
    /// Closed for good; [`Event::Ended`] follows with the reason.
    Closed,
}

/// Why the session ended (close codes: PROTOCOL.md §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// This participant left (the app's `leave`, or close 1000).
    Left,
    /// A provider ended the visit (`ended`, or close 4012).
    VisitEnded,
    /// A provider denied (waiting) or removed (admitted) this participant
    /// (`denied`, or close 4003).
    Denied {
        /// The provider's reason, when the `denied` message carried one.
        reason: Option<String>,
    },
    /// A newer connection of the same participant (another device or tab)
    /// took over (close 4011).
    Replaced,
    /// No client message for the hub's idle timeout (close 4008).
    Idle,
    /// The hub kept refusing tokens (close 4001 or 4010): a fresh token
    /// from the app was refused too.
    Unauthorized,
}

/// WebRTC signaling relayed by the hub (PROTOCOL.md §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// An SDP offer (the whole SDP text).
    Offer(String),
    /// An SDP answer (the whole SDP text).
    Answer(String),
    /// A trickled ICE candidate (`candidate` empty: end of candidates).
    Ice {
        /// The candidate attribute value (`candidate:…`, no `a=`).
        candidate: String,
        /// The `a=mid` of the media section it belongs to.
        sdp_mid: Option<String>,
        /// The 0-based index of that media section in the SDP.
        sdp_mline_index: Option<u32>,
    },
}

/// Peer-connection happenings, for the app. Reported by the platform
/// shells' media layer (not the sans-IO session); which shell reports
/// which is said per variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A peer connection's state changed (both shells).
    PeerState {
        /// The remote participant.
        peer: ParticipantId,
        /// The W3C `RTCPeerConnectionState` name: `new`, `connecting`,
        /// `connected`, `disconnected`, `failed` or `closed`.
        state: String,
    },
    /// A data channel is open (native shell).
    DataChannelOpen {
        /// The remote participant.
        peer: ParticipantId,
        /// Its label.
        label: String,
    },
    /// A remote track started (native shell; the browser shell reports
    /// `WebEvent::RemoteTrack` instead): take it with
    /// `native::Client::take_remote_track`.
    RemoteTrack {
        /// The sender.
        peer: ParticipantId,
        /// Its announced id.
        track_id: String,
        /// What it carries.
        source: TrackSource,
    },
    /// A remote track stopped because its announcement was withdrawn (by
    /// its owner, or by the hub on a revoke) or its sender left (both
    /// shells; the browser shell also when the SDP no longer sends it).
    RemoteTrackStopped {
        /// The sender.
        peer: ParticipantId,
        /// Its id.
        track_id: String,
    },
    /// Media arrived on a track nobody announced (PROTOCOL.md §6): not
    /// rendered (both shells).
    RemoteTrackRefused {
        /// The sender.
        peer: ParticipantId,
        /// The id in its SDP.
        track_id: String,
    },
    /// The hub withdrew one of this device's tracks (a revoke): it is no
    /// longer sent (native shell; the browser shell reports
    /// `WebEvent::LocalTrackStopped`).
    LocalTrackStopped {
        /// Its id.
        track_id: String,
    },
    /// A message arrived on a data channel (native shell).
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
    /// The hub refused a message (`error`, PROTOCOL.md §9).
    #[error("hub refused a message: {code:?}: {message}")]
    Hub {
        /// Machine-readable code.
        code: ErrorCode,
        /// The hub's explanation, for logs.
        message: String,
        /// The `id` of the client message it answers, if it answers one.
        re: Option<String>,
        /// For `invalid_sdp`: the rule the SDP broke (PROTOCOL.md §5, §6).
        rule: Option<String>,
    },
    /// An end-to-end message, bundle or SDP failed a check (docs/e2ee.md
    /// §12); it was not used.
    #[error("end-to-end check failed for {from}: {error}")]
    E2ee {
        /// The participant whose message, bundle or SDP it was.
        from: String,
        /// What failed.
        error: E2eeError,
    },
    /// The hub sent something this SDK cannot read (not a known message,
    /// or a field missing); it was ignored.
    #[error("unreadable message from the hub")]
    Protocol,
    /// Not connected to the hub right now (connecting, reconnecting, or
    /// waiting for a token): try again after
    /// [`ConnectionState::Connected`].
    #[error("not connected")]
    NotConnected,
    /// Only an admitted participant can do this.
    #[error("not admitted to the visit")]
    NotAdmitted,
    /// This participant lacks the permission (ask a provider for it).
    #[error("not permitted: {}", .0.as_str())]
    NotPermitted(Permission),
    /// An argument is not a valid identifier (1–128 characters of
    /// `[A-Za-z0-9._:@-]`, PROTOCOL.md §1); the text says why.
    #[error("invalid identifier: {0}")]
    InvalidId(String),
    /// The session has ended ([`Event::Ended`]); a new one is needed.
    #[error("session ended")]
    Ended,
    /// The app's token source failed (its message).
    #[error("could not obtain a token: {0}")]
    Token(String),
    /// The WebSocket or WebRTC stack failed (what failed).
    #[error("transport: {0}")]
    Transport(String),
}

/// Everything the app hears from the session.
#[derive(Debug, Clone)]
pub enum Event {
    /// The link changed.
    Connection(ConnectionState),
    /// Authenticated (after every `hello` or `resume`): who this is, and
    /// whether waiting or admitted (PROTOCOL.md §3).
    Welcome {
        /// The participant: id, name, role, permissions.
        participant: WelcomeParticipant,
        /// Waiting or admitted.
        state: ParticipantState,
    },
    /// In the waiting room, until a provider admits or denies this
    /// participant (PROTOCOL.md §4).
    Waiting,
    /// Admitted (also again after a resume); everyone present.
    Admitted {
        /// Participants present (including this one), with their
        /// permissions and announced tracks.
        participants: Vec<Participant>,
    },
    /// To providers: the waiting list, on every change (PROTOCOL.md §4).
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
    /// Someone was admitted, or came back after a dropped connection.
    Joined {
        /// Who, with permissions and announced tracks.
        participant: Participant,
    },
    /// Someone went. Reason `closed` is a dropped connection: still a
    /// member, who may come back ([`Event::Joined`]); any other is for good.
    Left {
        /// Who.
        participant: ParticipantId,
        /// Why.
        reason: LeftReason,
    },
    /// A participant's permissions changed (PROTOCOL.md §6).
    Permissions {
        /// Whose.
        participant: ParticipantId,
        /// The full set.
        perms: Vec<Permission>,
    },
    /// A remote track was announced (PROTOCOL.md §6); media for it may
    /// follow.
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
    /// A decrypted chat message (docs/e2ee.md §12.4).
    Chat(ReceivedChat),
    /// The hub stored a chat message this device sent (the id
    /// `send_chat` returned): it reaches everyone admitted, including
    /// those offline now, exactly once.
    ChatAcked {
        /// The id `send_chat` returned.
        message_id: String,
    },
    /// A contact's identity key changed; their chat and media are blocked
    /// until the app calls `accept_identity` (docs/e2ee.md §14.2).
    IdentityChanged {
        /// The participant id.
        participant: String,
        /// The safety number with the new key, to compare out of band.
        safety_number: SafetyNumber,
    },
    /// WebRTC signaling from a peer. An offer or answer is reported only
    /// after its DTLS fingerprint matched the sender's signed Hello
    /// (docs/e2ee.md §12.5); ICE candidates are not checked. The shells
    /// with media act on it themselves.
    Signal {
        /// Sender.
        from: ParticipantId,
        /// What.
        signal: Signal,
    },
    /// Peer connections, tracks and data channels, from the platform
    /// shell's media layer.
    Media(MediaEvent),
    /// Something failed; the session goes on.
    Error(SdkError),
    /// The session ended for good.
    Ended(EndReason),
}

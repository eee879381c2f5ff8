//! What the visit reports, as the app's [`EventListener`] hears it. Relayed
//! WebRTC signals are not among them: the SDK checks them and drives the
//! app's peer connections itself.

use crate::error::BedsideError;
use crate::media::PeerConnectionState;
use crate::types::{
    ChatMessage, EndReason, LeftReason, LinkState, Participant, Permission, Role, TrackSource,
};
use bedside_sdk::session::{Event, MediaEvent};

/// One event of the visit.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ClientEvent {
    /// The link changed.
    Link {
        /// Its state.
        state: LinkState,
    },
    /// Authenticated (after every join or resume).
    Welcome {
        /// This participant's id.
        id: String,
        /// Their role.
        role: Role,
        /// Waiting (`false`) or admitted.
        admitted: bool,
    },
    /// In the waiting room.
    Waiting,
    /// Admitted; everyone present.
    Admitted {
        /// Participants present, this one included.
        participants: Vec<Participant>,
    },
    /// Who waits (providers).
    Lobby {
        /// The waiting participants (permissions empty).
        waiting: Vec<Participant>,
    },
    /// Someone joined.
    Joined {
        /// Who.
        participant: Participant,
    },
    /// Someone left.
    Left {
        /// Who.
        participant: String,
        /// Why.
        reason: LeftReason,
    },
    /// Someone's permissions changed.
    Permissions {
        /// Whose.
        participant: String,
        /// Now.
        permissions: Vec<Permission>,
    },
    /// A track was announced (render it when it arrives).
    TrackPublished {
        /// Whose.
        participant: String,
        /// The track id (as in `a=msid`).
        track_id: String,
        /// What it carries.
        source: TrackSource,
    },
    /// A track was withdrawn: stop rendering it (your own: stop sending).
    TrackUnpublished {
        /// Whose.
        participant: String,
        /// The track id.
        track_id: String,
    },
    /// Someone asks for a permission (providers).
    PermissionRequested {
        /// Who.
        participant: String,
        /// What.
        permission: Permission,
    },
    /// A chat message, decrypted.
    Chat {
        /// The message.
        message: ChatMessage,
    },
    /// The hub stored a chat message this device sent.
    ChatAcked {
        /// Its id.
        message_id: String,
    },
    /// A participant's identity key changed: chat and media with them wait
    /// until the user accepts it.
    IdentityChanged {
        /// Whose.
        participant: String,
        /// The new safety number, to compare.
        safety_number: String,
    },
    /// A peer connection's state changed.
    PeerState {
        /// The remote participant.
        peer: String,
        /// Its new state.
        state: PeerConnectionState,
    },
    /// A data channel is open.
    DataChannelOpen {
        /// The remote participant.
        peer: String,
        /// Its label.
        label: String,
    },
    /// A message on a data channel.
    Data {
        /// The remote participant.
        peer: String,
        /// The channel's label.
        label: String,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A remote track arrived and was announced: render it.
    RemoteTrack {
        /// Whose.
        peer: String,
        /// Its id.
        track_id: String,
        /// What it carries.
        source: TrackSource,
    },
    /// A remote track stopped (withdrawn, or its sender left).
    RemoteTrackStopped {
        /// Whose.
        peer: String,
        /// Its id.
        track_id: String,
    },
    /// A remote track arrived that nobody announced: never render it.
    RemoteTrackRefused {
        /// Whose.
        peer: String,
        /// Its id.
        track_id: String,
    },
    /// The hub withdrew one of this device's tracks: stop sending it.
    LocalTrackStopped {
        /// Its id.
        track_id: String,
    },
    /// Something failed without ending the session.
    Error {
        /// What.
        error: BedsideError,
    },
    /// The session ended; no event follows.
    Ended {
        /// Why.
        reason: EndReason,
    },
}

/// The app's receiver of events, called from the SDK's threads, in order.
#[uniffi::export(with_foreign)]
pub trait EventListener: Send + Sync {
    /// One event.
    fn on_event(&self, event: ClientEvent);
}

fn participant(
    id: &bedside_protocol::ParticipantId,
    name: &str,
    role: bedside_protocol::Role,
) -> Participant {
    Participant {
        id: id.to_string(),
        name: name.to_owned(),
        role: role.into(),
        permissions: Vec::new(),
    }
}

impl ClientEvent {
    /// The app's view of `e`; `None` for what the app does not handle
    /// (relayed signals, presence of providers).
    pub(crate) fn of(e: Event) -> Option<Self> {
        Some(match e {
            Event::Connection(state) => Self::Link {
                state: state.into(),
            },
            Event::Welcome { participant, state } => Self::Welcome {
                id: participant.id.to_string(),
                role: participant.role.into(),
                admitted: state == bedside_protocol::ParticipantState::Admitted,
            },
            Event::Waiting => Self::Waiting,
            Event::Admitted { participants } => Self::Admitted {
                participants: participants.iter().map(Participant::from).collect(),
            },
            Event::Lobby { waiting } => Self::Lobby {
                waiting: waiting
                    .iter()
                    .map(|w| participant(&w.id, &w.name, w.role))
                    .collect(),
            },
            Event::Presence { .. } | Event::Signal { .. } => return None,
            Event::Joined { participant } => Self::Joined {
                participant: (&participant).into(),
            },
            Event::Left {
                participant,
                reason,
            } => Self::Left {
                participant: participant.to_string(),
                reason: reason.into(),
            },
            Event::Permissions { participant, perms } => Self::Permissions {
                participant: participant.to_string(),
                permissions: perms.into_iter().map(Into::into).collect(),
            },
            Event::TrackPublished {
                from,
                track_id,
                source,
            } => Self::TrackPublished {
                participant: from.to_string(),
                track_id: track_id.to_string(),
                source: source.into(),
            },
            Event::TrackUnpublished { from, track_id } => Self::TrackUnpublished {
                participant: from.to_string(),
                track_id: track_id.to_string(),
            },
            Event::PermissionRequested {
                participant,
                permission,
            } => Self::PermissionRequested {
                participant: participant.to_string(),
                permission: permission.into(),
            },
            Event::Chat(c) => Self::Chat { message: c.into() },
            Event::ChatAcked { message_id } => Self::ChatAcked { message_id },
            Event::IdentityChanged {
                participant,
                safety_number,
            } => Self::IdentityChanged {
                participant,
                safety_number: safety_number.digits().to_owned(),
            },
            Event::Media(m) => match m {
                MediaEvent::PeerState { peer, state } => Self::PeerState {
                    peer: peer.to_string(),
                    state: PeerConnectionState::from_w3c(&state),
                },
                MediaEvent::DataChannelOpen { peer, label } => Self::DataChannelOpen {
                    peer: peer.to_string(),
                    label,
                },
                MediaEvent::Data { peer, label, data } => Self::Data {
                    peer: peer.to_string(),
                    label,
                    data,
                },
                MediaEvent::RemoteTrack {
                    peer,
                    track_id,
                    source,
                } => Self::RemoteTrack {
                    peer: peer.to_string(),
                    track_id,
                    source: source.into(),
                },
                MediaEvent::RemoteTrackStopped { peer, track_id } => Self::RemoteTrackStopped {
                    peer: peer.to_string(),
                    track_id,
                },
                MediaEvent::RemoteTrackRefused { peer, track_id } => Self::RemoteTrackRefused {
                    peer: peer.to_string(),
                    track_id,
                },
                MediaEvent::LocalTrackStopped { track_id } => Self::LocalTrackStopped { track_id },
            },
            Event::Error(e) => Self::Error { error: e.into() },
            Event::Ended(reason) => Self::Ended {
                reason: reason.into(),
            },
        })
    }
}

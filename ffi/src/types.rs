//! The plain values that cross: roles, permissions, sources, participants,
//! the link's state, why a session ended, a received chat, and how to
//! connect.

use bedside_protocol as proto;
use bedside_sdk::e2ee;
use bedside_sdk::session;

/// A participant's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    /// A clinician.
    Provider,
    /// The patient.
    Patient,
    /// A guest (family, interpreter).
    Guest,
}

impl From<proto::Role> for Role {
    fn from(r: proto::Role) -> Self {
        match r {
            proto::Role::Provider => Self::Provider,
            proto::Role::Patient => Self::Patient,
            proto::Role::Guest => Self::Guest,
        }
    }
}

/// A permission a provider grants or revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Permission {
    /// Share a screen.
    ScreenShare,
    /// Admit from the waiting room.
    Admit,
}

impl From<proto::Permission> for Permission {
    fn from(p: proto::Permission) -> Self {
        match p {
            proto::Permission::ScreenShare => Self::ScreenShare,
            proto::Permission::Admit => Self::Admit,
        }
    }
}

impl From<Permission> for proto::Permission {
    fn from(p: Permission) -> Self {
        match p {
            Permission::ScreenShare => Self::ScreenShare,
            Permission::Admit => Self::Admit,
        }
    }
}

/// What a track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TrackSource {
    /// The camera.
    Camera,
    /// The microphone.
    Microphone,
    /// A shared screen.
    Screen,
}

impl From<proto::TrackSource> for TrackSource {
    fn from(s: proto::TrackSource) -> Self {
        match s {
            proto::TrackSource::Camera => Self::Camera,
            proto::TrackSource::Microphone => Self::Microphone,
            proto::TrackSource::Screen => Self::Screen,
        }
    }
}

impl From<TrackSource> for proto::TrackSource {
    fn from(s: TrackSource) -> Self {
        match s {
            TrackSource::Camera => Self::Camera,
            TrackSource::Microphone => Self::Microphone,
            TrackSource::Screen => Self::Screen,
        }
    }
}

/// A participant present in the visit (or waiting).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Participant {
    /// Their id (the token's `sub`).
    pub id: String,
    /// Their display name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// What they may do beyond their role.
    pub permissions: Vec<Permission>,
}

impl From<&proto::Participant> for Participant {
    fn from(p: &proto::Participant) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name.clone(),
            role: p.role.into(),
            permissions: p.perms.iter().map(|&p| p.into()).collect(),
        }
    }
}

/// The link to the hub.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum LinkState {
    /// Connecting for the first time.
    Connecting,
    /// Connected and authenticated.
    Connected,
    /// Lost; trying again after a delay.
    Reconnecting {
        /// Attempt number (from 1).
        attempt: u32,
        /// Delay before it (ms).
        retry_in_ms: u64,
    },
    /// Closed for good.
    Closed,
}

impl From<session::ConnectionState> for LinkState {
    fn from(s: session::ConnectionState) -> Self {
        match s {
            session::ConnectionState::Connecting => Self::Connecting,
            session::ConnectionState::Connected => Self::Connected,
            session::ConnectionState::Reconnecting {
                attempt,
                retry_in_ms,
            } => Self::Reconnecting {
                attempt,
                retry_in_ms,
            },
            session::ConnectionState::Closed => Self::Closed,
        }
    }
}

/// Why someone left the visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LeftReason {
    /// They left; they are forgotten in this visit.
    Leave,
    /// Their connection closed without leaving; they may come back.
    Closed,
    /// A provider denied them.
    Denied,
    /// A provider removed them.
    Removed,
    /// Their session expired or idled out.
    Expired,
}

impl From<bedside_protocol::LeftReason> for LeftReason {
    fn from(r: bedside_protocol::LeftReason) -> Self {
        use bedside_protocol::LeftReason as L;
        match r {
            L::Leave => Self::Leave,
            L::Closed => Self::Closed,
            L::Denied => Self::Denied,
            L::Removed => Self::Removed,
            L::Expired => Self::Expired,
        }
    }
}

/// Why the session ended.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum EndReason {
    /// This participant left.
    Left,
    /// A provider (or an operator) ended the visit.
    VisitEnded,
    /// Denied or removed by a provider.
    Denied {
        /// The provider's reason, if given.
        reason: Option<String>,
    },
    /// The same participant joined from another device.
    Replaced,
    /// Idle too long.
    Idle,
    /// The token or session was refused or revoked.
    Unauthorized,
}

impl From<session::EndReason> for EndReason {
    fn from(r: session::EndReason) -> Self {
        match r {
            session::EndReason::Left => Self::Left,
            session::EndReason::VisitEnded => Self::VisitEnded,
            session::EndReason::Denied { reason } => Self::Denied { reason },
            session::EndReason::Replaced => Self::Replaced,
            session::EndReason::Idle => Self::Idle,
            session::EndReason::Unauthorized => Self::Unauthorized,
        }
    }
}

/// What a token is wanted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TokenPurpose {
    /// A fresh join (the resume was refused).
    Join,
    /// A refresh before the session expires.
    Refresh,
}

impl From<session::TokenPurpose> for TokenPurpose {
    fn from(p: session::TokenPurpose) -> Self {
        match p {
            session::TokenPurpose::Join => Self::Join,
            session::TokenPurpose::Refresh => Self::Refresh,
        }
    }
}

/// An end-to-end encrypted chat message, decrypted on this device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChatMessage {
    /// The sender's participant id (`sender`: `from` is a keyword in
    /// Python).
    pub sender: String,
    /// The message id.
    pub message_id: String,
    /// The text.
    pub text: String,
    /// The sender's identity was verified (safety number compared).
    pub verified: bool,
    /// The sender saw the same participants as this device.
    pub roster_agrees: bool,
}

impl From<e2ee::ReceivedChat> for ChatMessage {
    fn from(c: e2ee::ReceivedChat) -> Self {
        Self {
            sender: c.from,
            message_id: c.message_id,
            text: c.text,
            verified: c.safety == e2ee::Safety::Verified,
            roster_agrees: c.roster_agrees,
        }
    }
}

/// How to connect.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClientConfig {
    /// `wss://…/v1/signal` (`ws://` only to this machine).
    pub url: String,
    /// This device's id (stable per installation).
    pub device: String,
    /// This device's identity key (32 bytes) from the platform keystore,
    /// or none for a fresh one (then contacts cannot recognise the device
    /// in a later visit: persist [`crate::BedsideClient::identity_secret`]).
    pub identity_secret: Option<Vec<u8>>,
    /// Identity pins from the last visit ([`crate::BedsideClient::pins`]).
    pub pins_json: Option<String>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("url", &self.url)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

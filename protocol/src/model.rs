//! Domain values that appear inside messages: roles, permissions, tracks,
//! participants as the hub describes them to others.

use crate::ids::{ParticipantId, TrackId};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A participant's role, from the token's `role` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A clinician: admitted at once, may admit, deny, remove, grant, revoke, end.
    Provider,
    /// The patient: starts in the waiting room.
    Patient,
    /// An interpreter or caregiver: starts in the waiting room.
    Guest,
}

impl Role {
    /// The role's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Provider => "provider",
            Role::Patient => "patient",
            Role::Guest => "guest",
        }
    }
}

/// A permission (section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// May publish `screen` tracks. Providers hold it by default; grantable.
    ScreenShare,
    /// May admit, deny and remove. Providers only; never grantable.
    Admit,
}

impl Permission {
    /// The permission's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ScreenShare => "screen_share",
            Permission::Admit => "admit",
        }
    }
}

/// What a track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    /// Camera video.
    Camera,
    /// Microphone audio.
    Microphone,
    /// Screen share video (needs `screen_share`).
    Screen,
}

/// Publish or withdraw a track announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackAction {
    /// Announce a track before sending it.
    Publish,
    /// Withdraw the announcement; receivers stop rendering it.
    Unpublish,
}

/// Kind of an end-to-end encrypted message (section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum E2eKind {
    /// A chat message.
    Chat,
    /// Key distribution.
    Key,
    /// A read or delivery receipt.
    Receipt,
}

/// Why a participant left (section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftReason {
    /// Sent `leave`.
    Leave,
    /// The connection closed (the participant may resume).
    Closed,
    /// Denied by a provider.
    Denied,
    /// Removed by a provider.
    Removed,
    /// Session expired or idle.
    Expired,
}

/// Whether a participant waits in the lobby or takes part in the visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantState {
    /// In the waiting room.
    Waiting,
    /// Admitted to the visit.
    Admitted,
}

/// A published track as listed in `participants[].tracks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Track {
    /// The track id (second `a=msid` field).
    pub track_id: TrackId,
    /// What it carries.
    pub source: TrackSource,
}

/// A participant as the hub describes it to others (`admitted`, `joined`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Participant {
    /// The token's `sub`.
    pub id: ParticipantId,
    /// Display name (the token's `name`, else the id).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Current permissions.
    pub perms: Vec<Permission>,
    /// Published tracks.
    pub tracks: Vec<Track>,
    /// Latest key bundle, or null.
    #[serde(default)]
    pub keys: Option<Box<RawValue>>,
}

/// A provider present in the visit, as `presence` tells a waiting participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentProvider {
    /// Participant id.
    pub id: ParticipantId,
    /// Display name.
    pub name: String,
}

/// An entry of the `lobby` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingEntry {
    /// Participant id.
    pub id: ParticipantId,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
}

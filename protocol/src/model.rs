//! Domain values that appear inside messages: roles, permissions, tracks,
//! participants as the hub describes them to others.

use crate::ids::{ParticipantId, TrackId};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A participant's role, from the token's `role` claim (PROTOCOL.md §2);
/// fixed for the session (a `refresh` token must carry the same one).
/// Serialized as `"provider"`, `"patient"` or `"guest"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A clinician: admitted at once (§3); holds `admit` and, by default,
    /// `screen_share`; the only role that may send `admit`, `deny`,
    /// `remove`, `grant`, `revoke` and `end_visit`.
    Provider,
    /// The patient: starts in the waiting room unless a provider admitted
    /// them earlier in this visit (§3).
    Patient,
    /// Anyone else invited, such as an interpreter or caregiver: waits like
    /// a patient.
    Guest,
}

impl Role {
    /// The wire name: `"provider"`, `"patient"` or `"guest"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Provider => "provider",
            Role::Patient => "patient",
            Role::Guest => "guest",
        }
    }
}

/// A permission (PROTOCOL.md §6), serialized as `"screen_share"` or
/// `"admit"`. Held permissions appear in `perms` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// May publish `screen` tracks and send them in SDP. Providers hold it
    /// by default; a token's `perms` or a provider's `grant` gives it to
    /// others, and a provider's `revoke` takes it away.
    ScreenShare,
    /// May admit, deny and remove. Held by every provider and by nobody
    /// else (dropped from a token's `perms`); `grant` or `revoke` of it gets
    /// `error` `forbidden`.
    Admit,
}

impl Permission {
    /// The wire name: `"screen_share"` or `"admit"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ScreenShare => "screen_share",
            Permission::Admit => "admit",
        }
    }
}

/// What a published track carries (PROTOCOL.md §6), serialized as
/// `"camera"`, `"microphone"` or `"screen"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    /// Video from a camera.
    Camera,
    /// Audio from a microphone.
    Microphone,
    /// Screen-share video; publishing it needs [`Permission::ScreenShare`],
    /// and the hub unpublishes it when that permission is revoked.
    Screen,
}

/// The `action` of a `track` message (PROTOCOL.md §6), serialized as
/// `"publish"` or `"unpublish"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackAction {
    /// Announce a track before sending it; needs a `source`.
    Publish,
    /// Withdraw the announcement; receivers stop rendering the track. Sent
    /// by the hub itself when it withdraws a screen track on revoke.
    Unpublish,
}

/// The `kind` of an `e2e` message (PROTOCOL.md §7), serialized as
/// `"chat"`, `"key"` or `"receipt"`. The hub relays every kind alike; what
/// the body holds is docs/e2ee.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum E2eKind {
    /// A chat message; `bedside-sdk` sends it with `to` omitted (every
    /// other admitted participant).
    Chat,
    /// Key distribution; `bedside-sdk` sends one per recipient, `to`
    /// naming it, holding its chain key sealed to that recipient.
    Key,
    /// A read or delivery receipt. Accepted and relayed, but `bedside-sdk`
    /// never sends one and ignores those it receives (docs/e2ee.md §10).
    Receipt,
}

/// The `reason` of a `left` message (PROTOCOL.md §4), serialized as
/// `"leave"`, `"closed"`, `"denied"`, `"removed"` or `"expired"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftReason {
    /// The participant sent `leave`; it is forgotten in this visit.
    Leave,
    /// The connection closed without `leave`; the participant may still
    /// resume, and is then announced with `joined` again.
    Closed,
    /// Denied by a provider (`deny`).
    Denied,
    /// Removed by a provider (`remove`).
    Removed,
    /// Closed by the hub for session expiry (4010) or idleness (4008).
    Expired,
}

/// `welcome.state`: whether the participant waits in the lobby or takes
/// part in the visit (PROTOCOL.md §3, §4). Serialized as `"waiting"` or
/// `"admitted"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantState {
    /// In the waiting room: may send only `ping`, `leave`, `keys` and
    /// `refresh` until an `admitted` arrives.
    Waiting,
    /// Admitted to the visit: takes part in relays, tracks and `e2e`.
    Admitted,
}

/// A published track, as listed in `participants[].tracks`
/// (docs/protocol.md, "Tracks"): `{"track_id":"…","source":"camera"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Track {
    /// The id announced in `track` `publish`: the second `a=msid` field
    /// of the sender's SDP.
    pub track_id: TrackId,
    /// What the track carries.
    pub source: TrackSource,
}

/// An admitted participant as the hub describes it in `admitted` and
/// `joined` (PROTOCOL.md §4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Participant {
    /// The participant id: the token's `sub`.
    pub id: ParticipantId,
    /// Display name: the token's `name` (which passed
    /// [`check_display_name`](crate::check_display_name)), else the id.
    pub name: String,
    /// The token's role.
    pub role: Role,
    /// Every permission the participant holds now.
    pub perms: Vec<Permission>,
    /// Tracks the participant has published and not withdrawn; at most 16.
    pub tracks: Vec<Track>,
    /// The participant's latest key bundle as the hub serialized it
    /// ([`canonical_bundle`](crate::canonical_bundle), docs/e2ee.md §5.4),
    /// kept verbatim; `None` (JSON `null`, or absent when read) when none
    /// was published.
    #[serde(default)]
    pub keys: Option<Box<RawValue>>,
}

/// A provider present in the visit (admitted and connected), as a
/// `presence` message lists it for a waiting participant
/// (docs/protocol.md, "Features asked for in `hello` and `resume`").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentProvider {
    /// The provider's participant id.
    pub id: ParticipantId,
    /// The provider's display name (the token's `name`, else the id).
    pub name: String,
}

/// A waiting participant, as an entry of the `lobby` list that providers
/// receive (PROTOCOL.md §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingEntry {
    /// The waiting participant's id, to name in `admit` or `deny`.
    pub id: ParticipantId,
    /// Display name (the token's `name`, else the id).
    pub name: String,
    /// The participant's role: `patient` or `guest`.
    pub role: Role,
}

//! The claims of a join token (PROTOCOL.md §2), as one typed struct that the
//! hub reads and every minter (`bedside token`, dev mode, the load tester,
//! tests) writes. The `amr` a minter writes by default lives here too, so no
//! two minters drift apart.

use crate::time::UnixSecs;
use crate::{ParticipantId, Permission, Role, VisitId};
use serde::{Deserialize, Deserializer, Serialize};

/// The `aud` claim: one audience, or several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "bedside"`.
    One(String),
    /// `"aud": ["bedside", …]`.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `audience` is this one or among these.
    pub fn names(&self, audience: &str) -> bool {
        match self {
            Audience::One(a) => a == audience,
            Audience::Many(list) => list.iter().any(|a| a == audience),
        }
    }
}

impl From<&str> for Audience {
    fn from(a: &str) -> Self {
        Audience::One(a.to_owned())
    }
}

impl From<String> for Audience {
    fn from(a: String) -> Self {
        Audience::One(a)
    }
}

/// When a token was issued and when it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    /// `iat`.
    pub issued: UnixSecs,
    /// `exp`.
    pub expires: UnixSecs,
}

impl Lifetime {
    /// Issued at `now`, expiring `ttl_s` seconds later.
    pub const fn starting(now: UnixSecs, ttl_s: i64) -> Self {
        Self {
            issued: now,
            expires: now.plus_secs(ttl_s),
        }
    }
}

/// The claims of a join token (PROTOCOL.md §2). Serialised in this order,
/// leaving out empty optional members; deserialised as the hub reads them,
/// with `perms` entries it does not know ignored (a newer clinic backend
/// may grant what this hub has never heard of).
///
/// ```
/// use bedside_protocol::claims::{JoinClaims, Lifetime};
/// use bedside_protocol::time::UnixSecs;
/// use bedside_protocol::{ParticipantId, Role, VisitId};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let claims = JoinClaims::new(
///     "https://clinic.example",
///     "bedside",
///     VisitId::new("v-1")?,
///     ParticipantId::new("dr-ada")?,
///     Role::Provider,
///     Lifetime::starting(UnixSecs(1_800_000_000), 3600),
///     "a-unique-jti",
/// );
/// assert_eq!(claims.amr, ["mfa"]);
/// let json = serde_json::to_value(&claims)?;
/// assert_eq!(json["exp"], 1_800_003_600);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinClaims {
    /// Issuer; the hub accepts only configured ones.
    pub iss: String,
    /// Audience; must name the hub's configured one.
    pub aud: Audience,
    /// The participant.
    pub sub: ParticipantId,
    /// The visit the token admits to.
    pub visit: VisitId,
    /// Role.
    pub role: Role,
    /// Display name (checked by [`crate::check_display_name`] at the hub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The clinic's patient record id, written only to the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    /// Issued at.
    pub iat: UnixSecs,
    /// Expiry.
    pub exp: UnixSecs,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<UnixSecs>,
    /// Unique token id: the hub refuses a second hello with the same one.
    pub jti: String,
    /// Authentication methods (RFC 8176). A provider token needs at least
    /// one; the hub may require a multi-factor one by role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Permissions from the start (PROTOCOL.md §6).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "known_permissions"
    )]
    pub perms: Vec<Permission>,
}

impl JoinClaims {
    /// Claims for `sub` in `visit`, with the default `amr` for the role
    /// ([`JoinClaims::default_amr`]), no name and no permissions.
    pub fn new(
        iss: impl Into<String>,
        aud: impl Into<Audience>,
        visit: VisitId,
        sub: ParticipantId,
        role: Role,
        lifetime: Lifetime,
        jti: impl Into<String>,
    ) -> Self {
        Self {
            iss: iss.into(),
            aud: aud.into(),
            sub,
            visit,
            role,
            name: None,
            patient_id: None,
            iat: lifetime.issued,
            exp: lifetime.expires,
            nbf: None,
            jti: jti.into(),
            amr: Self::default_amr(role),
            perms: Vec::new(),
        }
    }

    /// What a minter that knows nothing better writes in `amr`: `["mfa"]`
    /// for a provider (the hub refuses a provider token without `amr`, and
    /// may require multi-factor), `["pwd"]` for everyone else.
    pub fn default_amr(role: Role) -> Vec<String> {
        match role {
            Role::Provider => vec!["mfa".to_owned()],
            Role::Patient | Role::Guest => vec!["pwd".to_owned()],
        }
    }

    /// With a display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// With these permissions from the start.
    pub fn with_perms(mut self, perms: Vec<Permission>) -> Self {
        self.perms = perms;
        self
    }
}

/// `perms` as the hub reads it: an array, of which the entries that are not
/// a known permission are skipped.
fn known_permissions<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Permission>, D::Error> {
    let values = Vec::<serde_json::Value>::deserialize(d)?;
    Ok(values
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (VisitId, ParticipantId) {
        match (VisitId::new("v-1"), ParticipantId::new("pt-1")) {
            (Ok(v), Ok(p)) => (v, p),
            _ => unreachable!("valid ids"),
        }
    }

    #[test]
    fn a_patient_token_round_trips_and_leaves_out_what_is_empty() {
        let (visit, sub) = ids();
        let c = JoinClaims::new(
            "clinic",
            "bedside",
            visit,
            sub,
            Role::Patient,
            Lifetime::starting(UnixSecs(100), 60),
            "j",
        );
        let text = serde_json::to_string(&c).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"iss":"clinic","aud":"bedside","sub":"pt-1","visit":"v-1","role":"patient","iat":100,"exp":160,"jti":"j","amr":["pwd"]}"#
        );
        let back: Result<JoinClaims, _> = serde_json::from_str(&text);
        assert_eq!(back.ok(), Some(c));
    }

    #[test]
    fn unknown_permissions_are_skipped_and_a_list_of_audiences_is_read() {
        let text = r#"{"iss":"c","aud":["x","bedside"],"sub":"pt-1","visit":"v-1",
            "role":"guest","iat":1,"exp":2,"jti":"j","perms":["screen_share","teleport",7]}"#;
        let c: Result<JoinClaims, _> = serde_json::from_str(text);
        let c = c.ok();
        assert_eq!(
            c.as_ref().map(|c| c.perms.clone()),
            Some(vec![Permission::ScreenShare])
        );
        assert!(c.as_ref().is_some_and(|c| c.aud.names("bedside")));
        assert!(c.is_some_and(|c| !c.aud.names("other") && c.amr.is_empty()));
    }

    #[test]
    fn a_provider_gets_multi_factor_by_default() {
        assert_eq!(JoinClaims::default_amr(Role::Provider), ["mfa"]);
        assert_eq!(JoinClaims::default_amr(Role::Guest), ["pwd"]);
    }
}

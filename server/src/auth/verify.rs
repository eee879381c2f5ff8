//! Token verification: header checks, signature, then claims against `now`.
//!
//! Pure: the caller passes the current time, so tests can move the clock.
//! Nothing here logs the token; errors carry a reason safe to log.

use super::keyset::KeySet;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bedside_protocol::{ParticipantId, Permission, Role, VisitId};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use std::collections::HashSet;

/// Clock skew allowed on `exp`, `nbf` and `iat` (section 2).
pub const CLOCK_SKEW_S: i64 = 30;

/// Methods in `amr` that count as multi-factor (section 2).
const MFA_METHODS: [&str; 4] = ["mfa", "otp", "hwk", "swk"];

/// Why a token was refused. Each maps to close 4001; the text is safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not three base64url parts, or the header is not JSON.
    #[error("malformed token")]
    Malformed,
    /// `alg: none`.
    #[error("unsigned token (alg none)")]
    AlgNone,
    /// An algorithm other than EdDSA, ES256, HS256.
    #[error("unsupported algorithm {0}")]
    UnsupportedAlg(String),
    /// No `kid` in the header.
    #[error("token header has no kid")]
    MissingKid,
    /// `kid` not in the key set.
    #[error("unknown kid")]
    UnknownKid,
    /// The header's `alg` is not the key's algorithm (algorithm confusion).
    #[error("algorithm {token} does not match the key's {key}")]
    AlgMismatch {
        /// The header's alg.
        token: String,
        /// The key's alg.
        key: String,
    },
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// A claim is missing or has the wrong shape.
    #[error("bad claims: {0}")]
    BadClaims(String),
    /// `exp` is in the past (beyond the skew).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the skew).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the skew).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `iss` is not a configured issuer.
    #[error("unknown issuer")]
    WrongIssuer,
    /// `aud` does not name the configured audience.
    #[error("wrong audience")]
    WrongAudience,
    /// The role must authenticate with MFA and `amr` shows none.
    #[error("{0} token without multi-factor authentication")]
    MfaRequired(&'static str),
    /// The `jti` was used before.
    #[error("token replayed")]
    Replayed,
    /// A refresh token for another participant, visit or role.
    #[error("token does not match the session")]
    Mismatch,
}

impl AuthError {
    /// A stable short code for metrics and audit details.
    pub fn reason_code(&self) -> &'static str {
        match self {
            AuthError::Malformed => "malformed",
            AuthError::AlgNone => "alg_none",
            AuthError::UnsupportedAlg(_) => "unsupported_alg",
            AuthError::MissingKid => "missing_kid",
            AuthError::UnknownKid => "unknown_kid",
            AuthError::AlgMismatch { .. } => "alg_mismatch",
            AuthError::BadSignature => "bad_signature",
            AuthError::BadClaims(_) => "bad_claims",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::IssuedInFuture => "issued_in_future",
            AuthError::WrongIssuer => "wrong_issuer",
            AuthError::WrongAudience => "wrong_audience",
            AuthError::MfaRequired(_) => "mfa_required",
            AuthError::Replayed => "replayed",
            AuthError::Mismatch => "mismatch",
        }
    }
}

/// The verified content of a join token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// The participant.
    pub sub: ParticipantId,
    /// The visit the token admits to.
    pub visit: VisitId,
    /// Role.
    pub role: Role,
    /// Display name.
    pub name: Option<String>,
    /// Patient record id, for the audit log only.
    pub patient_id: Option<String>,
    /// Unique token id.
    pub jti: String,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Permissions granted from the start (filtered by role).
    pub perms: Vec<Permission>,
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    /// Not used, but a header whose `typ` is not a string is malformed.
    #[serde(rename = "typ")]
    _typ: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct RawClaims {
    iss: String,
    aud: Audience,
    sub: ParticipantId,
    exp: i64,
    iat: i64,
    nbf: Option<i64>,
    jti: String,
    visit: VisitId,
    role: Role,
    name: Option<String>,
    patient_id: Option<String>,
    #[serde(default)]
    amr: Vec<String>,
    #[serde(default)]
    perms: Vec<serde_json::Value>,
}

/// Verifies join tokens against a key set and the configured claims policy.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: KeySet,
    issuers: HashSet<String>,
    audience: String,
    require_mfa: Vec<Role>,
}

impl Verifier {
    /// A verifier for `keys`, accepting `issuers` and `audience`.
    pub fn new(
        keys: KeySet,
        issuers: Vec<String>,
        audience: String,
        require_mfa: Vec<Role>,
    ) -> Self {
        Self {
            keys,
            issuers: issuers.into_iter().collect(),
            audience,
            require_mfa,
        }
    }

    /// Checks header, signature and claims at time `now` (unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, AuthError> {
        self.verify_with(token, now, true)
    }

    /// `verify`; with `fast` false, EdDSA tokens take jsonwebtoken's path
    /// too (the reference the fast path is tested against).
    fn verify_with(&self, token: &str, now: i64, fast: bool) -> Result<Claims, AuthError> {
        let header = read_header(token)?;
        let alg = match header.alg.as_deref() {
            None => return Err(AuthError::Malformed),
            Some(a) if a.eq_ignore_ascii_case("none") => return Err(AuthError::AlgNone),
            Some("EdDSA") => Algorithm::EdDSA,
            Some("ES256") => Algorithm::ES256,
            Some("HS256") => Algorithm::HS256,
            Some(other) => return Err(AuthError::UnsupportedAlg(truncate(other))),
        };
        let kid = header.kid.ok_or(AuthError::MissingKid)?;
        let key = self.keys.get(&kid).ok_or(AuthError::UnknownKid)?;
        if key.alg != alg {
            return Err(AuthError::AlgMismatch {
                token: format!("{alg:?}"),
                key: format!("{:?}", key.alg),
            });
        }
        if let Some(point) = key.ed25519.as_ref().filter(|_| fast) {
            let raw = verify_eddsa(point, token)?;
            return self.check_claims(raw, now);
        }
        let mut validation = Validation::new(key.alg);
        validation.algorithms = vec![key.alg];
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => AuthError::AlgMismatch {
                    token: format!("{alg:?}"),
                    key: format!("{:?}", key.alg),
                },
                jsonwebtoken::errors::ErrorKind::Json(_)
                | jsonwebtoken::errors::ErrorKind::Base64(_)
                | jsonwebtoken::errors::ErrorKind::Utf8(_)
                | jsonwebtoken::errors::ErrorKind::InvalidToken => AuthError::Malformed,
                _ => AuthError::BadSignature,
            })?;
        let raw: RawClaims =
            serde_json::from_value(data.claims).map_err(|e| AuthError::BadClaims(e.to_string()))?;
        self.check_claims(raw, now)
    }

    fn check_claims(&self, c: RawClaims, now: i64) -> Result<Claims, AuthError> {
        if !self.issuers.contains(&c.iss) {
            return Err(AuthError::WrongIssuer);
        }
        let aud_ok = match &c.aud {
            Audience::One(a) => *a == self.audience,
            Audience::Many(list) => list.contains(&self.audience),
        };
        if !aud_ok {
            return Err(AuthError::WrongAudience);
        }
        if c.exp + CLOCK_SKEW_S <= now {
            return Err(AuthError::Expired);
        }
        if c.nbf.is_some_and(|nbf| nbf - CLOCK_SKEW_S > now) {
            return Err(AuthError::NotYetValid);
        }
        if c.iat - CLOCK_SKEW_S > now {
            return Err(AuthError::IssuedInFuture);
        }
        if c.jti.is_empty() || c.jti.len() > 256 {
            return Err(AuthError::BadClaims("jti must be 1–256 bytes".into()));
        }
        if c.role == Role::Provider && c.amr.is_empty() {
            return Err(AuthError::BadClaims("provider token needs amr".into()));
        }
        let has_mfa = c.amr.iter().any(|m| MFA_METHODS.contains(&m.as_str()));
        if self.require_mfa.contains(&c.role) && !has_mfa {
            return Err(AuthError::MfaRequired(c.role.as_str()));
        }
        let mut perms: Vec<Permission> = c
            .perms
            .iter()
            .filter_map(|v| serde_json::from_value::<Permission>(v.clone()).ok())
            .filter(|p| *p != Permission::Admit)
            .collect();
        perms.sort();
        perms.dedup();
        let name = c.name.map(|n| n.chars().take(128).collect());
        Ok(Claims {
            iss: c.iss,
            sub: c.sub,
            visit: c.visit,
            role: c.role,
            name,
            patient_id: c.patient_id,
            jti: c.jti,
            exp: c.exp,
            perms,
        })
    }
}

/// Verifies an EdDSA token's signature with a decompressed key and reads its
/// claims straight into [`RawClaims`]. Same outcomes as jsonwebtoken's
/// `decode` (a test compares them over good and damaged tokens); the header
/// was read and checked by the caller.
fn verify_eddsa(point: &ed25519_dalek::VerifyingKey, token: &str) -> Result<RawClaims, AuthError> {
    let (signed, signature) = token.rsplit_once('.').ok_or(AuthError::Malformed)?;
    let payload = signed
        .split_once('.')
        .map(|(_, p)| p)
        .ok_or(AuthError::Malformed)?;
    let mut sig = [0u8; 64];
    match URL_SAFE_NO_PAD.decode_slice(signature, &mut sig) {
        Ok(64) => {}
        Ok(_) | Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            return Err(AuthError::BadSignature);
        }
        Err(base64::DecodeSliceError::DecodeError(_)) => return Err(AuthError::Malformed),
    }
    // `verify`, not `verify_strict`: what jsonwebtoken does. Replays of a
    // re-encoded signature are caught by `jti`, not by the signature.
    ed25519_dalek::Verifier::verify(
        point,
        signed.as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&sig),
    )
    .map_err(|_| AuthError::BadSignature)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| AuthError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => AuthError::BadClaims(e.to_string()),
        _ => AuthError::Malformed,
    })
}

fn read_header(token: &str) -> Result<Header, AuthError> {
    let mut parts = token.split('.');
    let (Some(h), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(h)
        .map_err(|_| AuthError::Malformed)?;
    // from_str, not from_slice: ignored strings must be UTF-8 too.
    let text = std::str::from_utf8(&bytes).map_err(|_| AuthError::Malformed)?;
    serde_json::from_str(text).map_err(|_| AuthError::Malformed)
}

fn truncate(s: &str) -> String {
    s.chars().take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::mint::PrivateKey;

    const NOW: i64 = 1_800_000_000;

    fn setup() -> (PrivateKey, Verifier) {
        let key = PrivateKey::generate("k1");
        let keys = KeySet::from_json(&key.public_jwks()).expect("key set");
        let v = Verifier::new(keys, vec!["clinic".into()], "bedside".into(), vec![]);
        (key, v)
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({"iss":"clinic","aud":"bedside","sub":"pt","exp":NOW + 600,
            "iat":NOW,"jti":"j-1","visit":"v-1","role":"patient","name":"Pat"})
    }

    /// Both paths, with errors compared by their audit reason.
    fn both(
        v: &Verifier,
        token: &str,
    ) -> (Result<Claims, &'static str>, Result<Claims, &'static str>) {
        let fast = v.verify_with(token, NOW, true).map_err(|e| e.reason_code());
        let reference = v
            .verify_with(token, NOW, false)
            .map_err(|e| e.reason_code());
        (fast, reference)
    }

    #[test]
    fn eddsa_fast_path_accepts_what_jsonwebtoken_accepts() {
        let (key, v) = setup();
        // Otherwise both sides below would be jsonwebtoken.
        assert!(v.keys.get("k1").is_some_and(|k| k.ed25519.is_some()));
        let token = key.sign(&claims()).expect("sign");
        let (fast, reference) = both(&v, &token);
        assert_eq!(fast, reference);
        assert_eq!(fast.expect("valid").sub.as_str(), "pt");
        let mut bad = claims();
        bad["role"] = serde_json::json!("janitor");
        let (fast, reference) = both(&v, &key.sign(&bad).expect("sign"));
        assert_eq!(fast, reference);
        assert!(fast.is_err());
    }

    #[test]
    fn eddsa_fast_path_refuses_every_damaged_token_as_jsonwebtoken_does() {
        let (key, v) = setup();
        let token = key.sign(&claims()).expect("sign");
        let bytes = token.as_bytes();
        let mut checked = 0;
        // Every position changed to a few other characters, then truncations
        // and extra segments.
        for i in 0..bytes.len() {
            for c in [b'A', b'_', b'.', b'=', b'z'] {
                if bytes[i] == c {
                    continue;
                }
                let mut damaged = bytes.to_vec();
                damaged[i] = c;
                let damaged = String::from_utf8(damaged).expect("ascii");
                let (fast, reference) = both(&v, &damaged);
                assert_eq!(fast, reference, "{damaged}");
                checked += 1;
            }
        }
        for cut in 0..bytes.len() {
            let (fast, reference) = both(&v, &token[..cut]);
            assert_eq!(fast, reference, "cut at {cut}");
        }
        for extra in [".", ".x", "x", "AA"] {
            let (fast, reference) = both(&v, &format!("{token}{extra}"));
            assert_eq!(fast, reference, "{extra}");
            assert!(fast.is_err());
        }
        assert!(checked > 1000);
    }
}

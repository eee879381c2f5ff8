//! Token verification: header checks, signature, then claims against `now`.
//!
//! Pure: the caller passes the current time, so tests can move the clock.
//! Nothing here logs the token; errors carry a reason safe to log.

use super::keyset::KeySet;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bedside_protocol::time::UnixSecs;
use bedside_protocol::{JoinClaims, Permission, Role};
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use std::collections::HashSet;

/// Clock skew allowed on `exp`, `nbf` and `iat` (section 2).
pub const CLOCK_SKEW_S: i64 = 30;

/// Latest time claim accepted: 9999-12-31T23:59:59Z, the last second RFC
/// 3339 (and so the audit log) can write. Any arithmetic on a claim stays
/// far from `i64` overflow, in seconds or in milliseconds.
pub const MAX_UNIX_S: UnixSecs = UnixSecs(253_402_300_799);

/// Methods in `amr` that count as multi-factor (section 2).
const MFA_METHODS: [&str; 4] = ["mfa", "otp", "hwk", "swk"];

/// The longest an operator API token may live (`exp - iat`, seconds).
pub const ADMIN_MAX_LIFETIME_S: i64 = 3600;

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
    /// The header or the claims repeat a member name (RFC 7515 section 4,
    /// RFC 7519 section 4: refused for every algorithm, one rule).
    #[error("token repeats a header parameter or claim")]
    Duplicate,
    /// The header has `crit` (RFC 7515 section 4.1.11): the hub
    /// understands no extension.
    #[error("token header lists critical extensions")]
    Critical,
    /// `exp`, `nbf` or `iat` outside the years 1970 to 9999: no issuer
    /// means that (milliseconds or nanoseconds written as seconds, say).
    #[error("time claim out of range")]
    TimeOutOfRange,
    /// The `jti` was used before.
    #[error("token replayed")]
    Replayed,
    /// A resume token that is unknown, used or expired.
    #[error("resume refused: unknown, used or expired resume token")]
    ResumeRefused,
    /// A refresh token for another participant, visit or role.
    #[error("token does not match the session")]
    Mismatch,
    /// An operator API token without role `admin`.
    #[error("token is not an admin token")]
    NotAdmin,
    /// An operator revoked the user's sessions (and, until a time, their
    /// new hellos).
    #[error("the user's sessions were revoked")]
    Revoked,
}

/// The claims of an operator API token.
#[derive(Debug, Clone, Deserialize)]
pub struct AdminClaims {
    /// Issuer.
    pub iss: String,
    /// Audience (the operator API's, `bedside-admin` by default).
    pub aud: bedside_protocol::claims::Audience,
    /// The operator.
    pub sub: String,
    /// Must be `admin`.
    #[serde(default)]
    pub role: String,
    /// Expiry.
    pub exp: UnixSecs,
    /// Issued at.
    pub iat: UnixSecs,
    /// Not before.
    #[serde(default)]
    pub nbf: Option<UnixSecs>,
    /// Authentication methods; one must be an MFA method.
    #[serde(default)]
    pub amr: Vec<String>,
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
            AuthError::Duplicate => "duplicate_member",
            AuthError::Critical => "crit",
            AuthError::TimeOutOfRange => "time_out_of_range",
            AuthError::Replayed => "replayed",
            AuthError::Mismatch => "mismatch",
            AuthError::ResumeRefused => "resume_refused",
            AuthError::NotAdmin => "not_admin",
            AuthError::Revoked => "revoked",
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    /// Not used, but a header whose `typ` is not a string is malformed.
    #[serde(rename = "typ")]
    _typ: Option<String>,
    /// RFC 7515 section 4.1.11; present at all means refused.
    crit: Option<serde::de::IgnoredAny>,
}

/// Verifies join tokens against a key set and the configured claims policy.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: std::sync::Arc<super::keyring::KeyRing>,
    issuers: HashSet<String>,
    audience: String,
    require_mfa: Vec<Role>,
}

impl Verifier {
    /// A verifier for `keys` (fixed), accepting `issuers` and `audience`.
    pub fn new(
        keys: KeySet,
        issuers: Vec<String>,
        audience: String,
        require_mfa: Vec<Role>,
    ) -> Self {
        Self::with_ring(
            super::keyring::KeyRing::fixed(keys),
            issuers,
            audience,
            require_mfa,
        )
    }

    /// A verifier whose keys are `ring`'s, whatever set it holds when a
    /// token arrives.
    pub fn with_ring(
        keys: std::sync::Arc<super::keyring::KeyRing>,
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

    /// Checks header, signature and claims at time `now`. The claims come
    /// back with `perms` sorted, without duplicates and without `admit`
    /// (never grantable by a token).
    pub fn verify(&self, token: &str, now: UnixSecs) -> Result<JoinClaims, AuthError> {
        self.verify_with(token, now, true)
    }

    /// The keys in use.
    pub fn keys(&self) -> &std::sync::Arc<super::keyring::KeyRing> {
        &self.keys
    }

    /// [`Verifier::verify`]; a token naming a kid the set lacks makes the
    /// key source (an identity provider's URL) fetch at once, rate-limited,
    /// and the token is checked again against what it returns: a key the
    /// provider just added is accepted without waiting for its schedule.
    pub async fn verify_fetching(
        &self,
        token: &str,
        now: UnixSecs,
    ) -> Result<JoinClaims, AuthError> {
        match self.verify(token, now) {
            Err(AuthError::UnknownKid) => {
                let kid = read_header(token)
                    .ok()
                    .and_then(|(h, _)| h.kid)
                    .unwrap_or_default();
                if self
                    .keys
                    .fetch_for(&kid, std::time::Duration::from_secs(3))
                    .await
                {
                    self.verify(token, now)
                } else {
                    Err(AuthError::UnknownKid)
                }
            }
            other => other,
        }
    }

    /// The `kid` a token names (not verified): which key a session stands on.
    pub fn kid_of(token: &str) -> Option<String> {
        read_header(token).ok().and_then(|(h, _)| h.kid)
    }

    /// `verify`; with `fast` false, EdDSA signatures are checked by
    /// jsonwebtoken too (the reference the fast path is tested against).
    /// Every algorithm then reads its claims the same way ([`read_claims`]).
    fn verify_with(&self, token: &str, now: UnixSecs, fast: bool) -> Result<JoinClaims, AuthError> {
        let payload = self.signed_payload(token, fast)?;
        self.check_claims(read_claims(payload)?, now)
    }

    /// An operator API token: signed by an issuer key, from a configured
    /// issuer, for `audience` (not the join audience), current, with role
    /// `admin` and an MFA method in `amr`.
    pub fn verify_admin(
        &self,
        token: &str,
        now: UnixSecs,
        audience: &str,
        admin_issuers: &[String],
    ) -> Result<AdminClaims, AuthError> {
        let payload = self.signed_payload(token, true)?;
        let text = json_part(payload)?;
        let c: AdminClaims = serde_json::from_str(&text).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => AuthError::BadClaims("not admin claims".into()),
            _ => AuthError::Malformed,
        })?;
        let issuer_ok = if admin_issuers.is_empty() {
            self.issuers.contains(&c.iss)
        } else {
            admin_issuers.contains(&c.iss)
        };
        if !issuer_ok {
            return Err(AuthError::WrongIssuer);
        }
        if !c.aud.names(audience) {
            return Err(AuthError::WrongAudience);
        }
        let in_range = |t: UnixSecs| (UnixSecs(0)..=MAX_UNIX_S).contains(&t);
        if !in_range(c.exp) || !in_range(c.iat) || !c.nbf.is_none_or(in_range) {
            return Err(AuthError::TimeOutOfRange);
        }
        // A bearer credential for the operator API lives an hour at most.
        if c.exp.0.saturating_sub(c.iat.0) > ADMIN_MAX_LIFETIME_S {
            return Err(AuthError::BadClaims(format!(
                "admin tokens may live {ADMIN_MAX_LIFETIME_S} s at most"
            )));
        }
        if c.exp.plus_secs(CLOCK_SKEW_S) <= now {
            return Err(AuthError::Expired);
        }
        if c.nbf.is_some_and(|nbf| nbf.plus_secs(-CLOCK_SKEW_S) > now)
            || c.iat.plus_secs(-CLOCK_SKEW_S) > now
        {
            return Err(AuthError::NotYetValid);
        }
        if c.role != "admin" {
            return Err(AuthError::NotAdmin);
        }
        if !c.amr.iter().any(|m| MFA_METHODS.contains(&m.as_str())) {
            return Err(AuthError::MfaRequired("admin"));
        }
        if c.sub.is_empty() || c.sub.len() > 128 {
            return Err(AuthError::BadClaims("sub must be 1–128 bytes".into()));
        }
        Ok(c)
    }

    /// Checks the header and the signature; the payload part.
    fn signed_payload<'t>(&self, token: &'t str, fast: bool) -> Result<&'t str, AuthError> {
        let (header, parts) = read_header(token)?;
        if header.crit.is_some() {
            // RFC 7515 section 4.1.11: the hub understands no extension, and
            // an empty list is itself malformed.
            return Err(AuthError::Critical);
        }
        let alg = match header.alg.as_deref() {
            None => return Err(AuthError::Malformed),
            Some(a) if a.eq_ignore_ascii_case("none") => return Err(AuthError::AlgNone),
            Some("EdDSA") => Algorithm::EdDSA,
            Some("ES256") => Algorithm::ES256,
            Some("RS256") => Algorithm::RS256,
            Some("HS256") => Algorithm::HS256,
            Some(other) => return Err(AuthError::UnsupportedAlg(truncate(other))),
        };
        let kid = header.kid.ok_or(AuthError::MissingKid)?;
        let keys = self.keys.current();
        let key = keys.get(&kid).ok_or(AuthError::UnknownKid)?;
        if key.alg != alg {
            return Err(AuthError::AlgMismatch {
                token: format!("{alg:?}"),
                key: format!("{:?}", key.alg),
            });
        }
        match key.ed25519.as_ref().filter(|_| fast) {
            Some(point) => verify_eddsa(point, &parts)?,
            None => {
                let good = jsonwebtoken::crypto::verify(
                    parts.signature,
                    parts.signed.as_bytes(),
                    &key.key,
                    key.alg,
                )
                .map_err(|e| match e.kind() {
                    jsonwebtoken::errors::ErrorKind::Base64(_) => AuthError::Malformed,
                    _ => AuthError::BadSignature,
                })?;
                if !good {
                    return Err(AuthError::BadSignature);
                }
            }
        }
        Ok(parts.payload)
    }

    fn check_claims(&self, mut c: JoinClaims, now: UnixSecs) -> Result<JoinClaims, AuthError> {
        if !self.issuers.contains(&c.iss) {
            return Err(AuthError::WrongIssuer);
        }
        if !c.aud.names(&self.audience) {
            return Err(AuthError::WrongAudience);
        }
        let in_range = |t: UnixSecs| (UnixSecs(0)..=MAX_UNIX_S).contains(&t);
        if !in_range(c.exp) || !in_range(c.iat) || !c.nbf.is_none_or(in_range) {
            return Err(AuthError::TimeOutOfRange);
        }
        if c.exp.plus_secs(CLOCK_SKEW_S) <= now {
            return Err(AuthError::Expired);
        }
        if c.nbf.is_some_and(|nbf| nbf.plus_secs(-CLOCK_SKEW_S) > now) {
            return Err(AuthError::NotYetValid);
        }
        if c.iat.plus_secs(-CLOCK_SKEW_S) > now {
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
        c.perms.retain(|p| *p != Permission::Admit);
        c.perms.sort();
        c.perms.dedup();
        if let Some(name) = &c.name {
            bedside_protocol::check_display_name(name)
                .map_err(|e| AuthError::BadClaims(e.to_string()))?;
        }
        if let Some(p) = &c.patient_id {
            bedside_protocol::check_display_text(p, 128)
                .map_err(|e| AuthError::BadClaims(format!("patient_id: {e}")))?;
        }
        Ok(c)
    }
}

/// The three parts of a compact JWS.
struct Parts<'a> {
    /// `header.payload`, what the signature covers.
    signed: &'a str,
    payload: &'a str,
    signature: &'a str,
}

/// Verifies an EdDSA signature with a decompressed key. Same outcomes as
/// jsonwebtoken's (a test compares them over good and damaged tokens).
fn verify_eddsa(point: &ed25519_dalek::VerifyingKey, parts: &Parts<'_>) -> Result<(), AuthError> {
    let mut sig = [0u8; 64];
    match URL_SAFE_NO_PAD.decode_slice(parts.signature, &mut sig) {
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
        parts.signed.as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&sig),
    )
    .map_err(|_| AuthError::BadSignature)
}

/// Decodes one base64url part as UTF-8 JSON in which no object repeats a
/// member name (the one reading every algorithm shares).
fn json_part(part: &str) -> Result<String, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::Malformed)?;
    // Ignored strings must be UTF-8 too.
    let text = String::from_utf8(bytes).map_err(|_| AuthError::Malformed)?;
    super::json::unique_members(&text).map_err(|e| match e {
        super::json::JsonError::Duplicate(_) => AuthError::Duplicate,
        super::json::JsonError::Syntax(_) => AuthError::Malformed,
    })?;
    Ok(text)
}

/// The signed claims, once the signature is known good.
fn read_claims(payload: &str) -> Result<JoinClaims, AuthError> {
    let text = json_part(payload)?;
    serde_json::from_str(&text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => AuthError::BadClaims(e.to_string()),
        _ => AuthError::Malformed,
    })
}

fn read_header(token: &str) -> Result<(Header, Parts<'_>), AuthError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    let text = json_part(h)?;
    let header = serde_json::from_str(&text).map_err(|_| AuthError::Malformed)?;
    let signed = &token[..h.len() + 1 + p.len()];
    Ok((
        header,
        Parts {
            signed,
            payload: p,
            signature,
        },
    ))
}

fn truncate(s: &str) -> String {
    s.chars().take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bedside_token::PrivateKey;

    /// The modulus of `tests/data/rsa-2048.test-key.der` (PKCS#1) (a key made for
    /// these tests only), base64url.
    const RSA_N: &str = "4LKtHLd6g5pvGWI4uymyBHTmlXrP3l8yAJrbWvm9Ke1cQbSrUBJQRthBJlJ337HWdvQammj8sWmOdAorUMUBTEpKsD256NYF0LwGKcba1iFTAcN3F0tlhDCMUSWCzzhdufqfSqRihGyAohYEaRDB_apbg6RXpWEDEQR9J7Bqb8Ee2mMSr6vHCrcc2-FhlQhmRpYpEBTioYEeC7V90LrX3F9NBSaPRchqYL3DXjAAhTeVFgJg56RI93PejMYCcwrLSQ8qQEthdkcFQjpj6bt6mvYLX2ugG8c-hzRJoaqLVc8-RLWOjsZihkvZoipBm3ONQuz_l4rDwqbGdiwh18DsXQ";

    #[test]
    fn rs256_tokens_from_an_identity_provider_verify() {
        let set = serde_json::json!({"keys": [
            {"kty":"RSA","kid":"idp-rsa","use":"sig","n":RSA_N,"e":"AQAB"},
            // Providers publish more than signature keys: left out, not fatal.
            {"kty":"RSA","kid":"idp-enc","use":"enc","n":RSA_N,"e":"AQAB"},
            {"kty":"RSA","kid":"idp-ps","alg":"PS256","n":RSA_N,"e":"AQAB"},
        ]});
        let (keys, skipped) = KeySet::from_json(&set.to_string()).expect("key set");
        assert_eq!(keys.kids().collect::<Vec<_>>(), ["idp-rsa"]);
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        let v = Verifier::new(keys, vec!["clinic".into()], "bedside".into(), vec![]);
        let der = include_bytes!("../../tests/data/rsa-2048.test-key.der");
        let enc = jsonwebtoken::EncodingKey::from_rsa_der(der);
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some("idp-rsa".into());
        let token = jsonwebtoken::encode(&header, &claims(), &enc).expect("sign");
        let now = NOW;
        assert!(v.verify(&token, now).is_ok());
        // The same key named as HS256 (algorithm confusion) is refused.
        let mut parts: Vec<&str> = token.split('.').collect();
        let hs = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"alg":"HS256","kid":"idp-rsa"}"#);
        parts[0] = &hs;
        assert!(matches!(
            v.verify(&parts.join("."), now),
            Err(AuthError::AlgMismatch { .. })
        ));
    }

    const NOW: UnixSecs = UnixSecs(1_800_000_000);

    fn setup() -> (PrivateKey, Verifier) {
        let key = PrivateKey::generate("k1");
        let keys = KeySet::from_json(&key.public_jwks()).expect("key set").0;
        let v = Verifier::new(keys, vec!["clinic".into()], "bedside".into(), vec![]);
        (key, v)
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({"iss":"clinic","aud":"bedside","sub":"pt","exp":NOW.0 + 600,
            "iat":NOW.0,"jti":"j-1","visit":"v-1","role":"patient","name":"Pat"})
    }

    /// Both paths, with errors compared by their audit reason.
    fn both(
        v: &Verifier,
        token: &str,
    ) -> (
        Result<JoinClaims, &'static str>,
        Result<JoinClaims, &'static str>,
    ) {
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
        assert!(
            v.keys
                .current()
                .get("k1")
                .is_some_and(|k| k.ed25519.is_some())
        );
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

    /// A key set with an Ed25519, a P-256 and an HMAC key, and a signer
    /// of raw header and payload texts for each.
    struct ThreeKeys {
        ed: PrivateKey,
        ec: jsonwebtoken::EncodingKey,
        hs: Vec<u8>,
        verifier: Verifier,
    }

    impl ThreeKeys {
        fn new() -> Self {
            let ed = PrivateKey::generate("ed");
            let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("p256");
            let point = kp.public_key_raw().to_vec();
            let hs = vec![9u8; 32];
            let mut set: serde_json::Value = serde_json::from_str(&ed.public_jwks()).expect("jwks");
            let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
            set["keys"]
                .as_array_mut()
                .expect("keys")
                .extend([
                    serde_json::json!({"kty":"EC","crv":"P-256","kid":"ec","x":b64(&point[1..33]),"y":b64(&point[33..])}),
                    serde_json::json!({"kty":"oct","kid":"hs","alg":"HS256","k":b64(&hs)}),
                ]);
            let keys = KeySet::from_json(&set.to_string()).expect("key set").0;
            Self {
                ed,
                ec: jsonwebtoken::EncodingKey::from_ec_der(&kp.serialize_der()),
                hs,
                verifier: Verifier::new(keys, vec!["clinic".into()], "bedside".into(), vec![]),
            }
        }

        /// Signs the texts as they are (no re-serialization), with `alg`.
        fn sign(&self, alg: &str, header: &str, payload: &str) -> String {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(payload)
            );
            let sig = match alg {
                "EdDSA" => URL_SAFE_NO_PAD.encode(
                    ed25519_dalek::Signer::sign(self.ed.signing_key(), input.as_bytes()).to_bytes(),
                ),
                "ES256" => jsonwebtoken::crypto::sign(input.as_bytes(), &self.ec, Algorithm::ES256)
                    .expect("es256"),
                _ => jsonwebtoken::crypto::sign(
                    input.as_bytes(),
                    &jsonwebtoken::EncodingKey::from_secret(&self.hs),
                    Algorithm::HS256,
                )
                .expect("hs256"),
            };
            format!("{input}.{sig}")
        }

        /// The verdict on `payload` under each algorithm, with `extra` in
        /// the header, by both signature paths.
        fn verdicts(&self, extra: &str, payload: &str) -> Vec<Result<JoinClaims, &'static str>> {
            let mut out = Vec::new();
            for (alg, kid) in [("EdDSA", "ed"), ("ES256", "ec"), ("HS256", "hs")] {
                let header = format!(r#"{{"alg":"{alg}","kid":"{kid}"{extra}}}"#);
                let token = self.sign(alg, &header, payload);
                let (fast, reference) = both(&self.verifier, &token);
                assert_eq!(fast, reference, "{alg}");
                out.push(fast);
            }
            out
        }
    }

    fn payload(extra: &str) -> String {
        format!(
            r#"{{"iss":"clinic","aud":"bedside","sub":"pt","exp":{},"iat":{},"jti":"j-1","visit":"v-1","role":"patient"{extra}}}"#,
            NOW.0 + 600,
            NOW.0
        )
    }

    #[test]
    fn every_algorithm_accepts_a_good_token() {
        let k = ThreeKeys::new();
        for v in k.verdicts("", &payload("")) {
            assert_eq!(v.expect("accepted").sub.as_str(), "pt");
        }
    }

    #[test]
    fn a_repeated_claim_or_header_parameter_is_refused_by_every_algorithm() {
        let k = ThreeKeys::new();
        for extra in [
            r#","role":"provider""#,
            r#","sub":"dr-ada""#,
            r#","exp":99999999999"#,
            r#","x":{"a":1,"a":2}"#,
        ] {
            for v in k.verdicts("", &payload(extra)) {
                assert_eq!(v.map(|_| ()), Err("duplicate_member"), "{extra}");
            }
        }
        for v in k.verdicts(r#","kid":"other""#, &payload("")) {
            assert_eq!(v.map(|_| ()), Err("duplicate_member"));
        }
    }

    #[test]
    fn a_critical_header_is_refused_even_when_empty() {
        let k = ThreeKeys::new();
        for crit in [
            r#","crit":["exp"]"#,
            r#","crit":[]"#,
            r#","crit":["b64"],"b64":false"#,
        ] {
            for v in k.verdicts(crit, &payload("")) {
                assert_eq!(v.map(|_| ()), Err("crit"), "{crit}");
            }
        }
    }

    #[test]
    fn time_claims_no_issuer_means_are_refused() {
        let k = ThreeKeys::new();
        let with = |exp: &str, iat: &str, nbf: &str| {
            format!(
                r#"{{"iss":"clinic","aud":"bedside","sub":"pt","exp":{exp},"iat":{iat}{nbf},"jti":"j","visit":"v-1","role":"patient"}}"#
            )
        };
        let now = NOW.0.to_string();
        let ok_exp = (NOW.0 + 600).to_string();
        for (exp, iat, nbf) in [
            ("4611686018427387904", now.as_str(), ""), // 2^62: nanoseconds as seconds
            ("9223372036854775807", now.as_str(), ""),
            ("253402300800", now.as_str(), ""), // year 10000
            (ok_exp.as_str(), "-1", ""),
            (
                ok_exp.as_str(),
                now.as_str(),
                r#","nbf":-9223372036854775808"#,
            ),
            (
                ok_exp.as_str(),
                now.as_str(),
                r#","nbf":9223372036854775807"#,
            ),
        ] {
            for v in k.verdicts("", &with(exp, iat, nbf)) {
                assert_eq!(v.map(|_| ()), Err("time_out_of_range"), "{exp} {iat} {nbf}");
            }
        }
        // Far, but meant: the last second of 9999.
        for v in k.verdicts("", &with("253402300799", &now, "")) {
            assert!(v.is_ok());
        }
    }

    #[test]
    fn names_that_could_pose_as_another_are_refused() {
        let k = ThreeKeys::new();
        for name in [
            r#""Pat\u202eredivorP""#,
            r#""Pat\u0000""#,
            r#""Dr.\u200bAda""#,
        ] {
            for v in k.verdicts("", &payload(&format!(r#","name":{name}"#))) {
                assert_eq!(v.map(|_| ()), Err("bad_claims"), "{name}");
            }
        }
        for v in k.verdicts(
            "",
            &payload(&format!(r#","patient_id":"{}""#, "9".repeat(129))),
        ) {
            assert_eq!(
                v.map(|_| ()),
                Err("bad_claims"),
                "a 129-character patient id"
            );
        }
        for v in k.verdicts("", &payload(r#","name":"Zoë O'Brien""#)) {
            assert_eq!(v.expect("ok").name.as_deref(), Some("Zoë O'Brien"));
        }
    }
}

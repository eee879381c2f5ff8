//! `welcome.ice_servers`: STUN URLs as configured, TURN URLs with
//! credentials in coturn's `use-auth-secret` form (the TURN REST convention):
//! `username = "<expiry>:<participant>"`, `credential = base64(HMAC-SHA1(secret, username))`.

use crate::config::IceConfig;
use base64::Engine as _;
use bedside_protocol::{IceServer, ParticipantId};
use hmac::{Hmac, Mac};

/// The ICE servers for `participant` at unix time `now`.
pub fn ice_servers(cfg: &IceConfig, participant: &ParticipantId, now: i64) -> Vec<IceServer> {
    let mut out = Vec::new();
    if !cfg.stun.is_empty() {
        out.push(IceServer {
            urls: cfg.stun.clone(),
            username: None,
            credential: None,
        });
    }
    if let (false, Some(secret)) = (cfg.turn.is_empty(), cfg.turn_secret.as_deref()) {
        let username = format!("{}:{participant}", now + cfg.turn_ttl_s as i64);
        out.push(IceServer {
            urls: cfg.turn.clone(),
            credential: Some(turn_credential(secret, &username)),
            username: Some(username),
        });
    }
    out
}

/// base64(HMAC-SHA1(secret, username)), as coturn computes it.
pub fn turn_credential(secret: &str, username: &str) -> String {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coturn_rest_credentials() {
        // Reference value computed with: printf %s '1767225600:dr-ada' | openssl dgst -sha1 -hmac secret -binary | base64
        assert_eq!(
            turn_credential("secret", "1767225600:dr-ada"),
            "3fVxU5u0AO9YH8JrsUmMHVr2/KM="
        );
        let cfg = IceConfig {
            stun: vec!["stun:s:3478".into()],
            turn: vec!["turn:t:3478".into()],
            turn_secret: Some("secret".into()),
            turn_ttl_s: 100,
        };
        let s = ice_servers(&cfg, &ParticipantId::new("dr-ada").unwrap(), 1000);
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].username.as_deref(), Some("1100:dr-ada"));
    }
}

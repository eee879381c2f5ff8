//! Join tokens for the simulated participants: minted from the clinic's
//! private key file (what `bedside token` uses), or asked from a dev-mode
//! hub's `POST /dev/token`.

use bedside_protocol::claims::{JoinClaims, Lifetime};
use bedside_protocol::time::{UnixMs, UnixSecs};
use bedside_protocol::{ParticipantId, Role, VisitId};
use bedside_token::{PrivateKey, random_jti};
use std::sync::Arc;

/// Where tokens come from.
#[derive(Clone)]
pub enum Tokens {
    /// Signed here with the clinic's key.
    Key {
        /// The private key (JWKS).
        key: Arc<PrivateKey>,
        /// The `iss` claim.
        iss: String,
    },
    /// From `POST /dev/token` at this `http://IP:port`.
    Dev(String),
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tokens::Key { iss, .. } => write!(f, "Tokens::Key({iss})"),
            Tokens::Dev(u) => write!(f, "Tokens::Dev({u})"),
        }
    }
}

fn now() -> UnixSecs {
    UnixMs::from_system_time(std::time::SystemTime::now()).to_secs()
}

impl Tokens {
    /// A join token for `sub` in `visit`.
    pub async fn token(&self, visit: &str, role: Role, sub: &str) -> anyhow::Result<String> {
        match self {
            Tokens::Key { key, iss } => {
                let claims = JoinClaims::new(
                    iss.clone(),
                    "bedside",
                    VisitId::new(visit)?,
                    ParticipantId::new(sub)?,
                    role,
                    Lifetime::starting(now(), 3600),
                    random_jti(),
                );
                Ok(key.sign(&claims)?)
            }
            Tokens::Dev(base) => dev_token(base, visit, role, sub).await,
        }
    }
}

async fn dev_token(base: &str, visit: &str, role: Role, sub: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("dev tokens need an http:// hub address"))?
        .trim_end_matches('/');
    let body = serde_json::json!({"visit": visit, "role": role.as_str(), "sub": sub}).to_string();
    let mut tcp = tokio::net::TcpStream::connect(host).await?;
    let req = format!(
        "POST /dev/token HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(req.as_bytes()).await?;
    let mut resp = String::new();
    tcp.read_to_string(&mut resp).await?;
    let json = resp.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|_| anyhow::anyhow!("no token from {host}/dev/token: is the hub in dev mode?"))?;
    v["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no token in the answer of {host}/dev/token"))
}

//! `bedside admin …`: the operator API from a shell (docs/operations.md,
//! "Operator API"). Prints the hub's JSON answer; exit 0 on success, 1 when
//! the hub refused or could not be reached, 2 for bad arguments.

use bedside_server::fetch::Client;
use bytes::Bytes;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct AdminArgs {
    /// The hub's base URL, e.g. https://hub.clinic.example:8443.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8443")]
    url: String,
    /// A file holding the operator's admin token (`-`: standard input).
    #[arg(long, global = true)]
    token_file: Option<PathBuf>,
    /// Extra CA certificates (PEM) to trust for the hub's TLS.
    #[arg(long, global = true)]
    ca: Option<PathBuf>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// The live visits on the node, with participant ids and roles.
    Visits,
    /// End a visit for everyone.
    EndVisit {
        /// The visit id.
        visit: String,
    },
    /// Take a participant out of a visit.
    Remove {
        /// The visit id.
        visit: String,
        /// The participant id.
        participant: String,
    },
    /// End every session of a user in every visit, refuse their resumes,
    /// and (with --until-s) their new hellos for that many seconds.
    Revoke {
        /// The user (the tokens' `sub`).
        user: String,
        /// Refuse the user's new hellos for this many seconds.
        #[arg(long)]
        until_s: Option<i64>,
    },
    /// Audit records of a visit, or of a time range (unix seconds).
    Audit {
        /// The visit id.
        #[arg(long)]
        visit: Option<String>,
        /// From (unix seconds, inclusive).
        #[arg(long)]
        from: Option<i64>,
        /// To (unix seconds, exclusive).
        #[arg(long)]
        to: Option<i64>,
    },
    /// Wrap the at-rest data key by a new root key (nothing is rewritten);
    /// then point [at_rest] at the new root key for the next start.
    RotateRootKey {
        /// A new root key file (on the hub's machine, outside data_dir).
        #[arg(
            long,
            conflicts_with = "pkcs11_key_label",
            required_unless_present = "pkcs11_key_label"
        )]
        root_key_file: Option<PathBuf>,
        /// The label of a new root key on the configured PKCS#11 token.
        #[arg(long)]
        pkcs11_key_label: Option<String>,
    },
    /// Re-encrypt the store under a fresh data key, online.
    RotateDataKey,
    /// Mint an admin token from an issuer's private key (test and dev
    /// hubs; in production the clinic's identity provider issues them).
    Token {
        /// The issuer's private JWK set.
        #[arg(long)]
        key: PathBuf,
        /// The `iss` claim.
        #[arg(long)]
        iss: String,
        /// The operator (`sub`).
        #[arg(long)]
        sub: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 900)]
        ttl_s: i64,
        /// The `aud` claim (the hub's auth.admin_audience).
        #[arg(long, default_value = "bedside-admin")]
        aud: String,
    },
}

pub fn run(a: AdminArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bedside: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(run_async(a))
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn run_async(a: AdminArgs) -> ExitCode {
    use hyper::Method;
    let (method, path, body) = match &a.command {
        AdminCommand::Token {
            key,
            iss,
            sub,
            ttl_s,
            aud,
        } => {
            let key = match bedside_token::PrivateKey::load(key) {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("bedside: --key: {e}");
                    return ExitCode::from(2);
                }
            };
            let now = now_s();
            let claims = serde_json::json!({"iss": iss, "aud": aud, "sub": sub, "role": "admin",
                "amr": ["mfa"], "iat": now, "exp": now + (*ttl_s).max(1)});
            return match key.sign(&claims) {
                Ok(t) => {
                    println!("{t}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("bedside: {e}");
                    ExitCode::from(1)
                }
            };
        }
        AdminCommand::Visits => (Method::GET, "visits".to_owned(), None),
        AdminCommand::RotateRootKey {
            root_key_file,
            pkcs11_key_label,
        } => (
            Method::POST,
            "keys/root".to_owned(),
            Some(match (root_key_file, pkcs11_key_label) {
                (Some(p), _) => serde_json::json!({ "root_key_file": p }).to_string(),
                (None, l) => serde_json::json!({ "pkcs11_key_label": l }).to_string(),
            }),
        ),
        AdminCommand::RotateDataKey => (Method::POST, "keys/data".to_owned(), None),
        AdminCommand::EndVisit { visit } => (Method::POST, format!("visits/{visit}/end"), None),
        AdminCommand::Remove { visit, participant } => (
            Method::POST,
            format!("visits/{visit}/participants/{participant}/remove"),
            None,
        ),
        AdminCommand::Revoke { user, until_s } => (
            Method::POST,
            format!("users/{user}/revoke"),
            until_s.map(|s| serde_json::json!({ "until": now_s() + s }).to_string()),
        ),
        AdminCommand::Audit { visit, from, to } => {
            let q = match (visit, from, to) {
                (Some(v), _, _) => format!("visit={v}"),
                (None, Some(f), Some(t)) => format!("from={f}&to={t}"),
                _ => {
                    eprintln!("bedside: give --visit, or --from and --to");
                    return ExitCode::from(2);
                }
            };
            (Method::GET, format!("audit?{q}"), None)
        }
    };
    let token = match read_token(a.token_file.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bedside: --token-file: {e}");
            return ExitCode::from(2);
        }
    };
    let extra_roots = match a.ca.as_deref().map(bedside_server::fetch::load_roots) {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            eprintln!("bedside: --ca: {e}");
            return ExitCode::from(2);
        }
        None => Vec::new(),
    };
    let url = format!(
        "{}{}{path}",
        a.url.trim_end_matches('/'),
        bedside_server::net::admin::PREFIX
    );
    // The token is a bearer credential: plain HTTP only to this machine.
    if let Some(rest) = a.url.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        let host = if rest.starts_with('[') {
            rest.split(']')
                .next()
                .unwrap_or_default()
                .trim_start_matches('[')
        } else {
            host
        };
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            eprintln!(
                "bedside: --url: use https:// (the admin token would cross the network in the clear)"
            );
            return ExitCode::from(2);
        }
    }
    let client = Client { extra_roots };
    match client
        .authorized(method, &url, &token, body.map(Bytes::from), 64 << 20)
        .await
    {
        Ok(r) => {
            println!("{}", String::from_utf8_lossy(&r.body));
            let partial: Vec<String> = serde_json::from_slice::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| v["unanswered"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .map(|u| {
                    format!(
                        "{} ({})",
                        u["node"].as_str().unwrap_or("?"),
                        u["reason"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            if (200..300).contains(&r.status) && !partial.is_empty() {
                eprintln!(
                    "bedside: the answer is partial: not answered by {}",
                    partial.join(", ")
                );
                ExitCode::from(3)
            } else if (200..300).contains(&r.status) {
                ExitCode::SUCCESS
            } else {
                eprintln!("bedside: the hub answered {}", r.status);
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("bedside: {url}: {e}");
            ExitCode::from(1)
        }
    }
}

fn read_token(path: Option<&std::path::Path>) -> Result<String, String> {
    let Some(path) = path else {
        return Err("required (a file holding the admin token)".into());
    };
    let text = if path == std::path::Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| e.to_string())?;
        s
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?
    };
    let t = text.trim().to_owned();
    if t.is_empty() {
        return Err("empty".into());
    }
    Ok(t)
}

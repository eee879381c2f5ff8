//! `bedside`: the hub's command line (OPERATIONS.md). Thin: parse, then call
//! the library.

mod admin_cli;
mod data_cli;

use anyhow::Context as _;
use bedside_protocol::JoinClaims;
use bedside_protocol::claims::Lifetime;
use bedside_protocol::{Permission, Role};
use bedside_server::clock::{Clock as _, SystemClock};
use bedside_server::config::{self, Overrides};
use bedside_server::server::{self, StartError};
use bedside_token::{PrivateKey, random_jti};
use clap::{Parser, Subcommand};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "bedside",
    version,
    about = "Bedside: signaling and encrypted-messaging hub for video visits"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub. Without --config it runs in dev mode on loopback.
    Serve {
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen address, e.g. 127.0.0.1:0 for a free port.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Dev mode: loopback only, own signing key, POST /dev/token, web demo at /.
        #[arg(long)]
        dev: bool,
        /// If the audit file's chain is damaged, move it aside and start a new file.
        #[arg(long)]
        audit_new_file: bool,
    },
    /// The operator API: act on live visits, revoke a user, export audit records.
    Admin(admin_cli::AdminArgs),
    /// Root keys of encryption at rest.
    RootKey {
        #[command(subcommand)]
        command: data_cli::RootKeyCommand,
    },
    /// Write an encrypted, checksummed backup of the store and the audit
    /// file, beside a running hub (single node).
    Backup {
        #[command(flatten)]
        args: data_cli::BackupArgs,
        /// The backup file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a backup whole, then restore it into an empty data_dir and
    /// audit path.
    Restore {
        #[command(flatten)]
        args: data_cli::BackupArgs,
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
    },
    /// Audit trail tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Make an Ed25519 key pair as JWK sets.
    Keygen {
        /// Key id.
        #[arg(long)]
        kid: String,
        /// Private JWK set to write (mode 0600).
        #[arg(long)]
        out: PathBuf,
        /// Public JWK set to write (give this to the hub's auth.jwks).
        #[arg(long)]
        public: PathBuf,
    },
    /// Print one signed join token.
    Token {
        /// Private JWK set from `bedside keygen`.
        #[arg(long)]
        key: PathBuf,
        /// Issuer (must be in the hub's auth.issuers).
        #[arg(long)]
        iss: String,
        /// Visit id.
        #[arg(long)]
        visit: bedside_protocol::VisitId,
        /// provider, patient or guest.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Participant id.
        #[arg(long)]
        sub: bedside_protocol::ParticipantId,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl_s: i64,
        /// Authentication method (repeatable), e.g. mfa. Without it, the
        /// default of every Bedside minter: mfa for a provider, pwd otherwise.
        #[arg(long)]
        amr: Vec<String>,
        /// Permission from the start (repeatable), e.g. screen_share.
        #[arg(long, value_parser = parse_perm)]
        perm: Vec<Permission>,
        /// Audience.
        #[arg(long, default_value = "bedside")]
        aud: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain and checkpoint signatures of audit files.
    Verify {
        /// Public JWK set of the audit signing key; without it signatures are not checked.
        #[arg(long)]
        public: Option<PathBuf>,
        /// Accept a file still being written (records after the last checkpoint).
        #[arg(long)]
        live: bool,
        /// Do not check what the files' checkpoints say of other cluster
        /// nodes' files (to verify one node's file on its own).
        #[arg(long)]
        skip_peers: bool,
        /// Audit files (JSON Lines); in a cluster, every node's.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| "expected provider, patient or guest".to_owned())
}

fn parse_perm(s: &str) -> Result<Permission, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| "expected screen_share".to_owned())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            listen,
            dev,
            audit_new_file,
        } => serve(Overrides {
            config_file: config,
            listen,
            dev,
            audit_new_file,
        }),
        Command::Audit {
            command:
                AuditCommand::Verify {
                    public,
                    live,
                    skip_peers,
                    files,
                },
        } => audit_verify(public.as_deref(), live, skip_peers, &files),
        Command::Keygen { kid, out, public } => report(keygen(&kid, &out, &public)),
        Command::Admin(a) => admin_cli::run(a),
        Command::RootKey { command } => data_cli::root_key(command),
        Command::Backup { args, out } => data_cli::backup(args, &out),
        Command::Restore { args, from } => data_cli::restore(args, &from),
        Command::Token {
            key,
            iss,
            visit,
            role,
            sub,
            name,
            ttl_s,
            amr,
            perm,
            aud,
        } => {
            let now = SystemClock.now_s();
            // What the hub would refuse at hello is refused here, clearly.
            if let Some(Err(e)) = name.as_deref().map(bedside_protocol::check_display_name) {
                eprintln!("bedside: --name: {e}");
                return ExitCode::from(2);
            }
            let lifetime = Lifetime::starting(now, ttl_s);
            if ttl_s < 1 || lifetime.expires > bedside_server::auth::verify::MAX_UNIX_S {
                eprintln!("bedside: --ttl-s must be at least 1 and end before the year 10000");
                return ExitCode::from(2);
            }
            let mut claims = JoinClaims::new(iss, aud, visit, sub, role, lifetime, random_jti())
                .with_perms(perm);
            claims.name = name;
            if !amr.is_empty() {
                claims.amr = amr;
            }
            report(token(&key, &claims))
        }
    }
}

fn report(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bedside: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `bedside audit verify`: exit 0 with `ok: N records`, or 1 naming the first bad line.
fn audit_verify(
    public: Option<&std::path::Path>,
    live: bool,
    skip_peers: bool,
    files: &[PathBuf],
) -> ExitCode {
    use bedside_server::audit::verify;
    let keys = match public.map(verify::load_keys).transpose() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("bedside: {e}");
            return ExitCode::from(2);
        }
    };
    let mut total = 0;
    let mut signatures = 0;
    let mut verified = Vec::with_capacity(files.len());
    for f in files {
        match verify::verify_file(f, keys.as_ref(), live) {
            Ok(v) => {
                total += v.records;
                signatures += v.signatures_checked;
                verified.push((f.display().to_string(), v));
            }
            Err(bad) => {
                println!("bad: {bad}");
                return ExitCode::from(1);
            }
        }
    }
    let claims = if skip_peers {
        None
    } else {
        match verify::cross_check(&verified) {
            Ok(n) => Some(n),
            Err(bad) => {
                println!("bad: {bad}");
                return ExitCode::from(1);
            }
        }
    };
    println!("ok: {total} records");
    if let Some(n) = claims.filter(|n| *n > 0) {
        eprintln!("{n} checkpoint(s) of other nodes cross-checked");
    }
    if keys.is_none() {
        eprintln!("note: checkpoint signatures not checked (no --public)");
    } else {
        eprintln!("{signatures} checkpoint signature(s) verified");
    }
    ExitCode::SUCCESS
}

fn keygen(kid: &str, out: &std::path::Path, public: &std::path::Path) -> anyhow::Result<()> {
    bedside_protocol::is_valid_id(kid).context("--kid")?;
    let key = PrivateKey::generate(kid);
    key.save(out, public)?;
    println!(
        "wrote {} (private) and {} (public)",
        out.display(),
        public.display()
    );
    Ok(())
}

fn token(key: &std::path::Path, claims: &JoinClaims) -> anyhow::Result<()> {
    let key = PrivateKey::load(key)?;
    println!("{}", key.sign(claims)?);
    Ok(())
}

/// Logs to stderr: `BEDSIDE_LOG` filters (default `info`); colour codes
/// only on a terminal, so a file, a pipe or journald gets plain text.
fn init_logging(format: config::LogFormat) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("BEDSIDE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        config::LogFormat::Text => fmt
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .init(),
        config::LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}

fn serve(flags: Overrides) -> ExitCode {
    let env = std::env::vars().filter(|(k, _)| k != "BEDSIDE_LOG" && k != "BEDSIDE_WEB_ROOT");
    let config = match config::load(&flags, env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bedside: config error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bedside: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let (code, store_thread) = runtime.block_on(async move {
        let dev = config.dev;
        let drain = Duration::from_secs(config.session.drain_timeout_s);
        let mut running = match server::start(config).await {
            Ok(r) => r,
            Err(StartError::Config { key, problem }) => {
                eprintln!("bedside: config error: {key}: {problem}");
                return (ExitCode::from(2), None);
            }
            Err(e) => {
                eprintln!("bedside: {e}");
                return (ExitCode::from(1), None);
            }
        };
        let store_thread = running.take_store_thread();
        println!("listening on {}://{}", running.scheme, running.addr);
        let _ = std::io::stdout().flush();
        if dev {
            tracing::info!(
                "dev mode: open {}://{}/ ; tokens from POST /dev/token",
                running.scheme,
                running.addr
            );
        }
        wait_for_signal().await;
        tracing::info!("shutting down");
        running.shutdown(drain).await;
        (ExitCode::SUCCESS, store_thread)
    });
    // Every task, and with them every handle to the store, goes; then the
    // store thread makes its last commit and closes before the process exits.
    runtime.shutdown_timeout(Duration::from_secs(5));
    if let Some(t) = store_thread {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !t.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if t.is_finished() {
            let _ = t.join();
        } else {
            eprintln!("bedside: the store did not close within 10 s");
        }
    }
    code
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

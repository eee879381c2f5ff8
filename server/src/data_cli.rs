//! `bedside root-key …`, `bedside backup` and `bedside restore`: the
//! operator's tools for the embedded store's keys and copies
//! (docs/operations.md, "Encryption at rest" and "Backup and restore").

use bedside_server::at_rest::pkcs11::Token;
use bedside_server::at_rest::root::RootKey;
use bedside_server::config::{self, Config, Overrides};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum RootKeyCommand {
    /// Create a root key: a key file (mode 600), or an AES-256 key on the
    /// PKCS#11 token [at_rest] names (sensitive, never extractable).
    Create {
        /// Write a new root key file here (outside data_dir).
        #[arg(long, conflicts_with = "label", required_unless_present = "label")]
        file: Option<PathBuf>,
        /// Create a key with this label on the configured token.
        #[arg(long, requires = "config")]
        label: Option<String>,
        /// The hub's configuration (for the token).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Loads a configuration file as `serve` would; exit 2 on a bad one.
pub fn load_config(path: &Path) -> Result<Config, ExitCode> {
    let flags = Overrides {
        config_file: Some(path.to_owned()),
        ..Overrides::default()
    };
    config::load(&flags, std::env::vars()).map_err(|e| {
        eprintln!("bedside: config: {e}");
        ExitCode::from(2)
    })
}

pub fn root_key(cmd: RootKeyCommand) -> ExitCode {
    let RootKeyCommand::Create {
        file,
        label,
        config,
    } = cmd;
    let done = match (file, label, config) {
        (Some(f), _, _) => RootKey::create_file(&f).map(|()| format!("wrote {}", f.display())),
        (None, Some(label), Some(c)) => {
            let config = match load_config(&c) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let Some(a) = config
                .at_rest
                .as_ref()
                .filter(|a| a.pkcs11_module.is_some())
            else {
                eprintln!("bedside: config: [at_rest] names no PKCS#11 token");
                return ExitCode::from(2);
            };
            let (Some(module), Some(token), Some(pin_file)) =
                (&a.pkcs11_module, &a.pkcs11_token, &a.pkcs11_pin_file)
            else {
                eprintln!("bedside: config: [at_rest] names no PKCS#11 token");
                return ExitCode::from(2);
            };
            let pin = match std::fs::read_to_string(pin_file) {
                Ok(p) => zeroize::Zeroizing::new(p),
                Err(e) => {
                    eprintln!("bedside: {}: {e}", pin_file.display());
                    return ExitCode::from(1);
                }
            };
            Token::shared(module, token, pin.trim())
                .and_then(|t| t.create_key(&label))
                .map(|()| format!("created the key {label:?} on the token {token:?}"))
        }
        _ => {
            eprintln!("bedside: give --file, or --label with --config");
            return ExitCode::from(2);
        }
    };
    match done {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bedside: {e}");
            ExitCode::from(1)
        }
    }
}

#[derive(clap::Args)]
pub struct BackupArgs {
    /// The hub's configuration (its data_dir, audit path and [at_rest]).
    #[arg(long)]
    config: PathBuf,
    /// Wrap the backup's key by this root key file instead of [at_rest]'s.
    #[arg(long)]
    root_key_file: Option<PathBuf>,
}

/// `bedside backup --out FILE`: a consistent snapshot beside a running hub.
pub fn backup(a: BackupArgs, out: &Path) -> ExitCode {
    let config = match load_config(&a.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let done = bedside_server::backup::backup_root(&config, a.root_key_file.as_deref())
        .and_then(|root| bedside_server::backup::create(&config, &root, out, now));
    finish(done, &format!("wrote {}", out.display()))
}

/// `bedside restore --from FILE`: checks the whole backup, then restores it
/// into an empty data_dir and audit path.
pub fn restore(a: BackupArgs, from: &Path) -> ExitCode {
    let config = match load_config(&a.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let done = bedside_server::backup::backup_root(&config, a.root_key_file.as_deref())
        .and_then(|root| bedside_server::backup::restore(&config, &root, from));
    finish(done, &format!("restored {}", from.display()))
}

fn finish(
    r: Result<bedside_server::backup::Summary, bedside_server::backup::BackupError>,
    what: &str,
) -> ExitCode {
    use bedside_server::backup::BackupError;
    match r {
        Ok(s) => {
            println!(
                "{what}: store {} bytes, audit {} bytes",
                s.store_bytes, s.audit_bytes
            );
            ExitCode::SUCCESS
        }
        Err(e @ BackupError::Config(_)) => {
            eprintln!("bedside: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("bedside: {e}");
            ExitCode::from(1)
        }
    }
}

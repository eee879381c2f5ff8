//! A SoftHSM2 token in a temporary directory, initialised by the test
//! (label `bedside`, user PIN in a file): a real PKCS#11 module for root
//! keys, reached through `SOFTHSM2_CONF`.

use std::path::PathBuf;
use std::process::Command;

pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub const TOKEN: &str = "bedside";

pub struct SoftHsm {
    pub dir: tempfile::TempDir,
    /// The SoftHSM2 configuration (`SOFTHSM2_CONF`).
    pub conf: PathBuf,
    /// The user PIN, in a file.
    pub pin_file: PathBuf,
}

impl SoftHsm {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let out = Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", TOKEN])
            .args(["--pin", "1234", "--so-pin", "5678"])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .expect("softhsm2-util (apt-get install softhsm2)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pin_file = dir.path().join("pin");
        std::fs::write(&pin_file, "1234\n").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        Self {
            dir,
            conf,
            pin_file,
        }
    }

    /// `[at_rest]` for a root key labelled `label` on this token.
    pub fn at_rest_toml(&self, label: &str) -> String {
        format!(
            "[at_rest]\npkcs11_module = {MODULE:?}\npkcs11_token = {TOKEN:?}\npkcs11_pin_file = {:?}\npkcs11_key_label = {label:?}\n",
            self.pin_file
        )
    }

    /// Every file of the token directory, for "is this in there" checks.
    pub fn files(&self) -> Vec<PathBuf> {
        walk(self.dir.path())
    }
}

/// Every regular file under `dir`, recursively.
pub fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

//! A real `redis-server` (Debian's package) for cluster tests: its own
//! temporary directory, no TCP port (a unix socket, so no port races), and
//! the persistence settings the hub requires unless a test asks otherwise.
//! It can be killed with SIGKILL and started again on the same files.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    settings: Vec<(String, String)>,
}

/// The settings Bedside requires.
pub const DURABLE: [(&str, &str); 3] = [
    ("appendonly", "yes"),
    ("appendfsync", "always"),
    ("maxmemory-policy", "noeviction"),
];

impl Redis {
    /// A durable Redis.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A Redis with `overrides` on top of the durable settings.
    pub fn start_with(overrides: &[(&str, &str)]) -> Self {
        let mut settings: Vec<(String, String)> = DURABLE
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in overrides {
            settings.retain(|(key, _)| key != k);
            settings.push((k.to_string(), v.to_string()));
        }
        let mut r = Self {
            dir: tempfile::tempdir().unwrap(),
            child: None,
            settings,
        };
        r.launch();
        r
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// The URL the hub's `[cluster] redis_url` takes.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    fn launch(&mut self) {
        let _ = std::fs::remove_file(self.socket());
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", "0", "--daemonize", "no", "--save", ""])
            .arg("--unixsocket")
            .arg(self.socket())
            .args(["--unixsocketperm", "700"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"));
        for (k, v) in &self.settings {
            cmd.arg(format!("--{k}")).arg(v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): `cargo xtask test` installs Debian's redis-server")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.ping() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not start; its log: {}",
                std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ping(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(self.socket()) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 16];
        // `-LOADING` while it replays its append-only file.
        matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: nothing flushed beyond what Redis already wrote.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same directory (it replays its AOF).
    pub fn restart(&mut self) {
        self.kill9();
        self.launch();
    }

    /// A command through `redis-cli`, its output trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .arg("-s")
            .arg(self.socket())
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill9();
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The command line of OPERATIONS.md: keygen, token, serve; bad configuration
//! exits 2 with one line naming the key.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn bedside() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bedside"))
}

#[tokio::test]
async fn keygen_token_serve_tour() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = bedside()
        .args(["keygen", "--kid", "clinic-2026", "--out"])
        .arg(d.join("priv.json"))
        .arg("--public")
        .arg(d.join("pub.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("priv.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "private key readable by others");
    }
    let public = std::fs::read_to_string(d.join("pub.json")).unwrap();
    assert!(
        !public.contains("\"d\""),
        "public set holds no private part"
    );

    let token = |sub: &str, extra: &[&str]| {
        let out = bedside()
            .args(["token", "--key"])
            .arg(d.join("priv.json"))
            .args([
                "--iss", "clinic", "--visit", "v-tour", "--role", "provider", "--sub", sub,
                "--name", "Dr. Ada", "--amr", "mfa",
            ])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let t = token("dr-ada", &["--ttl-s", "600"]);

    std::fs::write(
        d.join("bedside.toml"),
        format!(
            "insecure_http = true\ndata_dir = {:?}\n[auth]\njwks = {:?}\nissuers = [\"clinic\"]\n[audit]\npath = {:?}\nsigning_key = {:?}\n",
            d.join("data"),
            d.join("pub.json"),
            d.join("audit/audit.jsonl"),
            d.join("priv.json"),
        ),
    )
    .unwrap();
    let mut child = bedside()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(d.join("bedside.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .expect(&line)
        .to_owned();
    let mut c = Client::connect(&format!("ws://{addr}/v1/signal")).await;
    let w = c.hello(&t).await;
    assert_eq!(w["participant"]["name"], "Dr. Ada");
    assert!(w["expires_at"].as_i64().unwrap() <= now() + 600);
    // SIGTERM: sessions are closed with 1001.
    unsafe_kill(child.id(), 15);
    assert_eq!(c.closed().await, 1001);
    assert!(child.wait().unwrap().success());
}

fn unsafe_kill(pid: u32, sig: i32) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

fn serve_with(config: &str, env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, config).unwrap();
    let out = bedside()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// (config file, environment, key the error must name)
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn bad_configuration_exits_2_naming_the_key() {
    let base = "insecure_http = true\n[auth]\njwks = \"/nonexistent/keys.json\"\nissuers = [\"x\"]\n[audit]\nsigning_key = \"/nonexistent/a.json\"\n";
    let cases: [Case; 8] = [
        (
            "insecure_http = 1\n[auth]\nissuers = [\"x\"]\n",
            &[],
            "insecure_http",
        ),
        ("listen = \"here\"\n", &[], "listen"),
        (
            "insecure_http = true\n[auth]\nissuers = [\"x\"]\n",
            &[],
            "auth.jwks",
        ),
        (base, &[], "auth.jwks"),
        (
            base,
            &[("BEDSIDE_SESSION__IDLE_TIMEOUT_S", "soon")],
            "session.idle_timeout_s",
        ),
        (
            "[auth]\njwks = \"k\"\nissuers = [\"x\"]\n[audit]\nsigning_key = \"a\"\n",
            &[],
            "tls",
        ),
        (
            "insecure_http = true\n[auth]\njwks = \"k\"\nissuers = [\"x\"]\n[audit]\nsigning_key = \"a\"\n[web]\nroot = \"/nonexistent/site\"\n",
            &[],
            "web.root",
        ),
        (
            "insecure_http = true\n[auth]\njwks = \"k\"\nissuers = [\"x\"]\n[audit]\nsigning_key = \"a\"\n",
            &[("BEDSIDE_WEB__ROOT", "/nonexistent/site")],
            "web.root",
        ),
    ];
    for (config, env, key) in cases {
        let (code, stderr) = serve_with(config, env);
        assert_eq!(code, 2, "{config}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {stderr}");
        assert!(lines[0].contains(key), "{key} not named in: {stderr}");
    }
}

/// The hub's stderr (piped: not a terminal) after one refused hello;
/// `top_level` goes before the config file's first table.
async fn log_of_a_refused_hello(env: &Env, top_level: &str, token: &str) -> String {
    let cfg = Process::write_config(env, "");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{top_level}{text}")).unwrap();
    let mut child = bedside()
        .args(["serve", "--config"])
        .arg(&cfg)
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();
    let mut c = Client::connect(&format!("ws://{addr}/v1/signal")).await;
    c.send(serde_json::json!({"type":"hello","token":token}))
        .await;
    assert_eq!(c.closed().await, 4001);
    unsafe_kill(child.id(), 15);
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn refused_tokens_log_a_reason_never_claim_values_nor_colour_codes() {
    let env = Env::new();
    // A patient id of the wrong type: serde's message would quote it.
    let mut claims = env.claims("v-1", "patient", "pt");
    claims["patient_id"] = serde_json::json!(987_654_321u64);
    let token = env.sign(&claims);
    for (format, top_level) in [("text", ""), ("json", "log_format = \"json\"\n")] {
        let log = log_of_a_refused_hello(&env, top_level, &token).await;
        assert!(
            log.contains("bad_claims"),
            "{format}: the reason is logged: {log}"
        );
        assert!(
            !log.contains("987654321"),
            "{format}: a claim value reached the log: {log}"
        );
        assert!(
            !log.contains(token.split('.').nth(1).unwrap()),
            "{format}: token in the log"
        );
        assert!(
            !log.contains('\u{1b}'),
            "{format}: colour codes in a log that is not a terminal: {log:?}"
        );
        if format == "json" {
            for l in log.lines() {
                let v: serde_json::Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {l}"));
                assert!(v["level"].is_string() && v["timestamp"].is_string(), "{l}");
            }
            assert!(
                log.lines().any(|l| l.contains("\"reason\":\"bad_claims\"")),
                "{log}"
            );
        }
    }
}

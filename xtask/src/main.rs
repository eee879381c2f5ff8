//! Project tasks, one entry point for people and CI:
//!
//! - `cargo xtask demo`  builds what is needed and starts the hub in dev mode
//!   (embedded store, own signing key, web demo at `/`), printing its URL.
//! - `cargo xtask test`  installs what the tests need (only what is missing)
//!   and runs every check: format, lints, all tests.
//!
//! `.ci/run` calls `cargo xtask test` and nothing else.

use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: $ {shown}");
    let started = Instant::now();
    let status = cmd
        .current_dir(root())
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    eprintln!("xtask:   ({:.1}s)", started.elapsed().as_secs_f64());
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("test") => test(),
        Some("prereqs") => prereqs(),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n  demo [ARGS]  build and start the hub in dev mode with the web demo\n  test         install test prerequisites, then fmt, clippy and every test\n  prereqs      only install what the tests need"
            );
            std::process::exit(2);
        }
    }
}

fn demo(extra: &[String]) -> Result<()> {
    run(cargo().args(["build", "-p", "bedside-server", "--bin", "bedside"]))?;
    let bin = root().join("target/debug/bedside");
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--dev"]).args(extra);
    eprintln!("xtask: starting the hub in dev mode; open the URL it prints (Ctrl-C stops it)");
    run(&mut cmd)
}

/// The browser build's target: the SDK core must keep building for it.
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Installs what the tests need, only when missing: the Rust components
/// and the wasm target; later steps (Chromium, redis) add theirs here.
fn prereqs() -> Result<()> {
    let works = |sub: &str| {
        cargo()
            .args([sub, "--version"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    for (sub, component) in [("fmt", "rustfmt"), ("clippy", "clippy")] {
        if !works(sub) {
            run(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == WASM_TARGET)
        })
        .unwrap_or(false);
    if !installed {
        run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    }
    Ok(())
}

fn test() -> Result<()> {
    let started = Instant::now();
    prereqs()?;
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The SDK's platform-free core (session, negotiator, e2ee) for the
    // browser: no OS randomness, clock or native dependency may creep in.
    run(cargo().args([
        "clippy",
        "-p",
        "bedside-sdk",
        "--no-default-features",
        "--target",
        WASM_TARGET,
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args(["test", "--workspace", "--all-targets"]))?;
    run(cargo().args(["test", "--workspace", "--doc"]))?;
    eprintln!(
        "xtask: all checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

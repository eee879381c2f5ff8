//! Project tasks, one entry point for people and CI:
//!
//! - `cargo xtask demo`  builds what is needed and starts the hub in dev mode
//!   (embedded store, own signing key, web demo at `/`), printing its URL.
//! - `cargo xtask test`  installs what the tests need (only what is missing)
//!   and runs every check: format, lints, all tests (native, wasm, browser).
//! - `cargo xtask web`   builds the browser SDK's JS package in `web-sdk/pkg`
//!   (when its sources changed) and the web demo in `web-demo/dist`;
//!   `demo` and `test` do this first.
//!
//! - `cargo xtask bindings` generates bedside-ffi's Kotlin, Swift and Python
//!   bindings in `target/bindings` (docs/sdk.md, "Mobile apps").
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
        Some("web") => web().map(|_| ()),
        Some("prereqs") => prereqs(),
        Some("bindings") => {
            let dir = bindings()?;
            if args.iter().any(|a| a == "--accept-swift") {
                let kept = root().join("ffi/bindings/swift");
                std::fs::create_dir_all(&kept)?;
                for file in ["Bedside.swift", "BedsideFFI.h", "BedsideFFI.modulemap"] {
                    std::fs::copy(dir.join("swift").join(file), kept.join(file))?;
                }
                eprintln!("xtask: ffi/bindings/swift updated: review and commit it");
            }
            eprintln!("xtask: bindings in {}", dir.display());
            Ok(())
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n  demo [ARGS]  build and start the hub in dev mode with the web demo\n  test         install test prerequisites, then fmt, clippy and every test\n  web          build the browser SDK package (web-sdk/pkg) and the web demo (web-demo/dist)\n  prereqs      only install what the tests need\n  bindings     generate the Kotlin, Swift and Python bindings of bedside-ffi (target/bindings);\n               --accept-swift also updates the committed Swift API (ffi/bindings/swift)"
            );
            std::process::exit(2);
        }
    }
}

fn demo(extra: &[String]) -> Result<()> {
    let dist = web()?;
    run(cargo().args(["build", "-p", "bedside-server", "--bin", "bedside"]))?;
    let bin = root().join("target/debug/bedside");
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--dev"])
        .args(extra)
        .env("BEDSIDE_WEB_ROOT", &dist);
    eprintln!("xtask: starting the hub in dev mode; open the URL it prints (Ctrl-C stops it)");
    run(&mut cmd)
}

/// The browser build's target: the SDK core must keep building for it.
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// wasm-bindgen-cli must match the `wasm-bindgen` crate exactly.
const WASM_BINDGEN: &str = "0.2.130";

fn output(cmd: &mut Command) -> Option<String> {
    cmd.output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

fn have(program: &str, arg: &str) -> bool {
    output(Command::new(program).arg(arg)).is_some()
}

fn modified(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// wasm-bindgen-cli at the crate's version (cargo install, ~4 minutes once).
fn ensure_wasm_bindgen() -> Result<()> {
    let version = output(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    if !version.contains(WASM_BINDGEN) {
        // `--locked` fails for this version on crates.io: resolve afresh.
        run(cargo().args(["install", "wasm-bindgen-cli", "--version", WASM_BINDGEN]))?;
    }
    Ok(())
}

/// The browser tests' tools (playwright-core, prettier, typescript), the
/// second E2E implementation's libraries, and the Kotlin compiler of the
/// FFI's tests, each installed when its lock file is newer than what is
/// installed.
fn ensure_npm_tools() -> Result<()> {
    if !have("npm", "--version") {
        bail!("npm not found: the browser tests need node and npm (apt-get install nodejs npm)");
    }
    for package in ["web-sdk", "e2ee-ts", "ffi/tests/kotlin"] {
        let dir = root().join(package);
        let stamp = dir.join("node_modules/.package-lock.json");
        let fresh = match (modified(&stamp), modified(&dir.join("package-lock.json"))) {
            (Some(s), Some(l)) => s >= l,
            _ => false,
        };
        if !fresh {
            run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--prefix", package]))?;
        }
    }
    Ok(())
}

/// Builds the JS package into `web-sdk/pkg`: the facade for wasm32 (profile
/// `wasm-release`), wasm-bindgen's ES module glue (run only when the wasm
/// changed), and the hand-written `js/` files; then the web demo around it.
/// Returns the web demo's directory.
fn web() -> Result<PathBuf> {
    prereqs_wasm()?;
    run(cargo().args([
        "build",
        "-p",
        "bedside-web",
        "--target",
        WASM_TARGET,
        "--profile",
        "wasm-release",
    ]))?;
    let wasm = root().join("target/wasm32-unknown-unknown/wasm-release/bedside_web.wasm");
    let pkg = root().join("web-sdk/pkg");
    let out = pkg.join("bedside_web_bg.wasm");
    let stale = match (modified(&wasm), modified(&out)) {
        (Some(w), Some(o)) => w > o,
        _ => true,
    };
    if stale {
        run(Command::new("wasm-bindgen")
            .args([
                "--target",
                "web",
                "--remove-name-section",
                "--remove-producers-section",
                "--out-dir",
                "web-sdk/pkg",
                "--out-name",
                "bedside_web",
            ])
            .arg(&wasm))?;
        // No wasm-opt: binaryen 132 (npm) shrinks the raw module by a tenth
        // but grows it gzipped by 4 % (measured, docs/performance.md), and
        // gzipped is what browsers download; Debian's wasm-opt 108 cannot
        // parse the module at all.
    }
    for f in ["index.js", "index.d.ts", "device.js", "package.json"] {
        let from = root().join("web-sdk/js").join(f);
        std::fs::copy(&from, pkg.join(f)).with_context(|| format!("copying {}", from.display()))?;
    }
    web_demo(&pkg)
}

/// Assembles the web demo in `web-demo/dist`: its own files from
/// `web-demo/src` (no build step: plain ES modules) and the SDK package
/// under `sdk/`. Returns the directory the hub serves.
fn web_demo(pkg: &Path) -> Result<PathBuf> {
    let dist = root().join("web-demo/dist");
    let sdk = dist.join("sdk");
    if dist.exists() {
        std::fs::remove_dir_all(&dist).with_context(|| format!("clearing {}", dist.display()))?;
    }
    std::fs::create_dir_all(&sdk)?;
    let copy_files = |from: &Path, to: &Path, keep: &dyn Fn(&str) -> bool| -> Result<()> {
        for entry in
            std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))?
        {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_file() && keep(&name) {
                std::fs::copy(entry.path(), to.join(&name))
                    .with_context(|| format!("copying {name}"))?;
            }
        }
        Ok(())
    };
    copy_files(&root().join("web-demo/src"), &dist, &|_| true)?;
    // What a browser loads: the facade, the device store, the glue, the wasm.
    copy_files(pkg, &sdk, &|n| n.ends_with(".js") || n.ends_with(".wasm"))?;
    Ok(dist)
}

/// Installs what the tests need, only when missing: the Rust components
/// the wasm target, the npm tools, and Debian's Chromium (browser tests)
/// redis-server (cluster tests), SoftHSM2 (root keys on a PKCS#11 token)
/// and OpenSSL's headers (SQLCipher's crypto).
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
    prereqs_wasm()?;
    ensure_npm_tools()?;
    let missing: Vec<&str> = [
        ("/usr/bin/chromium", &["chromium", "chromium-driver"][..]),
        (
            "/usr/bin/redis-server",
            &["redis-server", "redis-tools"][..],
        ),
        ("/usr/bin/softhsm2-util", &["softhsm2"][..]),
        (
            "/usr/include/openssl/ssl.h",
            &["libssl-dev", "pkg-config"][..],
        ),
        // The FFI's foreign tests: kotlinc and the JVM, JNA, and clang for
        // the Swift header and the static library.
        ("/usr/bin/java", &["default-jre-headless"][..]),
        ("/usr/share/java/jna.jar", &["libjna-java"][..]),
        ("/usr/bin/clang", &["clang"][..]),
    ]
    .iter()
    .filter(|(bin, _)| !Path::new(bin).exists())
    .flat_map(|(_, pkgs)| pkgs.iter().copied())
    .collect();
    if !missing.is_empty() {
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(&missing))?;
    }
    Ok(())
}

/// The wasm target and wasm-bindgen-cli.
fn prereqs_wasm() -> Result<()> {
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
    ensure_wasm_bindgen()
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
    // The SDK's platform-free core (session, negotiator, e2ee) alone: with
    // no platform module, no OS randomness (rand_core without getrandom)
    // or native dependency is there to creep in.
    run(cargo().args([
        "clippy",
        "-p",
        "bedside-sdk",
        "--no-default-features",
        "--lib",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The native client without webrtc-rs (a phone's own WebRTC through
    // bedside-ffi): the WebSocket transport and the media backend traits.
    run(cargo().args([
        "clippy",
        "-p",
        "bedside-sdk",
        "--no-default-features",
        "--features",
        "ws",
        "--lib",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The browser platform module and the wasm-bindgen facade.
    run(cargo().args([
        "clippy",
        "-p",
        "bedside-sdk",
        "-p",
        "bedside-web",
        "--lib",
        "--tests",
        "--target",
        WASM_TARGET,
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args(["test", "--workspace", "--all-targets"]))?;
    ffi_tests()?;
    // `--all-targets` leaves out doc examples: they run here.
    run(cargo().args(["test", "--workspace", "--doc"]))?;
    // The SDK's visit tests again, against two hub nodes on a real Redis
    // behind a TCP round-robin (client-sdk/tests/common).
    run(cargo().env("BEDSIDE_TEST_CLUSTER", "1").args([
        "test",
        "-p",
        "bedside-sdk",
        "--test",
        "visit",
    ]))?;
    // The session, negotiator and e2ee tests and the committed vectors,
    // compiled to wasm32 and run under node.
    run(cargo()
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        .args([
            "test",
            "-p",
            "bedside-sdk",
            "--target",
            WASM_TARGET,
            "--lib",
            "--test",
            "vectors",
        ]))?;
    // The JS package's own checks: prettier and tsc over the declarations.
    run(Command::new("npm").args(["run", "--silent", "--prefix", "web-sdk", "check"]))?;
    // (`cargo test` above built target/debug/bedside for the server's
    // tests; the cross-stack test runs the SDK's `visit` example, which
    // `cargo test` compiles but does not place in target/debug/examples.)
    run(cargo().args([
        "build",
        "-p",
        "bedside-sdk",
        "--example",
        "visit",
        "--example",
        "e2ee_peer",
    ]))?;
    // The second implementation of docs/e2ee.md (TypeScript): the
    // committed vectors, and chat both ways with the SDK's `e2ee_peer`.
    run(Command::new("npm").args(["test", "--silent", "--prefix", "e2ee-ts"]))?;
    web()?;
    // The JS package and the web demo in Debian's Chromium against the
    // real hub binary.
    let mut browser_tests = Vec::new();
    for dir in ["web-sdk/test", "web-demo/test"] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(root().join(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
            .collect();
        found.sort();
        browser_tests.extend(found);
    }
    run(Command::new("node")
        .args(["--test", "--test-concurrency=1"])
        .args(&browser_tests))?;
    eprintln!(
        "xtask: all checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The FFI crate: no hand-written `unsafe` (its lints cannot forbid it:
/// UniFFI's scaffolding has some) but the one JNI entry point of
/// `src/android.rs`; its Rust
/// tests through the FFI types with webrtc-rs behind the adapter traits.
fn ffi_tests() -> Result<()> {
    let jni = root().join("ffi/src/android.rs");
    let mut stack = vec![root().join("ffi/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path != jni && std::fs::read_to_string(&path)?.contains("unsafe") {
                anyhow::bail!(
                    "{}: no hand-written unsafe code in bedside-ffi",
                    path.display()
                );
            }
        }
    }
    run(cargo().args([
        "clippy",
        "-p",
        "bedside-ffi",
        "-p",
        "bedside-ffi-bindgen",
        "--all-targets",
        "--features",
        "bedside-ffi/webrtc",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo()
        .args(FFI)
        .args(["--features", "bedside-ffi/webrtc"])
        .arg("--test")
        .arg("visit"))?;
    let dir = bindings()?;
    run(cargo()
        .args(FFI)
        .args([
            "--features",
            "bedside-ffi/webrtc",
            "--test",
            "foreign",
            "--",
            "--ignored",
        ])
        .env("BEDSIDE_BINDINGS", &dir))
}

/// The FFI crate with its bindings generator: one feature set for both,
/// so neither is rebuilt between the steps that use them.
const FFI: [&str; 5] = ["test", "-p", "bedside-ffi", "-p", "bedside-ffi-bindgen"];

/// Generates the FFI's bindings (`target/bindings/{kotlin,swift,python}`)
/// with the bindings generator built from the UniFFI version the crate
/// pins, from the library without the webrtc-rs bridge (what a phone's
/// app links): the cdylib beside the Python module (Kotlin loads it from
/// there too), the static library beside the Swift files. Returns the
/// directory.
fn bindings() -> Result<PathBuf> {
    // Without the webrtc-rs bridge: the API a phone's app gets.
    run(cargo().args(["build", "-p", "bedside-ffi", "-p", "bedside-ffi-bindgen"]))?;
    let lib = root().join("target/debug/libbedside_ffi.so");
    let out = root().join("target/bindings");
    for lang in ["kotlin", "swift", "python"] {
        let dir = out.join(lang);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        run(Command::new(root().join("target/debug/uniffi-bindgen"))
            .args(["generate", "--no-format", "--language", lang, "--library"])
            .arg(&lib)
            .arg("--out-dir")
            .arg(&dir))?;
    }
    // The libraries beside their bindings (later builds with other
    // features overwrite target/debug).
    std::fs::copy(&lib, out.join("python/libbedside_ffi.so"))?;
    std::fs::copy(
        root().join("target/debug/libbedside_ffi.a"),
        out.join("swift/libbedside_ffi.a"),
    )?;
    Ok(out)
}

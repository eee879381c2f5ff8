//! `bedside-loadtest`: see `docs/performance.md` and `--help`.

use anyhow::{Context as _, bail};
use bedside_loadtest::report::{self, Slo};
use bedside_loadtest::tokens::Tokens;
use bedside_loadtest::{Plan, Report, Scenario, baseline, run};
use clap::{Parser, Subcommand};
use std::io::BufRead as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "bedside-loadtest",
    version,
    about = "Open-loop signaling load for the Bedside hub"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario against a hub.
    Run(Box<RunArgs>),
    /// Serve a baseline forwarder.
    Baseline {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// naive: parses every message into a generic JSON value; raw:
        /// passes relayed frames on unparsed (the floor).
        #[arg(long, value_enum, default_value = "naive")]
        mode: baseline::Mode,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// The hub's WebSocket URL (ws://IP:port/v1/signal). Repeat it for the
    /// nodes of a cluster: visits are owned by the nodes in turn (the
    /// provider's node) and each visit's patient sits on the next node.
    #[arg(long, required = true)]
    url: Vec<String>,
    /// With several --url: half the visits keep both participants on one
    /// node, half sit across two, and the report gives the latency of each
    /// (cross-node against same-node relay in one run).
    #[arg(long)]
    mix_paths: bool,
    /// Get tokens from the hub's dev mode (POST /dev/token).
    #[arg(long, conflicts_with = "key")]
    dev: bool,
    /// The clinic's private key (JWKS) to mint tokens with.
    #[arg(long)]
    key: Option<std::path::PathBuf>,
    /// The `iss` claim of minted tokens.
    #[arg(long, default_value = "clinic")]
    iss: String,
    /// What to run.
    #[arg(long, value_enum, default_value = "negotiation")]
    scenario: Scenario,
    /// Operations per second after the ramp.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Sending time, e.g. 30s (including ramp and warm-up).
    #[arg(long, default_value = "30s", value_parser = duration)]
    duration: Duration,
    /// Not measured at the start.
    #[arg(long, default_value = "5s", value_parser = duration)]
    warmup: Duration,
    /// Linear ramp-up time.
    #[arg(long, default_value = "2s", value_parser = duration)]
    ramp: Duration,
    /// Visits (2 connections each).
    #[arg(long, default_value_t = 100)]
    visits: usize,
    /// Sessions to hold for `--scenario idle` and `idle-after-call`.
    #[arg(long, default_value_t = 1000)]
    sessions: usize,
    /// Local source addresses: a count N (127.0.0.1 … 127.0.0.N) or a comma list.
    #[arg(long)]
    source_ips: Option<String>,
    /// The hub's pid, to read its CPU time and memory.
    #[arg(long)]
    hub_pid: Option<u32>,
    /// Wait this long for late replies.
    #[arg(long, default_value = "5s", value_parser = duration)]
    drain: Duration,
    /// Write the report as JSON.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Write the report as HTML.
    #[arg(long)]
    html: Option<std::path::PathBuf>,
    /// Fail (exit 1) when broken: [KIND:]pNN=VALUE, e.g. p99=5ms, offer:max=50ms. Repeatable.
    #[arg(long)]
    slo: Vec<Slo>,
    /// Fail when more messages are lost.
    #[arg(long, default_value_t = 0)]
    max_lost: u64,
    /// Also run the scenario against the built-in naive forwarder (as a
    /// separate process) and report the hub's CPU cost as a ratio.
    #[arg(long)]
    baseline: bool,
    /// Also run the scenario against a raw forwarder that passes relayed
    /// frames on without parsing them: the floor of WebSocket, tokio and
    /// loopback TCP cost on this machine.
    #[arg(long)]
    floor: bool,
    /// No live progress line.
    #[arg(long)]
    quiet: bool,
    /// Visits negotiate in step (every visit's offer in the same instant of
    /// a round) instead of each at its own point, as independent visits do.
    #[arg(long)]
    lockstep: bool,
}

fn duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?}: expected a duration like 30s, 500ms or 2m");
    let (n, mul) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        return Err(bad());
    };
    let v: f64 = n.parse().map_err(|_| bad())?;
    if !(v >= 0.0 && v.is_finite()) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(v * mul))
}

fn sources(spec: Option<&str>) -> anyhow::Result<Vec<IpAddr>> {
    let Some(spec) = spec else {
        return Ok(Vec::new());
    };
    if let Ok(n) = spec.parse::<u8>() {
        return Ok((1..=n.max(1))
            .map(|i| IpAddr::from([127, 0, 0, i]))
            .collect());
    }
    spec.split(',')
        .map(|s| {
            s.trim()
                .parse()
                .with_context(|| format!("--source-ips: {s:?} is not an IP address"))
        })
        .collect()
}

/// This process's soft open-files limit, from `/proc/self/limits`.
fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Tells what the open-files limit can be raised to (tens of thousands of
/// sockets need `ulimit -n` raised before the run).
fn raise_nofile() {
    let out = std::process::Command::new("sh")
        .args(["-c", "ulimit -Hn"])
        .output();
    if let Ok(o) = out {
        let hard = String::from_utf8_lossy(&o.stdout).trim().to_owned();
        eprintln!(
            "open-files hard limit {hard}; raise the soft limit with `ulimit -n {hard}` before large runs"
        );
    }
}

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = rt.block_on(async {
        match cli.cmd {
            Cmd::Baseline { listen, mode } => match baseline::start(listen, mode).await {
                Ok(addr) => {
                    println!("listening on ws://{addr}/v1/signal");
                    std::future::pending::<()>().await;
                    0
                }
                Err(e) => {
                    eprintln!("cannot listen on {listen}: {e}");
                    2
                }
            },
            Cmd::Run(args) => match run_cmd(*args).await {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    2
                }
            },
        }
    });
    std::process::exit(code);
}

async fn run_cmd(a: RunArgs) -> anyhow::Result<i32> {
    if a.mix_paths && a.url.len() < 2 {
        bail!("--mix-paths needs two or more --url (the nodes of a cluster)");
    }
    let tokens = if a.dev {
        let base = a
            .url
            .first()
            .and_then(|u| u.strip_prefix("ws://"))
            .and_then(|r| r.split('/').next())
            .map(|h| format!("http://{h}"))
            .context("--dev needs a ws:// URL")?;
        Tokens::Dev(base)
    } else if let Some(path) = &a.key {
        let key = bedside_token::PrivateKey::load(path)
            .with_context(|| format!("--key {}", path.display()))?;
        Tokens::Key {
            key: Arc::new(key),
            iss: a.iss.clone(),
        }
    } else {
        bail!("tokens: pass --dev (dev-mode hub) or --key FILE (the clinic's private JWKS)");
    };
    if a.rate <= 0.0 {
        bail!("--rate must be positive");
    }
    if a.sessions > 2000 || a.visits > 1000 {
        raise_nofile();
    }
    let plan = Plan {
        urls: a.url.clone(),
        mix_paths: a.mix_paths,
        tokens,
        scenario: a.scenario,
        rate: a.rate,
        duration: a.duration,
        warmup: a.warmup,
        ramp: a.ramp,
        visits: a.visits,
        sessions: a.sessions,
        sources: sources(a.source_ips.as_deref())?,
        hub_pid: a.hub_pid,
        drain: a.drain,
        progress: !a.quiet,
        lockstep: a.lockstep,
    };
    let held = plan.connections_held();
    if let Some(soft) = open_files_limit()
        && held + 64 > soft
    {
        bail!(
            "this run holds about {held} connections open but the open-files limit is {soft}; \
             raise it (ulimit -n; the hub needs as many) or lower --rate, --duration, --visits or --sessions"
        );
    }
    let hub = run(plan.clone()).await?;
    println!("{}", report::table(&hub));
    let base = if a.baseline {
        Some(run_baseline(plan.clone(), baseline::Mode::Naive).await?)
    } else {
        None
    };
    let floor = if a.floor {
        Some(run_baseline(plan, baseline::Mode::Raw).await?)
    } else {
        None
    };
    let ratio = cpu_ratio(&hub, base.as_ref());
    let floor_ratio = cpu_ratio(&hub, floor.as_ref());
    if let Some(b) = &base {
        println!(
            "baseline (naive forwarder, same scenario):\n{}",
            report::table(b)
        );
    }
    if let Some(f) = &floor {
        println!(
            "floor (raw forwarder: relayed frames passed on unparsed, same scenario):\n{}",
            report::table(f)
        );
    }
    if let Some(r) = ratio {
        println!("hub CPU per message is {r:.2}x less than the naive forwarder's");
    }
    if let Some(r) = floor_ratio {
        println!("hub CPU per message is {:.2}x the raw forwarder's", 1.0 / r);
    }
    if let Some(path) = &a.json {
        let v = serde_json::json!({"hub": hub, "baseline": base, "baseline_cpu_ratio": ratio,
            "floor": floor, "floor_cpu_ratio": floor_ratio});
        std::fs::write(path, serde_json::to_string_pretty(&v)?)
            .with_context(|| format!("--json {}", path.display()))?;
    }
    if let Some(path) = &a.html {
        std::fs::write(path, report::html(&hub))
            .with_context(|| format!("--html {}", path.display()))?;
    }
    let broken = report::violations(&hub, &a.slo, a.max_lost);
    for b in &broken {
        eprintln!("{b}");
    }
    Ok(if broken.is_empty() { 0 } else { 1 })
}

/// How many times less CPU per message the hub used than `other` (None
/// when either was not measured).
fn cpu_ratio(hub: &Report, other: Option<&Report>) -> Option<f64> {
    match (&hub.hub, other.and_then(|b| b.hub.as_ref())) {
        (Some(h), Some(b)) if b.cpu_us_per_message > 0.0 => {
            Some(b.cpu_us_per_message / h.cpu_us_per_message.max(1e-9))
        }
        _ => None,
    }
}

/// Starts this binary's `baseline` as a child process and runs `plan` against it.
async fn run_baseline(mut plan: Plan, mode: baseline::Mode) -> anyhow::Result<Report> {
    let exe = std::env::current_exe()?;
    let mode = match mode {
        baseline::Mode::Naive => "naive",
        baseline::Mode::Raw => "raw",
    };
    let mut child = std::process::Command::new(exe)
        .args(["baseline", "--listen", "127.0.0.1:0", "--mode", mode])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("cannot start the baseline forwarder")?;
    let stdout = child.stdout.take().context("baseline stdout")?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .context("baseline did not start")?
        .to_owned();
    plan.urls = vec![url];
    plan.hub_pid = Some(child.id());
    let r = run(plan).await;
    let _ = child.kill();
    let _ = child.wait();
    r
}

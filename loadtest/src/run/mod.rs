//! One load run: set up visits, fire messages open-loop at the planned rate,
//! drain, and collect what happened.
//!
//! - `schedule`: when each operation starts, and which step of its visit;
//! - `operations`: visit setup, and the relay, resume and join operations;
//! - `probes`: what comes back, read into the metrics;
//! - `idle`: the idle scenarios (sessions held, the hub's memory read);
//! - `open_loop`: the open-loop scenarios (sent at a rate, drained, the hub's
//!   CPU read).

mod idle;
mod open_loop;
mod operations;
mod probes;
mod schedule;

use crate::conn::{self, Live};
use crate::metrics::{Metrics, Path, Summary};
use crate::procstat;
use crate::sdp::Templates;
use crate::tokens::Tokens;
use bedside_protocol::ParticipantId;
use schedule::offset;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// What to hammer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Patients joining visits (hello → welcome), connections kept open.
    JoinStorm,
    /// Offer/answer with real browser SDPs and 5–15 candidates each way.
    Negotiation,
    /// Durable end-to-end chat (delivery and the durable ack).
    Chat,
    /// Grant/revoke screen sharing (provider → patient's `permissions`).
    Permissions,
    /// Patients dropping their connection and resuming.
    ResumeStorm,
    /// A realistic visit: negotiation, chat, permission changes.
    Mixed,
    /// Memory: hold admitted sessions idle and read the hub's RSS.
    Idle,
    /// Memory after call setup: as `idle`, but each visit first exchanges
    /// one real offer and answer (every session of a video visit has).
    IdleAfterCall,
}

impl Scenario {
    /// Holds sessions and reports memory instead of sending at a rate.
    pub fn is_idle(self) -> bool {
        matches!(self, Scenario::Idle | Scenario::IdleAfterCall)
    }
}

impl Plan {
    /// The node connection `slot` goes to: round-robin, so a visit's
    /// provider (slot 2i) and patient (2i + 1) sit on consecutive nodes.
    pub fn url_for(&self, slot: usize) -> &str {
        &self.urls[slot % self.urls.len().max(1)]
    }

    /// The nodes (indices into `urls`) of visit `i`'s provider and patient.
    /// The provider connects first, so its node owns the visit. Visit `i`
    /// is owned by node `i` (round-robin) and its patient sits on the next
    /// node, so every node owns as many visits as the others and every
    /// visit spans two nodes. With `mix_paths`, visit `i` is owned by node
    /// `i / 2` and every other visit has its patient on that node too: each
    /// node owns as many same-node visits as cross-node ones.
    pub fn pair_nodes(&self, i: usize) -> (usize, usize) {
        let n = self.urls.len().max(1);
        if self.mix_paths {
            let owner = (i / 2) % n;
            (
                owner,
                if i.is_multiple_of(2) {
                    owner
                } else {
                    (owner + 1) % n
                },
            )
        } else {
            (i % n, (i + 1) % n)
        }
    }

    /// Where visit `i`'s participants sit, when the run has several nodes.
    pub fn pair_path(&self, i: usize) -> Option<Path> {
        if self.urls.len() < 2 {
            return None;
        }
        let (dr, pt) = self.pair_nodes(i);
        Some(if dr == pt {
            Path::SameNode
        } else {
            Path::CrossNode
        })
    }

    fn pair_urls(&self, i: usize) -> (&str, &str) {
        let (dr, pt) = self.pair_nodes(i);
        let n = self.urls.len().max(1);
        (&self.urls[dr % n], &self.urls[pt % n])
    }
}

/// A run's parameters.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `ws://IP:port/v1/signal`, one per hub node.
    pub urls: Vec<String>,
    /// With several nodes: half the visits on one node, half across two
    /// (see [`Plan::pair_nodes`]), latency reported for each.
    pub mix_paths: bool,
    /// Token source.
    pub tokens: Tokens,
    /// What to do.
    pub scenario: Scenario,
    /// Operations (messages, joins, resumes) per second after the ramp.
    pub rate: f64,
    /// How long to send (including ramp and warm-up).
    pub duration: Duration,
    /// Not measured at the start.
    pub warmup: Duration,
    /// Linear ramp from 0 to `rate`.
    pub ramp: Duration,
    /// Visits (a provider and a patient each) for the relay scenarios.
    pub visits: usize,
    /// Sessions held for `idle`.
    pub sessions: usize,
    /// Local source addresses to spread connections over.
    pub sources: Vec<IpAddr>,
    /// The hub's pid, to read its CPU time and RSS.
    pub hub_pid: Option<u32>,
    /// How long to wait for replies after the last send.
    pub drain: Duration,
    /// A progress line on stderr every second.
    pub progress: bool,
    /// Every visit steps through its negotiation in step with the others
    /// (all offers within the same 1% of a round): a burst, not a
    /// population of independent visits.
    pub lockstep: bool,
}

impl Plan {
    /// Connections this run holds open at its peak (a join storm keeps
    /// every joined session; the other scenarios hold two per visit, or
    /// `sessions` for `idle`). Each is a file descriptor here and at the hub.
    pub fn connections_held(&self) -> u64 {
        match self.scenario {
            Scenario::JoinStorm => {
                let mut n = 0u64;
                while offset(n, self.rate, self.ramp) < self.duration {
                    n += 1;
                }
                n
            }
            s if s.is_idle() => self.sessions.div_ceil(2) as u64 * 2,
            _ => self.visits.max(1) as u64 * 2,
        }
    }
}

/// What the hub process spent.
#[derive(Debug, Clone, Serialize)]
pub struct HubStats {
    /// CPU seconds (user + system) during the measured window.
    pub cpu_s: f64,
    /// Measured deliveries in that window.
    pub messages: u64,
    /// CPU µs per measured delivery.
    pub cpu_us_per_message: f64,
    /// RSS before the run's sessions connected.
    pub rss_before: u64,
    /// RSS at the end (with the sessions connected).
    pub rss_after: u64,
    /// `(rss_after - rss_before) / sessions` (for `idle`).
    pub bytes_per_session: Option<f64>,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Which scenario.
    pub scenario: Scenario,
    /// Target rate (ops/s).
    pub rate: f64,
    /// Planned send time (s).
    pub duration_s: f64,
    /// Warm-up excluded (s).
    pub warmup_s: f64,
    /// Visits used.
    pub visits: usize,
    /// Visits negotiated in step (`--lockstep`) rather than independently.
    pub lockstep: bool,
    /// Connections opened.
    pub connections: usize,
    /// Operations started.
    pub operations: u64,
    /// Operations per second achieved over the send window.
    pub achieved_rate: f64,
    /// Per-kind results.
    pub summary: Summary,
    /// Hub CPU and memory, with `hub_pid`.
    pub hub: Option<HubStats>,
}

/// Marks the durable-ack token of a chat message.
const ACK_BIT: u64 = 1 << 62;

struct Pair {
    dr: Live,
    pt: Mutex<PtSlot>,
    /// Where its participants sit (runs against several nodes).
    path: Option<Path>,
}

struct PtSlot {
    live: Live,
    resume_token: String,
    last_seq: Arc<AtomicU64>,
}

struct Ctx {
    plan: Plan,
    metrics: Arc<Metrics>,
    templates: Templates,
    next_token: AtomicU64,
    connections: AtomicUsize,
    run_id: String,
    /// Sockets of the join storm, kept open to the end.
    held: Mutex<Vec<conn::Ws>>,
    ids: PairIds,
}

/// The two participants of every simulated visit.
#[derive(Debug)]
struct PairIds {
    dr: ParticipantId,
    pt: ParticipantId,
}

impl PairIds {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            dr: ParticipantId::new("dr")?,
            pt: ParticipantId::new("pt")?,
        })
    }

    /// Who a message from the provider (`from_dr`) or the patient goes to.
    fn other(&self, from_dr: bool) -> ParticipantId {
        if from_dr { &self.pt } else { &self.dr }.clone()
    }
}

impl Ctx {
    fn source(&self, n: usize) -> Option<IpAddr> {
        if self.plan.sources.is_empty() {
            None
        } else {
            Some(self.plan.sources[n % self.plan.sources.len()])
        }
    }

    fn token(&self) -> u64 {
        self.next_token.fetch_add(1, Ordering::Relaxed)
    }
}

/// What both kinds of run start from.
struct Started {
    ctx: Arc<Ctx>,
    /// The visits, all set up.
    pairs: Arc<Vec<Pair>>,
    /// The hub's RSS before the run's sessions connected.
    rss_before: u64,
}

/// Builds the run's context and sets up its visits.
async fn start(plan: Plan) -> anyhow::Result<Started> {
    let templates = Templates::load()?;
    let mut id = [0u8; 6];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut id);
    let run_id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let rss_before = plan.hub_pid.and_then(procstat::rss_bytes).unwrap_or(0);
    let ctx = Arc::new(Ctx {
        // The idle scenarios send nothing at a rate: nothing to warm up.
        metrics: Arc::new(Metrics::new(if plan.scenario.is_idle() {
            Duration::ZERO
        } else {
            plan.warmup
        })),
        templates,
        next_token: AtomicU64::new(1),
        connections: AtomicUsize::new(0),
        run_id,
        held: Mutex::new(Vec::new()),
        ids: PairIds::new()?,
        plan,
    });
    let pairs = Arc::new(operations::setup_pairs(&ctx).await?);
    Ok(Started {
        ctx,
        pairs,
        rss_before,
    })
}

/// Waits until no message sent is waiting for its reply, for at most
/// `within`, looking every `poll`.
async fn wait_for_replies(ctx: &Ctx, within: Duration, poll: Duration) {
    let until = Instant::now() + within;
    while ctx.metrics.outstanding() > 0 && Instant::now() < until {
        tokio::time::sleep(poll).await;
    }
}

/// Runs `plan` to the end.
pub async fn run(plan: Plan) -> anyhow::Result<Report> {
    let started = start(plan).await?;
    if started.ctx.plan.scenario.is_idle() {
        idle::run_idle(started).await
    } else {
        open_loop::run_open_loop(started).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visits_provider_and_patient_go_to_different_nodes() {
        let mut plan = Plan {
            urls: vec!["ws://a".into(), "ws://b".into(), "ws://c".into()],
            mix_paths: false,
            tokens: Tokens::Dev(String::new()),
            scenario: Scenario::Negotiation,
            rate: 1.0,
            duration: Duration::ZERO,
            warmup: Duration::ZERO,
            ramp: Duration::ZERO,
            visits: 1,
            sessions: 2,
            sources: vec![],
            hub_pid: None,
            drain: Duration::ZERO,
            progress: false,
            lockstep: false,
        };
        for i in 0..6 {
            assert_ne!(plan.url_for(2 * i), plan.url_for(2 * i + 1));
            let (dr, pt) = plan.pair_urls(i);
            assert_ne!(dr, pt);
            assert_eq!(plan.pair_path(i), Some(Path::CrossNode));
        }
        // Every node owns (holds the provider of) as many visits.
        let owners: Vec<usize> = (0..6).map(|i| plan.pair_nodes(i).0).collect();
        assert_eq!(owners, [0, 1, 2, 0, 1, 2]);

        // Mixed: per node, one visit on it alone and one across.
        plan.urls.truncate(2);
        plan.mix_paths = true;
        let placed: Vec<_> = (0..4).map(|i| plan.pair_nodes(i)).collect();
        assert_eq!(placed, [(0, 0), (0, 1), (1, 1), (1, 0)]);
        let paths: Vec<_> = (0..4).map(|i| plan.pair_path(i)).collect();
        assert_eq!(
            paths,
            [
                Path::SameNode,
                Path::CrossNode,
                Path::SameNode,
                Path::CrossNode
            ]
            .map(Some)
        );

        plan.urls.truncate(1);
        assert_eq!(plan.url_for(7), "ws://a");
        assert_eq!(plan.pair_path(3), None);
    }

    #[test]
    fn a_join_storm_holds_every_joined_connection() {
        let plan = |scenario, rate, secs| Plan {
            urls: vec![String::new()],
            mix_paths: false,
            tokens: Tokens::Dev(String::new()),
            scenario,
            rate,
            duration: Duration::from_secs(secs),
            warmup: Duration::ZERO,
            ramp: Duration::from_secs(2),
            visits: 100,
            sessions: 1001,
            sources: vec![],
            hub_pid: None,
            drain: Duration::ZERO,
            progress: false,
            lockstep: false,
        };
        // 1,000 in the 2 s ramp (half the rate on average), then 1,000/s.
        let n = plan(Scenario::JoinStorm, 1000.0, 10).connections_held();
        assert!((8999..=9001).contains(&n), "{n}");
        assert_eq!(plan(Scenario::Idle, 1.0, 1).connections_held(), 1002);
        assert_eq!(plan(Scenario::Negotiation, 1.0, 1).connections_held(), 200);
    }
}

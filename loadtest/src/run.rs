//! One load run: set up visits, fire messages open-loop at the planned rate,
//! drain, and collect what happened.

use crate::conn::{self, Live};
use crate::metrics::{Kind, Metrics, Summary};
use crate::procstat;
use crate::sdp::Templates;
use crate::tokens::Tokens;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bedside_protocol::{
    ClientMessage, E2eKind, MessageId, ParticipantId, Permission, Role, TrackAction, TrackId,
    TrackSource,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
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

/// A run's parameters.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `ws://IP:port/v1/signal`.
    pub url: String,
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

/// What a frame means to the metrics (parsed once, borrowing).
#[derive(Deserialize)]
struct In<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(borrow, default)]
    sdp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    candidate: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    body: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    re: Option<Cow<'a, str>>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(borrow, default)]
    participant: Option<Cow<'a, str>>,
}

fn sdp_token(sdp: &str) -> Option<u64> {
    let o = sdp.lines().find(|l| l.starts_with("o="))?;
    o.split_whitespace().nth(1)?.parse().ok()
}

fn candidate_token(c: &str) -> Option<u64> {
    c.strip_prefix("candidate:")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

fn body_token(body: &str) -> Option<u64> {
    let head = B64.decode(body.get(..12)?).ok()?;
    Some(u64::from_be_bytes(head.get(..8)?.try_into().ok()?))
}

/// The reader callback of one connection.
fn handler(
    metrics: Arc<Metrics>,
    visit: u64,
    is_patient: bool,
    last_seq: Arc<AtomicU64>,
) -> impl FnMut(&str, &tokio::sync::mpsc::UnboundedSender<String>) + Send + 'static {
    let mut acked = 0u64;
    move |text, reply| {
        let now = Instant::now();
        let Ok(m) = serde_json::from_str::<In<'_>>(text) else {
            return;
        };
        match m.ty.as_ref() {
            "offer" | "answer" => {
                if let Some(t) = m.sdp.as_deref().and_then(sdp_token) {
                    metrics.received(t, now);
                }
            }
            "ice" => {
                if let Some(t) = m.candidate.as_deref().and_then(candidate_token) {
                    metrics.received(t, now);
                }
            }
            "e2e" => {
                if let Some(t) = m.body.as_deref().and_then(body_token) {
                    metrics.received(t, now);
                }
                if let Some(seq) = m.seq {
                    last_seq.fetch_max(seq, Ordering::Relaxed);
                    // Release the hub's copies, coalesced.
                    if seq >= acked + 16 {
                        acked = seq;
                        let _ = reply.send(ClientMessage::Ack { seq }.to_json(None));
                    }
                }
            }
            "ack" => {
                if let Some(t) =
                    m.re.as_deref()
                        .and_then(|r| r.strip_prefix('m'))
                        .and_then(|t| t.parse::<u64>().ok())
                {
                    metrics.received(t | ACK_BIT, now);
                }
            }
            "permissions" if is_patient && m.participant.as_deref() == Some("pt") => {
                metrics.received_fifo(Kind::Permission, visit, now);
            }
            "error" => match m
                .re
                .as_deref()
                .and_then(|r| r.strip_prefix('m'))
                .and_then(|t| t.parse::<u64>().ok())
            {
                Some(t) => {
                    metrics.error(t);
                    metrics.error(t | ACK_BIT);
                }
                None => metrics.unmatched_error(),
            },
            _ => {}
        }
    }
}

async fn live(
    ctx: &Ctx,
    ws: conn::Ws,
    visit: u64,
    is_patient: bool,
    last_seq: Arc<AtomicU64>,
) -> Live {
    let (l, _) = Live::spawn(
        ws,
        handler(ctx.metrics.clone(), visit, is_patient, last_seq),
    );
    l
}

/// One visit: a provider, a patient admitted, their tracks announced.
async fn setup_pair(ctx: &Ctx, i: usize) -> anyhow::Result<Pair> {
    let visit = format!("lt-{}-{i}", ctx.run_id);
    let t_dr = ctx.plan.tokens.token(&visit, Role::Provider, "dr").await?;
    let t_pt = ctx.plan.tokens.token(&visit, Role::Patient, "pt").await?;
    let url = &ctx.plan.url;
    let (mut dr, _) = conn::hello(url, ctx.source(2 * i), &t_dr).await?;
    let (pt, w) = conn::hello(url, ctx.source(2 * i + 1), &t_pt).await?;
    let admit = ClientMessage::Admit {
        participant: ctx.ids.pt.clone(),
    };
    conn::send(&mut dr, &admit).await?;
    conn::recv_type(&mut dr, "joined", Duration::from_secs(30)).await?;
    ctx.connections.fetch_add(2, Ordering::Relaxed);
    let resume_token = w["resume_token"].as_str().unwrap_or_default().to_owned();
    let seq_dr = Arc::new(AtomicU64::new(0));
    let seq_pt = Arc::new(AtomicU64::new(0));
    let dr = live(ctx, dr, i as u64, false, seq_dr).await;
    let pt = live(ctx, pt, i as u64, true, seq_pt.clone()).await;
    // Announce what the real SDPs carry, so the hub relays them.
    let publish = |(t, source): &(TrackId, TrackSource)| {
        ClientMessage::Track {
            action: TrackAction::Publish,
            source: Some(*source),
            track_id: t.clone(),
        }
        .to_json(None)
    };
    for track in &ctx.templates.offer_tracks {
        dr.send(publish(track));
    }
    for track in &ctx.templates.answer_tracks {
        pt.send(publish(track));
    }
    Ok(Pair {
        dr,
        pt: Mutex::new(PtSlot {
            live: pt,
            resume_token,
            last_seq: seq_pt,
        }),
    })
}

/// When op `i` is meant to start, for a linear ramp then a steady rate.
fn offset(i: u64, rate: f64, ramp: Duration) -> Duration {
    let r = ramp.as_secs_f64();
    let i = i as f64;
    let ramp_ops = rate * r / 2.0;
    let t = if r > 0.0 && i < ramp_ops {
        (2.0 * r * i / rate).sqrt()
    } else {
        r + (i - ramp_ops) / rate
    };
    Duration::from_secs_f64(t.max(0.0))
}

/// The relay steps of one visit's negotiation: offer, answer, then k
/// candidates each way (k in 5..=15, varying per round).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Offer,
    Answer,
    IceFromProvider,
    IceFromPatient,
    Chat { from_patient: bool },
    Grant,
}

fn negotiation_step(round: u64, n: u64) -> Option<Step> {
    let k = 5 + (round * 7) % 11;
    match n {
        0 => Some(Step::Offer),
        1 => Some(Step::Answer),
        n if n < 2 + k => Some(Step::IceFromProvider),
        n if n < 2 + 2 * k => Some(Step::IceFromPatient),
        _ => None,
    }
}

struct VisitCursor {
    round: u64,
    n: u64,
    mixed: u64,
}

impl VisitCursor {
    /// Visit `v`'s cursor. Visits are independent, so each starts at its
    /// own point of a negotiation round (and of the mixed cycle): started
    /// together, every visit sent its 5 KB offer within the same 1% of a
    /// round, a burst no real population of visits produces.
    fn staggered(v: u64) -> Self {
        let round = v;
        let len = (0..)
            .take_while(|&n| negotiation_step(round, n).is_some())
            .count() as u64;
        Self {
            round,
            n: (v * 7919) % len,
            mixed: v % 10,
        }
    }

    fn next(&mut self, scenario: Scenario) -> Step {
        match scenario {
            Scenario::Chat => {
                self.n += 1;
                Step::Chat {
                    from_patient: self.n.is_multiple_of(2),
                }
            }
            Scenario::Permissions => Step::Grant,
            Scenario::Mixed => {
                // Of every 10 operations: 1 permission change, 3 chats, 6 negotiation messages.
                self.mixed += 1;
                match self.mixed % 10 {
                    0 => Step::Grant,
                    3 | 6 | 9 => Step::Chat {
                        from_patient: self.mixed % 20 < 10,
                    },
                    _ => self.negotiation(),
                }
            }
            _ => self.negotiation(),
        }
    }

    fn negotiation(&mut self) -> Step {
        loop {
            if let Some(s) = negotiation_step(self.round, self.n) {
                self.n += 1;
                return s;
            }
            self.round += 1;
            self.n = 0;
        }
    }
}

async fn relay_op(
    ctx: &Ctx,
    pairs: &[Pair],
    v: usize,
    step: Step,
    grant_on: &mut [bool],
    intended: Instant,
) {
    let pair = &pairs[v];
    let token = ctx.token();
    match step {
        Step::Offer | Step::Answer => {
            let (text, from_dr) = if step == Step::Offer {
                (ctx.templates.offer(token), true)
            } else {
                (ctx.templates.answer(token), false)
            };
            let to = ctx.ids.other(from_dr);
            let msg = if from_dr {
                ClientMessage::Offer { to, sdp: text }
            } else {
                ClientMessage::Answer { to, sdp: text }
            }
            .to_json(None);
            ctx.metrics.sent(
                if from_dr { Kind::Offer } else { Kind::Answer },
                token,
                intended,
            );
            send_from(pair, from_dr, msg).await;
        }
        Step::IceFromProvider | Step::IceFromPatient => {
            let from_dr = step == Step::IceFromProvider;
            let cand = format!(
                "candidate:{token} 1 udp 2122260223 10.{}.{}.{} {} typ host generation 0 ufrag Xy3q network-id 1",
                v % 250,
                (token >> 8) % 250,
                token % 250,
                40000 + token % 20000
            );
            let msg = ClientMessage::Ice {
                to: ctx.ids.other(from_dr),
                candidate: cand,
                sdp_mid: Some("0".to_owned()),
                sdp_mline_index: Some(0),
            }
            .to_json(None);
            ctx.metrics.sent(Kind::Ice, token, intended);
            send_from(pair, from_dr, msg).await;
        }
        Step::Chat { from_patient } => {
            let mut body = token.to_be_bytes().to_vec();
            body.extend((0..192u32).map(|i| (i as u8).wrapping_mul(31) ^ (token as u8)));
            let msg = ClientMessage::E2e {
                to: None,
                kind: E2eKind::Chat,
                body: B64.encode(&body),
            }
            .to_json(MessageId::new(format!("m{token}")).ok().as_ref());
            ctx.metrics.sent(Kind::Chat, token, intended);
            ctx.metrics.sent(Kind::ChatAck, token | ACK_BIT, intended);
            send_from(pair, !from_patient, msg).await;
        }
        Step::Grant => {
            let on = &mut grant_on[v];
            *on = !*on;
            let participant = ctx.ids.pt.clone();
            let permission = Permission::ScreenShare;
            let msg = if *on {
                ClientMessage::Grant {
                    participant,
                    permission,
                }
            } else {
                ClientMessage::Revoke {
                    participant,
                    permission,
                }
            };
            ctx.metrics.sent_fifo(Kind::Permission, v as u64, intended);
            pair.dr.send(msg.to_json(None));
        }
    }
}

async fn send_from(pair: &Pair, from_dr: bool, msg: String) {
    if from_dr {
        pair.dr.send(msg);
    } else {
        pair.pt.lock().await.live.send(msg);
    }
}

/// Drops patient `v`'s connection and resumes it (`token` already counted as sent).
async fn resume_op(ctx: Arc<Ctx>, pairs: Arc<Vec<Pair>>, v: usize, token: u64) {
    let mut slot = pairs[v].pt.lock().await;
    slot.live.close();
    let last = slot.last_seq.load(Ordering::Relaxed);
    match conn::resume(
        &ctx.plan.url,
        ctx.source(2 * v + 1),
        &slot.resume_token,
        last,
    )
    .await
    {
        Ok((ws, w)) => {
            ctx.metrics.received(token, Instant::now());
            slot.resume_token = w["resume_token"].as_str().unwrap_or_default().to_owned();
            slot.live = live(&ctx, ws, v as u64, true, slot.last_seq.clone()).await;
            ctx.connections.fetch_add(1, Ordering::Relaxed);
        }
        Err(_) => ctx.metrics.error(token),
    }
}

/// A new patient joins visit `i % visits` (`token` already counted as sent).
async fn join_op(ctx: Arc<Ctx>, i: u64, token: u64) {
    let visits = ctx.plan.visits.max(1) as u64;
    let visit = format!("lt-{}-{}", ctx.run_id, i % visits);
    let t = match ctx
        .plan
        .tokens
        .token(&visit, Role::Patient, &format!("js-{i}"))
        .await
    {
        Ok(t) => t,
        Err(_) => {
            ctx.metrics.error(token);
            return;
        }
    };
    match conn::hello(&ctx.plan.url, ctx.source(i as usize), &t).await {
        Ok((ws, _)) => {
            ctx.metrics.received(token, Instant::now());
            ctx.connections.fetch_add(1, Ordering::Relaxed);
            ctx.held.lock().await.push(ws);
        }
        Err(_) => ctx.metrics.error(token),
    }
}

/// Runs `plan` to the end.
pub async fn run(plan: Plan) -> anyhow::Result<Report> {
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
    let plan = &ctx.plan;

    // Visits for the relay and resume scenarios, set up 32 at a time.
    let needs_pairs = !matches!(plan.scenario, Scenario::JoinStorm);
    let n_pairs = if plan.scenario.is_idle() {
        plan.sessions.div_ceil(2)
    } else if needs_pairs {
        plan.visits.max(1)
    } else {
        0
    };
    let mut pairs = Vec::with_capacity(n_pairs);
    for chunk in (0..n_pairs).collect::<Vec<_>>().chunks(32) {
        let made = futures_util::future::join_all(chunk.iter().map(|i| setup_pair(&ctx, *i))).await;
        for p in made {
            pairs.push(p?);
        }
    }
    let pairs = Arc::new(pairs);

    if plan.scenario.is_idle() {
        if plan.scenario == Scenario::IdleAfterCall {
            // One offer and one answer per visit, 32 visits at a time, each
            // waited for (the report counts them like any relay).
            let mut grant_on = vec![false; pairs.len()];
            for chunk in (0..pairs.len()).collect::<Vec<_>>().chunks(32) {
                for step in [Step::Offer, Step::Answer] {
                    for v in chunk {
                        relay_op(&ctx, &pairs, *v, step, &mut grant_on, Instant::now()).await;
                    }
                    let until = Instant::now() + Duration::from_secs(30);
                    while ctx.metrics.outstanding() > 0 && Instant::now() < until {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
        }
        // Let buffers settle, then read the hub's memory.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss_after = plan.hub_pid.and_then(procstat::rss_bytes).unwrap_or(0);
        let sessions = ctx.connections.load(Ordering::Relaxed);
        let hub = plan.hub_pid.map(|_| HubStats {
            cpu_s: 0.0,
            messages: 0,
            cpu_us_per_message: 0.0,
            rss_before,
            rss_after,
            bytes_per_session: Some(
                rss_after.saturating_sub(rss_before) as f64 / sessions.max(1) as f64,
            ),
        });
        return Ok(Report {
            scenario: plan.scenario,
            rate: 0.0,
            duration_s: 0.0,
            warmup_s: 0.0,
            visits: n_pairs,
            lockstep: plan.lockstep,
            connections: sessions,
            operations: 0,
            achieved_rate: 0.0,
            summary: ctx.metrics.summary(),
            hub,
        });
    }

    // Progress line.
    let progress = plan.progress.then(|| {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let s = ctx.metrics.summary();
                let (sent, recv, err, _) = s.totals();
                let worst = s
                    .kinds
                    .iter()
                    .map(|k| format!("{} p99 {:.2}ms", k.kind.name(), k.latency.p99_ms))
                    .collect::<Vec<_>>()
                    .join(", ");
                eprint!(
                    "\r t={:>4}s sent={sent} recv={recv} err={err} outstanding={} | {worst}    ",
                    t0.elapsed().as_secs(),
                    ctx.metrics.outstanding()
                );
            }
        })
    });

    // Open-loop sending.
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let mut cpu_at_warmup: Option<Duration> = None;
    let mut cursors: Vec<VisitCursor> = (0..pairs.len().max(1) as u64)
        .map(|v| VisitCursor::staggered(if plan.lockstep { 0 } else { v }))
        .collect();
    let mut grant_on = vec![false; pairs.len().max(1)];
    let mut ops: u64 = 0;
    loop {
        let at = offset(ops, plan.rate, plan.ramp);
        if at >= plan.duration {
            break;
        }
        let intended = start + at;
        if cpu_at_warmup.is_none() && intended >= measure_from {
            cpu_at_warmup = plan.hub_pid.and_then(procstat::cpu_time);
        }
        let now = Instant::now();
        if intended > now {
            tokio::time::sleep_until(intended.into()).await;
        }
        match plan.scenario {
            // Counted as sent here, before the task runs, so the drain
            // below cannot miss it.
            Scenario::JoinStorm => {
                let token = ctx.token();
                ctx.metrics.sent(Kind::Hello, token, intended);
                tokio::spawn(join_op(ctx.clone(), ops, token));
            }
            Scenario::ResumeStorm => {
                let v = (ops as usize) % pairs.len();
                let token = ctx.token();
                ctx.metrics.sent(Kind::Resume, token, intended);
                tokio::spawn(resume_op(ctx.clone(), pairs.clone(), v, token));
            }
            _ => {
                let v = (ops as usize) % pairs.len();
                let step = cursors[v].next(plan.scenario);
                relay_op(&ctx, &pairs, v, step, &mut grant_on, intended).await;
            }
        }
        ops += 1;
    }
    let send_window = start.elapsed();
    let cpu_at_end = plan.hub_pid.and_then(procstat::cpu_time);

    // Drain.
    let drain_until = Instant::now() + plan.drain;
    while ctx.metrics.outstanding() > 0 && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    let summary = ctx.metrics.summary();
    let measured: u64 = summary
        .kinds
        .iter()
        .filter(|k| k.kind != Kind::ChatAck)
        .map(|k| k.latency.count)
        .sum();
    let hub = match (plan.hub_pid, cpu_at_warmup, cpu_at_end) {
        (Some(pid), Some(a), Some(b)) => {
            let cpu = b.saturating_sub(a).as_secs_f64();
            Some(HubStats {
                cpu_s: cpu,
                messages: measured,
                cpu_us_per_message: if measured > 0 {
                    cpu * 1e6 / measured as f64
                } else {
                    0.0
                },
                rss_before,
                rss_after: procstat::rss_bytes(pid).unwrap_or(0),
                bytes_per_session: None,
            })
        }
        _ => None,
    };
    for p in pairs.iter() {
        p.dr.close();
        p.pt.lock().await.live.close();
    }
    ctx.held.lock().await.clear();
    Ok(Report {
        scenario: plan.scenario,
        rate: plan.rate,
        duration_s: plan.duration.as_secs_f64(),
        warmup_s: plan.warmup.as_secs_f64(),
        visits: pairs.len(),
        lockstep: plan.lockstep,
        connections: ctx.connections.load(Ordering::Relaxed),
        operations: ops,
        achieved_rate: ops as f64 / send_window.as_secs_f64().max(1e-9),
        summary,
        hub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ramp_is_linear_then_steady() {
        let ramp = Duration::from_secs(2);
        assert_eq!(offset(0, 100.0, ramp), Duration::ZERO);
        // 100 ops/s ramped over 2 s: 100 ops by the end of the ramp.
        assert!((offset(100, 100.0, ramp).as_secs_f64() - 2.0).abs() < 1e-9);
        assert!((offset(200, 100.0, ramp).as_secs_f64() - 3.0).abs() < 1e-9);
        assert!((offset(50, 100.0, Duration::ZERO).as_secs_f64() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_join_storm_holds_every_joined_connection() {
        let plan = |scenario, rate, secs| Plan {
            url: String::new(),
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

    #[test]
    fn visits_negotiate_out_of_step() {
        // 100 visits, one operation each in turn: a real population's
        // offers are spread over the round, not sent together.
        let mut cursors: Vec<VisitCursor> = (0..100).map(VisitCursor::staggered).collect();
        for _ in 0..30 {
            let offers = cursors
                .iter_mut()
                .map(|c| c.next(Scenario::Negotiation))
                .filter(|s| *s == Step::Offer)
                .count();
            assert!(offers <= 20, "{offers} of 100 visits offer at once");
        }
        let mut total = 0;
        for _ in 0..300 {
            total += cursors
                .iter_mut()
                .map(|c| c.next(Scenario::Negotiation))
                .filter(|s| *s == Step::Offer)
                .count();
        }
        assert!(total >= 100, "every visit still negotiates: {total} offers");
    }

    #[test]
    fn negotiation_rounds_have_5_to_15_candidates_each_way() {
        for round in 0..30 {
            let steps: Vec<Step> = (0..40).map_while(|n| negotiation_step(round, n)).collect();
            assert_eq!(steps[0], Step::Offer);
            assert_eq!(steps[1], Step::Answer);
            let k = steps
                .iter()
                .filter(|s| **s == Step::IceFromProvider)
                .count();
            assert!((5..=15).contains(&k));
            assert_eq!(
                k,
                steps.iter().filter(|s| **s == Step::IceFromPatient).count()
            );
        }
    }

    #[test]
    fn tokens_survive_the_wire_forms() {
        assert_eq!(
            sdp_token("v=0\r\no=- 4242 2 IN IP4 127.0.0.1\r\n"),
            Some(4242)
        );
        assert_eq!(
            candidate_token("candidate:77 1 udp 1 10.0.0.1 4000 typ host"),
            Some(77)
        );
        let mut b = 99u64.to_be_bytes().to_vec();
        b.extend([1u8; 30]);
        assert_eq!(body_token(&B64.encode(&b)), Some(99));
    }
}

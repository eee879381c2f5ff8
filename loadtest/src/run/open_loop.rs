//! The open-loop scenarios: operations started at their planned times
//! whether or not earlier ones were answered, a drain, then the hub's CPU
//! time per measured delivery.

use super::operations::{join_op, relay_op, resume_op};
use super::schedule::{VisitCursor, offset};
use super::{Ctx, HubStats, Report, Scenario, Started, wait_for_replies};
use crate::metrics::Kind;
use crate::procstat;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Runs an open-loop scenario (any not [`Scenario::is_idle`]) to the end.
pub(super) async fn run_open_loop(started: Started) -> anyhow::Result<Report> {
    let Started {
        ctx,
        pairs,
        rss_before,
    } = started;
    let plan = &ctx.plan;

    // Progress line.
    let progress = plan.progress.then(|| progress_line(ctx.clone()));

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
                ctx.metrics.sent(Kind::Hello, None, token, intended);
                tokio::spawn(join_op(ctx.clone(), ops, token));
            }
            Scenario::ResumeStorm => {
                let v = (ops as usize) % pairs.len();
                let token = ctx.token();
                ctx.metrics
                    .sent(Kind::Resume, pairs[v].path, token, intended);
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
    wait_for_replies(&ctx, plan.drain, Duration::from_millis(20)).await;
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

/// Prints the progress line on stderr every second, until aborted.
fn progress_line(ctx: Arc<Ctx>) -> tokio::task::JoinHandle<()> {
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
}

//! The idle scenarios: the run's sessions held open, each visit first
//! exchanging one offer and answer for `idle-after-call`, then the hub's
//! memory read per session. Nothing is sent at a rate.

use super::operations::relay_op;
use super::schedule::Step;
use super::{HubStats, Report, Scenario, Started, wait_for_replies};
use crate::procstat;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Runs an idle scenario ([`Scenario::is_idle`]) to the end.
pub(super) async fn run_idle(started: Started) -> anyhow::Result<Report> {
    let Started {
        ctx,
        pairs,
        rss_before,
    } = started;
    let plan = &ctx.plan;
    if plan.scenario == Scenario::IdleAfterCall {
        // One offer and one answer per visit, 32 visits at a time, each
        // waited for (the report counts them like any relay).
        let mut grant_on = vec![false; pairs.len()];
        for chunk in (0..pairs.len()).collect::<Vec<_>>().chunks(32) {
            for step in [Step::Offer, Step::Answer] {
                for v in chunk {
                    relay_op(&ctx, &pairs, *v, step, &mut grant_on, Instant::now()).await;
                }
                wait_for_replies(&ctx, Duration::from_secs(30), Duration::from_millis(5)).await;
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
    Ok(Report {
        scenario: plan.scenario,
        rate: 0.0,
        duration_s: 0.0,
        warmup_s: 0.0,
        visits: pairs.len(),
        lockstep: plan.lockstep,
        connections: sessions,
        operations: 0,
        achieved_rate: 0.0,
        summary: ctx.metrics.summary(),
        hub,
    })
}

//! The operations: setting up visit pairs (a provider and an admitted
//! patient, their tracks announced), relaying one step of a visit (counted
//! as sent here), and resuming a patient or joining a new one (counted as
//! sent by the caller, answered or failed here).

use super::probes::handler;
use super::schedule::Step;
use super::{ACK_BIT, Ctx, Pair, PtSlot, Scenario};
use crate::conn::{self, Live};
use crate::metrics::{Kind, Path};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bedside_protocol::{
    ClientMessage, E2eKind, MessageId, Permission, Role, TrackAction, TrackId, TrackSource,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

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
    let (dr_url, pt_url) = ctx.plan.pair_urls(i);
    // The provider first: its node owns the visit.
    let (mut dr, _) = conn::hello(dr_url, ctx.source(2 * i), &t_dr).await?;
    let (pt, w) = conn::hello(pt_url, ctx.source(2 * i + 1), &t_pt).await?;
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
        path: ctx.plan.pair_path(i),
    })
}

/// Every visit the run holds, set up before anything is measured.
pub(super) async fn setup_pairs(ctx: &Ctx) -> anyhow::Result<Vec<Pair>> {
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
        let made = futures_util::future::join_all(chunk.iter().map(|i| setup_pair(ctx, *i))).await;
        for p in made {
            pairs.push(p?);
        }
    }
    Ok(pairs)
}

pub(super) async fn relay_op(
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
                pair.path,
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
            ctx.metrics.sent(Kind::Ice, pair.path, token, intended);
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
            ctx.metrics.sent(Kind::Chat, pair.path, token, intended);
            // The provider sits on the owner node: its acks never cross.
            let ack_path = if from_patient {
                pair.path
            } else {
                pair.path.map(|_| Path::SameNode)
            };
            ctx.metrics
                .sent(Kind::ChatAck, ack_path, token | ACK_BIT, intended);
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
            ctx.metrics
                .sent_fifo(Kind::Permission, pair.path, v as u64, intended);
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
pub(super) async fn resume_op(ctx: Arc<Ctx>, pairs: Arc<Vec<Pair>>, v: usize, token: u64) {
    let mut slot = pairs[v].pt.lock().await;
    slot.live.close();
    let last = slot.last_seq.load(Ordering::Relaxed);
    match conn::resume(
        ctx.plan.pair_urls(v).1,
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
pub(super) async fn join_op(ctx: Arc<Ctx>, i: u64, token: u64) {
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
    match conn::hello(ctx.plan.url_for(i as usize), ctx.source(i as usize), &t).await {
        Ok((ws, _)) => {
            ctx.metrics.received(token, Instant::now());
            ctx.connections.fetch_add(1, Ordering::Relaxed);
            ctx.held.lock().await.push(ws);
        }
        Err(_) => ctx.metrics.error(token),
    }
}

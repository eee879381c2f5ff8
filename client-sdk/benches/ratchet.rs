//! Criterion benchmarks of the chat crypto: the bare ratchet step (seal and
//! open of a 200-byte message) and a whole chat message as the SDK sends it
//! (ratchet + Ed25519 signature, and on receipt signature check + open).
//! `cargo bench -p bedside-sdk --bench ratchet`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use bedside_sdk::e2ee::{
    ChainContext, ChainKey, Group, Identity, Output, Pins, ReceivingChain, SendingChain,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn ctx() -> ChainContext {
    ChainContext {
        visit: "v-1".into(),
        epoch: 7,
        sender: "dr-ada".into(),
        roster_hash: [3; 32],
    }
}

fn ratchet(c: &mut Criterion) {
    let text = [b'x'; 200];
    let mut s = SendingChain::new(ChainKey::from_bytes([1; 32]), ctx());
    c.bench_function("ratchet seal 200 B", |b| {
        b.iter(|| s.seal(black_box(&text)).unwrap())
    });
    c.bench_function("ratchet open 200 B (in order)", |b| {
        b.iter_batched(
            || {
                let mut s = SendingChain::new(ChainKey::from_bytes([2; 32]), ctx());
                let msgs: Vec<(u64, Vec<u8>)> = (0..64).map(|_| s.seal(&text).unwrap()).collect();
                (
                    ReceivingChain::new(ChainKey::from_bytes([2; 32]), ctx()),
                    msgs,
                )
            },
            |(mut r, msgs)| {
                for (i, ct) in &msgs {
                    black_box(r.open(*i, ct).unwrap());
                }
            },
            BatchSize::SmallInput,
        )
    });
}

/// Two groups that share keys: `dr` sends, `pt` receives.
fn pair() -> (Group, Group) {
    let mut rng = rand_core::OsRng;
    let mut dr = Group::new(
        Identity::from_secret_bytes(&[1; 32]),
        Pins::default(),
        "v-1",
        "dr",
        "",
    );
    let mut pt = Group::new(
        Identity::from_secret_bytes(&[2; 32]),
        Pins::default(),
        "v-1",
        "pt",
        "",
    );
    let mut to_pt = Vec::new();
    let mut to_dr = Vec::new();
    for o in pt.set_roster(["dr", "pt"], 1, &mut rng) {
        if let Output::PublishBundle(b) = o {
            to_dr.push(b);
        }
    }
    let _ = dr.set_roster(["dr", "pt"], 1, &mut rng);
    for b in to_dr {
        for o in dr.peer_bundle("pt", &b, 1, &mut rng).unwrap() {
            if let Output::SendKey { body, .. } = o {
                to_pt.push(body);
            }
        }
    }
    let b = dr.bundle_json().unwrap();
    let _ = pt.peer_bundle("dr", &b, 1, &mut rng);
    for k in to_pt {
        let _ = pt.receive_key("dr", &k, 1, &mut rng);
    }
    (dr, pt)
}

fn chat(c: &mut Criterion) {
    let mut rng = rand_core::OsRng;
    let text = "x".repeat(200);
    let (mut dr, _) = pair();
    c.bench_function("chat seal 200 B (ratchet + Ed25519 sign)", |b| {
        b.iter(|| dr.seal_chat(black_box(&text), 2, &mut rng).unwrap())
    });
    c.bench_function("chat open 200 B (Ed25519 verify + ratchet)", |b| {
        b.iter_batched(
            || {
                let (mut dr, pt) = pair();
                let (body, _, _) = dr.seal_chat(&text, 2, &mut rng).unwrap();
                (pt, body)
            },
            |(mut pt, body)| {
                let out = pt.receive_chat("dr", &body, 3);
                assert!(matches!(&out[..], [Output::Chat(_)]), "{out:?}");
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, ratchet, chat);
criterion_main!(benches);

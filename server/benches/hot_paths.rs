//! Criterion benchmarks of the hub's hot paths, each in isolation:
//! parse + validate + route a relayed message through the visit state
//! machine, SDP validation of a real Chromium offer, JWT verification.
//! `cargo bench -p bedside-server --bench hot_paths`
//! (under `cargo test` each runs once, as a smoke test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use bedside_protocol::claims::{JoinClaims, Lifetime};
use bedside_protocol::time::UnixMs;
use bedside_protocol::{Limits, MessageId, ParticipantId, Role, VisitId, parse_client_message};
use bedside_server::auth::keyset::KeySet;
use bedside_server::auth::verify::Verifier;
use bedside_server::sdp;
use bedside_server::store::VisitSnapshot;
use bedside_server::visit::{ConnId, Input, Join, Visit, VisitSettings};
use bedside_token::{PrivateKey, random_jti};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const OFFER: &str = include_str!("../tests/data/sdp/chromium-camera-mic-offer.sdp");
const T0: i64 = 1_800_000_000_000;

fn join(conn: u64, who: &str, role: Role) -> Input {
    Input::Join(Box::new(Join {
        conn: ConnId(conn),
        session: format!("s-{conn}"),
        participant: ParticipantId::new(who).unwrap(),
        name: None,
        role,
        perms: vec![],
        device: None,
        expires_at: UnixMs(T0).to_secs().plus_secs(3600),
        resume_token: format!("r-{conn}"),
        ice_servers: vec![],
        last_seq: None,
        resumed: false,
        features: Default::default(),
        ip: Some("127.0.0.1".into()),
        patient_id: None,
    }))
}

/// A visit with a provider (conn 1) and an admitted patient (conn 2).
fn visit() -> Visit {
    let mut v = Visit::new(
        VisitId::new("v-1").unwrap(),
        VisitSettings {
            idle_timeout_ms: 900_000,
            expiry_notice_ms: 60_000,
            limits: Limits {
                max_message_bytes: 65536,
                idle_timeout_s: 900,
            },
            permission_violations_per_min: 5,
        },
        VisitSnapshot::default(),
    );
    v.handle(T0, join(1, "dr", Role::Provider));
    v.handle(T0, join(2, "pt", Role::Patient));
    let (_, admit) = parse_client_message(r#"{"type":"admit","participant":"pt"}"#).unwrap();
    v.handle(
        T0,
        Input::Message {
            conn: ConnId(1),
            id: None,
            msg: Box::new(admit),
            sdp: None,
        },
    );
    v
}

fn relay(c: &mut Criterion) {
    let mut v = visit();
    let ice = r#"{"type":"ice","to":"pt","candidate":"candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host generation 0","sdp_mid":"0","sdp_mline_index":0}"#;
    c.bench_function("parse+route ice (visit state machine)", |b| {
        b.iter(|| {
            let (id, msg) = parse_client_message(black_box(ice)).unwrap();
            black_box(v.handle(
                T0,
                Input::Message {
                    conn: ConnId(1),
                    id,
                    msg: Box::new(msg),
                    sdp: None,
                },
            ))
        })
    });
    let offer = serde_json::json!({"type":"offer","to":"pt","sdp":OFFER}).to_string();
    c.bench_function("parse+validate+route chromium offer", |b| {
        b.iter(|| {
            let (id, msg) = parse_client_message(black_box(&offer)).unwrap();
            let summary = match &msg {
                bedside_protocol::ClientMessage::Offer { sdp, .. } => sdp::inspect(sdp).unwrap(),
                _ => unreachable!(),
            };
            black_box(v.handle(
                T0,
                Input::Message {
                    conn: ConnId(2),
                    id: id.or_else(|| MessageId::new("o").ok()),
                    msg: Box::new(msg),
                    sdp: Some(summary),
                },
            ))
        })
    });
}

fn sdp_validation(c: &mut Criterion) {
    c.bench_function("sdp::inspect chromium camera+mic offer (5 KB)", |b| {
        b.iter(|| sdp::inspect(black_box(OFFER)).unwrap())
    });
}

fn jwt(c: &mut Criterion) {
    let key = PrivateKey::generate("k-1");
    let keys = KeySet::from_json(&key.public_jwks()).unwrap().0;
    let verifier = Verifier::new(keys, vec!["clinic".into()], "bedside".into(), vec![]);
    let now = UnixMs(T0).to_secs();
    let claims = JoinClaims::new(
        "clinic",
        "bedside",
        VisitId::new("v-1").unwrap(),
        ParticipantId::new("pt-1").unwrap(),
        Role::Patient,
        Lifetime::starting(now, 3600),
        random_jti(),
    );
    let token = key.sign(&claims).unwrap();
    c.bench_function("jwt verify (EdDSA)", |b| {
        b.iter(|| verifier.verify(black_box(&token), now).unwrap())
    });
}

criterion_group!(benches, relay, sdp_validation, jwt);
criterion_main!(benches);

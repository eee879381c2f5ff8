//! The store on a real redis-server: the same commands as the embedded
//! store (replay cache, resume tokens, visits, messages), the fence that
//! refuses a former owner's writes, and the settings check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bedside_protocol::time::UnixSecs;
use bedside_protocol::{E2eKind, ParticipantId, Role, VisitId};
use bedside_server::store::redis::keys::VisitTag;
use bedside_server::store::redis::{self as backend, settings};
use bedside_server::store::{
    Fence, ParticipantRecord, ResumeRecord, Store, StoreError, StoredMessage, VisitWrite,
    new_resume_token,
};
use common::redis::Redis;

async fn open(redis: &Redis) -> Store {
    let client = backend::client(&redis.url()).unwrap();
    let conn = backend::connect(&client, Default::default()).await.unwrap();
    backend::open(conn, 3600, Default::default())
}

fn vid(s: &str) -> VisitId {
    VisitId::new(s).unwrap()
}
fn pid(s: &str) -> ParticipantId {
    ParticipantId::new(s).unwrap()
}

/// Makes `node` the owner of `visit` at `epoch` (as a lease would).
fn own(redis: &Redis, visit: &VisitId, fence: &str) -> Fence {
    let key = VisitTag::of(visit).lease();
    assert_eq!(redis.cli(&["SET", &key, fence, "PX", "60000"]), "OK");
    Fence(fence.to_owned())
}

fn rec(visit: &str, p: &str, exp: i64) -> ResumeRecord {
    ResumeRecord {
        visit: vid(visit),
        participant: pid(p),
        role: Role::Patient,
        name: Some("Pat".into()),
        patient_id: None,
        perms: vec![],
        device: None,
        exp: UnixSecs(exp),
        ip: Some("10.0.0.1".into()),
        kid: Some("clinic-1".into()),
        since: Some(UnixSecs(7)),
    }
}

fn msg(from: &str, to: &[&str]) -> StoredMessage {
    StoredMessage {
        seq: 0,
        ts: 1_700_000_000_000,
        from: pid(from),
        to: to.iter().map(|t| pid(t)).collect(),
        kind: E2eKind::Chat,
        body: "Y2lwaGVy".into(),
    }
}

async fn append(s: &Store, v: &VisitId, f: &Fence, m: StoredMessage) -> Result<u64, StoreError> {
    s.enqueue_append(v, Some(f), m).await?.await
}

async fn owed(s: &Store, v: &VisitId, who: &str, after: u64) -> Vec<u64> {
    let r = s.enqueue_backlog(v, &pid(who), after).await.unwrap();
    r.await.unwrap().iter().map(|m| m.seq).collect()
}

#[tokio::test]
async fn a_jti_is_claimed_once_and_a_resume_token_is_swapped_once() {
    let redis = Redis::start();
    let store = open(&redis).await;
    let v = vid("v-1");
    let far = UnixSecs(4_000_000_000);
    let token = new_resume_token(&v);
    assert!(
        store
            .admit("j1", far, &token, rec("v-1", "pt", 4_000_000_000))
            .await
            .unwrap()
    );
    let again = new_resume_token(&v);
    assert!(
        !store
            .admit("j1", far, &again, rec("v-1", "pt", 4_000_000_000))
            .await
            .unwrap(),
        "a replayed jti stores nothing"
    );
    assert!(
        store
            .take_resume(&again, UnixSecs(10))
            .await
            .unwrap()
            .is_none()
    );

    // The swap consumes the token and stores its successor with the new IP,
    // returning the record as it was (with the IP it was last used from).
    let next = format!("{}.successor", VisitTag::of(&v).as_str());
    let old = store
        .swap_resume(&token, UnixSecs(10), &next, Some("10.0.0.2".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.participant, pid("pt"));
    assert_eq!(old.ip.as_deref(), Some("10.0.0.1"));
    assert!(
        store
            .swap_resume(&token, UnixSecs(10), &new_resume_token(&v), None)
            .await
            .unwrap()
            .is_none()
    );
    let r = store
        .take_resume(&next, UnixSecs(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.ip.as_deref(), Some("10.0.0.2"));
    assert_eq!(r.name.as_deref(), Some("Pat"));

    // A token past its session's expiry restores nothing.
    let late = new_resume_token(&v);
    store
        .put_resume(&late, rec("v-1", "pt", 100))
        .await
        .unwrap();
    assert!(
        store
            .take_resume(&late, UnixSecs(100))
            .await
            .unwrap()
            .is_none()
    );
    // A token that names no visit is not looked up at all.
    assert!(
        store
            .take_resume("no-tag", UnixSecs(1))
            .await
            .unwrap()
            .is_none()
    );

    // Refresh tokens: one use each, per visit.
    assert!(store.claim_jti(&v, "r1", far).await.unwrap());
    assert!(!store.claim_jti(&v, "r1", far).await.unwrap());
    // The jti keys expire with the token.
    let ttl: i64 = redis
        .cli(&[
            "PTTL",
            &VisitTag::of(&v).jti(&bedside_server::store::key_of("r1")),
        ])
        .parse()
        .unwrap();
    assert!(ttl > 0, "{ttl}");
}

#[tokio::test]
async fn one_live_resume_token_per_participant() {
    let redis = Redis::start();
    let store = open(&redis).await;
    let v = vid("v-1");
    let (a, b) = (new_resume_token(&v), new_resume_token(&v));
    store
        .put_resume(&a, rec("v-1", "pt", 4_000_000_000))
        .await
        .unwrap();
    store
        .put_resume(&b, rec("v-1", "pt", 4_000_000_000))
        .await
        .unwrap();
    assert!(store.take_resume(&a, UnixSecs(1)).await.unwrap().is_none());
    assert!(store.take_resume(&b, UnixSecs(1)).await.unwrap().is_some());
}

#[tokio::test]
async fn visit_records_messages_acks_and_the_end_of_a_visit() {
    let redis = Redis::start();
    let store = open(&redis).await;
    let v = vid("v-1");
    let f = own(&redis, &v, "node-a/1");
    let dr = ParticipantRecord {
        id: pid("dr"),
        name: "Dr".into(),
        role: Role::Provider,
        admitted: true,
        perms: vec![],
        tracks: vec![],
        keys: Some("{}".into()),
        revoked_screens: vec![],
    };
    store
        .write_visit(&v, Some(&f), vec![VisitWrite::SaveParticipant(dr.clone())])
        .await
        .unwrap();
    let snap = store.load_visit(&v).await.unwrap();
    assert!(!snap.ended);
    assert_eq!(snap.participants, vec![dr]);

    // Seqs are gapless and per visit; a message waits for every recipient.
    assert_eq!(
        append(&store, &v, &f, msg("dr", &["pt", "gu"]))
            .await
            .unwrap(),
        1
    );
    assert_eq!(append(&store, &v, &f, msg("dr", &["pt"])).await.unwrap(), 2);
    assert_eq!(append(&store, &v, &f, msg("pt", &["dr"])).await.unwrap(), 3);
    assert_eq!(owed(&store, &v, "pt", 0).await, vec![1, 2]);
    assert_eq!(owed(&store, &v, "pt", 1).await, vec![2]);
    let backlog = store
        .enqueue_backlog(&v, &pid("dr"), 0)
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(backlog.len(), 1);
    assert_eq!((backlog[0].seq, backlog[0].from.as_str()), (3, "pt"));
    assert_eq!(backlog[0].body, "Y2lwaGVy");

    let acked = |who: &str, upto| VisitWrite::Acked {
        participant: pid(who),
        upto,
    };
    store
        .write_visit(&v, Some(&f), vec![acked("pt", 2)])
        .await
        .unwrap();
    assert!(owed(&store, &v, "pt", 0).await.is_empty());
    // Message 2 was pt's alone: gone. Message 1 still waits for gu.
    let len = |r: &Redis| r.cli(&["XLEN", &VisitTag::of(&v).log()]);
    assert_eq!(len(&redis), "2");
    store
        .write_visit(&v, Some(&f), vec![VisitWrite::ForgetParticipant(pid("gu"))])
        .await
        .unwrap();
    assert_eq!(len(&redis), "1", "only dr's message 3 is still owed");

    store
        .write_visit(&v, Some(&f), vec![VisitWrite::EndVisit])
        .await
        .unwrap();
    let snap = store.load_visit(&v).await.unwrap();
    assert!(snap.ended);
    assert!(snap.participants.is_empty());
    assert_eq!(len(&redis), "0");
}

#[tokio::test]
async fn a_former_owner_writes_nothing() {
    let redis = Redis::start();
    let store = open(&redis).await;
    let v = vid("v-1");
    let old = own(&redis, &v, "node-a/1");
    assert_eq!(
        append(&store, &v, &old, msg("dr", &["pt"])).await.unwrap(),
        1
    );
    // node-b took the visit over.
    let new = own(&redis, &v, "node-b/2");
    assert!(matches!(
        append(&store, &v, &old, msg("dr", &["pt"])).await,
        Err(StoreError::Fenced)
    ));
    let r = store
        .write_visit(&v, Some(&old), vec![VisitWrite::EndVisit])
        .await;
    assert!(matches!(r, Err(StoreError::Fenced)), "{r:?}");
    assert!(!store.load_visit(&v).await.unwrap().ended);
    // The new owner's seqs continue with no gap.
    assert_eq!(
        append(&store, &v, &new, msg("dr", &["pt"])).await.unwrap(),
        2
    );
    assert_eq!(owed(&store, &v, "pt", 0).await, vec![1, 2]);
    // Without a fence, nothing is written at all.
    assert!(matches!(
        store
            .write_visit(&v, None, vec![VisitWrite::EndVisit])
            .await,
        Err(StoreError::Fenced)
    ));
}

#[tokio::test]
async fn a_batch_of_appends_keeps_seq_order() {
    let redis = Redis::start();
    let store = open(&redis).await;
    let v = vid("v-1");
    let f = own(&redis, &v, "node-a/1");
    let mut replies = Vec::new();
    for _ in 0..200 {
        replies.push(
            store
                .enqueue_append(&v, Some(&f), msg("dr", &["pt"]))
                .await
                .unwrap(),
        );
    }
    for (i, r) in replies.into_iter().enumerate() {
        assert_eq!(r.await.unwrap(), i as u64 + 1);
    }
}

#[tokio::test]
async fn the_sweep_deletes_messages_past_their_retention() {
    let redis = Redis::start();
    let store = open(&redis).await;
    let v = vid("v-1");
    let f = own(&redis, &v, "node-a/1");
    let mut old = msg("dr", &["pt"]);
    old.ts = 1_000_000;
    append(&store, &v, &f, old).await.unwrap();
    let mut new = msg("dr", &["pt"]);
    new.ts = 5_000_000;
    append(&store, &v, &f, new).await.unwrap();
    // now = 4000 s, retention 1000 s: the cutoff is 3000 s.
    assert_eq!(store.sweep(UnixSecs(4000), 1000).await.unwrap(), 1);
    assert_eq!(owed(&store, &v, "pt", 0).await, vec![2]);
}

#[tokio::test]
async fn settings_that_could_lose_an_acknowledged_message_are_refused() {
    for (key, value, needle) in [
        (
            "appendfsync",
            "everysec",
            "appendfsync everysec; Bedside needs appendfsync always",
        ),
        (
            "appendonly",
            "no",
            "appendonly no; Bedside needs appendonly yes",
        ),
        (
            "maxmemory-policy",
            "allkeys-lru",
            "maxmemory-policy allkeys-lru; Bedside needs maxmemory-policy noeviction",
        ),
    ] {
        let redis = Redis::start_with(&[(key, value)]);
        let client = backend::client(&redis.url()).unwrap();
        let mut conn = backend::connect(&client, Default::default()).await.unwrap();
        let e = settings::check(&mut conn).await.unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
    let redis = Redis::start();
    let client = backend::client(&redis.url()).unwrap();
    let mut conn = backend::connect(&client, Default::default()).await.unwrap();
    let facts = settings::check(&mut conn).await.unwrap();
    assert!(facts.version.starts_with('7'), "{facts:?}");
}

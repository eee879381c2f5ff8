//! Tests of the embedded store, through its handle and on its backend.

use super::*;
use crate::store::e2e_log::MessageLog;
use crate::store::{ParticipantRecord, key_of};
use bedside_protocol::time::UnixSecs;
use bedside_protocol::{E2eKind, ParticipantId, Role, VisitId};

fn rec(visit: &str, p: &str, exp: i64) -> ResumeRecord {
    ResumeRecord {
        visit: VisitId::new(visit).unwrap(),
        participant: ParticipantId::new(p).unwrap(),
        role: Role::Patient,
        name: None,
        patient_id: None,
        perms: vec![],
        device: None,
        exp: UnixSecs(exp),
        ip: None,
        kid: None,
        since: None,
    }
}

#[tokio::test]
async fn replay_cache_and_resume_tokens_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (store, _h) = open(dir.path(), None).unwrap();
        assert!(
            store
                .claim_jti(&VisitId::new("v").unwrap(), "j1", UnixSecs(100))
                .await
                .unwrap()
        );
        assert!(
            !store
                .claim_jti(&VisitId::new("v").unwrap(), "j1", UnixSecs(100))
                .await
                .unwrap()
        );
        store.put_resume("r1", rec("v", "p", 100)).await.unwrap();
        store.put_resume("r2", rec("v", "p", 100)).await.unwrap();
    }
    let (store, _h) = open(dir.path(), None).unwrap();
    assert!(
        !store
            .claim_jti(&VisitId::new("v").unwrap(), "j1", UnixSecs(100))
            .await
            .unwrap()
    );
    // Only the newest resume token of a participant is live.
    assert_eq!(store.take_resume("r1", UnixSecs(50)).await.unwrap(), None);
    assert_eq!(
        store.take_resume("r2", UnixSecs(50)).await.unwrap(),
        Some(rec("v", "p", 100))
    );
    // Single use.
    assert_eq!(store.take_resume("r2", UnixSecs(50)).await.unwrap(), None);
    // Expired tokens do not resume.
    store.put_resume("r3", rec("v", "q", 10)).await.unwrap();
    assert_eq!(store.take_resume("r3", UnixSecs(50)).await.unwrap(), None);
}

#[tokio::test]
async fn admit_stores_the_resume_token_only_for_a_fresh_jti() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _h) = open(dir.path(), None).unwrap();
    assert!(
        store
            .admit("j1", UnixSecs(100), "r1", rec("v", "p", 100))
            .await
            .unwrap()
    );
    // A replay stores nothing, and the earlier token stays live.
    assert!(
        !store
            .admit("j1", UnixSecs(100), "r2", rec("v", "p", 100))
            .await
            .unwrap()
    );
    assert_eq!(store.take_resume("r2", UnixSecs(50)).await.unwrap(), None);
    assert_eq!(
        store.take_resume("r1", UnixSecs(50)).await.unwrap(),
        Some(rec("v", "p", 100))
    );
    // The jti is claimed for `claim_jti` (refresh) too.
    assert!(
        !store
            .claim_jti(&VisitId::new("v").unwrap(), "j1", UnixSecs(100))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn swap_resume_consumes_the_token_and_stores_its_successor() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _h) = open(dir.path(), None).unwrap();
    store.put_resume("r1", rec("v", "p", 100)).await.unwrap();
    let ip = Some("10.0.0.9".to_owned());
    let old = store
        .swap_resume("r1", UnixSecs(50), "r2", ip.clone())
        .await
        .unwrap();
    assert_eq!(old, Some(rec("v", "p", 100)));
    // Single use; the successor restores the same record from the new address.
    assert_eq!(
        store
            .swap_resume("r1", UnixSecs(50), "r3", None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.take_resume("r2", UnixSecs(50)).await.unwrap(),
        Some(ResumeRecord {
            ip,
            ..rec("v", "p", 100)
        })
    );
    // An unknown or expired token stores nothing.
    assert_eq!(store.take_resume("r3", UnixSecs(50)).await.unwrap(), None);
    store.put_resume("r4", rec("v", "q", 10)).await.unwrap();
    assert_eq!(
        store
            .swap_resume("r4", UnixSecs(50), "r5", None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.take_resume("r5", UnixSecs(1)).await.unwrap(), None);
}

#[tokio::test]
async fn visit_records_and_end() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _h) = open(dir.path(), None).unwrap();
    let v = VisitId::new("v-1").unwrap();
    let p = ParticipantRecord {
        id: ParticipantId::new("pt-1").unwrap(),
        name: "Pat".into(),
        role: Role::Patient,
        admitted: true,
        perms: vec![],
        tracks: vec![],
        keys: None,
        revoked_screens: vec![],
    };
    store
        .write_visit(&v, None, vec![VisitWrite::SaveParticipant(p.clone())])
        .await
        .unwrap();
    let snap = store.load_visit(&v).await.unwrap();
    assert_eq!(snap.participants, vec![p]);
    assert!(!snap.ended);
    store
        .put_resume("r", rec("v-1", "pt-1", 100))
        .await
        .unwrap();
    store
        .write_visit(&v, None, vec![VisitWrite::EndVisit])
        .await
        .unwrap();
    let snap = store.load_visit(&v).await.unwrap();
    assert!(snap.ended);
    assert!(snap.participants.is_empty());
    assert_eq!(store.take_resume("r", UnixSecs(50)).await.unwrap(), None);
}

fn message(to: &str) -> StoredMessage {
    StoredMessage {
        seq: 0,
        ts: 1,
        from: ParticipantId::new("dr").unwrap(),
        to: vec![ParticipantId::new(to).unwrap()],
        kind: E2eKind::Chat,
        body: "AAAA".into(),
    }
}

#[test]
fn a_failing_command_fails_alone_and_seqs_stay_contiguous() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("t.db")).unwrap();
    init(&conn).unwrap();
    // A participant record that cannot be read back.
    conn.execute(
        "INSERT INTO participants (visit, participant, record) VALUES ('bad', 'p', 'not json')",
        [],
    )
    .unwrap();
    let db = dir.path().join("t.db");
    let mut backend = Backend::new(conn, &db, None).unwrap();
    let (jti_tx, mut jti_rx) = tokio::sync::oneshot::channel();
    let (load_tx, mut load_rx) = tokio::sync::oneshot::channel();
    let mut seq_rx = Vec::new();
    let mut batch = vec![Command::ClaimJti {
        visit: VisitId::new("v").unwrap(),
        key: key_of("j"),
        expires: 10,
        reply: jti_tx,
    }];
    for _ in 0..2 {
        let (tx, rx) = tokio::sync::oneshot::channel();
        seq_rx.push(rx);
        batch.push(Command::AppendMessage {
            fence: None,
            visit: VisitId::new("v").unwrap(),
            message: message("pt"),
            reply: tx,
        });
    }
    batch.push(Command::LoadVisit {
        visit: VisitId::new("bad").unwrap(),
        reply: load_tx,
    });
    backend.execute_batch(&mut batch);
    drop(backend); // waits for the answers
    assert!(jti_rx.try_recv().unwrap().unwrap());
    assert!(load_rx.try_recv().unwrap().is_err());
    let seqs: Vec<u64> = seq_rx
        .iter_mut()
        .map(|r| r.try_recv().unwrap().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2]);
    // The counter was persisted: a fresh backend on the same file goes on.
    let mut backend = Backend::new(Connection::open(&db).unwrap(), &db, None).unwrap();
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    backend.execute_batch(&mut vec![Command::AppendMessage {
        fence: None,
        visit: VisitId::new("v").unwrap(),
        message: message("pt"),
        reply: tx,
    }]);
    drop(backend);
    assert_eq!(rx.try_recv().unwrap().unwrap(), 3);
}

fn to(from: &str, to: &[&str]) -> StoredMessage {
    StoredMessage {
        from: ParticipantId::new(from).unwrap(),
        to: to.iter().map(|p| ParticipantId::new(*p).unwrap()).collect(),
        ..message("x")
    }
}

async fn append(store: &Store, v: &VisitId, m: StoredMessage) -> u64 {
    store
        .enqueue_append(v, None, m)
        .await
        .unwrap()
        .await
        .unwrap()
}

async fn owed(store: &Store, v: &VisitId, who: &str, after: u64) -> Vec<u64> {
    let who = ParticipantId::new(who).unwrap();
    let r = store.enqueue_backlog(v, &who, after).await.unwrap().await;
    r.unwrap().iter().map(|m| m.seq).collect()
}

fn acked(who: &str, upto: u64) -> VisitWrite {
    VisitWrite::Acked {
        participant: ParticipantId::new(who).unwrap(),
        upto,
    }
}

/// Rows left once garbage is collected (a sweep collects it at once).
async fn rows(store: &Store, dir: &std::path::Path) -> i64 {
    store.sweep(UnixSecs(0), 0).await.unwrap();
    Connection::open(dir.join("bedside.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM e2e_messages", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_message_is_kept_until_every_recipient_acked_or_left() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _h) = open(dir.path(), None).unwrap();
    let v = VisitId::new("v").unwrap();
    assert_eq!(append(&store, &v, to("dr", &["a", "b"])).await, 1);
    assert_eq!(append(&store, &v, to("dr", &["a"])).await, 2);
    assert_eq!(append(&store, &v, to("dr", &["b"])).await, 3);
    assert_eq!(append(&store, &v, to("dr", &["ab"])).await, 4);
    assert_eq!(owed(&store, &v, "a", 0).await, [1, 2]);
    assert_eq!(owed(&store, &v, "b", 1).await, [3]);
    store
        .write_visit(&v, None, vec![acked("a", 2)])
        .await
        .unwrap();
    assert_eq!(owed(&store, &v, "a", 0).await, Vec::<u64>::new());
    assert_eq!(owed(&store, &v, "b", 0).await, [1, 3]);
    assert_eq!(rows(&store, dir.path()).await, 3); // 2 went: only a was owed it
    store
        .write_visit(&v, None, vec![acked("b", 3)])
        .await
        .unwrap();
    assert_eq!(rows(&store, dir.path()).await, 1);
    // Leaving releases what was owed; whoever joins later under the same
    // id gets only what is sent after.
    let ab = ParticipantId::new("ab").unwrap();
    store
        .write_visit(&v, None, vec![VisitWrite::ForgetParticipant(ab)])
        .await
        .unwrap();
    assert_eq!(rows(&store, dir.path()).await, 0);
    assert_eq!(append(&store, &v, to("dr", &["ab"])).await, 5);
    assert_eq!(owed(&store, &v, "ab", 0).await, [5]);
    // An ack past the last seq does not release messages sent after it.
    store
        .write_visit(&v, None, vec![acked("a", 1_000)])
        .await
        .unwrap();
    assert_eq!(append(&store, &v, to("dr", &["a"])).await, 6);
    assert_eq!(owed(&store, &v, "a", 0).await, [6]);
    // What is owed survives a restart (the index is rebuilt).
    drop(store);
    let (store, _h) = open(dir.path(), None).unwrap();
    assert_eq!(owed(&store, &v, "a", 0).await, [6]);
    assert_eq!(owed(&store, &v, "ab", 0).await, [5]);
    assert_eq!(owed(&store, &v, "b", 0).await, Vec::<u64>::new());
    assert_eq!(append(&store, &v, to("dr", &["a"])).await, 7);
    store
        .write_visit(&v, None, vec![acked("a", 7), acked("ab", 5)])
        .await
        .unwrap();
    assert_eq!(rows(&store, dir.path()).await, 0);
}

#[test]
fn garbage_goes_a_bounded_share_per_batch_and_all_once_a_second_passed() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
    init(&conn).unwrap();
    let mut log = MessageLog::load(&conn).unwrap();
    let count = |tx: &rusqlite::Transaction<'_>| -> i64 {
        tx.query_row("SELECT count(*) FROM e2e_messages", [], |r| r.get(0))
            .unwrap()
    };
    let tx = conn.transaction().unwrap();
    for seq in 1..=1500 {
        log.append(&tx, "v", seq, &to("dr", &["a"])).unwrap();
    }
    let t0 = std::time::Instant::now();
    log.collect(&tx, t0, 10).unwrap();
    assert_eq!(count(&tx), 1500, "nothing is garbage yet");
    log.release(&tx, "v", "a", 1100).unwrap();
    log.collect(&tx, t0, 10).unwrap();
    assert_eq!(
        count(&tx),
        1500 - 256,
        "at least the minimum share, oldest first"
    );
    log.collect(&tx, t0, 10).unwrap();
    assert_eq!(count(&tx), 1500 - 256, "below the pile-up threshold: wait");
    let first: i64 = tx
        .query_row("SELECT min(seq) FROM e2e_messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(first, 257);
    log.collect(&tx, t0 + std::time::Duration::from_secs(2), 10)
        .unwrap();
    assert_eq!(count(&tx), 400, "a second later: all of it");
    tx.commit().unwrap();
}

#[tokio::test]
async fn retention_deletes_what_is_still_owed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _h) = open(dir.path(), None).unwrap();
    let v = VisitId::new("v").unwrap();
    let old = StoredMessage {
        ts: 1_000,
        ..to("dr", &["a"])
    };
    append(&store, &v, old).await;
    let new = StoredMessage {
        ts: 100_000,
        ..to("dr", &["a"])
    };
    append(&store, &v, new).await;
    // now = 150 s, retention 100 s: the first (1 s) goes, the second stays.
    assert_eq!(store.sweep(UnixSecs(150), 100).await.unwrap(), 1);
    assert_eq!(owed(&store, &v, "a", 0).await, [2]);
}

#[tokio::test]
async fn claimed_jtis_survive_the_schema_3_migration() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = Connection::open(dir.path().join("bedside.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE jti (key BLOB PRIMARY KEY, expires INTEGER NOT NULL) WITHOUT ROWID;
             PRAGMA user_version = 2;",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO jti (key, expires) VALUES (?1, 100)",
            params![&key_of("old")[..]],
        )
        .unwrap();
    }
    let (store, _h) = open(dir.path(), None).unwrap();
    assert!(
        !store
            .claim_jti(&VisitId::new("v").unwrap(), "old", UnixSecs(100))
            .await
            .unwrap(),
        "replay after migration"
    );
    assert!(
        store
            .claim_jti(&VisitId::new("v").unwrap(), "new", UnixSecs(100))
            .await
            .unwrap()
    );
    // Expired entries are swept by their key's prefix.
    store.sweep(UnixSecs(1_000), 3_600).await.unwrap();
    assert!(
        store
            .claim_jti(&VisitId::new("v").unwrap(), "old", UnixSecs(100))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn messages_still_owed_survive_the_schema_2_migration() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = Connection::open(dir.path().join("bedside.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE messages (visit TEXT NOT NULL, seq INTEGER NOT NULL,
               ts INTEGER NOT NULL, sender TEXT NOT NULL, kind TEXT NOT NULL,
               recipients TEXT NOT NULL, remaining INTEGER NOT NULL,
               body TEXT NOT NULL, PRIMARY KEY (visit, seq));
             CREATE TABLE pending (visit TEXT NOT NULL, recipient TEXT NOT NULL,
               seq INTEGER NOT NULL, PRIMARY KEY (visit, recipient, seq)) WITHOUT ROWID;
             CREATE TABLE visit_seq (visit TEXT PRIMARY KEY, next INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO visit_seq VALUES ('v', 4);
             INSERT INTO messages VALUES ('v', 1, 5, 'dr', 'chat', '[\"a\",\"b\"]', 1, 'AAAA');
             INSERT INTO messages VALUES ('v', 2, 6, 'dr', 'key', '[\"a\"]', 0, 'BBBB');
             INSERT INTO messages VALUES ('v', 3, 7, 'a', 'chat', '[\"b\"]', 1, 'CCCC');
             INSERT INTO pending VALUES ('v', 'b', 1);
             INSERT INTO pending VALUES ('v', 'b', 3);",
        )
        .unwrap();
    }
    let (store, _h) = open(dir.path(), None).unwrap();
    let v = VisitId::new("v").unwrap();
    let b = store
        .enqueue_backlog(&v, &ParticipantId::new("b").unwrap(), 0)
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(b.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(b[1].body, "CCCC");
    assert_eq!(b[1].to, [ParticipantId::new("b").unwrap()]);
    assert_eq!(owed(&store, &v, "a", 0).await, Vec::<u64>::new());
    assert_eq!(append(&store, &v, to("dr", &["a"])).await, 4);
    assert_eq!(rows(&store, dir.path()).await, 3);
}

#[tokio::test]
async fn concurrent_callers_share_batches() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _h) = open(dir.path(), None).unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.claim_jti(&VisitId::new("v").unwrap(), &format!("j{i}"), UnixSecs(10))
                .await
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().unwrap());
    }
    assert_eq!(store.sweep(UnixSecs(11), 86_400).await.unwrap(), 200);
}

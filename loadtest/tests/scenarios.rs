//! Every scenario, briefly, against an in-process hub (and the relay
//! scenarios against the baseline forwarder): the report's counts must add
//! up (sent = received + errors + lost, nothing lost) and every histogram
//! must hold samples.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::field_reassign_with_default
)]

use bedside_loadtest::metrics::{Kind, Path};
use bedside_loadtest::tokens::Tokens;
use bedside_loadtest::{Plan, Report, Scenario, baseline, report, run};
use bedside_server::config::Config;
use bedside_token::PrivateKey;
use std::sync::Arc;
use std::time::Duration;

#[allow(dead_code)]
#[path = "../../server/tests/common/redis.rs"]
mod redis;

struct Hub {
    _dir: tempfile::TempDir,
    key: Arc<PrivateKey>,
    /// The first node's URL.
    url: String,
    /// Every node's URL.
    urls: Vec<String>,
    nodes: Vec<bedside_server::server::Running>,
}

/// One hub.
async fn hub() -> Hub {
    hub_on(None).await
}

/// One hub, or with `redis` two nodes of a cluster on it.
async fn hub_on(redis: Option<&redis::Redis>) -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate("lt-1");
    key.save(&dir.path().join("k.json"), &dir.path().join("k.pub.json"))
        .unwrap();
    PrivateKey::generate("audit-1")
        .save(&dir.path().join("a.json"), &dir.path().join("a.pub.json"))
        .unwrap();
    let names: &[&str] = if redis.is_some() {
        &["node-a", "node-b"]
    } else {
        &["hub"]
    };
    let mut nodes = Vec::new();
    for name in names {
        let mut c = Config::default();
        c.listen = Some("127.0.0.1:0".parse().unwrap());
        c.insecure_http = true;
        c.data_dir = dir.path().join(name).join("data");
        c.audit.path = dir.path().join(name).join("audit.jsonl");
        c.audit.signing_key = Some(dir.path().join("a.json"));
        c.auth.jwks = Some(dir.path().join("k.pub.json"));
        c.auth.issuers = vec!["clinic".into()];
        c.limits.messages_per_s = 100_000;
        // Every simulated participant comes from 127.0.0.1 here.
        c.limits.max_connections_per_ip = 100_000;
        c.cluster = redis.map(|r| bedside_server::config::ClusterConfig {
            redis_url: r.url(),
            node_id: (*name).into(),
            lease_ms: 3000,
        });
        nodes.push(bedside_server::server::start(c).await.unwrap());
    }
    let urls: Vec<String> = nodes
        .iter()
        .map(|r| format!("ws://{}/v1/signal", r.addr))
        .collect();
    Hub {
        url: urls[0].clone(),
        urls,
        _dir: dir,
        key: Arc::new(key),
        nodes,
    }
}

fn plan(h: &Hub, url: &str, scenario: Scenario) -> Plan {
    Plan {
        urls: vec![url.to_owned()],
        mix_paths: false,
        tokens: Tokens::Key {
            key: h.key.clone(),
            iss: "clinic".into(),
        },
        scenario,
        rate: 150.0,
        duration: Duration::from_millis(1500),
        warmup: Duration::from_millis(300),
        ramp: Duration::from_millis(200),
        visits: 4,
        sessions: 20,
        sources: vec!["127.0.0.1".parse().unwrap()],
        hub_pid: Some(std::process::id()),
        drain: Duration::from_secs(10),
        progress: false,
        lockstep: false,
    }
}

fn check(r: &Report, kinds: &[Kind]) {
    let table = report::table(r);
    for k in kinds {
        let s = r
            .summary
            .kinds
            .iter()
            .find(|s| s.kind == *k)
            .unwrap_or_else(|| panic!("{:?}: no {k:?} in\n{table}", r.scenario));
        assert!(s.sent > 0, "{table}");
        assert_eq!(s.sent, s.received + s.errors + s.lost, "{table}");
        assert_eq!((s.errors, s.lost), (0, 0), "{table}");
        assert!(s.latency.count > 0, "empty histogram for {k:?}\n{table}");
        assert!(
            s.latency.p50_ms > 0.0
                && s.latency.p50_ms <= s.latency.p99_ms
                && s.latency.p99_ms <= s.latency.max_ms,
            "{table}"
        );
        assert!(
            !s.per_second.is_empty() && !s.distribution.is_empty(),
            "{table}"
        );
    }
    assert_eq!(r.summary.unmatched_errors, 0, "{table}");
    // The renderers take every report.
    assert!(report::html(r).contains("<svg"));
    assert!(serde_json::to_string(r).unwrap().contains("\"sent\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_adds_up_against_the_hub() {
    let h = hub().await;
    for (scenario, kinds) in [
        (
            Scenario::Negotiation,
            &[Kind::Offer, Kind::Answer, Kind::Ice][..],
        ),
        (Scenario::Chat, &[Kind::Chat, Kind::ChatAck][..]),
        (Scenario::Permissions, &[Kind::Permission][..]),
        (Scenario::JoinStorm, &[Kind::Hello][..]),
        (Scenario::ResumeStorm, &[Kind::Resume][..]),
        (
            Scenario::Mixed,
            &[
                Kind::Offer,
                Kind::Answer,
                Kind::Ice,
                Kind::Chat,
                Kind::ChatAck,
                Kind::Permission,
            ][..],
        ),
    ] {
        let r = run(plan(&h, &h.url, scenario)).await.unwrap();
        check(&r, kinds);
        let hub = r.hub.as_ref().unwrap();
        assert!(hub.messages > 0 && hub.rss_after > 0);
    }
    let r = run(plan(&h, &h.url, Scenario::Idle)).await.unwrap();
    assert_eq!(r.connections, 20);
    assert!(r.hub.unwrap().bytes_per_session.is_some());
    // After call setup: every visit's offer and answer arrived first.
    let r = run(plan(&h, &h.url, Scenario::IdleAfterCall))
        .await
        .unwrap();
    assert_eq!(r.connections, 20);
    check(&r, &[Kind::Offer, Kind::Answer]);
    for k in &r.summary.kinds {
        assert_eq!(k.sent, 10, "{:?}: one per visit", k.kind);
    }
    assert!(r.hub.unwrap().bytes_per_session.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_baseline_forwarders_carry_the_relay_scenarios() {
    let h = hub().await;
    for mode in [baseline::Mode::Naive, baseline::Mode::Raw] {
        let addr = baseline::start("127.0.0.1:0".parse().unwrap(), mode)
            .await
            .unwrap();
        let url = format!("ws://{addr}/v1/signal");
        for (scenario, kinds) in [
            (
                Scenario::Negotiation,
                &[Kind::Offer, Kind::Answer, Kind::Ice][..],
            ),
            (Scenario::Chat, &[Kind::Chat, Kind::ChatAck][..]),
            (Scenario::Permissions, &[Kind::Permission][..]),
        ] {
            let r = run(plan(&h, &url, scenario)).await.unwrap();
            check(&r, kinds);
        }
    }
}

/// Against two nodes on a real Redis, half the visits on one node and half
/// across both: everything arrives, and the report splits every relayed
/// kind's latency into same-node and cross-node samples.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_run_across_two_nodes_reports_same_and_cross_node_latency() {
    let redis = redis::Redis::start();
    let h = hub_on(Some(&redis)).await;
    let relayed = [
        Kind::Offer,
        Kind::Answer,
        Kind::Ice,
        Kind::Chat,
        Kind::ChatAck,
        Kind::Permission,
    ];
    let mut p = plan(&h, &h.url, Scenario::Mixed);
    p.urls = h.urls.clone();
    p.mix_paths = true;
    let r = run(p).await.unwrap();
    check(&r, &relayed);
    for k in r.summary.kinds.iter().filter(|k| relayed.contains(&k.kind)) {
        let paths: Vec<(Path, bool)> = k
            .by_path
            .iter()
            .map(|p| (p.path, p.latency.count > 0))
            .collect();
        assert_eq!(
            paths,
            [(Path::SameNode, true), (Path::CrossNode, true)],
            "{:?}\n{}",
            k.kind,
            report::table(&r)
        );
    }
    assert!(report::table(&r).contains("cross node"));
    // Both nodes carried participants (not every socket on the first).
    for node in &h.nodes {
        let text = node.hub.metrics.render();
        let ice: u64 = text
            .lines()
            .find(|l| l.starts_with("bedside_messages_total") && l.contains("type=\"ice\""))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(ice > 0, "a node received no ICE:\n{text}");
    }

    // Resumes on the patient's node, the visit's owner or not.
    let mut p = plan(&h, &h.url, Scenario::ResumeStorm);
    p.urls = h.urls.clone();
    p.mix_paths = true;
    let r = run(p).await.unwrap();
    check(&r, &[Kind::Resume]);
    let resume = &r.summary.kinds[0];
    assert_eq!(resume.by_path.len(), 2, "{}", report::table(&r));
}

#[test]
fn slo_violations_fail_the_run() {
    let r = fake_report();
    let slos: Vec<report::Slo> = vec!["p99=1ms".parse().unwrap()];
    let v = report::violations(&r, &slos, 0);
    assert!(
        v.iter().any(|l| l.contains("SLO broken: offer p99")),
        "{v:?}"
    );
    assert!(v.iter().any(|l| l.contains("lost")), "{v:?}");
    assert!(report::violations(&r, &["p99=10s".parse().unwrap()], 10).is_empty());
}

fn fake_report() -> Report {
    use bedside_loadtest::metrics::Metrics;
    let m = Metrics::new(Duration::ZERO);
    let t = std::time::Instant::now();
    m.sent(Kind::Offer, None, 1, t);
    m.received(1, t + Duration::from_millis(3));
    m.sent(Kind::Offer, None, 2, t);
    Report {
        scenario: Scenario::Negotiation,
        rate: 1.0,
        duration_s: 1.0,
        warmup_s: 0.0,
        visits: 1,
        lockstep: false,
        connections: 2,
        operations: 2,
        achieved_rate: 2.0,
        summary: m.summary(),
        hub: None,
    }
}

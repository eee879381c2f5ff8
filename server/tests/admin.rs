//! The operator API: who may call it, and what an operator can do to live
//! visits (remove a participant, end a visit, revoke a user across visits),
//! each action in the audit trail under the operator's id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{Value, json};

/// One HTTP/1.1 request; the status and the JSON body.
async fn call(
    hub: &Hub,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Value) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = hub.addr();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut out))
        .await
        .expect("no answer")
        .unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    // Chunked or not: the JSON object is the body's {...}.
    let json = body
        .find('{')
        .zip(body.rfind('}'))
        .and_then(|(a, b)| serde_json::from_str(&body[a..=b]).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

fn admin_claims(sub: &str) -> Value {
    let now = now();
    json!({"iss": ISSUER, "aud": "bedside-admin", "sub": sub, "role": "admin",
        "amr": ["pwd", "mfa"], "iat": now, "exp": now + 600})
}

fn records(env: &Env) -> Vec<Value> {
    std::fs::read_to_string(env.audit_path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn only_an_admin_token_with_mfa_for_the_admin_audience_opens_the_operator_api() {
    let env = Env::new();
    let hub = env.start().await;
    let (status, _) = call(&hub, "GET", "/v1/admin/visits", None, "").await;
    assert_eq!(status, 401, "no token");
    let join = env.token("v-1", "provider", "dr");
    assert_eq!(
        call(&hub, "GET", "/v1/admin/visits", Some(&join), "")
            .await
            .0,
        401,
        "a join token"
    );
    let mut c = admin_claims("ops-ann");
    c["aud"] = json!("bedside");
    assert_eq!(
        call(&hub, "GET", "/v1/admin/visits", Some(&env.sign(&c)), "")
            .await
            .0,
        401,
        "the join audience"
    );
    let mut c = admin_claims("ops-ann");
    c["role"] = json!("provider");
    let (status, body) = call(&hub, "GET", "/v1/admin/visits", Some(&env.sign(&c)), "").await;
    assert_eq!((status, body["message"].as_str()), (403, Some("not_admin")));
    let mut c = admin_claims("ops-ann");
    c["amr"] = json!(["pwd"]);
    let (status, body) = call(&hub, "GET", "/v1/admin/visits", Some(&env.sign(&c)), "").await;
    assert_eq!(
        (status, body["message"].as_str()),
        (403, Some("mfa_required"))
    );
    let forged = PrivateKeyExt::other_key()
        .sign(&admin_claims("ops-ann"))
        .unwrap();
    assert_eq!(
        call(&hub, "GET", "/v1/admin/visits", Some(&forged), "")
            .await
            .0,
        401
    );
    let ok = env.sign(&admin_claims("ops-ann"));
    assert_eq!(
        call(&hub, "GET", "/v1/admin/visits", Some(&ok), "").await.0,
        200
    );

    // Every refusal is on record, with the reason and no token.
    let denied: Vec<Value> = records(&env)
        .into_iter()
        .filter(|r| r["action"] == "ADMIN_REQUEST" && r["outcome"] == "denied")
        .collect();
    assert_eq!(denied.len(), 6, "{denied:?}");
    assert!(denied.iter().all(|r| !r.to_string().contains(&join)));
}

/// Another issuer's key (not in the hub's set), with the clinic's kid.
struct PrivateKeyExt;
impl PrivateKeyExt {
    fn other_key() -> bedside_token::PrivateKey {
        bedside_token::PrivateKey::generate(KID)
    }
}

#[tokio::test]
async fn an_operator_removes_ends_and_revokes_and_each_act_is_audited_as_theirs() {
    let env = Env::new();
    let hub = env.start().await;
    let admin = env.sign(&admin_claims("ops-ann"));
    // v-1 and v-2: the same patient (pat-7) in both; v-3: a patient to
    // remove; v-4: a visit to end.
    let join = |visit: &str, role: &str, sub: &str| env.token(visit, role, sub);
    let (mut dr1, _) = hub.join(&join("v-1", "provider", "dr1")).await;
    let (mut p7a, w7a) = hub.join(&join("v-1", "patient", "pat-7")).await;
    dr1.send(json!({"type":"admit","participant":"pat-7"}))
        .await;
    p7a.recv_type("admitted").await;
    let (_dr2, _) = hub.join(&join("v-2", "provider", "dr2")).await;
    let (mut p7b, _) = hub.join(&join("v-2", "patient", "pat-7")).await;
    let (mut dr3, mut pt3) = admitted_pair(&env, &hub, "v-3").await;
    let (mut dr4, mut pt4) = admitted_pair(&env, &hub, "v-4").await;

    // Live visits: participant ids and roles, nothing else.
    let (status, body) = call(&hub, "GET", "/v1/admin/visits", Some(&admin), "").await;
    assert_eq!(status, 200);
    let v1 = body["visits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["visit"] == "v-1")
        .unwrap()
        .clone();
    assert_eq!(
        v1["participants"],
        json!([{"id":"dr1","role":"provider"},{"id":"pat-7","role":"patient"}])
    );
    assert_eq!(body["visits"].as_array().unwrap().len(), 4);

    // Remove pt from v-3: 4003 for them, `left` for the provider.
    let (status, _) = call(
        &hub,
        "POST",
        "/v1/admin/visits/v-3/participants/pt/remove",
        Some(&admin),
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(pt3.closed().await, 4003);
    let left = dr3.recv_type("left").await;
    assert_eq!(left["participant"], "pt");

    // End v-4: everyone gets 4012.
    assert_eq!(
        call(&hub, "POST", "/v1/admin/visits/v-4/end", Some(&admin), "")
            .await
            .0,
        200
    );
    assert_eq!(dr4.closed().await, 4012);
    assert_eq!(pt4.closed().await, 4012);
    assert_eq!(
        call(&hub, "POST", "/v1/admin/visits/v-9/end", Some(&admin), "")
            .await
            .0,
        404,
        "no such live visit"
    );

    // Revoke pat-7 (a stolen laptop): both sessions end at once, the
    // resume token is dead, and new hellos are refused until `until`.
    let until = now() + 3600;
    let (status, body) = call(
        &hub,
        "POST",
        "/v1/admin/users/pat-7/revoke",
        Some(&admin),
        &json!({ "until": until }).to_string(),
    )
    .await;
    assert_eq!((status, body["sessions_ended"].as_u64()), (200, Some(2)));
    assert_eq!(p7a.closed().await, 4001);
    assert_eq!(p7b.closed().await, 4001);
    let resumed = resume(&hub.url(), w7a["resume_token"].as_str().unwrap()).await;
    assert_eq!(resumed.err(), Some(4001));
    let again = hello_or_close(&hub.url(), &join("v-1", "patient", "pat-7")).await;
    assert_eq!(again.err(), Some(4001), "new hellos refused until `until`");
    // Other users are untouched.
    dr1.send(json!({"type":"ping","id":"p"})).await;
    assert_eq!(dr1.recv_type("pong").await["re"], "p");

    // The trail: every call as the operator's, and each effect under their id.
    let recs = records(&env);
    let by_ann = |action: &str| -> Vec<&Value> {
        recs.iter()
            .filter(|r| r["action"] == action && r["user_id"] == "ops-ann")
            .collect()
    };
    assert_eq!(by_ann("ADMIN_REQUEST").len(), 5);
    // An unknown call is refused and recorded as failed.
    assert_eq!(
        call(&hub, "POST", "/v1/admin/nothing", Some(&admin), "")
            .await
            .0,
        404
    );
    assert!(by_ann("ADMIN_REQUEST").iter().all(|r| r["role"] == "admin"));
    let remove = by_ann("REMOVE");
    assert_eq!(remove.len(), 1);
    assert_eq!(
        (remove[0]["visit_id"].as_str(), remove[0]["target"].as_str()),
        (Some("v-3"), Some("pt"))
    );
    assert_eq!(by_ann("VISIT_END").len(), 1);
    let revoke = by_ann("SESSION_REVOKE");
    assert_eq!(revoke.len(), 1);
    assert_eq!(revoke[0]["target"], "pat-7");
    assert_eq!(revoke[0]["detail"]["until"], until);

    // An investigation's export: the records of one visit.
    let (status, body) = call(&hub, "GET", "/v1/admin/audit?visit=v-3", Some(&admin), "").await;
    assert_eq!(status, 200);
    let export = body["records"].as_array().unwrap();
    assert!(export.iter().all(|r| r["visit_id"] == "v-3"));
    assert!(export.iter().any(|r| r["action"] == "ADMIT"));
    let (status, body) = call(
        &hub,
        "GET",
        &format!("/v1/admin/audit?from={}&to={}", now() - 600, now() + 60),
        Some(&admin),
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["records"].as_array().unwrap().len() >= recs.len());
    let (status, body) = call(
        &hub,
        "GET",
        &format!("/v1/admin/audit?from={}&to={}", now() + 3600, now() + 7200),
        Some(&admin),
        "",
    )
    .await;
    assert_eq!(
        (status, body["records"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    // The export is on record with what it disclosed.
    let recs = records(&env);
    assert!(recs.iter().any(|r| r["action"] == "ADMIN_REQUEST"
        && r["detail"]["call"] == "GET /v1/admin/audit?visit=v-3"));
}

#[tokio::test]
async fn a_revocation_survives_a_restart() {
    let env = Env::new();
    let mut hub = env.start().await;
    let admin = env.sign(&admin_claims("ops-ann"));
    let (status, _) = call(
        &hub,
        "POST",
        "/v1/admin/users/pat-7/revoke",
        Some(&admin),
        &json!({ "until": now() + 3600 }).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    hub.stop().await;
    let hub = env.start().await;
    let again = hello_or_close(&hub.url(), &env.token("v-1", "patient", "pat-7")).await;
    assert_eq!(again.err(), Some(4001), "still refused after the restart");
    hello_or_close(&hub.url(), &env.token("v-1", "patient", "pat-8"))
        .await
        .expect("others are not");
}

#[tokio::test]
async fn bedside_admin_drives_the_operator_api_from_a_shell() {
    let env = Env::new();
    let hub = env.start().await;
    let (_dr, _pt) = admitted_pair(&env, &hub, "v-1").await;
    // The CLI runs off the runtime's thread: the hub answers it meanwhile.
    async fn bedside(args: &[&str]) -> std::process::Output {
        bedside_cli(args, &[]).await
    }
    let key = env.dir.path().join("issuer.private.jwks.json");
    let out = bedside(&[
        "admin",
        "token",
        "--key",
        key.to_str().unwrap(),
        "--iss",
        ISSUER,
        "--sub",
        "ops-ann",
    ])
    .await;
    assert!(out.status.success());
    let token_file = env.dir.path().join("admin.token");
    std::fs::write(&token_file, &out.stdout).unwrap();
    let base = format!("http://{}", hub.addr());
    let tf = token_file.to_str().unwrap();
    let out = bedside(&["admin", "--url", &base, "--token-file", tf, "visits"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["visits"][0]["visit"], "v-1");
    let out = bedside(&[
        "admin",
        "--url",
        &base,
        "--token-file",
        tf,
        "revoke",
        "pt",
        "--until-s",
        "60",
    ])
    .await;
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sessions_ended"], 1);
    // A refused call exits 1 and says so.
    std::fs::write(&token_file, env.token("v-1", "provider", "dr")).unwrap();
    let out = bedside(&["admin", "--url", &base, "--token-file", tf, "visits"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
}

//! One member of a visit's end-to-end encryption, driven over standard
//! input: the SDK's real [`Group`] with OS randomness, for interop tests
//! against another implementation of docs/e2ee.md (`e2ee-ts/`).
//!
//! One JSON request per line in, one JSON reply per line out. Bytes are
//! lower-case hex; `now` is Unix milliseconds.
//!
//! ```text
//! {"op":"new","visit":"v-1","me":"dr-ada","dtls":"sha-256 AB:…"}   -> {"identity":"<hex>"}
//! {"op":"begin","now":1}                                         -> {"out":[…]}   (waiting room)
//! {"op":"set_roster","members":["dr-ada","pt-1"],"now":1}        -> {"out":[…]}
//! {"op":"member_joined","who":"pt-1","now":2}                    -> {"out":[…]}
//! {"op":"peer_bundle","from":"pt-1","bundle":"{…}","now":3}      -> {"out":[…]} or {"error":"…"}
//! {"op":"receive_key","from":"pt-1","body":"<hex>","now":4}      -> {"out":[…]}
//! {"op":"receive_chat","from":"pt-1","body":"<hex>","now":5}     -> {"out":[…]}
//! {"op":"seal_chat","text":"hi","now":6}                         -> {"body":"<hex>","id":"<hex>","out":[…]}
//! ```
//!
//! Each element of `out` is one of `{"bundle":"{…}"}`,
//! `{"key":{"to":…,"body":…}}`, `{"chat":{"from","id","text","roster_agrees","safety"}}`,
//! `{"identity_changed":"<participant>"}`, `{"undecryptable":{"from","error"}}`
//! (the error as docs/e2ee.md §12.1 names it).

use std::io::{BufRead, Write};

use anyhow::{Context, Result, anyhow, bail};
use bedside_sdk::e2ee::{Group, Identity, Output, Pins};
use serde_json::{Value, json};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        bail!("odd-length hex");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).context("bad hex"))
        .collect()
}

fn field<'a>(req: &'a Value, name: &str) -> Result<&'a str> {
    req[name]
        .as_str()
        .ok_or_else(|| anyhow!("missing string {name}"))
}

fn now(req: &Value) -> Result<u64> {
    req["now"].as_u64().ok_or_else(|| anyhow!("missing now"))
}

fn outputs(out: Vec<Output>) -> Value {
    let out: Vec<Value> = out
        .into_iter()
        .map(|o| match o {
            Output::PublishBundle(b) => json!({"bundle": b}),
            Output::SendKey { to, body } => json!({"key": {"to": to, "body": hex(&body)}}),
            Output::Chat(c) => json!({"chat": {
                "from": c.from, "id": c.message_id, "text": c.text,
                "roster_agrees": c.roster_agrees, "safety": c.safety,
            }}),
            Output::IdentityChanged { participant, .. } => json!({"identity_changed": participant}),
            Output::Undecryptable { from, error } => {
                json!({"undecryptable": {"from": from, "error": format!("{error:?}")}})
            }
        })
        .collect();
    json!({ "out": out })
}

fn handle(group: &mut Option<Group>, req: &Value) -> Result<Value> {
    let rng = &mut rand_core::OsRng;
    let op = field(req, "op")?;
    if op == "new" {
        let identity = Identity::generate(rng);
        let public = hex(&identity.public().to_bytes());
        *group = Some(Group::new(
            identity,
            Pins::default(),
            field(req, "visit")?,
            field(req, "me")?,
            field(req, "dtls")?,
        ));
        return Ok(json!({ "identity": public }));
    }
    let g = group.as_mut().ok_or_else(|| anyhow!("send new first"))?;
    Ok(match op {
        "set_roster" => {
            let members: Vec<&str> = req["members"]
                .as_array()
                .ok_or_else(|| anyhow!("missing members"))?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            outputs(g.set_roster(members, now(req)?, rng))
        }
        "begin" => outputs(g.begin(now(req)?, rng)),
        "member_joined" => outputs(g.member_joined(field(req, "who")?, now(req)?, rng)),
        "peer_bundle" => {
            match g.peer_bundle(field(req, "from")?, field(req, "bundle")?, now(req)?, rng) {
                Ok(out) => outputs(out),
                Err(e) => json!({ "error": format!("{e:?}") }),
            }
        }
        "receive_key" => {
            let body = unhex(field(req, "body")?)?;
            outputs(g.receive_key(field(req, "from")?, &body, now(req)?, rng))
        }
        "receive_chat" => {
            let body = unhex(field(req, "body")?)?;
            outputs(g.receive_chat(field(req, "from")?, &body, now(req)?))
        }
        "seal_chat" => match g.seal_chat(field(req, "text")?, now(req)?, rng) {
            Ok((body, id, out)) => {
                let mut reply = outputs(out);
                reply["body"] = json!(hex(&body));
                reply["id"] = json!(id);
                reply
            }
            Err(e) => json!({ "error": format!("{e:?}") }),
        },
        other => bail!("unknown op {other}"),
    })
}

fn main() -> Result<()> {
    let mut group = None;
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let reply = match serde_json::from_str::<Value>(&line) {
            Ok(req) => handle(&mut group, &req).unwrap_or_else(|e| json!({"fault": e.to_string()})),
            Err(e) => json!({ "fault": format!("not JSON: {e}") }),
        };
        let mut out = stdout.lock();
        writeln!(out, "{reply}")?;
        out.flush()?;
    }
    Ok(())
}

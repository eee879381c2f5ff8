//! Committed test vectors for the E2E construction (docs/e2ee.md §17).
//!
//! The vectors are self-contained: every input, random ones included, is a
//! field of `tests/vectors/e2ee.json`, and every other field is computed
//! from them. The check reads the inputs back from the committed file,
//! computes everything again with this SDK (and, for the intermediates,
//! with the primitives directly, following docs/e2ee.md), and requires the
//! result to equal the committed file exactly; along the way every
//! ciphertext is opened by its receiving side and every `reject` case is
//! refused with its error. Any build (native, wasm) must pass it.
//! Regenerate only on a deliberate format change:
//! `BEDSIDE_WRITE_VECTORS=1 cargo test -p bedside-sdk --test vectors`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::collections::VecDeque;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bedside_sdk::e2ee::{
    ChainContext, ChainKey, EphemeralSecret, Group, Hello, Identity, Output, Pins, ReceivingChain,
    SafetyNumber, SendingChain, SignedHello, pairwise, roster_hash,
};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use hkdf::Hkdf;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const FORMAT: &str = "bedside-e2ee-vectors-2";
const DR: &str = "dr-ada";
const PT: &str = "pt-1";

// ---------------------------------------------------------------- helpers

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn arr<const N: usize>(s: &str) -> [u8; N] {
    unhex(s).try_into().unwrap()
}

fn sha(n: u64) -> [u8; 32] {
    Sha256::digest(n.to_be_bytes()).into()
}

fn len16(s: &[u8]) -> Vec<u8> {
    let mut v = u16::try_from(s.len()).unwrap().to_be_bytes().to_vec();
    v.extend_from_slice(s);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn fp(seed: u8) -> String {
    format!("sha-256 {}", vec![format!("{seed:02X}"); 32].join(":"))
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| str_of(x).to_owned())
        .collect()
}

fn hmac_expand(prk: &[u8; 32], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::from_prk(prk)
        .unwrap()
        .expand(info, &mut out)
        .unwrap();
    out
}

fn aead(key: &[u8], nonce: &[u8; 12], msg: &[u8], aad: &[u8]) -> Vec<u8> {
    chacha20poly1305::ChaCha20Poly1305::new_from_slice(key)
        .unwrap()
        .encrypt(&(*nonce).into(), Payload { msg, aad })
        .unwrap()
}

/// Random bytes played back in order: each draw must have the length the
/// SDK asks for. `None` stands for a draw whose value reaches no output.
struct ScriptRng(VecDeque<Option<Vec<u8>>>);

impl rand_core::RngCore for ScriptRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let next = self.0.pop_front().expect("the SDK drew more than scripted");
        match next {
            Some(b) => {
                assert_eq!(b.len(), dest.len(), "scripted draw of the wrong length");
                dest.copy_from_slice(&b);
            }
            None => dest.fill(0),
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rand_core::CryptoRng for ScriptRng {}

fn script(draws: &[Option<&str>]) -> ScriptRng {
    ScriptRng(draws.iter().map(|d| d.map(unhex)).collect())
}

fn err_name(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

// ------------------------------------------------------------ the inputs

/// Every input of the vectors: the fixed ones when generating, the
/// committed ones when checking.
struct Inputs(Value);

impl Inputs {
    fn fixed() -> Self {
        let t0: u64 = 1_764_000_000_000;
        let h = |n: u64| hex(&sha(n));
        let h12 = |n: u64| hex(&sha(n)[..12]);
        let h16 = |n: u64| hex(&sha(n)[..16]);
        Self(json!({
            "visit": "v-2026-11-25",
            "identities": {DR: {"secret": hex(&[0xa1; 32])}, PT: {"secret": hex(&[0xb2; 32])}},
            "roster_hash": [
                ["dr-ada", "pt-1"], ["pt-1", "dr-ada", "pt-1"], ["pt-1"], ["dr-ada"],
                ["pt-1", "dr-ada-2", "nurse.kim@clinic", "dr-ada"], ["ab"], ["a", "b"],
            ],
            "hello": {
                DR: {"epoch": t0, "ephemeral_secret": hex(&[0xa3; 32]), "dtls": fp(0xa1), "roster": ["dr-ada", "pt-1"]},
                PT: {"epoch": t0 + 5, "ephemeral_secret": hex(&[0xb4; 32]), "dtls": fp(0xb2), "roster": ["pt-1", "dr-ada"]},
            },
            "key_messages": [
                {"from": DR, "to": PT, "start": 0, "chain_key": hex(&[0xc5; 32]), "nonce": h12(1)},
                {"from": PT, "to": DR, "start": 3, "chain_key": hex(&[0xd6; 32]), "nonce": h12(2)},
            ],
            "chain": {"ck0": hex(&[0xc5; 32]), "texts": ["Hello Pat", "Your results are in", "\u{1F44B}"]},
            "exchange": {
                "t0": t0,
                DR: {"dtls": fp(0xa1), "ephemeral_secrets": [h(1001), h(1004)], "chain_keys": [h(1002), h(1005)],
                     "nonces": [h12(1006)], "message_ids": [h16(1003), h16(1007)]},
                // pt-1's waiting epoch also draws a chain key (2002): it is
                // never granted or used, so no output depends on it.
                PT: {"dtls": fp(0xb2), "ephemeral_secrets": [h(2001), h(2003)], "chain_keys": [h(2004)],
                     "nonces": [h12(2005)], "message_ids": [h16(2006)]},
                "texts": ["Note before the visit", "Hello Pat, can you hear me?", "Yes, I can hear you."],
            },
        }))
    }

    /// The same inputs read back from a vectors file.
    fn from_vectors(v: &Value) -> Self {
        assert_eq!(str_of(&v["format"]), FORMAT);
        let x = &v["exchange"];
        let member = |id: &str| {
            let epochs = x["members"][id]["epochs"].as_array().unwrap();
            let sent = |kind: &str| {
                x["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["kind"] == kind && m["from"] == id)
                    .collect::<Vec<_>>()
            };
            let chain_keys: Vec<&Value> = epochs
                .iter()
                .filter(|e| e.get("chain_key").is_some())
                .map(|e| &e["chain_key"])
                .collect();
            json!({
                "dtls": x["members"][id]["dtls"],
                "ephemeral_secrets": epochs.iter().map(|e| &e["ephemeral_secret"]).collect::<Vec<_>>(),
                "chain_keys": chain_keys,
                "nonces": sent("key").iter().map(|m| &m["nonce"]).collect::<Vec<_>>(),
                "message_ids": sent("chat").iter().map(|m| &m["message_id"]).collect::<Vec<_>>(),
            })
        };
        let chats: Vec<&Value> = x["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "chat")
            .map(|m| &m["text"])
            .collect();
        let hello = |id: &str| {
            let h = &v["hello"][id];
            json!({"epoch": h["epoch"], "ephemeral_secret": h["ephemeral_secret"], "dtls": h["dtls"], "roster": h["roster"]})
        };
        Self(json!({
            "visit": v["visit"],
            "identities": {DR: {"secret": v["identities"][DR]["secret"]}, PT: {"secret": v["identities"][PT]["secret"]}},
            "roster_hash": v["roster_hash"].as_array().unwrap().iter().map(|c| &c["ids"]).collect::<Vec<_>>(),
            "hello": {DR: hello(DR), PT: hello(PT)},
            "key_messages": v["pairwise"]["key_messages"].as_array().unwrap().iter().map(|k| json!({
                "from": k["from"], "to": k["to"], "start": k["start"], "chain_key": k["chain_key"], "nonce": k["nonce"],
            })).collect::<Vec<_>>(),
            "chain": {
                "ck0": v["chain"]["ck0"],
                "texts": v["chain"]["messages"].as_array().unwrap().iter()
                    .map(|m| String::from_utf8(unhex(str_of(&m["plaintext"]))).unwrap()).collect::<Vec<_>>(),
            },
            "exchange": {"t0": x["members"][DR]["epochs"][0]["epoch"], DR: member(DR), PT: member(PT), "texts": chats},
        }))
    }
}

// ----------------------------------------------------------- computation

struct Ctx<'a> {
    visit: &'a str,
    inputs: &'a Value,
}

impl Ctx<'_> {
    fn identity(&self, id: &str) -> Identity {
        Identity::from_secret_bytes(&arr(str_of(&self.inputs["identities"][id]["secret"])))
    }
}

fn identities(c: &Ctx) -> Value {
    let (dr, pt) = (c.identity(DR).public(), c.identity(PT).public());
    let sn = SafetyNumber::of(&dr, &pt);
    let digits = |k: &bedside_sdk::e2ee::PublicIdentity| {
        let lo = k.to_bytes()
            <= if k == &dr {
                pt.to_bytes()
            } else {
                dr.to_bytes()
            };
        let all = sn.digits();
        if lo {
            all[..30].to_owned()
        } else {
            all[30..].to_owned()
        }
    };
    let one = |id: &str, k: &bedside_sdk::e2ee::PublicIdentity| {
        // The fingerprint as docs/e2ee.md §2 defines it, and as the SDK has it.
        let fp: [u8; 32] = Sha256::digest(cat(&[b"bedside-fp-v1", &k.to_bytes()])).into();
        assert_eq!(fp, k.fingerprint());
        json!({"secret": c.inputs["identities"][id]["secret"], "public": hex(&k.to_bytes()),
               "fingerprint": hex(&fp), "safety_digits": digits(k)})
    };
    json!({DR: one(DR, &dr), PT: one(PT, &pt)})
}

fn safety_numbers(c: &Ctx) -> Value {
    let (dr, pt) = (c.identity(DR).public(), c.identity(PT).public());
    let case = |a: &bedside_sdk::e2ee::PublicIdentity, b: &bedside_sdk::e2ee::PublicIdentity| json!({"first": hex(&a.to_bytes()), "second": hex(&b.to_bytes()), "number": SafetyNumber::of(a, b).to_string()});
    json!([case(&dr, &pt), case(&pt, &dr)])
}

fn roster_hashes(c: &Ctx) -> Value {
    let cases: Vec<Value> = c.inputs["roster_hash"]
        .as_array()
        .unwrap()
        .iter()
        .map(|list| {
            let list = ids(list);
            // docs/e2ee.md §3 directly: sort, de-duplicate, frame, hash.
            let mut sorted = list.clone();
            sorted.sort();
            sorted.dedup();
            let mut h = b"bedside-roster-v1".to_vec();
            for id in &sorted {
                h.extend(len16(id.as_bytes()));
            }
            let want: [u8; 32] = Sha256::digest(&h).into();
            let got = roster_hash(list.iter().map(String::as_str));
            assert_eq!(got, want);
            json!({"ids": list, "hash": hex(&got)})
        })
        .collect();
    json!(cases)
}

/// The Hellos of the `hello` section, signed.
fn hellos(c: &Ctx) -> (Value, [(EphemeralSecret, SignedHello); 2]) {
    let make = |id: &str| {
        let h = &c.inputs["hello"][id];
        let secret = EphemeralSecret::from_bytes(arr(str_of(&h["ephemeral_secret"])));
        let roster = ids(&h["roster"]);
        let identity = c.identity(id);
        let hello = Hello {
            visit: c.visit.into(),
            epoch: num(&h["epoch"]),
            member: id.into(),
            identity: identity.public(),
            ephemeral: secret.public(),
            dtls_fingerprint: str_of(&h["dtls"]).into(),
            roster_hash: roster_hash(roster.iter().map(String::as_str)),
        };
        let signed = SignedHello::sign(&identity, hello);
        let json = json!({
            "epoch": h["epoch"], "ephemeral_secret": h["ephemeral_secret"], "ephemeral_public": hex(&secret.public()),
            "dtls": h["dtls"], "roster": roster, "roster_hash": hex(&signed.hello().roster_hash),
            "signed": hex(signed.bytes()), "signature": hex(signed.signature()), "bundle": signed.to_bundle_json(),
        });
        // The receiving side: the bundle parses, verifies and names its sender.
        let back = SignedHello::from_bundle_json(&signed.to_bundle_json()).unwrap();
        back.check_context(c.visit, id).unwrap();
        assert_eq!(back.bytes(), signed.bytes());
        (json, (secret, signed))
    };
    let (dr_json, dr) = make(DR);
    let (pt_json, pt) = make(PT);
    (json!({DR: dr_json, PT: pt_json}), [dr, pt])
}

/// `pairwise`: the shared secret, salt, info and key of the two Hellos, and
/// key messages both ways, computed from docs/e2ee.md §6–§7 and compared
/// with what the SDK seals and opens.
fn pairwise_section(c: &Ctx, hs: &[(EphemeralSecret, SignedHello); 2]) -> Value {
    let [(dr_secret, dr), (pt_secret, pt)] = hs;
    let (hd, hp) = (dr.hello(), pt.hello());
    let shared = x25519_dalek::StaticSecret::from(arr::<32>(str_of(
        &c.inputs["hello"][DR]["ephemeral_secret"],
    )))
    .diffie_hellman(&x25519_dalek::PublicKey::from(hp.ephemeral))
    .to_bytes();
    // dr-ada < pt-1 by id; their identity keys sort the other way round.
    let (lo, hi) = if hd.member <= hp.member {
        (dr, pt)
    } else {
        (pt, dr)
    };
    let salt = cat(&[
        &len16(c.visit.as_bytes()),
        &lo.hello().epoch.to_be_bytes(),
        &hi.hello().epoch.to_be_bytes(),
    ]);
    let (ik_a, ik_b) = (hd.identity.to_bytes(), hp.identity.to_bytes());
    let (ik1, ik2) = if ik_a <= ik_b {
        (ik_a, ik_b)
    } else {
        (ik_b, ik_a)
    };
    let digest = Sha256::digest(cat(&[lo.bytes(), hi.bytes()]));
    let info = cat(&[b"bedside-pair-v1", &ik1, &ik2, &digest]);
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&salt), &shared)
        .expand(&info, &mut key)
        .unwrap();
    assert_eq!(*pairwise::pair_key(dr_secret, dr, pt).unwrap(), key);
    assert_eq!(*pairwise::pair_key(pt_secret, pt, dr).unwrap(), key);

    let messages: Vec<Value> = c.inputs["key_messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let (from, to) = (str_of(&k["from"]), str_of(&k["to"]));
            let pick = |id: &str| if id == DR { &hs[0] } else { &hs[1] };
            let ((fs, fh), (ts, th)) = (pick(from), pick(to));
            let start = num(&k["start"]);
            let ck: [u8; 32] = arr(str_of(&k["chain_key"]));
            let nonce: [u8; 12] = arr(str_of(&k["nonce"]));
            let grant = pairwise::ChainGrant {
                start,
                key: ChainKey::from_bytes(ck),
            };
            let body = pairwise::seal_key_message(
                fs,
                fh,
                th,
                &grant,
                &mut script(&[Some(str_of(&k["nonce"]))]),
            )
            .unwrap();
            let ad = cat(&[
                b"bedside-key-v1",
                &len16(c.visit.as_bytes()),
                &fh.hello().epoch.to_be_bytes(),
                &th.hello().epoch.to_be_bytes(),
                &len16(from.as_bytes()),
                &len16(to.as_bytes()),
            ]);
            let plain = cat(&[&start.to_be_bytes(), &ck]);
            let want = cat(&[
                &[0x02],
                &len16(fh.bytes()),
                fh.signature(),
                &th.hello().epoch.to_be_bytes(),
                &nonce,
                &aead(&key, &nonce, &plain, &ad),
            ]);
            assert_eq!(body, want, "key message {from} -> {to}");
            // The recipient opens it with its own secret.
            let parsed = pairwise::KeyMessage::parse(&body).unwrap();
            assert_eq!(parsed.sender.bytes(), fh.bytes());
            assert_eq!(parsed.recipient_epoch, th.hello().epoch);
            let opened = parsed.open(ts, th).unwrap();
            assert_eq!(opened.start, start);
            json!({"from": from, "to": to, "start": start, "chain_key": k["chain_key"], "nonce": k["nonce"],
                   "ad": hex(&ad), "plaintext": hex(&plain), "body": hex(&body)})
        })
        .collect();
    json!({"shared": hex(&shared), "salt": hex(&salt), "info": hex(&info), "key": hex(&key), "key_messages": messages})
}

/// `chain`: dr-ada's chain over its Hello's context.
fn chain_section(c: &Ctx, dr: &SignedHello) -> Value {
    let ctx = ChainContext {
        visit: c.visit.into(),
        epoch: dr.hello().epoch,
        sender: DR.into(),
        roster_hash: dr.hello().roster_hash,
    };
    let ck0: [u8; 32] = arr(str_of(&c.inputs["chain"]["ck0"]));
    let mut chain = SendingChain::new(ChainKey::from_bytes(ck0), ctx.clone());
    let mut ck = ck0;
    let texts = ids(&c.inputs["chain"]["texts"]);
    let mut out = Vec::new();
    for t in &texts {
        let (i, ct) = chain.seal(t.as_bytes()).unwrap();
        let mk = hmac_expand(&ck, b"mk");
        let ad = cat(&[
            b"bedside-msg-v1",
            &len16(c.visit.as_bytes()),
            &ctx.epoch.to_be_bytes(),
            &len16(DR.as_bytes()),
            &i.to_be_bytes(),
            &ctx.roster_hash,
        ]);
        assert_eq!(ad, ctx.associated_data(i));
        assert_eq!(ct, aead(&mk, &[0; 12], t.as_bytes(), &ad));
        out.push(
            json!({"counter": i, "chain_key": hex(&ck), "message_key": hex(&mk),
                        "plaintext": hex(t.as_bytes()), "ad": hex(&ad), "ciphertext": hex(&ct)}),
        );
        ck = hmac_expand(&ck, b"ck");
    }
    // The receiving side, in reverse order (every key is skipped first).
    let mut r = ReceivingChain::new(ChainKey::from_bytes(ck0), ctx);
    for (m, t) in out.iter().zip(&texts).rev() {
        let plain = r
            .open(num(&m["counter"]), &unhex(str_of(&m["ciphertext"])))
            .unwrap();
        assert_eq!(plain, t.as_bytes());
    }
    json!({"ck0": hex(&ck0), "messages": out})
}

fn bundle_of(out: &[Output]) -> String {
    match out {
        [Output::PublishBundle(b)] => b.clone(),
        o => panic!("expected one bundle: {o:?}"),
    }
}

fn key_to(out: &[Output], who: &str) -> Vec<u8> {
    match out {
        [Output::SendKey { to, body }] if to == who => body.clone(),
        o => panic!("expected one key message to {who}: {o:?}"),
    }
}

fn chat_of(out: &[Output]) -> (String, String) {
    match out {
        [Output::Chat(c)] => {
            assert!(c.roster_agrees);
            (c.text.clone(), c.message_id.clone())
        }
        o => panic!("expected one chat: {o:?}"),
    }
}

fn hello_epoch(bundle: &str) -> u64 {
    SignedHello::from_bundle_json(bundle).unwrap().hello().epoch
}

/// The draws of one member, in the order its `Group` makes them.
fn member_script(m: &Value, order: &[(&str, usize)]) -> ScriptRng {
    script(
        &order
            .iter()
            .map(|(list, i)| {
                if *list == "unused" {
                    None
                } else {
                    Some(str_of(&m[*list][*i]))
                }
            })
            .collect::<Vec<_>>(),
    )
}

/// `exchange`: two SDK Groups hold a visit. The provider is alone (and
/// leaves a note the patient never reads), the patient waits, is admitted,
/// keys go both ways, and each sends a chat the other opens.
fn exchange(c: &Ctx) -> (Value, Vec<Value>) {
    let x = &c.inputs["exchange"];
    let t0 = num(&x["t0"]);
    let texts = ids(&x["texts"]);
    let group = |id: &str| {
        Group::new(
            c.identity(id),
            Pins::default(),
            c.visit,
            id,
            str_of(&x[id]["dtls"]),
        )
    };
    let (mut dr, mut pt) = (group(DR), group(PT));
    let es = "ephemeral_secrets";
    let ck = "chain_keys";
    let mut dr_rng = member_script(
        &x[DR],
        &[
            (es, 0),
            (ck, 0),
            ("message_ids", 0),
            (es, 1),
            (ck, 1),
            ("nonces", 0),
            ("message_ids", 1),
        ],
    );
    let mut pt_rng = member_script(
        &x[PT],
        &[
            (es, 0),
            ("unused", 0),
            (es, 1),
            (ck, 0),
            ("nonces", 0),
            ("message_ids", 0),
        ],
    );

    // T0: the provider is alone and writes a note.
    let dr_b0 = bundle_of(&dr.set_roster([DR], t0, &mut dr_rng));
    let (note, note_id, out) = dr.seal_chat(&texts[0], t0, &mut dr_rng).unwrap();
    assert!(out.is_empty());
    // T0+1: the patient waits (a roster of itself only).
    let pt_b0 = bundle_of(&pt.begin(t0 + 1, &mut pt_rng));
    // T0+2: the patient's `joined` reaches the provider with its waiting bundle.
    let dr_b1 = bundle_of(&dr.member_joined(PT, t0 + 2, &mut dr_rng));
    let dr_key = key_to(
        &dr.peer_bundle(PT, &pt_b0, t0 + 2, &mut dr_rng).unwrap(),
        PT,
    );
    // T0+3: the patient is admitted: a new epoch, then the provider's bundle.
    let pt_b1 = bundle_of(&pt.set_roster([DR, PT], t0 + 3, &mut pt_rng));
    let pt_key = key_to(
        &pt.peer_bundle(DR, &dr_b1, t0 + 3, &mut pt_rng).unwrap(),
        DR,
    );
    // T0+4: each takes the other's news; no more keys are due.
    assert!(
        dr.peer_bundle(PT, &pt_b1, t0 + 4, &mut dr_rng)
            .unwrap()
            .is_empty()
    );
    assert!(dr.receive_key(PT, &pt_key, t0 + 4, &mut dr_rng).is_empty());
    assert!(pt.receive_key(DR, &dr_key, t0 + 4, &mut pt_rng).is_empty());
    // T0+5, T0+6: a chat each way.
    let (dr_chat, dr_chat_id, out) = dr.seal_chat(&texts[1], t0 + 5, &mut dr_rng).unwrap();
    assert!(out.is_empty());
    let (pt_chat, pt_chat_id, out) = pt.seal_chat(&texts[2], t0 + 6, &mut pt_rng).unwrap();
    assert!(out.is_empty());
    assert_eq!(
        chat_of(&pt.receive_chat(DR, &dr_chat, t0 + 7)),
        (texts[1].clone(), dr_chat_id.clone())
    );
    assert_eq!(
        chat_of(&dr.receive_chat(PT, &pt_chat, t0 + 7)),
        (texts[2].clone(), pt_chat_id.clone())
    );
    // The note was sealed before the patient was in the roster: it waits
    // for a key that never comes.
    assert!(pt.receive_chat(DR, &note, t0 + 7).is_empty());
    let mut expired = Vec::new();
    pt.expire(t0 + 7 + 60_001, &mut expired);
    assert!(
        matches!(
            &expired[..],
            [Output::Undecryptable {
                error: bedside_sdk::e2ee::E2eeError::NoKey,
                ..
            }]
        ),
        "{expired:?}"
    );

    let epoch = |b: &str, roster: &[&str], m: &Value, i: usize, ck: Option<usize>| {
        let mut e = json!({"epoch": hello_epoch(b), "roster": roster, "ephemeral_secret": m[es][i], "bundle": b});
        if let Some(k) = ck {
            e["chain_key"] = m["chain_keys"][k].clone();
        }
        e
    };
    let members = json!({
        DR: {"dtls": x[DR]["dtls"], "epochs": [
            epoch(&dr_b0, &[DR], &x[DR], 0, Some(0)), epoch(&dr_b1, &[DR, PT], &x[DR], 1, Some(1))]},
        PT: {"dtls": x[PT]["dtls"], "epochs": [
            epoch(&pt_b0, &[PT], &x[PT], 0, None), epoch(&pt_b1, &[DR, PT], &x[PT], 1, Some(0))]},
    });
    let key = |from: &str, to: &str, se: &str, re: &str, m: &Value, body: &[u8]| {
        json!({"kind": "key", "from": from, "to": to, "sender_epoch": hello_epoch(se),
               "recipient_epoch": hello_epoch(re), "nonce": m["nonces"][0], "body": hex(body)})
    };
    let chat = |from: &str, b: &str, text: &str, id: &str, body: &[u8], readers: &[&str]| {
        json!({"kind": "chat", "from": from, "sender_epoch": hello_epoch(b), "counter": 0,
               "message_id": id, "text": text, "body": hex(body), "readers": readers})
    };
    let messages = vec![
        chat(DR, &dr_b0, &texts[0], &note_id, &note, &[]),
        key(DR, PT, &dr_b1, &pt_b0, &x[DR], &dr_key),
        key(PT, DR, &pt_b1, &dr_b1, &x[PT], &pt_key),
        chat(DR, &dr_b1, &texts[1], &dr_chat_id, &dr_chat, &[PT]),
        chat(PT, &pt_b1, &texts[2], &pt_chat_id, &pt_chat, &[DR]),
    ];

    // Bodies the patient's side refuses (the `reject` cases that need a
    // Group), each in a fresh replay of the patient up to the point where
    // it would accept the genuine message.
    let refuse = |body: &[u8], kind: &str| -> String {
        let mut p = group(PT);
        let mut rng = member_script(
            &x[PT],
            &[(es, 0), ("unused", 0), (es, 1), (ck, 0), ("nonces", 0)],
        );
        let _ = p.begin(t0 + 1, &mut rng);
        let _ = p.set_roster([DR, PT], t0 + 3, &mut rng);
        let _ = p.peer_bundle(DR, &dr_b1, t0 + 3, &mut rng).unwrap();
        let out = if kind == "key" {
            p.receive_key(DR, body, t0 + 4, &mut rng)
        } else {
            assert!(p.receive_key(DR, &dr_key, t0 + 4, &mut rng).is_empty());
            p.receive_chat(DR, body, t0 + 7)
        };
        match &out[..] {
            [Output::Undecryptable { from, error }] if from == DR => err_name(error),
            o => panic!("expected a refusal: {o:?}"),
        }
    };
    let flip_last = |b: &[u8]| {
        let mut b = b.to_vec();
        *b.last_mut().unwrap() ^= 1;
        b
    };
    let tag = flip_last(&dr_key);
    let ct = flip_last(&dr_chat);
    let rejects = vec![
        json!({"name": "key_tag_flipped", "body": hex(&tag), "receiver": PT, "expect": refuse(&tag, "key")}),
        json!({"name": "chat_ciphertext_flipped", "body": hex(&ct), "receiver": PT, "expect": refuse(&ct, "chat")}),
    ];
    (json!({"members": members, "messages": messages}), rejects)
}

/// Ed25519's group order L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn bundle(ik: &[u8], hello: &[u8], sig: &[u8]) -> String {
    format!(
        r#"{{"v":1,"ik":"{}","hello":"{}","sig":"{}"}}"#,
        B64.encode(ik),
        B64.encode(hello),
        B64.encode(sig)
    )
}

fn refuse_bundle(json: &str) -> String {
    match SignedHello::from_bundle_json(json) {
        Ok(_) => panic!("accepted {json}"),
        Err(e) => err_name(bedside_sdk::e2ee::E2eeError::from(e)),
    }
}

/// The `reject` cases made from the `hello` and `pairwise` sections.
fn rejects(c: &Ctx, hs: &[(EphemeralSecret, SignedHello); 2], pw: &Value) -> Vec<Value> {
    let [(_, dr), (pt_secret, pt)] = hs;
    let ik = dr.hello().identity.to_bytes();
    // S + L: the same signature for lax verifiers, refused by strict ones.
    let mut sig = *dr.signature();
    let mut carry = 0u16;
    for (s, l) in sig[32..].iter_mut().zip(L) {
        let v = u16::from(*s) + u16::from(l) + carry;
        *s = v as u8;
        carry = v >> 8;
    }
    let s_plus_l = bundle(&ik, dr.bytes(), &sig);
    let ik_mismatch = bundle(&pt.hello().identity.to_bytes(), dr.bytes(), dr.signature());
    // The identity point as key, with R = identity and S = 0: every
    // cofactorless lax verifier accepts it for any message.
    let mut ident = [0u8; 32];
    ident[0] = 1;
    let at = 16 + 2 + c.visit.len() + 8 + 2 + DR.len();
    let mut small = dr.bytes().to_vec();
    small[at..at + 32].copy_from_slice(&ident);
    let small_sig = cat(&[&ident, &[0; 32]]);
    let small_order = bundle(&ident, &small, &small_sig);
    // The same point encoded with y = p + 1: not a key at all.
    let mut over_p = [0xffu8; 32];
    over_p[0] = 0xee;
    over_p[31] = 0x7f;
    let mut noncanonical = dr.bytes().to_vec();
    noncanonical[at..at + 32].copy_from_slice(&over_p);
    let noncanonical = bundle(&over_p, &noncanonical, &small_sig);
    // A base64 signature whose unused low bits are not zero.
    let genuine = dr.to_bundle_json();
    let b64sig = B64.encode(dr.signature());
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let pos = alphabet
        .iter()
        .position(|&a| a == b64sig.as_bytes()[85])
        .unwrap();
    let mut bad = b64sig.clone().into_bytes();
    bad[85] = alphabet[(pos + 1) % 64];
    let trailing = genuine.replace(&b64sig, std::str::from_utf8(&bad).unwrap());

    // A key message whose (validly signed) Hello has an all-zero ephemeral.
    let identity = c.identity(DR);
    let zero = SignedHello::sign(
        &identity,
        Hello {
            ephemeral: [0; 32],
            ..dr.hello().clone()
        },
    );
    let km = unhex(str_of(&pw["key_messages"][0]["body"]));
    let tail = &km[km.len() - (8 + 12 + 56)..];
    let body = cat(&[&[0x02], &len16(zero.bytes()), zero.signature(), tail]);
    let zero_expect = match pairwise::KeyMessage::parse(&body)
        .unwrap()
        .open(pt_secret, pt)
    {
        Ok(_) => panic!("a zero ephemeral opened"),
        Err(e) => err_name(bedside_sdk::e2ee::E2eeError::from(e)),
    };
    vec![
        json!({"name": "bundle_sig_s_plus_l", "bundle": s_plus_l, "expect": refuse_bundle(&s_plus_l)}),
        json!({"name": "bundle_ik_mismatch", "bundle": ik_mismatch, "expect": refuse_bundle(&ik_mismatch)}),
        json!({"name": "bundle_small_order_identity", "bundle": small_order, "expect": refuse_bundle(&small_order)}),
        json!({"name": "bundle_noncanonical_identity", "bundle": noncanonical, "expect": refuse_bundle(&noncanonical)}),
        json!({"name": "bundle_base64_trailing_bits", "bundle": trailing, "expect": refuse_bundle(&trailing)}),
        json!({"name": "key_zero_ephemeral", "body": hex(&body), "receiver": PT, "expect": zero_expect}),
    ]
}

fn compute(inputs: &Inputs) -> Value {
    let c = Ctx {
        visit: str_of(&inputs.0["visit"]),
        inputs: &inputs.0,
    };
    let (hello, hs) = hellos(&c);
    let pw = pairwise_section(&c, &hs);
    let chain = chain_section(&c, &hs[0].1);
    let (exchange, mut late) = exchange(&c);
    let mut reject = rejects(&c, &hs, &pw);
    reject.append(&mut late);
    json!({
        "format": FORMAT,
        "visit": c.visit,
        "identities": identities(&c),
        "safety_number": safety_numbers(&c),
        "roster_hash": roster_hashes(&c),
        "hello": hello,
        "pairwise": pw,
        "chain": chain,
        "exchange": exchange,
        "reject": reject,
    })
}

/// The committed vectors, compiled in (the wasm build has no file system).
const COMMITTED: &str = include_str!("vectors/e2ee.json");

#[test]
fn the_committed_vectors_follow_from_their_inputs() {
    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var_os("BEDSIDE_WRITE_VECTORS").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/e2ee.json");
        let fresh = compute(&Inputs::fixed());
        std::fs::write(path, serde_json::to_string_pretty(&fresh).unwrap() + "\n").unwrap();
    }
    let committed: Value = serde_json::from_str(COMMITTED).unwrap();
    let got = compute(&Inputs::from_vectors(&committed));
    for (section, want) in committed.as_object().unwrap() {
        assert_eq!(
            &got[section], want,
            "section {section} differs from what its inputs give"
        );
    }
    assert_eq!(got, committed);
}

#[test]
fn the_generator_gives_the_committed_vectors() {
    let committed: Value = serde_json::from_str(COMMITTED).unwrap();
    assert_eq!(compute(&Inputs::fixed()), committed);
}

#[test]
fn the_reject_cases_are_the_errors_docs_e2ee_md_names() {
    let committed: Value = serde_json::from_str(COMMITTED).unwrap();
    let names: Vec<(&str, &str)> = committed["reject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (str_of(&r["name"]), str_of(&r["expect"])))
        .collect();
    assert_eq!(
        names,
        [
            ("bundle_sig_s_plus_l", "Hello(BadSignature)"),
            ("bundle_ik_mismatch", "Hello(Malformed)"),
            ("bundle_small_order_identity", "Hello(BadSignature)"),
            ("bundle_noncanonical_identity", "Hello(Malformed)"),
            ("bundle_base64_trailing_bits", "Hello(Malformed)"),
            ("key_zero_ephemeral", "Pair(NonContributory)"),
            ("key_tag_flipped", "Pair(Decrypt)"),
            ("chat_ciphertext_flipped", "BadSignature"),
        ]
    );
}

/// Every leaf of the vectors with one change: lowest bit of the last hex
/// digit flipped, a character of other text changed, a number plus one.
#[cfg(not(target_arch = "wasm32"))]
fn mutations(v: &Value, path: String, out: &mut Vec<(String, Value)>) {
    let is_hex = |s: &str| {
        !s.is_empty()
            && s.len().is_multiple_of(2)
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                mutations(x, format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                mutations(x, format!("{path}[{i}]"), out);
            }
        }
        Value::String(s) if is_hex(s) => {
            let mut b = s.clone().into_bytes();
            let last = b.len() - 1;
            let d = u8::from_str_radix(&s[last..], 16).unwrap() ^ 1;
            b[last] = format!("{d:x}").as_bytes()[0];
            out.push((path, Value::String(String::from_utf8(b).unwrap())));
        }
        Value::String(s) => {
            let mut c: Vec<char> = s.chars().collect();
            let mid = c.len() / 2;
            c[mid] = if c[mid] == 'x' { 'y' } else { 'x' };
            out.push((path, Value::String(c.into_iter().collect())));
        }
        Value::Number(n) => out.push((path, json!(n.as_u64().unwrap() + 1))),
        other => panic!("unexpected leaf {other} at {path}"),
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn replace(v: &mut Value, path: &str, with: Value) {
    let mut at = v;
    for part in path.trim_start_matches('.').split('.') {
        let (key, index) = match part.split_once('[') {
            Some((k, i)) => (k, Some(i.trim_end_matches(']').parse::<usize>().unwrap())),
            None => (part, None),
        };
        at = &mut at[key];
        if let Some(i) = index {
            at = &mut at[i];
        }
    }
    *at = with;
}

/// Changing any single field of the committed vectors makes the check
/// fail: every field is an input the outputs depend on, or an output.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn changing_any_field_fails_the_check() {
    let committed: Value = serde_json::from_str(COMMITTED).unwrap();
    let mut leaves = Vec::new();
    mutations(&committed, String::new(), &mut leaves);
    assert!(leaves.len() > 100, "{} leaves", leaves.len());
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let survivors: Vec<String> = leaves
        .into_iter()
        .filter(|(path, with)| {
            let mut v = committed.clone();
            replace(&mut v, path, with.clone());
            std::panic::catch_unwind(|| compute(&Inputs::from_vectors(&v)) == v).unwrap_or(false)
        })
        .map(|(path, _)| path)
        .collect();
    std::panic::set_hook(quiet);
    assert!(
        survivors.is_empty(),
        "changes no check notices: {survivors:?}"
    );
}

//! Committed test vectors for the E2E construction (DESIGN.md step 7).
//!
//! Everything is derived from fixed inputs and a deterministic byte source,
//! then compared with `tests/vectors/e2ee.json`. Any build (native, wasm)
//! must produce these bytes exactly and open the committed ciphertexts.
//! Regenerate only on a deliberate format change:
//! `BEDSIDE_WRITE_VECTORS=1 cargo test -p bedside-sdk --test vectors`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use bedside_sdk::e2ee::{
    ChainContext, ChainKey, EphemeralSecret, Group, Hello, Identity, Output, Pins, ReceivingChain,
    SafetyNumber, SendingChain, SignedHello, pairwise, roster_hash,
};
use serde_json::{Value, json};

/// Deterministic "random" bytes: SHA-256 of a counter (only for vectors).
struct VectorRng(u64);

impl rand_core::RngCore for VectorRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        use sha2::Digest;
        for chunk in dest.chunks_mut(32) {
            self.0 += 1;
            let h = sha2::Sha256::digest(self.0.to_be_bytes());
            chunk.copy_from_slice(&h[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rand_core::CryptoRng for VectorRng {}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const VISIT: &str = "v-2026-11-25";
const T0: u64 = 1_764_000_000_000;

fn fp(seed: u8) -> String {
    format!("sha-256 {}", vec![format!("{seed:02X}"); 32].join(":"))
}

fn compute() -> Value {
    let a = Identity::from_secret_bytes(&[0xa1; 32]);
    let b = Identity::from_secret_bytes(&[0xb2; 32]);
    let sn = SafetyNumber::of(&a.public(), &b.public());

    // A Hello, a pairwise key and a key message from fixed ephemerals.
    let ea = EphemeralSecret::from_bytes([0xa3; 32]);
    let eb = EphemeralSecret::from_bytes([0xb4; 32]);
    let rh = roster_hash(["dr-ada", "pt-1"]);
    let hello = |id: &Identity, e: &EphemeralSecret, who: &str, epoch: u64, seed: u8| {
        SignedHello::sign(
            id,
            Hello {
                visit: VISIT.into(),
                epoch,
                member: who.into(),
                identity: id.public(),
                ephemeral: e.public(),
                dtls_fingerprint: fp(seed),
                roster_hash: rh,
            },
        )
    };
    let ha = hello(&a, &ea, "dr-ada", T0, 0xa1);
    let hb = hello(&b, &eb, "pt-1", T0 + 5, 0xb2);
    let k = pairwise::pair_key(&ea, &ha, &hb).unwrap();
    let mut rng = VectorRng(0);
    let grant = pairwise::ChainGrant {
        start: 0,
        key: ChainKey::from_bytes([0xc5; 32]),
    };
    let key_msg = pairwise::seal_key_message(&ea, &ha, &hb, &grant, &mut rng).unwrap();

    // Three messages of a sender chain.
    let ctx = ChainContext {
        visit: VISIT.into(),
        epoch: T0,
        sender: "dr-ada".into(),
        roster_hash: rh,
    };
    let mut chain = SendingChain::new(ChainKey::from_bytes([0xc5; 32]), ctx.clone());
    let msgs: Vec<Value> = ["Hello Pat", "Your results are in", "\u{1F44B}"]
        .iter()
        .map(|t| {
            let (i, ct) = chain.seal(t.as_bytes()).unwrap();
            json!({"counter": i, "plaintext": t, "ad": hex(&ctx.associated_data(i)), "ciphertext": hex(&ct)})
        })
        .collect();

    // A whole exchange through two groups: bundles, key message, chat body.
    let mut rng = VectorRng(1000);
    let mut pt_rng = VectorRng(2000);
    let mut dr = Group::new(
        Identity::from_secret_bytes(&[0xa1; 32]),
        Pins::default(),
        VISIT,
        "dr-ada",
        &fp(0xa1),
    );
    let mut pt = Group::new(
        Identity::from_secret_bytes(&[0xb2; 32]),
        Pins::default(),
        VISIT,
        "pt-1",
        &fp(0xb2),
    );
    let _ = dr.set_roster(["dr-ada"], T0, &mut rng);
    let pt_bundle = match &pt.begin(T0 + 1, &mut pt_rng)[..] {
        [Output::PublishBundle(b)] => b.clone(),
        o => panic!("{o:?}"),
    };
    let out = pt.set_roster(["dr-ada", "pt-1"], T0 + 2, &mut pt_rng);
    let pt_bundle2 = match &out[..] {
        [Output::PublishBundle(b)] => b.clone(),
        o => panic!("{o:?}"),
    };
    let mut out = dr.member_joined("pt-1", T0 + 3, &mut rng);
    out.extend(
        dr.peer_bundle("pt-1", &pt_bundle2, T0 + 3, &mut rng)
            .unwrap(),
    );
    let (dr_bundle, dr_key) = match &out[..] {
        [Output::PublishBundle(b), Output::SendKey { to, body }] if to == "pt-1" => {
            (b.clone(), body.clone())
        }
        o => panic!("{o:?}"),
    };
    let (chat, chat_id, _) = dr
        .seal_chat("Hello Pat, can you hear me?", T0 + 4, &mut rng)
        .unwrap();

    json!({
        "note": "Generated by client-sdk/tests/vectors.rs from fixed inputs; byte layouts in client-sdk/src/e2ee. Hex unless noted.",
        "identity": {
            "a_secret": hex(&[0xa1; 32]), "a_public": hex(&a.public().to_bytes()), "a_fingerprint": a.public().fingerprint_hex(),
            "b_secret": hex(&[0xb2; 32]), "b_public": hex(&b.public().to_bytes()), "b_fingerprint": b.public().fingerprint_hex(),
            "safety_number": sn.to_string(),
        },
        "roster_hash": {"members": ["dr-ada", "pt-1"], "hash": hex(&rh)},
        "hello": {
            "a_ephemeral_secret": hex(&[0xa3; 32]), "a_ephemeral_public": hex(&ea.public()),
            "a_signed": hex(ha.bytes()), "a_signature": hex(ha.signature()), "a_bundle": ha.to_bundle_json(),
            "b_ephemeral_secret": hex(&[0xb4; 32]), "b_signed": hex(hb.bytes()), "b_signature": hex(hb.signature()),
        },
        "pairwise": {"key": hex(&k[..]), "grant_start": 0, "grant_key": hex(&[0xc5; 32]), "key_message": hex(&key_msg)},
        "chain": {"ck0": hex(&[0xc5; 32]), "epoch": T0, "sender": "dr-ada", "messages": msgs},
        "exchange": {
            "pt_waiting_bundle": pt_bundle, "pt_bundle": pt_bundle2, "dr_bundle": dr_bundle,
            "dr_key_to_pt": hex(&dr_key), "chat_id": chat_id, "chat_text": "Hello Pat, can you hear me?", "chat_body": hex(&chat),
        },
    })
}

/// The committed vectors, compiled in (the wasm build has no file system).
const COMMITTED: &str = include_str!("vectors/e2ee.json");

fn committed() -> Value {
    serde_json::from_str(COMMITTED).unwrap()
}

#[test]
fn this_build_produces_the_committed_bytes() {
    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var_os("BEDSIDE_WRITE_VECTORS").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/e2ee.json");
        std::fs::write(
            path,
            serde_json::to_string_pretty(&compute()).unwrap() + "\n",
        )
        .unwrap();
    }
    let want = committed();
    let got = compute();
    for section in [
        "identity",
        "roster_hash",
        "hello",
        "pairwise",
        "chain",
        "exchange",
    ] {
        assert_eq!(
            got[section], want[section],
            "section {section} differs from the committed vectors"
        );
    }
}

#[test]
fn the_committed_ciphertexts_open() {
    let v = committed();
    // Chain messages.
    let ctx = ChainContext {
        visit: VISIT.into(),
        epoch: T0,
        sender: "dr-ada".into(),
        roster_hash: unhex(v["roster_hash"]["hash"].as_str().unwrap())
            .try_into()
            .unwrap(),
    };
    let mut r = ReceivingChain::new(ChainKey::from_bytes([0xc5; 32]), ctx);
    for m in v["chain"]["messages"].as_array().unwrap().iter().rev() {
        let ct = unhex(m["ciphertext"].as_str().unwrap());
        let plain = r.open(m["counter"].as_u64().unwrap(), &ct).unwrap();
        assert_eq!(plain, m["plaintext"].as_str().unwrap().as_bytes());
    }

    // The patient's side of the exchange, from the committed bytes only.
    let x = &v["exchange"];
    let mut rng = VectorRng(2000);
    let mut pt = Group::new(
        Identity::from_secret_bytes(&[0xb2; 32]),
        Pins::default(),
        VISIT,
        "pt-1",
        &fp(0xb2),
    );
    let _ = pt.begin(T0 + 1, &mut rng);
    let _ = pt.set_roster(["dr-ada", "pt-1"], T0 + 2, &mut rng);
    let out = pt
        .peer_bundle("dr-ada", x["dr_bundle"].as_str().unwrap(), T0 + 5, &mut rng)
        .unwrap();
    assert!(out.iter().all(|o| matches!(o, Output::SendKey { .. })));
    let out = pt.receive_key(
        "dr-ada",
        &unhex(x["dr_key_to_pt"].as_str().unwrap()),
        T0 + 5,
        &mut rng,
    );
    assert!(
        out.iter().all(|o| matches!(o, Output::SendKey { .. })),
        "{out:?}"
    );
    let out = pt.receive_chat("dr-ada", &unhex(x["chat_body"].as_str().unwrap()), T0 + 6);
    match &out[..] {
        [Output::Chat(c)] => {
            assert_eq!(c.text, x["chat_text"].as_str().unwrap());
            assert_eq!(c.message_id, x["chat_id"].as_str().unwrap());
            assert!(c.roster_agrees);
        }
        o => panic!("{o:?}"),
    }
    // The bundle verifies and names the identity of the vectors.
    let hello = SignedHello::from_bundle_json(v["hello"]["a_bundle"].as_str().unwrap()).unwrap();
    assert_eq!(
        hex(&hello.hello().identity.to_bytes()),
        v["identity"]["a_public"].as_str().unwrap()
    );
    assert_eq!(v["identity"]["safety_number"].as_str().unwrap().len(), 71);
}

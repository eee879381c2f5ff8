//! Group scenarios over a simulated hub that delivers in order.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::VecDeque;

enum Msg {
    Bundle(String),
    Key(Vec<u8>),
    Chat(Vec<u8>),
}

/// Routes outputs between members like the hub: bundles to everyone,
/// keys to their recipient, chat to the sender's roster.
struct Sim {
    rng: StdRng,
    now: u64,
    members: BTreeMap<String, Group>,
    wire: VecDeque<(String, String, Msg)>,
    /// Everything each member's app saw.
    seen: BTreeMap<String, Vec<Output>>,
    /// Latest bundle per member (the hub's `participants[].keys`).
    bundles: BTreeMap<String, String>,
    /// Every key/chat body that crossed the wire, for replay attempts.
    log: Vec<(String, String, bool, Vec<u8>)>,
}

impl Sim {
    fn new() -> Self {
        Self {
            rng: StdRng::seed_from_u64(7),
            now: 1_700_000_000_000,
            members: BTreeMap::new(),
            wire: VecDeque::new(),
            seen: BTreeMap::new(),
            bundles: BTreeMap::new(),
            log: Vec::new(),
        }
    }

    fn add(&mut self, who: &str, seed: u8) {
        let g = Group::new(
            Identity::from_secret_bytes(&[seed; 32]),
            Pins::default(),
            "v-1",
            who,
            &format!(
                "sha-256 {}",
                ["AB"; 32].join(":").replace("AB", &format!("{seed:02X}"))
            ),
        );
        self.members.insert(who.into(), g);
        let out = self.with(who, |g, now, rng| g.begin(now, rng));
        self.route(who, out);
    }

    fn with(
        &mut self,
        who: &str,
        f: impl FnOnce(&mut Group, u64, &mut StdRng) -> Vec<Output>,
    ) -> Vec<Output> {
        let g = self.members.get_mut(who).unwrap();
        f(g, self.now, &mut self.rng)
    }

    /// `who` is admitted: everyone admitted sees the new roster, and the
    /// newcomer gets the bundles the hub holds.
    fn admit(&mut self, who: &str, roster: &[&str]) {
        for m in roster {
            let out = if *m == who {
                let mut out = self.with(m, |g, now, rng| {
                    g.set_roster(roster.iter().copied(), now, rng)
                });
                for (other, b) in self.bundles.clone() {
                    if other != who && roster.contains(&other.as_str()) {
                        let more = self.with(m, |g, now, rng| {
                            g.peer_bundle(&other, &b, now, rng).unwrap()
                        });
                        out.extend(more);
                    }
                }
                out
            } else {
                let mut out = self.with(m, |g, now, rng| g.member_joined(who, now, rng));
                if let Some(b) = self.bundles.get(who).cloned() {
                    out.extend(
                        self.with(m, |g, now, rng| g.peer_bundle(who, &b, now, rng).unwrap()),
                    );
                }
                out
            };
            self.route(m, out);
        }
        self.run();
    }

    fn leave(&mut self, who: &str) {
        self.members.remove(who);
        self.bundles.remove(who);
        let others: Vec<String> = self.members.keys().cloned().collect();
        for m in others {
            let out = self.with(&m, |g, now, rng| g.member_left(who, now, rng));
            self.route(&m, out);
        }
        self.run();
    }

    fn route(&mut self, from: &str, out: Vec<Output>) {
        for o in out {
            match o {
                Output::PublishBundle(b) => {
                    self.bundles.insert(from.into(), b.clone());
                    for to in self.members.keys().filter(|m| *m != from) {
                        self.wire
                            .push_back((from.into(), to.clone(), Msg::Bundle(b.clone())));
                    }
                }
                Output::SendKey { to, body } => {
                    self.log.push((from.into(), to.clone(), true, body.clone()));
                    self.wire.push_back((from.into(), to, Msg::Key(body)));
                }
                other => self.seen.entry(from.into()).or_default().push(other),
            }
        }
    }

    fn chat(&mut self, from: &str, text: &str) -> String {
        let (body, id, out) = {
            let (now, g) = (self.now, self.members.get_mut(from).unwrap());
            g.seal_chat(text, now, &mut self.rng).unwrap()
        };
        self.route(from, out);
        let to: Vec<String> = self.members[from]
            .roster()
            .filter(|m| *m != from)
            .map(str::to_owned)
            .collect();
        for t in to {
            self.log.push((from.into(), t.clone(), false, body.clone()));
            self.wire
                .push_back((from.into(), t, Msg::Chat(body.clone())));
        }
        self.run();
        id
    }

    fn deliver(&mut self, from: &str, to: &str, msg: Msg) {
        if !self.members.contains_key(to) {
            return;
        }
        let out = match msg {
            Msg::Bundle(b) => self.with(to, |g, now, rng| {
                g.peer_bundle(from, &b, now, rng).unwrap_or_default()
            }),
            Msg::Key(b) => self.with(to, |g, now, rng| g.receive_key(from, &b, now, rng)),
            Msg::Chat(b) => self.with(to, |g, now, _| g.receive_chat(from, &b, now)),
        };
        self.route(to, out);
    }

    fn run(&mut self) {
        while let Some((from, to, msg)) = self.wire.pop_front() {
            self.deliver(&from, &to, msg);
        }
    }

    fn texts(&mut self, who: &str) -> Vec<String> {
        self.seen
            .get_mut(who)
            .map(|v| {
                v.drain(..)
                    .filter_map(|o| match o {
                        Output::Chat(c) => Some(format!("{}: {}", c.from, c.text)),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn errors(&self, who: &str) -> Vec<String> {
        self.seen
            .get(who)
            .map(|v| {
                v.iter()
                    .filter_map(|o| match o {
                        Output::Undecryptable { from, error } => Some(format!("{from}: {error}")),
                        Output::IdentityChanged { participant, .. } => {
                            Some(format!("{participant}: identity changed"))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn visit() -> Sim {
    let mut s = Sim::new();
    s.add("dr", 1);
    s.admit("dr", &["dr"]);
    s.add("pt", 2);
    s.run();
    s.admit("pt", &["dr", "pt"]);
    s
}

#[test]
fn provider_and_patient_chat_both_ways() {
    let mut s = visit();
    s.chat("dr", "hello, how are you feeling?");
    s.chat("pt", "better, thanks");
    assert_eq!(s.texts("pt"), ["dr: hello, how are you feeling?"]);
    assert_eq!(s.texts("dr"), ["pt: better, thanks"]);
    assert!(
        s.errors("dr").is_empty() && s.errors("pt").is_empty(),
        "{:?}",
        s.errors("pt")
    );
    // Both sides show the same safety number.
    let a = s.members["dr"].safety_number("pt").unwrap();
    assert_eq!(Some(a), s.members["pt"].safety_number("dr"));
}

#[test]
fn a_guest_who_left_cannot_read_what_follows() {
    let mut s = visit();
    s.add("gu", 3);
    s.run();
    s.admit("gu", &["dr", "pt", "gu"]);
    s.chat("dr", "welcome, interpreter");
    s.chat("gu", "thank you");
    assert_eq!(s.texts("gu"), ["dr: welcome, interpreter"]);
    assert_eq!(s.texts("pt"), ["dr: welcome, interpreter", "gu: thank you"]);

    // Keep the guest's state to try later ciphertexts with it.
    let mut guest = s.members.remove("gu").unwrap();
    s.leave("gu");
    s.chat("dr", "now the private part");
    s.chat("pt", "my results");
    assert_eq!(s.texts("pt"), ["dr: now the private part"]);
    // Every chat body sent after the guest left, handed to the guest's
    // old state (with all its keys), yields no text.
    let after: Vec<(String, Vec<u8>)> = s
        .log
        .iter()
        .rev()
        .filter(|(_, _, key, _)| !key)
        .take(2)
        .map(|(f, _, _, b)| (f.clone(), b.clone()))
        .collect();
    for (from, body) in after {
        let out = guest.receive_chat(&from, &body, s.now + PENDING_MS + 1);
        assert!(out.iter().all(|o| !matches!(o, Output::Chat(_))));
    }
    // No key message after the leave was addressed to the guest.
    assert!(s.log.iter().rev().take(4).all(|(_, to, _, _)| to != "gu"));
}

#[test]
fn a_swapped_bundle_is_an_identity_change_and_blocks_chat() {
    let mut s = visit();
    // The hub replaces the patient's bundle with one of its own key.
    let mut mallory = Group::new(
        Identity::from_secret_bytes(&[66; 32]),
        Pins::default(),
        "v-1",
        "pt",
        "sha-256 66:66",
    );
    let mut rng = StdRng::seed_from_u64(1);
    let out = mallory.begin(s.now, &mut rng);
    let Some(Output::PublishBundle(fake)) = out.into_iter().next() else {
        panic!()
    };
    let out = s.with("dr", |g, now, rng| {
        g.peer_bundle("pt", &fake, now, rng).unwrap()
    });
    assert!(
        matches!(&out[..], [Output::IdentityChanged { participant, .. }] if participant == "pt")
    );
    assert!(s.members["dr"].is_blocked("pt"));
    // Mallory's chat in the patient's name is not shown.
    let _ = mallory.set_roster(["dr", "pt"], s.now, &mut rng);
    let (body, _, _) = mallory
        .seal_chat("send me the records", s.now, &mut rng)
        .unwrap();
    let out = s.with("dr", |g, now, _| g.receive_chat("pt", &body, now));
    assert!(out.iter().all(|o| !matches!(o, Output::Chat(_))));
    // The real patient's chat is blocked too until the provider accepts.
    s.chat("pt", "is anyone there?");
    assert!(s.texts("dr").is_empty());
    assert!(
        s.members["dr"]
            .check_sdp_fingerprint("pt", "a=fingerprint:sha-256 02:02\r\n")
            .is_err()
    );
}

#[test]
fn sdp_fingerprint_must_match_the_signed_hello() {
    let s = visit();
    let good = format!("v=0\r\na=fingerprint:sha-256 {}\r\n", ["02"; 32].join(":"));
    s.members["dr"].check_sdp_fingerprint("pt", &good).unwrap();
    let lower = good.to_lowercase().replace("sha-256", "SHA-256");
    s.members["dr"].check_sdp_fingerprint("pt", &lower).unwrap();
    let rewritten = format!("v=0\r\na=fingerprint:sha-256 {}\r\n", ["66"; 32].join(":"));
    assert_eq!(
        s.members["dr"].check_sdp_fingerprint("pt", &rewritten),
        Err(E2eeError::FingerprintMismatch("pt".into()))
    );
    // One matching and one rewritten m-section is still a mismatch.
    assert!(
        s.members["dr"]
            .check_sdp_fingerprint("pt", &(good.clone() + &rewritten[5..]))
            .is_err()
    );
    // A second fingerprint spelled so that a prefix match would miss it.
    for spelling in [" a=fingerprint:", "\ta=fingerprint:", "A=Fingerprint:"] {
        let sneaky = format!("{good}{spelling}sha-256 {}\r\n", ["66"; 32].join(":"));
        assert_eq!(
            s.members["dr"].check_sdp_fingerprint("pt", &sneaky),
            Err(E2eeError::FingerprintMismatch("pt".into())),
            "{spelling:?}"
        );
    }
    assert!(
        s.members["dr"]
            .check_sdp_fingerprint("pt", "v=0\r\n")
            .is_err()
    );
    assert_eq!(
        s.members["dr"].check_sdp_fingerprint("zz", &good),
        Err(E2eeError::NoHello("zz".into()))
    );
}

#[test]
fn replayed_keys_and_chats_are_refused() {
    let mut s = visit();
    s.chat("dr", "one");
    s.now += EPOCH_MAX_AGE_MS + 1;
    s.chat("dr", "two"); // a new epoch: a second key message
    assert_eq!(s.texts("pt"), ["dr: one", "dr: two"]);
    let log = s.log.clone();
    let keys: Vec<&Vec<u8>> = log
        .iter()
        .filter(|(from, to, key, _)| from == "dr" && to == "pt" && *key)
        .map(|(_, _, _, body)| body)
        .collect();
    assert!(keys.len() >= 2, "{} key messages", keys.len());
    let current = keys[keys.len() - 1].clone();
    for (from, to, key, body) in log {
        if to != "pt" {
            continue;
        }
        let out = if key {
            s.with("pt", |g, now, rng| g.receive_key(&from, &body, now, rng))
        } else {
            s.with("pt", |g, now, _| g.receive_chat(&from, &body, now))
        };
        assert!(
            out.iter().all(|o| !matches!(o, Output::Chat(_))),
            "replay shown"
        );
        if key && body == current {
            // The same bytes as the key in force (a sender's outbox re-sent
            // after a reconnect): nothing to say.
            assert!(out.is_empty(), "{out:?}");
        } else if key {
            assert!(
                matches!(
                    &out[..],
                    [Output::Undecryptable {
                        error: E2eeError::KeyReplay,
                        ..
                    }]
                ),
                "{out:?}"
            );
        }
    }
}

#[test]
fn a_chat_that_arrives_before_its_key_is_opened_when_the_key_comes() {
    let mut s = Sim::new();
    s.add("dr", 1);
    s.admit("dr", &["dr"]);
    // The patient has not published a bundle yet when admitted, so the
    // provider's key waits for it; the provider chats at once.
    s.members.insert(
        "pt".into(),
        Group::new(
            Identity::from_secret_bytes(&[2; 32]),
            Pins::default(),
            "v-1",
            "pt",
            "",
        ),
    );
    let out = s.with("dr", |g, now, rng| g.member_joined("pt", now, rng));
    s.route("dr", out);
    s.run();
    s.chat("dr", "early");
    // The patient's side: admitted, publishes its bundle, receives the key.
    let out = s.with("pt", |g, now, rng| g.set_roster(["dr", "pt"], now, rng));
    s.route("pt", out);
    s.run();
    assert_eq!(s.texts("pt"), ["dr: early"]);
}

#[test]
fn a_new_epoch_after_1000_messages_and_after_10_minutes() {
    let mut s = visit();
    let e0 = s.members["dr"].epoch().unwrap();
    for i in 0..EPOCH_MAX_MESSAGES {
        s.chat("dr", &format!("m{i}"));
    }
    assert_eq!(s.members["dr"].epoch(), Some(e0));
    s.chat("dr", "the 1001st");
    let e1 = s.members["dr"].epoch().unwrap();
    assert!(e1 > e0);
    s.now += EPOCH_MAX_AGE_MS;
    s.chat("dr", "ten minutes later");
    assert!(s.members["dr"].epoch().unwrap() > e1);
    let texts = s.texts("pt");
    assert_eq!(texts.len() as u64, EPOCH_MAX_MESSAGES + 2);
    assert_eq!(texts.last().unwrap(), "dr: ten minutes later");
    assert!(s.errors("pt").is_empty());
}

#[test]
fn accepting_a_changed_identity_restores_chat() {
    let mut s = visit();
    // The patient reinstalls: new identity key, same participant.
    s.members.insert(
        "pt".into(),
        Group::new(
            Identity::from_secret_bytes(&[22; 32]),
            Pins::default(),
            "v-1",
            "pt",
            "",
        ),
    );
    let out = s.with("pt", |g, now, rng| g.set_roster(["dr", "pt"], now, rng));
    s.route("pt", out);
    s.run();
    assert_eq!(s.errors("dr"), ["pt: identity changed"]);
    let out = s.with("dr", |g, now, rng| g.accept_identity("pt", now, rng));
    s.route("dr", out);
    s.run();
    s.chat("pt", "it's me on my new phone");
    s.chat("dr", "got it");
    assert_eq!(s.texts("dr"), ["pt: it's me on my new phone"]);
    assert_eq!(s.texts("pt"), ["dr: got it"]);
    assert!(s.members["dr"].pins().0["pt"].verified);
}

#[test]
fn a_member_whose_app_restarted_reads_what_follows() {
    let mut s = visit();
    s.chat("dr", "before");
    assert_eq!(s.texts("pt"), ["dr: before"]);
    // The patient's app restarts: the same device key, no state. The hub
    // tells dr the patient is back (joined) with the bundle it stored, the
    // old one; the restarted app's new bundle follows.
    let old = s.bundles["pt"].clone();
    s.members.remove("pt");
    s.now += 60_000;
    s.add("pt", 2);
    let out = s.with("dr", |g, now, rng| {
        let mut out = g.member_joined("pt", now, rng);
        out.extend(g.peer_bundle("pt", &old, now, rng).unwrap());
        out
    });
    s.route("dr", out);
    let out = s.with("pt", |g, now, rng| g.set_roster(["dr", "pt"], now, rng));
    s.route("pt", out);
    let dr_bundle = s.bundles["dr"].clone();
    let out = s.with("pt", |g, now, rng| {
        g.peer_bundle("dr", &dr_bundle, now, rng).unwrap()
    });
    s.route("pt", out);
    s.run();
    s.chat("dr", "after the restart");
    s.chat("pt", "I can read you");
    assert_eq!(s.texts("pt"), ["dr: after the restart"]);
    assert_eq!(s.texts("dr"), ["pt: I can read you"]);
    assert!(s.errors("dr").is_empty(), "{:?}", s.errors("dr"));
    assert!(s.errors("pt").is_empty(), "{:?}", s.errors("pt"));
}

#[test]
fn a_member_that_resumed_or_rotated_causes_no_new_epoch() {
    let mut s = visit();
    s.chat("dr", "one");
    let epoch = |s: &Sim| s.members["dr"].epoch();
    let before = epoch(&s);
    // pt resumes: back in the roster, the same bundle again.
    let b = s.bundles["pt"].clone();
    let out = s.with("dr", |g, now, rng| {
        let mut out = g.member_joined("pt", now, rng);
        out.extend(g.peer_bundle("pt", &b, now, rng).unwrap());
        out
    });
    s.route("dr", out);
    s.run();
    assert_eq!(epoch(&s), before, "a resume keeps dr's epoch");
    // pt rotates its epoch on its own (10 minutes later): dr does not follow.
    s.now += 11 * 60_000;
    s.chat("pt", "after ten minutes");
    assert_eq!(s.texts("dr"), ["pt: after ten minutes"]);
    assert_eq!(epoch(&s), before, "a routine rotation is not a return");
}

//! This device's epochs and the roster: the first epoch (in the waiting
//! room), a new one when the roster changes (members joining, coming back,
//! leaving), each with a fresh ephemeral, signed Hello and chain key, and
//! that chain key granted to every member whose Hello is known.

use super::keys::retire_chains;
use super::{Group, OWN_HISTORY, Output, RETURN_WINDOW_MS};
use crate::e2ee::chain::{ChainContext, ChainKey, SendingChain};
use crate::e2ee::hello::{Hello, SignedHello, roster_hash};
use crate::e2ee::pairwise::{ChainGrant, EphemeralSecret, seal_key_message};
use rand_core::CryptoRngCore;
use std::collections::BTreeSet;

/// One of this device's epochs.
pub(super) struct OwnEpoch {
    /// The X25519 secret behind `hello`'s ephemeral.
    pub(super) secret: EphemeralSecret,
    /// The epoch's signed Hello, as published.
    pub(super) hello: SignedHello,
    /// The epoch's sending chain.
    pub(super) chain: SendingChain,
    /// When the epoch began (unix ms).
    pub(super) started_ms: u64,
    /// The epoch's first chain key, kept while some member still lacks it.
    start: Option<ChainKey>,
    granted: BTreeSet<String>,
}

impl Group {
    /// Starts the first epoch, also before admission (the waiting room), so
    /// providers can send this device keys the moment they admit it
    /// (docs/e2ee.md §4.2); its roster hash is that of this device alone.
    /// Returns [`Output::PublishBundle`]; nothing once an epoch exists.
    pub fn begin(&mut self, now_ms: u64, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        if self.own.is_some() {
            return Vec::new();
        }
        self.new_epoch(now_ms, rng)
    }

    /// The roster the hub shows (on `admitted`): every admitted participant
    /// (this device's own id is added). A different set, or no epoch yet,
    /// starts a new epoch: returns [`Output::PublishBundle`], then
    /// [`Output::SendKey`] for each member whose Hello is known. Chains of
    /// members no longer listed retire ([`OLD_EPOCH_GRACE_MS`](super::OLD_EPOCH_GRACE_MS)).
    /// The same set again returns nothing.
    pub fn set_roster<'a>(
        &mut self,
        members: impl IntoIterator<Item = &'a str>,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Vec<Output> {
        let mut set: BTreeSet<String> = members.into_iter().map(str::to_owned).collect();
        set.insert(self.me.clone());
        if self.roster.as_ref() == Some(&set) && self.own.is_some() {
            return Vec::new();
        }
        for gone in self.roster.iter().flatten().filter(|m| !set.contains(*m)) {
            if let Some(p) = self.peers.get_mut(gone) {
                retire_chains(p, now_ms);
            }
        }
        self.roster = Some(set);
        self.new_epoch(now_ms, rng)
    }

    /// A participant joined (`joined`: admitted, or back). One not in the
    /// roster is added, which starts a new epoch (outputs as for
    /// [`Group::set_roster`]). A member already in the roster came back (a
    /// resume, or a restarted app): nothing now, but if within 60 s it shows
    /// a newer Hello in a bundle, it lost its state, and
    /// [`Group::peer_bundle`] starts a new epoch so it gets a chain key it
    /// can open (docs/e2ee.md §4.2). Ignored before [`Group::set_roster`].
    pub fn member_joined(
        &mut self,
        who: &str,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Vec<Output> {
        let Some(roster) = &self.roster else {
            return Vec::new();
        };
        if roster.contains(who) {
            if who != self.me {
                self.returned
                    .insert(who.to_owned(), now_ms.saturating_add(RETURN_WINDOW_MS));
            }
            return Vec::new();
        }
        let mut set = roster.clone();
        set.insert(who.to_owned());
        self.set_roster(
            set.iter().map(String::as_str).collect::<Vec<_>>(),
            now_ms,
            rng,
        )
    }

    /// A participant left the visit for good (`left` with reason `leave`,
    /// `denied`, `removed` or `expired`, or the hub answered a key message
    /// for it with `not_found`) — not a dropped connection (`closed`),
    /// which is still a member. Starts a new epoch without it (outputs as
    /// for [`Group::set_roster`]). Ignored for a non-member, for this
    /// device's own id, and before [`Group::set_roster`].
    pub fn member_left(
        &mut self,
        who: &str,
        now_ms: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Vec<Output> {
        let Some(roster) = &self.roster else {
            return Vec::new();
        };
        if !roster.contains(who) || who == self.me {
            return Vec::new();
        }
        let set: Vec<String> = roster.iter().filter(|m| *m != who).cloned().collect();
        self.set_roster(set.iter().map(String::as_str), now_ms, rng)
    }

    /// The hash of the current roster, once there is one (docs/e2ee.md §3).
    pub(super) fn roster_hash(&self) -> Option<[u8; 32]> {
        self.roster
            .as_ref()
            .map(|r| roster_hash(r.iter().map(String::as_str)))
    }

    /// Begins a new own epoch, in the steps of docs/e2ee.md §4.3: returns
    /// the bundle to publish and the grants that can go out now.
    pub(super) fn new_epoch(&mut self, now_ms: u64, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        let epoch = self
            .epoch()
            .map_or(now_ms, |e| e.saturating_add(1).max(now_ms));
        let secret = EphemeralSecret::generate(rng);
        let roster_hash = self
            .roster_hash()
            .unwrap_or_else(|| roster_hash([self.me.as_str()]));
        let hello = SignedHello::sign(
            &self.identity,
            Hello {
                visit: self.visit.clone(),
                epoch,
                member: self.me.clone(),
                identity: self.identity.public(),
                ephemeral: secret.public(),
                dtls_fingerprint: self.dtls.clone(),
                roster_hash,
            },
        );
        let mut ck = [0u8; 32];
        rng.fill_bytes(&mut ck);
        let ck = ChainKey::from_bytes(ck);
        let chain = SendingChain::new(
            ck.clone(),
            ChainContext {
                visit: self.visit.clone(),
                epoch,
                sender: self.me.clone(),
                roster_hash,
            },
        );
        let bundle = hello.to_bundle_json();
        if let Some(old) = self.own.replace(OwnEpoch {
            secret,
            hello,
            chain,
            started_ms: now_ms,
            start: Some(ck),
            granted: BTreeSet::new(),
        }) {
            self.own_history.push_front((old.secret, old.hello));
            self.own_history.truncate(OWN_HISTORY);
        }
        let mut out = vec![Output::PublishBundle(bundle)];
        out.extend(self.grant_missing(rng));
        out
    }

    /// Sends the current epoch's chain key to every member who lacks it and
    /// whose Hello is known; forgets the key once everyone has it.
    pub(super) fn grant_missing(&mut self, rng: &mut impl CryptoRngCore) -> Vec<Output> {
        let mut out = Vec::new();
        let (Some(own), Some(roster)) = (self.own.as_mut(), self.roster.as_ref()) else {
            return out;
        };
        let Some(start) = own.start.as_ref() else {
            return out;
        };
        let grant = ChainGrant {
            start: 0,
            key: start.clone(),
        };
        for member in roster.iter().filter(|m| **m != self.me) {
            if own.granted.contains(member) {
                continue;
            }
            let Some(peer) = self.peers.get(member) else {
                continue;
            };
            let (Some(theirs), None) = (&peer.hello, &peer.blocked) else {
                continue;
            };
            if let Ok(body) = seal_key_message(&own.secret, &own.hello, theirs, &grant, rng) {
                own.granted.insert(member.clone());
                out.push(Output::SendKey {
                    to: member.clone(),
                    body,
                });
            }
        }
        if roster
            .iter()
            .all(|m| *m == self.me || own.granted.contains(m))
        {
            own.start = None; // zeroized on drop
        }
        out
    }
}

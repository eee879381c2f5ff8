//! Perfect negotiation on a backend: what each peer's negotiator asks
//! (offers, answers, descriptions, rollback, candidates, ICE restart)
//! performed one operation at a time and fed back, with every SDP the
//! backend makes checked against the device's certificate; the signals it
//! releases, incoming signals, and the negotiators' timers.

use super::backend::{IceCandidate, PeerBackend};
use super::{Media, MediaOutput, transport};
use crate::native::now_ms;
use crate::session::negotiator::{self, Op, OpResult};
use crate::session::{Event, SdkError, Session, Signal};
use bedside_protocol::ParticipantId;
use bedside_protocol::sdp::fingerprints_all_are;
use std::sync::Arc;

impl Media {
    /// The connection to `peer` fired `negotiationneeded`.
    pub(super) async fn negotiate(
        &mut self,
        peer: &ParticipantId,
        out: &mut Vec<MediaOutput>,
    ) -> Result<(), SdkError> {
        self.peer(peer)?.neg.negotiation_needed(now_ms());
        self.drive(peer, out).await
    }

    /// Restarts ICE with `peer` (a network change).
    pub(super) async fn restart_ice(
        &mut self,
        peer: &ParticipantId,
        out: &mut Vec<MediaOutput>,
    ) -> Result<(), SdkError> {
        self.peer(peer)?.neg.restart_ice(now_ms());
        self.drive(peer, out).await
    }

    /// A signal from `peer` (already checked by the session); an offer
    /// opens the connection if there is none.
    pub(super) async fn signal(
        &mut self,
        from: &ParticipantId,
        signal: Signal,
        session: &Session,
        out: &mut Vec<MediaOutput>,
    ) -> Result<(), SdkError> {
        if matches!(signal, Signal::Offer(_)) {
            self.ensure_peer(from, session).await?;
        }
        let Some(p) = self.peers.get_mut(from) else {
            return Ok(()); // an answer or candidate for a peer we closed
        };
        p.neg.remote(now_ms(), signal);
        self.drive(from, out).await
    }

    /// When a negotiator next needs a tick.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.peers
            .values()
            .filter_map(|p| p.neg.next_deadline())
            .min()
    }

    /// Time passed: ticks every negotiator.
    pub(crate) async fn tick(&mut self) -> Vec<MediaOutput> {
        let mut out = Vec::new();
        let now = now_ms();
        let ids: Vec<ParticipantId> = self.peers.keys().cloned().collect();
        for id in ids {
            if let Some(p) = self.peers.get_mut(&id) {
                p.neg.tick(now);
            }
            if let Err(e) = self.drive(&id, &mut out).await {
                out.push(MediaOutput::Event(Event::Error(e)));
            }
        }
        out
    }

    /// Performs what the peer's negotiator asks, one operation at a time,
    /// until it asks for nothing more.
    pub(super) async fn drive(
        &mut self,
        peer: &ParticipantId,
        out: &mut Vec<MediaOutput>,
    ) -> Result<(), SdkError> {
        let fingerprint = self.cert.fingerprint().to_owned();
        loop {
            let p = self.peer(peer)?;
            while let Some(o) = p.neg.poll_output() {
                match o {
                    negotiator::Output::Signal(signal) => out.push(MediaOutput::Signal {
                        to: peer.clone(),
                        signal,
                    }),
                    negotiator::Output::Error(e) => {
                        out.push(MediaOutput::Event(Event::Error(transport(e))));
                    }
                    negotiator::Output::IgnoredOffer => {
                        tracing::debug!(%peer, "ignored a colliding offer (impolite)");
                    }
                    negotiator::Output::IceRestart { attempt } => {
                        tracing::debug!(%peer, attempt, "ICE restart");
                    }
                }
            }
            let Some(op) = p.neg.poll_op() else {
                return Ok(());
            };
            let pc = p.pc.clone();
            // The description being set is readable while it is set
            // (`ontrack` fires inside the call); a refused one is undone.
            let previous = match &op {
                Op::SetRemote { sdp, .. } => Some(set_remote_description(&p.remote, Some(sdp))),
                _ => None,
            };
            let remote = p.remote.clone();
            let result = perform(pc.as_ref(), op, &fingerprint).await;
            if let Some(previous) = previous
                && !matches!(result, Ok(OpResult::Done))
            {
                set_remote_description(&remote, previous.as_deref());
            }
            let result = match result {
                Ok(r) => r,
                Err(Failure::Backend(e)) => OpResult::Failed(e.to_string()),
                Err(Failure::Unresponsive) => {
                    // An operation may still be pending on it: another one
                    // beside it would leave the negotiator's idea of the
                    // connection behind its real state, so it is closed.
                    tracing::warn!(%peer, "{UNRESPONSIVE_CLOSED}");
                    self.close_peer(peer, out).await;
                    out.push(MediaOutput::Event(Event::Error(transport(
                        UNRESPONSIVE_CLOSED,
                    ))));
                    return Ok(());
                }
                Err(Failure::NotOurCertificate) => {
                    // The connection does not use the device's certificate:
                    // nothing it makes can be used (not even the candidates
                    // it gathers for a description it was given), so it is
                    // closed; a later offer opens a new one.
                    tracing::warn!(%peer, "{NOT_OUR_CERTIFICATE}; connection closed");
                    self.close_peer(peer, out).await;
                    out.push(MediaOutput::Event(Event::Error(transport(
                        NOT_OUR_CERTIFICATE_CLOSED,
                    ))));
                    return Ok(());
                }
            };
            self.peer(peer)?.neg.op_done(now_ms(), result);
        }
    }
}

/// Replaces the remote description a connection's events read; returns
/// the one before.
fn set_remote_description(
    remote: &super::backend::RemoteDescription,
    sdp: Option<&str>,
) -> Option<Arc<str>> {
    match remote.lock() {
        Ok(mut r) => std::mem::replace(&mut *r, sdp.map(Arc::from)),
        Err(_) => None,
    }
}

/// Why an operation did not give a result.
#[derive(Debug)]
enum Failure {
    /// The backend failed (the negotiator decides what next).
    Backend(SdkError),
    /// The backend made an SDP under another certificate.
    NotOurCertificate,
    /// The connection stopped answering.
    Unresponsive,
}

impl From<super::BackendError> for Failure {
    fn from(e: super::BackendError) -> Self {
        if e.is_unresponsive() {
            Self::Unresponsive
        } else {
            Self::Backend(transport(e))
        }
    }
}

/// What the app is told when a connection that stopped answering is closed.
pub(super) const UNRESPONSIVE_CLOSED: &str =
    "the peer connection stopped answering; the connection was closed";

/// What the app is told when a connection is closed for
/// [`NOT_OUR_CERTIFICATE`].
pub(super) const NOT_OUR_CERTIFICATE_CLOSED: &str = "the peer connection's SDP names another DTLS certificate than the device's; the connection was closed";

/// Why a backend's SDP is not used: its peer connection does not use the
/// device's certificate, so the fingerprint signed into the Hello would
/// not be the one its peers see.
pub(super) const NOT_OUR_CERTIFICATE: &str =
    "the peer connection's SDP names another DTLS certificate than the device's; not used";

/// One negotiation operation on the backend. Every SDP it makes is
/// checked against the device's fingerprint before the negotiator sees it
/// (so it is neither set nor signalled otherwise).
async fn perform(pc: &dyn PeerBackend, op: Op, fingerprint: &str) -> Result<OpResult, Failure> {
    let ours = |sdp: String| {
        if fingerprints_all_are(&sdp, fingerprint) {
            Ok(OpResult::Sdp(sdp))
        } else {
            Err(Failure::NotOurCertificate)
        }
    };
    match op {
        Op::CreateOffer { ice_restart } => ours(pc.create_offer(ice_restart).await?),
        Op::CreateAnswer => ours(pc.create_answer().await?),
        Op::SetLocal { kind, sdp } => ours(pc.set_local(kind, sdp).await?),
        Op::Rollback => {
            pc.rollback().await?;
            Ok(OpResult::Done)
        }
        Op::SetRemote { kind, sdp } => {
            pc.set_remote(kind, sdp).await?;
            Ok(OpResult::Done)
        }
        Op::AddCandidate {
            candidate,
            sdp_mid,
            sdp_mline_index,
        } => {
            if !candidate.is_empty() {
                pc.add_candidate(IceCandidate {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                })
                .await?;
            }
            Ok(OpResult::Done)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::media::LocalTrack;
    use crate::native::media::backend::{BackendError, SdpKind};

    /// A connection whose every description names `fingerprint`.
    struct Describes(&'static str);

    #[async_trait::async_trait]
    impl PeerBackend for Describes {
        async fn create_offer(&self, _: bool) -> Result<String, BackendError> {
            Ok(format!("v=0\r\na=fingerprint:{}\r\n", self.0))
        }
        async fn create_answer(&self) -> Result<String, BackendError> {
            self.create_offer(false).await
        }
        async fn set_local(&self, _: SdpKind, sdp: String) -> Result<String, BackendError> {
            Ok(sdp)
        }
        async fn rollback(&self) -> Result<(), BackendError> {
            Ok(())
        }
        async fn set_remote(&self, _: SdpKind, _: String) -> Result<(), BackendError> {
            Ok(())
        }
        async fn add_candidate(&self, _: IceCandidate) -> Result<(), BackendError> {
            Ok(())
        }
        async fn add_track(&self, _: &LocalTrack) -> Result<(), BackendError> {
            Ok(())
        }
        async fn remove_track(&self, _: &str) -> Result<(), BackendError> {
            Ok(())
        }
        async fn open_data_channel(&self, _: &str) -> Result<(), BackendError> {
            Ok(())
        }
        async fn send_data(&self, _: &str, _: Vec<u8>) -> Result<(), BackendError> {
            Ok(())
        }
        async fn close(&self) {}
    }

    #[tokio::test]
    async fn a_backend_sdp_under_another_certificate_is_never_used() {
        let ours = "sha-256 AB:CD";
        let offer = Op::CreateOffer { ice_restart: false };
        let good = perform(&Describes("SHA-256 ab:cd"), offer.clone(), ours).await;
        assert!(matches!(good, Ok(OpResult::Sdp(_))));
        for other in ["sha-256 EF:01", "sha-1 AB:CD"] {
            for op in [offer.clone(), Op::CreateAnswer] {
                let r = perform(&Describes(other), op, ours).await;
                assert!(matches!(&r, Err(Failure::NotOurCertificate)), "{r:?}");
            }
        }
        // What the connection holds after setLocalDescription is checked too.
        let set = Op::SetLocal {
            kind: SdpKind::Offer,
            sdp: "v=0\r\na=fingerprint:sha-256 EF:01\r\n".into(),
        };
        assert!(perform(&Describes(ours), set, ours).await.is_err());
    }
}

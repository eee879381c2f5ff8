//! What a command produced, and answering its caller with it (for every
//! backend): each
//! command's reply channel takes one kind of [`Outcome`].

use crate::store::{
    Command, ResumeRecord, RevocationRow, StoreError, StoredMessage, VisitSnapshot,
};

/// What a command produced, answered once its batch is durable.
pub(crate) enum Outcome {
    Bool(bool),
    Unit,
    Resume(Option<ResumeRecord>),
    Visit(VisitSnapshot),
    Count(u64),
    Messages(Vec<StoredMessage>),
    Revocations(Vec<RevocationRow>),
}

/// Answers a command's caller. A dropped receiver means the caller went
/// away; nothing to do.
pub(crate) fn answer(cmd: Command, result: Result<Outcome, StoreError>) {
    fn send<T>(
        tx: tokio::sync::oneshot::Sender<Result<T, StoreError>>,
        r: Result<Outcome, StoreError>,
        pick: impl FnOnce(Outcome) -> Option<T>,
    ) {
        let r = r.and_then(|o| {
            pick(o).ok_or_else(|| StoreError::Backend("mismatched store outcome".into()))
        });
        let _ = tx.send(r);
    }
    match cmd {
        Command::ClaimJti { reply, .. } | Command::Admit { reply, .. } => {
            send(reply, result, |o| match o {
                Outcome::Bool(b) => Some(b),
                _ => None,
            })
        }
        Command::PutResume { reply, .. } | Command::WriteVisit { reply, .. } => {
            send(reply, result, |o| matches!(o, Outcome::Unit).then_some(()))
        }
        Command::TakeResume { reply, .. } | Command::SwapResume { reply, .. } => {
            send(reply, result, |o| match o {
                Outcome::Resume(r) => Some(r),
                _ => None,
            })
        }
        Command::LoadVisit { reply, .. } => send(reply, result, |o| match o {
            Outcome::Visit(v) => Some(v),
            _ => None,
        }),
        Command::Sweep { reply, .. } | Command::AppendMessage { reply, .. } => {
            send(reply, result, |o| match o {
                Outcome::Count(n) => Some(n),
                _ => None,
            })
        }
        Command::Backlog { reply, .. } => send(reply, result, |o| match o {
            Outcome::Messages(m) => Some(m),
            _ => None,
        }),
        Command::LoadRevocations { reply } => send(reply, result, |o| match o {
            Outcome::Revocations(r) => Some(r),
            _ => None,
        }),
        Command::Revoke { reply, .. } => send(reply, result, |o| match o {
            Outcome::Revocations(r) => r.first().map(|(_, at, until)| (*at, *until)),
            _ => None,
        }),
        Command::Rekey { reply, .. } => {
            send(reply, result, |o| matches!(o, Outcome::Unit).then_some(()))
        }
    }
}

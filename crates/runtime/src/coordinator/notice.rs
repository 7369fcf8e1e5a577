//! Notices as the coordinator emits them: owned, so they can cross threads before an observer
//! sees them as a borrowed [`Notice`].

use crate::ExitKind;
use crate::observer::Notice;

/// An owned [`Notice`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NoticeData {
    WorkerStarted {
        slot: usize,
        pid: u32,
    },
    WorkerDied {
        slot: usize,
        pid: u32,
        exit: ExitKind,
        chaos: bool,
        stderr_tail: String,
    },
    SpawnFailed {
        slot: usize,
        message: String,
    },
    Misbehaved {
        slot: usize,
        pid: u32,
        reason: String,
    },
}

impl NoticeData {
    /// The notice as observers see it.
    pub(crate) fn as_notice(&self) -> Notice<'_> {
        match self {
            NoticeData::WorkerStarted { slot, pid } => Notice::WorkerStarted {
                slot: *slot,
                pid: *pid,
            },
            NoticeData::WorkerDied {
                slot,
                pid,
                exit,
                chaos,
                stderr_tail,
            } => Notice::WorkerDied {
                slot: *slot,
                pid: *pid,
                exit: *exit,
                chaos: *chaos,
                stderr_tail,
            },
            NoticeData::SpawnFailed { slot, message } => Notice::SpawnFailed {
                slot: *slot,
                message: message.clone(),
            },
            NoticeData::Misbehaved { slot, pid, reason } => Notice::Misbehaved {
                slot: *slot,
                pid: *pid,
                reason: reason.clone(),
            },
        }
    }
}

//! How a caller follows a run as it happens.

use crate::{ExitKind, Outcome};

/// Something worth telling a user while a run goes on; the engine itself never prints.
#[derive(Debug)]
pub enum Notice<'a> {
    /// A worker connected and is taking work.
    WorkerStarted {
        /// The worker's slot.
        slot: usize,
        /// Its pid.
        pid: u32,
    },
    /// A worker died while it was still needed (the slot is being refilled).
    WorkerDied {
        /// The worker's slot.
        slot: usize,
        /// Its pid.
        pid: u32,
        /// How it ended.
        exit: ExitKind,
        /// True when `--chaos-kill-every` killed it.
        chaos: bool,
        /// The last lines it wrote to stderr.
        stderr_tail: &'a str,
    },
    /// A worker could not be started or did not complete its handshake.
    SpawnFailed {
        /// The slot being filled.
        slot: usize,
        /// What went wrong.
        message: String,
    },
    /// A worker broke the protocol, or overran its task timeout, or stopped beating its
    /// heartbeat, and is being killed ([`Notice::WorkerDied`] follows when it is gone).
    Misbehaved {
        /// The worker's slot.
        slot: usize,
        /// Its pid.
        pid: u32,
        /// What it did, e.g. `task 7 timed out after 30s`.
        reason: String,
    },
}

/// Receives each task's final outcome (in completion order) and notices about workers.
///
/// Any `FnMut(usize, &T, &Outcome<O>)` closure is an observer that ignores notices.
pub trait Observer<T, O> {
    /// Task `index` (which is `task`) reached its final outcome.
    fn outcome(&mut self, index: usize, task: &T, outcome: &Outcome<O>);

    /// Something happened to a worker.
    fn notice(&mut self, _notice: &Notice<'_>) {}
}

impl<T, O, F: FnMut(usize, &T, &Outcome<O>)> Observer<T, O> for F {
    fn outcome(&mut self, index: usize, task: &T, outcome: &Outcome<O>) {
        self(index, task, outcome)
    }
}

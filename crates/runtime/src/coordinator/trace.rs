//! Lifecycle records: what the coordinator decided and why, as typed data for an event log.
//!
//! The coordinator emits them as [`super::Command::Trace`] only when the run is traced
//! (`Settings::trace`), so an untraced run pays one branch per decision. They carry what only
//! the coordinator knows (why a worker died, which attempt a task was on, whether it will be
//! retried); the executor adds the time and the task's label, and the event log's own thread
//! turns them into JSON lines (`crate::events`).

use crate::exit::ExitKind;
use crate::protocol::Span;
use std::time::Duration;

/// Why a slot asks for a new process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpawnReason {
    /// The run's first fill.
    Start,
    /// The previous process died or failed to start.
    Restart,
    /// The previous process was recycled (`max_tasks_per_child`).
    Recycle,
}

/// Why the coordinator has a worker killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KillCause {
    Chaos,
    Timeout,
    Heartbeat,
    /// It broke the protocol (garbled frame, answer out of order).
    Protocol,
}

/// Who or what ended a worker process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExitCause {
    /// It died unexpectedly (a crash, a kill from outside, an unclean exit).
    Crash,
    Chaos,
    Timeout,
    Heartbeat,
    Protocol,
    /// Its job could not start.
    Setup,
    /// It served `max_tasks_per_child` tasks and left.
    Recycle,
    /// The run was over and it was asked to exit.
    Finish,
    /// The run was stopped (a signal, a give-up) or ended while it was starting.
    Stop,
}

impl ExitCause {
    /// True for the exits the summary counts as worker crashes.
    #[cfg(test)]
    pub(crate) fn is_death(self) -> bool {
        !matches!(
            self,
            ExitCause::Recycle | ExitCause::Finish | ExitCause::Stop
        )
    }
}

/// How one attempt at a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AttemptEnd {
    /// The job returned an output (which may be the job's own error).
    Done,
    Panicked,
    /// Its worker died under it.
    Crashed,
    /// Its worker was killed by chaos.
    Chaos,
    TimedOut,
    /// Its worker's heartbeat went silent.
    Unresponsive,
}

/// Task ids of one batch: a range when consecutive (the usual case), else the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BatchIds {
    Range { first: u64, n: u64 },
    List(Vec<u64>),
}

impl BatchIds {
    pub(crate) fn of(ids: &[u64]) -> Self {
        let first = ids.first().copied().unwrap_or(0);
        if ids
            .iter()
            .enumerate()
            .all(|(i, &id)| id == first + i as u64)
        {
            BatchIds::Range {
                first,
                n: ids.len() as u64,
            }
        } else {
            BatchIds::List(ids.to_vec())
        }
    }

    /// The ids, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let (range, list) = match self {
            BatchIds::Range { first, n } => (*first..first + n, &[][..]),
            BatchIds::List(ids) => (0..0, ids.as_slice()),
        };
        range.chain(list.iter().copied())
    }

    pub(crate) fn contains(&self, id: u64) -> bool {
        match self {
            BatchIds::Range { first, n } => id >= *first && id - first < *n,
            BatchIds::List(ids) => ids.contains(&id),
        }
    }
}

/// How a process ended, with what it cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExitStats {
    pub(crate) exit: ExitKind,
    pub(crate) max_rss_bytes: u64,
    pub(crate) cpu: Duration,
}

/// One lifecycle record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Trace {
    /// A process is requested for `slot`.
    Spawn { slot: usize, reason: SpawnReason },
    /// The slot's process completed its handshake, built its job and takes tasks.
    Ready { slot: usize, pid: u32 },
    /// The slot's process could not be started (`exit`: it existed and was reaped).
    SpawnFailed {
        slot: usize,
        pid: Option<u32>,
        error: String,
        exit: Option<ExitStats>,
    },
    /// A batch was handed to a worker. `labels`: where the executor put each task's label
    /// in the text sent along with the record (one per task, in order; none from the
    /// coordinator). Labels travel with the batch because the tasks were just read to encode
    /// it: by the time a result comes back they are out of the cache, and reading a million
    /// of them again cost more than everything else the log does.
    Batch {
        slot: usize,
        pid: u32,
        ids: BatchIds,
        labels: Vec<std::ops::Range<usize>>,
    },
    /// One attempt at a task ended (exactly one per attempt). `span`: as the worker measured
    /// it (for attempts the worker answered); `started_us`: when an attempt whose worker died
    /// started, if the worker had marked it (else 0).
    Task {
        id: u64,
        slot: usize,
        pid: u32,
        attempt: u32,
        end: AttemptEnd,
        span: Option<Span>,
        started_us: u64,
        cost: u64,
    },
    /// The task goes back to the queue for attempt number `attempt`.
    Retry { id: u64, attempt: u32 },
    /// The task's final outcome is a failure.
    Failed {
        id: u64,
        attempts: u32,
        error: String,
    },
    /// The coordinator has a worker killed (SIGKILL for chaos and protocol, SIGTERM first for
    /// timeouts); `task`: the task it overran.
    Kill {
        slot: usize,
        pid: u32,
        cause: KillCause,
        task: Option<u64>,
    },
    /// A connected worker was reaped.
    Exit {
        slot: usize,
        pid: u32,
        cause: ExitCause,
        stats: ExitStats,
    },
    /// Restart intensity exceeded: the run stops.
    GaveUp { reason: String },
    /// A stop request.
    Stop { reason: String, immediate: bool },
    /// Every task has its outcome; the workers are asked to exit.
    Drain,
    /// Ctrl-Z: every worker stopped, timers paused.
    Suspend,
    /// Continued after a suspend.
    Resume,
}

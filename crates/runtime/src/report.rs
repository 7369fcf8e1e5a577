//! What a run produces: one outcome per task, and a summary of how the run went.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Why a task has no result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Failure {
    /// Its worker died while running it, on the last allowed attempt.
    Crashed {
        /// How the worker ended, e.g. "killed by SIGSEGV".
        exit: crate::ExitKind,
        /// The last lines the worker wrote to stderr, if any.
        stderr: String,
    },
    /// The job panicked while running it.
    Panicked(String),
    /// It ran past [`crate::Config::task_timeout`] on the last allowed attempt, and its worker
    /// was killed.
    TimedOut {
        /// The timeout it exceeded.
        after: Duration,
    },
    /// Its worker stopped updating its heartbeat (e.g. it was SIGSTOPped) for
    /// [`crate::Config::heartbeat_timeout`] on the last allowed attempt, and was killed.
    Unresponsive {
        /// The heartbeat timeout that passed.
        after: Duration,
    },
    /// Its worker died after an allocation failed under [`crate::Config::memory_limit`], on
    /// the last allowed attempt.
    OutOfMemory {
        /// The limit, in bytes.
        limit: u64,
        /// How the worker ended (an allocation failure aborts: SIGABRT).
        exit: crate::ExitKind,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Crashed { exit, .. } => write!(f, "{exit}"),
            Failure::Panicked(message) => write!(f, "panicked: {message}"),
            Failure::TimedOut { after } => {
                write!(f, "timed out after {}", crate::units::duration(*after))
            }
            Failure::Unresponsive { after } => write!(
                f,
                "stopped responding (no heartbeat for {})",
                crate::units::duration(*after)
            ),
            Failure::OutOfMemory { limit, exit } => write!(
                f,
                "exceeded --memory-limit of {} ({exit})",
                crate::units::bytes(*limit)
            ),
        }
    }
}

/// The final state of one task.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome<O> {
    /// The job's output, or why there is none.
    pub result: Result<O, Failure>,
    /// How many times the task was started (1 for a task that never met a crash).
    pub attempts: u32,
}

/// Statistics of one worker slot over the whole run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SlotSummary {
    /// Every pid that served in this slot, in order.
    pub pids: Vec<u32>,
    /// Tasks this slot finished.
    pub tasks: u64,
    /// The highest peak RSS among the slot's processes, in bytes.
    pub max_rss_bytes: u64,
    /// CPU time (user + system) of all the slot's processes.
    pub cpu: Duration,
}

/// How the run went.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Tasks in the run.
    pub tasks: u64,
    /// Tasks with an output (the job's own errors included).
    pub completed: u64,
    /// Tasks that failed for good (crashes past the retry budget, panics).
    pub failed: u64,
    /// Tasks never run because the run stopped early.
    pub not_run: u64,
    /// Task re-dispatches after a worker died.
    pub retried: u64,
    /// Worker deaths that were not a requested shutdown (chaos kills included).
    pub worker_crashes: u64,
    /// Of those, kills done by `--chaos-kill-every`.
    pub chaos_kills: u64,
    /// Of those, workers killed by the supervisor because a task overran
    /// [`crate::Config::task_timeout`] or the worker's heartbeat went silent for
    /// [`crate::Config::heartbeat_timeout`]. They do not count toward restart intensity.
    pub timeouts: u64,
    /// Workers that served [`crate::Config::max_tasks_per_child`] tasks and were replaced
    /// (not crashes).
    pub recycled: u64,
    /// Worker processes started.
    pub workers_spawned: u64,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// Per-slot statistics.
    pub slots: Vec<SlotSummary>,
    /// Set when the supervisor gave up (restart intensity), with the reason.
    pub gave_up: Option<String>,
    /// Set when a [`crate::Stopper`] stopped the run early, with the reason given.
    pub interrupted: Option<String>,
}

/// Everything a run produced.
#[derive(Debug)]
pub struct Report<T, O> {
    /// The tasks, handed back in task order.
    pub tasks: Vec<T>,
    /// One entry per task, in task order; `None` only for tasks never run because the run
    /// stopped early (see [`Summary::gave_up`] and [`Summary::interrupted`]).
    pub outcomes: Vec<Option<Outcome<O>>>,
    /// How the run went.
    pub summary: Summary,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExitKind;

    #[test]
    fn failures_name_the_cause_and_the_limit() {
        let after = Duration::from_secs(30);
        assert_eq!(
            Failure::TimedOut { after }.to_string(),
            "timed out after 30s"
        );
        assert_eq!(
            Failure::Unresponsive { after }.to_string(),
            "stopped responding (no heartbeat for 30s)"
        );
        let exit = ExitKind::Signaled {
            signal: 6,
            core_dumped: false,
        };
        assert_eq!(
            Failure::OutOfMemory {
                limit: 64 << 20,
                exit
            }
            .to_string(),
            "exceeded --memory-limit of 64 MiB (killed by SIGABRT)"
        );
    }
}

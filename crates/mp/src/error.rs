//! Errors: at the call site ([`Error`]) and per task ([`TaskError`]).

use supervisor_runtime::{ExitKind, Failure};

/// Why a call could not even start its work.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `supervisor_mp::init()` has not run in this process.
    #[error(
        "supervisor_mp::init() has not run: call `supervisor_mp::init()` as the first line of \
         `main` (and of a `harness = false` test's `main`) before starting processes or pools; \
         workers are re-executions of this binary and must be routed before anything else runs"
    )]
    NotInitialized,
    /// The function is not in this binary's registry of functions.
    #[error(
        "function {0:?} is not registered: define it with `supervisor_mp::task!` or register it \
         with `supervisor_mp::register!`"
    )]
    Unregistered(String),
    /// The argument could not be encoded.
    #[error("cannot encode the argument: {0}")]
    Encode(String),
    /// The configuration cannot work (e.g. zero processes).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The pool or executor no longer accepts work (closed or shut down).
    #[error("the pool is closed: no new work is accepted")]
    Closed,
    /// The pool was closed or terminated: it takes no more calls (Python's `ValueError("Pool
    /// not running")`).
    #[error("Pool not running: it was closed or terminated and takes no more calls")]
    PoolNotRunning,
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Why one task (or one [`crate::Process`]) has no result. Every other task is unaffected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The function panicked (Python: an exception raised in the worker).
    #[error("panicked: {0}")]
    Panicked(String),
    /// The worker process exited while running the task (e.g. `std::process::exit(3)`).
    #[error("exited with status {code}")]
    Exited {
        /// The exit status.
        code: i32,
        /// The last lines the worker wrote to stderr.
        stderr: String,
    },
    /// The worker process was killed by a signal while running the task (abort, segfault,
    /// `kill -9`, [`crate::Process::terminate`]).
    #[error("killed by {}", ExitKind::signal_name(*signal))]
    Signaled {
        /// The signal number (e.g. 9 for SIGKILL).
        signal: i32,
        /// The last lines the worker wrote to stderr.
        stderr: String,
    },
    /// Any other failure the supervisor reported (timed out, out of memory, unresponsive).
    #[error("{0}")]
    Failed(String),
    /// The worker could not decode the argument, encode the result, or find the function; or
    /// the parent could not decode the result.
    #[error("{0}")]
    Remote(String),
    /// The task never ran: its run was stopped (pool dropped or terminated), or the supervisor
    /// gave up after too many worker deaths in a short time.
    #[error("not run: {0}")]
    NotRun(String),
    /// The task was cancelled before it started.
    #[error("cancelled")]
    Cancelled,
}

/// How a [`crate::Process`] ended without a result: the same cases as a task.
pub type ProcessError = TaskError;

impl TaskError {
    /// Python's `Process.exitcode` for this ending: the exit status, minus the signal number
    /// for a signal, 1 for a panic; `None` when the process never ran it or it ended otherwise.
    pub fn exitcode(&self) -> Option<i32> {
        match self {
            TaskError::Exited { code, .. } => Some(*code),
            TaskError::Signaled { signal, .. } => Some(-signal),
            TaskError::Panicked(_) => Some(1),
            _ => None,
        }
    }

    /// The signal's name (`SIGKILL`) when a signal ended the worker.
    pub fn signal_name(&self) -> Option<String> {
        match self {
            TaskError::Signaled { signal, .. } => Some(ExitKind::signal_name(*signal)),
            _ => None,
        }
    }

    pub(crate) fn from_failure(failure: Failure) -> Self {
        match failure {
            Failure::Panicked(message) => TaskError::Panicked(message),
            Failure::Crashed {
                exit: ExitKind::Exited(code),
                stderr,
            } => TaskError::Exited { code, stderr },
            Failure::Crashed {
                exit: ExitKind::Signaled { signal, .. },
                stderr,
            } => TaskError::Signaled { signal, stderr },
            other => TaskError::Failed(other.to_string()),
        }
    }
}

/// This crate's `Result` for call-site errors.
pub type Result<T, E = Error> = std::result::Result<T, E>;

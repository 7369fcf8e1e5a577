//! `exec`: any command as a task, one per input item, with GNU parallel's replacement strings.
//!
//! # The life of one task
//!
//! 1. **The command line** ([`Template`]): COMMAND and its ARGs with `{}`, `{.}`, `{/}`, `{//}`,
//!    `{/.}`, `{#}` and `{%}` filled in ([`replace`] reproduces GNU parallel's Perl for the path
//!    ones). Without a replacement string the item is appended as one more argument. No shell is
//!    involved: each word stays exactly one argument whatever the item holds. With `shell`, the
//!    words are joined into one line for `sh -c`, each replacement single-quoted so it stays one
//!    shell word.
//! 2. **The child**: started with `posix_spawn` (std's `Command` without `pre_exec`, so the
//!    kernel need not copy the worker's page tables: on this project's VM a `fork` costs as much
//!    as the whole rest of a short task), in the worker's own process group, stdin on
//!    `/dev/null`, stdout and stderr into fresh unnamed files (see `capture`).
//! 3. **Its end**: the exit status is the result. A non-zero status or a signal is a failed
//!    result ([`CommandEnd`]), not a crash of the worker; it is run again only up to
//!    [`ExecSetup::retry_failed`] times. Small output travels back inline (up to
//!    `inline_max` bytes), bigger output as the path of a file named in the spill directory.
//!    A command that died of the SIGTERM its runner got too (a timeout or a stop signals the
//!    whole group) reports nothing ([`Executor::watch_termination`]): the task is the
//!    supervisor's to account for, as a timeout or a task not run.
//!
//! # The process tree, and the guardian
//!
//! The supervisor signals a worker's whole process group: a timeout or a stop sends SIGTERM,
//! then SIGKILL after a grace; chaos sends SIGKILL. Commands run in that group, so they and
//! their children get the same signals. Two gaps remain, and a *guardian* closes both: a worker
//! killed alone (`kill -9 PID` from outside, a crash) would leave its command running, and a
//! worker that dies at the first SIGTERM is reaped before the grace ends, so a command that
//! ignores SIGTERM would never get the SIGKILL. The guardian is a tiny child forked once per
//! worker into the group (no exec; it closes every descriptor). It waits for its parent's
//! death (`PR_SET_PDEATHSIG`) and then SIGKILLs the whole group: after the grace when SIGTERM
//! reached the group first, at once otherwise. When the worker ends normally it tells the
//! guardian to leave quietly, so a background process a task started on purpose survives, as
//! with GNU parallel. A command that moves itself into a new session or process group
//! (`setsid`, a daemon) has left the supervised tree, for the supervisor as for job control.
//!
//! Everything here runs in whatever process calls [`Executor::run`]; the guardian only starts
//! when that process leads its own process group.

mod capture;
mod items;
pub mod replace;
mod run;
mod template;
mod through;

pub use capture::{CaptureMode, Captured, SPILL_PREFIX, anonymous_file, spill_prefix};
pub use items::split_items;
pub use run::Executor;
pub use template::{Fill, Placeholder, Template, shell_quote};

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The bytes of one stream sent inline with a result; more is spilled to a file. The engine
/// keeps every result until the run ends, so this bounds what each task costs the parent.
pub const INLINE_MAX: u64 = 64 * 1024;

/// Run-wide parameters of an `exec` run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExecSetup {
    /// COMMAND and its ARGs, as bytes.
    pub command: Vec<Vec<u8>>,
    /// Run the command line through `sh -c`.
    pub shell: bool,
    /// How many more times a failed command (non-zero status, signal, could not start) runs.
    pub retry_failed: u32,
    /// Where output goes.
    pub capture: CaptureMode,
    /// The grace between SIGTERM and SIGKILL for a command tree whose worker was terminated.
    pub kill_grace: Duration,
}

/// One item.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExecTask {
    /// `{#}`: its position in the input, from 1.
    pub seq: u64,
    /// The item's bytes.
    #[serde(with = "serde_bytes")]
    pub item: Vec<u8>,
}

/// How the command of a task ended (the binary words it as the engine words a worker's end:
/// `exited with status 3`, `killed by SIGSEGV`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandEnd {
    /// It exited with this status.
    Exited(i32),
    /// A signal killed it.
    Signaled {
        /// The signal's number.
        signal: i32,
        /// Whether it dumped core.
        core_dumped: bool,
    },
    /// It could not run, or its output could not be kept.
    Error(String),
}

impl CommandEnd {
    /// True for exit status 0.
    pub fn is_success(&self) -> bool {
        matches!(self, CommandEnd::Exited(0))
    }
}

/// What a task produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExecOutput {
    /// How its (last) run ended.
    pub end: CommandEnd,
    /// What it wrote to stdout.
    pub stdout: Captured,
    /// What it wrote to stderr.
    pub stderr: Captured,
    /// The last run's wall time, in microseconds.
    pub duration_us: u64,
    /// How many times the command ran (more than 1 after `retry_failed` retries).
    pub runs: u32,
}

/// Why an [`Executor`] cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The command line is empty.
    #[error("no command to run")]
    NoCommand,
    /// /dev/null could not be opened for the commands' stdin.
    #[error("cannot open /dev/null: {}", crate::describe_io_error(.0))]
    DevNull(#[source] std::io::Error),
    /// The process-group guardian could not be started.
    #[error("cannot start the process-group guardian: {}", crate::describe_io_error(.0))]
    Guardian(#[source] std::io::Error),
}

#[cfg(test)]
mod tests;

//! How a worker process ended, as `waitpid` reported it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The way a process ended: the source of truth for a worker's death is `waitpid`, not the
/// channel (a closed channel only says "something happened").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitKind {
    /// The process called `exit` (or returned from `main`) with this status.
    Exited(i32),
    /// The process was killed by a signal.
    Signaled {
        /// The signal number (e.g. 9 for SIGKILL).
        signal: i32,
        /// Whether the kernel wrote a core dump.
        core_dumped: bool,
    },
}

impl ExitKind {
    /// True for a clean `exit(0)`.
    pub fn is_success(&self) -> bool {
        matches!(self, ExitKind::Exited(0))
    }

    /// The signal's name, such as `SIGSEGV`, or `signal N` for one without a name.
    pub fn signal_name(signal: i32) -> String {
        nix::sys::signal::Signal::try_from(signal)
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|_| format!("signal {signal}"))
    }
}

impl fmt::Display for ExitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitKind::Exited(code) => write!(f, "exited with status {code}"),
            ExitKind::Signaled {
                signal,
                core_dumped,
            } => {
                write!(f, "killed by {}", ExitKind::signal_name(*signal))?;
                if *core_dumped {
                    write!(f, " (core dumped)")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_cause() {
        assert_eq!(ExitKind::Exited(3).to_string(), "exited with status 3");
        let kill = ExitKind::Signaled {
            signal: 9,
            core_dumped: false,
        };
        assert_eq!(kill.to_string(), "killed by SIGKILL");
        let segv = ExitKind::Signaled {
            signal: 11,
            core_dumped: true,
        };
        assert_eq!(segv.to_string(), "killed by SIGSEGV (core dumped)");
        assert!(ExitKind::Exited(0).is_success());
    }
}

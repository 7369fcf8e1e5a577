//! The runtime's error type.

use std::io;

/// What can stop the engine itself (as opposed to a task or a worker failing, which are
/// reported per task in the [`crate::Report`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system call failed.
    #[error("{context}: {source}")]
    Io {
        /// What the engine was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A peer sent something that is not a valid frame, or the handshake was refused.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The configuration cannot work (e.g. zero workers).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A worker-mode invocation named a job this binary does not know.
    #[error("unknown job {0:?}: this binary cannot run it")]
    UnknownJob(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

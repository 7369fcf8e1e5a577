//! Why discovery passes over an entry on purpose.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an entry was deliberately not turned into a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SkipReason {
    /// A named pipe: opening it could block forever and reading it would consume its data.
    Fifo,
    /// A Unix domain socket, which cannot be read as a file.
    Socket,
    /// A block or character device: reading it could be endless (`/dev/zero`) or disruptive.
    Device,
    /// A symlink met while walking with symlink following off.
    Symlink,
}

impl SkipReason {
    /// A short stable identifier for machine-readable output: `fifo`, `socket`, `device`,
    /// `symlink`.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::Fifo => "fifo",
            SkipReason::Socket => "socket",
            SkipReason::Device => "device",
            SkipReason::Symlink => "symlink",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::Fifo => "is a FIFO",
            SkipReason::Socket => "is a socket",
            SkipReason::Device => "is a device",
            SkipReason::Symlink => "symlink (not followed)",
        })
    }
}

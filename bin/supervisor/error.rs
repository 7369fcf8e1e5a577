//! The binary's one error layer and its exit codes.

use std::fmt;

/// Exit codes, the contract documented in the README.
pub mod code {
    /// Every task succeeded.
    pub const OK: u8 = 0;
    /// Some tasks failed (an unreadable file, a task that used up its retries, ...).
    pub const TASKS_FAILED: u8 = 1;
    /// Usage error or bad input; nothing was run (or the output could not be written).
    pub const USAGE: u8 = 2;
    /// The supervisor gave up (restart intensity) or failed internally.
    pub const GAVE_UP: u8 = 3;
}

/// Anything that ends a command early.
#[derive(Debug)]
pub enum CliError {
    /// The user asked for something that cannot work; exit 2.
    Usage(String),
    /// Writing the output failed; exit 2.
    Output(String),
    /// The engine itself failed; exit 3.
    Engine(supervisor_runtime::Error),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Output(_) => code::USAGE,
            CliError::Engine(_) => code::GAVE_UP,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Output(m) => f.write_str(m),
            CliError::Engine(e) => write!(f, "{e}"),
        }
    }
}

impl From<supervisor_runtime::Error> for CliError {
    fn from(e: supervisor_runtime::Error) -> Self {
        CliError::Engine(e)
    }
}

//! What probing one target found.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The verdict on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProbeStatus {
    /// A TCP connection was established.
    Up,
    /// The host answered but refused the connection (nothing listens on the port).
    Down,
    /// No answer before the deadline, while resolving the name or connecting.
    Timeout,
    /// Anything else: the name does not resolve, the network is unreachable, ...
    Error,
}

impl fmt::Display for ProbeStatus {
    /// `up`, `down`, `timeout`, `error`: the words of the output formats.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeStatus::Up => "up",
            ProbeStatus::Down => "down",
            ProbeStatus::Timeout => "timeout",
            ProbeStatus::Error => "error",
        })
    }
}

/// The result of probing one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// The target as `host:port` (`[v6]:port`).
    pub target: String,
    /// The verdict.
    pub status: ProbeStatus,
    /// For [`ProbeStatus::Up`]: how long the successful connect took, in milliseconds.
    pub latency_ms: Option<f64>,
    /// For every other status: what happened, e.g. `"Connection refused"`.
    pub error: Option<String>,
}

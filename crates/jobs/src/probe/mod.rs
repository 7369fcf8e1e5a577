//! The `probe` job: TCP reachability of `HOST:PORT` targets, with latency, as the seed's
//! server-monitoring example does, but concurrent and with honest statuses.
//!
//! The parent parses targets ([`parse_target`], [`parse_targets_file`]) and groups them into
//! tasks; a task's work is [`probe_group`], which probes its targets concurrently since the
//! work is waiting on the network, not computing. Each [`ProbeResult`] is `up` with a latency,
//! or `down` (refused), `timeout` or `error` with a message; order is kept.

mod connect;
mod group;
mod resolve;
mod result;
mod target;

pub use connect::probe;
pub use group::{MAX_CONCURRENT, ProbeTask, probe_group};
pub use result::{ProbeResult, ProbeStatus};
pub use target::{Target, TargetError, TargetLineError, parse_target, parse_targets_file};

#[cfg(test)]
mod tests;

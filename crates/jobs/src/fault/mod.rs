//! The hidden `fault` job: tasks that fail in every way a worker process can fail.
//!
//! It exists so the supervisor's failure handling (crash detection, retries, timeouts, memory
//! limits, poison-task isolation) can be driven end to end with real processes. A
//! [`FaultPlan`] says which items misbehave and how; [`FaultPlan::tasks`] turns it into
//! [`FaultTask`]s, and [`FaultTask::run`] does the deed inside whichever process runs it.
//! Successful items produce `item * item`, so results are checkable.

mod plan;
mod run;

pub use plan::{FaultAction, FaultOutput, FaultPlan, FaultTask};

//! The one runtime job every worker serves: call a registered function by name.

use serde::{Deserialize, Serialize};
use supervisor_runtime::{Config, Job, Outcome};

use crate::error::TaskError;

/// One call: which function, and its encoded argument.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Call {
    /// The registered name.
    pub function: String,
    /// The argument, bincode-encoded.
    pub arg: Vec<u8>,
}

/// The runtime [`Job`] behind every process and pool: looks the function up in this binary's
/// registry and calls it. Registered by [`crate::init`].
pub struct CallJob;

impl Job for CallJob {
    const NAME: &'static str = "supervisor_mp::call";
    type Setup = ();
    type Task = Call;
    type Output = Result<Vec<u8>, String>;

    fn start(_setup: ()) -> Result<Self, String> {
        Ok(CallJob)
    }

    fn run(&mut self, call: Call) -> Self::Output {
        let f = crate::function::lookup(&call.function).ok_or_else(|| {
            format!(
                "function {:?} is not registered in the worker",
                call.function
            )
        })?;
        f(&call.arg)
    }

    fn label(call: &Call) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&call.function)
    }
}

/// What a finished task means to a caller.
pub(crate) fn outcome_result(
    outcome: &Outcome<Result<Vec<u8>, String>>,
) -> Result<Vec<u8>, TaskError> {
    match &outcome.result {
        Ok(Ok(bytes)) => Ok(bytes.clone()),
        Ok(Err(message)) => Err(TaskError::Remote(message.clone())),
        Err(failure) => Err(TaskError::from_failure(failure.clone())),
    }
}

/// The engine configuration of a run with these settings.
pub(crate) fn config(workers: usize, settings: &crate::pool::Settings) -> Config {
    let mut config = Config::new(workers.max(1));
    config.worker_args = crate::worker_args();
    config.retries = settings.retries;
    config.max_tasks_per_child = settings.max_tasks_per_child;
    if let Some(chunksize) = settings.chunksize {
        config.max_batch = chunksize.max(1);
    }
    if let Some(max_restarts) = settings.max_restarts {
        config.max_restarts = max_restarts;
    }
    config.task_timeout = settings.task_timeout;
    config.events = settings.events.clone();
    // A caller of this library waits on each result (a `join`, a `get`, the next `map`):
    // hand results over at once rather than gathering them for a millisecond.
    config.deliver_after = std::time::Duration::ZERO;
    config.output = if settings.capture_output {
        supervisor_runtime::WorkerOutput::Capture
    } else {
        supervisor_runtime::WorkerOutput::Forward
    };
    config
}

/// Like [`outcome_result`], taking the outcome (no copy of the bytes).
pub(crate) fn into_result(outcome: Outcome<Result<Vec<u8>, String>>) -> Result<Vec<u8>, TaskError> {
    match outcome.result {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(message)) => Err(TaskError::Remote(message)),
        Err(failure) => Err(TaskError::from_failure(failure)),
    }
}

//! One supervised run on a background thread, reported as events.

use crate::error::{Error, TaskError};
use crate::job::{Call, CallJob, outcome_result};
use std::thread::JoinHandle;
use supervisor_runtime::{Config, Job, Notice, Observer, Outcome, StopMode, Stopper, Supervisor};

/// What a background run reports.
pub(crate) enum Event {
    /// A worker connected; its pid.
    Started(u32),
    /// The task ended; every task gets exactly one of these.
    Done(Result<Vec<u8>, TaskError>),
}

/// A run in progress. Dropping it stops the run at once (SIGKILL) and waits until every
/// worker is reaped.
pub(crate) struct RunHandle {
    stopper: Stopper,
    thread: Option<JoinHandle<()>>,
}

struct Forward<S> {
    sink: S,
    delivered: Vec<bool>,
    /// The last stderr line of the last worker that died unexpectedly (e.g. why its job
    /// could not start), added to a gave-up reason.
    last_stderr: Option<String>,
}

impl<S: FnMut(Event)> Observer<Call, Result<Vec<u8>, String>> for Forward<S> {
    fn outcome(&mut self, index: usize, _task: &Call, outcome: &Outcome<Result<Vec<u8>, String>>) {
        self.delivered[index] = true;
        (self.sink)(Event::Done(outcome_result(outcome)));
    }

    fn notice(&mut self, notice: &Notice<'_>) {
        match notice {
            Notice::WorkerStarted { pid, .. } => (self.sink)(Event::Started(*pid)),
            Notice::WorkerDied { stderr_tail, .. } => {
                self.last_stderr = stderr_tail
                    .lines()
                    .rev()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .map(str::to_string);
            }
            _ => {}
        }
    }
}

impl RunHandle {
    /// Starts running `calls`; `sink` hears every event on the run's thread.
    pub(crate) fn start(
        config: Config,
        calls: Vec<Call>,
        sink: impl FnMut(Event) + Send + 'static,
    ) -> Result<Self, Error> {
        Self::start_job::<CallJob>(config, (), calls, sink)
    }

    fn start_job<J>(
        config: Config,
        setup: J::Setup,
        calls: Vec<Call>,
        sink: impl FnMut(Event) + Send + 'static,
    ) -> Result<Self, Error>
    where
        J: Job<Task = Call, Output = Result<Vec<u8>, String>>,
    {
        let supervisor = Supervisor::<J>::new(config, setup);
        let stopper = supervisor.stopper();
        let thread = std::thread::Builder::new()
            .name("supervisor-mp-run".into())
            .spawn(move || {
                let mut forward = Forward {
                    sink,
                    delivered: vec![false; calls.len()],
                    last_stderr: None,
                };
                let reason = match supervisor.run(calls, &mut forward) {
                    Ok(report) => report
                        .summary
                        .interrupted
                        .or(report.summary.gave_up.map(|r| match &forward.last_stderr {
                            Some(line) => {
                                format!("the supervisor gave up: {r}; the worker said: {line}")
                            }
                            None => format!("the supervisor gave up: {r}"),
                        }))
                        .unwrap_or_else(|| "the run ended early".to_string()),
                    Err(e) => format!("the run failed: {e}"),
                };
                let Forward {
                    mut sink,
                    delivered,
                    ..
                } = forward;
                for done in delivered {
                    if !done {
                        sink(Event::Done(Err(TaskError::NotRun(reason.clone()))));
                    }
                }
            })?;
        Ok(RunHandle {
            stopper,
            thread: Some(thread),
        })
    }

    /// Stops the run now (SIGKILL to every worker); the tasks not finished end as
    /// [`TaskError::NotRun`].
    pub(crate) fn stop(&self, reason: &str) {
        self.stopper.stop(StopMode::Immediate, reason);
    }

    /// A handle that stops this run.
    pub(crate) fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Waits for the run to end (every worker reaped).
    pub(crate) fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunHandle {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stopper.stop(StopMode::Immediate, "dropped");
            let _ = thread.join();
        }
    }
}

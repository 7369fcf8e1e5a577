//! `Process`: one function call in its own worker process.

use crate::error::{Error, ProcessError, TaskError};
use crate::function::{Function, call_of, decode_result};
use crate::pool::Settings;
use crate::run::{Event, RunHandle};
use nix::sys::signal::Signal;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use supervisor_runtime::WorkerSignal;

#[derive(Default)]
struct State {
    pid: Option<u32>,
    /// The task's outcome arrived (the worker is then shut down and reaped).
    result: Option<Result<Vec<u8>, TaskError>>,
    /// The signal `terminate`/`kill` sent, if any.
    signalled: Option<Signal>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A function running in its own worker process (Python's `multiprocessing.Process`, started).
///
/// The process is a re-execution of this binary, supervised by a one-task run on a background
/// thread with no retries: however it ends, [`Process::join`] says how. Dropping a `Process`
/// that is still running kills it (SIGKILL) and reaps it; call [`Process::join`] to wait.
pub struct Process<R> {
    shared: Arc<Shared>,
    run: Mutex<Option<RunHandle>>,
    types: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> Process<R> {
    /// Runs `f(arg)` in a new worker process; returns once the process is started (its pid is
    /// known) or has failed to start.
    pub fn spawn<F: Function<Output = R>>(f: F, arg: F::Arg) -> Result<Self, Error> {
        let call = call_of(&f, &arg)?;
        let shared = Arc::new(Shared::default());
        let sink_shared = Arc::clone(&shared);
        // One task, no retries; a worker that cannot even start ends the run at once.
        let settings = Settings {
            max_restarts: Some(0),
            ..Settings::default()
        };
        let config = crate::job::config(1, &settings);
        let run = RunHandle::start(config, vec![call], move |event| {
            let mut state = sink_shared.lock();
            match event {
                Event::Started(pid) => state.pid = Some(pid),
                Event::Done(result) => {
                    // Signalled before its task reached it: the worker died of our signal.
                    let result = match (result, state.signalled) {
                        (Err(TaskError::NotRun(_)), Some(signal)) => Err(TaskError::Signaled {
                            signal: signal as i32,
                            stderr: String::new(),
                        }),
                        (result, _) => result,
                    };
                    state.result = Some(result);
                }
            }
            sink_shared.changed.notify_all();
        })?;
        let process = Process {
            shared,
            run: Mutex::new(Some(run)),
            types: PhantomData,
        };
        {
            let state = process.shared.lock();
            let _state = process
                .shared
                .changed
                .wait_while(state, |s| s.pid.is_none() && s.result.is_none())
                .unwrap_or_else(|e| e.into_inner());
        }
        Ok(process)
    }

    /// The worker's pid (`None` if it never started).
    pub fn pid(&self) -> Option<u32> {
        self.shared.lock().pid
    }

    /// True until the function has returned or the process has ended.
    pub fn is_alive(&self) -> bool {
        self.shared.lock().result.is_none()
    }

    /// Waits for the process to end and returns the function's result, or how the process
    /// ended without one (exit status, signal, panic). The worker is reaped on return.
    pub fn join(&self) -> Result<R, ProcessError> {
        let state = self.shared.lock();
        let state = self
            .shared
            .changed
            .wait_while(state, |s| s.result.is_none())
            .unwrap_or_else(|e| e.into_inner());
        let result = state.result.clone().expect("waited for the result");
        drop(state);
        self.reap();
        decode_result(&result)
    }

    /// Like [`Process::join`], but gives up after `timeout` (`None`: still running).
    pub fn join_timeout(&self, timeout: Duration) -> Option<Result<R, ProcessError>> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while state.result.is_none() {
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(state);
        Some(self.join())
    }

    /// Python's `exitcode`: `None` while running; the exit status, `-signal`, or 1 for a panic
    /// once ended (0 for a function that returned).
    pub fn exitcode(&self) -> Option<i32> {
        let state = self.shared.lock();
        match state.result.as_ref()? {
            Ok(_) => Some(0),
            Err(e) => e.exitcode(),
        }
    }

    /// Sends SIGTERM to the process ([`join`](Process::join) then reports `killed by SIGTERM`).
    pub fn terminate(&self) {
        self.signal(Signal::SIGTERM);
    }

    /// Sends SIGKILL to the process ([`join`](Process::join) then reports `killed by SIGKILL`).
    pub fn kill(&self) {
        self.signal(Signal::SIGKILL);
    }

    fn signal(&self, signal: Signal) {
        let mut state = self.shared.lock();
        if state.result.is_some() {
            return;
        }
        state.signalled = Some(signal);
        let started = state.pid.is_some();
        drop(state);
        let run = self.run.lock().unwrap_or_else(|e| e.into_inner());
        let Some(run) = run.as_ref() else {
            return;
        };
        if !started {
            run.stop("the process was killed before it started");
            return;
        }
        // Through the engine, which signals the worker's whole process group (anything the
        // function started goes too) and never a pid it has already reaped.
        let signal = match signal {
            Signal::SIGKILL => WorkerSignal::Kill,
            _ => WorkerSignal::Terminate,
        };
        run.stopper().signal_workers(signal);
    }

    fn reap(&self) {
        let run = self.run.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(run) = run {
            run.wait();
        }
    }
}

impl<R> Drop for Process<R> {
    fn drop(&mut self) {
        // RunHandle's own drop kills the worker if it still runs and waits for the reap.
        let run = self.run.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        drop(run);
    }
}

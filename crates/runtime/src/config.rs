//! How a run is configured.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// The supervisor kills a random busy worker at this interval, to show crash isolation at work.
#[derive(Clone, Copy, Debug)]
pub struct Chaos {
    /// Time between kills.
    pub every: Duration,
    /// Seed of the choice of victims, so a run can be repeated.
    pub seed: u64,
}

/// What becomes of what a worker writes to its stdout and stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WorkerOutput {
    /// Captured: the last few KiB (stdout and stderr together) go into failure reports and
    /// nothing reaches the terminal (the default; the command line's choice).
    #[default]
    Capture,
    /// Written where the parent writes, as a Python child's output is: the worker shares the
    /// parent's stdout, and its stderr reaches the parent's stderr line by line (its last few
    /// KiB are still kept for failure reports).
    Forward,
}

/// Parameters of a run. Build with [`Config::new`] and adjust the public fields.
#[derive(Clone, Debug)]
pub struct Config {
    /// Worker processes (slots).
    pub workers: usize,
    /// How many times a task whose worker died is run again before it fails.
    pub retries: u32,
    /// Restart intensity: more than this many unexpected worker deaths (or failed spawns)
    /// within [`Config::restart_window`] stops the run.
    pub max_restarts: u32,
    /// The window of the restart-intensity limit.
    pub restart_window: Duration,
    /// Optional chaos kills.
    pub chaos: Option<Chaos>,
    /// How long a new worker has to connect.
    pub handshake_timeout: Duration,
    /// How long a worker asked to shut down has before it is killed.
    pub shutdown_grace: Duration,
    /// Most tasks in one batch.
    pub max_batch: usize,
    /// The executable to re-execute; `/proc/self/exe` by default, so an upgrade of the binary
    /// mid-run cannot break respawns.
    pub worker_exe: PathBuf,
    /// The worker's whole argv after the executable, instead of the runtime's own
    /// `__supervisor_worker <server>`. Empty (the default): the runtime's argv, recognised by
    /// [`crate::worker::run_if_worker`]. Non-empty: exactly these arguments, and the handshake
    /// server name travels in the `SUPERVISOR_WORKER_SERVER` environment variable instead,
    /// recognised by [`crate::worker::run_if_worker_env`]. For executables whose `main` is not
    /// yours, e.g. a libtest binary: `["__worker_test", "--exact", "--test-threads=1"]` makes it
    /// run only the test `__worker_test`, which calls `run_if_worker_env`.
    pub worker_args: Vec<OsString>,
    /// A task running longer than this gets its worker terminated (SIGTERM, then SIGKILL after
    /// [`Config::kill_grace`]) and is charged an attempt. `None`: tasks may run forever.
    pub task_timeout: Option<Duration>,
    /// How long a worker being killed for a timeout has between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// A connected worker whose scoreboard heartbeat is older than this (it was stopped, or
    /// is wedged as a whole) is killed like a timed-out one. `None` disables the check.
    pub heartbeat_timeout: Option<Duration>,
    /// Each worker process is sent at most this many tasks, then replaced by a fresh one
    /// (bounds leaks in the job). `None`: workers live for the whole run.
    pub max_tasks_per_child: Option<u64>,
    /// Caps each worker's data segment (`RLIMIT_DATA`, i.e. heap and other private writable
    /// memory) at this many bytes, so a runaway task dies alone. `None`: no limit.
    pub memory_limit: Option<u64>,
    /// Where the run writes its lifecycle as JSON Lines (see [`crate::events`]); `None`: no
    /// log, and the workers do not time their tasks.
    pub events: Option<crate::EventLog>,
    /// Outcomes wait at most this long to be handed to the caller's thread together (1 ms by
    /// default: a stream of results costs one wake-up of that thread per millisecond). Zero
    /// hands them over as soon as the coordinator has taken what else was waiting, for
    /// callers that wait on each result before submitting more (a library's persistent pool).
    pub deliver_after: Duration,
    /// What becomes of the workers' stdout and stderr (default: captured).
    pub output: WorkerOutput,
}

impl Config {
    /// Defaults for `workers` worker processes.
    pub fn new(workers: usize) -> Self {
        Config {
            workers,
            retries: 2,
            max_restarts: Self::default_max_restarts(workers),
            restart_window: Duration::from_secs(10),
            chaos: None,
            handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            max_batch: 1024,
            worker_exe: PathBuf::from("/proc/self/exe"),
            worker_args: Vec::new(),
            task_timeout: None,
            kill_grace: Duration::from_secs(2),
            heartbeat_timeout: Some(Duration::from_secs(30)),
            max_tasks_per_child: None,
            memory_limit: None,
            events: None,
            deliver_after: crate::executor::DELIVER_AFTER,
            output: WorkerOutput::Capture,
        }
    }

    /// The default restart intensity: a few deaths per worker before it looks systematic.
    pub fn default_max_restarts(workers: usize) -> u32 {
        (workers as u32).saturating_mul(2).max(10)
    }

    /// The number of cores this process may use (at least 1).
    pub fn available_cores() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    }

    pub(crate) fn validate(&self) -> Result<(), crate::Error> {
        if self.workers == 0 {
            return Err(crate::Error::Config("workers must be at least 1".into()));
        }
        if self.max_batch == 0 {
            return Err(crate::Error::Config("max_batch must be at least 1".into()));
        }
        if let Some(chaos) = self.chaos
            && chaos.every.is_zero()
        {
            return Err(crate::Error::Config(
                "the chaos interval must be positive".into(),
            ));
        }
        if self.task_timeout.is_some_and(|t| t.is_zero()) {
            return Err(crate::Error::Config(
                "the task timeout must be positive".into(),
            ));
        }
        if self.heartbeat_timeout.is_some_and(|t| t.is_zero()) {
            return Err(crate::Error::Config(
                "the heartbeat timeout must be positive".into(),
            ));
        }
        if self.max_tasks_per_child == Some(0) {
            return Err(crate::Error::Config(
                "max_tasks_per_child must be at least 1".into(),
            ));
        }
        if self.memory_limit == Some(0) {
            return Err(crate::Error::Config(
                "the memory limit must be positive".into(),
            ));
        }
        Ok(())
    }
}

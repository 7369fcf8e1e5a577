//! The event log: a JSON Lines record of a run's lifecycle as it happens (workers spawned,
//! ready, killed and reaped; batches sent; every attempt at every task with when it ran;
//! retries, failures, stops, give-ups), for timelines such as `supervisor report`.
//!
//! The coordinator emits typed lifecycle records (`Command::Trace`) only when
//! [`crate::Config::events`] is set; the executor stamps them with the time and hands them, one
//! batch per turn of its loop, to the log's own thread over an unbounded channel, so writing
//! never holds up the run. Workers measure when each task ran (one CLOCK_MONOTONIC read per
//! task, only in traced runs) and send it with the result. The schema is in the README; every
//! line carries its version ([`SCHEMA_VERSION`]).

mod schema;
mod writer;

use crate::coordinator::{BatchIds, Trace};
use crate::report::Summary;
pub(crate) use schema::RunSettings;
pub use schema::SCHEMA_VERSION;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use writer::{Msg, serve};
pub(crate) use writer::{RunInfo, TaskLabels};

/// CLOCK_MONOTONIC in microseconds: the event log's clock, the same in every process of the
/// machine (workers stamp their tasks with it).
pub(crate) fn monotonic_us() -> u64 {
    use nix::time::{ClockId, clock_gettime};
    match clock_gettime(ClockId::CLOCK_MONOTONIC) {
        Ok(t) => t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1_000,
        Err(_) => 0,
    }
}

/// A JSON Lines event log that runs write their lifecycle to (see the module docs and the
/// README's schema).
///
/// Cheap to clone; every clone writes to the same log. Set it as [`crate::Config::events`]
/// and each run with that config appends its lines, the first run's numbered 0 (its lines
/// carry no `run` field), later ones 1, 2, ... Lines are buffered and reach the file within
/// 100 ms, and at once when a run ends. [`EventLog::finish`] waits until everything is written.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` once finished.
    inbox: Mutex<Option<Sender<Msg>>>,
    /// The log's thread, to wake it for what should not wait for its next look at the inbox
    /// (see [`writer::serve`]).
    waker: std::thread::Thread,
    thread: Mutex<Option<JoinHandle<io::Result<()>>>>,
    tool: Mutex<(String, String)>,
    next_run: AtomicU32,
    path: Option<PathBuf>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl EventLog {
    /// Creates (or truncates) the file at `path` and starts the log's thread.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::create(path)?;
        Self::start(Box::new(file), Some(path.to_path_buf()))
    }

    /// A log written to `out` instead of a file.
    pub fn to_writer(out: impl Write + Send + 'static) -> io::Result<Self> {
        Self::start(Box::new(out), None)
    }

    fn start(out: Box<dyn Write + Send>, path: Option<PathBuf>) -> io::Result<Self> {
        let (inbox, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("supervisor-events".into())
            .spawn(move || serve(out, rx))?;
        Ok(EventLog {
            inner: Arc::new(Inner {
                inbox: Mutex::new(Some(inbox)),
                waker: thread.thread().clone(),
                thread: Mutex::new(Some(thread)),
                tool: Mutex::new((
                    "supervisor-runtime".to_string(),
                    env!("CARGO_PKG_VERSION").to_string(),
                )),
                next_run: AtomicU32::new(0),
                path,
            }),
        })
    }

    /// Names the program in the `run_start` lines of runs started from now on (default:
    /// `supervisor-runtime` and its version).
    pub fn with_tool(self, name: &str, version: &str) -> Self {
        *lock(&self.inner.tool) = (name.to_string(), version.to_string());
        self
    }

    /// Records that the program received a signal (e.g. `SIGINT`), for the program's own
    /// signal handling to call; what it does about it (a stop) follows in the run's lines.
    pub fn signal(&self, name: &str) {
        self.send(Msg::Signal {
            at_us: monotonic_us(),
            name: name.to_string(),
        });
        self.inner.waker.unpark();
    }

    /// Takes no more lines, waits until every line sent so far (and every line of runs still
    /// going, until they end) is written and flushed, and reports the first write error.
    /// Later calls (from any clone) return `Ok` at once.
    pub fn finish(&self) -> io::Result<()> {
        lock(&self.inner.inbox).take();
        self.inner.waker.unpark();
        let thread = lock(&self.inner.thread).take();
        match thread {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the event log's thread panicked"))),
            None => Ok(()),
        }
    }

    fn send(&self, msg: Msg) {
        if let Some(inbox) = lock(&self.inner.inbox).as_ref() {
            let _ = inbox.send(msg);
        }
    }

    /// Starts a run's part of the log with its `run_start` line; `None` once finished.
    /// Starts a run's lines; `labels`: the labels of the tasks it has from its start, written
    /// once as its `tasks` lines (its batch lines then label only tasks submitted later).
    pub(crate) fn start_run(
        &self,
        mut info: RunInfo,
        labels: Option<TaskLabels>,
    ) -> Option<Tracer> {
        let labelled_below = labels.as_ref().map_or(0, |l| l.count);
        let inbox = lock(&self.inner.inbox).as_ref()?.clone();
        let run = self.inner.next_run.fetch_add(1, Ordering::Relaxed);
        (info.tool, info.version) = lock(&self.inner.tool).clone();
        let at_us = monotonic_us();
        inbox
            .send(Msg::Start {
                run,
                at_us,
                info: Box::new(info),
                labels,
            })
            .ok()?;
        // Its table of labels is written while the workers start.
        self.inner.waker.unpark();
        Some(Tracer {
            inbox,
            run,
            pending: Vec::new(),
            labels: String::new(),
            staged: None,
            labelled_below,
            unwoken: 0,
            woken: Instant::now(),
            log: Arc::clone(&self.inner),
        })
    }
}

impl fmt::Debug for EventLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLog")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: let the thread write what it has, and wait for it.
        self.inbox
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.waker.unpark();
        if let Some(thread) = self
            .thread
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = thread.join();
        }
    }
}

/// Records a [`Tracer`] hands over before it wakes the log's thread (which otherwise looks at
/// its inbox every [`writer::POLL_EVERY`]) ...
const WAKE_AFTER_RECORDS: usize = 512;

/// ... or after this long, if it handed any over since.
const WAKE_AFTER_TIME: Duration = Duration::from_millis(2);

/// One run's end of the log, owned by its executor: records gather here during a turn of the
/// executor's loop and go to the log's thread together.
pub(crate) struct Tracer {
    /// Declared before `log`, so it is dropped first: the log's thread, which a last handle's
    /// drop waits for, ends only once every sender is gone.
    inbox: Sender<Msg>,
    run: u32,
    pending: Vec<(u64, Trace)>,
    /// The pending task records' labels, one after the other (one allocation per batch of
    /// records instead of one per task).
    labels: String,
    /// Labels rendered while their batch was encoded (see [`Tracer::stage_labels`]): its first
    /// task id, and each label's place in `labels`.
    staged: Option<(u64, Vec<std::ops::Range<usize>>)>,
    /// Tasks below this id are labelled in the run's `tasks` lines: their batches need none.
    labelled_below: u64,
    /// Records sent since the log's thread was last woken, and when that was.
    unwoken: usize,
    woken: Instant,
    /// Keeps the log's thread joinable until the run's last line is sent, and wakes it.
    log: Arc<Inner>,
}

impl Tracer {
    pub(crate) fn push(&mut self, at_us: u64, trace: Trace) {
        self.pending.push((at_us, trace));
    }

    /// Whether a batch of `ids` needs its labels in its own line: some task of it was
    /// submitted after the run started (the `tasks` lines label the others).
    pub(crate) fn labels_needed(&self, ids: impl IntoIterator<Item = u64>) -> bool {
        ids.into_iter().any(|id| id >= self.labelled_below)
    }

    /// Renders the labels of the batch whose first task is `first`, from its tasks while they
    /// are at hand (being encoded for the worker): `label(task, out)` appends a task's. The
    /// batch record that follows ([`Tracer::push_batch`]) takes them instead of looking every
    /// task up again.
    pub(crate) fn stage_labels<T>(
        &mut self,
        first: u64,
        tasks: impl IntoIterator<Item = T>,
        mut label: impl FnMut(T, &mut String),
    ) {
        let ranges = tasks
            .into_iter()
            .map(|task| {
                let start = self.labels.len();
                label(task, &mut self.labels);
                start..self.labels.len()
            })
            .collect();
        self.staged = Some((first, ranges));
    }

    /// Pushes a batch record with its tasks' labels: those staged for it by
    /// [`Tracer::stage_labels`], else `label(id, out)` appends task `id`'s; none are kept if
    /// every label is empty (a job without labels).
    pub(crate) fn push_batch(
        &mut self,
        at_us: u64,
        slot: usize,
        pid: u32,
        ids: BatchIds,
        mut label: impl FnMut(u64, &mut String),
    ) {
        let first = ids.iter().next();
        let staged = self.staged.take();
        let mut labels = match staged {
            _ if !self.labels_needed(ids.iter()) => Vec::new(),
            Some((staged_first, ranges))
                if Some(staged_first) == first && ranges.len() == ids.iter().count() =>
            {
                ranges
            }
            _ => ids
                .iter()
                .map(|id| {
                    let start = self.labels.len();
                    label(id, &mut self.labels);
                    start..self.labels.len()
                })
                .collect(),
        };
        let any = labels.iter().any(|range| !range.is_empty());
        if !any {
            labels.clear();
        }
        let trace = Trace::Batch {
            slot,
            pid,
            ids,
            labels,
        };
        self.pending.push((at_us, trace));
    }

    /// Hands what gathered to the log's thread (never blocks: the channel is unbounded), and
    /// wakes the thread only now and then (see [`WAKE_AFTER_RECORDS`]).
    pub(crate) fn flush(&mut self) {
        // Staged labels live in the buffer handed over here: their batch looks itself up.
        self.staged = None;
        if !self.pending.is_empty() {
            // The next turn likely gathers as much: one allocation of that size, not a
            // doubling series (a turn can gather a thousand records).
            let (count, labels) = (self.pending.len(), self.labels.len());
            let records = std::mem::replace(&mut self.pending, Vec::with_capacity(count));
            let labels = std::mem::replace(&mut self.labels, String::with_capacity(labels));
            let _ = self.inbox.send(Msg::Records {
                run: self.run,
                records,
                labels,
            });
            // What the thread has not looked at when the run ends, the run's end waits for:
            // wake it every so many records, and every few milliseconds while records come (a
            // short run's would otherwise all wait for its end).
            self.unwoken += count;
            let now = Instant::now();
            if self.unwoken >= WAKE_AFTER_RECORDS || now >= self.woken + WAKE_AFTER_TIME {
                self.unwoken = 0;
                self.woken = now;
                self.log.waker.unpark();
            }
        }
    }

    /// The run's last line, with its summary.
    pub(crate) fn end(mut self, summary: &Summary) {
        self.flush();
        let _ = self.inbox.send(Msg::End {
            run: self.run,
            at_us: monotonic_us(),
            summary: Box::new(summary.clone()),
        });
        self.log.waker.unpark();
    }
}

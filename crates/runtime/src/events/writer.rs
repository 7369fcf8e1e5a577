//! The event log's own thread: turns the records runs send it into JSON lines, buffered, and
//! flushes them within [`FLUSH_EVERY`] of being written (at once at a run's end). It keeps what
//! a line needs from earlier lines: when each slot's spawn was requested (for `ready`'s `ms`)
//! and when each worker became free for its next task (for the start of an attempt whose
//! worker died before it could say).

use super::schema::{
    BatchLine, Ended, Ev, RunSettings, SCHEMA_VERSION, SlotOut, SummaryOut, TaskLine, TasksLine,
};
use crate::coordinator::{
    AttemptEnd, BatchIds, ExitCause, ExitStats, KillCause, SpawnReason, Trace,
};
use crate::exit::ExitKind;
use crate::report::Summary;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

/// Lines reach the file at most this long after they were written (and so within about
/// `FLUSH_EVERY` + [`POLL_EVERY`] = 100 ms of happening).
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(80);

/// How often the thread looks at its inbox while nothing wakes it. A send that woke the
/// thread on every turn of a run's loop (a futex call there, a context switch here, on a core
/// the workers need) cost as much as writing the records; a [`super::Tracer`] wakes it every
/// few hundred records or milliseconds instead, and a run's end, a signal and the log's end at
/// once.
pub(crate) const POLL_EVERY: Duration = Duration::from_millis(20);

/// Lines are written out in pieces of about this size (and at every flush).
const WRITE_AT: usize = 256 * 1024;

/// What a run (or the program) sends the log's thread.
pub(crate) enum Msg {
    Start {
        run: u32,
        at_us: u64,
        info: Box<RunInfo>,
        /// The labels of the tasks the run has from its start, for its `tasks` lines.
        labels: Option<TaskLabels>,
    },
    /// Lifecycle records stamped with CLOCK_MONOTONIC microseconds.
    /// ... and the text their task labels point into.
    Records {
        run: u32,
        records: Vec<(u64, Trace)>,
        labels: String,
    },
    Signal {
        at_us: u64,
        name: String,
    },
    End {
        run: u32,
        at_us: u64,
        summary: Box<Summary>,
    },
}

/// The labels of a run's first `count` tasks (ids `0..count`), read on the log's thread, in id
/// order, a line's worth at a time.
pub(crate) struct TaskLabels {
    pub(crate) count: u64,
    pub(crate) labels: LabelsFn,
}

/// `labels(range, out, ends)` appends the labels of tasks `range` to `out` and pushes where each
/// ends to `ends` (as [`crate::TaskList::push_labels`]).
pub(crate) type LabelsFn = Box<dyn Fn(std::ops::Range<usize>, &mut String, &mut Vec<usize>) + Send>;

/// Labels per `tasks` line.
const LABELS_PER_LINE: u64 = 1024;

/// What `run_start` says about a run.
#[derive(Debug)]
pub(crate) struct RunInfo {
    pub(crate) tool: String,
    pub(crate) version: String,
    pub(crate) argv: Vec<String>,
    pub(crate) job: String,
    pub(crate) workers: usize,
    pub(crate) host: String,
    pub(crate) pid: u32,
    pub(crate) wall_ms: u64,
    pub(crate) settings: RunSettings,
}

/// A run's slot, as far as the lines need it.
#[derive(Default)]
struct SlotTrack {
    spawn_at: u64,
    /// When the worker finished its last task (or became ready).
    free_at: u64,
    /// Its most recent batches and when they were sent.
    batches: VecDeque<(u64, BatchIds)>,
    /// When its worker (this pid) was sent SIGKILL by the coordinator: its running attempt
    /// ended then, not when the death was noticed.
    killed: Option<(u32, u64)>,
}

/// Batches remembered per slot: a worker holds at most two, and a death is handled before the
/// slot's next worker gets any.
const BATCHES_KEPT: usize = 4;

#[derive(Default)]
struct RunTrack {
    cost_is_bytes: bool,
    slots: Vec<SlotTrack>,
}

impl RunTrack {
    fn slot(&mut self, slot: usize) -> &mut SlotTrack {
        if self.slots.len() <= slot {
            self.slots.resize_with(slot + 1, SlotTrack::default);
        }
        &mut self.slots[slot]
    }
}

/// Writes lines for every message until every sender is gone; returns the first write error.
pub(crate) fn serve(out: Box<dyn Write + Send>, inbox: Receiver<Msg>) -> io::Result<()> {
    let mut log = Writer {
        out,
        error: None,
        epoch: None,
        runs: Vec::new(),
        line: Vec::with_capacity(4096),
        line_start: 0,
        unflushed: false,
        flushed: Instant::now(),
    };
    loop {
        match inbox.try_recv() {
            Ok(msg) => {
                let urgent = matches!(msg, Msg::End { .. } | Msg::Signal { .. });
                log.take(msg);
                if urgent || log.flushed.elapsed() >= FLUSH_EVERY {
                    log.flush();
                }
            }
            Err(TryRecvError::Empty) => {
                if log.flushed.elapsed() >= FLUSH_EVERY {
                    log.flush();
                }
                // Woken early by `unpark` (see `POLL_EVERY`); a spurious return only looks
                // again.
                std::thread::park_timeout(POLL_EVERY);
            }
            Err(TryRecvError::Disconnected) => break,
        }
    }
    log.flush();
    match log.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

struct Writer {
    /// Unbuffered: lines are built in place in `line`, which is written out whole.
    out: Box<dyn Write + Send>,
    error: Option<io::Error>,
    /// CLOCK_MONOTONIC microseconds of `t` = 0: the first run's start.
    epoch: Option<u64>,
    /// The runs going on (a few at most: a pool's calls), looked up for every record.
    runs: Vec<(u32, RunTrack)>,
    /// The lines not yet written, the last one possibly being built (from `line_start`).
    /// Building each line where it will be written saves copying 20 MB of lines into a
    /// buffer for a run of 100,000 tasks.
    line: Vec<u8>,
    line_start: usize,
    /// Lines were written to `out` since it was last flushed.
    unflushed: bool,
    flushed: Instant,
}

impl Writer {
    fn flush(&mut self) {
        self.write_out();
        if self.unflushed
            && self.error.is_none()
            && let Err(e) = self.out.flush()
        {
            self.error = Some(e);
        }
        self.unflushed = false;
        self.flushed = Instant::now();
    }

    /// Writes the finished lines.
    fn write_out(&mut self) {
        if !self.line.is_empty()
            && self.error.is_none()
            && let Err(e) = self.out.write_all(&self.line)
        {
            self.error = Some(e);
        }
        self.unflushed |= !self.line.is_empty();
        self.line.clear();
        self.line_start = 0;
    }

    fn track(&mut self, run: u32) -> &mut RunTrack {
        let at = match self.runs.iter().position(|(r, _)| *r == run) {
            Some(at) => at,
            None => {
                self.runs.push((run, RunTrack::default()));
                self.runs.len() - 1
            }
        };
        &mut self.runs[at].1
    }

    fn rel(&mut self, at_us: u64) -> u64 {
        at_us.saturating_sub(*self.epoch.get_or_insert(at_us))
    }

    /// Starts a line: `{"v":2,"t":T,` and `"run":R,` for a run after the first.
    fn begin(&mut self, run: u32, at_us: u64) {
        let t = self.rel(at_us);
        let mut n = itoa::Buffer::new();
        self.line_start = self.line.len();
        self.line.extend_from_slice(b"{\"v\":");
        self.line
            .extend_from_slice(n.format(SCHEMA_VERSION).as_bytes());
        self.line.extend_from_slice(b",\"t\":");
        self.line.extend_from_slice(n.format(t).as_bytes());
        self.line.push(b',');
        if run != 0 {
            self.line.extend_from_slice(b"\"run\":");
            self.line.extend_from_slice(n.format(run).as_bytes());
            self.line.push(b',');
        }
    }

    /// Ends the line; writes the lines out once they are [`WRITE_AT`] bytes.
    fn end(&mut self) {
        self.line.push(b'\n');
        self.line_start = self.line.len();
        if self.line.len() >= WRITE_AT {
            self.write_out();
        }
    }

    fn write(&mut self, run: u32, at_us: u64, ev: Ev<'_>) {
        self.begin(run, at_us);
        // The event's own object, without its `{`.
        let own = self.line.len();
        match serde_json::to_writer(&mut self.line, &ev) {
            Ok(()) => {
                self.line.remove(own);
                self.end();
            }
            Err(e) => {
                self.line.truncate(self.line_start);
                self.error.get_or_insert(e.into());
            }
        }
    }

    /// The run's `tasks` lines: every label of `labels`, in id order, a line per
    /// [`LABELS_PER_LINE`]; a line whose labels are all empty (a job without labels) is left
    /// out.
    fn write_task_table(&mut self, run: u32, at_us: u64, labels: &TaskLabels) {
        let mut text = String::new();
        let mut ends = Vec::with_capacity(LABELS_PER_LINE as usize);
        let mut first = 0;
        while first < labels.count {
            let last = labels.count.min(first + LABELS_PER_LINE);
            text.clear();
            ends.clear();
            (labels.labels)(first as usize..last as usize, &mut text, &mut ends);
            if !text.is_empty() {
                let starts = std::iter::once(0).chain(ends.iter().copied());
                let text = text.as_str();
                let line = TasksLine {
                    first,
                    labels: starts
                        .zip(&ends)
                        .map(|(a, &b)| text.get(a..b).unwrap_or("")),
                };
                self.begin(run, at_us);
                line.write_to(&mut self.line);
                self.end();
            }
            first = last;
        }
    }

    fn write_task(&mut self, run: u32, at_us: u64, task: TaskLine) {
        self.begin(run, at_us);
        task.write_to(&mut self.line);
        self.end();
    }

    fn take(&mut self, msg: Msg) {
        match msg {
            Msg::Start {
                run,
                at_us,
                info,
                labels,
            } => {
                let track = self.track(run);
                track.cost_is_bytes = info.settings.cost_is_bytes;
                let ev = Ev::RunStart {
                    tool: &info.tool,
                    version: &info.version,
                    argv: &info.argv,
                    job: &info.job,
                    workers: info.workers,
                    host: &info.host,
                    pid: info.pid,
                    wall_ms: info.wall_ms,
                    settings: &info.settings,
                };
                self.write(run, at_us, ev);
                if let Some(labels) = labels {
                    self.write_task_table(run, at_us, &labels);
                }
            }
            Msg::Records {
                run,
                records,
                labels,
            } => {
                for (at_us, trace) in records {
                    self.record(run, at_us, trace, &labels);
                }
            }
            Msg::Signal { at_us, name } => self.write(0, at_us, Ev::Signal { signal: &name }),
            Msg::End {
                run,
                at_us,
                summary,
            } => {
                self.runs.retain(|(r, _)| *r != run);
                let how = if summary.gave_up.is_some() {
                    "gave_up"
                } else if summary.interrupted.is_some() {
                    "interrupted"
                } else {
                    "finished"
                };
                let ev = Ev::RunEnd {
                    how,
                    summary: summary_out(&summary),
                };
                self.write(run, at_us, ev);
            }
        }
    }

    fn record(&mut self, run: u32, at_us: u64, trace: Trace, labels: &str) {
        let epoch = *self.epoch.get_or_insert(at_us);
        let track = self.track(run);
        let ev = match &trace {
            Trace::Spawn { slot, reason } => {
                track.slot(*slot).spawn_at = at_us;
                Ev::Spawn {
                    slot: *slot,
                    reason: match reason {
                        SpawnReason::Start => "start",
                        SpawnReason::Restart => "restart",
                        SpawnReason::Recycle => "recycle",
                    },
                }
            }
            Trace::Ready { slot, pid } => {
                let s = track.slot(*slot);
                s.free_at = at_us;
                s.batches.clear();
                Ev::Ready {
                    slot: *slot,
                    pid: *pid,
                    ms: at_us.saturating_sub(s.spawn_at) as f64 / 1000.0,
                }
            }
            Trace::SpawnFailed {
                slot,
                pid,
                error,
                exit,
            } => Ev::SpawnFailed {
                slot: *slot,
                pid: *pid,
                error,
                ended: exit.as_ref().map(ended),
            },
            Trace::Batch {
                slot,
                pid,
                ids,
                labels: ranges,
            } => {
                let s = track.slot(*slot);
                if s.batches.len() == BATCHES_KEPT {
                    s.batches.pop_front();
                }
                s.batches.push_back((at_us, ids.clone()));
                // The second most written line: by hand, as the task line is.
                let line = BatchLine {
                    slot: *slot,
                    pid: *pid,
                    ids,
                    labels: ranges.iter().map(|r| labels.get(r.clone()).unwrap_or("")),
                    labelled: !ranges.is_empty(),
                };
                self.begin(run, at_us);
                line.write_to(&mut self.line);
                self.end();
                return;
            }
            Trace::Task {
                id,
                slot,
                pid,
                attempt,
                end,
                span,
                started_us,
                cost,
            } => {
                let cost_is_bytes = track.cost_is_bytes;
                let s = track.slot(*slot);
                let died = match s.killed {
                    Some((killed, at)) if killed == *pid => at.min(at_us),
                    _ => at_us,
                };
                let (start, stop) = match span {
                    Some(span) => (span.start_us, span.start_us + span.dur_us),
                    // The worker died under it, after marking when it started.
                    None if *started_us != 0 => ((*started_us).min(died), died),
                    // ... or before: it started when the worker was free for it.
                    None => {
                        let sent = s
                            .batches
                            .iter()
                            .rev()
                            .find(|(_, ids)| ids.contains(*id))
                            .map_or(0, |(at, _)| *at);
                        (s.free_at.max(sent).min(died), died)
                    }
                };
                s.free_at = s.free_at.max(stop);
                let line = TaskLine {
                    id: *id,
                    slot: *slot,
                    pid: *pid,
                    attempt: *attempt,
                    outcome: attempt_end(*end),
                    start: start.saturating_sub(epoch),
                    dur: stop.saturating_sub(start),
                    bytes: cost_is_bytes.then_some(*cost),
                };
                return self.write_task(run, at_us, line);
            }
            Trace::Retry { id, attempt } => Ev::Retry {
                id: *id,
                attempt: *attempt,
            },
            Trace::Failed {
                id,
                attempts,
                error,
            } => Ev::Failed {
                id: *id,
                attempts: *attempts,
                error,
            },
            Trace::Kill {
                slot,
                pid,
                cause,
                task,
            } => {
                if matches!(cause, KillCause::Chaos | KillCause::Protocol) {
                    track.slot(*slot).killed = Some((*pid, at_us));
                }
                Ev::Kill {
                    slot: *slot,
                    pid: *pid,
                    cause: match cause {
                        KillCause::Chaos => "chaos",
                        KillCause::Timeout => "timeout",
                        KillCause::Heartbeat => "heartbeat",
                        KillCause::Protocol => "protocol",
                    },
                    task: *task,
                }
            }
            Trace::Exit {
                slot,
                pid,
                cause,
                stats,
            } => Ev::Exit {
                slot: *slot,
                pid: *pid,
                cause: exit_cause(*cause),
                ended: ended(stats),
            },
            Trace::GaveUp { reason } => Ev::GiveUp { reason },
            Trace::Stop { reason, immediate } => Ev::Stop {
                reason,
                mode: if *immediate { "immediate" } else { "graceful" },
            },
            Trace::Drain => Ev::Drain,
            Trace::Suspend => Ev::Suspend,
            Trace::Resume => Ev::Resume,
        };
        self.write(run, at_us, ev);
    }
}

fn attempt_end(end: AttemptEnd) -> &'static str {
    match end {
        AttemptEnd::Done => "done",
        AttemptEnd::Panicked => "panicked",
        AttemptEnd::Crashed => "crashed",
        AttemptEnd::Chaos => "chaos",
        AttemptEnd::TimedOut => "timed_out",
        AttemptEnd::Unresponsive => "unresponsive",
    }
}

fn exit_cause(cause: ExitCause) -> &'static str {
    match cause {
        ExitCause::Crash => "crash",
        ExitCause::Chaos => "chaos",
        ExitCause::Timeout => "timeout",
        ExitCause::Heartbeat => "heartbeat",
        ExitCause::Protocol => "protocol",
        ExitCause::Setup => "setup",
        ExitCause::Recycle => "recycle",
        ExitCause::Finish => "finish",
        ExitCause::Stop => "stop",
    }
}

fn ended(stats: &ExitStats) -> Ended {
    let (status, signal, core) = match stats.exit {
        ExitKind::Exited(code) => (Some(code), None, false),
        ExitKind::Signaled {
            signal,
            core_dumped,
        } => (None, Some(ExitKind::signal_name(signal)), core_dumped),
    };
    Ended {
        status,
        signal,
        core,
        max_rss: stats.max_rss_bytes,
        cpu_ms: stats.cpu.as_millis() as u64,
    }
}

fn summary_out(s: &Summary) -> SummaryOut<'_> {
    SummaryOut {
        tasks: s.tasks,
        completed: s.completed,
        failed: s.failed,
        not_run: s.not_run,
        retried: s.retried,
        worker_crashes: s.worker_crashes,
        chaos_kills: s.chaos_kills,
        timeouts: s.timeouts,
        recycled: s.recycled,
        workers_spawned: s.workers_spawned,
        elapsed_ms: s.elapsed.as_millis() as u64,
        gave_up: s.gave_up.as_deref(),
        interrupted: s.interrupted.as_deref(),
        slots: s
            .slots
            .iter()
            .enumerate()
            .map(|(slot, stats)| SlotOut {
                slot,
                pids: &stats.pids,
                tasks: stats.tasks,
                max_rss_bytes: stats.max_rss_bytes,
                cpu_ms: stats.cpu.as_millis() as u64,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::BatchIds;
    use crate::protocol::Span;
    use serde_json::Value;
    use std::sync::{Arc, Mutex};

    /// A `Write` whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn task(id: u64, end: AttemptEnd, span: Option<Span>, started_us: u64) -> Trace {
        Trace::Task {
            id,
            slot: 0,
            pid: 7,
            attempt: 1,
            end,
            span,
            started_us,
            cost: 100,
        }
    }

    /// An attempt of worker `pid` that died unmarked.
    fn task_of(pid: u32, id: u64, end: AttemptEnd) -> Trace {
        Trace::Task {
            id,
            slot: 0,
            pid,
            attempt: 1,
            end,
            span: None,
            started_us: 0,
            cost: 100,
        }
    }

    /// The lines `records` (run 0, stamped µs since an epoch of 1,000) make.
    fn lines(records: Vec<(u64, Trace)>, labels: &str) -> Vec<Value> {
        lines_with_table(records, labels, None)
    }

    /// Like [`lines`], for a run with `table` as the labels of its first tasks.
    fn lines_with_table(
        records: Vec<(u64, Trace)>,
        labels: &str,
        table: Option<TaskLabels>,
    ) -> Vec<Value> {
        let out = Shared::default();
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send(Msg::Start {
            run: 0,
            at_us: 1_000,
            info: Box::new(RunInfo {
                tool: "t".into(),
                version: "1".into(),
                argv: vec!["a \"quoted\" arg".into()],
                job: "j".into(),
                workers: 1,
                host: "h".into(),
                pid: 1,
                wall_ms: 2,
                settings: RunSettings {
                    cost_is_bytes: true,
                    ..RunSettings::default()
                },
            }),
            labels: table,
        })
        .unwrap();
        tx.send(Msg::Records {
            run: 0,
            records,
            labels: labels.to_string(),
        })
        .unwrap();
        drop(tx);
        serve(Box::new(out.clone()), rx).unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// The labels of a run's first tasks come right after its start, in id order, 1024 a
    /// line; a job without labels gets no such lines.
    #[test]
    fn a_runs_first_tasks_are_labelled_once_in_tasks_lines() {
        let table = TaskLabels {
            count: 2500,
            labels: Box::new(|range, out, ends| {
                for id in range {
                    out.push_str(&format!("dir/f{id}"));
                    ends.push(out.len());
                }
            }),
        };
        let got = lines_with_table(Vec::new(), "", Some(table));
        assert_eq!(got[0]["ev"], "run_start");
        let tables: Vec<&Value> = got.iter().filter(|l| l["ev"] == "tasks").collect();
        assert_eq!(tables.len(), 3, "{got:?}");
        let mut next = 0;
        for line in &tables {
            assert_eq!(line["v"], SCHEMA_VERSION);
            assert_eq!(line["first"], next);
            for label in line["labels"].as_array().unwrap() {
                assert_eq!(label.as_str().unwrap(), format!("dir/f{next}"));
                next += 1;
            }
        }
        assert_eq!(next, 2500);
        let unlabelled = TaskLabels {
            count: 10,
            labels: Box::new(|range, out, ends| ends.extend(range.map(|_| out.len()))),
        };
        let got = lines_with_table(Vec::new(), "", Some(unlabelled));
        assert!(got.iter().all(|l| l["ev"] != "tasks"), "{got:?}");
    }

    #[test]
    fn task_and_batch_lines_are_json_with_every_field() {
        let odd = "dir/\"odd\"\nname\u{e9}";
        let labels = format!("a.txt{odd}");
        let batch = Trace::Batch {
            slot: 0,
            pid: 7,
            ids: BatchIds::List(vec![42, 3]),
            labels: vec![0..5, 5..labels.len()],
        };
        let attempt = task(
            42,
            AttemptEnd::Done,
            Some(Span {
                start_us: 1_500,
                dur_us: 250,
            }),
            0,
        );
        let got = lines(vec![(1_200, batch), (2_000, attempt)], &labels);
        assert_eq!(got[0]["ev"], "run_start");
        assert_eq!(got[0]["argv"][0], "a \"quoted\" arg");
        assert_eq!(got[1]["ev"], "batch");
        assert_eq!(got[1]["ids"], serde_json::json!([42, 3]));
        assert_eq!(got[1]["labels"], serde_json::json!(["a.txt", odd]));
        let line = &got[2];
        assert_eq!(line["v"], SCHEMA_VERSION);
        assert_eq!(line["t"], 1_000);
        assert!(line.get("run").is_none(), "the first run is not named");
        assert_eq!(line["ev"], "task");
        assert_eq!(line["id"], 42);
        assert_eq!(line["outcome"], "done");
        assert_eq!((&line["start"], &line["dur"]), (&500.into(), &250.into()));
        assert_eq!(line["bytes"], 100);
    }

    #[test]
    fn a_dead_workers_attempt_starts_when_it_began_or_when_the_worker_was_free() {
        let records = vec![
            (
                1_000,
                Trace::Spawn {
                    slot: 0,
                    reason: crate::coordinator::SpawnReason::Start,
                },
            ),
            (3_000, Trace::Ready { slot: 0, pid: 7 }),
            (
                3_100,
                Trace::Batch {
                    slot: 0,
                    pid: 7,
                    ids: BatchIds::Range { first: 0, n: 3 },
                    labels: Vec::new(),
                },
            ),
            (
                4_000,
                task(
                    0,
                    AttemptEnd::Done,
                    Some(Span {
                        start_us: 3_200,
                        dur_us: 300,
                    }),
                    0,
                ),
            ),
            // Marked by the worker: exact.
            (9_000, task(1, AttemptEnd::Crashed, None, 3_700)),
            (9_500, Trace::Ready { slot: 0, pid: 8 }),
            (
                9_600,
                Trace::Batch {
                    slot: 0,
                    pid: 8,
                    ids: BatchIds::List(vec![2]),
                    labels: Vec::new(),
                },
            ),
            (
                9_700,
                Trace::Kill {
                    slot: 0,
                    pid: 8,
                    cause: crate::coordinator::KillCause::Chaos,
                    task: None,
                },
            ),
            // Not marked: from its batch's dispatch to the kill.
            (12_000, task_of(8, 2, AttemptEnd::Chaos)),
        ];
        let got = lines(records, "");
        let ready = got.iter().find(|l| l["ev"] == "ready").unwrap();
        assert_eq!(ready["ms"], 2.0, "from the spawn request");
        let tasks: Vec<&Value> = got.iter().filter(|l| l["ev"] == "task").collect();
        assert_eq!(
            (&tasks[1]["start"], &tasks[1]["dur"]),
            (&2_700.into(), &5_300.into())
        );
        assert_eq!(
            (&tasks[2]["start"], &tasks[2]["dur"]),
            (&8_600.into(), &100.into())
        );
        assert_eq!(tasks[2]["outcome"], "chaos");
    }
}

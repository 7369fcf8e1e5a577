//! Reading an events file: every line into typed history (runs, worker processes per slot,
//! attempts, retries, failures, run-wide moments), tolerating a torn last line (the writer
//! was killed mid-line) and lines of kinds it does not know (a newer writer). Task labels
//! (in `tasks` lines, and `batch` lines for tasks submitted during a run) are read in a second
//! pass, only for the tasks the page shows one by one: a million paths need not all be held.

use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;

/// How one attempt ended, as a small code (its index here is the page's colour index).
pub const OUTCOMES: [&str; 6] = [
    "done",
    "panicked",
    "crashed",
    "chaos",
    "timed_out",
    "unresponsive",
];

/// One line, as far as the report needs it: every field any event has, all optional.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawLine<'a> {
    v: Option<u32>,
    t: u64,
    run: u32,
    #[serde(borrow)]
    ev: Cow<'a, str>,
    slot: Option<usize>,
    pid: Option<u32>,
    id: Option<u64>,
    attempt: Option<u32>,
    attempts: Option<u32>,
    #[serde(borrow)]
    outcome: Option<Cow<'a, str>>,
    start: Option<u64>,
    dur: Option<u64>,
    bytes: Option<u64>,
    #[serde(borrow)]
    cause: Option<Cow<'a, str>>,
    status: Option<i32>,
    signal: Option<String>,
    core: Option<bool>,
    max_rss: Option<u64>,
    cpu_ms: Option<u64>,
    ms: Option<f64>,
    reason: Option<String>,
    error: Option<String>,
    mode: Option<String>,
    how: Option<String>,
    task: Option<u64>,
    tool: Option<String>,
    version: Option<String>,
    argv: Option<Vec<String>>,
    job: Option<String>,
    workers: Option<usize>,
    host: Option<String>,
    wall_ms: Option<u64>,
    settings: Option<Value>,
    summary: Option<Value>,
}

/// A run as its `run_start` and `run_end` lines describe it.
#[derive(Default)]
pub struct Run {
    pub start_t: u64,
    pub end_t: Option<u64>,
    pub tool: String,
    pub version: String,
    pub argv: Vec<String>,
    pub job: String,
    pub workers: usize,
    pub host: String,
    pub wall_ms: u64,
    pub settings: Value,
    pub how: Option<String>,
    pub summary: Value,
    /// Worker slots, each with its processes in order.
    pub slots: BTreeMap<usize, Vec<Process>>,
}

/// One worker process (or an attempt to start one).
#[derive(Clone, Default)]
pub struct Process {
    pub pid: Option<u32>,
    /// When the slot asked for it.
    pub requested: u64,
    pub ready: Option<u64>,
    pub ended: Option<u64>,
    /// Who or what ended it (`crash`, `chaos`, `timeout`, ..., or `spawn_failed`).
    pub cause: Option<String>,
    /// `killed by SIGKILL`, `exited with status 3`, or why it could not start.
    pub how: Option<String>,
    pub max_rss: u64,
    pub cpu_ms: u64,
    pub tasks: u64,
}

/// One attempt at a task.
pub struct Attempt {
    pub run: u32,
    pub slot: usize,
    pub pid: u32,
    pub id: u64,
    pub attempt: u32,
    /// Index into [`OUTCOMES`].
    pub outcome: u8,
    pub start: u64,
    pub dur: u64,
    pub bytes: Option<u64>,
}

/// A moment of the whole run: a signal, a stop, a give-up, the drain, a suspend.
pub struct Moment {
    pub t: u64,
    pub kind: String,
    pub text: String,
}

/// A task that did not end on its first attempt, or failed.
#[derive(Default)]
pub struct Troubled {
    pub retries: u32,
    /// The failure it ended with, if it failed for good.
    pub failed: Option<String>,
}

/// Everything an events file says.
#[derive(Default)]
pub struct History {
    pub runs: BTreeMap<u32, Run>,
    pub attempts: Vec<Attempt>,
    /// By (run, task id).
    pub troubled: BTreeMap<(u32, u64), Troubled>,
    pub moments: Vec<Moment>,
    /// The latest time on any line.
    pub last_t: u64,
    pub lines: u64,
    /// Lines that were not events (a torn last line, foreign text).
    pub skipped: u64,
    /// The highest schema version seen.
    pub version: u32,
}

/// Reads an events file.
pub fn read(input: impl BufRead) -> std::io::Result<History> {
    let mut history = History::default();
    for line in input.split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        history.lines += 1;
        match serde_json::from_slice::<RawLine>(&line) {
            Ok(raw) if !raw.ev.is_empty() => history.take(raw),
            _ => history.skipped += 1,
        }
    }
    Ok(history)
}

/// A `batch` line's tasks and their labels.
#[derive(Deserialize, Default)]
#[serde(default)]
struct BatchLine {
    run: u32,
    first: Option<u64>,
    n: Option<u64>,
    ids: Option<Vec<u64>>,
    labels: Vec<String>,
}

/// A `tasks` line: the labels of tasks `first..` (schema 2).
#[derive(Deserialize, Default)]
#[serde(default)]
struct TasksLine {
    run: u32,
    first: u64,
    labels: Vec<String>,
}

/// Labels of the `wanted` (run, task id) pairs, from the `tasks` lines (the tasks a run had
/// from its start) and the `batch` lines (tasks submitted later; every task in schema 1).
pub fn labels(
    input: impl BufRead,
    wanted: &BTreeSet<(u32, u64)>,
) -> std::io::Result<HashMap<(u32, u64), String>> {
    let mut found = HashMap::new();
    if wanted.is_empty() {
        return Ok(found);
    }
    for line in input.split(b'\n') {
        let line = line?;
        // `ev` comes right after `v`, `t` and `run`: only batch and tasks lines are parsed.
        const BATCH: &[u8] = b"\"ev\":\"batch\"";
        const TASKS: &[u8] = b"\"ev\":\"tasks\"";
        let head = &line[..line.len().min(80)];
        if head.windows(TASKS.len()).any(|w| w == TASKS) {
            let Ok(table) = serde_json::from_slice::<TasksLine>(&line) else {
                continue;
            };
            for (id, label) in (table.first..).zip(table.labels) {
                let key = (table.run, id);
                if !label.is_empty() && wanted.contains(&key) {
                    found.insert(key, label);
                }
            }
            continue;
        }
        if !head.windows(BATCH.len()).any(|w| w == BATCH) {
            continue;
        }
        let Ok(batch) = serde_json::from_slice::<BatchLine>(&line) else {
            continue;
        };
        if batch.labels.is_empty() {
            continue;
        }
        let ids: Box<dyn Iterator<Item = u64>> = match (batch.ids, batch.first, batch.n) {
            (Some(ids), _, _) => Box::new(ids.into_iter()),
            (None, Some(first), Some(n)) => Box::new(first..first + n),
            _ => continue,
        };
        for (id, label) in ids.zip(batch.labels) {
            let key = (batch.run, id);
            if !label.is_empty() && wanted.contains(&key) {
                found.insert(key, label);
            }
        }
    }
    Ok(found)
}

impl History {
    fn take(&mut self, raw: RawLine<'_>) {
        self.last_t = self.last_t.max(raw.t);
        self.version = self.version.max(raw.v.unwrap_or(0));
        let t = raw.t;
        let run = raw.run;
        match raw.ev.as_ref() {
            "run_start" => {
                let r = self.runs.entry(run).or_default();
                r.start_t = t;
                r.tool = raw.tool.unwrap_or_default();
                r.version = raw.version.unwrap_or_default();
                r.argv = raw.argv.unwrap_or_default();
                r.job = raw.job.unwrap_or_default();
                r.workers = raw.workers.unwrap_or(0);
                r.host = raw.host.unwrap_or_default();
                r.wall_ms = raw.wall_ms.unwrap_or(0);
                r.settings = raw.settings.unwrap_or(Value::Null);
            }
            "run_end" => {
                let r = self.runs.entry(run).or_default();
                r.end_t = Some(t);
                r.how = raw.how;
                r.summary = raw.summary.unwrap_or(Value::Null);
            }
            "spawn" => {
                if let Some(slot) = raw.slot {
                    self.slot(run, slot).push(Process {
                        requested: t,
                        ..Process::default()
                    });
                }
            }
            "ready" => {
                if let (Some(slot), Some(pid)) = (raw.slot, raw.pid) {
                    let p = self.current(run, slot, t);
                    p.pid = Some(pid);
                    p.ready = Some(t);
                }
            }
            "spawn_failed" => {
                if let Some(slot) = raw.slot {
                    let p = self.current(run, slot, t);
                    p.pid = raw.pid.or(p.pid);
                    p.ended = Some(t);
                    p.cause = Some("spawn_failed".into());
                    p.how = Some(raw.error.unwrap_or_default());
                    p.max_rss = raw.max_rss.unwrap_or(0);
                    p.cpu_ms = raw.cpu_ms.unwrap_or(0);
                }
            }
            "exit" => {
                if let (Some(slot), Some(pid)) = (raw.slot, raw.pid) {
                    let how = match (raw.status, &raw.signal) {
                        (Some(code), _) => format!("exited with status {code}"),
                        (None, Some(signal)) if raw.core == Some(true) => {
                            format!("killed by {signal} (core dumped)")
                        }
                        (None, Some(signal)) => format!("killed by {signal}"),
                        (None, None) => "ended".to_string(),
                    };
                    let p = self.by_pid(run, slot, pid, t);
                    p.ended = Some(t);
                    p.cause = raw.cause.map(Cow::into_owned);
                    p.how = Some(how);
                    p.max_rss = raw.max_rss.unwrap_or(0);
                    p.cpu_ms = raw.cpu_ms.unwrap_or(0);
                }
            }
            "task" => {
                let (Some(slot), Some(id)) = (raw.slot, raw.id) else {
                    return;
                };
                let pid = raw.pid.unwrap_or(0);
                let outcome = raw.outcome.as_deref().unwrap_or("done");
                let outcome = OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(2) as u8;
                let start = raw.start.unwrap_or(t);
                if pid != 0 {
                    self.by_pid(run, slot, pid, start).tasks += 1;
                }
                self.attempts.push(Attempt {
                    run,
                    slot,
                    pid,
                    id,
                    attempt: raw.attempt.unwrap_or(1),
                    outcome,
                    start,
                    dur: raw.dur.unwrap_or(0),
                    bytes: raw.bytes,
                });
            }
            "retry" => {
                if let Some(id) = raw.id {
                    self.troubled.entry((run, id)).or_default().retries += 1;
                }
            }
            "failed" => {
                if let Some(id) = raw.id {
                    self.troubled.entry((run, id)).or_default().failed =
                        Some(raw.error.unwrap_or_default());
                }
            }
            "signal" => self.moment(t, "signal", raw.signal.unwrap_or_default()),
            "stop" => {
                let mode = raw.mode.unwrap_or_default();
                let reason = raw.reason.unwrap_or_default();
                self.moment(t, "stop", format!("stop ({mode}): {reason}"));
            }
            "give_up" => self.moment(
                t,
                "give_up",
                format!("gave up: {}", raw.reason.unwrap_or_default()),
            ),
            "drain" => self.moment(t, "drain", "every task done: workers asked to exit".into()),
            "suspend" => self.moment(t, "suspend", "suspended (Ctrl-Z)".into()),
            "resume" => self.moment(t, "resume", "resumed".into()),
            // `batch`, `kill` and kinds from newer writers: nothing to draw of their own.
            _ => {}
        }
    }

    fn moment(&mut self, t: u64, kind: &str, text: String) {
        self.moments.push(Moment {
            t,
            kind: kind.to_string(),
            text,
        });
    }

    fn slot(&mut self, run: u32, slot: usize) -> &mut Vec<Process> {
        self.runs
            .entry(run)
            .or_default()
            .slots
            .entry(slot)
            .or_default()
    }

    /// The slot's latest process (one is made up if the file starts mid-way).
    fn current(&mut self, run: u32, slot: usize, t: u64) -> &mut Process {
        let processes = self.slot(run, slot);
        if processes.is_empty() {
            processes.push(Process {
                requested: t,
                ..Process::default()
            });
        }
        processes.last_mut().expect("one at least")
    }

    /// The slot's process with `pid`, or its latest one that has no pid yet.
    fn by_pid(&mut self, run: u32, slot: usize, pid: u32, t: u64) -> &mut Process {
        let found = self
            .slot(run, slot)
            .iter()
            .rposition(|p| p.pid == Some(pid));
        match found {
            Some(i) => &mut self.slot(run, slot)[i],
            None => {
                let p = self.current(run, slot, t);
                p.pid = Some(pid);
                p
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels come from `tasks` lines (schema 2) and from `batch` lines (tasks submitted
    /// during a run; every task in schema 1), for the wanted tasks only.
    #[test]
    fn labels_are_read_from_tasks_and_batch_lines_of_either_schema() {
        let log = concat!(
            "{\"v\":1,\"t\":5,\"ev\":\"batch\",\"slot\":0,\"pid\":9,\"ids\":[7,3],\"labels\":[\"old/7\",\"old/3\"]}\n",
            "{\"v\":2,\"t\":0,\"run\":1,\"ev\":\"tasks\",\"first\":0,\"labels\":[\"a/0\",\"a/1\",\"\"]}\n",
            "{\"v\":2,\"t\":0,\"run\":1,\"ev\":\"tasks\",\"first\":3,\"labels\":[\"a/3\"]}\n",
            "{\"v\":2,\"t\":9,\"run\":1,\"ev\":\"batch\",\"slot\":1,\"pid\":8,\"first\":0,\"n\":4}\n",
            "{\"v\":2,\"t\":9,\"run\":1,\"ev\":\"batch\",\"slot\":1,\"pid\":8,\"first\":4,\"n\":1,\"labels\":[\"late/4\"]}\n",
        );
        let wanted: BTreeSet<(u32, u64)> = [(0, 3), (0, 7), (1, 1), (1, 2), (1, 3), (1, 4)].into();
        let got = labels(log.as_bytes(), &wanted).unwrap();
        let want: HashMap<(u32, u64), String> = [
            ((0, 3), "old/3"),
            ((0, 7), "old/7"),
            ((1, 1), "a/1"),
            ((1, 3), "a/3"),
            ((1, 4), "late/4"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
        assert_eq!(got, want);
    }
}

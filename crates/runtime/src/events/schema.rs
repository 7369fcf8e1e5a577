//! The event log's lines, as serde types: the schema the README documents (version
//! [`SCHEMA_VERSION`]). Every line is one JSON object with `v` (the schema version), `t`
//! (microseconds since the log's first run started, CLOCK_MONOTONIC), `run` (omitted for the
//! log's first run) and `ev` (what happened), then the event's own fields.

use crate::coordinator::BatchIds;
use serde::Serialize;

/// The version written in every line's `v`; bumped when a field changes meaning or goes away
/// (new events and new fields do not bump it: readers ignore what they do not know).
///
/// 2: the labels of the tasks a run has from its start are written once, in `tasks` lines
/// after its `run_start`, and its `batch` lines carry `labels` only for tasks submitted later
/// (in 1 every batch line labelled its tasks).
pub const SCHEMA_VERSION: u32 = 2;

/// How a process ended: `status` for an exit, `signal` (and `core`) for a kill.
#[derive(Serialize)]
pub(crate) struct Ended {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) signal: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) core: bool,
    pub(crate) max_rss: u64,
    pub(crate) cpu_ms: u64,
}

/// The run's parameters, in `run_start`.
#[derive(Serialize, Clone, Debug, Default)]
pub(crate) struct RunSettings {
    pub(crate) retries: u32,
    pub(crate) max_restarts: u32,
    pub(crate) restart_window_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) chaos_every_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) chaos_seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) task_timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) heartbeat_timeout_ms: Option<u64>,
    pub(crate) kill_grace_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_tasks_per_child: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) memory_limit: Option<u64>,
    pub(crate) cost_is_bytes: bool,
}

/// One worker slot in `run_end`'s summary.
#[derive(Serialize)]
pub(crate) struct SlotOut<'a> {
    pub(crate) slot: usize,
    pub(crate) pids: &'a [u32],
    pub(crate) tasks: u64,
    pub(crate) max_rss_bytes: u64,
    pub(crate) cpu_ms: u64,
}

/// The engine's summary in `run_end` (the names of the CLI's JSON summary where they mean the
/// same; `completed` counts every task with an output, the job's own errors included).
#[derive(Serialize)]
pub(crate) struct SummaryOut<'a> {
    pub(crate) tasks: u64,
    pub(crate) completed: u64,
    pub(crate) failed: u64,
    pub(crate) not_run: u64,
    pub(crate) retried: u64,
    pub(crate) worker_crashes: u64,
    pub(crate) chaos_kills: u64,
    pub(crate) timeouts: u64,
    pub(crate) recycled: u64,
    pub(crate) workers_spawned: u64,
    pub(crate) elapsed_ms: u64,
    pub(crate) gave_up: Option<&'a str>,
    pub(crate) interrupted: Option<&'a str>,
    pub(crate) slots: Vec<SlotOut<'a>>,
}

/// One attempt at a task: the line a run writes most of (one per attempt), so it is written
/// by hand instead of through serde (a third of the cost); a test holds it to valid JSON.
pub(crate) struct TaskLine {
    pub(crate) id: u64,
    pub(crate) slot: usize,
    pub(crate) pid: u32,
    pub(crate) attempt: u32,
    pub(crate) outcome: &'static str,
    pub(crate) start: u64,
    pub(crate) dur: u64,
    pub(crate) bytes: Option<u64>,
}

impl TaskLine {
    /// Appends `"ev":"task",...}` (the line's prefix is already written).
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        let mut n = itoa::Buffer::new();
        let mut field = |out: &mut Vec<u8>, name: &str, value: u64| {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(n.format(value).as_bytes());
        };
        out.extend_from_slice(b"\"ev\":\"task\"");
        field(out, ",\"id\":", self.id);
        field(out, ",\"slot\":", self.slot as u64);
        field(out, ",\"pid\":", u64::from(self.pid));
        field(out, ",\"attempt\":", u64::from(self.attempt));
        out.extend_from_slice(b",\"outcome\":\"");
        out.extend_from_slice(self.outcome.as_bytes());
        out.push(b'"');
        field(out, ",\"start\":", self.start);
        field(out, ",\"dur\":", self.dur);
        if let Some(bytes) = self.bytes {
            field(out, ",\"bytes\":", bytes);
        }
        out.push(b'}');
    }
}

/// A batch sent to a worker, with its tasks' labels: written by hand for the same reason as
/// [`TaskLine`], byte for byte what serde_json writes (a test holds it to that).
pub(crate) struct BatchLine<'a, L> {
    pub(crate) slot: usize,
    pub(crate) pid: u32,
    pub(crate) ids: &'a BatchIds,
    /// One per task, in order (what `supervisor ps` shows, e.g. the path).
    pub(crate) labels: L,
    /// Whether the job has labels at all (else the field is left out).
    pub(crate) labelled: bool,
}

impl<'a, L: Iterator<Item = &'a str>> BatchLine<'a, L> {
    /// Appends `"ev":"batch",...}` (the line's prefix is already written).
    pub(crate) fn write_to(self, out: &mut Vec<u8>) {
        let mut n = itoa::Buffer::new();
        out.extend_from_slice(b"\"ev\":\"batch\",\"slot\":");
        out.extend_from_slice(n.format(self.slot).as_bytes());
        out.extend_from_slice(b",\"pid\":");
        out.extend_from_slice(n.format(self.pid).as_bytes());
        match self.ids {
            BatchIds::Range { first, n: count } => {
                out.extend_from_slice(b",\"first\":");
                out.extend_from_slice(n.format(*first).as_bytes());
                out.extend_from_slice(b",\"n\":");
                out.extend_from_slice(n.format(*count).as_bytes());
            }
            BatchIds::List(list) => {
                out.extend_from_slice(b",\"ids\":[");
                for (i, id) in list.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(n.format(*id).as_bytes());
                }
                out.push(b']');
            }
        }
        if self.labelled {
            labels_field(out, self.labels);
        }
        out.push(b'}');
    }
}

/// The labels of tasks `first..first + labels.len()`, in id order: part of the table of the
/// tasks a run has from its start, written once after its `run_start` (in order, so it costs
/// what copying the task list costs, where labelling each batch as it is sent read every label
/// at random, and on the run's critical path).
pub(crate) struct TasksLine<L> {
    pub(crate) first: u64,
    pub(crate) labels: L,
}

impl<'a, L: Iterator<Item = &'a str>> TasksLine<L> {
    /// Appends `"ev":"tasks",...}` (the line's prefix is already written).
    pub(crate) fn write_to(self, out: &mut Vec<u8>) {
        let mut n = itoa::Buffer::new();
        out.extend_from_slice(b"\"ev\":\"tasks\",\"first\":");
        out.extend_from_slice(n.format(self.first).as_bytes());
        labels_field(out, self.labels);
        out.push(b'}');
    }
}

/// Appends `,"labels":[...]`.
fn labels_field<'a>(out: &mut Vec<u8>, labels: impl Iterator<Item = &'a str>) {
    out.extend_from_slice(b",\"labels\":[");
    for (i, label) in labels.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_string(out, label);
    }
    out.push(b']');
}

/// Appends `text` as a JSON string: as is when nothing in it needs escaping (paths almost
/// never do), else through serde_json.
fn json_string(out: &mut Vec<u8>, text: &str) {
    if !needs_escape(text.as_bytes()) {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// Whether `bytes` hold a control character, `"` or `\\` (what a JSON string escapes), eight
/// bytes at a time: the labels of a run's `tasks` lines are megabytes of paths.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Nonzero when some byte of `v` is below `n` (n <= 128): the classic bit trick, exact for
    // "some byte", which is all that is asked.
    let below = |v: u64, n: u8| v.wrapping_sub(ONES * u64::from(n)) & !v & HIGHS;
    let zero_byte = |v: u64| below(v, 1);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let v = u64::from_ne_bytes(word.try_into().expect("8 bytes"));
        let hit = below(v, 0x20)
            | zero_byte(v ^ (ONES * u64::from(b'"')))
            | zero_byte(v ^ (ONES * u64::from(b'\\')));
        if hit != 0 {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// What a line says after its `v`, `t` and `run` (which the writer puts first itself).
#[derive(Serialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub(crate) enum Ev<'a> {
    RunStart {
        tool: &'a str,
        version: &'a str,
        argv: &'a [String],
        job: &'a str,
        workers: usize,
        host: &'a str,
        pid: u32,
        /// Wall-clock time of `t` = 0, milliseconds since the Unix epoch.
        wall_ms: u64,
        settings: &'a RunSettings,
    },
    Spawn {
        slot: usize,
        reason: &'static str,
    },
    Ready {
        slot: usize,
        pid: u32,
        ms: f64,
    },
    SpawnFailed {
        slot: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        pid: Option<u32>,
        error: &'a str,
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        ended: Option<Ended>,
    },
    Retry {
        id: u64,
        attempt: u32,
    },
    Failed {
        id: u64,
        attempts: u32,
        error: &'a str,
    },
    Kill {
        slot: usize,
        pid: u32,
        cause: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        task: Option<u64>,
    },
    Exit {
        slot: usize,
        pid: u32,
        cause: &'static str,
        #[serde(flatten)]
        ended: Ended,
    },
    GiveUp {
        reason: &'a str,
    },
    Signal {
        signal: &'a str,
    },
    Stop {
        reason: &'a str,
        mode: &'static str,
    },
    Drain,
    Suspend,
    Resume,
    RunEnd {
        how: &'static str,
        summary: SummaryOut<'a>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The eight-at-a-time check agrees with the plain one for every byte at every place of
    /// every length around a word, and for each such byte among others.
    #[test]
    fn needs_escape_finds_every_byte_json_escapes() {
        let plain = |b: &[u8]| b.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        for len in 0..=19 {
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut text = vec![b'a'; len];
                    text[at] = byte;
                    assert_eq!(
                        needs_escape(&text),
                        plain(&text),
                        "{byte:#x} at {at} of {len}"
                    );
                    let mut mixed: Vec<u8> = (0..len as u8).map(|i| 0x7a + i * 7).collect();
                    mixed[at] = byte;
                    assert_eq!(needs_escape(&mixed), plain(&mixed), "{mixed:?}");
                }
            }
        }
    }

    /// The hand-written batch line says exactly what serde_json would.
    #[test]
    fn a_batch_line_is_what_serde_json_writes() {
        let labels = [
            "plain/path.txt",
            "quote\"d",
            "back\\slash",
            "tab\there\n",
            "é ü 日本",
            "",
        ];
        for ids in [
            BatchIds::Range { first: 7, n: 6 },
            BatchIds::List(vec![5, 0, 18_446_744_073_709_551_615, 3, 2, 1]),
        ] {
            for labelled in [true, false] {
                let mut line = Vec::new();
                BatchLine {
                    slot: 3,
                    pid: 4242,
                    ids: &ids,
                    labels: labels.iter().copied(),
                    labelled,
                }
                .write_to(&mut line);
                let mut want = serde_json::json!({"ev": "batch", "slot": 3, "pid": 4242});
                match &ids {
                    BatchIds::Range { first, n } => {
                        want["first"] = (*first).into();
                        want["n"] = (*n).into();
                    }
                    BatchIds::List(list) => want["ids"] = list.clone().into(),
                }
                if labelled {
                    want["labels"] = labels.to_vec().into();
                }
                let got: serde_json::Value =
                    serde_json::from_slice(&[b"{".as_slice(), &line].concat()).unwrap();
                assert_eq!(got, want);
                // Byte for byte too, for the escapes.
                let text = serde_json::to_string(&labels).unwrap();
                assert_eq!(
                    String::from_utf8(line).unwrap().contains(&text),
                    labelled,
                    "labels not written as serde_json writes {text}"
                );
            }
        }
    }

    /// The hand-written tasks line too, escapes included.
    #[test]
    fn a_tasks_line_is_what_serde_json_writes() {
        let labels = [
            "a/b.txt",
            "quote\"d",
            "back\\slash",
            "tab\there\n",
            "é 日本",
            "",
        ];
        let mut line = Vec::new();
        TasksLine {
            first: 4096,
            labels: labels.iter().copied(),
        }
        .write_to(&mut line);
        let text = String::from_utf8(line).unwrap();
        let got: serde_json::Value = serde_json::from_str(&format!("{{{text}")).unwrap();
        let want = serde_json::json!({"ev": "tasks", "first": 4096, "labels": labels});
        assert_eq!(got, want);
        assert!(
            text.contains(&serde_json::to_string(&labels).unwrap()),
            "{text}"
        );
    }
}

//! How `exec` results are written: `table` is each task's stdout in input order, grouped as
//! `parallel -k` prints it (its stderr to stderr); `json`, `jsonl` and `csv` hold the streams
//! as text (or, with `--output-dir`, their files and sizes).
//!
//! Results arrive in completion order. Every format but `jsonl` is written in input order as
//! soon as the order allows (task 7 is written once tasks 1 to 6 are), so output flows during
//! the run and what is held is only what finished ahead of an earlier task. Held output stays
//! in memory up to [`HELD_IN_MEMORY`] bytes in all, then goes to unnamed temp files; output a
//! worker spilled is read from its file. Nothing a task printed is ever held whole in memory.

use super::stream_text::{self, Stream};
use super::summary::{self, Totals};
use super::{Finished, Sink, display_path, insert_path};
use crate::cli::Format;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use supervisor_runtime::Summary;

/// The most bytes of held (finished out of order) output kept in memory.
pub const HELD_IN_MEMORY: u64 = 16 << 20;

/// One task's result, ready to be written.
pub struct Row {
    /// Task index (input order, from 0).
    pub index: usize,
    /// `{#}`.
    pub seq: u64,
    /// The item.
    pub item: Vec<u8>,
    /// The command's exit status, if it exited.
    pub exit_code: Option<i32>,
    /// The signal that killed the command, by name.
    pub signal: Option<String>,
    /// Why there is no exit status, or why the output is incomplete.
    pub error: Option<String>,
    /// Counts against the exit code.
    pub failed: bool,
    /// What the command wrote.
    pub stdout: Output,
    /// ... to stderr.
    pub stderr: Output,
    /// The last run's wall time.
    pub duration_ms: Option<f64>,
    /// Runs of the command, crashed attempts included.
    pub attempts: u32,
}

/// A stream of a task's output.
pub enum Output {
    /// Its content, to be written (or held).
    Content(Stream),
    /// A file of `--output-dir`: json/jsonl/csv name it, `table` prints it from there.
    InDir {
        /// The file's path.
        path: PathBuf,
        /// Its length when the task ended.
        size: u64,
    },
}

/// Writes rows as they come, in the order and format asked for.
pub struct ExecWriter {
    format: Format,
    sink: Sink,
    quiet: bool,
    /// Paths and sizes instead of text in json/jsonl/csv.
    output_dir: bool,
    /// The next task index to write (all formats but jsonl).
    next: usize,
    /// Finished rows waiting for an earlier one.
    held: BTreeMap<usize, Row>,
    held_in_memory: u64,
    /// Where held output beyond [`HELD_IN_MEMORY`] goes.
    temp_dir: PathBuf,
    /// The json array or csv header was started.
    started: bool,
    written: u64,
    failed: u64,
    buf: Vec<u8>,
    /// Job-specific additions to the summary: a JSON key and value, and a text line.
    extra: Vec<(String, Value, String)>,
}

impl ExecWriter {
    /// A writer to `sink` in `format`.
    pub fn new(
        format: Format,
        sink: Sink,
        quiet: bool,
        output_dir: bool,
        temp_dir: PathBuf,
    ) -> Self {
        ExecWriter {
            format,
            sink,
            quiet,
            output_dir,
            next: 0,
            held: BTreeMap::new(),
            held_in_memory: 0,
            temp_dir,
            started: false,
            written: 0,
            failed: 0,
            buf: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Takes one finished task: written now (`jsonl`, or the next in order), or held.
    pub fn push(&mut self, row: Row) {
        if self.format == Format::Jsonl {
            self.write_row(&row);
            self.sink.flush();
            return;
        }
        if row.index != self.next {
            let row = self.hold(row);
            self.held.insert(row.index, row);
            return;
        }
        self.write_row(&row);
        self.next += 1;
        while let Some(row) = self.held.remove(&self.next) {
            self.release(&row);
            self.write_row(&row);
            self.next += 1;
        }
        self.sink.flush();
    }

    /// True when stdout was closed by its reader (`| head`).
    pub fn reader_went_away(&self) -> bool {
        self.sink.is_broken_pipe()
    }

    /// Adds a job-specific entry to the summary.
    pub fn add_summary(&mut self, key: &str, value: Value, line: String) {
        self.extra.push((key.to_string(), value, line));
    }

    /// Writes what is still held (tasks after one that never ran), the summary, and closes
    /// the output.
    pub fn finish(mut self, summary: &Summary) -> Result<Finished, String> {
        for (_, row) in std::mem::take(&mut self.held) {
            self.write_row(&row);
        }
        let totals = Totals {
            results: self.written,
            failed: self.failed,
            skipped: 0,
        };
        let mut json = summary::to_json(summary, &totals);
        let mut text = String::new();
        for (key, value, line) in &self.extra {
            if let Some(object) = json.as_object_mut() {
                object.insert(key.clone(), value.clone());
            }
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&summary::to_text(summary, &totals));
        match self.format {
            Format::Jsonl => {
                let line = serde_json::json!({ "summary": json });
                self.sink.write(format!("{line}\n").as_bytes());
            }
            Format::Json => {
                if !self.started {
                    self.sink.write(b"{\"results\": [");
                }
                self.sink.write(b"\n],\n\"summary\": ");
                self.sink
                    .write(&serde_json::to_vec_pretty(&json).unwrap_or_default());
                self.sink.write(b"}\n");
            }
            Format::Csv => {
                if !self.started {
                    self.csv_header();
                }
            }
            Format::Table | Format::Sums => {}
        }
        // The table's stdout is the commands' own output, byte for byte: the summary goes to
        // stderr, as for csv.
        if matches!(self.format, Format::Table | Format::Csv) && !self.quiet {
            eprint!("{text}");
        }
        let reader_went_away = self.sink.is_broken_pipe();
        self.sink.finish()?;
        Ok(Finished {
            failed: self.failed,
            reader_went_away,
        })
    }

    /// Keeps a row that finished ahead of its turn, moving its output to temp files once the
    /// memory budget is spent.
    fn hold(&mut self, mut row: Row) -> Row {
        for output in [&mut row.stdout, &mut row.stderr] {
            let Output::Content(Stream::Bytes(bytes)) = output else {
                continue;
            };
            let len = bytes.len() as u64;
            if self.held_in_memory + len <= HELD_IN_MEMORY {
                self.held_in_memory += len;
                continue;
            }
            let moved = supervisor_jobs::exec::anonymous_file(&self.temp_dir)
                .and_then(|mut file| file.write_all(bytes).map(|()| file));
            match moved {
                Ok(file) => *output = Output::Content(Stream::File { file, size: len }),
                // No room on disk: memory it is, rather than losing output.
                Err(_) => self.held_in_memory += len,
            }
        }
        row
    }

    /// Returns a held row's memory to the budget.
    fn release(&mut self, row: &Row) {
        for output in [&row.stdout, &row.stderr] {
            if let Output::Content(Stream::Bytes(bytes)) = output {
                self.held_in_memory -= bytes.len() as u64;
            }
        }
    }

    fn write_row(&mut self, row: &Row) {
        self.written += 1;
        self.failed += u64::from(row.failed);
        let result = match self.format {
            Format::Table | Format::Sums => self.write_table(row),
            Format::Json => {
                let sep: &[u8] = if self.started {
                    b",\n"
                } else {
                    b"{\"results\": [\n"
                };
                self.started = true;
                self.sink.write(sep);
                self.write_json(row)
            }
            Format::Jsonl => self.write_json(row).map(|()| self.sink.write(b"\n")),
            Format::Csv => {
                if !self.started {
                    self.csv_header();
                }
                self.write_csv(row)
            }
        };
        if let Err(e) = result {
            eprintln!(
                "supervisor: cannot read the output of task {} ({}): {}",
                row.seq,
                display_path(&row.item),
                supervisor_jobs::describe_io_error(&e)
            );
        }
    }

    /// stdout to the output, stderr to stderr, and a note for a failure.
    fn write_table(&mut self, row: &Row) -> io::Result<()> {
        let buf = &mut self.buf;
        let sink = &mut self.sink;
        with_stream(&row.stdout, |stream| stream.copy_to(buf, sink))?;
        let mut stderr = io::stderr().lock();
        with_stream(&row.stderr, |stream| stream.copy_to(buf, &mut stderr))?;
        if let Some(line) = failure_line(row) {
            let _ = writeln!(stderr, "supervisor: {line}");
        }
        Ok(())
    }

    fn write_json(&mut self, row: &Row) -> io::Result<()> {
        let mut head = Map::new();
        insert_path(&mut head, "item", &row.item);
        head.insert("seq".into(), Value::from(row.seq));
        head.insert(
            "exit_code".into(),
            row.exit_code.map_or(Value::Null, Value::from),
        );
        head.insert(
            "signal".into(),
            row.signal.as_deref().map_or(Value::Null, Value::from),
        );
        let mut tail = Map::new();
        tail.insert(
            "duration_ms".into(),
            row.duration_ms.map_or(Value::Null, Value::from),
        );
        tail.insert("attempts".into(), Value::from(row.attempts));
        tail.insert(
            "error".into(),
            row.error.as_deref().map_or(Value::Null, Value::from),
        );
        // `{"item": ..., "signal": ...` without the closing brace, then the streams, then the rest.
        let head = serde_json::to_vec(&head).unwrap_or_default();
        self.sink.write(&head[..head.len() - 1]);
        for (name, output) in [("stdout", &row.stdout), ("stderr", &row.stderr)] {
            self.write_json_stream(name, output)?;
        }
        let tail = serde_json::to_vec(&tail).unwrap_or_default();
        self.sink.write(b",");
        self.sink.write(&tail[1..]);
        Ok(())
    }

    /// `,"stdout":"TEXT"` (plus `"stdout_bytes":[...]` when it is not UTF-8), or with
    /// `--output-dir`, `,"stdout_file":PATH,"stdout_size":N`.
    fn write_json_stream(&mut self, name: &str, output: &Output) -> io::Result<()> {
        if self.output_dir {
            let mut fields = Map::new();
            match output {
                Output::InDir { path, size } => {
                    insert_path(
                        &mut fields,
                        &format!("{name}_file"),
                        path.as_os_str().as_bytes(),
                    );
                    fields.insert(format!("{name}_size"), Value::from(*size));
                }
                // A task that never ran (its worker crashed every time) has no file.
                Output::Content(stream) => {
                    fields.insert(format!("{name}_file"), Value::Null);
                    fields.insert(format!("{name}_size"), Value::from(stream.len()));
                }
            }
            let fields = serde_json::to_vec(&fields).unwrap_or_default();
            self.sink.write(b",");
            self.sink.write(&fields[1..fields.len() - 1]);
            return Ok(());
        }
        self.sink.write(format!(",\"{name}\":").as_bytes());
        let (buf, sink) = (&mut self.buf, &mut self.sink);
        let valid = with_stream(output, |stream| {
            stream_text::write_json_string(stream, buf, sink)
        })?;
        if !valid {
            sink.write(format!(",\"{name}_bytes\":").as_bytes());
            with_stream(output, |stream| {
                stream_text::write_json_bytes(stream, buf, sink)
            })?;
        }
        Ok(())
    }

    fn csv_header(&mut self) {
        self.started = true;
        let header: &[u8] = if self.output_dir {
            b"item,seq,exit_code,signal,stdout_file,stdout_size,stderr_file,stderr_size,duration_ms,attempts,error\n"
        } else {
            b"item,seq,exit_code,signal,stdout,stderr,duration_ms,attempts,error\n"
        };
        self.sink.write(header);
    }

    fn write_csv(&mut self, row: &Row) -> io::Result<()> {
        let text = |value: Option<String>| value.unwrap_or_default().into_bytes();
        let sink = &mut self.sink;
        stream_text::write_csv_field(&row.item, sink)?;
        for field in [
            row.seq.to_string().into_bytes(),
            text(row.exit_code.map(|c| c.to_string())),
            text(row.signal.clone()),
        ] {
            sink.write(b",");
            stream_text::write_csv_field(&field, sink)?;
        }
        for output in [&row.stdout, &row.stderr] {
            sink.write(b",");
            match output {
                Output::InDir { path, size } => {
                    stream_text::write_csv_field(path.as_os_str().as_bytes(), sink)?;
                    sink.write(format!(",{size}").as_bytes());
                }
                Output::Content(stream) if self.output_dir => {
                    sink.write(format!(",{}", stream.len()).as_bytes());
                }
                Output::Content(stream) => {
                    stream_text::write_csv_quoted(stream, &mut self.buf, sink)?
                }
            }
        }
        for field in [
            text(row.duration_ms.map(|ms| format!("{ms:.3}"))),
            row.attempts.to_string().into_bytes(),
            text(row.error.clone()),
        ] {
            sink.write(b",");
            stream_text::write_csv_field(&field, sink)?;
        }
        sink.write(b"\n");
        Ok(())
    }
}

/// Runs `f` on the output's content, opening an `--output-dir` file for the purpose.
fn with_stream<R>(output: &Output, f: impl FnOnce(&Stream) -> io::Result<R>) -> io::Result<R> {
    match output {
        Output::Content(stream) => f(stream),
        Output::InDir { path, size } => {
            let file = std::fs::File::open(path)?;
            f(&Stream::File { file, size: *size })
        }
    }
}

/// The stderr line of a failed task: `task 3 (ITEM): exited with status 1`.
pub fn failure_line(row: &Row) -> Option<String> {
    if !row.failed {
        return None;
    }
    let cause = match (&row.error, row.exit_code, &row.signal) {
        (Some(error), _, _) => error.clone(),
        (None, Some(code), _) => format!("exited with status {code}"),
        (None, None, Some(signal)) => format!("killed by {signal}"),
        (None, None, None) => "failed".to_string(),
    };
    let attempts = if row.attempts > 1 {
        format!(" (attempts: {})", row.attempts)
    } else {
        String::new()
    };
    Some(format!(
        "task {} ({}): {cause}{attempts}",
        row.seq,
        display_path(&row.item)
    ))
}

//! One `exec` result, and how it is written in each format: its output streamed piece by
//! piece (see [`super::stream_text`]), never held whole.

use super::stream_text::{self, Stream};
use super::{Sink, display_path, insert_path};
use serde_json::{Map, Value};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

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

/// The CSV header line.
pub fn csv_header(output_dir: bool) -> &'static [u8] {
    if output_dir {
        b"item,seq,exit_code,signal,stdout_file,stdout_size,stderr_file,stderr_size,duration_ms,attempts,error\n"
    } else {
        b"item,seq,exit_code,signal,stdout,stderr,duration_ms,attempts,error\n"
    }
}

/// Writes rows into the output.
pub struct Encoder<'a> {
    /// Where results go.
    pub sink: &'a mut Sink,
    /// Reused for reading output files.
    pub buf: &'a mut Vec<u8>,
    /// Paths and sizes instead of text in json/jsonl/csv.
    pub output_dir: bool,
}

impl Encoder<'_> {
    /// stdout to the output, stderr to stderr, and a note for a failure.
    pub fn table(&mut self, row: &Row) -> io::Result<()> {
        let (buf, sink) = (&mut *self.buf, &mut *self.sink);
        with_stream(&row.stdout, |stream| stream.copy_to(buf, sink))?;
        let mut stderr = io::stderr().lock();
        with_stream(&row.stderr, |stream| stream.copy_to(buf, &mut stderr))?;
        if let Some(line) = failure_line(row) {
            let _ = writeln!(stderr, "supervisor: {line}");
        }
        Ok(())
    }

    pub fn json(&mut self, row: &Row) -> io::Result<()> {
        self.json_leaving_out(row, [false, false])
    }

    /// The JSON object of [`Encoder::json`] without the streams marked in `left_out`
    /// (stdout, stderr): a partition file carries big streams after the object.
    pub fn json_leaving_out(&mut self, row: &Row, left_out: [bool; 2]) -> io::Result<()> {
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
        let streams = [("stdout", &row.stdout), ("stderr", &row.stderr)];
        for ((name, output), left_out) in streams.into_iter().zip(left_out) {
            if !left_out {
                self.json_stream(name, output)?;
            }
        }
        let tail = serde_json::to_vec(&tail).unwrap_or_default();
        self.sink.write(b",");
        self.sink.write(&tail[1..]);
        Ok(())
    }

    /// `,"stdout":"TEXT"` (plus `"stdout_bytes":[...]` when it is not UTF-8), or with
    /// `--output-dir`, `,"stdout_file":PATH,"stdout_size":N`.
    fn json_stream(&mut self, name: &str, output: &Output) -> io::Result<()> {
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
        let (buf, sink) = (&mut *self.buf, &mut *self.sink);
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

    pub fn csv(&mut self, row: &Row) -> io::Result<()> {
        let text = |value: Option<String>| value.unwrap_or_default().into_bytes();
        let sink = &mut *self.sink;
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
                Output::Content(stream) => stream_text::write_csv_quoted(stream, self.buf, sink)?,
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

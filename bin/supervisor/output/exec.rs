//! How `exec` results are written: `table` is each task's stdout in input order, grouped as
//! `parallel -k` prints it (its stderr to stderr); `json`, `jsonl` and `csv` hold the streams
//! as text (or, with `--output-dir`, their files and sizes).
//!
//! Results arrive in completion order. Every format but `jsonl` is written in input order as
//! soon as the order allows (task 7 is written once tasks 1 to 6 are), so output flows during
//! the run and what is held is only what finished ahead of an earlier task. Held output stays
//! in memory up to [`HELD_IN_MEMORY`] bytes in all, then goes to unnamed temp files; output a
//! worker spilled is read from its file. Nothing a task printed is ever held whole in memory.
//!
//! A partition's file (see [`super::exec_partition`]) is written in input order too, into an
//! unnamed temp file, and at the end after its header (which records when the run ended).
//! `supervisor merge` feeds the partitions' rows back through this writer in input order.

use super::exec_partition;
use super::exec_row::{self, Encoder};
pub use super::exec_row::{Output, Row};
use super::stream_text::Stream;
use super::summary::{self, Totals};
use super::{Finished, Sink, display_path};
use crate::cli::Format;
use crate::partition::Share;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use supervisor_runtime::Summary;

/// The most bytes of held (finished out of order) output kept in memory.
pub const HELD_IN_MEMORY: u64 = 16 << 20;

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
    /// The json array or the csv header was written.
    started: bool,
    written: u64,
    failed: u64,
    buf: Vec<u8>,
    /// Job-specific additions to the summary: a JSON key and value, and a text line.
    extra: Vec<(String, Value, String)>,
    /// The share a partition's output is for (its header).
    share: Option<Share>,
    /// A partition's result lines, until its header can be written.
    body: Option<Sink>,
    /// The partition of each worker slot in the summary (a merge of partitions' summaries).
    slot_partitions: Option<Vec<u32>>,
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
            share: None,
            body: None,
            slot_partitions: None,
        }
    }

    /// Makes the output a partition's (`Format::Partition`): its result lines go to a temp
    /// file until the run ends, then follow `share`'s header.
    pub fn for_share(mut self, share: Option<Share>) -> Result<Self, String> {
        if self.format == Format::Partition {
            self.body = Some(Sink::scratch(&self.temp_dir)?);
        }
        self.share = share;
        Ok(self)
    }

    /// A merge: labels each worker slot of the summary with the partition it ran in.
    pub fn merged(&mut self, slot_partitions: Vec<u32>) {
        self.slot_partitions = Some(slot_partitions);
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
        let slot_partitions = self.slot_partitions.as_deref();
        let mut json = summary::to_json(summary, &totals, slot_partitions);
        let mut text = String::new();
        for (key, value, line) in &self.extra {
            if let Some(object) = json.as_object_mut() {
                object.insert(key.clone(), value.clone());
            }
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&summary::to_text(summary, &totals, slot_partitions));
        match self.format {
            Format::Jsonl => {
                let line = serde_json::json!({ "summary": json });
                self.sink.write(format!("{line}\n").as_bytes());
            }
            Format::Partition => {
                if let Some(share) = &self.share {
                    self.sink.write(&share.header().line());
                }
                if let Some(body) = self.body.take() {
                    let mut lines = body.into_scratch()?;
                    std::io::copy(&mut lines, &mut self.sink).map_err(|e| {
                        format!(
                            "cannot read a temporary file: {}",
                            supervisor_jobs::describe_io_error(&e)
                        )
                    })?;
                }
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
                    self.sink.write(exec_row::csv_header(self.output_dir));
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
        if !self.started {
            match self.format {
                Format::Json => self.sink.write(b"{\"results\": ["),
                Format::Csv => self.sink.write(exec_row::csv_header(self.output_dir)),
                _ => {}
            }
        } else if self.format == Format::Json {
            self.sink.write(b",");
        }
        self.started = true;
        let mut encoder = Encoder {
            // A partition's lines wait for its header.
            sink: self.body.as_mut().unwrap_or(&mut self.sink),
            buf: &mut self.buf,
            output_dir: self.output_dir,
        };
        let result = match self.format {
            Format::Table | Format::Sums => encoder.table(row),
            Format::Json => {
                encoder.sink.write(b"\n");
                encoder.json(row)
            }
            Format::Jsonl => encoder.json(row).map(|()| encoder.sink.write(b"\n")),
            Format::Partition => exec_partition::write(&mut encoder, row),
            Format::Csv => encoder.csv(row),
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
}

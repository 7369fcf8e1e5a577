//! Writing results in the formats of `--format`.
//!
//! Jobs turn each result into a [`Record`] (every format's view of it); this module orders and
//! writes them. Order is canonical (by path, or by input position) whatever order results
//! arrived in, except `jsonl`, which streams results as they complete.

pub mod cpu;
pub mod fault;
pub mod hash;
pub mod logs;
pub mod probe;
mod record;
mod sink;
pub mod summary;

pub use record::{Record, display_path, insert_path};
pub use sink::Sink;

use crate::cli::Format;
use summary::Totals;
use supervisor_runtime::Summary;

/// How a job's records look in the table and CSV formats.
pub struct View {
    /// CSV column names, matching `Record::csv`.
    pub csv_header: Vec<String>,
    /// The table's first line.
    pub table_header: String,
    /// Table line of one record and its sort rank (higher first). `None` leaves the record
    /// out of the rows (e.g. a log file without matches); a failed record left out this way
    /// is listed after the rows with its error line.
    pub table_row: fn(&Record) -> Option<(u64, String)>,
    /// The table's closing line(s) before the summary, from all records.
    pub table_total: fn(&[Record]) -> String,
}

/// Collects records and writes them in the chosen format.
pub struct Output {
    format: Format,
    sink: Sink,
    quiet: bool,
    view: View,
    records: Vec<Record>,
    /// Job-specific additions to the summary: a JSON key and value, and a text line.
    extra: Vec<(String, serde_json::Value, String)>,
}

impl Output {
    /// Starts an output; `jsonl` writes nothing until the first record.
    pub fn new(format: Format, sink: Sink, quiet: bool, view: View) -> Self {
        Output {
            format,
            sink,
            quiet,
            view,
            records: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Adds one result (written at once for `jsonl`). Returns a line for stderr when the
    /// format has no room for the result's error (`sums`, `csv`).
    #[must_use]
    pub fn push(&mut self, record: Record) -> Option<String> {
        let note = match (&record.error_line, self.format) {
            (Some(line), Format::Sums | Format::Csv) => Some(format!("supervisor: {line}")),
            _ => None,
        };
        if self.format == Format::Jsonl {
            let mut line = serde_json::to_vec(&record.json).unwrap_or_default();
            line.push(b'\n');
            self.sink.write(&line);
            self.sink.flush();
        }
        self.records.push(record);
        note
    }

    /// Adds a job-specific entry to the summary (`key` in JSON, `line` in text).
    pub fn add_summary(&mut self, key: &str, value: serde_json::Value, line: String) {
        self.extra.push((key.to_string(), value, line));
    }

    fn summary_json(&self, summary: &Summary, totals: &Totals) -> serde_json::Value {
        let mut json = summary::to_json(summary, totals);
        if let Some(object) = json.as_object_mut() {
            for (key, value, _) in &self.extra {
                object.insert(key.clone(), value.clone());
            }
        }
        json
    }

    fn summary_text(&self, summary: &Summary, totals: &Totals) -> String {
        let mut text = String::new();
        for (_, _, line) in &self.extra {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&summary::to_text(summary, totals));
        text
    }

    /// How many pushed records are failures.
    pub fn failed(&self) -> u64 {
        self.records.iter().filter(|r| r.failed).count() as u64
    }

    /// How many records were pushed.
    pub fn len(&self) -> u64 {
        self.records.len() as u64
    }

    /// True when stdout was closed by its reader (`| head`).
    pub fn reader_went_away(&self) -> bool {
        self.sink.is_broken_pipe()
    }

    /// Writes everything that was held back, then the summary, and closes the output.
    pub fn finish(mut self, summary: &Summary, skipped: u64) -> Result<(), String> {
        let totals = Totals {
            results: self.len(),
            failed: self.failed(),
            skipped,
        };
        self.records.sort_by(|a, b| a.order.cmp(&b.order));
        match self.format {
            Format::Jsonl => {
                let line = serde_json::json!({ "summary": self.summary_json(summary, &totals) });
                self.sink.write(format!("{line}\n").as_bytes());
            }
            Format::Json => {
                let results: Vec<&serde_json::Map<_, _>> =
                    self.records.iter().map(|r| &r.json).collect();
                let doc = serde_json::json!({
                    "results": results,
                    "summary": self.summary_json(summary, &totals),
                });
                let mut text = serde_json::to_vec_pretty(&doc).unwrap_or_default();
                text.push(b'\n');
                self.sink.write(&text);
            }
            Format::Csv => {
                let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
                let _ = writer.write_record(&self.view.csv_header);
                for record in &self.records {
                    let _ = writer.write_record(&record.csv);
                }
                let bytes = writer.into_inner().unwrap_or_default();
                self.sink.write(&bytes);
                if !self.quiet {
                    eprint!("{}", self.summary_text(summary, &totals));
                }
            }
            Format::Sums => {
                for record in &self.records {
                    if let Some(line) = &record.sums {
                        self.sink.write(line);
                    }
                }
                if !self.quiet {
                    eprint!("{}", self.summary_text(summary, &totals));
                }
            }
            Format::Table => {
                let text = self.table(summary, &totals);
                self.sink.write(text.as_bytes());
            }
        }
        self.sink.finish()
    }

    fn table(&self, summary: &Summary, totals: &Totals) -> String {
        let mut rows: Vec<(u64, &[u8], String)> = self
            .records
            .iter()
            .filter_map(|r| {
                let (rank, line) = (self.view.table_row)(r)?;
                Some((rank, r.order.as_slice(), line))
            })
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let mut out = String::new();
        if !self.view.table_header.is_empty() {
            out.push_str(&self.view.table_header);
            out.push('\n');
        }
        for (_, _, line) in rows {
            out.push_str(&line);
            out.push('\n');
        }
        let left_out = self
            .records
            .iter()
            .filter(|r| r.failed && (self.view.table_row)(r).is_none());
        for record in left_out {
            if let Some(line) = &record.error_line {
                out.push_str("ERROR  ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str(&(self.view.table_total)(&self.records));
        out.push('\n');
        if self.quiet {
            // What the job adds (e.g. --compare's speedup) was asked for explicitly.
            for (_, _, line) in &self.extra {
                out.push_str(line);
                out.push('\n');
            }
        } else {
            out.push_str(&self.summary_text(summary, totals));
        }
        out
    }
}

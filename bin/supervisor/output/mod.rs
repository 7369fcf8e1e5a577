//! Writing results in the formats of `--format`.
//!
//! Jobs turn each result into a [`Record`] (every format's view of it); this module orders and
//! writes them. Order is canonical (by path, or by input position) whatever order results
//! arrived in, except `jsonl`, which streams results as they complete.

pub mod cpu;
pub mod decode;
pub mod exec;
pub mod exec_partition;
pub mod exec_row;
pub mod fault;
pub mod hash;
pub mod logs;
pub mod probe;
mod record;
mod sink;
pub mod stream_text;
pub mod summary;
mod sums_lines;

pub use record::{Needs, Record, display_path, insert_path};
pub use sink::Sink;
pub use sums_lines::SumsPrefix;

use crate::cli::Format;
use std::borrow::Cow;
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
    pub table_total: fn(&mut dyn Iterator<Item = Cow<'_, Record>>) -> String,
}

/// The results of a run, turned into records one at a time when they are written, so a
/// million results never exist as a million records at once.
pub trait Rows: Sync {
    /// How many rows (some may be absent: tasks never run).
    fn len(&self) -> usize;
    /// How rows `a` and `b` compare in the canonical output order (by path bytes, or by a
    /// big-endian position).
    fn order_cmp(&self, a: usize, b: usize) -> std::cmp::Ordering;
    /// Row `i` as a record, or `None` for a task that has no result.
    fn record(&self, i: usize) -> Option<Cow<'_, Record>>;
    /// Whether row `i` is a failure (`None`: absent). Cheaper than building the record.
    fn failed(&self, i: usize) -> Option<bool> {
        self.record(i).map(|r| r.failed)
    }
    /// Appends row `i`'s `sums` line to `line` without building its record, for rows that
    /// can (a million lines are written without a record each): `Some(false)` when the row
    /// has no line (an error, or no result), `None` to have the record built instead. Appends
    /// nothing unless it returns `Some(true)`.
    fn push_sums(&self, _i: usize, _line: &mut Vec<u8>) -> Option<bool> {
        None
    }
    /// True when row order already is the canonical order (no sort, no order keys needed).
    fn in_order(&self) -> bool {
        false
    }
}

/// Rows that are a run's tasks and outcomes, in task order, each turned into a record only
/// when it is written.
pub struct TaskRows<T, O> {
    /// The tasks, in task order.
    pub tasks: Vec<T>,
    /// Their outcomes (`None`: never run).
    pub outcomes: Vec<Option<supervisor_runtime::Outcome<O>>>,
    /// What the output format reads.
    pub needs: Needs,
    /// Builds the record of task `i`.
    pub build: fn(usize, &T, &supervisor_runtime::Outcome<O>, Needs) -> Record,
    /// Whether an outcome counts as a failure.
    pub is_failure: fn(&supervisor_runtime::Outcome<O>) -> bool,
}

impl<T: Sync, O: Sync> Rows for TaskRows<T, O> {
    fn len(&self) -> usize {
        self.tasks.len()
    }

    fn order_cmp(&self, a: usize, b: usize) -> std::cmp::Ordering {
        a.cmp(&b)
    }

    fn record(&self, i: usize) -> Option<Cow<'_, Record>> {
        let outcome = self.outcomes[i].as_ref()?;
        Some(Cow::Owned((self.build)(
            i,
            &self.tasks[i],
            outcome,
            self.needs,
        )))
    }

    fn failed(&self, i: usize) -> Option<bool> {
        self.outcomes[i].as_ref().map(self.is_failure)
    }

    fn in_order(&self) -> bool {
        true
    }
}

impl Rows for Vec<Record> {
    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn order_cmp(&self, a: usize, b: usize) -> std::cmp::Ordering {
        self[a].order.cmp(&self[b].order)
    }

    fn record(&self, i: usize) -> Option<Cow<'_, Record>> {
        Some(Cow::Borrowed(&self[i]))
    }

    fn failed(&self, i: usize) -> Option<bool> {
        Some(self[i].failed)
    }
}

/// Writes results in the chosen format: `jsonl` as they come, the others at the end.
pub struct Output {
    format: Format,
    sink: Sink,
    quiet: bool,
    view: View,
    /// Records pushed during the run, for jobs that do not supply their own [`Rows`].
    collected: Vec<Record>,
    /// Whether pushed records are kept (jobs with their own rows only stream them).
    collect: bool,
    /// Records are text the job composed itself, written as they are pushed (see
    /// [`Output::raw_text`]).
    raw: bool,
    /// Job-specific additions to the summary: a JSON key and value, and a text line.
    extra: Vec<(String, serde_json::Value, String)>,
    /// The share this run is, for the header line of `Format::Partition`.
    share: Option<crate::partition::Share>,
    /// The partition of each worker slot in the summary (a merge of partitions' summaries).
    slot_partitions: Option<Vec<u32>>,
    /// `jsonl` writes the rows given at the end (nothing was streamed: a merge).
    jsonl_at_end: bool,
    /// `sums` lines rendered during the run are written as they are pushed (see
    /// [`Output::stream_sums`]); once the run is over, how many leading rows they were.
    sums_streamed: Option<usize>,
}

impl Output {
    /// Starts an output that keeps what is pushed; `jsonl` writes nothing until the first one.
    pub fn new(format: Format, sink: Sink, quiet: bool, view: View) -> Self {
        Output {
            format,
            sink,
            quiet,
            view,
            collected: Vec::new(),
            collect: true,
            raw: false,
            extra: Vec::new(),
            share: None,
            slot_partitions: None,
            jsonl_at_end: false,
            sums_streamed: None,
        }
    }

    /// For a job that prints its own text in its own order (`hash --check`, like `md5sum
    /// -c`): each pushed record's `error_line` goes to stderr as it is (after what is already
    /// on the output has been flushed), then its `sums` bytes to the output, flushed.
    /// Nothing is collected; [`Output::finish_raw`] closes it.
    pub fn raw_text(mut self) -> Self {
        self.raw = true;
        self.collect = false;
        self
    }

    /// Makes the output a partition's: `Format::Partition` starts with this share's header.
    pub fn for_share(mut self, share: Option<crate::partition::Share>) -> Self {
        self.share = share;
        self
    }

    /// A merge: labels each worker slot of the summary with the partition it ran in, and has
    /// `jsonl` write the rows at the end, in canonical order, since none were streamed.
    pub fn merged(&mut self, slot_partitions: Vec<u32>) {
        self.slot_partitions = Some(slot_partitions);
        self.jsonl_at_end = true;
    }

    /// Stops keeping pushed records: the job will hand its own [`Rows`] to
    /// [`Output::finish_rows`], and pushing only serves `jsonl` streaming.
    pub fn streaming_only(mut self) -> Self {
        self.collect = false;
        self
    }

    /// For `--format sums` of rows already in output order: each pushed record is the text of
    /// the leading rows' lines (a [`SumsPrefix`]'s), written as it comes; then
    /// [`Output::end_sums_stream`] says how many rows that was, and
    /// [`Output::finish_rows`] writes the lines of the rows after them.
    pub fn stream_sums(&mut self) {
        if self.format == Format::Sums && !self.collect {
            self.sums_streamed = Some(0);
        }
    }

    /// Whether pushed records are `sums` text written as it comes.
    pub fn streams_sums(&self) -> bool {
        self.sums_streamed.is_some()
    }

    /// Writes the last of the text a [`SumsPrefix`] rendered, and notes how many leading rows
    /// are written.
    pub fn end_sums_stream(&mut self, prefix: SumsPrefix) {
        let (rows, text) = prefix.finish();
        self.sink.write(&text);
        self.sums_streamed = Some(rows);
    }

    /// Adds one result (written at once for `jsonl`).
    pub fn push(&mut self, record: Record) {
        if self.sums_streamed.is_some() {
            if let Some(text) = &record.sums {
                self.sink.write(text);
            }
            return;
        }
        if self.raw {
            if let Some(text) = &record.error_line {
                self.sink.flush();
                eprint!("{text}");
            }
            if let Some(bytes) = &record.sums {
                self.sink.write(bytes);
                self.sink.flush();
            }
            return;
        }
        if self.format == Format::Jsonl {
            let mut line = serde_json::to_vec(&record.json).unwrap_or_default();
            line.push(b'\n');
            self.sink.write(&line);
            self.sink.flush();
        }
        if self.collect {
            self.collected.push(record);
        }
    }

    /// Adds a job-specific entry to the summary (`key` in JSON, `line` in text).
    pub fn add_summary(&mut self, key: &str, value: serde_json::Value, line: String) {
        self.extra.push((key.to_string(), value, line));
    }

    fn summary_json(&self, summary: &Summary, totals: &Totals) -> serde_json::Value {
        let mut json = summary::to_json(summary, totals, self.slot_partitions.as_deref());
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
        text.push_str(&summary::to_text(
            summary,
            totals,
            self.slot_partitions.as_deref(),
        ));
        text
    }

    /// True when stdout was closed by its reader (`| head`).
    pub fn reader_went_away(&self) -> bool {
        self.sink.is_broken_pipe()
    }

    /// Writes the collected records, then the summary, and closes the output. Returns how
    /// many results failed.
    pub fn finish(mut self, summary: &Summary, skipped: u64) -> Result<Finished, String> {
        let collected = std::mem::take(&mut self.collected);
        self.finish_rows(&collected, summary, skipped)
    }

    /// Closes an output made with [`Output::raw_text`], whose job counted its own results:
    /// writes the summary (on stderr, unless quiet) and nothing else.
    pub fn finish_raw(self, summary: &Summary, totals: &Totals) -> Result<Finished, String> {
        if !self.quiet {
            eprint!("{}", self.summary_text(summary, totals));
        }
        let reader_went_away = self.sink.is_broken_pipe();
        self.sink.finish()?;
        Ok(Finished {
            failed: totals.failed,
            reader_went_away,
        })
    }

    /// Writes `rows` in canonical order, then the summary, and closes the output.
    pub fn finish_rows(
        mut self,
        rows: &dyn Rows,
        summary: &Summary,
        skipped: u64,
    ) -> Result<Finished, String> {
        // The rows present, and the failed ones among them, in one pass over a million. Rows
        // whose `sums` lines were written during the run lead the order (they were in order
        // and all present) and are only counted.
        let streamed = self.sums_streamed.unwrap_or(0).min(rows.len());
        debug_assert!(streamed == 0 || rows.in_order());
        let mut present = 0u64;
        let mut order: Vec<usize> = Vec::with_capacity(rows.len() - streamed);
        let mut failed_rows: Vec<usize> = Vec::new();
        for i in 0..rows.len() {
            if let Some(failed) = rows.failed(i) {
                present += 1;
                if i >= streamed {
                    order.push(i);
                }
                if failed {
                    failed_rows.push(i);
                }
            }
        }
        if !rows.in_order() {
            order.sort_by(|&a, &b| rows.order_cmp(a, b));
            failed_rows.sort_by(|&a, &b| rows.order_cmp(a, b));
        }
        let failed = failed_rows.len() as u64;
        let totals = Totals {
            results: present,
            failed,
            skipped,
        };
        let records = || order.iter().filter_map(|&i| rows.record(i));
        if matches!(self.format, Format::Sums | Format::Csv) {
            // These formats have no room for errors: name each one on stderr (only the failed
            // rows' records are built for it: a million rows built twice took a third of the
            // time of writing a million sums).
            for record in failed_rows.iter().filter_map(|&i| rows.record(i)) {
                if let Some(line) = &record.error_line {
                    eprintln!("supervisor: {line}");
                }
            }
        }
        match self.format {
            Format::Jsonl => {
                if self.jsonl_at_end {
                    for record in records() {
                        let mut line = serde_json::to_vec(&record.json).unwrap_or_default();
                        line.push(b'\n');
                        self.sink.write(&line);
                    }
                }
                let line = serde_json::json!({ "summary": self.summary_json(summary, &totals) });
                self.sink.write(format!("{line}\n").as_bytes());
            }
            Format::Partition => {
                // Written whole at the end, in canonical order: a rerun partition writes the
                // same results, and `merge` needs no sort within a file.
                if let Some(share) = &self.share {
                    self.sink.write(&share.header().line());
                }
                for record in records() {
                    self.sink.write(&crate::partition::PartitionLine::encode(
                        &record.order,
                        record.failed,
                        &record.json,
                    ));
                }
                let line = serde_json::json!({ "summary": self.summary_json(summary, &totals) });
                self.sink.write(format!("{line}\n").as_bytes());
            }
            Format::Json => {
                // One result per line keeps a million-result document streamable.
                self.sink.write(b"{\"results\": [");
                for (n, record) in records().enumerate() {
                    self.sink.write(if n == 0 { b"\n" } else { b",\n" });
                    self.sink
                        .write(&serde_json::to_vec(&record.json).unwrap_or_default());
                }
                let summary_json = serde_json::to_vec_pretty(&self.summary_json(summary, &totals))
                    .unwrap_or_default();
                self.sink.write(b"\n],\n\"summary\": ");
                self.sink.write(&summary_json);
                self.sink.write(b"}\n");
            }
            Format::Csv => {
                let mut writer = csv::WriterBuilder::new().from_writer(&mut self.sink);
                let _ = writer.write_record(&self.view.csv_header);
                for record in records() {
                    let _ = writer.write_record(&record.csv);
                }
                let _ = writer.flush();
                drop(writer);
                if !self.quiet {
                    eprint!("{}", self.summary_text(summary, &totals));
                }
            }
            Format::Sums => {
                sums_lines::write(&mut self.sink, rows, &order);
                if !self.quiet {
                    eprint!("{}", self.summary_text(summary, &totals));
                }
            }
            Format::Table => {
                let text = self.table(rows, &order, summary, &totals);
                self.sink.write(text.as_bytes());
            }
        }
        let reader_went_away = self.sink.is_broken_pipe();
        self.sink.finish()?;
        Ok(Finished {
            failed,
            reader_went_away,
        })
    }

    fn table(
        &self,
        rows: &dyn Rows,
        order: &[usize],
        summary: &Summary,
        totals: &Totals,
    ) -> String {
        // Rank first (cheap to keep), lines second, so only the visible text is held.
        let mut ranked: Vec<(u64, usize)> = Vec::new();
        let mut left_out: Vec<String> = Vec::new();
        for &i in order {
            let Some(record) = rows.record(i) else {
                continue;
            };
            match (self.view.table_row)(&record) {
                Some((rank, _)) => ranked.push((rank, i)),
                None if record.failed => left_out.extend(record.error_line.clone()),
                None => {}
            }
        }
        // `order` is already canonical, so a stable sort by rank keeps it within a rank.
        ranked.sort_by_key(|&(rank, _)| std::cmp::Reverse(rank));
        let mut out = String::new();
        if !self.view.table_header.is_empty() {
            out.push_str(&self.view.table_header);
            out.push('\n');
        }
        for (_, i) in ranked {
            if let Some((_, line)) = rows.record(i).and_then(|r| (self.view.table_row)(&r)) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        for line in left_out {
            out.push_str("ERROR  ");
            out.push_str(&line);
            out.push('\n');
        }
        let mut all = order.iter().filter_map(|&i| rows.record(i));
        out.push_str(&(self.view.table_total)(&mut all));
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

/// What writing the output found.
pub struct Finished {
    /// Results that are failures.
    pub failed: u64,
    /// Standard output was closed by its reader (`| head`): not an error.
    pub reader_went_away: bool,
}

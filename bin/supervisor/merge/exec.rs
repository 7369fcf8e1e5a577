//! Merging the partitions of an `exec` run: their rows fed, in input order, to the writer one
//! run uses ([`ExecWriter`]), so the table is the commands' output byte for byte and the other
//! formats hold the same results.
//!
//! A task's output may be gigabytes, so nothing is held whole. Once the headers say the files
//! are one run's complete set, a first pass reads every file through and checks it (each
//! result line and the base64 pieces of big streams, that its results are in input order and
//! each belongs to the partition the file claims), keeping only its summary: nothing is
//! written unless the whole set is sound. The second pass opens every file at once and
//! merges them like sorted runs (each partition is in input order already): the next result
//! is the smallest position among the files' next results. A big stream is decoded into an
//! unnamed temp file just before its row is written.

use super::read::{self, PartFile};
use super::{MergeArgs, summary};
use crate::error::CliError;
use crate::lines::Lines;
use crate::output::Sink;
use crate::output::exec::ExecWriter;
use crate::output::exec_partition::{self, Head};
use crate::output::exec_row::{Output, Row};
use crate::output::stream_text::Stream;
use crate::partition::{Header, exec_key};
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::path::{Path, PathBuf};
use supervisor_jobs::partition::Partition;

/// The read buffer of each file while all are open at once.
const BUFFER: usize = 64 * 1024;

/// Merges the partition files of an exec run (their headers checked to be one run's complete
/// set); returns the exit code.
pub fn run(args: &MergeArgs) -> Result<u8, CliError> {
    let mut parts = Vec::with_capacity(args.files.len());
    for path in &args.files {
        parts.push(check_file(path)?);
    }
    parts.sort_by_key(|p| p.header.partition);
    let merged = summary::merge(&parts);
    let output_dir = !parts[0].header.args["output_dir"].is_null();
    let temp_dir = std::env::temp_dir();

    room_for_open_files(parts.len());
    let mut files = Vec::with_capacity(parts.len());
    for part in &parts {
        files.push(PartRows::open(&part.path, Some(temp_dir.clone()))?);
    }
    let sink = Sink::open(args.output.as_deref()).map_err(CliError::Output)?;
    let mut writer = ExecWriter::new(args.format, sink, args.quiet, output_dir, temp_dir);
    writer.merged(merged.slot_partitions);
    if !args.quiet {
        writer.add_summary("partitions", merged.partitions, merged.partitions_line);
    }
    // Each file's next row, and a heap of their positions: the smallest is written next.
    let mut next: Vec<Option<Row>> = Vec::with_capacity(files.len());
    let mut heap = BinaryHeap::new();
    for (at, file) in files.iter_mut().enumerate() {
        let row = file.next_row()?;
        if let Some(row) = &row {
            heap.push(Reverse((row.seq, at)));
        }
        next.push(row);
    }
    let mut index = 0;
    while let Some(Reverse((_, at))) = heap.pop() {
        let Some(mut row) = next[at].take() else {
            continue;
        };
        // Positions may have gaps (tasks an interrupted partition never ran): the writer
        // counts the rows it is given.
        row.index = index;
        index += 1;
        writer.push(row);
        if writer.reader_went_away() {
            break;
        }
        next[at] = files[at].next_row()?;
        if let Some(row) = &next[at] {
            heap.push(Reverse((row.seq, at)));
        }
    }
    let written = writer.finish(&merged.summary).map_err(CliError::Output)?;
    Ok(super::exit_code(&written, &merged.summary))
}

/// Reads a partition file through, checking every line; keeps its header and summary.
fn check_file(path: &Path) -> Result<PartFile, CliError> {
    let mut rows = PartRows::open(path, None)?;
    let mut results = 0;
    while rows.next_row()?.is_some() {
        results += 1;
    }
    let summary = rows.summary.take().unwrap_or_default();
    while let Some((line, at)) = rows.lines.next_line()? {
        if !line.is_empty() {
            return Err(read::after_summary(at));
        }
    }
    Ok(PartFile {
        path: path.to_path_buf(),
        header: rows.header,
        rows: Vec::new(),
        results,
        summary,
    })
}

/// The rows of one partition file, in its order.
struct PartRows {
    header: Header,
    lines: Lines,
    /// The partition the file claims (`None`: no partition of its count; `merge` names it).
    partition: Option<Partition>,
    output_dir: bool,
    /// Where big streams are decoded to (`None`: checked and dropped).
    spool: Option<PathBuf>,
    /// The last row's `{#}`: each must be greater.
    last_seq: u64,
    /// Set when the summary line was read.
    summary: Option<Value>,
    buf: Vec<u8>,
}

impl PartRows {
    fn open(path: &Path, spool: Option<PathBuf>) -> Result<Self, CliError> {
        let (header, lines) = read::open(path, BUFFER)?;
        Ok(PartRows {
            partition: Partition::new(header.partition.into(), header.partitions).ok(),
            output_dir: !header.args["output_dir"].is_null(),
            header,
            lines,
            spool,
            last_seq: 0,
            summary: None,
            buf: Vec::new(),
        })
    }

    /// The next row with its streams, or `None` after the summary line.
    fn next_row(&mut self) -> Result<Option<Row>, CliError> {
        if self.summary.is_some() {
            return Ok(None);
        }
        let Head { mut row, follows } = loop {
            let Some((line, at)) = self.lines.next_line()? else {
                return Err(read::incomplete(self.lines.path(), &self.header));
            };
            if line.is_empty() {
                continue;
            }
            if let Some(summary) = read::summary(line, at)? {
                self.summary = Some(summary);
                return Ok(None);
            }
            let bad = |e: String| CliError::Usage(format!("{at}: not a result line: {e}"));
            let head = exec_partition::decode(line, self.output_dir).map_err(bad)?;
            if let Some(p) = self.partition
                && !p.owns(&exec_key(head.row.seq - 1, &head.row.item))
            {
                return Err(bad(format!(
                    "task {} is not in partition {p}",
                    head.row.seq
                )));
            }
            if head.row.seq <= self.last_seq {
                return Err(bad("its results are out of order".into()));
            }
            self.last_seq = head.row.seq;
            break head;
        };
        if follows[0] {
            row.stdout = Output::Content(self.read_stream("stdout")?);
        }
        if follows[1] {
            row.stderr = Output::Content(self.read_stream("stderr")?);
        }
        Ok(Some(row))
    }

    /// A stream that follows its result line: into an unnamed temp file, or (when only
    /// checking) nowhere.
    fn read_stream(&mut self, name: &str) -> Result<Stream, CliError> {
        let Some(dir) = &self.spool else {
            exec_partition::read_pieces(&mut self.lines, name, &mut io::sink(), &mut self.buf)?;
            return Ok(Stream::Bytes(Vec::new()));
        };
        let mut file = supervisor_jobs::exec::anonymous_file(dir).map_err(|e| {
            CliError::Output(format!(
                "cannot write temporary files in {}: {}",
                dir.display(),
                supervisor_jobs::describe_io_error(&e)
            ))
        })?;
        let size = exec_partition::read_pieces(&mut self.lines, name, &mut file, &mut self.buf)?;
        Ok(Stream::File { file, size })
    }
}

/// Raises the soft limit on open files, up to the hard one, when one per partition would not
/// fit (Slurm arrays of a thousand tasks meet the common default of 1024).
fn room_for_open_files(files: usize) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let want = files as u64 + 64;
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < want
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, want.min(hard), hard);
    }
}

//! Reading one partition's output: its header, its result lines, its summary.

use crate::error::CliError;
use crate::lines::{Lines, Place};
use crate::partition::{Header, PartitionLine};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One partition file, read and checked line by line.
pub struct PartFile {
    pub path: PathBuf,
    pub header: Header,
    /// The result lines, in the file's order (canonical within the partition); none for a
    /// job whose merge streams them (`exec`).
    pub rows: Vec<Row>,
    /// How many results the file holds.
    pub results: usize,
    /// The partition's summary object.
    pub summary: Value,
}

/// One result, kept as its line and parsed again when it is written: a merge of a million
/// results holds a million short lines, not a million JSON trees.
pub struct Row {
    pub order: Vec<u8>,
    pub failed: bool,
    pub line: Box<[u8]>,
}

/// Reads only the header of the partition file at `path`.
pub fn header(path: &Path) -> Result<Header, CliError> {
    open(path, 1 << 20).map(|(header, _)| header)
}

/// Opens the partition file at `path` (with a read buffer of `capacity` bytes) and reads its
/// header; the lines after it are left to read.
pub fn open(path: &Path, capacity: usize) -> Result<(Header, Lines), CliError> {
    let mut lines = Lines::open_buffered(path, capacity)?;
    let header = parse_header(lines.first()?, path)?;
    Ok((header, lines))
}

/// The summary object of a summary line (`{"summary": {...}}`), or `None` for another line.
pub fn summary(line: &[u8], at: Place<'_>) -> Result<Option<Value>, CliError> {
    if !line.starts_with(b"{\"summary\":") {
        return Ok(None);
    }
    let mut value: Value = serde_json::from_slice(line)
        .map_err(|e| CliError::Usage(format!("{at}: unreadable summary: {e}")))?;
    Ok(Some(value["summary"].take()))
}

/// The error for a line after the summary.
pub fn after_summary(at: Place<'_>) -> CliError {
    CliError::Usage(format!("{at}: a line after the summary"))
}

/// The error for a file without a summary line.
pub fn incomplete(path: &Path, header: &Header) -> CliError {
    CliError::Usage(format!(
        "{} is incomplete: {} never finished (no summary line); rerun it",
        path.display(),
        header.describe()
    ))
}

fn parse_header(line: &[u8], path: &Path) -> Result<Header, CliError> {
    let name = path.display();
    let header = match Header::parse(line) {
        Some(Ok(header)) => header,
        Some(Err(e)) => {
            return Err(CliError::Usage(format!(
                "{name}: unreadable partition header: {e}"
            )));
        }
        None => {
            return Err(CliError::Usage(format!(
                "{name} is not a partition's output (its first line is no partition header; \
                 partitions are written by supervisor run --partition ...)"
            )));
        }
    };
    if header.format != crate::partition::FORMAT {
        return Err(CliError::Usage(format!(
            "{name} has partition format {}; this build reads format {}",
            header.format,
            crate::partition::FORMAT
        )));
    }
    Ok(header)
}

/// Reads `path`; `check` is given each result line parsed (the job's decoder, so a line that
/// would not render is reported here with its line number).
pub fn read(
    path: &Path,
    check: &dyn Fn(&PartitionLine) -> Result<(), String>,
) -> Result<PartFile, CliError> {
    let (header, mut lines) = open(path, 1 << 20)?;
    let mut rows = Vec::new();
    let mut summary = None;
    while let Some((line, at)) = lines.next_line()? {
        if line.is_empty() {
            continue;
        }
        if summary.is_some() {
            return Err(after_summary(at));
        }
        if let Some(value) = self::summary(line, at)? {
            summary = Some(value);
            continue;
        }
        let parsed = PartitionLine::parse(line)
            .and_then(|parsed| check(&parsed).map(|()| parsed))
            .map_err(|e| CliError::Usage(format!("{}: not a result line: {e}", at)))?;
        rows.push(Row {
            order: parsed.order,
            failed: parsed.failed,
            line: line.into(),
        });
    }
    let summary = summary.ok_or_else(|| incomplete(path, &header))?;
    Ok(PartFile {
        path: path.to_path_buf(),
        header,
        results: rows.len(),
        rows,
        summary,
    })
}

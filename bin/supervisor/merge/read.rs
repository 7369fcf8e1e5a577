//! Reading one partition's output: its header, its result lines, its summary.

use crate::error::CliError;
use crate::partition::{Header, PartitionLine};
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// One partition file, read and checked line by line.
pub struct PartFile {
    pub path: PathBuf,
    pub header: Header,
    /// The result lines, in the file's order (canonical within the partition).
    pub rows: Vec<Row>,
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
    let file = open(path)?;
    let mut line = Vec::new();
    std::io::BufReader::new(file)
        .read_until(b'\n', &mut line)
        .map_err(|e| unreadable(path, &e))?;
    parse_header(line.strip_suffix(b"\n").unwrap_or(&line), path)
}

fn open(path: &Path) -> Result<std::fs::File, CliError> {
    std::fs::File::open(path).map_err(|e| unreadable(path, &e))
}

fn unreadable(path: &Path, e: &std::io::Error) -> CliError {
    CliError::Usage(format!(
        "cannot read {}: {}",
        path.display(),
        supervisor_jobs::describe_io_error(e)
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
    let name = path.display();
    let mut reader = std::io::BufReader::with_capacity(1 << 20, open(path)?);
    let mut line = Vec::new();
    let mut next = |line: &mut Vec<u8>| -> Result<bool, CliError> {
        line.clear();
        let n = reader
            .read_until(b'\n', line)
            .map_err(|e| unreadable(path, &e))?;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        Ok(n > 0)
    };
    next(&mut line)?;
    let header = parse_header(&line, path)?;
    let mut rows = Vec::new();
    let mut summary = None;
    let mut line_number = 1u64;
    while next(&mut line)? {
        line_number += 1;
        if line.is_empty() {
            continue;
        }
        if summary.is_some() {
            return Err(CliError::Usage(format!(
                "{name}:{line_number}: a line after the summary"
            )));
        }
        if line.starts_with(b"{\"summary\":") {
            let value: Value = serde_json::from_slice(&line).map_err(|e| {
                CliError::Usage(format!("{name}:{line_number}: unreadable summary: {e}"))
            })?;
            summary = Some(value["summary"].clone());
            continue;
        }
        let parsed = PartitionLine::parse(&line)
            .and_then(|parsed| check(&parsed).map(|()| parsed))
            .map_err(|e| {
                CliError::Usage(format!("{name}:{line_number}: not a result line: {e}"))
            })?;
        rows.push(Row {
            order: parsed.order,
            failed: parsed.failed,
            line: line.as_slice().into(),
        });
    }
    let summary = summary.ok_or_else(|| {
        CliError::Usage(format!(
            "{name} is incomplete: {} never finished (no summary line); rerun it",
            header.describe()
        ))
    })?;
    Ok(PartFile {
        path: path.to_path_buf(),
        header,
        rows,
        summary,
    })
}

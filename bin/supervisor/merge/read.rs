//! Reading one partition's output: its header, its result lines, its summary.

use crate::error::CliError;
use crate::lines::Lines;
use crate::partition::{Header, PartitionLine};
use serde_json::Value;
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
    let mut lines = Lines::open(path)?;
    parse_header(lines.first()?, path)
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
    let mut lines = Lines::open(path)?;
    let header = parse_header(lines.first()?, path)?;
    let mut rows = Vec::new();
    let mut summary = None;
    while let Some((line, at)) = lines.next_line()? {
        if line.is_empty() {
            continue;
        }
        if summary.is_some() {
            return Err(CliError::Usage(format!("{}: a line after the summary", at)));
        }
        if line.starts_with(b"{\"summary\":") {
            let mut value: Value = serde_json::from_slice(line)
                .map_err(|e| CliError::Usage(format!("{}: unreadable summary: {e}", at)))?;
            summary = Some(value["summary"].take());
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

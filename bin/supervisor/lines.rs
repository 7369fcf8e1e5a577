//! Reading a JSON Lines file (a plan, a partition's output) one line at a time, with errors
//! that name the file.

use crate::error::CliError;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// The lines of one file.
pub struct Lines {
    path: PathBuf,
    reader: BufReader<File>,
    line: Vec<u8>,
    number: u64,
}

impl Lines {
    /// Opens `path` (exit 2 naming it when it cannot be read).
    pub fn open(path: &Path) -> Result<Self, CliError> {
        Self::open_buffered(path, 1 << 20)
    }

    /// [`Lines::open`] with a read buffer of `capacity` bytes (for many files open at once).
    pub fn open_buffered(path: &Path, capacity: usize) -> Result<Self, CliError> {
        let file = File::open(path).map_err(|e| unreadable(path, &e))?;
        Ok(Lines {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(capacity, file),
            line: Vec::new(),
            number: 0,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next line without its newline, and where it is; `None` at the end of the file.
    pub fn next_line(&mut self) -> Result<Option<(&[u8], Place<'_>)>, CliError> {
        self.line.clear();
        let read = self
            .reader
            .read_until(b'\n', &mut self.line)
            .map_err(|e| unreadable(&self.path, &e))?;
        if read == 0 {
            return Ok(None);
        }
        self.number += 1;
        if self.line.last() == Some(&b'\n') {
            self.line.pop();
        }
        let place = Place {
            path: &self.path,
            number: self.number,
        };
        Ok(Some((&self.line, place)))
    }

    /// The first line (empty if the file is empty).
    pub fn first(&mut self) -> Result<&[u8], CliError> {
        Ok(self.next_line()?.map_or(&[][..], |(line, _)| line))
    }
}

/// Where a line is: displayed as `PATH:N`, for messages.
#[derive(Clone, Copy)]
pub struct Place<'a> {
    path: &'a Path,
    number: u64,
}

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.number)
    }
}

fn unreadable(path: &Path, e: &std::io::Error) -> CliError {
    CliError::Usage(format!(
        "cannot read {}: {}",
        path.display(),
        supervisor_jobs::describe_io_error(e)
    ))
}

//! `hash --check SUMSFILE`: verify a `md5sum`-style file in parallel, reporting like coreutils.

use super::{finish, open_output, supervise};
use crate::cli::{Format, RunOptions};
use crate::error::{CliError, code};
use crate::jobs::{HashJob, HashOutput};
use crate::output::{self, Record, View};
use serde_json::{Map, Value};
use std::io::Read;
use std::path::Path;
use supervisor_jobs::hash::{Algo, FileEntry, check_name, parse_sums_line};

/// Checks every line of `sums_file` and returns the exit code (1 on any mismatch or unreadable
/// file, as coreutils does).
pub fn run(options: &RunOptions, sums_file: &Path, algo: Option<Algo>) -> Result<u8, CliError> {
    let text = read_sums_file(sums_file)?;
    let mut expected = Vec::new();
    let mut malformed = 0u64;
    let mut guessed: Option<Algo> = algo;
    for line in text.split_inclusive(|&b| b == b'\n') {
        if line.trim_ascii().is_empty() || line.starts_with(b"#") {
            continue;
        }
        match parse_sums_line(line) {
            Ok((hex, path)) => {
                let algo = *guessed.get_or_insert_with(|| guess_algo(hex.len()));
                if hex.len() == algo.hex_len() {
                    expected.push((hex, path));
                } else {
                    malformed += 1;
                }
            }
            Err(_) => malformed += 1,
        }
    }
    let algo = guessed.unwrap_or_default();
    let mut options = options.clone();
    if options.format == Format::Table {
        options.format = Format::Sums;
    }
    let mut out = open_output(&options, view())?;
    let tasks: Vec<FileEntry> = expected
        .iter()
        .map(|(_, path)| FileEntry {
            size: std::fs::symlink_metadata(std::ffi::OsStr::from_bytes(path))
                .map(|m| m.len())
                .unwrap_or(0),
            path: path.clone(),
        })
        .collect();
    let (mut mismatched, mut unreadable) = (0u64, 0u64);
    let report = supervise::<HashJob>(&options, algo, tasks, &mut out, |i, _task, outcome| {
        let (hex, path) = &expected[i];
        let verdict = match &outcome.result {
            Ok(HashOutput::Digest { digest, .. }) if digest.hex() == *hex => Verdict::Ok,
            Ok(HashOutput::Digest { digest, .. }) => Verdict::Mismatch(digest.hex()),
            Ok(HashOutput::Error(message)) => Verdict::Unreadable(message.clone()),
            Err(failure) => Verdict::Unreadable(failure.to_string()),
        };
        match verdict {
            Verdict::Mismatch(_) => mismatched += 1,
            Verdict::Unreadable(_) => unreadable += 1,
            Verdict::Ok => {}
        }
        vec![record(i, path, hex, &verdict)]
    })?;
    let status = finish(out, &report.summary, 0)?;
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            one.to_string()
        } else {
            many.to_string()
        }
    };
    if malformed > 0 {
        eprintln!(
            "supervisor: WARNING: {malformed} {} improperly formatted",
            plural(malformed, "line is", "lines are")
        );
    }
    if unreadable > 0 {
        eprintln!(
            "supervisor: WARNING: {unreadable} listed {} could not be read",
            plural(unreadable, "file", "files")
        );
    }
    if mismatched > 0 {
        eprintln!(
            "supervisor: WARNING: {mismatched} computed {} did NOT match",
            plural(mismatched, "checksum", "checksums")
        );
    }
    if expected.is_empty() {
        eprintln!(
            "supervisor: {}: no properly formatted checksum lines found",
            sums_file.display()
        );
        return Ok(code::TASKS_FAILED);
    }
    Ok(status)
}

use std::os::unix::ffi::OsStrExt;

enum Verdict {
    Ok,
    Mismatch(String),
    Unreadable(String),
}

fn guess_algo(hex_len: usize) -> Algo {
    match hex_len {
        40 => Algo::Sha1,
        64 => Algo::Sha256,
        _ => Algo::Md5,
    }
}

fn read_sums_file(path: &Path) -> Result<Vec<u8>, CliError> {
    let mut text = Vec::new();
    let result = if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut text).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut text).map(|_| ()))
    };
    result.map_err(|e| {
        CliError::Usage(format!(
            "cannot read {}: {}",
            path.display(),
            supervisor_jobs::describe_io_error(&e)
        ))
    })?;
    Ok(text)
}

fn view() -> View {
    View {
        csv_header: ["path", "status", "expected", "actual", "error"]
            .map(String::from)
            .to_vec(),
        table_header: String::new(),
        table_row: |_| None,
        table_total: |_| String::new(),
    }
}

fn record(index: usize, path: &[u8], expected: &str, verdict: &Verdict) -> Record {
    let status = match verdict {
        Verdict::Ok => "OK",
        Verdict::Mismatch(_) => "FAILED",
        Verdict::Unreadable(_) => "FAILED open or read",
    };
    let (escaped, name) = check_name(path);
    let mut line = Vec::with_capacity(name.len() + 24);
    if escaped {
        line.push(b'\\');
    }
    line.extend_from_slice(&name);
    line.extend_from_slice(b": ");
    line.extend_from_slice(status.as_bytes());
    line.push(b'\n');
    let mut json = Map::new();
    output::insert_path(&mut json, "path", path);
    json.insert("status".into(), Value::from(status));
    json.insert("expected".into(), Value::from(expected));
    let (actual, error) = match verdict {
        Verdict::Ok => (expected, ""),
        Verdict::Mismatch(actual) => (actual.as_str(), ""),
        Verdict::Unreadable(message) => ("", message.as_str()),
    };
    if !actual.is_empty() {
        json.insert("actual".into(), Value::from(actual));
    }
    if !error.is_empty() {
        json.insert("error".into(), Value::from(error));
    }
    Record {
        order: (index as u64).to_be_bytes().to_vec(),
        failed: !matches!(verdict, Verdict::Ok),
        json,
        csv: vec![
            path.to_vec(),
            status.as_bytes().to_vec(),
            expected.as_bytes().to_vec(),
            actual.as_bytes().to_vec(),
            error.as_bytes().to_vec(),
        ],
        sums: Some(line),
        error_line: match verdict {
            Verdict::Unreadable(message) => {
                Some(format!("{}: {message}", output::display_path(path)))
            }
            _ => None,
        },
    }
}

//! What `hash --check` prints, in the checksum files' order, as md5sum prints it.
//!
//! Results arrive in any order (largest files first, from several workers); each line is
//! printed as soon as every line before it has been. For every checksum file, in order: its
//! opening error, or its lines (a `--warn` note for a malformed one; for a checked file the
//! reason it could not be read on stderr and `NAME: FAILED open or read`, or `NAME: FAILED`,
//! or `NAME: OK`), then its read error or its closing warnings (`WARNING: 2 computed
//! checksums did NOT match`, `no properly formatted checksum lines found`, ...).

use super::{CheckArgs, SumsProblem};
use crate::jobs::CheckOutput;
use crate::output::{self, Record};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use supervisor_jobs::PathList;
use supervisor_jobs::hash::{Algo, NameQuoter, check_name};
use supervisor_runtime::Outcome;

/// One line of a checksum file that is not skipped.
pub(super) enum Line {
    /// Not a checksum line for the tool.
    Improper { number: u64 },
    /// A file to verify, and the digest the line expects.
    Check { target: Target, hex: Hex },
}

/// What a checked line names.
pub(super) enum Target {
    /// A listed file: its task (its name is the task's, in the run's [`PathList`]).
    Task(u32),
    /// `-`, standard input, digested already (md5sum reads it for a file named `-`).
    Stdin(Box<CheckOutput>),
}

/// Where a line's expected digest (as written, hex) is in its file's `hexes`: one buffer per
/// checksum file, not a vector per line.
#[derive(Clone, Copy)]
pub(super) struct Hex {
    start: usize,
    len: u8,
}

impl Hex {
    /// Appends `hex` (at most 128 digits, SHA-512's) to `hexes` and says where it is.
    pub(super) fn keep(hex: &[u8], hexes: &mut Vec<u8>) -> Hex {
        let start = hexes.len();
        hexes.extend_from_slice(hex);
        Hex {
            start,
            len: u8::try_from(hex.len()).expect("a digest of at most 128 hex digits"),
        }
    }

    fn of(self, hexes: &[u8]) -> &[u8] {
        &hexes[self.start..self.start + usize::from(self.len)]
    }
}

/// A checksum file and its lines.
pub(super) struct SumsFile {
    /// Its name as messages give it (`'standard input'` for `-`).
    label: String,
    tool: Algo,
    problem: Option<SumsProblem>,
    lines: Vec<Line>,
    /// The expected digests of its lines, back to back (see [`Hex`]).
    hexes: Vec<u8>,
    /// Whether any line is a checksum line.
    proper: bool,
    counts: Counts,
}

#[derive(Default)]
struct Counts {
    improper: u64,
    unreadable: u64,
    mismatched: u64,
    matched: bool,
}

impl SumsFile {
    pub(super) fn new(
        label: String,
        tool: Algo,
        problem: Option<SumsProblem>,
        lines: Vec<Line>,
        hexes: Vec<u8>,
    ) -> Self {
        let proper = lines.iter().any(|l| matches!(l, Line::Check { .. }));
        SumsFile {
            label,
            tool,
            problem,
            lines,
            hexes,
            proper,
            counts: Counts::default(),
        }
    }
}

/// The printer: holds every line, the results that came in, and how far it has printed.
pub(super) struct Report {
    files: Vec<SumsFile>,
    /// Each task's name.
    names: Arc<PathList>,
    /// The results that came in and are not printed yet (they come nearly in order, so few
    /// wait here: no slot per line for a result).
    arrived: HashMap<u32, CheckOutput>,
    /// The next file and line to print.
    file_at: usize,
    line_at: usize,
    /// The file's opening error has been printed.
    opened: bool,
    status: bool,
    warn: bool,
    quiet: bool,
    strict: bool,
    ignore_missing: bool,
    quoter: NameQuoter,
    /// Plain text (records are text to print) rather than one record per checked line.
    text: bool,
    /// Checked lines so far (in order), for record order and the summary.
    checked: u64,
    failed: u64,
    not_checked: u64,
    all_ok: bool,
}

/// What became ready to print, in order. For plain text: records that each hold stderr text
/// before stdout text (written by the output in that order); otherwise the checked lines'
/// records, while stderr lines are printed at once.
struct Batch {
    text: bool,
    records: Vec<Record>,
    stderr: String,
    stdout: Vec<u8>,
}

impl Batch {
    fn new(text: bool) -> Self {
        Batch {
            text,
            records: Vec::new(),
            stderr: String::new(),
            stdout: Vec::new(),
        }
    }

    fn stderr(&mut self, line: &str) {
        if !self.text {
            eprintln!("supervisor: {line}");
            return;
        }
        if !self.stdout.is_empty() {
            self.cut();
        }
        self.stderr.push_str("supervisor: ");
        self.stderr.push_str(line);
        self.stderr.push('\n');
    }

    fn cut(&mut self) {
        if self.stderr.is_empty() && self.stdout.is_empty() {
            return;
        }
        self.records.push(Record {
            order: Vec::new(),
            failed: false,
            json: Map::new(),
            csv: Vec::new(),
            sums: Some(std::mem::take(&mut self.stdout)).filter(|s| !s.is_empty()),
            error_line: Some(std::mem::take(&mut self.stderr)).filter(|s| !s.is_empty()),
        });
    }

    fn finish(mut self) -> Vec<Record> {
        self.cut();
        self.records
    }
}

/// How one checked line came out.
enum Verdict {
    Ok,
    Mismatch(String),
    Unreadable(String),
    /// Missing, with --ignore-missing: not reported.
    Ignored,
    /// Never run (the run was interrupted or gave up).
    NotRun,
}

impl Report {
    pub(super) fn new(
        files: Vec<SumsFile>,
        names: Arc<PathList>,
        args: &CheckArgs,
        quoter: NameQuoter,
        text: bool,
    ) -> Self {
        Report {
            files,
            names,
            arrived: HashMap::new(),
            file_at: 0,
            line_at: 0,
            opened: false,
            status: args.status,
            warn: args.warn,
            quiet: args.quiet,
            strict: args.strict,
            ignore_missing: args.ignore_missing,
            quoter,
            text,
            checked: 0,
            failed: 0,
            not_checked: 0,
            all_ok: true,
        }
    }

    /// Takes task `task`'s outcome and returns what can be printed now.
    pub(super) fn arrived(&mut self, task: usize, outcome: &Outcome<CheckOutput>) -> Vec<Record> {
        let result = match &outcome.result {
            Ok(output) => output.clone(),
            Err(failure) => CheckOutput::Unreadable {
                message: failure.to_string(),
                missing: false,
            },
        };
        self.arrived.insert(task as u32, result);
        self.release(false)
    }

    /// Everything not printed yet; lines whose file was never digested (the run stopped) are
    /// left out and counted by [`Report::not_checked`].
    pub(super) fn drain_all(&mut self) -> Vec<Record> {
        self.release(true)
    }

    /// Lines printed so far that named a file checked (OK, FAILED or unreadable).
    pub(super) fn checked(&self) -> u64 {
        self.checked
    }

    /// Of those, the ones that failed.
    pub(super) fn failed(&self) -> u64 {
        self.failed
    }

    /// Lines left out because their file was never digested.
    pub(super) fn not_checked(&self) -> u64 {
        self.not_checked
    }

    /// True when every checksum file verified, as md5sum's exit status 0.
    pub(super) fn all_ok(&self) -> bool {
        self.all_ok
    }

    fn release(&mut self, to_the_end: bool) -> Vec<Record> {
        let mut batch = Batch::new(self.text);
        while self.file_at < self.files.len() {
            if !self.opened {
                self.opened = true;
                let file = &self.files[self.file_at];
                if let Some(SumsProblem::Open(message)) = &file.problem {
                    batch.stderr(&format!("{}: {message}", file.label));
                    self.all_ok = false;
                    self.next_file();
                    continue;
                }
            }
            if self.line_at < self.files[self.file_at].lines.len() {
                if !self.print_line(&mut batch, to_the_end) {
                    break;
                }
                self.line_at += 1;
                continue;
            }
            self.close_file(&mut batch);
            self.next_file();
        }
        batch.finish()
    }

    fn next_file(&mut self) {
        self.file_at += 1;
        self.line_at = 0;
        self.opened = false;
    }

    /// Prints the current line; false when its result is not in yet.
    fn print_line(&mut self, batch: &mut Batch, to_the_end: bool) -> bool {
        let file = &self.files[self.file_at];
        let (target, hex) = match &file.lines[self.line_at] {
            Line::Improper { number } => {
                if self.warn {
                    batch.stderr(&format!(
                        "{}: {number}: improperly formatted {} checksum line",
                        file.label,
                        file.tool.tag()
                    ));
                }
                self.files[self.file_at].counts.improper += 1;
                return true;
            }
            Line::Check { target, hex } => (target, hex.of(&file.hexes)),
        };
        let (name, result) = match target {
            Target::Task(t) => {
                if !to_the_end && !self.arrived.contains_key(t) {
                    return false;
                }
                (self.names.path(*t as usize), self.arrived.remove(t))
            }
            Target::Stdin(output) => (b"-".to_vec(), Some((**output).clone())),
        };
        let verdict = match result {
            None => Verdict::NotRun,
            Some(CheckOutput::Digest(digest)) if digest.matches_hex(hex) => Verdict::Ok,
            Some(CheckOutput::Digest(digest)) => Verdict::Mismatch(digest.hex()),
            Some(CheckOutput::Unreadable { missing: true, .. }) if self.ignore_missing => {
                Verdict::Ignored
            }
            Some(CheckOutput::Unreadable { message, .. }) => Verdict::Unreadable(message),
        };
        let status = match &verdict {
            Verdict::Ok => "OK",
            Verdict::Mismatch(_) => "FAILED",
            Verdict::Unreadable(_) => "FAILED open or read",
            Verdict::Ignored => return true,
            Verdict::NotRun => {
                self.not_checked += 1;
                return true;
            }
        };
        if let Verdict::Unreadable(message) = &verdict {
            batch.stderr(&format!("{}: {message}", self.quoter.quote(&name)));
        }
        let failed = !matches!(verdict, Verdict::Ok);
        self.checked += 1;
        self.failed += u64::from(failed);
        if !self.text {
            let actual = match &verdict {
                Verdict::Ok => Some(String::from_utf8_lossy(hex).to_ascii_lowercase()),
                Verdict::Mismatch(actual) => Some(actual.clone()),
                _ => None,
            };
            let error = match &verdict {
                Verdict::Unreadable(message) => Some(message.as_str()),
                _ => None,
            };
            batch.records.push(record(
                self.checked,
                &name,
                hex,
                status,
                actual,
                error,
                failed,
            ));
        } else if !self.status && (failed || !self.quiet) {
            // Escaped (a leading backslash) only when the name holds a newline, as md5sum.
            let (escaped, shown) = check_name(&name);
            if escaped {
                batch.stdout.push(b'\\');
            }
            batch.stdout.extend_from_slice(&shown);
            batch.stdout.extend_from_slice(b": ");
            batch.stdout.extend_from_slice(status.as_bytes());
            batch.stdout.push(b'\n');
        }
        let counts = &mut self.files[self.file_at].counts;
        match verdict {
            Verdict::Ok => counts.matched = true,
            Verdict::Mismatch(_) => counts.mismatched += 1,
            _ => counts.unreadable += 1,
        }
        true
    }

    /// The file's read error, or its closing warnings; whether it verified.
    fn close_file(&mut self, batch: &mut Batch) {
        let file = &self.files[self.file_at];
        let counts = &file.counts;
        if let Some(SumsProblem::Read) = file.problem {
            batch.stderr(&format!("{}: read error", file.label));
            self.all_ok = false;
            return;
        }
        if !file.proper {
            batch.stderr(&format!(
                "{}: no properly formatted checksum lines found",
                file.label
            ));
        } else if !self.status {
            let plural = |n: u64, one: &str, many: &str| if n == 1 { one } else { many }.to_owned();
            if counts.improper > 0 {
                let n = counts.improper;
                batch.stderr(&format!(
                    "WARNING: {n} {} improperly formatted",
                    plural(n, "line is", "lines are")
                ));
            }
            if counts.unreadable > 0 {
                let n = counts.unreadable;
                batch.stderr(&format!(
                    "WARNING: {n} listed {} could not be read",
                    plural(n, "file", "files")
                ));
            }
            if counts.mismatched > 0 {
                let n = counts.mismatched;
                batch.stderr(&format!(
                    "WARNING: {n} computed {} did NOT match",
                    plural(n, "checksum", "checksums")
                ));
            }
            if self.ignore_missing && !counts.matched {
                batch.stderr(&format!("{}: no file was verified", file.label));
            }
        }
        let verified = file.proper
            && counts.matched
            && counts.mismatched == 0
            && counts.unreadable == 0
            && (!self.strict || counts.improper == 0);
        self.all_ok &= verified;
    }
}

/// The record of one checked line for json, jsonl and csv.
fn record(
    position: u64,
    path: &[u8],
    expected: &[u8],
    status: &str,
    actual: Option<String>,
    error: Option<&str>,
    failed: bool,
) -> Record {
    let expected = String::from_utf8_lossy(expected).to_ascii_lowercase();
    let mut json = Map::new();
    output::insert_path(&mut json, "path", path);
    json.insert("status".into(), Value::from(status));
    json.insert("expected".into(), Value::from(expected.as_str()));
    if let Some(actual) = &actual {
        json.insert("actual".into(), Value::from(actual.as_str()));
    }
    if let Some(error) = error {
        json.insert("error".into(), Value::from(error));
    }
    Record {
        order: position.to_be_bytes().to_vec(),
        failed,
        json,
        csv: vec![
            path.to_vec(),
            status.as_bytes().to_vec(),
            expected.into_bytes(),
            actual.unwrap_or_default().into_bytes(),
            error.unwrap_or_default().as_bytes().to_vec(),
        ],
        sums: None,
        error_line: None,
    }
}

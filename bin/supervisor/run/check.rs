//! `hash --check [SUMSFILE]...`: verify checksum files in parallel, as GNU coreutils 9.1's
//! `md5sum -c` (`sha256sum -c`, `b2sum -c`, ...) does: the same lines on stdout, the same
//! messages on stderr (with `supervisor:` for `md5sum:`), the same exit status.
//!
//! The checksum files are read and parsed here, in the parent, as the coreutils tool would
//! read them ([`supervisor_jobs::hash::ChecksumParser`]); every properly formatted line
//! becomes a task, and the workers digest the listed files in parallel. Results are printed
//! in the files' order as soon as everything before them is done ([`report`]).

mod report;
mod sums_reader;

use super::{exit_code, supervise_list};
use crate::cli::{Format, RunOptions};
use crate::error::{CliError, code};
use crate::jobs::{CheckJob, CheckList, CheckOutput};
use crate::output::summary::Totals;
use crate::output::{Output, Sink, View};
use report::{Hex, Line, Report, SumsFile, Target};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use sums_reader::for_each_line;
use supervisor_jobs::PathList;
use supervisor_jobs::hash::{Algo, ChecksumParser, NameQuoter, listed_sizes};

/// What `hash --check` was asked, in md5sum's terms.
#[derive(Debug, Default)]
pub struct CheckArgs {
    /// The checksum files, in order (`-`: standard input).
    pub files: Vec<PathBuf>,
    /// The tool to imitate; `None`: each file's, from its first checksum line.
    pub algo: Option<Algo>,
    /// `--status`: nothing on stdout, no warnings.
    pub status: bool,
    /// `--warn`: name each improperly formatted line.
    pub warn: bool,
    /// `--quiet`: no OK lines.
    pub quiet: bool,
    /// `--strict`: improperly formatted lines fail the file.
    pub strict: bool,
    /// `--ignore-missing`: listed files that do not exist are not reported.
    pub ignore_missing: bool,
}

/// Checks every line of every checksum file and returns the exit code: 1 when a file failed
/// to verify, a checksum file could not be read or held no checksum line (as coreutils), or
/// the run's own code when it was interrupted or gave up.
pub fn run(options: &RunOptions, args: CheckArgs) -> Result<u8, CliError> {
    let quoter = NameQuoter::from_environment();
    let mut stdin = StdinState::Unread;
    let mut parser = ChecksumParser::new();
    let mut files = Vec::new();
    // The listed files' names, held once (the printer reads them too), and their algorithms.
    let mut names = PathList::new();
    let mut algos = Vec::new();
    let sources: Vec<PathBuf> = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    for source in &sources {
        let is_stdin = source.as_os_str() == "-";
        let label = if is_stdin {
            quoter.quote(b"standard input")
        } else {
            quoter.quote(source.as_os_str().as_bytes())
        };
        let mut lines = Vec::new();
        let mut hexes = Vec::new();
        let mut reader = match open_sums_file(source, is_stdin, &mut stdin) {
            Ok(reader) => reader,
            Err(problem) => {
                let tool = args.algo.unwrap_or_default();
                files.push(SumsFile::new(label, tool, Some(problem), lines, hexes));
                continue;
            }
        };
        let read = for_each_line(&mut reader, args.algo, |tool, number, line| {
            let parsed = parser
                .parse(line, tool)
                .filter(|line| !(is_stdin && line.name == b"-"));
            lines.push(match parsed {
                None => Line::Improper { number },
                Some(line) => {
                    let target = if line.name == b"-" {
                        // md5sum reads its standard input for a file named "-".
                        Target::Stdin(Box::new(stdin.digest(line.algo)))
                    } else {
                        names.push(&line.name, 0);
                        algos.push(line.algo);
                        let task = u32::try_from(algos.len() - 1);
                        Target::Task(task.expect("fewer than 2^32 listed files"))
                    };
                    Line::Check {
                        target,
                        hex: Hex::keep(&line.hex, &mut hexes),
                    }
                }
            });
        });
        let (tool, problem) = (read.tool, read.failed.then_some(SumsProblem::Read));
        files.push(SumsFile::new(label, tool, problem, lines, hexes));
    }
    for (i, size) in listed_sizes(&names).into_iter().enumerate() {
        names.set_size(i, size);
    }
    let tasks = CheckList {
        names: Arc::new(names),
        algos,
    };

    // Plain text is written in the files' order as results come in, exactly as md5sum would;
    // json, jsonl and csv carry one record per checked line.
    let text = matches!(options.format, Format::Table | Format::Sums);
    let sink = Sink::open(options.output.as_deref()).map_err(CliError::Output)?;
    let mut out = if text {
        // The run's summary only when asked for (-v): md5sum prints none.
        Output::new(
            options.format,
            sink,
            options.quiet || !options.verbose,
            view(),
        )
        .raw_text()
    } else {
        Output::new(options.format, sink, options.quiet, view())
    };
    let mut report = Report::new(files, Arc::clone(&tasks.names), &args, quoter, text);
    // As a task list, so the engine hands each outcome to the report and keeps none itself
    // (a million of them held until the end were a quarter of the parent's memory).
    let summary = supervise_list::<CheckJob, _>(
        options,
        (),
        Arc::new(tasks),
        &mut out,
        |i, _task, outcome| report.arrived(i, outcome),
    )?;
    for record in report.drain_all() {
        out.push(record);
    }
    let not_checked = report.not_checked();
    // Lines left unchecked by an interrupted run (not by a reader that went away: `| head`).
    if not_checked > 0 && !options.quiet && !out.reader_went_away() {
        eprintln!("supervisor: {not_checked} listed files were not checked");
    }
    let verdict = if report.all_ok() {
        code::OK
    } else {
        code::TASKS_FAILED
    };
    let written = if text {
        let totals = Totals {
            results: report.checked(),
            failed: report.failed(),
            skipped: 0,
        };
        out.finish_raw(&summary, &totals)
    } else {
        out.finish(&summary, 0)
    }
    .map_err(CliError::Output)?;
    Ok(match exit_code(&written, &summary)? {
        code::OK | code::TASKS_FAILED if !written.reader_went_away => verdict,
        other => other,
    })
}

/// Standard input, which md5sum reads at most once: as a checksum file (`-`) or for a listed
/// file named `-`; after that it is at its end.
enum StdinState {
    Unread,
    Consumed,
}

impl StdinState {
    /// Standard input to read from (at its end once it was read).
    fn reader(&mut self) -> Box<dyn Read> {
        match std::mem::replace(self, StdinState::Consumed) {
            StdinState::Unread => Box::new(std::io::stdin()),
            StdinState::Consumed => Box::new(std::io::empty()),
        }
    }

    /// Everything left on standard input (nothing once it was read).
    fn take(&mut self) -> std::io::Result<Vec<u8>> {
        let mut data = Vec::new();
        self.reader().read_to_end(&mut data)?;
        Ok(data)
    }

    /// The result for a listed file named `-`.
    fn digest(&mut self, algo: Algo) -> CheckOutput {
        match self.take() {
            Ok(data) => CheckOutput::Digest(algo.digest(&data)),
            Err(e) => CheckOutput::Unreadable {
                message: supervisor_jobs::describe_io_error(&e),
                missing: false,
            },
        }
    }
}

/// Why a checksum file gave no (or not all of its) lines.
pub(super) enum SumsProblem {
    /// It could not be opened: the message (`No such file or directory`).
    Open(String),
    /// Reading it failed (it is a directory, an I/O error): md5sum says `read error`.
    Read,
}

/// A checksum file opened for reading (standard input for `-`), or why it cannot be.
fn open_sums_file(
    path: &std::path::Path,
    is_stdin: bool,
    stdin: &mut StdinState,
) -> Result<Box<dyn Read>, SumsProblem> {
    if is_stdin {
        return Ok(stdin.reader());
    }
    match std::fs::File::open(path) {
        Ok(file) => Ok(Box::new(file)),
        Err(e) => Err(SumsProblem::Open(supervisor_jobs::describe_io_error(&e))),
    }
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

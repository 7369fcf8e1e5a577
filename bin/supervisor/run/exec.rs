//! `run exec`: any command, once per item, supervised like every other job.

use super::{Collect, exit_code, journal, supervise_into};
use crate::cli::{ExecArgs, Format, RunOptions};
use crate::error::CliError;
use crate::jobs::ExecJob;
use crate::output::exec::{ExecWriter, Output, Row};
use crate::output::stream_text::Stream;
use crate::output::{Sink, display_path};
use crate::partition::{Share, exec_key};
use std::collections::HashSet;
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use supervisor_jobs::describe_io_error;
use supervisor_jobs::exec::{
    CaptureMode, Captured, CommandEnd, ExecOutput, ExecSetup, ExecTask, INLINE_MAX, SPILL_PREFIX,
    spill_prefix, split_items,
};
use supervisor_runtime::journal::Fingerprint;
use supervisor_runtime::{ExitKind, Failure, Outcome};

/// The separator between the command and its items.
const ITEMS: &[u8] = b":::";

/// What a journal of an exec run is bound to: what decides the results. The spill directory
/// and the kill grace are left out, so a run resumes with other run options.
#[derive(serde::Serialize)]
struct Identity<'a> {
    command: &'a [Vec<u8>],
    shell: bool,
    retry_failed: u32,
    output_dir: Option<&'a [u8]>,
}

pub fn run(options: &RunOptions, args: ExecArgs) -> Result<u8, CliError> {
    if options.format == Format::Sums {
        return Err(CliError::Usage(
            "--format sums only applies to the hash job".into(),
        ));
    }
    let through = args.line_buffer || args.ungroup;
    if through {
        let flag = if args.line_buffer {
            "--line-buffer"
        } else {
            "--ungroup"
        };
        if options.format != Format::Table {
            return Err(CliError::Usage(format!(
                "{flag} prints the commands' output as it comes: it goes with --format table only"
            )));
        }
        if options.output.is_some() {
            return Err(CliError::Usage(format!(
                "{flag} prints the commands' output to stdout: it cannot go with -o"
            )));
        }
        if options.cluster.share.is_some() {
            return Err(CliError::Usage(format!(
                "{flag} prints the commands' output as it comes: a partition cannot record it for merge"
            )));
        }
    }
    let (command, listed) = command_words(&args);
    if command.is_empty() {
        return Err(CliError::Usage("no command given before :::".into()));
    }
    let items = read_items(&args, listed)?;
    // Partitions must all read the same items: the header records them, so `merge` refuses
    // partitions that read different input (a `find` listing in another order, say).
    let share = options.cluster.share.clone().map(|share| Share {
        identity: share.identity.with_arg("items", items_identity(&items)),
        ..share
    });
    let output_dir = args.output_dir.as_deref().map(prepare_dir).transpose()?;
    let identity = journal::encode(&Identity {
        command: &command,
        shell: args.shell,
        retry_failed: args.retry_failed,
        output_dir: output_dir.as_deref().map(|d| d.as_os_str().as_bytes()),
    })?;
    let (capture, spill) = match &output_dir {
        None if through => (
            CaptureMode::Through {
                line_buffer: args.line_buffer,
            },
            None,
        ),
        Some(dir) => (
            CaptureMode::Files {
                dir: dir.as_os_str().as_bytes().to_vec(),
            },
            None,
        ),
        None => {
            let spill = Spill::choose(options)?;
            let capture = CaptureMode::Spill {
                dir: spill.dir.as_os_str().as_bytes().to_vec(),
                inline_max: INLINE_MAX,
            };
            (capture, Some(spill))
        }
    };
    let setup = ExecSetup {
        command,
        shell: args.shell,
        retry_failed: args.retry_failed,
        capture,
        kill_grace: options.kill_grace,
    };
    // A partition runs its own items, each with its place in the whole input as `{#}`.
    let partition = Share::by_hash(options);
    let tasks: Vec<ExecTask> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| ExecTask {
            seq: i as u64 + 1,
            item,
        })
        .filter(|task| partition.is_none_or(|p| p.owns(&exec_key(task.seq - 1, &task.item))))
        .collect();
    let sink = Sink::open(options.output.as_deref()).map_err(CliError::Output)?;
    let in_dir = output_dir.is_some();
    let mut writer = ExecWriter::new(
        options.format,
        sink,
        options.quiet,
        in_dir,
        std::env::temp_dir(),
    )
    .for_share(share)
    .map_err(CliError::Output)?;
    let kept = spill.as_ref().is_some_and(|s| s.kept);
    let forwarding;
    let options = if through {
        forwarding = RunOptions {
            forward_output: true,
            ..options.clone()
        };
        &forwarding
    } else {
        options
    };
    let report = supervise_into::<ExecJob, _>(
        options,
        setup,
        &identity,
        tasks,
        &mut writer,
        |index, task, outcome| vec![row(index, task, outcome, in_dir, kept)],
    )?;
    let written = writer.finish(&report.summary).map_err(CliError::Output);
    if let Some(spill) = spill {
        spill.sweep(&report.outcomes);
    }
    exit_code(&written?, &report.summary)
}

impl Collect for ExecWriter {
    type Record = Row;

    fn push(&mut self, row: Row) {
        ExecWriter::push(self, row);
    }

    fn reader_went_away(&self) -> bool {
        ExecWriter::reader_went_away(self)
    }

    fn add_summary(&mut self, key: &str, value: serde_json::Value, line: String) {
        ExecWriter::add_summary(self, key, value, line);
    }
}

/// What a partition's header says of the items: how many, and a digest of them all.
fn items_identity(items: &[Vec<u8>]) -> serde_json::Value {
    let mut digest = Fingerprint::builder("exec items");
    for item in items {
        digest.add(item);
    }
    serde_json::json!({ "count": items.len(), "digest": digest.finish().to_string() })
}

/// The command's words, and the items after `:::` if there is one.
pub(crate) fn command_words(args: &ExecArgs) -> (Vec<Vec<u8>>, Option<Vec<Vec<u8>>>) {
    let words: Vec<Vec<u8>> = args.command.iter().map(|w| w.as_bytes().to_vec()).collect();
    match words.iter().position(|w| w == ITEMS) {
        Some(at) => (words[..at].to_vec(), Some(words[at + 1..].to_vec())),
        None => (words, None),
    }
}

/// The items: after `:::`, from `--arg-file`, or from stdin.
fn read_items(args: &ExecArgs, listed: Option<Vec<Vec<u8>>>) -> Result<Vec<Vec<u8>>, CliError> {
    let separator = if args.null { 0 } else { b'\n' };
    match (listed, &args.arg_file) {
        (Some(_), Some(_)) => Err(CliError::Usage(
            "give the items after ::: or with --arg-file, not both".into(),
        )),
        (Some(items), None) => Ok(items),
        (None, Some(path)) if path.as_os_str() == "-" => Ok(split_items(&read_stdin()?, separator)),
        (None, Some(path)) => {
            let bytes = std::fs::read(path).map_err(|e| {
                CliError::Usage(format!(
                    "cannot read {}: {}",
                    path.display(),
                    describe_io_error(&e)
                ))
            })?;
            Ok(split_items(&bytes, separator))
        }
        (None, None) => Ok(split_items(&read_stdin()?, separator)),
    }
}

fn read_stdin() -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| {
            CliError::Usage(format!(
                "cannot read the items from standard input: {}",
                describe_io_error(&e)
            ))
        })?;
    Ok(bytes)
}

/// Creates `dir` if needed and returns it absolute (workers may not share our directory).
fn prepare_dir(dir: &Path) -> Result<PathBuf, CliError> {
    let fail = |e: std::io::Error| {
        CliError::Usage(format!(
            "cannot use {}: {}",
            dir.display(),
            describe_io_error(&e)
        ))
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    std::fs::canonicalize(dir).map_err(fail)
}

/// Where workers put output too big to send inline.
struct Spill {
    dir: PathBuf,
    /// Beside the journal (`JOURNAL.outputs/`): kept, so a resumed run prints from it. Else
    /// the temp directory, each file removed as soon as it is open.
    kept: bool,
}

impl Spill {
    /// Beside the journal when there is one, else the temp directory; checked to be writable
    /// before anything runs.
    fn choose(options: &RunOptions) -> Result<Self, CliError> {
        let journal = options.journal.as_ref().or(options.resume.as_ref());
        let spill = match journal {
            Some(journal) => {
                let mut name = journal.clone().into_os_string();
                name.push(".outputs");
                Spill {
                    dir: prepare_dir(Path::new(&name))?,
                    kept: true,
                }
            }
            None => Spill {
                dir: std::env::temp_dir(),
                kept: false,
            },
        };
        supervisor_jobs::exec::anonymous_file(&spill.dir).map_err(|e| {
            CliError::Usage(format!(
                "cannot write temporary files in {}: {}",
                spill.dir.display(),
                describe_io_error(&e)
            ))
        })?;
        Ok(spill)
    }

    /// Removes the spill files no kept result names: what crashed workers spilled and never
    /// reported, and in a journal's directory (ours alone), what an earlier, killed run left.
    fn sweep(&self, outcomes: &[Option<Outcome<ExecOutput>>]) {
        let named: HashSet<&[u8]> = outcomes
            .iter()
            .flatten()
            .filter_map(|outcome| outcome.result.as_ref().ok())
            .flat_map(|output| [&output.stdout, &output.stderr])
            .filter_map(|captured| match captured {
                Captured::File { path, .. } if self.kept => Some(path.as_slice()),
                _ => None,
            })
            .collect();
        let prefix = if self.kept {
            SPILL_PREFIX.to_string()
        } else {
            spill_prefix(std::process::id())
        };
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().as_bytes().starts_with(prefix.as_bytes())
                && !named.contains(path.as_os_str().as_bytes())
            {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// One task's row: its outcome, and its output opened (a spill file in the temp directory is
/// removed once open: it vanishes with the descriptor, whatever happens to us).
fn row(
    index: usize,
    task: &ExecTask,
    outcome: &Outcome<ExecOutput>,
    in_dir: bool,
    kept: bool,
) -> Row {
    let mut row = Row {
        index,
        seq: task.seq,
        item: task.item.clone(),
        exit_code: None,
        signal: None,
        error: None,
        failed: true,
        stdout: Output::Content(Stream::Bytes(Vec::new())),
        stderr: Output::Content(Stream::Bytes(Vec::new())),
        duration_ms: None,
        attempts: outcome.attempts,
    };
    let output = match &outcome.result {
        Ok(output) => output,
        Err(failure) => {
            row.error = Some(match failure {
                // Not to be mistaken for the command's own death by a signal.
                Failure::Crashed { exit, .. } => format!("worker {exit}"),
                other => other.to_string(),
            });
            return row;
        }
    };
    row.attempts = outcome.attempts - 1 + output.runs;
    row.duration_ms = Some(output.duration_us as f64 / 1000.0);
    row.failed = !output.end.is_success();
    match &output.end {
        CommandEnd::Exited(code) => row.exit_code = Some(*code),
        CommandEnd::Signaled { signal, .. } => row.signal = Some(ExitKind::signal_name(*signal)),
        CommandEnd::Error(message) => row.error = Some(message.clone()),
    }
    let mut lost = Vec::new();
    row.stdout = open_output(&output.stdout, in_dir, kept, &mut lost);
    row.stderr = open_output(&output.stderr, in_dir, kept, &mut lost);
    if !lost.is_empty() {
        row.failed = true;
        row.error = Some(lost.join("; "));
    }
    row
}

fn open_output(captured: &Captured, in_dir: bool, kept: bool, lost: &mut Vec<String>) -> Output {
    match captured {
        Captured::Inline(bytes) => Output::Content(Stream::Bytes(bytes.clone())),
        Captured::File { path, size } => {
            let path = PathBuf::from(std::ffi::OsString::from_vec(path.clone()));
            if in_dir {
                return Output::InDir { path, size: *size };
            }
            match std::fs::File::open(&path) {
                Ok(file) => {
                    if !kept {
                        let _ = std::fs::remove_file(&path);
                    }
                    Output::Content(Stream::File { file, size: *size })
                }
                Err(e) => {
                    lost.push(format!(
                        "its output file {} is gone: {}",
                        display_path(path.as_os_str().as_bytes()),
                        describe_io_error(&e)
                    ));
                    Output::Content(Stream::Bytes(Vec::new()))
                }
            }
        }
    }
}

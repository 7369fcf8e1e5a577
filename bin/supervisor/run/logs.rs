//! `run logs`: count pattern lines per log file; big files are split into line-aligned ranges
//! that different workers count, and the counts are merged exactly.

use super::{finish, open_output, supervise};
use crate::cli::{Format, LogsArgs, RunOptions};
use crate::error::CliError;
use crate::jobs::{LogsJob, LogsTask};
use crate::output;
use crate::partition::Share;
use supervisor_jobs::logs::{LogCounts, LogFound, LogPatterns, LogTask, discover_logs};
use supervisor_runtime::Config;

/// Smallest range a big file is cut into: below this the per-task cost dominates.
const MIN_RANGE: u64 = 8 << 20;
/// Largest range, so a huge file always spreads over every worker.
const MAX_RANGE: u64 = 256 << 20;
/// A gzip stream cannot be split or sized up front; assume this expansion for scheduling.
const GZIP_RATIO: u64 = 5;

/// One log file being counted, possibly in several ranges.
struct FileCount {
    path: Vec<u8>,
    ranges_left: usize,
    counts: LogCounts,
    error: Option<String>,
}

/// The patterns counted: `--pattern`s, or the seed's ERROR then WARNING.
pub(crate) fn patterns(args: &LogsArgs) -> Vec<String> {
    if args.patterns.is_empty() {
        vec!["ERROR".into(), "WARNING".into()]
    } else {
        args.patterns.clone()
    }
}

/// Counts every matching file and prints per-file counts.
pub fn run(options: &RunOptions, args: LogsArgs) -> Result<u8, CliError> {
    if options.format == Format::Sums {
        return Err(CliError::Usage(
            "--format sums only applies to the hash job".into(),
        ));
    }
    let names = patterns(&args);
    let patterns = LogPatterns::new(names.iter().map(|p| p.as_bytes().to_vec()).collect())
        .map_err(|e| CliError::Usage(format!("invalid --pattern: {e}")))?;
    let mut found =
        discover_logs(&args.paths, &args.globs).map_err(|e| CliError::Usage(e.to_string()))?;
    if let Some(partition) = Share::by_hash(options) {
        found = found.in_partition(partition);
    }
    let mut out = open_output(options, output::logs::view(&names))?;
    let mut files: Vec<(Vec<u8>, u64, bool)> = Vec::new();
    let mut skips = super::Skips::new(options);
    for entry in found {
        match entry {
            LogFound::File { path, size, gzip } => files.push((path, size, gzip)),
            LogFound::Skipped { path, reason } => skips.note(&path, reason),
            LogFound::Error { path, message } => {
                let record = output::logs::error(&path, &message, names.len());
                // `csv` names every error on stderr when it finishes; the others keep it in
                // their results, so it is named on stderr here too.
                if options.format != Format::Csv
                    && let Some(line) = &record.error_line
                {
                    eprintln!("supervisor: {line}");
                }
                out.push(record);
            }
        }
    }
    let workers = options
        .workers
        .map(|n| n as usize)
        .unwrap_or_else(Config::available_cores);
    let total: u64 = files.iter().map(|(_, size, _)| size).sum();
    // About four ranges per worker over the whole run, so no core idles behind one big file.
    let target = (total / (workers as u64 * 4)).clamp(MIN_RANGE, MAX_RANGE);
    let mut counting: Vec<FileCount> = Vec::with_capacity(files.len());
    let mut tasks: Vec<LogsTask> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    for (path, size, gzip) in files {
        let ranges = LogTask::split(&path, size, gzip, target);
        let file = counting.len();
        counting.push(FileCount {
            path,
            ranges_left: ranges.len(),
            counts: LogCounts::new(names.len()),
            error: None,
        });
        for range in ranges {
            let bytes = if gzip {
                size.saturating_mul(GZIP_RATIO)
            } else {
                range.end.min(size).saturating_sub(range.start)
            };
            tasks.push(LogsTask { range, bytes });
            owner.push(file);
        }
    }
    for file in counting.iter().filter(|f| f.ranges_left == 0) {
        // An empty file has nothing to count but is still a result.
        out.push(output::logs::counts(&file.path, &file.counts, &names));
    }
    let report = supervise::<LogsJob>(options, patterns, tasks, &mut out, |i, _task, outcome| {
        let file = &mut counting[owner[i]];
        match &outcome.result {
            Ok(Ok(counts)) => file.counts.merge(counts),
            Ok(Err(message)) => {
                file.error.get_or_insert_with(|| message.clone());
            }
            Err(failure) => {
                file.error.get_or_insert_with(|| failure.to_string());
            }
        }
        file.ranges_left -= 1;
        if file.ranges_left > 0 {
            return Vec::new();
        }
        vec![match &file.error {
            Some(message) => output::logs::error(&file.path, message, names.len()),
            None => output::logs::counts(&file.path, &file.counts, &names),
        }]
    })?;
    skips.finish();
    finish(out, &report.summary, skips.count)
}

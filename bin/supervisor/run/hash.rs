//! `run hash`: discover files, hash them in workers, write digests.

use super::check::CheckArgs;
use super::hash_results::HashResults;
use super::{finish_rows, open_output, supervise_list};
use crate::cli::{Format, HashArgs, JobCommand, RunOptions};
use crate::error::CliError;
use crate::jobs::{HashJob, HashOutput, HashTasks};
use crate::output;
use crate::output::{Needs, Record, Rows, SumsPrefix};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;
use supervisor_jobs::PathList;
use supervisor_jobs::hash::{
    Algo, DiscoverOptions, FileIo, Found, SumsStyle, push_sums_line_parts,
};
use supervisor_runtime::Outcome;

/// Moves a `--algo` given before the job's name (`supervisor run --algo sha256 hash /srv`)
/// into the hash job's arguments; for any other job it is a usage error.
pub fn take_run_level_algo(job: JobCommand, algo: Option<Algo>) -> Result<JobCommand, CliError> {
    let Some(algo) = algo else {
        return Ok(job);
    };
    match job {
        JobCommand::Hash(mut args) => match args.algo {
            Some(given) if given != algo => Err(CliError::Usage(format!(
                "--algo given twice: {algo} before the job's name, {given} after it"
            ))),
            _ => {
                args.algo = Some(algo);
                Ok(JobCommand::Hash(args))
            }
        },
        _ => Err(CliError::Usage(
            "--algo is an option of the hash job".to_string(),
        )),
    }
}

pub fn run(options: &RunOptions, args: HashArgs) -> Result<u8, CliError> {
    check_md5sum_options(&args)?;
    if let Some(file) = args.check {
        let check = CheckArgs {
            files: file.into_iter().chain(args.paths).collect(),
            algo: args.algo,
            status: args.status,
            warn: args.warn,
            quiet: args.check_quiet,
            strict: args.strict,
            ignore_missing: args.ignore_missing,
        };
        return super::check::run(options, check);
    }
    let mut options = options.clone();
    // Without --check, `--quiet` after the job's name keeps meaning the run's quiet.
    options.quiet |= args.check_quiet;
    let options = &options;
    let style = SumsStyle {
        tag: args.tag,
        binary: args.binary,
        zero: args.zero,
    };
    if style != SumsStyle::default() && options.format != Format::Sums {
        return Err(CliError::Usage(
            "--tag, --binary and --zero shape the lines of --format sums".to_string(),
        ));
    }
    let algo = args.algo.unwrap_or_default();
    if options.verbose && algo == Algo::Md5 {
        // The workers decide for themselves, on this kernel, with this environment: the same
        // probe here says what they meet.
        eprintln!("supervisor: hash reads small files by {}", FileIo::probe());
    }
    // Results are rendered from the tasks and outcomes at the end; records are only built
    // during the run for `jsonl`, which streams them.
    let mut out = open_output(options, output::hash::view())?.streaming_only();
    let stream = options.format == Format::Jsonl;
    let discover = DiscoverOptions {
        extensions: args.extensions,
        follow_symlinks: args.follow_symlinks,
    };
    let mut errors = Vec::new();
    let mut skips = super::Skips::new(options);
    let discovered = crate::partition::discover_hash(options, &args.paths, &discover)?;
    for found in discovered.others {
        match found {
            // Files are all in `discovered.files`.
            Found::File(_) => {}
            Found::Skipped { path, reason } => skips.note(&path, reason),
            Found::Error { path, message } => {
                let record = output::hash::error(&path, &message, 1);
                // `sums` and `csv` name every error on stderr when they finish; the others
                // keep it in their results, so it is named on stderr here, as md5sum or rg
                // would (a typo in a path must never pass silently).
                if !matches!(options.format, Format::Sums | Format::Csv)
                    && let Some(line) = &record.error_line
                {
                    eprintln!("supervisor: {line}");
                }
                out.push(record);
                errors.push((path, message));
            }
        }
    }
    // The parent holds the tree once, compactly: tasks point into the list, and each outcome
    // is kept in `results` as it arrives, not by the engine.
    let files = Arc::new(discovered.files);
    let tasks = HashTasks::new(Arc::clone(&files)).ok_or_else(|| {
        CliError::Usage(format!(
            "{} files are more than one run can hold ({} at most)",
            files.len(),
            u32::MAX
        ))
    })?;
    let results = HashResults::new(files.len());
    let tasks = Arc::new(tasks);
    let mut rows = HashRows::new(
        errors,
        files,
        results,
        (algo, style),
        Needs::of(options.format),
    );
    // `sums` lines of a walk's order are written as the results come (see `SumsPrefix`).
    if rows.in_order() {
        out.stream_sums();
    }
    let mut prefix = out.streams_sums().then(SumsPrefix::new);
    let summary =
        supervise_list::<HashJob, _>(options, algo, tasks, &mut out, |index, task, outcome| {
            rows.results.put(index, outcome);
            let mut records = Vec::new();
            if stream {
                records.push(record(
                    &task.path(),
                    outcome,
                    algo,
                    style,
                    Needs::of(Format::Jsonl),
                ));
            }
            if let Some(text) = prefix.as_mut().and_then(|prefix| prefix.advance(&rows)) {
                records.push(Record::sums_text(text));
            }
            records
        })?;
    if let Some(prefix) = prefix {
        out.end_sums_stream(prefix);
    }
    skips.finish();
    finish_rows(out, &rows, &summary, skips.count)
}

/// md5sum's rules for its options: the checking ones need --check, the ones that shape
/// output lines refuse it (same messages; exit 2, this tool's code for usage errors).
fn check_md5sum_options(args: &HashArgs) -> Result<(), CliError> {
    let checking = args.check.is_some();
    let refuse = |message: &str| Err(CliError::Usage(message.to_string()));
    if args.tag && args.text {
        return refuse("--tag does not support --text mode");
    }
    if args.zero && checking {
        return refuse("the --zero option is not supported when verifying checksums");
    }
    if args.tag && checking {
        return refuse("the --tag option is meaningless when verifying checksums");
    }
    if (args.binary || args.text) && checking {
        return refuse("the --binary and --text options are meaningless when verifying checksums");
    }
    for (given, option) in [
        (args.ignore_missing, "--ignore-missing"),
        (args.status, "--status"),
        (args.warn, "--warn"),
        (args.strict, "--strict"),
    ] {
        if given && !checking {
            return refuse(&format!(
                "the {option} option is meaningful only when verifying checksums"
            ));
        }
    }
    Ok(())
}

fn record(
    path: &[u8],
    outcome: &Outcome<HashOutput>,
    algo: Algo,
    style: SumsStyle,
    needs: Needs,
) -> Record {
    match &outcome.result {
        Ok(HashOutput::Digest { size, digest }) => output::hash::digest(
            path,
            *size,
            &digest.hex(),
            (algo, style),
            outcome.attempts,
            needs,
        ),
        Ok(HashOutput::Error(message)) => output::hash::error(path, message, outcome.attempts),
        Err(failure) => output::hash::error(path, &failure.to_string(), outcome.attempts),
    }
}

/// Discovery errors first, then one row per file (absent if the run stopped before it).
struct HashRows {
    errors: Vec<(Vec<u8>, String)>,
    files: Arc<PathList>,
    results: HashResults,
    algo: Algo,
    style: SumsStyle,
    needs: Needs,
    /// Whether the rows are in path order already (checked once, in one pass: a walk's order
    /// is path order unless a name sorts before `/`, as `a.txt` does before `a/x`).
    in_order: bool,
}

impl HashRows {
    fn new(
        errors: Vec<(Vec<u8>, String)>,
        files: Arc<PathList>,
        results: HashResults,
        (algo, style): (Algo, SumsStyle),
        needs: Needs,
    ) -> Self {
        let in_order = errors.is_empty() && files.is_sorted();
        HashRows {
            errors,
            files,
            results,
            algo,
            style,
            needs,
            in_order,
        }
    }

    /// Row `i`'s path in two parts (see [`PathList::parts`]).
    fn key(&self, i: usize) -> (&[u8], &[u8]) {
        match i.checked_sub(self.errors.len()) {
            None => (&self.errors[i].0, &[]),
            Some(t) => self.files.parts(t),
        }
    }
}

impl Rows for HashRows {
    fn len(&self) -> usize {
        self.errors.len() + self.files.len()
    }

    fn order_cmp(&self, a: usize, b: usize) -> Ordering {
        PathList::cmp_parts(self.key(a), self.key(b))
    }

    fn record(&self, i: usize) -> Option<Cow<'_, Record>> {
        match i.checked_sub(self.errors.len()) {
            None => Some(Cow::Owned(output::hash::error(
                &self.errors[i].0,
                &self.errors[i].1,
                1,
            ))),
            Some(t) => Some(Cow::Owned(record(
                &self.files.path(t),
                &*self.results.get(t)?,
                self.algo,
                self.style,
                self.needs,
            ))),
        }
    }

    fn failed(&self, i: usize) -> Option<bool> {
        match i.checked_sub(self.errors.len()) {
            None => Some(true),
            Some(t) => self.results.failed(t),
        }
    }

    fn push_sums(&self, i: usize, line: &mut Vec<u8>) -> Option<bool> {
        let Some(t) = i.checked_sub(self.errors.len()) else {
            return Some(false);
        };
        // Digests kept compactly are written from their bytes; any other outcome (an error,
        // no outcome) through its record.
        let digest = self.results.digest(t)?;
        push_sums_line_parts(line, digest, self.files.parts(t), self.algo, self.style);
        Some(true)
    }

    fn in_order(&self) -> bool {
        self.in_order
    }
}

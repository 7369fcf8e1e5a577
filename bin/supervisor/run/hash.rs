//! `run hash`: discover files, hash them in workers, write digests.

use super::{finish_rows, open_output, supervise};
use crate::cli::{Format, HashArgs, RunOptions};
use crate::error::CliError;
use crate::jobs::{HashJob, HashOutput};
use crate::output;
use crate::output::{Needs, Record, Rows};
use std::borrow::Cow;
use supervisor_jobs::hash::{self, Algo, DiscoverOptions, FileEntry, Found};
use supervisor_runtime::Outcome;

pub fn run(options: &RunOptions, args: HashArgs) -> Result<u8, CliError> {
    if let Some(sums_file) = &args.check {
        return super::check::run(options, sums_file, args.algo);
    }
    let algo = args.algo.unwrap_or_default();
    // Results are rendered from the tasks and outcomes at the end; records are only built
    // during the run for `jsonl`, which streams them.
    let mut out = open_output(options, output::hash::view())?.streaming_only();
    let stream = options.format == Format::Jsonl;
    let discover = DiscoverOptions {
        extensions: args.extensions,
        follow_symlinks: args.follow_symlinks,
    };
    let mut tasks = Vec::new();
    let mut errors = Vec::new();
    let mut skips = super::Skips::new(options);
    for found in hash::discover(&args.paths, &discover) {
        match found {
            Found::File(entry) => tasks.push(entry),
            Found::Skipped { path, reason } => skips.note(&path, reason),
            Found::Error { path, message } => {
                out.push(output::hash::error(&path, &message, 1));
                errors.push((path, message));
            }
        }
    }
    let report = supervise::<HashJob>(options, algo, tasks, &mut out, |_, task, outcome| {
        if stream {
            vec![record(task, outcome, algo, Needs::of(Format::Jsonl))]
        } else {
            Vec::new()
        }
    })?;
    skips.finish();
    let rows = HashRows {
        errors,
        tasks: report.tasks,
        outcomes: report.outcomes,
        algo,
        needs: Needs::of(options.format),
    };
    finish_rows(out, &rows, &report.summary, skips.count)
}

fn record(task: &FileEntry, outcome: &Outcome<HashOutput>, algo: Algo, needs: Needs) -> Record {
    let path = &task.path;
    match &outcome.result {
        Ok(HashOutput::Digest { size, digest }) => {
            output::hash::digest(path, *size, &digest.hex(), algo, outcome.attempts, needs)
        }
        Ok(HashOutput::Error(message)) => output::hash::error(path, message, outcome.attempts),
        Err(failure) => output::hash::error(path, &failure.to_string(), outcome.attempts),
    }
}

/// Discovery errors first, then one row per file (absent if the run stopped before it).
struct HashRows {
    errors: Vec<(Vec<u8>, String)>,
    tasks: Vec<FileEntry>,
    outcomes: Vec<Option<Outcome<HashOutput>>>,
    algo: Algo,
    needs: Needs,
}

impl Rows for HashRows {
    fn len(&self) -> usize {
        self.errors.len() + self.tasks.len()
    }

    fn order_key(&self, i: usize) -> &[u8] {
        match i.checked_sub(self.errors.len()) {
            None => &self.errors[i].0,
            Some(t) => &self.tasks[t].path,
        }
    }

    fn record(&self, i: usize) -> Option<Cow<'_, Record>> {
        match i.checked_sub(self.errors.len()) {
            None => Some(Cow::Owned(output::hash::error(
                &self.errors[i].0,
                &self.errors[i].1,
                1,
            ))),
            Some(t) => Some(Cow::Owned(record(
                &self.tasks[t],
                self.outcomes[t].as_ref()?,
                self.algo,
                self.needs,
            ))),
        }
    }

    fn failed(&self, i: usize) -> Option<bool> {
        match i.checked_sub(self.errors.len()) {
            None => Some(true),
            Some(t) => Some(!matches!(
                self.outcomes[t].as_ref()?.result,
                Ok(HashOutput::Digest { .. })
            )),
        }
    }
}

//! `run hash`: discover files, hash them in workers, write digests.

use super::{finish, open_output, supervise};
use crate::cli::{HashArgs, RunOptions};
use crate::error::CliError;
use crate::jobs::{HashJob, HashOutput};
use crate::output;
use supervisor_jobs::hash::{self, DiscoverOptions, Found};

pub fn run(options: &RunOptions, args: HashArgs) -> Result<u8, CliError> {
    if let Some(sums_file) = &args.check {
        return super::check::run(options, sums_file, args.algo);
    }
    let algo = args.algo.unwrap_or_default();
    let mut out = open_output(options, output::hash::view())?;
    let discover = DiscoverOptions {
        extensions: args.extensions,
        follow_symlinks: args.follow_symlinks,
    };
    let mut tasks = Vec::new();
    let mut skips = super::Skips::new(options);
    for found in hash::discover(&args.paths, &discover) {
        match found {
            Found::File(entry) => tasks.push(entry),
            Found::Skipped { path, reason } => skips.note(&path, reason),
            Found::Error { path, message } => {
                if let Some(note) = out.push(output::hash::error(&path, &message, 1)) {
                    eprintln!("{note}");
                }
            }
        }
    }
    let paths: Vec<Vec<u8>> = tasks.iter().map(|t| t.path.clone()).collect();
    let report = supervise::<HashJob>(options, algo, tasks, &mut out, |i, _task, outcome| {
        let path = &paths[i];
        vec![match &outcome.result {
            Ok(HashOutput::Digest { size, digest }) => {
                output::hash::digest(path, *size, digest, algo, outcome.attempts)
            }
            Ok(HashOutput::Error(message)) => output::hash::error(path, message, outcome.attempts),
            Err(failure) => output::hash::error(path, &failure.to_string(), outcome.attempts),
        }]
    })?;
    skips.finish();
    finish(out, &report.summary, skips.count)
}

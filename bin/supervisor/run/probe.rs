//! `run probe`: TCP reachability of many targets, grouped so each worker keeps many connects
//! in flight.

use super::{finish, open_output, supervise};
use crate::cli::{Format, ProbeArgs, RunOptions};
use crate::error::CliError;
use crate::jobs::ProbeJob;
use crate::output;
use crate::partition::{Share, probe_key};
use supervisor_jobs::probe::{
    MAX_CONCURRENT, ProbeStatus, ProbeTask, Target, parse_target, parse_targets_file,
};
use supervisor_runtime::Config;

/// One line of input: a target, or what was wrong with it.
enum Entry {
    Target(Target),
    Invalid { text: String, message: String },
}

/// Probes every target; exit 1 only for crashes, malformed targets, or (with
/// `--fail-on-down`) targets that are not up.
pub fn run(options: &RunOptions, args: ProbeArgs) -> Result<u8, CliError> {
    if options.format == Format::Sums {
        return Err(CliError::Usage(
            "--format sums only applies to the hash job".into(),
        ));
    }
    // Each entry with its input position; a partition keeps only its own as they are read.
    let partition = Share::by_hash(options);
    let mut read = 0usize;
    let mut entries: Vec<(usize, Entry)> = Vec::new();
    read_targets(&args, &mut |entry| {
        let text = match &entry {
            Entry::Target(t) => t.to_string(),
            Entry::Invalid { text, .. } => text.clone(),
        };
        if partition.is_none_or(|p| p.owns(probe_key(&text))) {
            entries.push((read, entry));
        }
        read += 1;
    })?;
    if read == 0 {
        return Err(CliError::Usage(
            "no targets: give HOST:PORT arguments or --targets-file".into(),
        ));
    }
    let mut out = open_output(options, output::probe::view())?;
    let valid: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter_map(|(k, (_, e))| matches!(e, Entry::Target(_)).then_some(k))
        .collect();
    for (position, entry) in &entries {
        if let Entry::Invalid { text, message } = entry {
            out.push(output::probe::error(*position, text, message));
        }
    }
    let workers = options
        .workers
        .map(|n| n as usize)
        .unwrap_or_else(Config::available_cores);
    let group = valid.len().div_ceil(workers).clamp(1, MAX_CONCURRENT);
    let members: Vec<Vec<usize>> = valid.chunks(group).map(<[usize]>::to_vec).collect();
    let tasks: Vec<ProbeTask> = members
        .iter()
        .map(|m| ProbeTask {
            targets: m
                .iter()
                .filter_map(|&k| match &entries[k].1 {
                    Entry::Target(t) => Some(t.clone()),
                    Entry::Invalid { .. } => None,
                })
                .collect(),
            timeout: args.connect_timeout,
        })
        .collect();
    let fail_on_down = args.fail_on_down;
    let report = supervise::<ProbeJob>(options, (), tasks, &mut out, |i, _task, outcome| {
        let group = &members[i];
        match &outcome.result {
            Ok(results) => group
                .iter()
                .zip(results)
                .map(|(&k, r)| {
                    let failed = fail_on_down && r.status != ProbeStatus::Up;
                    output::probe::result(entries[k].0, r, failed)
                })
                .collect(),
            Err(failure) => group
                .iter()
                .map(|&k| {
                    let (position, entry) = &entries[k];
                    let text = match entry {
                        Entry::Target(t) => t.to_string(),
                        Entry::Invalid { text, .. } => text.clone(),
                    };
                    output::probe::error(*position, &text, &failure.to_string())
                })
                .collect(),
        }
    })?;
    finish(out, &report.summary, 0)
}

/// Reads every target, in input order, into `entries`.
fn read_targets(args: &ProbeArgs, entries: &mut dyn FnMut(Entry)) -> Result<(), CliError> {
    for text in &args.targets {
        entries(match parse_target(text) {
            Ok(target) => Entry::Target(target),
            Err(e) => Entry::Invalid {
                text: text.clone(),
                message: format!("invalid target: {e}"),
            },
        });
    }
    if let Some(path) = &args.targets_file {
        let bytes = std::fs::read(path).map_err(|e| {
            CliError::Usage(format!(
                "cannot read {}: {}",
                path.display(),
                supervisor_jobs::describe_io_error(&e)
            ))
        })?;
        // Line by line, so one line of binary junk is one error row, not a refused file.
        for (number, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let number = number + 1;
            let Ok(text) = std::str::from_utf8(line) else {
                entries(Entry::Invalid {
                    text: String::from_utf8_lossy(line).into_owned(),
                    message: format!(
                        "{}:{number}: invalid target: not valid UTF-8",
                        path.display()
                    ),
                });
                continue;
            };
            for parsed in parse_targets_file(text) {
                entries(match parsed {
                    Ok(target) => Entry::Target(target),
                    Err(e) => Entry::Invalid {
                        text: e.raw.clone(),
                        message: format!(
                            "{}:{number}: invalid target: {}",
                            path.display(),
                            e.error
                        ),
                    },
                });
            }
        }
    }
    Ok(())
}

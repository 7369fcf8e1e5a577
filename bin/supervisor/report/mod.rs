//! `supervisor report EVENTS [-o FILE]`: one self-contained HTML page (no network: its script,
//! style and data are inlined) with the run's timeline: one row per worker slot with each
//! process's life, every attempt coloured by how it ended, deaths marked with their cause,
//! zoom and pan; throughput and tasks running over time; the retried and failed tasks; the
//! slowest attempts; each process's peak RSS and CPU; the summary and the command line.

mod model;
mod page;
mod read;

use crate::cli::ReportArgs;
use crate::error::{CliError, code};
use crate::output::Sink;
use std::path::Path;

/// Runs `supervisor report`.
pub fn run(args: ReportArgs) -> Result<u8, CliError> {
    let output = args
        .output
        .unwrap_or_else(|| args.events.with_extension("html"));
    if output == args.events {
        return Err(CliError::Usage(format!(
            "the report would overwrite its events file {}: name another with -o",
            args.events.display()
        )));
    }
    write(&args.events, &output).map_err(CliError::Output)?;
    eprintln!("supervisor: wrote {}", output.display());
    Ok(code::OK)
}

/// Reads the events file and writes the page (atomically) to `html`.
pub fn write(events: &Path, html: &Path) -> Result<(), String> {
    let cannot = |e: std::io::Error| {
        format!(
            "cannot read {}: {}",
            events.display(),
            supervisor_jobs::describe_io_error(&e)
        )
    };
    let open =
        || std::fs::File::open(events).map(|file| std::io::BufReader::with_capacity(1 << 20, file));
    let history = read::read(open().map_err(cannot)?).map_err(cannot)?;
    if history.runs.is_empty() {
        return Err(format!(
            "{} holds no run's events (it is not a --events file, or the run never started)",
            events.display()
        ));
    }
    let title = page::title(&history);
    let mut failed = None;
    let data = model::build(history, |wanted| {
        match open().and_then(|input| read::labels(input, wanted)) {
            Ok(labels) => labels,
            Err(e) => {
                failed = Some(cannot(e));
                Default::default()
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let mut sink = Sink::open(Some(html))?;
    page::render(&title, &data, &mut sink)?;
    sink.finish()
}

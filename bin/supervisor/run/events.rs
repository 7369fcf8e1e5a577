//! `--events FILE` and `--report FILE`: the run's lifecycle log, and its HTML timeline drawn
//! from that log once the run is over.

use crate::cli::RunOptions;
use crate::error::CliError;
use crate::output::Sink;
use std::path::{Path, PathBuf};
use supervisor_runtime::EventLog;

/// A run's event log and where its report goes.
pub(crate) struct Timeline {
    log: Option<(EventLog, PathBuf)>,
    report: Option<PathBuf>,
}

impl Timeline {
    /// Creates the events file now (and checks that the report can be written), so a bad path
    /// fails before any work starts.
    pub(crate) fn open(options: &RunOptions) -> Result<Self, CliError> {
        if let Some(report) = &options.report {
            // Opened and dropped: the temp file beside it goes away, the check stays.
            Sink::open(Some(report)).map_err(CliError::Output)?;
        }
        let events = options
            .events
            .clone()
            .or_else(|| options.report.as_deref().map(events_beside));
        let log = match events {
            Some(path) => {
                let log = EventLog::create(&path)
                    .map_err(|e| {
                        CliError::Output(format!(
                            "cannot write {}: {}",
                            path.display(),
                            supervisor_jobs::describe_io_error(&e)
                        ))
                    })?
                    .with_tool("supervisor", env!("CARGO_PKG_VERSION"));
                Some((log, path))
            }
            None => None,
        };
        Ok(Timeline {
            log,
            report: options.report.clone(),
        })
    }

    /// The log, for the engine and the signal thread.
    pub(crate) fn log(&self) -> Option<EventLog> {
        self.log.as_ref().map(|(log, _)| log.clone())
    }

    /// Once the run is over: waits until every line is written, then draws the report. A
    /// failure here is reported but loses nothing else: the run's output is still written.
    pub(crate) fn finish(self, quiet: bool) {
        let Some((log, events)) = self.log else {
            return;
        };
        if let Err(e) = log.finish() {
            eprintln!(
                "supervisor: cannot write {}: {}",
                events.display(),
                supervisor_jobs::describe_io_error(&e)
            );
            return;
        }
        if let Some(report) = self.report {
            match crate::report::write(&events, &report) {
                Ok(()) if !quiet => eprintln!(
                    "supervisor: timeline in {} (events in {})",
                    report.display(),
                    events.display()
                ),
                Ok(()) => {}
                Err(e) => eprintln!("supervisor: {e}"),
            }
        }
    }
}

/// `run.html` -> `run.events.jsonl`, beside it.
fn events_beside(report: &Path) -> PathBuf {
    report.with_extension("events.jsonl")
}

//! `--journal` / `--resume`: completed results survive the supervisor's own death.
//! `--journal FILE --resume-if-exists` does either, by whether FILE exists: what a scheduler
//! that reruns a partition after its node died needs (one command line for every attempt).

use crate::cli::RunOptions;
use crate::error::CliError;
use supervisor_runtime::journal::{self, Fingerprint, JournalWriter};
use supervisor_runtime::{Job, Outcome, TaskList};

/// What `--journal`/`--resume` asked for: a writer to append to, and outcomes already known.
pub(crate) struct Journal<O> {
    pub(crate) writer: Option<JournalWriter<O>>,
    pub(crate) restored: Vec<(u64, Outcome<O>)>,
    /// Whether an existing journal was continued (the summary says how much it held).
    pub(crate) resumed: bool,
}

/// Opens the journal of a run of `J` over `tasks`: created fresh for `--journal`, read back and
/// continued for `--resume`, absent otherwise. `identity` (the encoded setup, or the part of
/// it that decides the results) binds the journal to the run's arguments.
pub(crate) fn open<J: Job, L: TaskList<J::Task> + ?Sized>(
    options: &RunOptions,
    identity: &[u8],
    tasks: &L,
) -> Result<Journal<J::Output>, CliError> {
    let none = Journal {
        writer: None,
        restored: Vec::new(),
        resumed: false,
    };
    if options.journal.is_none() && options.resume.is_none() {
        return Ok(none);
    }
    let fingerprint = fingerprint::<J, L>(identity, tasks)?;
    let total = tasks.len() as u64;
    let refused = |e: journal::JournalError| CliError::Usage(e.to_string());
    let resumed = |(writer, restored)| Journal {
        writer: Some(writer),
        restored,
        resumed: true,
    };
    if let Some(path) = &options.resume {
        return journal::resume::<J::Output>(path, fingerprint, total)
            .map(resumed)
            .map_err(refused);
    }
    let Some(path) = &options.journal else {
        return Ok(none);
    };
    if options.cluster.resume_if_exists && std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
        match journal::resume::<J::Output>(path, fingerprint, total) {
            Err(e @ journal::JournalError::DamagedHeader { .. }) => {
                // Its run died while creating it: nothing was recorded, start it afresh.
                if !options.quiet {
                    eprintln!("supervisor: {e}; starting it afresh");
                }
            }
            other => return other.map(resumed).map_err(refused),
        }
    }
    Ok(Journal {
        writer: Some(JournalWriter::create(path, fingerprint, total).map_err(refused)?),
        restored: Vec::new(),
        resumed: false,
    })
}

/// The job, its setup and every task: a journal only resumes the very same run.
fn fingerprint<J: Job, L: TaskList<J::Task> + ?Sized>(
    identity: &[u8],
    tasks: &L,
) -> Result<Fingerprint, CliError> {
    let mut builder = Fingerprint::builder(J::NAME);
    builder.add(identity);
    for i in 0..tasks.len() {
        builder.add(&encode(&*tasks.task(i))?);
    }
    Ok(builder.finish())
}

/// The bytes a value is fingerprinted as.
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, CliError> {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map_err(|e| CliError::Usage(format!("cannot fingerprint the run: {e}")))
}

//! The identity of a run: the job and the arguments that decide its results. Partitions of one
//! run share it; `merge` refuses files whose identities differ, and a plan records it.

use super::bytes_to_json;
use crate::cli::JobCommand;
use crate::error::CliError;
use serde_json::{Value, json};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use supervisor_runtime::journal::Fingerprint;

/// A job and the arguments that decide its results: partitions of one run share them, and
/// merging refuses files whose identities differ.
#[derive(Clone, Debug)]
pub struct Identity {
    pub job: String,
    pub args: Value,
    /// A BLAKE3 digest of the job name and the arguments' JSON (hex).
    pub fingerprint: String,
}

impl Identity {
    /// The identity of a run of `job`; refuses what cannot be split into partitions.
    pub fn of(job: &JobCommand) -> Result<Self, CliError> {
        let refuse = |what: &str| {
            Err(CliError::Usage(format!(
                "{what} cannot be split into partitions"
            )))
        };
        let paths = |paths: &[std::path::PathBuf]| -> Value {
            paths.iter().map(|p| path_to_json(p)).collect()
        };
        let (name, args) = match job {
            JobCommand::Hash(a) => {
                if a.check.is_some() {
                    return refuse("hash --check");
                }
                if a.tag || a.zero || a.binary {
                    return Err(CliError::Usage(
                        "--tag, --binary and --zero shape the lines of --format sums: give them \
                         to `supervisor merge --format sums`"
                            .into(),
                    ));
                }
                (
                    "hash",
                    json!({
                        "paths": paths(&a.paths),
                        "extensions": a.extensions,
                        "algo": a.algo.unwrap_or_default().name(),
                        "follow_symlinks": a.follow_symlinks,
                    }),
                )
            }
            JobCommand::Logs(a) => (
                "logs",
                json!({
                    "paths": paths(&a.paths),
                    "globs": if a.globs.is_empty() {
                        vec![supervisor_jobs::logs::DEFAULT_GLOB.to_string()]
                    } else {
                        a.globs.clone()
                    },
                    "patterns": crate::run::logs_patterns(a),
                }),
            ),
            JobCommand::Probe(a) => (
                "probe",
                json!({
                    "targets": a.targets,
                    "targets_file": a.targets_file.as_deref().map(path_to_json),
                    "connect_timeout_ms": a.connect_timeout.as_millis() as u64,
                    "fail_on_down": a.fail_on_down,
                }),
            ),
            JobCommand::Cpu(a) => {
                if a.compare {
                    return refuse("cpu --compare (a speedup is measured on one machine)");
                }
                ("cpu", json!({ "tasks": a.tasks, "scale": a.scale }))
            }
            // The items are read when the job starts (perhaps from stdin): the job adds them
            // with `with_arg` (see `run::exec`).
            JobCommand::Exec(a) => {
                let (command, _) = crate::run::exec_command_words(a);
                (
                    "exec",
                    json!({
                        "command": command.iter().map(|w| bytes_to_json(w)).collect::<Vec<_>>(),
                        "shell": a.shell,
                        "retry_failed": a.retry_failed,
                        "output_dir": a.output_dir.as_deref().map(path_to_json),
                    }),
                )
            }
            JobCommand::Fault(a) => (
                "fault",
                json!({
                    "tasks": a.tasks,
                    "segfault_on": a.segfault_on,
                    "abort_on": a.abort_on,
                    "exit_on": a.exit_on,
                    "exit_code": a.exit_code,
                    "panic_on": a.panic_on,
                    "hang_on": a.hang_on,
                    "ignore_term_on": a.ignore_term_on,
                    "alloc_on": a.alloc_on,
                    "crash_once_on": a.crash_once_on,
                    "sleep_ms": a.sleep_ms,
                }),
            ),
        };
        Ok(Identity::new(name, args))
    }

    /// This identity with one more argument: what a job only knows once it has started
    /// (`exec` reads its items then), so partitions that read different input are refused.
    pub fn with_arg(&self, key: &str, value: Value) -> Self {
        let mut args = self.args.clone();
        if let Some(object) = args.as_object_mut() {
            object.insert(key.to_string(), value);
        }
        Identity::new(&self.job, args)
    }

    /// The identity of `job` run with `args`.
    pub fn new(job: &str, args: Value) -> Self {
        let bytes = serde_json::to_vec(&args).unwrap_or_default();
        let fingerprint = Fingerprint::new(job, &[&bytes]).to_string();
        Identity {
            job: job.to_string(),
            args,
            fingerprint,
        }
    }
}

fn path_to_json(path: &Path) -> Value {
    bytes_to_json(path.as_os_str().as_bytes())
}

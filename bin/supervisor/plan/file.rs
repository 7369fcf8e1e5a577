//! The plan file: JSON Lines, a header that describes the run and the shares, then one line
//! per entry of the walk, in walk order, each naming its share.
//!
//! ```text
//! {"supervisor_plan": {"format": 1, "id": "…", "job": "hash", "args": {...},
//!   "fingerprint": "…", "partitions": 3, "shares": [{"partition": 1, "files": 2, "bytes": 9}, ...],
//!   "tool_version": "…", "host": "…", "created": "…"}}
//! {"partition": 2, "path": "/srv/a", "size": 1234}
//! {"partition": 1, "path": "/srv/pipe", "skipped": "fifo"}
//! {"partition": 3, "path": "/srv/locked", "error": "Permission denied"}
//! ```
//!
//! The id is a digest of the run's identity, the number of shares and every entry line, so a
//! share is run only from the very plan it names, whole and unchanged.

use crate::cli::{HashArgs, JobCommand};
use crate::error::CliError;
use crate::lines::Lines;
use crate::output::Sink;
use crate::partition::{Identity, bytes_from_json, bytes_to_json};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use supervisor_jobs::SkipReason;
use supervisor_jobs::hash::{Algo, FileEntry, Found};
use supervisor_jobs::partition::Partition;
use supervisor_runtime::journal::Fingerprint;

const FORMAT: u32 = 1;
const HEADER_KEY: &str = "supervisor_plan";

/// One entry of the walk and the share (0-based) it was given.
pub(super) struct Item {
    pub found: Found,
    pub share: u32,
}

/// The plan's header.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlanHeader {
    pub format: u32,
    pub id: String,
    pub job: String,
    pub args: Value,
    pub fingerprint: String,
    pub partitions: u32,
    /// Each share's files and bytes.
    pub shares: Vec<Value>,
    pub tool_version: String,
    pub host: String,
    pub created: String,
}

/// Computes a plan's id as its lines are written or read.
struct PlanId(supervisor_runtime::journal::FingerprintBuilder);

impl PlanId {
    fn new(identity_fingerprint: &str, partitions: u32) -> Self {
        let mut builder = Fingerprint::builder("plan");
        builder.add(identity_fingerprint.as_bytes());
        builder.add(&partitions.to_le_bytes());
        PlanId(builder)
    }

    fn add(&mut self, line: &[u8]) {
        self.0.add(line);
    }

    fn finish(&self) -> String {
        self.0.finish().to_string()[..16].to_string()
    }
}

pub(super) struct PlanWriter;

impl PlanWriter {
    /// Writes the plan to `output` (stdout when `None`) and returns its id.
    pub fn write(
        output: Option<&Path>,
        identity: &Identity,
        partitions: u32,
        shares: &[(u64, u64)],
        items: &[Item],
    ) -> Result<String, CliError> {
        let mut sink = Sink::open(output).map_err(CliError::Output)?;
        let lines: Vec<Vec<u8>> = items.iter().map(entry_line).collect();
        let mut id = PlanId::new(&identity.fingerprint, partitions);
        for line in &lines {
            id.add(line);
        }
        let id = id.finish();
        let header = PlanHeader {
            format: FORMAT,
            id: id.clone(),
            job: identity.job.clone(),
            args: identity.args.clone(),
            fingerprint: identity.fingerprint.clone(),
            partitions,
            shares: shares
                .iter()
                .enumerate()
                .map(|(n, (files, bytes))| {
                    json!({ "partition": n + 1, "files": files, "bytes": bytes })
                })
                .collect(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            host: crate::partition::host_name(),
            created: crate::partition::timestamp(SystemTime::now()),
        };
        let mut first = serde_json::to_vec(&json!({ HEADER_KEY: header })).unwrap_or_default();
        first.push(b'\n');
        sink.write(&first);
        for line in &lines {
            sink.write(line);
            sink.write(b"\n");
        }
        sink.finish().map_err(CliError::Output)?;
        Ok(id)
    }
}

fn entry_line(item: &Item) -> Vec<u8> {
    let partition = item.share + 1;
    let value = match &item.found {
        Found::File(entry) => {
            json!({ "partition": partition, "path": bytes_to_json(&entry.path), "size": entry.size })
        }
        Found::Skipped { path, reason } => {
            json!({ "partition": partition, "path": bytes_to_json(path), "skipped": reason.code() })
        }
        Found::Error { path, message } => {
            json!({ "partition": partition, "path": bytes_to_json(path), "error": message })
        }
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

fn skip_reason(code: &str) -> Option<SkipReason> {
    [
        SkipReason::Fifo,
        SkipReason::Socket,
        SkipReason::Device,
        SkipReason::Symlink,
    ]
    .into_iter()
    .find(|r| r.code() == code)
}

/// An entry line read back: its share (1-based) and what it holds.
fn parse_entry(line: &[u8]) -> Result<(u64, Found), String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    let partition = value["partition"].as_u64().ok_or("no \"partition\"")?;
    let path = bytes_from_json(&value["path"]).ok_or("no \"path\"")?;
    let found = if let Some(size) = value["size"].as_u64() {
        Found::File(FileEntry { path, size })
    } else if let Some(code) = value["skipped"].as_str() {
        let reason = skip_reason(code).ok_or_else(|| format!("unknown skip {code:?}"))?;
        Found::Skipped { path, reason }
    } else if let Some(message) = value["error"].as_str() {
        Found::Error {
            path,
            message: message.to_string(),
        }
    } else {
        return Err("neither \"size\", \"skipped\" nor \"error\"".into());
    };
    Ok((partition, found))
}

impl PlanHeader {
    /// Reads and checks the header of the plan at `path`.
    pub fn read(path: &Path) -> Result<Self, CliError> {
        let mut lines = Lines::open(path)?;
        Self::parse(lines.first()?, path)
    }

    fn parse(line: &[u8], path: &Path) -> Result<Self, CliError> {
        let not_a_plan = |why: String| {
            CliError::Usage(format!(
                "{} is not a plan of `supervisor plan`: {why}",
                path.display()
            ))
        };
        let mut value: Value =
            serde_json::from_slice(line).map_err(|e| not_a_plan(e.to_string()))?;
        let header = value
            .get_mut(HEADER_KEY)
            .map(Value::take)
            .ok_or_else(|| not_a_plan("its first line is no plan header".into()))?;
        let header: PlanHeader =
            serde_json::from_value(header).map_err(|e| not_a_plan(e.to_string()))?;
        if header.format != FORMAT {
            return Err(CliError::Usage(format!(
                "the plan {} has format {}; this build reads format {FORMAT}",
                path.display(),
                header.format
            )));
        }
        if Identity::new(&header.job, header.args.clone()).fingerprint != header.fingerprint {
            return Err(not_a_plan(
                "its arguments do not match its fingerprint (edited?)".into(),
            ));
        }
        Ok(header)
    }

    /// The job the plan was made for, with its arguments.
    pub fn job_command(&self) -> Result<JobCommand, CliError> {
        let bad = || CliError::Usage(format!("plan {}: unreadable job arguments", self.id));
        if self.job != "hash" {
            return Err(CliError::Usage(format!(
                "plan {} is for the {} job, which cannot be planned",
                self.id, self.job
            )));
        }
        let paths = self.args["paths"]
            .as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|p| bytes_from_json(p).map(|b| PathBuf::from(std::ffi::OsString::from_vec(b))))
            .collect::<Option<Vec<PathBuf>>>()
            .ok_or_else(bad)?;
        let extensions =
            serde_json::from_value(self.args["extensions"].clone()).map_err(|_| bad())?;
        let algo = self.args["algo"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .ok_or_else(bad)?;
        Ok(JobCommand::Hash(hash_args(
            paths,
            extensions,
            algo,
            self.args["follow_symlinks"].as_bool().ok_or_else(bad)?,
        )))
    }
}

/// The hash job's arguments for a plan: the ones that choose the files and their digests; the
/// options of --check and of `--format sums` lines a planned share has not (merge shapes the
/// lines).
pub(super) fn hash_args(
    paths: Vec<PathBuf>,
    extensions: Vec<String>,
    algo: Algo,
    follow_symlinks: bool,
) -> HashArgs {
    HashArgs {
        paths,
        check: None,
        extensions,
        algo: Some(algo),
        follow_symlinks,
        status: false,
        warn: false,
        check_quiet: false,
        run_quiet: false,
        strict: false,
        ignore_missing: false,
        tag: false,
        zero: false,
        binary: false,
        text: false,
    }
}

/// The entries of share `partition` of the plan at `path`, in walk order. The whole plan is
/// read and its id checked, so a plan cut short or changed since is refused rather than run.
pub fn read_share(path: &Path, id: &str, partition: Partition) -> Result<Vec<Found>, CliError> {
    let mut lines = Lines::open(path)?;
    let header = PlanHeader::parse(lines.first()?, path)?;
    let changed = || {
        CliError::Usage(format!(
            "the plan {} changed while this share ran (it is no longer plan {id})",
            path.display()
        ))
    };
    if header.id != id || header.partitions != partition.count() {
        return Err(changed());
    }
    let mut digest = PlanId::new(&header.fingerprint, header.partitions);
    let mut share = Vec::new();
    while let Some((line, at)) = lines.next_line()? {
        digest.add(line);
        let (owner, found) = parse_entry(line)
            .map_err(|e| CliError::Usage(format!("{}: not a plan entry: {e}", at)))?;
        if owner == u64::from(partition.number()) {
            share.push(found);
        }
    }
    if digest.finish() != header.id {
        return Err(CliError::Usage(format!(
            "the plan {} is damaged: its entries do not add up to its id {} (cut short or edited)",
            path.display(),
            header.id
        )));
    }
    Ok(share)
}

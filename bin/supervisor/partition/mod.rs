//! One run of many: `--partition hash:M/N|M/N|auto`, `--partitions N`, `--plan PLAN` and
//! `--resume-if-exists`. Each partition runs only its share of the tasks (a stable hash of each
//! task's key, or a share of a plan) and writes self-describing jsonl that `supervisor merge`
//! joins into exactly what one run would have printed.

mod auto;
mod file;
mod identity;
mod key;
mod spec;

pub use file::{
    FORMAT, Header, PartitionLine, bytes_from_json, bytes_to_json, host_name, timestamp,
};
pub use identity::Identity;
pub use key::{cpu_key, exec_key, fault_key, probe_key};
pub use spec::PartitionSpec;
use spec::{parse_spec, spec_text};

use crate::cli::{Format, JobCommand, RunOptions};
use crate::error::CliError;
use crate::plan::PlanHeader;
use clap::Args;
use std::path::PathBuf;
use std::time::SystemTime;
use supervisor_jobs::hash::{self, DiscoverOptions, Discovered};
use supervisor_jobs::partition::Partition;

/// The command-line options of a partitioned run.
#[derive(Args, Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Run one partition of the tasks and write the jsonl that `supervisor merge` joins:
    /// `hash:M/N` (M from 1: the tasks whose key hashes to M−1 modulo N), `M/N` (share M of
    /// --plan) or `auto` (the array index of Slurm, Kubernetes or AWS Batch).
    #[arg(long, value_name = "hash:M/N|M/N|auto", value_parser = parse_spec, global = true)]
    pub partition: Option<PartitionSpec>,

    /// How many partitions there are, for `--partition auto` in a Kubernetes Indexed Job
    /// (its JOB_COMPLETION_INDEX comes without a total: give the Job's `completions`).
    #[arg(long, value_name = "N", global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub partitions: Option<u32>,

    /// Run a share of the plan made by `supervisor plan` (the plan names the job and its
    /// arguments: give no job after it); needs --partition M/N or auto.
    #[arg(long, value_name = "PLAN", global = true, requires = "partition")]
    pub plan: Option<PathBuf>,

    /// With --journal: continue the journal if the file exists (a partition rerun after its
    /// node died), start it otherwise.
    #[arg(long, global = true, requires = "journal")]
    pub resume_if_exists: bool,

    /// The share this run is, once resolved (not an option).
    #[arg(skip)]
    pub share: Option<Share>,
}

/// The share a partitioned run is.
#[derive(Clone, Debug)]
pub struct Share {
    /// Which partition.
    pub partition: Partition,
    /// The plan it is a share of, if any.
    pub plan: Option<PlannedShare>,
    /// How the partition was chosen, for the header (e.g. the Slurm variables).
    pub source: String,
    /// The job and its result-affecting arguments.
    pub identity: Identity,
    /// When the run started.
    pub started: SystemTime,
}

/// A share of a plan: the file to read it from, and the plan's id.
#[derive(Clone, Debug)]
pub struct PlannedShare {
    pub path: PathBuf,
    pub id: String,
}

impl Share {
    /// The header line's content, `ended` now.
    pub fn header(&self) -> Header {
        Header::new(self)
    }

    /// The hash partition that decides which tasks run, or `None` for a planned share (whose
    /// tasks are listed in the plan) and for a run that is not partitioned.
    pub fn by_hash(options: &RunOptions) -> Option<Partition> {
        let share = options.cluster.share.as_ref()?;
        share.plan.is_none().then_some(share.partition)
    }
}

/// The hash job's files: this partition's share of the walk, the plan's share, or (not
/// partitioned) the whole walk.
pub fn discover_hash(
    options: &RunOptions,
    paths: &[PathBuf],
    discover: &DiscoverOptions,
) -> Result<Discovered, CliError> {
    // Sizes only order the run (largest first), so only where they pay for their `stat`.
    let walk = hash::discover(paths, discover).sizes_where_paying();
    Ok(match &options.cluster.share {
        None => walk.into_discovered(),
        Some(Share {
            plan: Some(plan),
            partition,
            ..
        }) => {
            let mut discovered = Discovered::default();
            for found in crate::plan::read_share(&plan.path, &plan.id, *partition)? {
                discovered.push(found);
            }
            discovered
        }
        Some(share) => walk.in_partition(share.partition).into_discovered(),
    })
}

/// Resolves the run's partition, if any: reads the plan and the scheduler's environment,
/// fills in `{index}`/`{count}` in `--journal`, `--resume` and `-o`, and sets the partition output format.
/// Returns the options and the job to run (from the plan when `--plan` is given).
pub fn prepare(
    mut options: RunOptions,
    job: Option<JobCommand>,
) -> Result<(RunOptions, JobCommand), CliError> {
    let usage = |m: &str| CliError::Usage(m.to_string());
    let cluster = &options.cluster;
    let Some(spec) = cluster.partition else {
        if cluster.partitions.is_some() {
            return Err(usage(
                "--partitions N goes with --partition auto (a Kubernetes Indexed Job)",
            ));
        }
        let job = job.ok_or_else(|| {
            usage("run needs a job: hash, logs, probe or cpu (see supervisor run --help)")
        })?;
        return Ok((options, job));
    };
    let plan = cluster.plan.as_deref().map(PlanHeader::read).transpose()?;
    let job = match (job, &plan) {
        (Some(_), Some(_)) => {
            return Err(usage(
                "--plan already names the job and its arguments: give no job after it",
            ));
        }
        (None, Some(plan)) => plan.job_command()?,
        (Some(job), None) => job,
        (None, None) => {
            return Err(usage(
                "run needs a job: hash, logs, probe or cpu (or --plan PLAN)",
            ));
        }
    };
    let total = plan.as_ref().map(|p| p.partitions).or(cluster.partitions);
    let (partition, source) = match spec {
        PartitionSpec::Auto => {
            let env = |name: &str| std::env::var(name).ok();
            auto::detect(&env, total).map_err(CliError::Usage)?
        }
        PartitionSpec::Hash(p) if plan.is_some() => {
            return Err(CliError::Usage(format!(
                "--partition hash:{p} picks tasks by hash; a share of --plan is --partition {p} (or auto)"
            )));
        }
        PartitionSpec::Planned(p) if plan.is_none() => {
            return Err(CliError::Usage(format!(
                "--partition {p} is a share of a plan (add --plan PLAN); a hash partition is --partition hash:{p}"
            )));
        }
        PartitionSpec::Hash(p) | PartitionSpec::Planned(p) => {
            (p, format!("--partition {}", spec_text(spec)))
        }
    };
    if let Some(total) = total
        && total != partition.count()
    {
        let whose = if plan.is_some() {
            "the plan has"
        } else {
            "--partitions says"
        };
        return Err(CliError::Usage(format!(
            "partition {partition} does not fit: {whose} {total} partitions"
        )));
    }
    if !matches!(options.format, Format::Table | Format::Jsonl) {
        return Err(CliError::Usage(
            "a partition writes the jsonl that `supervisor merge` reads: leave out --format \
             here and give it to merge (e.g. supervisor merge --format csv PARTS...)"
                .into(),
        ));
    }
    let identity = Identity::of(&job)?;
    options.format = Format::Partition;
    options.journal = options.journal.map(|p| fill_in(&p, partition));
    options.resume = options.resume.map(|p| fill_in(&p, partition));
    options.output = options.output.map(|p| fill_in(&p, partition));
    if !options.quiet {
        eprintln!("supervisor: partition {partition} ({source})");
    }
    options.cluster.share = Some(Share {
        partition,
        plan: plan.map(|p| PlannedShare {
            path: options.cluster.plan.clone().unwrap_or_default(),
            id: p.id,
        }),
        source,
        identity,
        started: SystemTime::now(),
    });
    Ok((options, job))
}

/// `path` with `{index}` replaced by the partition's number (1-based, as in M/N) and `{count}`
/// by the number of partitions, so every array task gets its own journal and output.
fn fill_in(path: &std::path::Path, partition: Partition) -> PathBuf {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let bytes = path.as_os_str().as_bytes();
    let replaced = replace(
        &replace(bytes, b"{index}", partition.number().to_string().as_bytes()),
        b"{count}",
        partition.count().to_string().as_bytes(),
    );
    PathBuf::from(std::ffi::OsString::from_vec(replaced))
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_and_output_names_take_the_index() {
        let p = Partition::new(2, 7).unwrap();
        assert_eq!(
            fill_in(
                std::path::Path::new("/j/part-{index}-of-{count}.journal"),
                p
            ),
            PathBuf::from("/j/part-2-of-7.journal")
        );
        assert_eq!(
            fill_in(std::path::Path::new("plain"), p),
            PathBuf::from("plain")
        );
    }
}

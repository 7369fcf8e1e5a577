//! `supervisor plan hash PATH... --partitions N`: one walk, then every file assigned largest
//! first to the share with the fewest bytes so far (longest-processing-time first, LPT), so
//! one huge file does not make one partition the straggler as hash partitions can. Shares run
//! with `supervisor run --plan PLAN --partition auto` (or `M/N`).

mod file;

pub use file::{PlanHeader, read_share};

use crate::cli::JobCommand;
use crate::error::{CliError, code};
use crate::output::summary::human_bytes;
use crate::partition::Identity;
use clap::{Args, Subcommand};
use file::{Item, PlanWriter};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use supervisor_jobs::hash::{self, Algo, DiscoverOptions, Found};
use supervisor_jobs::partition::{Partition, path_key, relative_path};

/// `supervisor plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(subcommand)]
    pub job: PlanJob,
}

/// The jobs that can be planned.
#[derive(Subcommand, Debug)]
pub enum PlanJob {
    /// Plan a hash run: shares balanced by bytes.
    Hash(PlanHashArgs),
}

/// `supervisor plan hash`: the hash job's options that choose the files and their digests.
#[derive(Args, Debug)]
pub struct PlanHashArgs {
    /// Files or directories to hash.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Only files whose name ends with EXT (e.g. `.log`; repeatable). Default: all files.
    #[arg(long = "ext", value_name = "EXT")]
    pub extensions: Vec<String>,

    /// Digest algorithm (as `run hash --algo`) [default: md5].
    #[arg(long, value_parser = crate::cli::parse_algo)]
    pub algo: Option<Algo>,

    /// Follow symbolic links (loops are detected and reported).
    #[arg(long)]
    pub follow_symlinks: bool,

    /// The number of shares (the array's size).
    #[arg(long, value_name = "N", required = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub partitions: u32,

    /// Write the plan to FILE (replaced atomically) instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print no report of the shares.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Walks, balances, writes the plan and reports the shares on stderr.
pub fn run(args: PlanArgs) -> Result<u8, CliError> {
    let PlanJob::Hash(args) = args.job;
    let count = args.partitions;
    let identity = Identity::of(&JobCommand::Hash(file::hash_args(
        args.paths.clone(),
        args.extensions.clone(),
        args.algo.unwrap_or_default(),
        args.follow_symlinks,
    )))?;
    let discover = DiscoverOptions {
        extensions: args.extensions,
        follow_symlinks: args.follow_symlinks,
    };
    // Operand by operand (the same walk as all at once), to know each file's hash partition.
    let mut items: Vec<Item> = Vec::new();
    let mut by_hash = vec![(0u64, 0u64); count as usize];
    for (operand, root) in args.paths.iter().enumerate() {
        let root_bytes = root.as_os_str().as_bytes();
        for found in hash::discover(std::slice::from_ref(root), &discover) {
            if let Found::File(entry) = &found {
                let key = path_key(operand, relative_path(root_bytes, &entry.path));
                let share = &mut by_hash[Partition::index_of(&key, count) as usize];
                share.0 += 1;
                share.1 += entry.size;
            }
            items.push(Item { found, share: 0 });
        }
    }
    let shares = balance(&mut items, count);
    let id = PlanWriter::write(args.output.as_deref(), &identity, count, &shares, &items)?;
    if !args.quiet {
        report(&shares, &by_hash, &id);
    }
    Ok(code::OK)
}

/// Assigns every item a share (0-based) by LPT on bytes and returns each share's (files,
/// bytes). Files go largest first (ties in walk order) to the share with the fewest bytes
/// (ties: the lowest share); skipped entries and errors cost nothing and follow the same rule.
fn balance(items: &mut [Item], count: u32) -> Vec<(u64, u64)> {
    let size = |item: &Item| match &item.found {
        Found::File(entry) => entry.size,
        _ => 0,
    };
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| (Reverse(size(&items[i])), i));
    let mut lightest: BinaryHeap<Reverse<(u64, u32)>> =
        (0..count).map(|share| Reverse((0, share))).collect();
    let mut shares = vec![(0u64, 0u64); count as usize];
    for i in order {
        let Reverse((bytes, share)) = lightest.pop().expect("at least one share");
        let cost = size(&items[i]);
        items[i].share = share;
        if matches!(items[i].found, Found::File(_)) {
            shares[share as usize].0 += 1;
            shares[share as usize].1 += cost;
        }
        lightest.push(Reverse((bytes + cost, share)));
    }
    shares
}

/// How far the heaviest share is above the mean: in percent, and in bytes.
fn above_mean(shares: &[(u64, u64)]) -> (f64, f64) {
    let total: u64 = shares.iter().map(|s| s.1).sum();
    let heaviest = shares.iter().map(|s| s.1).max().unwrap_or(0);
    if total == 0 {
        return (0.0, 0.0);
    }
    let mean = total as f64 / shares.len() as f64;
    (
        (heaviest as f64 / mean - 1.0) * 100.0,
        heaviest as f64 - mean,
    )
}

fn report(shares: &[(u64, u64)], by_hash: &[(u64, u64)], id: &str) {
    let files: u64 = shares.iter().map(|s| s.0).sum();
    let bytes: u64 = shares.iter().map(|s| s.1).sum();
    eprintln!(
        "plan {id}: {files} files, {} in {} shares",
        human_bytes(bytes),
        shares.len()
    );
    eprintln!("share  files       bytes (plan)          files       bytes (hash:M/N)");
    for (n, (plan, hash)) in shares.iter().zip(by_hash).enumerate() {
        eprintln!(
            "{:<5}  {:<10}  {:<20}  {:<10}  {}",
            n + 1,
            plan.0,
            human_bytes(plan.1),
            hash.0,
            human_bytes(hash.1)
        );
    }
    let (plan, plan_bytes) = above_mean(shares);
    let (hash, hash_bytes) = above_mean(by_hash);
    eprintln!(
        "heaviest share: {plan:.4}% ({plan_bytes:.0} bytes) above the mean; \
         hash partitions: {hash:.4}% ({hash_bytes:.0} bytes)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use supervisor_jobs::hash::FileEntry;

    fn file(size: u64) -> Item {
        Item {
            found: Found::File(FileEntry {
                path: format!("f{size}").into_bytes(),
                size,
            }),
            share: u32::MAX,
        }
    }

    #[test]
    fn largest_first_to_the_lightest_share() {
        let mut items: Vec<Item> = [7, 5, 4, 3, 3, 2].into_iter().map(file).collect();
        let shares = balance(&mut items, 2);
        // 7 -> A, 5 -> B, 4 -> B (9), 3 -> A (10), 3 -> B (12)... LPT: A=7+3+2=12, B=5+4+3=12.
        assert_eq!(shares, vec![(3, 12), (3, 12)]);
        let assigned: Vec<u32> = items.iter().map(|i| i.share).collect();
        assert_eq!(assigned, vec![0, 1, 1, 0, 1, 0]);
        assert_eq!(above_mean(&shares), (0.0, 0.0));
    }

    #[test]
    fn one_huge_file_is_a_share_of_its_own() {
        let mut items: Vec<Item> = [100, 1, 1, 1, 1].into_iter().map(file).collect();
        let shares = balance(&mut items, 3);
        assert_eq!(shares, vec![(1, 100), (2, 2), (2, 2)]);
    }
}

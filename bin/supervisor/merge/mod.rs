//! `supervisor merge FILES...`: the partitions of one run joined into exactly what one run
//! would have printed, in any format.
//!
//! Each result line holds the JSON object one run prints for that result; the job's decoder
//! rebuilds the record from it through the job's own constructors, and the records go through
//! the same [`Output`] as a run's, so there is one rendering path. Files are taken in partition
//! order whatever order they are given in, and the records are put in the canonical order by
//! the same stable sort a run uses: merging is deterministic and repeatable.
//!
//! `exec` results are streams rather than records: [`exec`] merges them as a stream too.

mod check;
mod exec;
mod read;
mod summary;

use crate::cli::Format;
use crate::error::{CliError, code};
use crate::output::decode::Decode;
use crate::output::{self, Needs, Output, Record, Rows, Sink, View};
use crate::partition::PartitionLine;
use check::Claim;
use clap::Args;
use read::Row;
use serde_json::Value;
use std::borrow::Cow;
use std::path::PathBuf;
use supervisor_jobs::hash::SumsStyle;
use supervisor_runtime::Summary;

/// `supervisor merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The partitions' outputs (written by supervisor run --partition ... -o FILE), in any
    /// order; every partition exactly once.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Write the output to FILE (a regular file is replaced atomically).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print only the results: no summary.
    #[arg(short, long)]
    pub quiet: bool,

    /// hash, `--format sums`: lines in the BSD layout, `MD5 (NAME) = HEX` (as `run hash --tag`).
    #[arg(long)]
    pub tag: bool,

    /// hash, `--format sums`: lines end with NUL, names not escaped (as `run hash --zero`).
    #[arg(short = 'z', long)]
    pub zero: bool,

    /// hash, `--format sums`: names marked `*`, binary mode (as `run hash --binary`).
    #[arg(short = 'b', long)]
    pub binary: bool,
}

/// Merges and returns the exit code: as one run's (1 when a result failed, 3 when a partition
/// gave up), 2 when the files are not one run's complete set of partitions.
pub fn run(args: MergeArgs) -> Result<u8, CliError> {
    let mut headers = Vec::with_capacity(args.files.len());
    for path in &args.files {
        headers.push(read::header(path)?);
    }
    let claims: Vec<Claim<'_>> = args
        .files
        .iter()
        .zip(&headers)
        .map(|(path, header)| Claim { path, header })
        .collect();
    check::one_run(&claims)?;
    check::complete(&claims)?;
    let first = &headers[0];
    let style = SumsStyle {
        tag: args.tag,
        binary: args.binary,
        zero: args.zero,
    };
    if style != SumsStyle::default() && (args.format != Format::Sums || first.job != "hash") {
        return Err(CliError::Usage(
            "--tag, --binary and --zero shape the lines of --format sums of the hash job".into(),
        ));
    }
    if args.format == Format::Sums && first.job != "hash" {
        return Err(CliError::Usage(
            "--format sums only applies to the hash job".into(),
        ));
    }
    if first.job == "exec" {
        return exec::run(&args);
    }
    let (view, decode) = codec(&first.job, &first.args, style)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.files[0].display())))?;
    let needs = Needs::of(args.format);
    let renders =
        |line: &PartitionLine| decode(&line.result, &line.order, line.failed, needs).map(drop);
    let mut parts = Vec::with_capacity(args.files.len());
    for path in &args.files {
        parts.push(read::read(path, &renders)?);
    }
    parts.sort_by_key(|p| p.header.partition);
    let merged = summary::merge(&parts);
    let rows = MergedRows {
        rows: parts.into_iter().flat_map(|p| p.rows).collect(),
        decode,
        needs,
    };
    let sink = Sink::open(args.output.as_deref()).map_err(CliError::Output)?;
    let mut out = Output::new(args.format, sink, args.quiet, view);
    out.merged(merged.slot_partitions);
    if !args.quiet {
        out.add_summary("partitions", merged.partitions, merged.partitions_line);
    }
    let written = out
        .finish_rows(&rows, &merged.summary, merged.skipped)
        .map_err(CliError::Output)?;
    Ok(exit_code(&written, &merged.summary))
}

/// A merge's exit code, as one run's: 1 when a result failed or a partition was interrupted
/// (its tasks not run are named), 3 when a partition gave up.
fn exit_code(written: &output::Finished, summary: &Summary) -> u8 {
    if written.reader_went_away {
        return code::OK;
    }
    if let Some(reason) = &summary.gave_up {
        eprintln!("supervisor: gave up: {reason}");
        return code::GAVE_UP;
    }
    if let Some(reason) = &summary.interrupted {
        eprintln!(
            "supervisor: {} tasks not run: {reason}; rerun those partitions",
            summary.not_run
        );
        return code::TASKS_FAILED;
    }
    if written.failed > 0 {
        code::TASKS_FAILED
    } else {
        code::OK
    }
}

/// The view and decoder of `job`'s records; the arguments are the partitions' (the logs
/// job's columns are its patterns), `style` shapes hash's `sums` lines.
fn codec(job: &str, args: &Value, style: SumsStyle) -> Result<(View, Decode), String> {
    Ok(match job {
        "hash" => (output::hash::view(), output::hash::decoder(style)),
        "logs" => {
            let patterns: Vec<String> = serde_json::from_value(args["patterns"].clone())
                .map_err(|_| "the header names no patterns for the logs job".to_string())?;
            (
                output::logs::view(&patterns),
                output::logs::decoder(patterns),
            )
        }
        "probe" => (output::probe::view(), output::probe::decoder()),
        "cpu" => (output::cpu::view(), output::cpu::decoder()),
        "fault" => (output::fault::view(), output::fault::decoder()),
        other => return Err(format!("cannot merge partitions of the {other:?} job")),
    })
}

/// The partitions' results, rendered one at a time when written.
struct MergedRows {
    rows: Vec<Row>,
    decode: Decode,
    needs: Needs,
}

impl Rows for MergedRows {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn order_cmp(&self, a: usize, b: usize) -> std::cmp::Ordering {
        self.rows[a].order.cmp(&self.rows[b].order)
    }

    fn record(&self, i: usize) -> Option<Cow<'_, Record>> {
        // Every line was decoded once already when it was read, so this cannot fail.
        let line = PartitionLine::parse(&self.rows[i].line).ok()?;
        let record = (self.decode)(&line.result, &line.order, line.failed, self.needs).ok()?;
        Some(Cow::Owned(record))
    }

    fn failed(&self, i: usize) -> Option<bool> {
        Some(self.rows[i].failed)
    }
}

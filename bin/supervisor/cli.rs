//! The command line, as clap definitions (also the source of `--help`).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;
use supervisor_jobs::hash::Algo;

/// Run work across all cores in separate OS processes, and survive whatever happens to them.
#[derive(Parser, Debug)]
#[command(name = "supervisor", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a job in supervised worker processes.
    Run(Box<RunArgs>),
    /// Show the workers of running supervisors (from their live scoreboards).
    Ps(PsArgs),
    /// Split a run into shares balanced by cost, for `run --plan PLAN --partition auto`.
    Plan(crate::plan::PlanArgs),
    /// Join partitions' jsonl outputs into exactly what one run would print.
    Merge(crate::merge::MergeArgs),
    /// Draw a run's --events file as one self-contained HTML timeline.
    Report(ReportArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Only the supervisor with this pid.
    pub pid: Option<u32>,
    /// Refresh until the supervisors end.
    #[arg(long)]
    pub watch: bool,
    /// Time between refreshes with --watch.
    #[arg(long, default_value = "1s", value_parser = parse_positive_duration)]
    pub interval: Duration,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The events file (JSON Lines) a run wrote with --events.
    #[arg(value_name = "EVENTS")]
    pub events: PathBuf,
    /// Where to write the HTML [default: EVENTS with the extension .html].
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = RUN_EXAMPLES)]
pub struct RunArgs {
    #[command(flatten)]
    pub options: RunOptions,
    /// The hash job's --algo, also accepted here, before the job's name.
    #[arg(long, value_name = "ALGO", value_parser = parse_algo)]
    pub algo: Option<Algo>,
    /// The job (absent only with --plan, which names it).
    #[command(subcommand)]
    pub job: Option<JobCommand>,
}

/// The examples at the end of `supervisor run --help`.
const RUN_EXAMPLES: &str = "Examples:
  supervisor run --workers 8 hash /srv
  supervisor run --format json --algo sha256 hash /srv --ext .log --ext .txt
  supervisor run hash --check MD5SUMS
  supervisor run logs /var/log --glob '*.log' --glob '*.log.*.gz'
  supervisor run --format jsonl probe 127.0.0.1:22 --connect-timeout 2s
  supervisor run cpu --tasks 10,20 --compare";

/// Options of every run; accepted before or after the job's name.
#[derive(Args, Debug, Clone)]
pub struct RunOptions {
    /// Worker processes [default: the number of available cores].
    #[arg(short = 'w', long, value_name = "N", global = true,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub workers: Option<u32>,

    /// Times a task whose worker died is run again before it fails.
    #[arg(long, value_name = "N", default_value_t = 2, global = true)]
    pub retries: u32,

    /// Restart intensity: stop (exit 3) after more than N unexpected worker deaths within
    /// --restart-window [default: max(10, 2 × workers)].
    #[arg(long, value_name = "N", global = true)]
    pub max_restarts: Option<u32>,

    /// The window of --max-restarts.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_duration, global = true)]
    pub restart_window: Duration,

    /// Kill a task's worker when the task runs longer than DUR (SIGTERM, then SIGKILL after
    /// --kill-grace); the attempt counts against --retries. Default: no limit.
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration, global = true)]
    pub task_timeout: Option<Duration>,

    /// Time between SIGTERM and SIGKILL for a worker killed by --task-timeout or
    /// --heartbeat-timeout.
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = parse_duration, global = true)]
    pub kill_grace: Duration,

    /// Kill a worker whose heartbeat is silent for DUR (e.g. it was stopped); its running
    /// task counts an attempt. `0` disables the check.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration, global = true)]
    pub heartbeat_timeout: Duration,

    /// Replace each worker process with a fresh one after it has run N tasks (bounds leaks).
    #[arg(long, value_name = "N", global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tasks_per_child: Option<u64>,

    /// Cap each worker's heap (RLIMIT_DATA) at SIZE, e.g. 512M, 2GiB, 1048576 (bytes); a task
    /// that exceeds it fails alone.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, global = true)]
    pub memory_limit: Option<u64>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    pub format: Format,

    /// Write the output to FILE (a regular file is replaced atomically).
    #[arg(short = 'o', long, value_name = "FILE", global = true)]
    pub output: Option<PathBuf>,

    /// SIGKILL a random busy worker at this interval (e.g. 50ms), to watch crash isolation.
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration, global = true)]
    pub chaos_kill_every: Option<Duration>,

    /// Seed for the choice of --chaos-kill-every victims.
    #[arg(long, value_name = "N", default_value_t = 1, global = true)]
    pub chaos_seed: u64,

    /// Live progress on stderr: auto = only when stderr is a terminal.
    #[arg(long, value_enum, default_value_t = Progress::Auto, global = true)]
    pub progress: Progress,

    /// Print only results and errors: no summary, no notes.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print per-worker details and every worker death.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Append every completed result to FILE as it arrives, so a run whose supervisor died
    /// can be finished with --resume FILE.
    #[arg(long, value_name = "FILE", global = true, conflicts_with = "resume")]
    pub journal: Option<PathBuf>,

    /// Continue the run journaled in FILE: only the tasks missing from it are run, and the
    /// output is the same as an uninterrupted run's. Refused if FILE was written for another
    /// job, other arguments or another task list.
    #[arg(long, value_name = "FILE", global = true)]
    pub resume: Option<PathBuf>,

    /// --partition, --partitions, --plan, --resume-if-exists: one share of a run.
    #[command(flatten)]
    pub cluster: crate::partition::ClusterOptions,

    /// Workers write to the supervisor's own stdout and stderr instead of having their output
    /// captured (set by `exec --line-buffer` / `--ungroup`; no option of its own).
    #[arg(skip)]
    pub forward_output: bool,

    /// Write the run's lifecycle to FILE as JSON Lines while it runs: workers spawned, ready
    /// and reaped (with why), batches, every attempt at every task, kills, retries, signals.
    #[arg(long, value_name = "FILE", global = true)]
    pub events: Option<PathBuf>,

    /// Write an HTML timeline of the run to FILE when it ends, and its events beside it
    /// (FILE with the extension .events.jsonl) unless --events names them.
    #[arg(long, value_name = "FILE", global = true)]
    pub report: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// When stderr is a terminal.
    Auto,
    /// Always, even on a pipe.
    Always,
    /// Never.
    Never,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human-readable table with a summary footer.
    Table,
    /// `md5sum`/`sha256sum`/`b3sum` lines (hash only); the summary goes to stderr.
    Sums,
    /// One JSON document: {"results": [...], "summary": {...}}.
    Json,
    /// One JSON object per result as it completes, then a {"summary": ...} line.
    Jsonl,
    /// CSV with a header row.
    Csv,
    /// A partition's self-describing jsonl (what `--partition` writes; `merge` reads it).
    #[value(skip)]
    Partition,
}

#[derive(Subcommand, Debug)]
pub enum JobCommand {
    /// Hash every regular file under PATH... (recursive).
    Hash(HashArgs),
    /// Count lines with ERROR / WARNING (or --pattern) per log file.
    Logs(LogsArgs),
    /// Check TCP reachability of HOST:PORT targets, with connect latency.
    Probe(ProbeArgs),
    /// The classic multiprocessing benchmark: Σ i² for i below n × scale, per task.
    Cpu(CpuArgs),
    /// Run COMMAND once per item, like GNU parallel -k: COMMAND [ARG...] [::: ITEM...].
    Exec(ExecArgs),
    /// Fault injection for tests: tasks that crash their worker in chosen ways.
    #[command(hide = true)]
    Fault(FaultArgs),
}

#[derive(Args, Debug)]
#[command(after_help = HASH_EXAMPLES)]
pub struct HashArgs {
    /// Files or directories to hash; with --check, the checksum files to read (none or `-`:
    /// standard input).
    #[arg(required_unless_present = "check", value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Verify the files listed in checksum files instead, as `md5sum -c` does (`sha256sum -c`,
    /// `b2sum -c`, ... with --algo or by the files' contents): `NAME: OK` or `NAME: FAILED`
    /// per line, in parallel, output in the files' order.
    #[arg(short = 'c', long, value_name = "SUMSFILE", require_equals = true,
          conflicts_with_all = ["extensions", "follow_symlinks"])]
    pub check: Option<Option<PathBuf>>,

    /// Only files whose name ends with EXT (e.g. `.log`; repeatable). Default: all files.
    #[arg(long = "ext", value_name = "EXT")]
    pub extensions: Vec<String>,

    /// Digest algorithm: md5, sha1, sha224, sha256, sha384, sha512, blake2b or blake3
    /// [default: md5; with --check, the tool each checksum file is for, from its first
    /// checksum line]. Also accepted before the job's name.
    #[arg(long, value_parser = parse_algo)]
    pub algo: Option<Algo>,

    /// Follow symbolic links (loops are detected and reported).
    #[arg(long)]
    pub follow_symlinks: bool,

    /// With --check: print nothing, only the exit status tells (md5sum's --status).
    #[arg(long, overrides_with_all = ["warn", "check_quiet"])]
    pub status: bool,

    /// With --check: name each improperly formatted checksum line on stderr.
    #[arg(long, overrides_with_all = ["status", "check_quiet"])]
    pub warn: bool,

    /// With --check: do not print OK lines (md5sum's --quiet; the run's quiet is -q).
    /// Without --check: the run's quiet, as before.
    #[arg(long = "quiet", id = "check_quiet", overrides_with_all = ["status", "warn"])]
    pub check_quiet: bool,

    /// Print only results and errors: no summary, no notes (the run option, also accepted
    /// here).
    #[arg(short = 'q', id = "quiet", conflicts_with = "verbose")]
    pub run_quiet: bool,

    /// With --check: exit 1 when a line is improperly formatted.
    #[arg(long)]
    pub strict: bool,

    /// With --check: say nothing of listed files that do not exist (fail if none was
    /// verified).
    #[arg(long)]
    pub ignore_missing: bool,

    /// `--format sums` lines in the BSD layout: `MD5 (NAME) = HEX`.
    #[arg(long)]
    pub tag: bool,

    /// `--format sums` lines end with NUL instead of a newline; names are not escaped.
    #[arg(short = 'z', long)]
    pub zero: bool,

    /// `--format sums` lines mark names with `*` (binary mode): `HEX *NAME`.
    #[arg(short = 'b', long, overrides_with = "text")]
    pub binary: bool,

    /// `--format sums` lines in text mode, `HEX  NAME` (the default).
    #[arg(short = 't', long, overrides_with = "binary")]
    pub text: bool,
}

/// The examples at the end of `supervisor run hash --help`.
const HASH_EXAMPLES: &str = "Examples:
  supervisor run --format sums hash /srv > MD5SUMS
  supervisor run hash --check MD5SUMS
  supervisor run --format sums hash --algo sha256 --tag /srv > SHA256SUMS
  supervisor run hash --check --quiet --strict SHA256SUMS
  supervisor run hash -c --status --algo sha512 - < SHA512SUMS";

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Log files or directories (searched recursively).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// File names to read, as shell globs (repeatable) [default: *.log]. Names ending in .gz
    /// are decompressed, e.g. --glob '*.log' --glob '*.log.*.gz'.
    #[arg(long = "glob", value_name = "GLOB")]
    pub globs: Vec<String>,

    /// Count lines containing P (repeatable, in priority order: a line counts for the first
    /// one it contains) [default: ERROR, WARNING].
    #[arg(long = "pattern", value_name = "P")]
    pub patterns: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// Targets as HOST:PORT, IP:PORT or [IPV6]:PORT.
    #[arg(value_name = "HOST:PORT")]
    pub targets: Vec<String>,

    /// Read more targets from FILE: one per line, `#` starts a comment.
    #[arg(long, value_name = "FILE")]
    pub targets_file: Option<PathBuf>,

    /// Time allowed per target for name resolution and connecting together.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_positive_duration)]
    pub connect_timeout: Duration,

    /// Exit 1 when a target is not up.
    #[arg(long)]
    pub fail_on_down: bool,
}

#[derive(Args, Debug)]
pub struct CpuArgs {
    /// The tasks' n, comma-separated: task n loops n × scale times.
    #[arg(long, value_delimiter = ',', default_value = "100,200,300,400,500")]
    pub tasks: Vec<u64>,

    /// Iterations per unit of n.
    #[arg(long, default_value_t = 1_000_000)]
    pub scale: u64,

    /// Also run the tasks sequentially in this process and print both times and the speedup.
    #[arg(long)]
    pub compare: bool,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Read the items from FILE, one per line (`-`: stdin) [default: the items after :::,
    /// else stdin].
    #[arg(short = 'a', long, value_name = "FILE")]
    pub arg_file: Option<PathBuf>,

    /// Items end with a NUL byte instead of a newline (as `find -print0` writes them).
    #[arg(short = '0', long = "null")]
    pub null: bool,

    /// Run the command line through `sh -c`; each replacement is quoted as one shell word.
    #[arg(long)]
    pub shell: bool,

    /// Run a failed command (non-zero status, a signal, could not start) again, up to N more
    /// times (GNU parallel's --retries N+1).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retry_failed: u32,

    /// Write each task's stdout and stderr to DIR/SEQ.stdout and DIR/SEQ.stderr (SEQ: {#});
    /// json, jsonl and csv then give their paths and sizes instead of their text.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Print each command's output as it comes, a whole line at a time, in whatever order
    /// the commands write it (GNU parallel's --line-buffer): lines of commands running at once
    /// are never cut into each other. Table format on stdout only.
    #[arg(long, conflicts_with_all = ["ungroup", "output_dir"])]
    pub line_buffer: bool,

    /// Let each command write straight to stdout and stderr as it runs (GNU parallel's
    /// --ungroup): the fastest, but lines of commands running at once may be cut into each
    /// other. Table format on stdout only.
    #[arg(short = 'u', long, conflicts_with = "output_dir")]
    pub ungroup: bool,

    /// The command and its arguments, with GNU parallel's replacement strings {} {.} {/} {//}
    /// {/.} {#} {%} (without any, the item is appended), then optionally ::: and the items.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Args, Debug)]
pub struct FaultArgs {
    /// Number of tasks (items 0..N).
    #[arg(long, default_value_t = 20)]
    pub tasks: u64,
    /// Items that segfault on every attempt.
    #[arg(long, value_delimiter = ',')]
    pub segfault_on: Vec<u64>,
    /// Items that abort.
    #[arg(long, value_delimiter = ',')]
    pub abort_on: Vec<u64>,
    /// Items that call exit(--exit-code).
    #[arg(long, value_delimiter = ',')]
    pub exit_on: Vec<u64>,
    /// The status used by --exit-on.
    #[arg(long, default_value_t = 3)]
    pub exit_code: i32,
    /// Items that panic.
    #[arg(long, value_delimiter = ',')]
    pub panic_on: Vec<u64>,
    /// Items that sleep forever.
    #[arg(long, value_delimiter = ',')]
    pub hang_on: Vec<u64>,
    /// Items that ignore SIGTERM and sleep forever.
    #[arg(long, value_delimiter = ',')]
    pub ignore_term_on: Vec<u64>,
    /// Items that allocate memory without bound.
    #[arg(long, value_delimiter = ',')]
    pub alloc_on: Vec<u64>,
    /// Items that crash only on their first attempt (needs --marker-dir).
    #[arg(long, value_delimiter = ',', requires = "marker_dir")]
    pub crash_once_on: Vec<u64>,
    /// Directory for the --crash-once-on markers.
    #[arg(long)]
    pub marker_dir: Option<PathBuf>,
    /// Milliseconds every task sleeps before its action.
    #[arg(long, default_value_t = 0)]
    pub sleep_ms: u64,
    /// Make the supervisor itself panic after N results (leak tests).
    #[arg(long, value_name = "N")]
    pub parent_panic_after: Option<u64>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (expected e.g. 30s, 500ms, 2m)"))
}

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err("must be greater than zero".to_string());
    }
    Ok(d)
}

/// A byte count: digits with an optional binary unit `K`, `M`, `G` or `T` (powers of 1024),
/// optionally followed by `i`, `iB` or `B`, any case (`64M`, `512MiB`, `2g`, `1048576`).
fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("invalid size {text:?} (expected e.g. 512M, 2GiB or a byte count)");
    let trimmed = text.trim();
    let digits = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let shift = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "ki" | "kib" | "kb" => 10,
        "m" | "mi" | "mib" | "mb" => 20,
        "g" | "gi" | "gib" | "gb" => 30,
        "t" | "ti" | "tib" | "tb" => 40,
        _ => return Err(bad()),
    };
    let bytes = number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("size {text:?} is too large"))?;
    if bytes == 0 {
        return Err(format!("size {text:?} must be greater than zero"));
    }
    Ok(bytes)
}

pub(crate) fn parse_algo(text: &str) -> Result<Algo, String> {
    text.parse::<Algo>().map_err(|e| e.to_string())
}

/// The command-line extractor the integration tests use too (`tests/integration`).
#[cfg(test)]
#[path = "../../tests/integration/doc_commands.rs"]
#[allow(dead_code)] // the integration test runs commands and reads fields this test does not
mod doc_commands;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The help texts of every command and subcommand, with what prints them.
    fn help_texts(command: &mut clap::Command, path: &str, out: &mut Vec<(String, String)>) {
        out.push((
            format!("{path} --help"),
            command.render_long_help().to_string(),
        ));
        for sub in command.get_subcommands_mut() {
            let path = format!("{path} {}", sub.get_name());
            help_texts(sub, &path, out);
        }
    }

    /// Every `supervisor ...` line of the README (code blocks and inline code) and of the
    /// `--help` examples parses with the real definition; a documented line that stops
    /// parsing fails here. (tests/integration/doc_examples.rs runs those that can run.)
    #[test]
    fn every_documented_command_line_parses() {
        let mut commands =
            doc_commands::from_markdown("README.md", include_str!("../../README.md"));
        let mut texts = Vec::new();
        help_texts(&mut Cli::command(), "supervisor", &mut texts);
        for (source, text) in &texts {
            commands.extend(doc_commands::from_help(source, text));
        }
        let mut parsed = 0;
        let mut failures = Vec::new();
        for command in commands.iter().filter(|c| !c.is_synopsis()) {
            let argv = std::iter::once("supervisor".to_string()).chain(command.args.clone());
            match Cli::try_parse_from(argv) {
                Ok(_) => parsed += 1,
                // Inline code may name a command without being a command line (`supervisor
                // run`); clap then asks for the job.
                Err(e)
                    if command.inline
                        && matches!(
                            e.kind(),
                            clap::error::ErrorKind::MissingSubcommand
                                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                        ) => {}
                Err(e) => failures.push(format!(
                    "{}: supervisor {}\n{e}",
                    command.source,
                    command.args.join(" ")
                )),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        // The README alone has more than a dozen; finding few means the extraction broke.
        assert!(parsed >= 20, "only {parsed} documented command lines found");
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("2gb"), Ok(2 << 30));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("4Ki"), Ok(4096));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert_eq!(parse_size("100B"), Ok(100));
        assert_eq!(parse_size("64 MiB"), Ok(64 << 20));
    }

    #[test]
    fn bad_sizes_name_the_value() {
        for text in ["0", "0M", "", "M", "12X", "1.5G", "-1", "64 MiB extra"] {
            let err = parse_size(text).unwrap_err();
            assert!(err.contains(&format!("{text:?}")), "{text}: {err}");
        }
        assert!(
            parse_size("99999999999T")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn run_options_parse() {
        let cli = Cli::try_parse_from([
            "supervisor",
            "run",
            "--task-timeout",
            "500ms",
            "--memory-limit",
            "64M",
            "--max-tasks-per-child",
            "3",
            "cpu",
            "--heartbeat-timeout",
            "0",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not a run")
        };
        let o = &args.options;
        assert_eq!(o.task_timeout, Some(Duration::from_millis(500)));
        assert_eq!(o.kill_grace, Duration::from_secs(2));
        assert_eq!(o.heartbeat_timeout, Duration::ZERO);
        assert_eq!(o.max_tasks_per_child, Some(3));
        assert_eq!(o.memory_limit, Some(64 << 20));
        for bad in [
            ["--max-tasks-per-child", "0"],
            ["--task-timeout", "0s"],
            ["--memory-limit", "lots"],
        ] {
            let args = ["supervisor", "run", bad[0], bad[1], "cpu"];
            assert!(Cli::try_parse_from(args).is_err(), "{bad:?}");
        }
    }
}
